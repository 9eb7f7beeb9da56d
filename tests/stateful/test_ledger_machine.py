"""The minute ledger against a deliberately naive model, step by step.

The model keeps every movement of seconds in a log and recomputes balances from it each time,
sorts grants from scratch for every call, and never prunes. The machine drives grants, holds,
settlements (including replays and conflicting replays), releases, hold expiry, grant expiry,
reloads from the stored state and period rollovers, and checks the invariants after every step.
It also lets a renewal be late: calls settled after the period's end are late usage, which a
paid late renewal covers with its plan minutes as far as they go.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import attrs
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from minutebill.domain.catalog import OveragePolicy
from minutebill.domain.ledger import (
    CallSettled,
    GrantSource,
    LateUsageCovered,
    LedgerPolicy,
    MinuteLedger,
    MinutesExhausted,
    MinutesLow,
    UsageRecord,
)
from minutebill.domain.ledger_policy import hundredths
from minutebill.domain.money import Money, sum_money
from minutebill.domain.overage_funds import OverageFunds
from minutebill.domain.periods import BillingPeriod
from minutebill.domain.rating import BillingIncrement
from minutebill.domain.state import State
from minutebill.errors import (
    IdempotencyConflict,
    InsufficientMinutes,
    InvalidTransition,
    MinutebillError,
    NotFound,
)

WALLET = Money("20.00", "INR")  # what calls on the wallet may spend between them
T0 = datetime(2025, 1, 1, tzinfo=UTC)
PERIOD_DAYS = 30
NEVER = datetime.max.replace(tzinfo=UTC)


def period(k: int) -> BillingPeriod:
    start = T0 + timedelta(days=PERIOD_DAYS * k)
    return BillingPeriod(start, start + timedelta(days=PERIOD_DAYS))


@attrs.define
class ModelGrant:
    grant_id: str
    source: GrantSource
    granted: int
    effective_at: datetime
    expires_at: datetime | None
    priority: int


@attrs.define
class ModelPending:
    """Room left under a rollover's cap for seconds live calls held at the boundary."""

    grant_id: str
    effective_at: datetime
    expires_at: datetime
    room: int
    sources: list[str]


@attrs.define
class ModelHold:
    requested: int
    at: datetime
    expires_at: datetime
    debits: list[tuple[str, int]]


class Model:
    """Balances recomputed from a log of movements; nothing cached, nothing pruned."""

    def __init__(self, policy: LedgerPolicy) -> None:
        self.policy = policy
        self.grants: dict[str, ModelGrant] = {}
        self.log: list[tuple[str, str, int]] = []  # (grant_id, kind, seconds)
        self.holds: dict[str, ModelHold] = {}
        self.records: dict[str, UsageRecord] = {}
        self.released: set[str] = set()
        self.hold_expired: set[str] = set()
        self.period: BillingPeriod | None = None
        self.base: dict[str, tuple[int, int]] = {}
        self.overage_in_period = 0
        # Late usage: overage settled at or after the current period's end, then carried
        # over by the next period until a paid renewal covers it (or the period after).
        self.late = self.carried = 0
        self.late_charges = self.carried_charges = Money.zero("INR")
        self.late_paid = self.carried_paid = Money.zero("INR")
        self.pending: ModelPending | None = None

    def count(self, grant_id: str, kind: str) -> int:
        return sum(s for g, k, s in self.log if g == grant_id and k == kind)

    def consumed(self, grant_id: str) -> int:
        """Used by calls ("consume") or by covering late usage ("cover")."""
        return self.count(grant_id, "consume") + self.count(grant_id, "cover")

    def held(self, grant_id: str) -> int:
        return self.count(grant_id, "hold") - self.count(grant_id, "unhold")

    def remaining(self, grant_id: str) -> int:
        return (
            self.grants[grant_id].granted
            - self.held(grant_id)
            - self.consumed(grant_id)
            - self.count(grant_id, "expire")
        )

    def usable(self, g: ModelGrant, at: datetime) -> bool:
        return g.effective_at <= at and (g.expires_at is None or at < g.expires_at)

    def in_order(self) -> list[ModelGrant]:
        return sorted(
            self.grants.values(),
            key=lambda g: (
                -g.priority,
                NEVER if g.expires_at is None else g.expires_at,
                g.source is not GrantSource.PROMOTIONAL,
                g.effective_at,
                g.grant_id,
            ),
        )

    def take(self, seconds: int, at: datetime) -> list[tuple[str, int]]:
        taken = []
        for g in self.in_order():
            left = self.remaining(g.grant_id)
            if seconds and left and self.usable(g, at):
                amount = min(seconds, left)
                taken.append((g.grant_id, amount))
                seconds -= amount
        return taken

    def available(self, at: datetime) -> int:
        return sum(self.remaining(g.grant_id) for g in self.grants.values() if self.usable(g, at))

    def snapshot(self, at: datetime) -> tuple[int, int, int, int, int]:
        total = remaining = used = held = expired = 0
        for g in self.grants.values():
            if g.effective_at > at:
                continue
            period = self.period
            # An earlier period's grant; one granted after the period's end (the renewal
            # unpaid) counts: it is what there is to use.
            if period and g.expires_at is not None and g.expires_at <= period.start:
                continue
            base_consumed, base_expired = self.base.get(g.grant_id, (0, 0))
            consumed = self.consumed(g.grant_id) - base_consumed
            gone = self.count(g.grant_id, "expire") - base_expired
            left = self.remaining(g.grant_id)
            total += left + self.held(g.grant_id) + consumed + gone
            used += consumed
            held += self.held(g.grant_id)
            if g.expires_at is not None and g.expires_at <= at:
                expired += gone + left
            else:
                expired += gone
                remaining += left
        return total, remaining, used, held, expired


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = T0
        self.k = 0
        self.serial = 0
        self.remembered: set[str] = set()
        self.settled_events: list[str] = []
        self.thresholds_fired: list[tuple[int, int]] = []
        self.emptied: set[int] = set()  # periods a settlement or expiry left with nothing to use
        self.left_behind: list[tuple[MinuteLedger, State]] = []
        self.kept: dict[str, Money] = {}  # wallet money each call on the wallet keeps
        self.reached: set[tuple[int, int]] = set()  # (period, level) reached at a check

    # --- set-up -------------------------------------------------------------------------------

    @initialize(
        rating=st.sampled_from(
            [BillingIncrement.PER_MINUTE, BillingIncrement.PER_SECOND, BillingIncrement.SIXTY_SIX]
        ),
        charges=st.booleans(),
        plan_minutes=st.integers(0, 30),
    )
    def start(self, rating: BillingIncrement, charges: bool, plan_minutes: int) -> None:
        overage = (
            OveragePolicy.charge_wallet(Money("1.00", "INR")) if charges else OveragePolicy.block()
        )
        policy = LedgerPolicy(rating=rating, overage=overage)
        self.ledger = MinuteLedger("acct-1", policy)
        self.model = Model(policy)
        self.open(plan_minutes)

    def open(self, plan_minutes: int) -> None:
        current = period(self.k)
        self.ledger.open_period(current, self.now)
        self.model.period = current
        self.model.overage_in_period = 0
        self.model.carried, self.model.late = self.model.late, 0
        self.model.carried_charges, self.model.late_charges = (
            self.model.late_charges,
            Money.zero("INR"),
        )
        self.model.carried_paid, self.model.late_paid = self.model.late_paid, Money.zero("INR")
        self.model.base = {
            g: (self.model.consumed(g), self.model.count(g, "expire")) for g in self.model.grants
        }
        if plan_minutes:
            self.add_grant(
                f"plan:{self.k}",
                GrantSource.PLAN,
                plan_minutes * 60,
                current.start,  # the period's own minutes, even when it is opened late
                current.end,
                0,
            )

    def add_grant(
        self,
        grant_id: str,
        source: GrantSource,
        seconds: int,
        effective_at: datetime,
        expires_at: datetime | None,
        priority: int,
    ) -> None:
        grant = self.ledger.grant(
            grant_id,
            source,
            seconds,
            self.now,
            effective_at=effective_at,
            expires_at=expires_at,
            priority=priority,
        )
        self.model.grants[grant_id] = ModelGrant(
            grant_id, source, seconds, effective_at, expires_at, priority
        )
        assert (grant.granted, grant.remaining) == (seconds, seconds)

    def new_id(self, prefix: str) -> str:
        self.serial += 1
        return f"{prefix}-{self.serial}"

    def unchanged_after(self, error: type[MinutebillError], action: object) -> None:
        before = self.ledger.to_state()
        with pytest.raises(error):
            action()  # type: ignore[operator]
        assert self.ledger.to_state() == before

    # --- time and grants ----------------------------------------------------------------------

    @rule(hours=st.integers(1, 96))
    def advance(self, hours: int) -> None:
        end = period(self.k).end - timedelta(hours=1)  # a late renewal keeps its time
        self.now = max(self.now, min(self.now + timedelta(hours=hours), end))

    @rule(
        source=st.sampled_from([GrantSource.BUNDLE, GrantSource.PROMOTIONAL]),
        minutes=st.integers(1, 20),
        starts_in=st.sampled_from([0, 0, 0, 5, 30]),
        lasts=st.one_of(
            st.none(), st.sampled_from(["period", "next period"]), st.integers(1, 24 * 45)
        ),
        priority=st.sampled_from([0, 0, 0, 1, -1]),  # -1: used after the plan, may lapse unused
    )
    def grant(
        self,
        source: GrantSource,
        minutes: int,
        starts_in: int,
        lasts: int | str | None,
        priority: int,
    ) -> None:
        """Bundles and credit; many expire together at a period's end, so ties are common."""
        start = self.now + timedelta(hours=starts_in)
        if lasts == "period":
            end: datetime | None = max(period(self.k).end, start + timedelta(hours=1))
        elif lasts == "next period":
            end = period(self.k + 1).end
        else:
            end = None if lasts is None else start + timedelta(hours=int(lasts))
        self.add_grant(self.new_id("bundle"), source, minutes * 60, start, end, priority)

    @precondition(lambda self: self.model.grants)
    @rule(data=st.data())
    def replay_grant(self, data: st.DataObject) -> None:
        g = data.draw(st.sampled_from(sorted(self.model.grants)))
        terms = self.model.grants[g]
        before = self.ledger.to_state()
        again = self.ledger.grant(
            g,
            terms.source,
            terms.granted,
            self.now,
            effective_at=terms.effective_at,
            expires_at=terms.expires_at,
            priority=terms.priority,
        )
        assert again.granted == terms.granted
        assert self.ledger.to_state() == before
        self.unchanged_after(
            IdempotencyConflict,
            lambda: self.ledger.grant(
                g, terms.source, terms.granted + 1, self.now, expires_at=terms.expires_at
            ),
        )

    @rule()
    def expire(self) -> None:
        expected = 0
        for g in self.model.in_order():
            left = self.model.remaining(g.grant_id)
            if left and g.expires_at is not None and g.expires_at <= self.now:
                self.model.log.append((g.grant_id, "expire", left))
                expected += left
        assert self.ledger.expire(self.now) == expected
        period = self.model.period
        if expected and period is not None and self.now < period.end:
            self.note_levels_reached()  # expiry may bring a warning nearer, or leave nothing

    def note_levels_reached(self) -> None:
        """At a check (a debit, an expiry): the levels the share gone, used or expired, reached.

        Every one of them must have fired by now (`events_are_unique`); 100 is reached only
        when nothing is left to use, free or held.
        """
        total, left, _, on_hold, _ = self.model.snapshot(self.now)
        if not total:
            return
        if left + on_hold == 0:
            self.emptied.add(self.k)
        gone = hundredths((total - left - on_hold) * 100, total)
        for level in self.model.policy.thresholds:
            if level < 100 and gone >= level:
                self.reached.add((self.k, level))

    @rule(
        rollover=st.one_of(st.none(), st.integers(0, 40)),
        plan_minutes=st.integers(0, 30),
    )
    def next_period(self, rollover: int | None, plan_minutes: int) -> None:
        self.k += 1
        self.now = max(self.now, period(self.k).start)  # a late renewal opens it late
        cap = None if rollover is None else rollover * 60
        carried = self.ledger.rollover(
            self.now, cap_seconds=cap, expires_at=period(self.k).end, grant_id=f"rollover:{self.k}"
        )
        expected = 0
        if cap is not None:
            left = cap
            ending = period(self.k - 1)
            for g in self.model.in_order():
                unused = self.model.remaining(g.grant_id)
                # A late renewal also carries what the period's plan grants already expired.
                lapsed = (
                    self.model.count(g.grant_id, "expire")
                    - self.model.base.get(g.grant_id, (0, 0))[1]
                )
                if self.ended_plan(g, ending) and unused + lapsed and left:
                    amount = min(unused + lapsed, left)
                    if min(unused, amount):  # the rest was expired already
                        self.model.log.append((g.grant_id, "expire", min(unused, amount)))
                    left -= amount
                    expected += amount
            # What live calls hold on those grants rolls over as they give it back.
            holding = [
                g.grant_id
                for g in self.model.in_order()
                if self.ended_plan(g, ending) and self.model.held(g.grant_id)
            ]
            room = min(left, sum(self.model.held(g) for g in holding))
            self.model.pending = (
                ModelPending(f"rollover:{self.k}", self.now, period(self.k).end, room, holding)
                if room
                else None
            )
        if expected:
            assert carried is not None
            assert carried.granted == expected
            self.model.grants[carried.grant_id] = ModelGrant(
                carried.grant_id, GrantSource.ROLLOVER, expected, self.now, period(self.k).end, 0
            )
        else:
            assert carried is None
        self.expire()
        self.open(plan_minutes)

    def ended_plan(self, g: ModelGrant, ending: BillingPeriod) -> bool:
        """A plan grant of the `ending` period that has ended by now."""
        return (
            g.source is GrantSource.PLAN
            and g.expires_at is not None
            and ending.start < g.expires_at <= self.now
        )

    def carry_given_back(self) -> None:
        """Held seconds given back to the pending rollover's sources go to its grant."""
        pending = self.model.pending
        if pending is None:
            return
        room = pending.room if self.now < pending.expires_at else 0
        carried = 0
        for g in pending.sources:
            left = self.model.remaining(g)
            if room and left:
                amount = min(room, left)
                self.model.log.append((g, "expire", amount))
                room -= amount
                carried += amount
        holding = any(self.model.held(g) for g in pending.sources)
        pending.room = room
        if not (room and holding):
            self.model.pending = None
        if carried:
            grant = self.model.grants.get(pending.grant_id)
            if grant is None:
                self.model.grants[pending.grant_id] = ModelGrant(
                    pending.grant_id,
                    GrantSource.ROLLOVER,
                    carried,
                    pending.effective_at,
                    pending.expires_at,
                    0,
                )
            else:
                grant.granted += carried

    # --- calls --------------------------------------------------------------------------------

    @rule(requested=st.integers(1, 900))
    def reserve(self, requested: int) -> None:
        call_id = self.new_id("call")
        # A hold takes what a call of the requested length is billed.
        rating = self.model.policy.rating
        free = self.model.available(self.now)
        # A partial hold keeps what the longest call it pays in full is billed.
        fits = [n for n in range(requested + 1) if rating.billable_for_seconds(n) <= free]
        plan = self.model.take(rating.billable_for_seconds(max(fits)), self.now)
        if not plan and self.model.policy.overage.blocks:
            self.unchanged_after(
                InsufficientMinutes, lambda: self.ledger.reserve(call_id, requested, self.now)
            )
            return
        hold = self.ledger.reserve(call_id, requested, self.now)
        assert [(d.grant_id, d.seconds) for d in hold.debits] == plan
        assert hold.requested == requested
        assert hold.partial == (hold.seconds < requested)
        self.model.log.extend((g, "hold", s) for g, s in plan)
        self.model.holds[call_id] = ModelHold(requested, self.now, hold.expires_at, plan)
        again = self.ledger.reserve(call_id, requested, self.now)
        assert again == hold

    @precondition(lambda self: not self.model.policy.overage.blocks)
    @rule(requested=st.integers(1, 900))
    def reserve_on_the_wallet(self, requested: int) -> None:
        """A call the wallet (INR 20) pays overage for: capped at what the money left pays.

        Money other live calls keep is not counted: the cap is the longest call, scanned
        second by second, whose overage beyond the held seconds costs what is left.
        """
        call_id = self.new_id("call")
        rating, price = self.model.policy.rating, self.model.policy.overage.charge_for
        left = WALLET - (self.ledger.earmarked() or Money(0, "INR"))
        free = self.model.available(self.now)
        fits = [n for n in range(requested + 1) if rating.billable_for_seconds(n) <= free]
        plan = self.model.take(rating.billable_for_seconds(max(fits)), self.now)
        held = sum(seconds for _, seconds in plan)

        def cost(length: int) -> Money:
            over = rating.billable_for_seconds(length) - held if length else 0
            return (price(over) if over > 0 else None) or Money(0, "INR")

        cap = max(n for n in range(requested + 1) if cost(n) <= left)
        funds = OverageFunds(available=lambda: left, price=price)
        if not cap:
            self.unchanged_after(
                InsufficientMinutes,
                lambda: self.ledger.reserve(call_id, requested, self.now, funds=funds),
            )
            return
        hold = self.ledger.reserve(call_id, requested, self.now, funds=funds)
        assert [(d.grant_id, d.seconds) for d in hold.debits] == plan
        if held < rating.billable_for_seconds(requested):
            assert (hold.max_seconds, hold.funds) == (cap, cost(cap) or None)
        else:  # the minutes pay for the whole call
            assert (hold.max_seconds, hold.cap, hold.funds) == (requested, None, None)
        self.model.log.extend((g, "hold", s) for g, s in plan)
        self.model.holds[call_id] = ModelHold(requested, self.now, hold.expires_at, plan)
        if hold.funds is not None:
            self.kept[call_id] = hold.funds

    @rule(requested=st.integers(1, 900), minutes=st.integers(1, 30))
    def reserve_before_the_end(self, requested: int, minutes: int) -> None:
        """A call starts just before the period ends and may run across the boundary."""
        self.now = max(self.now, period(self.k).end - timedelta(minutes=minutes))
        self.reserve(requested)

    def expected_settlement(
        self, call_id: str, seconds: int
    ) -> tuple[int, list[tuple[str, int]], int]:
        billable = self.model.policy.rating.billable_for_seconds(seconds)
        need = billable
        used: dict[str, int] = {}
        hold = self.model.holds.pop(call_id, None)
        if hold is not None:
            for g, held in hold.debits:
                amount = min(held, need)
                need -= amount
                self.model.log.append((g, "unhold", held))
                if amount:
                    self.model.log.append((g, "consume", amount))
                    used[g] = amount
        for g, amount in self.model.take(need, self.now):
            self.model.log.append((g, "consume", amount))
            used[g] = used.get(g, 0) + amount
            need -= amount
        return billable, list(used.items()), need

    def settle(self, call_id: str, seconds: int, tags: frozenset[str]) -> UsageRecord:
        held = call_id in self.model.holds
        billable, debits, overage = self.expected_settlement(call_id, seconds)
        if held:
            self.carry_given_back()
        record = self.ledger.settle(call_id, timedelta(seconds=seconds), self.now, tags=tags)
        assert record.billable_seconds == billable
        assert [(d.grant_id, d.seconds) for d in record.debits] == debits
        assert record.overage_seconds == overage
        assert record.tags == tags
        if overage and not self.model.policy.overage.blocks:
            assert record.overage_charge == self.model.policy.overage.charge_for(overage)
        else:
            assert record.overage_charge is None
        self.model.overage_in_period += overage
        assert self.model.period is not None
        if self.now >= self.model.period.end:
            self.model.late += overage
            if record.overage_charge is not None:
                self.model.late_charges += record.overage_charge
        if billable > overage and self.now < self.model.period.end:
            self.note_levels_reached()
        self.model.records[call_id] = record
        self.remembered.add(call_id)
        return record

    @precondition(lambda self: self.model.holds)
    @rule(data=st.data(), seconds=st.integers(0, 900), tags=st.frozensets(st.sampled_from("ab")))
    def settle_held_call(self, data: st.DataObject, seconds: int, tags: frozenset[str]) -> None:
        call_id = data.draw(st.sampled_from(sorted(self.model.holds)))
        self.settle(call_id, seconds, tags)

    @rule(seconds=st.integers(0, 900))
    def settle_call_detail_record(self, seconds: int) -> None:
        self.settle(self.new_id("cdr"), seconds, frozenset())

    @precondition(lambda self: self.model.available(self.now))
    @rule()
    def use_up_what_is_left(self) -> None:
        """A call as long as every free second: the period is left empty (or in overage)."""
        self.settle(self.new_id("cdr"), self.model.available(self.now), frozenset())

    @precondition(lambda self: self.model.hold_expired - set(self.model.records))
    @rule(data=st.data(), seconds=st.integers(0, 900))
    def settle_after_the_hold_expired(self, data: st.DataObject, seconds: int) -> None:
        pending = self.model.hold_expired - set(self.model.records)
        self.settle(data.draw(st.sampled_from(sorted(pending))), seconds, frozenset())

    @precondition(lambda self: self.model.records)
    @rule(data=st.data(), pass_previous=st.booleans())
    def replay_settlement(self, data: st.DataObject, pass_previous: bool) -> None:
        call_id = data.draw(st.sampled_from(sorted(self.model.records)))
        record = self.model.records[call_id]
        # The service passes the stored record; a loaded ledger also remembers its own.
        previous = record if pass_previous or call_id not in self.remembered else None
        before = self.ledger.to_state()
        again = self.ledger.settle(
            call_id, record.duration, self.now, tags=record.tags, previous=previous
        )
        assert again == record
        assert self.ledger.to_state() == before
        self.unchanged_after(
            IdempotencyConflict,
            lambda: self.ledger.settle(
                call_id,
                record.duration + timedelta(seconds=1),
                self.now,
                tags=record.tags,
                previous=previous,
            ),
        )

    @precondition(lambda self: self.model.holds)
    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        call_id = data.draw(st.sampled_from(sorted(self.model.holds)))
        hold = self.model.holds.pop(call_id)
        self.model.log.extend((g, "unhold", s) for g, s in hold.debits)
        self.model.released.add(call_id)
        self.carry_given_back()
        self.ledger.release(call_id, self.now)
        self.unchanged_after(
            InvalidTransition,
            lambda: self.ledger.settle(call_id, timedelta(seconds=1), self.now),
        )

    @rule()
    def release_an_unknown_call(self) -> None:
        self.unchanged_after(NotFound, lambda: self.ledger.release("nobody", self.now))

    @rule()
    def expire_holds(self) -> None:
        due = sorted(
            (h.expires_at, c) for c, h in self.model.holds.items() if h.expires_at <= self.now
        )
        for _, call_id in due:
            hold = self.model.holds.pop(call_id)
            self.model.log.extend((g, "unhold", s) for g, s in hold.debits)
            self.model.hold_expired.add(call_id)
        if due:
            self.carry_given_back()
        assert self.ledger.expire_holds(self.now) == [c for _, c in due]

    # --- a late renewal -----------------------------------------------------------------------

    @rule(hours=st.integers(0, 96), seconds=st.integers(0, 900), paid=st.booleans())
    def settle_late(self, hours: int, seconds: int, paid: bool) -> None:
        """The renewal is late: time passes the period's end, and calls still settle in it."""
        latest = period(self.k + 1).end - timedelta(hours=1)
        self.now = min(max(self.now, period(self.k).end) + timedelta(hours=hours), latest)
        record = self.settle(self.new_id("late"), seconds, frozenset())
        if paid and record.overage_charge is not None:  # the wallet paid it (tax aside)
            self.ledger.note_overage_paid(record, record.overage_charge)
            self.model.late_paid += record.overage_charge

    @precondition(lambda self: self.now >= period(self.k).end)
    @rule(
        rollover=st.one_of(st.none(), st.integers(0, 40)),
        plan_minutes=st.integers(0, 30),
    )
    def late_paid_renewal(self, rollover: int | None, plan_minutes: int) -> None:
        """The late renewal is paid: the next period opens with its plan, which covers."""
        self.next_period(rollover, plan_minutes)
        self.cover_late_usage()
        assert self.ledger.cover_late_usage(self.now) is None

    @rule()
    def cover_late_usage(self) -> None:
        """Also asked again, after an unpaid opening, or a period later (forgotten by then)."""
        late = self.model.carried
        need = late
        for g in self.model.in_order():
            left = self.model.remaining(g.grant_id)
            if g.source is GrantSource.PLAN and need and left and self.model.usable(g, self.now):
                amount = min(need, left)
                self.model.log.append((g.grant_id, "cover", amount))
                need -= amount
        self.model.carried = 0
        covered = self.ledger.cover_late_usage(self.now)
        if not late:
            assert covered is None
            return
        assert isinstance(covered, LateUsageCovered)
        assert (covered.seconds, covered.late_seconds) == (late - need, late)
        assert sum_money(covered.arrears_dropped, "INR") == Money.zero("INR")  # none in arrears
        kept = sum_money(covered.charges_kept, "INR")
        assert sum_money(covered.charges_covered, "INR") + kept == self.model.carried_charges
        if not need:
            assert kept == Money.zero("INR")
        assert sum_money(covered.paid, "INR") == self.model.carried_paid

    # --- reloads ------------------------------------------------------------------------------

    @rule()
    def reload(self) -> None:
        state = self.ledger.to_state()
        self.ledger = MinuteLedger.from_state(json.loads(json.dumps(state)))
        self.remembered = set()
        assert self.ledger.to_state() == state

    @rule()
    def reload_as_a_copy(self) -> None:
        # What a store does for the next unit of work of an account it committed: carry on
        # with a copy of the committed ledger. The original must stay as it was.
        state = self.ledger.to_state()
        self.left_behind = [(self.ledger, state)]
        self.ledger = self.ledger.copy()
        self.remembered = set()
        assert self.ledger.to_state() == state

    # --- invariants ---------------------------------------------------------------------------

    @invariant()
    def live_calls_keep_their_own_money_and_never_more_than_the_wallet(self) -> None:
        if not hasattr(self, "ledger"):
            return
        kept = [self.kept[c] for c in self.model.holds if c in self.kept]
        expected = sum_money(kept, "INR") if kept else None
        assert self.ledger.earmarked() == expected
        assert expected is None or expected <= WALLET

    @invariant()
    def a_ledger_copied_from_is_left_as_it_was(self) -> None:
        for original, state in self.left_behind:
            assert original.to_state() == state

    @invariant()
    def events_are_unique(self) -> None:
        if not hasattr(self, "ledger"):
            return
        for event in self.ledger.pull_events():
            if isinstance(event, CallSettled):
                assert event.record.call_id not in self.settled_events, "settled twice"
                self.settled_events.append(event.record.call_id)
            if isinstance(event, MinutesLow | MinutesExhausted):
                key = (self.k, event.level)
                assert key not in self.thresholds_fired, "threshold fired twice in a period"
                self.thresholds_fired.append(key)
            if isinstance(event, MinutesExhausted):  # only once nothing is left
                assert (event.level, event.remaining_seconds) == (100, 0)
                assert event.used_percent <= Decimal(100)
            elif isinstance(event, MinutesLow):
                assert event.level < 100
        # Every level the period's used percentage has reached has fired (used only grows
        # with settlements, and the total never shrinks within a period); 100 once every
        # second is used, not when the percentage rounds to 100, and once a settlement left
        # nothing free or held, though some expired and the percentage never reads 100.
        total, _, used, _, _ = self.model.snapshot(self.now)
        percent = hundredths(used * 100, total)
        for level in self.model.policy.thresholds:
            if level == 100:
                reached = used == total or self.k in self.emptied
            else:
                reached = percent >= level
            if total and reached:
                assert (self.k, level) in self.thresholds_fired, f"{level}% did not fire"
        for key in self.reached:  # reached by what is gone, used or expired
            assert key in self.thresholds_fired, f"{key[1]}% of period {key[0]} did not fire"
        if total and used < total:
            assert self.ledger.snapshot(self.now).used_percent < 100

    @invariant()
    def grants_match_the_model(self) -> None:
        if not hasattr(self, "ledger"):
            return
        kept = {g.grant_id: g for g in self.ledger.grants()}
        for grant_id, terms in self.model.grants.items():
            left = self.model.remaining(grant_id)
            held = self.model.held(grant_id)
            assert 0 <= left <= terms.granted
            grant = kept.get(grant_id)
            if grant is None:  # pruned at a period start: nothing left in it
                assert (left, held) == (0, 0)
                continue
            assert 0 <= grant.remaining <= grant.granted
            assert grant.granted == grant.remaining + grant.held + grant.consumed + grant.expired
            assert (grant.remaining, grant.held) == (left, held)
            assert grant.consumed == self.model.consumed(grant_id)
        assert set(kept) <= set(self.model.grants)

    @invariant()
    def totals_add_up(self) -> None:
        if not hasattr(self, "ledger"):
            return
        totals = self.ledger.totals()
        assert totals.granted == totals.remaining + totals.held + totals.consumed + totals.expired
        assert totals.granted == sum(g.granted for g in self.model.grants.values())
        assert totals.held == sum(s for h in self.model.holds.values() for _, s in h.debits)
        consumed = sum(s for _, k, s in self.model.log if k == "consume")
        covered = sum(s for _, k, s in self.model.log if k == "cover")
        assert (totals.consumed, totals.covered) == (consumed + covered, covered)
        assert totals.overage == sum(r.overage_seconds for r in self.model.records.values())

    @invariant()
    def late_usage_matches_the_model(self) -> None:
        if not hasattr(self, "ledger"):
            return
        assert self.ledger.late_seconds == self.model.late
        kept = {g.grant_id for g in self.ledger.grants()}
        covered = {g: self.model.count(g, "cover") for g in kept}
        assert self.ledger.covered_seconds() == {g: s for g, s in covered.items() if s}

    @invariant()
    def every_settled_call_adds_up(self) -> None:
        if not hasattr(self, "ledger"):
            return
        for record in self.model.records.values():
            assert record.billable_seconds == record.debited_seconds + record.overage_seconds
            assert all(d.seconds > 0 for d in record.debits)

    @invariant()
    def snapshot_matches_the_model(self) -> None:
        if not hasattr(self, "ledger"):
            return
        snapshot = self.ledger.snapshot(self.now)
        assert (
            snapshot.total_seconds,
            snapshot.remaining_seconds,
            snapshot.used_seconds,
            snapshot.held_seconds,
            snapshot.expired_seconds,
        ) == self.model.snapshot(self.now)
        assert snapshot.period == self.model.period
        assert snapshot.overage_seconds == self.model.overage_in_period
        assert self.ledger.active_calls() == set(self.model.holds)
        assert self.ledger.active_count() == len(self.model.holds)
        assert self.ledger.available_seconds(self.now) == self.model.available(self.now)


LedgerMachine.TestCase.settings = settings(stateful_step_count=50, deadline=None)
TestLedgerMachine = LedgerMachine.TestCase
