"""The rules a minute ledger follows (`LedgerPolicy`) and the numbers it reports.

`MinuteSnapshot` is what a plan overview shows: Total Minutes, Remaining Minutes and
``26.06% Used``. Percentages and minutes are computed with integer arithmetic and rounded half
up to two places, never through the ambient `decimal` context; the used percentage reads
``100.00`` only once every second is used (see `used_percent`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from decimal import Decimal

from attrs import field, frozen

from minutebill.domain.catalog import OverageMode, OveragePolicy, Plan
from minutebill.domain.periods import BillingPeriod
from minutebill.domain.rating import MAX_CALL_DURATION, BillingIncrement
from minutebill.domain.state import State, money_from_state, money_to_state
from minutebill.errors import ValidationError

__all__ = ["LedgerPolicy", "LedgerTotals", "MinuteSnapshot", "hundredths", "used_percent"]

_MICROSECOND = timedelta(microseconds=1)


def hundredths(numerator: int, denominator: int) -> Decimal:
    """``numerator / denominator`` as a Decimal with two places, rounded half up (exact).

    Both are non-negative integers; a zero denominator gives ``0.00``.
    """
    if denominator <= 0:
        return Decimal("0.00")
    units = (numerator * 200 + denominator) // (2 * denominator)
    return Decimal(f"{units // 100}.{units % 100:02d}")


_LAST_HUNDREDTH_BELOW_ALL = Decimal("99.99")


def used_percent(used: int, total: int) -> Decimal:
    """`used` of `total` seconds as a percentage: two places, half up, 100 only when all used.

    Rounded half up alone, anything from 99.995 % on would read ``100.00`` while seconds
    remain (a minute of a 20,000-minute plan), and a call could still start. So a period
    with anything left reads ``99.99`` at most: ``100.00`` means nothing remains, the same
    moment `MinutesExhausted` is emitted (also emitted below 100 once nothing remains
    because seconds expired). Both are non-negative integers, `used` at most `total`; a
    zero total gives ``0.00``.
    """
    percent = hundredths(used * 100, total)
    if used < total and percent >= 100:
        return _LAST_HUNDREDTH_BELOW_ALL
    return percent


def _check_thresholds(value: object) -> tuple[int, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ValidationError("thresholds", value, "a sequence of whole percentages 1..100")
    levels = tuple(value)
    for level in levels:
        if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= 100:
            raise ValidationError("thresholds", value, "levels are whole percentages 1..100")
    if list(levels) != sorted(set(levels)):
        raise ValidationError("thresholds", value, "levels are strictly increasing")
    return levels


@frozen(kw_only=True)
class LedgerPolicy:
    """How a ledger rates calls, treats overage, warns, and how long holds last.

    A plan change swaps the policy (`MinuteLedger.set_policy`); holds already placed keep
    their expiry.

    Attributes:
        rating: The billing increment calls are rated with.
        overage: What happens to seconds no grant covers (block, charge the wallet, or bill in
            arrears); it also decides whether `reserve` may hold zero seconds.
        thresholds: Percentage levels of the period's minutes gone, used or expired, at
            which `MinutesLow` (below 100) or `MinutesExhausted` (100) is emitted, once per
            level per period. A level below 100 is reached when that share, two places half
            up, reaches it; 100 when nothing remains to use, neither free nor held. Without
            expiry the share gone is the used percentage; with it, the warning comes as
            early before the minutes run out.
        hold_ttl: How long a hold lasts before `expire_holds` returns its seconds (a hold
            for a longer call lasts as long as the call may run: see `MinuteLedger.reserve`);
            at most `MAX_CALL_DURATION`.
    """

    rating: BillingIncrement = BillingIncrement.PER_MINUTE
    overage: OveragePolicy = field(factory=OveragePolicy.block)
    thresholds: tuple[int, ...] = field(default=(80, 100), converter=_check_thresholds)
    hold_ttl: timedelta = timedelta(hours=4)
    # The texts and numbers of `to_state`, worked out at its first call: a ledger writes its
    # policy at every save, and the policy never changes.
    _state_values: tuple[str, str, tuple[str, str] | None, int] | None = field(
        init=False, default=None, eq=False, repr=False
    )

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.rating, BillingIncrement):
            raise ValidationError("rating", self.rating, "expected a BillingIncrement")
        if not isinstance(self.overage, OveragePolicy):
            raise ValidationError("overage", self.overage, "expected an OveragePolicy")
        if not isinstance(self.hold_ttl, timedelta) or self.hold_ttl <= timedelta(0):
            raise ValidationError("hold_ttl", self.hold_ttl, "a positive timedelta")
        if self.hold_ttl > MAX_CALL_DURATION:  # no call lasts longer, so no hold need to
            raise ValidationError(
                "hold_ttl",
                self.hold_ttl,
                f"at most {MAX_CALL_DURATION.days} days, the longest call",
            )
        self.overage.require_priceable(self.rating)  # settling must never fail to price

    @classmethod
    def for_plan(
        cls,
        plan: Plan,
        *,
        thresholds: tuple[int, ...] = (80, 100),
        hold_ttl: timedelta = timedelta(hours=4),
    ) -> LedgerPolicy:
        """The policy of `plan`: its rating and overage rule, with `thresholds` and `hold_ttl`."""
        return cls(
            rating=plan.features.rating,
            overage=plan.features.overage,
            thresholds=thresholds,
            hold_ttl=hold_ttl,
        )

    def to_state(self) -> State:
        """The policy as JSON-compatible data."""
        values = self._state_values
        if values is None:
            rate = self.overage.rate_per_minute
            rate_state = None if rate is None else money_to_state(rate)
            values = (
                str(self.rating),
                self.overage.mode.value,
                None if rate_state is None else (rate_state["amount"], rate_state["currency"]),
                self.hold_ttl // _MICROSECOND,
            )
            object.__setattr__(self, "_state_values", values)  # frozen: a memo, not a change
        rating, overage, rate_values, hold_ttl_us = values
        return {
            "rating": rating,
            "overage": overage,
            "overage_rate": (
                None
                if rate_values is None
                else {"amount": rate_values[0], "currency": rate_values[1]}
            ),
            "thresholds": list(self.thresholds),
            "hold_ttl_us": hold_ttl_us,
        }

    @classmethod
    def from_state(cls, state: State) -> LedgerPolicy:
        """The policy that `to_state` encoded."""
        rate = state["overage_rate"]
        return cls(
            rating=BillingIncrement.parse(state["rating"]),
            overage=OveragePolicy(
                OverageMode(state["overage"]), None if rate is None else money_from_state(rate)
            ),
            thresholds=tuple(state["thresholds"]),
            hold_ttl=timedelta(microseconds=state["hold_ttl_us"]),
        )


@frozen(kw_only=True)
class MinuteSnapshot:
    """The minutes of the current period at one moment: what a plan overview shows.

    ``total_seconds == remaining_seconds + used_seconds + held_seconds + expired_seconds``.
    The period's total is what its grants held when the period opened plus what was granted
    since (grants not yet effective are left out until they are).

    Attributes:
        total_seconds: Seconds available to the period.
        remaining_seconds: Seconds free to use now.
        used_seconds: Seconds used by settled calls in the period.
        held_seconds: Seconds held for calls in progress.
        expired_seconds: Seconds that expired unused in the period.
        period: The period the numbers are for; None if the ledger has not opened one (then
            the numbers cover every grant the ledger holds).
        overage_seconds: Billable seconds no grant covered in the period.
    """

    total_seconds: int
    remaining_seconds: int
    used_seconds: int
    held_seconds: int
    expired_seconds: int
    period: BillingPeriod | None
    overage_seconds: int = 0

    @property
    def total_minutes(self) -> Decimal:
        """Total minutes, two places, half up."""
        return hundredths(self.total_seconds, 60)

    @property
    def remaining_minutes(self) -> Decimal:
        """Remaining minutes, two places, half up."""
        return hundredths(self.remaining_seconds, 60)

    @property
    def used_minutes(self) -> Decimal:
        """Used minutes, two places, half up."""
        return hundredths(self.used_seconds, 60)

    @property
    def used_percent(self) -> Decimal:
        """Used seconds as a percentage of the total, two places, half up (0 when no total).

        1,303 minutes used of 5,000 gives ``Decimal("26.06")``. It reads ``100.00`` only
        when every second of the total is used: with any second left it is at most
        ``99.99``, where rounding alone would give ``100.00`` (see `used_percent`).
        """
        return used_percent(self.used_seconds, self.total_seconds)


@frozen(kw_only=True)
class LedgerTotals:
    """Lifetime counters of a ledger, exact even after old grants were pruned.

    ``granted == remaining + held + consumed + expired``.

    Attributes:
        granted: Seconds ever granted.
        remaining: Seconds free in grants (usable now or later, or past expiry but not yet
            expired by `MinuteLedger.expire`).
        held: Seconds held for calls in progress.
        consumed: Seconds used by settled calls (and by late usage, see `covered`).
        expired: Seconds that expired unused (or were carried into a rollover grant).
        overage: Billable seconds no grant covered when the call was settled (the sum of the
            usage records' overage).
        covered: Of `overage`, late usage a paid renewal's plan minutes covered afterwards
            (`MinuteLedger.cover_late_usage`): counted in `consumed` too, so the settled
            calls debited ``consumed - covered`` seconds.
    """

    granted: int
    remaining: int
    held: int
    consumed: int
    expired: int
    overage: int
    covered: int = 0
