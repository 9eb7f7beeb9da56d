"""The ledger's counters of the current billing period: thresholds fired and overage.

A period is the plan period that snapshots and threshold events refer to. Opening the next one
re-arms the thresholds and starts the period's overage counts from zero; the lifetime overage
total keeps counting.

Checking thresholds after every settlement would cost time proportional to the live grants on
the hot path, so the counters also keep a *watch*: after each check, how many
more seconds must be debited before the next level can possibly be reached. Within a period
the total only grows (grants are added or become effective; expiry moves seconds from remaining
to expired without changing the total) and the used seconds grow by at most what is debited,
so skipping the check until then never misses a crossing. The watch is part of the document
(``threshold_room``): a ledger loaded for each settlement would otherwise check every time.

*Late usage* is the overage of calls settled at or after the period's end, while its renewal
is unpaid (past due). Opening the next period carries it over (``carried``), so that a paid
renewal can cover it with the new period's plan minutes (`MinuteLedger.cover_late_usage`);
the period after that forgets it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from minutebill.domain.money import Money
from minutebill.domain.periods import BillingPeriod
from minutebill.domain.state import State, instant_from_state, instant_to_state

if TYPE_CHECKING:
    from minutebill.domain.ledger_parsed import ParsedLedgerValues

__all__ = ["LateUsage", "PeriodCounters"]


class LateUsage:
    """Overage of calls settled at or after a period's end: seconds and money, per currency.

    ``charges`` is what the overage policy priced, ``arrears`` the part of it priced to be
    billed in arrears (the rest was charged to the wallet), and ``paid`` what the host noted
    the wallet actually paid for it, tax included (`MinuteLedger.note_overage_paid`).
    """

    __slots__ = ("arrears", "charges", "paid", "seconds")

    def __init__(self) -> None:
        self.seconds = 0
        self.charges: dict[str, Money] = {}
        self.arrears: dict[str, Money] = {}
        self.paid: dict[str, Money] = {}

    def copy(self) -> LateUsage:
        """Independent figures with the same values (amounts are immutable)."""
        late = LateUsage()
        late.seconds = self.seconds
        late.charges = self.charges.copy()
        late.arrears = self.arrears.copy()
        late.paid = self.paid.copy()
        return late

    def covered(self, seconds: int) -> tuple[dict[str, Money], dict[str, Money], dict[str, Money]]:
        """Split the money for `seconds` of the late seconds covered by plan minutes.

        Whole seconds are covered, earliest first; the money is split in proportion to the
        seconds (largest remainder, so no minor unit is lost or invented).

        Returns:
            The arrears dropped, the wallet charges covered and the wallet charges kept (the
            uncovered part's), each per currency.
        """
        dropped: dict[str, Money] = {}
        covered: dict[str, Money] = {}
        kept: dict[str, Money] = {}
        if not seconds or not self.seconds:
            kept = {c: m - self.arrears.get(c, Money.zero(c)) for c, m in self.charges.items()}
            return dropped, covered, kept
        ratios = [seconds, self.seconds - seconds]
        for currency, charge in self.charges.items():
            arrears = self.arrears.get(currency, Money.zero(currency))
            dropped[currency] = arrears.allocate(ratios)[0]
            covered[currency], kept[currency] = (charge - arrears).allocate(ratios)
        return dropped, covered, kept

    def add_paid(self, amount: Money) -> None:
        """Count `amount` the wallet paid for this late usage."""
        _add(self.paid, amount)

    def to_state(self) -> State:
        """The figures as JSON-compatible data."""
        return {
            "seconds": self.seconds,
            "charges": _amounts(self.charges),
            "arrears": _amounts(self.arrears),
            "paid": _amounts(self.paid),
        }

    @classmethod
    def from_state(cls, state: State | None) -> LateUsage:
        """The figures `to_state` encoded; none (a document written before them) is zero."""
        late = cls()
        if state is not None:
            late.seconds = state["seconds"]
            late.charges = _money(state["charges"])
            late.arrears = _money(state["arrears"])
            late.paid = _money(state["paid"])
        return late


class PeriodCounters:
    """The current period, the threshold levels fired in it, and overage counts."""

    __slots__ = (
        "_debited",
        "_period_texts",
        "_room",
        "arrears",
        "carried",
        "charges",
        "covered_total",
        "fired",
        "late",
        "overage",
        "overage_total",
        "period",
    )

    def __init__(self) -> None:
        self.period: BillingPeriod | None = None
        self.fired: set[int] = set()
        self.overage = 0
        self.overage_total = 0
        self.covered_total = 0  # late overage seconds covered by a paid period, lifetime
        self.charges: dict[str, Money] = {}
        # The part of `charges` priced to be billed in arrears, at the period's renewal: only
        # that part, whatever the overage rule is by then (charged to the wallet already, the
        # rest must not be billed again; billed in arrears, it must not be dropped).
        self.arrears: dict[str, Money] = {}
        self.late = LateUsage()  # of this period, after its end
        self.carried = LateUsage()  # of the period before, until a paid renewal covers it
        self._room: int | None = None  # debits before a level can be reached; None: unknown
        self._debited = 0
        # The period and the texts of its bounds, encoded once per period, not at every save.
        self._period_texts: tuple[BillingPeriod, str, str] | None = None

    def copy(self) -> PeriodCounters:
        """Independent counters with the same figures and watch (as `from_state` rebuilds them)."""
        counters = PeriodCounters()
        counters.period = self.period  # immutable
        counters._period_texts = self._period_texts  # immutable
        counters.fired = self.fired.copy()
        counters.overage = self.overage
        counters.overage_total = self.overage_total
        counters.covered_total = self.covered_total
        counters.charges = self.charges.copy()  # immutable amounts
        counters.arrears = self.arrears.copy()
        counters.late = self.late.copy()
        counters.carried = self.carried.copy()
        room = self._room
        counters._room = None if room is None else room - self._debited
        return counters

    def open(self, period: BillingPeriod) -> None:
        """Start `period`: re-arm thresholds, reset the period's overage, carry late usage."""
        self.carried = self.late
        self.late = LateUsage()
        self.period = period
        self.fired = set()
        self.overage = 0
        self.charges = {}
        self.arrears = {}
        self.rewatch()

    def rewatch(self) -> None:
        """Forget the watch (thresholds or the period changed): check at the next debit."""
        self._room = None
        self._debited = 0

    def due(self, debited: int) -> bool:
        """Count `debited` seconds; whether a threshold level may have been reached."""
        if not debited:
            return False
        self._debited += debited
        room = self._room
        return room is None or self._debited >= room

    def watch(
        self, thresholds: tuple[int, ...], gone: int, total: int, lasting: int | None = None
    ) -> None:
        """After a check with `gone` of `total` seconds used or expired: the room before a level.

        A level ``L`` below 100 is reached when the share gone, rounded half up to two places,
        is at least ``L``, that is when ``20000 × gone >= (200 × L - 1) × total``; the level
        100 when nothing remains to use, neither free nor held (see `cross`), that is when
        ``gone == total``. Debits move seconds to gone, and so may expiry between checks: but
        only the seconds that do not last the period, at most ``total - gone - lasting``. So
        the room, in debited seconds, stops that much short of the next level (`lasting`: the
        seconds only a debit takes away; default: all not gone).
        """
        pending = [level for level in thresholds if level not in self.fired]
        if not pending:
            self._room = 1 << 62
        elif total == 0:
            self._room = 1
        else:
            level = pending[0]
            needed = total if level >= 100 else -(-(200 * level - 1) * total // 20000)
            room = needed - gone
            if lasting is not None:  # expiry may take the rest before any debit does
                room = min(room, lasting - (total - needed))
            self._room = max(room, 1)
        self._debited = 0

    def add_overage(
        self, seconds: int, charge: Money | None, *, in_arrears: bool, late: bool = False
    ) -> None:
        """Count `seconds` of overage and their `charge` (if priced; `in_arrears`: billed later).

        `late`: the call settled at or after the period's end, so it is late usage too.
        """
        self.overage += seconds
        self.overage_total += seconds
        if charge is not None:
            _add(self.charges, charge)
            if in_arrears:
                _add(self.arrears, charge)
        if late:
            usage = self.late
            usage.seconds += seconds
            if charge is not None:
                _add(usage.charges, charge)
                if in_arrears:
                    _add(usage.arrears, charge)

    def cross(
        self, thresholds: tuple[int, ...], percent: Decimal, *, exhausted: bool = False
    ) -> list[int]:
        """Mark and return the levels reached that had not fired yet, lowest first.

        A level below 100 is reached when `percent`, the share of the period used or expired,
        reaches it; 100 when `exhausted`: nothing remains to use, neither free nor held.
        """
        crossed = [
            lv
            for lv in thresholds
            if lv not in self.fired and (exhausted if lv >= 100 else percent >= lv)
        ]
        self.fired.update(crossed)
        return crossed

    def to_state(self) -> State:
        """The counters as JSON-compatible data."""
        charges, arrears = self.charges, self.arrears
        state: State = {
            "period": self._period_state(),
            "fired_levels": sorted(self.fired),
            "overage_total": self.overage_total,
            "period_overage": self.overage,
            "period_charges": _amounts(charges) if charges else {},
            "period_arrears": _amounts(arrears) if arrears else {},
            "threshold_room": None if self._room is None else self._room - self._debited,
        }
        # Only while there is any: most periods have none, and the document stays as it was.
        if self.late.seconds:
            state["late_usage"] = self.late.to_state()
        if self.carried.seconds:
            state["carried_late_usage"] = self.carried.to_state()
        if self.covered_total:
            state["late_covered_total"] = self.covered_total
        return state

    def _period_state(self) -> list[str] | None:
        period = self.period
        if period is None:
            return None
        texts = self._period_texts
        if texts is None or texts[0] is not period:
            texts = (period, instant_to_state(period.start), instant_to_state(period.end))
            self._period_texts = texts
        return [texts[1], texts[2]]

    @classmethod
    def from_state(
        cls,
        state: State,
        *,
        arrears_mode: bool = False,
        parsed: ParsedLedgerValues | None = None,
    ) -> PeriodCounters:
        """The counters that `to_state` encoded.

        Args:
            state: The document.
            arrears_mode: Whether the ledger bills overage in arrears: a document written
                before the arrears were counted apart holds them only among its charges.
            parsed: Periods parsed before, to reuse (a store passes its own).
        """
        counters = cls()
        period = state["period"]
        if period is not None:
            if parsed is None:
                counters.period = BillingPeriod(
                    instant_from_state(period[0]), instant_from_state(period[1])
                )
            else:
                texts = counters._period_texts = parsed.period(period)
                counters.period = texts[0]
        counters.fired = set(state["fired_levels"])
        counters.overage_total = state["overage_total"]
        counters.overage = state["period_overage"]
        charges = state["period_charges"]
        counters.charges = _money(charges) if charges else {}
        arrears = state.get("period_arrears")
        if arrears is None:  # an older document: what the renewal then billed in arrears
            counters.arrears = counters.charges.copy() if arrears_mode else {}
        elif arrears == charges:  # mostly: all of it is billed in arrears, or none of it
            counters.arrears = counters.charges.copy()  # the same amounts, parsed once
        else:
            counters.arrears = _money(arrears)
        counters._room = state.get("threshold_room")  # absent from older documents: unknown
        counters.late = LateUsage.from_state(state.get("late_usage"))  # absent: none (or older)
        counters.carried = LateUsage.from_state(state.get("carried_late_usage"))
        counters.covered_total = state.get("late_covered_total", 0)
        return counters


def _money(amounts: dict[str, str]) -> dict[str, Money]:
    """The amounts `_amounts` encoded."""
    return {c: Money(Decimal(a), c) for c, a in amounts.items()}


def _amounts(totals: dict[str, Money]) -> dict[str, str]:
    """Amounts by currency as texts, in currency order."""
    return {c: str(m.amount) for c, m in sorted(totals.items())}


def _add(totals: dict[str, Money], amount: Money) -> None:
    before = totals.get(amount.currency)
    totals[amount.currency] = amount if before is None else before + amount
