"""The minute ledger: one per account, holding every second the account may use.

Grants (`MinuteGrant`) add seconds; calls use them in two phases, like a pending bank
transfer: `MinuteLedger.reserve` holds seconds when a call starts, `MinuteLedger.settle` rates
the finished call, debits the hold first and further grants after it, and records what no grant
covered as overage, handed to the plan's `OveragePolicy` — never dropped. Holds of calls that
never connected are released; holds past their time-to-live expire.

Invariants, for every grant and for the ledger as a whole (property-tested):

* ``0 <= remaining <= granted``;
* ``granted == remaining + held + consumed + expired``;
* every settled call has ``billable_seconds == debited seconds + overage_seconds``;
* a call settles once: the same input returns the original record, other input raises
  `IdempotencyConflict`.

The usage history is not part of the ledger's state: settled `UsageRecord`s go to a table of
their own, and `snapshot` costs time proportional to the live grants, never to the history.
The value types and events are defined in `grants`, `usage`, `ledger_policy` and
`ledger_events` and re-exported here; the private book-keeping lives in `ledger_books`
(grants and their counters), `ledger_calls` (holds and ended calls), `ledger_period` (the
period's counters), `ledger_rollover` (seconds held over a rollover's boundary) and
`ledger_checks` (input checks and rating).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from attrs import Factory, define, field

from minutebill.domain import ledger_checks as check
from minutebill.domain.catalog import OverageMode
from minutebill.domain.events import DomainEvent, EventBuffer
from minutebill.domain.grants import GrantSource, MinuteGrant
from minutebill.domain.ledger_books import GrantPool, in_period, period_figures
from minutebill.domain.ledger_calls import HOLD_EXPIRED, RELEASED, CallRegister
from minutebill.domain.ledger_events import (
    CallSettled,
    LateUsageCovered,
    LedgerPolicyChanged,
    MinutePeriodOpened,
    MinutesExhausted,
    MinutesExpired,
    MinutesGranted,
    MinutesLow,
    MinutesReserved,
    MinutesRolledOver,
    OverageIncurred,
    ReservationExpired,
    ReservationReleased,
)
from minutebill.domain.ledger_parsed import ParsedLedgerValues
from minutebill.domain.ledger_period import LateUsage, PeriodCounters
from minutebill.domain.ledger_policy import (
    LedgerPolicy,
    LedgerTotals,
    MinuteSnapshot,
    hundredths,
    used_percent,
)
from minutebill.domain.money import Money, sum_money
from minutebill.domain.overage_funds import OverageFunds, funded_length
from minutebill.domain.periods import BillingPeriod
from minutebill.domain.state import State
from minutebill.domain.text import MAX_KEY_LENGTH
from minutebill.domain.usage import (
    GrantDebit,
    Reservation,
    UsageRecord,
    trusted_constructor,
)
from minutebill.errors import (
    IdempotencyConflict,
    InsufficientMinutes,
    InvalidTransition,
    NotFound,
    ValidationError,
)

__all__ = [
    "CallSettled",
    "GrantDebit",
    "GrantSource",
    "LateUsageCovered",
    "LedgerPolicy",
    "LedgerPolicyChanged",
    "LedgerTotals",
    "MinuteGrant",
    "MinuteLedger",
    "MinutePeriodOpened",
    "MinuteSnapshot",
    "MinutesExhausted",
    "MinutesExpired",
    "MinutesGranted",
    "MinutesLow",
    "MinutesReserved",
    "MinutesRolledOver",
    "OverageIncurred",
    "ParsedLedgerValues",
    "Reservation",
    "ReservationExpired",
    "ReservationReleased",
    "UsageRecord",
]


_new = object.__new__
_new_hold = trusted_constructor(
    Reservation, "call_id", "seconds", "requested", "at", "expires_at", "debits", "cap", "funds"
)
_new_reserved = trusted_constructor(MinutesReserved, "account_id", "occurred_at", "reservation")
_new_usage = trusted_constructor(
    UsageRecord,
    "account_id",
    "call_id",
    "started_at",
    "settled_at",
    "duration",
    "billable_seconds",
    "debits",
    "overage_seconds",
    "overage_charge",
    "tags",
    "held_seconds",
)
_new_settled = trusted_constructor(CallSettled, "account_id", "occurred_at", "record")


@define
class MinuteLedger:
    """The minutes of one account: grants, holds of live calls, and the period's counters.

    State changes only through the methods below; each checks everything before it changes
    anything, so an operation that raises has changed nothing and recorded no event.

    Attributes:
        account_id: The account.
        policy: Rating, overage, thresholds and hold time-to-live (swap with `set_policy`).
        version: The stored version, for optimistic concurrency; the store sets and bumps it,
            and it is not part of `to_state`.
    """

    account_id: str = field(validator=lambda _i, _a, v: check.key("account_id", v))
    policy: LedgerPolicy = field(factory=LedgerPolicy)
    version: int = 0
    _pool: GrantPool = field(init=False, factory=GrantPool)
    _calls: CallRegister = field(init=False, factory=CallRegister)
    _counters: PeriodCounters = field(init=False, factory=PeriodCounters)
    _events: EventBuffer = field(init=False, factory=EventBuffer)
    _rater: check.Rater = field(
        init=False,
        default=Factory(
            lambda self: check.Rater(self.policy.rating, hold_ttl=self.policy.hold_ttl),
            takes_self=True,
        ),
    )

    # --- reading ------------------------------------------------------------------------------

    @property
    def period(self) -> BillingPeriod | None:
        """The period snapshots and thresholds refer to (None before `open_period`)."""
        return self._counters.period

    def active_calls(self) -> frozenset[str]:
        """The ids of calls holding minutes."""
        return frozenset(self._calls.holds)

    def active_count(self) -> int:
        """How many calls hold minutes: ``len(active_calls())`` without building the set."""
        return len(self._calls.holds)

    def reservation(self, call_id: str) -> Reservation | None:
        """The hold of `call_id`, if it has one."""
        return self._calls.holds.get(call_id)

    def earmarked(self) -> Money | None:
        """The wallet money live holds keep for their calls' overage (`Reservation.funds`).

        What other calls must not count on: the wallet's balance less this is what a new
        call may run on. None when no hold keeps any.
        """
        kept = [hold.funds for hold in self._calls.holds.values() if hold.funds is not None]
        return sum_money(kept, kept[0].currency) if kept else None

    def refuse_ended(self, call_id: str, action: str) -> None:
        """Refuse `action` on a call this ledger knows ended: call ids are not reused.

        The ledger knows the calls it settled since it was loaded and the last 256 released
        or hold-expired ones; only the store's usage records know every settled call
        (`Billing` asks them too). `reserve` makes this check itself.

        Raises:
            InvalidTransition: naming the call's state (settled, released or hold expired).
        """
        calls = self._calls
        if call_id in calls.settled or call_id in calls.closed:
            calls.refuse_closed(call_id, action)

    def grants(self) -> tuple[MinuteGrant, ...]:
        """Every grant the ledger keeps, in consumption order (pruned ones are gone)."""
        return tuple(book.view() for book in self._pool.ordered())

    def available_seconds(self, at: datetime) -> int:
        """Seconds that could be held or used at `at`."""
        at = check.utc(at)
        return sum(b.remaining for b in self._pool.ordered() if b.remaining and b.usable_at(at))

    def snapshot(self, at: datetime) -> MinuteSnapshot:
        """The current period's numbers at `at`, in time proportional to the live grants.

        Raises:
            ValidationError: if `at` is naive.
        """
        at = check.utc(at)
        figures = period_figures(self._pool.ordered(), self._counters.period, at)
        return MinuteSnapshot(
            total_seconds=figures.total,
            remaining_seconds=figures.remaining,
            used_seconds=figures.used,
            held_seconds=figures.held,
            expired_seconds=figures.expired,
            period=self._counters.period,
            overage_seconds=self._counters.overage,
        )

    def totals(self) -> LedgerTotals:
        """Lifetime counters; exact even after grants were pruned."""
        granted, remaining, held, consumed, expired = self._pool.totals()
        return LedgerTotals(
            granted=granted,
            remaining=remaining,
            held=held,
            consumed=consumed,
            expired=expired,
            overage=self._counters.overage_total,
            covered=self._counters.covered_total,
        )

    @property
    def period_overage_charges(self) -> tuple[Money, ...]:
        """Overage charged in the current period, one amount per currency."""
        return _by_currency(self._counters.charges)

    @property
    def period_arrears(self) -> tuple[Money, ...]:
        """The part of `period_overage_charges` priced to be billed in arrears, per currency.

        Overage priced while the rule was `OverageMode.BILL_IN_ARREARS`, to collect with the
        period's renewal whatever the rule is by then (a plan change may switch it).
        """
        return _by_currency(self._counters.arrears)

    @property
    def late_seconds(self) -> int:
        """Overage seconds of calls settled at or after the current period's end.

        They fall inside the next period: if its renewal is paid, its plan minutes cover
        them (`cover_late_usage`); if the plan ends unpaid, they stay overage.
        """
        return self._counters.late.seconds

    def late_arrears_covered(self, seconds: int) -> tuple[Money, ...]:
        """The arrears a paid renewal granting `seconds` plan seconds would drop, per currency.

        What `cover_late_usage` will drop once the renewal opened the next period with a
        fresh plan grant of `seconds`, so the renewal's charge can leave them out before it
        is paid.

        Raises:
            ValidationError: if `seconds` is not a whole number >= 0.
        """
        if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 0:
            raise ValidationError("seconds", seconds, "a whole number >= 0")
        late = self._counters.late
        dropped, _, _ = late.covered(min(seconds, late.seconds))
        return _by_currency(dropped)

    def covered_seconds(self) -> dict[str, int]:
        """Per grant still kept, the late seconds `cover_late_usage` took from it (if any).

        A grant's ``consumed`` is what the usage records debited from it plus these.
        """
        return {b.grant_id: b.covered for b in self._pool.ordered() if b.covered}

    def due_at(self) -> datetime | None:
        """The earliest time at which `expire_holds` or `expire` has work to do, if any."""
        times = [r.expires_at for r in self._calls.holds.values()]
        times.extend(
            b.expires_at
            for b in self._pool.books.values()
            if b.expires_at is not None and b.remaining
        )
        return min(times, default=None)

    def pull_events(self) -> list[DomainEvent]:
        """The events recorded since the last pull (the unit of work publishes them)."""
        return self._events.pull()

    # --- grants and periods -------------------------------------------------------------------

    def open_period(self, period: BillingPeriod, at: datetime) -> None:
        """Start counting `period`: snapshots and thresholds refer to it from now on.

        Thresholds re-arm. Grants with nothing left (no remaining, nothing held) are pruned
        from the state — the lifetime totals keep their numbers — and the grants carried into
        the period count with what they have left. Opening the current period again does
        nothing.

        Raises:
            ValidationError: if `period` is not a `BillingPeriod`, `at` is naive, or the
                period starts before the current one.
        """
        at = check.utc(at)
        if not isinstance(period, BillingPeriod):
            raise ValidationError("period", period, "expected a BillingPeriod")
        current = self._counters.period
        if current == period:
            return
        if current is not None and period.start < current.start:
            raise ValidationError("period", period, f"starts before the current {current}")
        pruned = self._pool.start_period()
        self._counters.open(period)
        self._emit(
            MinutePeriodOpened(
                account_id=self.account_id,
                occurred_at=at,
                period_start=period.start,
                period_end=period.end,
                pruned_grants=tuple(pruned),
            )
        )

    def grant(
        self,
        grant_id: str,
        source: GrantSource,
        seconds: int,
        at: datetime,
        *,
        effective_at: datetime | None = None,
        expires_at: datetime | None = None,
        priority: int = 0,
        reference: str | None = None,
    ) -> MinuteGrant:
        """Add `seconds` of `source` minutes, usable in ``[effective_at, expires_at)``.

        Granting the same `grant_id` with the same terms again returns the grant as it now
        stands and changes nothing (fulfilment may run twice); an `effective_at` left out of
        the repeat matches any.

        Args:
            grant_id: The caller's id (e.g. ``"plan:2025-01"``, a payment id).
            source: Plan allowance, add-on bundle, rollover or promotional credit.
            seconds: Seconds granted (> 0).
            at: When the grant is made.
            effective_at: From when the seconds are usable; defaults to `at`.
            expires_at: When they stop being usable; None for never.
            priority: Higher is used first.
            reference: The caller's reference (order, payment) for reconciliation.

        Returns:
            The grant.

        Raises:
            ValidationError: for a bad value, a naive datetime, an expiry not after the
                start, an expiry not after `at` or the current period's start, or `at`
                before the current period's start.
            IdempotencyConflict: if `grant_id` was granted with other terms.
        """
        check.text("grant_id", grant_id)
        if not isinstance(source, GrantSource):
            raise ValidationError("source", source, "expected a GrantSource")
        check.seconds("seconds", seconds)
        at = check.utc(at)
        start = check.optional_utc(effective_at, "effective_at")
        end = check.optional_utc(expires_at, "expires_at")
        if isinstance(priority, bool) or not isinstance(priority, int):
            raise ValidationError("priority", priority, "must be an int")
        if reference is not None and not isinstance(reference, str):
            raise ValidationError("reference", reference, "must be a string or None")
        known = self._pool.known(grant_id)
        if known is not None:
            if not known.same_terms(
                source=source,
                seconds=seconds,
                effective_at=start,
                expires_at=end,
                priority=priority,
                reference=reference,
            ):
                raise IdempotencyConflict(grant_id, "a grant with other terms")
            return known.view()
        start = at if start is None else start
        if end is not None:
            if end <= start:
                raise ValidationError("expires_at", end, f"must be after effective_at {start}")
            if end <= at:
                raise ValidationError("expires_at", end, f"already past at {at}")
        self._refuse_past_period(at)
        grant = MinuteGrant(
            grant_id=grant_id,
            source=source,
            granted=seconds,
            remaining=seconds,
            effective_at=start,
            expires_at=end,
            priority=priority,
            reference=reference,
        )
        self._pool.add(grant)
        self._emit(MinutesGranted(account_id=self.account_id, occurred_at=at, grant=grant))
        return grant

    def expire(self, at: datetime) -> int:
        """Move the remaining seconds of grants past their expiry to *expired*.

        Seconds held for a live call stay held: the call may use them when it settles, and
        what it gives back expires on the next run. Expiry within the period that leaves
        nothing to use, free or held, fires `MinutesExhausted` as the last call would (a
        bundle that lapses unused after the plan's minutes ran out): the host hears of it
        before its campaigns stop. Minutes that expire with the period do not: the renewal
        grants the next period's.

        Returns:
            The seconds expired.
        """
        at = check.utc(at)
        expired = self._pool.expire_due(at)
        for grant_id, seconds in expired:
            self._emit(
                MinutesExpired(
                    account_id=self.account_id, occurred_at=at, grant_id=grant_id, seconds=seconds
                )
            )
        period = self._counters.period
        if expired and period is not None and at < period.end:
            self._check_thresholds(at)
        return sum(seconds for _, seconds in expired)

    def rollover(
        self,
        at: datetime,
        *,
        cap_seconds: int | None,
        expires_at: datetime | None,
        grant_id: str,
    ) -> MinuteGrant | None:
        """Carry the unused seconds of ended plan grants into one `ROLLOVER` grant.

        Call it at the period boundary, before `expire`: the current period's plan grants
        whose expiry is at or before `at` and that still have remaining seconds give up to
        `cap_seconds` (earliest expiring first); those seconds count as expired on the plan
        grant and are granted afresh, effective at `at`. What the cap leaves behind expires
        with `expire`. Called later (a renewal paid after its due date, once `expire` ran),
        the seconds the period's plan grants expired count as unused too: a late payment
        carries what an on-time one would have, once per boundary.

        Seconds such grants hold for calls still running are carried when the calls give
        them back (`settle`, `release`, `expire_holds`), within what the cap left, until
        the rollover grant expires: the grant grows by them (or is granted then, effective
        at `at`, if nothing was free at the boundary), and each carry records a
        `MinutesRolledOver`.

        Args:
            at: The boundary (usually the ending period's end).
            cap_seconds: The rollover policy's cap; None means the plan has no rollover (the
                default), so nothing is carried. Pass a cap of at least the allowance to
                carry everything.
            expires_at: When the rollover grant expires (None for never).
            grant_id: The new grant's id; repeating the call with it changes nothing.

        Returns:
            The rollover grant, or None if nothing was carried.

        Raises:
            ValidationError: for a bad cap, a naive datetime or an expiry not after `at`.
            IdempotencyConflict: if `grant_id` names another kind of grant.
        """
        at = check.utc(at)
        check.text("grant_id", grant_id)
        end = check.optional_utc(expires_at, "expires_at")
        if cap_seconds is not None and (
            isinstance(cap_seconds, bool) or not isinstance(cap_seconds, int) or cap_seconds < 0
        ):
            raise ValidationError("cap_seconds", cap_seconds, "a whole number >= 0, or None")
        if end is not None and end <= at:
            raise ValidationError("expires_at", end, f"must be after {at}")
        pool = self._pool
        known = pool.known(grant_id)
        if known is not None:
            if known.source is not GrantSource.ROLLOVER or known.expires_at != end:
                raise IdempotencyConflict(grant_id, "not this rollover grant")
            return known.view()
        if cap_seconds is None or (pool.pending is not None and pool.pending.grant_id == grant_id):
            return None
        self._refuse_past_period(at)
        # Paid late, after the period's plan seconds expired at its end: carry those, once.
        period = self._counters.period
        lapsed = period is not None and not pool.rolled_over_after(period.end)
        since = None if period is None else period.start  # the ending period's grants only
        carry, sources = pool.carry_over(at, cap_seconds, since=since, lapsed=lapsed)
        # Seconds live calls hold on the ended plan grants follow when they are given back.
        pool.await_held(grant_id, at, end, cap_seconds - carry, since=since)
        if carry == 0:
            return None
        self._rolled_over(grant_id, carry, sources, at)
        return self.grant(grant_id, GrantSource.ROLLOVER, carry, at, expires_at=end)

    def cover_late_usage(self, at: datetime) -> LateUsageCovered | None:
        """Cover the ended period's late usage with the current period's plan minutes.

        Call it when a late renewal was paid and opened the period the late calls fell in
        (`Subscription.renew`, then this, in the same unit of work). The late seconds
        carried over by `open_period` are taken from the period's plan grants usable at
        `at`, as far as they go, and count as used in this period (and as `covered` in
        `totals`; the usage records keep their overage as rated). The money is split in
        proportion to the seconds (see `LateUsageCovered`). The carried late usage is then
        cleared: a repeat covers nothing and returns None, and the period after this one
        forgets it unasked.

        Returns:
            What was covered (also recorded as an event), or None if nothing was carried.

        Raises:
            ValidationError: if `at` is naive.
        """
        at = check.utc(at)
        counters = self._counters
        carried = counters.carried
        if not carried.seconds:
            return None
        need = carried.seconds
        for book in self._pool.ordered():
            if (
                book.source is GrantSource.PLAN
                and book.remaining
                and book.usable_at(at)
                and in_period(book, counters.period, at)
            ):
                take = min(need, book.remaining)
                book.remaining -= take
                book.consumed += take
                book.covered += take
                need -= take
                if not need:
                    break
        covered = carried.seconds - need
        dropped, charged, kept = carried.covered(covered)
        counters.carried = LateUsage()
        counters.covered_total += covered
        event = LateUsageCovered(
            account_id=self.account_id,
            occurred_at=at,
            seconds=covered,
            late_seconds=carried.seconds,
            arrears_dropped=_by_currency(dropped),
            charges_covered=_by_currency(charged),
            charges_kept=_by_currency(kept),
            paid=_by_currency(carried.paid),
        )
        self._emit(event)
        if covered:
            counters.rewatch()
            self._check_thresholds(at)
        return event

    def note_overage_paid(self, record: UsageRecord, paid: Money) -> None:
        """Note that the wallet paid `paid` (tax included) for the overage of `record`.

        Only late usage needs it (`cover_late_usage` gives back what was paid for seconds
        the new period covers); other records change nothing.

        Raises:
            ValidationError: if `record` belongs to another account.
        """
        if record.account_id != self.account_id:
            raise ValidationError("record", record.call_id, "a call of another account")
        period = self._counters.period
        if period is not None and record.settled_at >= period.end and paid.amount > 0:
            self._counters.late.add_paid(paid)

    # --- calls --------------------------------------------------------------------------------

    def reserve(
        self, call_id: str, seconds: int, at: datetime, *, funds: OverageFunds | None = None
    ) -> Reservation:
        """Hold minutes for a call that may last up to `seconds`; the hold caps its length.

        The hold is of the seconds such a call is billed under the policy's rating, as a
        rating engine reserves rated units: on 60/60 a call capped at 10 s holds 60 s, and
        one capped at 90 s holds 120 s, so a call that runs to its cap is paid from its hold
        and no other call can take the rest of its billed minute. The call may still run
        only for `Reservation.max_seconds` (what was asked, or less if the hold is partial).
        Seconds come from usable grants in consumption order. When fewer are available the
        hold is partial (``seconds < requested``) and keeps only what the longest call it
        pays in full is billed (60/6 with 30 s free: nothing). Under a blocking overage
        policy a hold of nothing is refused, and a partial hold's call may run only on its
        seconds. Under overage billed in arrears a partial hold's call may run as long as
        asked (`Reservation.cap`): the rest is overage. Under charge-the-wallet it may run as
        long as its seconds and the wallet's `funds` pay for, and the hold keeps that money
        for it (`Reservation.funds`; see `minutebill.domain.overage_funds`); without `funds`,
        only on its seconds. Reserving the same call for the same seconds again returns the
        hold it has.

        The hold expires after the policy's `hold_ttl`, or after `seconds` if that is longer
        (up to `MAX_CALL_DURATION`): a call is never taken for a missed hang-up while it may
        still run.

        Raises:
            ValidationError: for an empty call id, seconds <= 0, a naive datetime, or one so
                late that the hold would end after year 9999.
            InsufficientMinutes: if the policy blocks overage and nothing is available, or less
                than the shortest call is billed; or if neither seconds nor `funds` pay for
                the shortest call.
            IdempotencyConflict: if the call already holds a reservation for other seconds.
            InvalidTransition: if the call was settled or released already.
        """
        # The checks of `check.key`, `check.seconds` and `check.utc`, cheap for plain values.
        if (
            call_id.__class__ is not str
            or not call_id
            or call_id.isspace()
            or not call_id.isascii()
            or "\x00" in call_id
            or len(call_id) > MAX_KEY_LENGTH
        ):
            check.key("call_id", call_id)
        if seconds.__class__ is not int or seconds <= 0:
            check.seconds("seconds", seconds)
        if at.__class__ is not datetime or at.tzinfo is not UTC:
            at = check.utc(at)
        return self._reserve(call_id, seconds, at, funds)

    def _reserve(
        self, call_id: str, seconds: int, at: datetime, funds: OverageFunds | None = None
    ) -> Reservation:
        """`reserve` for arguments checked already (admission's `CallRequest` checks them)."""
        calls = self._calls
        holds = calls.holds
        existing = holds.get(call_id)
        if existing is not None:
            if existing.requested != seconds:
                raise IdempotencyConflict(call_id, f"already holds for {existing.requested} s")
            return existing
        if call_id in calls.settled or call_id in calls.closed:
            calls.refuse_closed(call_id, "reserve minutes for")
        # What a call of `seconds` is billed (60/60: a minute for 10 s), not just its length,
        # held for the time-to-live or as long as the call may run.
        rater = self._rater
        known = rater.holds.get(seconds)  # the memo in line: a method call costs 5 % of a start
        billed, life = rater.hold(seconds) if known is None else known
        try:  # before anything is held: the last days of year 9999 have no room for a hold
            expires_at = at + life
        except OverflowError:
            raise ValidationError("at", at, f"a hold of {life} would end after year 9999") from None
        debits, held = self._pool.hold(billed, at)  # nothing usable: changes nothing
        # Built by trusted constructors: the hot path of every call start.
        if held < billed:  # partial: worked out of line, the hot path holds in full
            debits, held, cap, kept = self._partial_hold(debits, held, seconds, at, funds)
            hold = _new_hold(call_id, held, seconds, at, expires_at, debits, cap, kept)
        else:
            hold = _new_hold(call_id, held, seconds, at, expires_at, debits, None, None)
        event = _new_reserved(self.account_id, at, hold)
        holds[call_id] = hold
        self._events.record(event)
        return hold

    def _partial_hold(
        self,
        debits: tuple[GrantDebit, ...],
        held: int,
        seconds: int,
        at: datetime,
        funds: OverageFunds | None,
    ) -> tuple[tuple[GrantDebit, ...], int, int | None, Money | None]:
        """What a hold of fewer seconds than a call of `seconds` is billed keeps and allows.

        It keeps what the longest call it pays in full is billed (60/6 with 30 s free:
        nothing), so a call running on it alone is paid from it. Its call may run on
        overage, as the policy says: not at all (blocked: refused if nothing is held), as
        long as asked (billed in arrears), or as long as `funds` pay for (charged to the
        wallet; refused if that is no call at all).

        Returns:
            The debits and seconds held, the cap (None: the held seconds alone), and the
            wallet money kept for the call.
        """
        rating = self._rater.rating
        if (kept := rating.billed_within(held)) < held:
            self._pool.give_back(debits)
            debits, held = self._pool.hold(kept, at) if kept else ((), 0)
        overage = self.policy.overage
        if overage.mode is OverageMode.BILL_IN_ARREARS:
            return debits, held, seconds, None
        if funds is None or overage.blocks:  # the call runs on its held seconds alone
            if not debits and overage.blocks:
                raise InsufficientMinutes(seconds, 0, self.account_id)
            # As long as they pay for: less than their count under a minimum off the grid.
            length = rating.longest_within(held)
            return debits, held, None if length == held else length, None
        cap, money = funded_length(rating, held, seconds, funds)
        if not cap:  # neither the seconds nor the money pay for the shortest call
            self._pool.give_back(debits)
            raise InsufficientMinutes(seconds, held, self.account_id)
        return debits, held, cap, money

    def settle(
        self,
        call_id: str,
        duration: timedelta,
        at: datetime,
        *,
        started_at: datetime | None = None,
        tags: Iterable[str] = (),
        previous: UsageRecord | None = None,
    ) -> UsageRecord:
        """Rate a finished call and debit its seconds: the hold first, then further grants.

        The duration is rated with the policy's `BillingIncrement`. Held seconds the call did
        not use go back to their grants; seconds beyond the hold come from grants usable at
        `at`, in consumption order; what no grant covers is overage, priced by the overage
        policy. A call without a hold (usage imported from call detail records, or a hold
        that expired) settles the same way.

        Settling is idempotent per call: pass the stored record of this call as `previous`
        (the ledger also remembers the calls it settled since it was loaded). The same input
        — call id, duration, tags, and `started_at` if given — returns that record and
        changes nothing.

        Args:
            call_id: The call.
            duration: How long it lasted, from zero (a call that never connected) to
                `MAX_CALL_DURATION`.
            at: When it is settled.
            started_at: When it started; defaults to the hold's time, or ``at - duration``.
            tags: Labels for usage reports (campaign, agent, ...).
            previous: The record already stored for this call, if any.

        Returns:
            The usage record (new, or the original one for a repeat).

        Raises:
            ValidationError: for a bad or naive value, a duration longer than
                `MAX_CALL_DURATION` (or one that would start the call before year 1),
                `started_at` after `at`, a settle before the hold was placed, or a `previous`
                of another account or call.
            IdempotencyConflict: if the call was settled with other input.
            InvalidTransition: if the call's hold was released (it never connected).
        """
        check.key("call_id", call_id)
        at = check.utc(at)
        policy = self.policy
        billable = self._rater.billable(duration)
        start = None if started_at is None else check.started(started_at, at)
        labels = check.NO_TAGS if tags == () else check.labels(tags)
        calls = self._calls
        prior = previous if previous is not None else calls.settled.get(call_id)
        if prior is not None:
            return check.replay(prior, self.account_id, call_id, duration, start, labels)
        closed = call_id in calls.closed
        if closed:
            calls.refuse_closed(call_id, "settle", allow=HOLD_EXPIRED)
        hold = calls.holds.get(call_id)
        if hold is not None and at < hold.at:
            raise ValidationError("at", at, f"before the call's hold was placed at {hold.at}")
        if start is None:
            try:
                start = hold.at if hold is not None else at - duration
            except OverflowError:  # a duration within bounds, but ending early in year 1
                raise check.started_before_year_one(duration, at) from None
        # Every check passed: from here on nothing raises.
        if closed:
            del calls.closed[call_id]  # it is settled now, no longer merely hold-expired
        debits, overage = self._pool.consume(hold.debits if hold else (), billable, at)
        if hold is not None:
            del calls.holds[call_id]
        charge = policy.overage.charge_for(overage) if overage else None
        # Built by trusted constructors: the hot path of every call end.
        record = _new_usage(
            self.account_id,
            call_id,
            start,
            at,
            duration,
            billable,
            debits,
            overage,
            charge,
            labels,
            0 if hold is None else hold.seconds,
        )
        event = _new_settled(self.account_id, at, record)
        calls.settled[call_id] = record
        self._events.record(event)
        if hold is not None and self._pool.pending is not None:
            self._carry_given_back(at)
        if overage:
            self._note_overage(record, at)
        if billable != overage and self._counters.due(billable - overage):
            self._check_thresholds(at)
        return record

    def release(self, call_id: str, at: datetime) -> None:
        """Give back the hold of a call that never connected; it can no longer be settled.

        Releasing a released call does nothing more; releasing one whose hold expired marks
        it released (its seconds were already returned).

        Raises:
            ValidationError: for an empty call id or a naive datetime.
            NotFound: if the call holds nothing and was never released or expired.
            InvalidTransition: if the call was settled.
        """
        check.key("call_id", call_id)
        at = check.utc(at)
        hold = self._calls.holds.get(call_id)
        if hold is None:
            if call_id in self._calls.settled:
                raise InvalidTransition(f"call {call_id!r}", "settled", "release")
            closed = self._calls.closed.get(call_id)
            if closed is None:
                raise NotFound("call", call_id)
            if closed == RELEASED:
                return
        else:
            self._give_back(hold)
        self._calls.close(call_id, RELEASED)
        self._emit(
            ReservationReleased(
                account_id=self.account_id,
                occurred_at=at,
                call_id=call_id,
                seconds=0 if hold is None else hold.seconds,
            )
        )
        if self._pool.pending is not None:
            self._carry_given_back(at)

    def expire_holds(self, at: datetime) -> list[str]:
        """Return the seconds of holds whose time-to-live ended at or before `at`.

        Such a call can still be settled later (its seconds then come from grants usable at
        that time): a missed hang-up must not lose usage.

        Returns:
            The ids of the calls whose holds expired, earliest expiry first.
        """
        at = check.utc(at)
        due = self._calls.due(at)
        for hold in due:
            self._give_back(hold)
            self._calls.close(hold.call_id, HOLD_EXPIRED)
            self._emit(
                ReservationExpired(
                    account_id=self.account_id,
                    occurred_at=at,
                    call_id=hold.call_id,
                    seconds=hold.seconds,
                )
            )
        if due and self._pool.pending is not None:
            self._carry_given_back(at)
        return [hold.call_id for hold in due]

    def set_policy(self, policy: LedgerPolicy, *, at: datetime | None = None) -> None:
        """Swap the policy (a plan change swaps rating and overage). Holds keep their expiry.

        Args:
            policy: The new policy.
            at: When the change happens, for the `LedgerPolicyChanged` event; without it the
                change is recorded without an event.

        Raises:
            ValidationError: if `policy` is not a `LedgerPolicy` or `at` is naive.
        """
        if not isinstance(policy, LedgerPolicy):
            raise ValidationError("policy", policy, "expected a LedgerPolicy")
        when = check.optional_utc(at, "at")
        if policy == self.policy:
            return
        self.policy = policy
        self._rater = check.Rater(policy.rating, hold_ttl=policy.hold_ttl)
        self._counters.rewatch()
        if when is not None:
            self._emit(
                LedgerPolicyChanged(
                    account_id=self.account_id,
                    occurred_at=when,
                    rating=str(policy.rating),
                    overage=policy.overage.mode,
                )
            )

    # --- state --------------------------------------------------------------------------------

    def copy(self) -> MinuteLedger:
        """An independent ledger in this one's stored state, with its version.

        The same as ``from_state(to_state())`` in a fraction of the time: grants, holds,
        counters and policy are copied or shared (immutable values), the events waiting to be
        pulled and the calls settled in memory are not (see `settle`). A store keeps a copy
        of each ledger it committed and hands out copies of that, instead of decoding the
        document it just wrote for the next call of the same account.
        """
        ledger = _new(MinuteLedger)
        _set = object.__setattr__  # the fields were checked when this ledger was built
        _set(ledger, "account_id", self.account_id)
        _set(ledger, "policy", self.policy)
        _set(ledger, "version", self.version)
        _set(ledger, "_pool", self._pool.copy())
        _set(ledger, "_calls", self._calls.copy())
        _set(ledger, "_counters", self._counters.copy())
        _set(ledger, "_events", EventBuffer())
        _set(ledger, "_rater", self._rater)  # rates with the same policy; its memo is shared
        return ledger

    def to_state(self) -> State:
        """The ledger as JSON-compatible data: grants, holds and counters, never the history.

        The `version` is not included: the store keeps it beside the document.
        """
        return {
            "account_id": self.account_id,
            "policy": self.policy.to_state(),
            **self._counters.to_state(),
            **self._pool.to_state(),
            **self._calls.to_state(),
        }

    @classmethod
    def from_state(cls, state: State, *, parsed: ParsedLedgerValues | None = None) -> MinuteLedger:
        """The ledger that `to_state` encoded (with `version` 0 until the store sets it).

        Args:
            state: The document.
            parsed: Policies, periods and grant terms parsed before, to reuse (a store
                passes its own, see `ParsedLedgerValues`); each part is parsed, with all its
                checks, the first time it is seen.
        """
        if parsed is None:
            policy = LedgerPolicy.from_state(state["policy"])
            rater = check.Rater(policy.rating, hold_ttl=policy.hold_ttl)
        else:
            policy, rater = parsed.policy(state["policy"])
        in_arrears = policy.overage.mode is OverageMode.BILL_IN_ARREARS
        # Built from its parts as `copy` builds one: they were checked as they were parsed.
        ledger = _new(cls)
        _set = object.__setattr__
        _set(ledger, "account_id", check.key("account_id", state["account_id"]))
        _set(ledger, "policy", policy)
        _set(ledger, "version", 0)
        _set(ledger, "_pool", GrantPool.from_state(state, parsed=parsed))
        _set(ledger, "_calls", CallRegister.from_state(state))
        _set(
            ledger,
            "_counters",
            PeriodCounters.from_state(state, arrears_mode=in_arrears, parsed=parsed),
        )
        _set(ledger, "_events", EventBuffer())
        _set(ledger, "_rater", rater)
        return ledger

    # --- private ------------------------------------------------------------------------------

    def _refuse_past_period(self, at: datetime) -> None:
        period = self._counters.period
        if period is not None and at < period.start:
            raise ValidationError("at", at, f"before the current period {period}")

    def _give_back(self, hold: Reservation) -> None:
        del self._calls.holds[hold.call_id]
        self._pool.give_back(hold.debits)

    def _carry_given_back(self, at: datetime) -> None:
        """Carry seconds held over the boundary and given back into their rollover grant."""
        grant_id, seconds, sources, granted = self._pool.carry_given_back(at)
        if not seconds:
            return
        self._rolled_over(grant_id, seconds, sources, at)
        if granted is not None:
            self._emit(MinutesGranted(account_id=self.account_id, occurred_at=at, grant=granted))

    def _rolled_over(
        self, grant_id: str, seconds: int, sources: tuple[str, ...], at: datetime
    ) -> None:
        """Record that `seconds` of the ended plan grants `sources` went to `grant_id`."""
        self._emit(
            MinutesRolledOver(
                account_id=self.account_id,
                occurred_at=at,
                grant_id=grant_id,
                seconds=seconds,
                from_grants=sources,
            )
        )

    def _note_overage(self, record: UsageRecord, at: datetime) -> None:
        seconds, charge = record.overage_seconds, record.overage_charge
        in_arrears = self.policy.overage.mode is OverageMode.BILL_IN_ARREARS
        period = self._counters.period
        late = period is not None and at >= period.end  # falls in the next period
        self._counters.add_overage(seconds, charge, in_arrears=in_arrears, late=late)
        self._emit(
            OverageIncurred(
                account_id=self.account_id,
                occurred_at=at,
                call_id=record.call_id,
                seconds=seconds,
                charge=charge,
                mode=self.policy.overage.mode,
            )
        )

    def _check_thresholds(self, at: datetime) -> None:
        figures = period_figures(self._pool.ordered(), self._counters.period, at)
        thresholds = self.policy.thresholds
        # A level counts the period's seconds that are gone, used or expired: what is left to
        # use is what a campaign runs on, so a bundle that lapsed brings the warning nearer.
        # The 100 level (MinutesExhausted) waits for the last second, where a percentage
        # rounded half up would reach it at 99.995 %: it is reached once nothing remains to
        # use, free or held. The events show the used percentage, as the overview does.
        percent = used_percent(figures.used, figures.total)
        gone = figures.used + figures.expired
        exhausted = figures.remaining + figures.held == 0
        counters = self._counters
        if figures.total:
            crossed = counters.cross(
                thresholds, hundredths(gone * 100, figures.total), exhausted=exhausted
            )
        else:
            crossed = []
        counters.watch(thresholds, gone, figures.total, figures.lasting)
        for level in crossed:
            kind: type[MinutesLow | MinutesExhausted] = (
                MinutesExhausted if level >= 100 else MinutesLow
            )
            self._emit(
                kind(
                    account_id=self.account_id,
                    occurred_at=at,
                    level=level,
                    used_percent=percent,
                    remaining_seconds=figures.remaining,
                )
            )

    def _emit(self, event: DomainEvent) -> None:
        self._events.record(event)


def _by_currency(totals: dict[str, Money]) -> tuple[Money, ...]:
    return tuple(totals[c] for c in sorted(totals))
