"""Events a `MinuteLedger` records: one for every change, collected for the unit of work.

Each carries `account_id` and `occurred_at` (the `at` passed to the ledger call) from
`DomainEvent`. Threshold events (`MinutesLow`, `MinutesExhausted`) fire once per level per
period, so a host can warn a customer before a campaign stops for lack of minutes.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from attrs import frozen

from minutebill.domain.catalog import OverageMode
from minutebill.domain.events import DomainEvent
from minutebill.domain.grants import MinuteGrant
from minutebill.domain.money import Money
from minutebill.domain.usage import Reservation, UsageRecord

__all__ = [
    "CallSettled",
    "LateUsageCovered",
    "LedgerPolicyChanged",
    "MinutePeriodOpened",
    "MinutesExhausted",
    "MinutesExpired",
    "MinutesGranted",
    "MinutesLow",
    "MinutesReserved",
    "MinutesRolledOver",
    "OverageIncurred",
    "ReservationExpired",
    "ReservationReleased",
]


@frozen(kw_only=True)
class MinutesGranted(DomainEvent):
    """Minutes were added to the account.

    Attributes:
        grant: The new grant, as granted.
    """

    grant: MinuteGrant


@frozen(kw_only=True)
class MinutesReserved(DomainEvent):
    """Seconds were held for a call that is starting.

    Attributes:
        reservation: The hold (possibly partial: ``seconds < requested``).
    """

    reservation: Reservation


@frozen(kw_only=True)
class ReservationReleased(DomainEvent):
    """A hold was given back because its call never connected.

    Attributes:
        call_id: The call.
        seconds: Seconds returned to their grants.
    """

    call_id: str
    seconds: int


@frozen(kw_only=True)
class ReservationExpired(DomainEvent):
    """A hold outlived its time-to-live and its seconds returned to their grants.

    Attributes:
        call_id: The call.
        seconds: Seconds returned.
    """

    call_id: str
    seconds: int


@frozen(kw_only=True)
class CallSettled(DomainEvent):
    """A call was rated and its seconds debited.

    Attributes:
        record: The usage record (the line of the usage history).
    """

    record: UsageRecord


@frozen(kw_only=True)
class OverageIncurred(DomainEvent):
    """A call used seconds that no grant covered; the overage policy decides what follows.

    Attributes:
        call_id: The call.
        seconds: Overage seconds.
        charge: What the policy charges for them (None under block).
        mode: The overage policy's mode (block, charge the wallet, bill in arrears).
    """

    call_id: str
    seconds: int
    charge: Money | None
    mode: OverageMode


@frozen(kw_only=True)
class LateUsageCovered(DomainEvent):
    """A paid late renewal covered overage of calls settled after the old period's end.

    The calls fell inside the period the renewal opened, so its plan minutes cover them as
    far as they go; the money is split between the covered and the uncovered seconds in
    proportion. The calls' usage records stay as they were rated.

    Attributes:
        seconds: Late seconds the new period's plan minutes covered (now used in it).
        late_seconds: All the late seconds; ``late_seconds - seconds`` stay overage.
        arrears_dropped: The covered part of the overage priced in arrears: not billed.
        charges_covered: The covered part of the overage charged to the wallet (net).
        charges_kept: The uncovered part of the overage charged to the wallet (net).
        paid: What the wallet paid for the late overage, tax included, as the host noted it
            (`MinuteLedger.note_overage_paid`); what it paid beyond ``charges_kept`` with its
            tax goes back to it.
    """

    seconds: int
    late_seconds: int
    arrears_dropped: tuple[Money, ...]
    charges_covered: tuple[Money, ...]
    charges_kept: tuple[Money, ...]
    paid: tuple[Money, ...]


@frozen(kw_only=True)
class MinutesExpired(DomainEvent):
    """A grant's unused seconds expired.

    Attributes:
        grant_id: The grant.
        seconds: Seconds that expired.
    """

    grant_id: str
    seconds: int


@frozen(kw_only=True)
class MinutesRolledOver(DomainEvent):
    """Unused plan seconds were carried into a rollover grant.

    At the boundary, and again each time a call that held ended plan seconds there gives
    some back (`MinuteLedger.rollover`): the grant then grows by `seconds`.

    Attributes:
        grant_id: The rollover grant.
        seconds: Seconds carried by this event.
        from_grants: The plan grants the seconds came from.
    """

    grant_id: str
    seconds: int
    from_grants: tuple[str, ...]


@frozen(kw_only=True)
class MinutesLow(DomainEvent):
    """The period's used percentage crossed a warning level below 100 (e.g. 80).

    Attributes:
        level: The level crossed.
        used_percent: The used percentage at the time (two places, half up, as the overview
            shows it).
        remaining_seconds: Seconds left to use.
    """

    level: int
    used_percent: Decimal
    remaining_seconds: int


@frozen(kw_only=True)
class MinutesExhausted(DomainEvent):
    """Nothing of the period is left to use, free or held (the 100 level was reached).

    Recorded when the last second is used, not when the rounded percentage first reads 100:
    up to then the overview reads at most ``99.99 %`` (see `ledger_policy.used_percent`).
    Seconds that expired unused count as gone, so it is recorded even when the percentage
    never reaches 100.

    Attributes:
        level: The level reached (100).
        used_percent: The used percentage at the time (100, or less if seconds expired).
        remaining_seconds: Seconds left to use (0).
    """

    level: int
    used_percent: Decimal
    remaining_seconds: int


@frozen(kw_only=True)
class MinutePeriodOpened(DomainEvent):
    """The ledger started counting a new billing period; thresholds re-armed.

    Attributes:
        period_start: The period's start.
        period_end: The period's end.
        pruned_grants: Grants with nothing left that were dropped from the ledger's state.
    """

    period_start: datetime
    period_end: datetime
    pruned_grants: tuple[str, ...]


@frozen(kw_only=True)
class LedgerPolicyChanged(DomainEvent):
    """The ledger's policy changed (a plan change swaps rating and overage).

    Attributes:
        rating: The new billing increment, e.g. ``"60/60"``.
        overage: The new overage mode.
    """

    rating: str
    overage: OverageMode
