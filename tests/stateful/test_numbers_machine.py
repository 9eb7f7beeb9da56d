"""Numbers and the wallet under random histories, against a naive model.

The machine plays the service: time moves forward, the customer tops up, the due work runs
(`renew` decides, the machine carries the decision out with a charge that succeeds, fails,
needs the customer or stays pending), Auto-Pay is toggled, numbers are released, late payments
land, and every aggregate is saved and reloaded from its document. After every step:

- only table transitions happen; a released number is never charged again, never active again;
- no period is charged twice; paid time is exactly the periods charged (or frozen);
- the wallet never goes negative and equals credits minus debits (the model's sum);
- a hold always has a reason and a release time (its start plus the grace period);
- anchors never drift: period ends keep the anchor's day (clamped) and local time;
- an off-session mandate debit always comes a full lead after its pre-debit notice.
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

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

from minutebill.domain.catalog import Capability, NumberOffer, Plan, PlanFeatures
from minutebill.domain.money import Money
from minutebill.domain.number_policy import HeldFee, NumberPolicy, PaymentOrder
from minutebill.domain.number_renewal import (
    ChargeMandate,
    DebitWallet,
    NothingDue,
    PutOnHold,
    ReleaseNumber,
    RenewalDecision,
    SendPreDebitNotice,
    renew,
)
from minutebill.domain.number_status import (
    TRANSITIONS,
    HoldReason,
    NumberStatus,
    PaymentDisposition,
    ReleaseReason,
)
from minutebill.domain.numbers import NumberSubscription, check_number_limit
from minutebill.domain.periods import BillingInterval
from minutebill.domain.state import State
from minutebill.domain.wallet import Wallet
from minutebill.errors import InsufficientFunds, InvalidTransition, LimitExceeded, NotFound

ANCHORS = [
    datetime(2025, 1, 31, 10, tzinfo=UTC),  # Jan 31 -> Feb 28 -> Mar 31
    datetime(2024, 1, 30, 18, 45, tzinfo=UTC),  # a leap February
    datetime(2025, 8, 31, 0, 0, tzinfo=UTC),
    datetime(2025, 3, 15, 23, 59, 59, tzinfo=UTC),
]
OUTCOMES = ["succeed", "succeed", "fail", "action_required", "pending"]
LIMIT = 3


def inr(units: int) -> Money:
    return Money.from_minor_units(units, "INR")


class NumbersAndWallet(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = ANCHORS[0]
        self.wallet = Wallet("acct-1", "INR", history_limit=8)
        self.left_behind: list[tuple[Wallet, State]] = []
        self.numbers: dict[str, NumberSubscription] = {}
        self.has_mandate = False
        self.plan = Plan(
            "pro",
            "Pro",
            inr(99_900),
            BillingInterval.monthly(),
            1000,
            PlanFeatures(concurrent_calls=2, phone_numbers=LIMIT),
        )
        # the model
        self.balance = Decimal(0)
        self.top_ups: list[str] = []
        self.charged: dict[str, list[int]] = {}
        self.anchors: dict[str, datetime] = {}
        self.seen_status: dict[str, NumberStatus] = {}
        self.released: set[str] = set()
        self.last_charge: tuple[str, DebitWallet] | None = None

    # --- setup ------------------------------------------------------------------------------

    @initialize(
        anchor=st.sampled_from(ANCHORS),
        timezone=st.sampled_from(["UTC", "Asia/Kolkata", "Asia/Tokyo"]),
        grace_days=st.sampled_from([0, 7, 10, 60]),
        held_fee=st.sampled_from(HeldFee),
        order=st.sampled_from(PaymentOrder),
        gateway_sends_notice=st.booleans(),
        fee_units=st.sampled_from([50_000, 1_600_000]),  # INR 500, INR 16,000 (above limit)
        auto_pay=st.sampled_from([True, True, False]),
        has_mandate=st.sampled_from([True, True, False]),
        opening_units=st.sampled_from([0, 200_000, 5_000_000]),
    )
    def start(
        self,
        anchor: datetime,
        timezone: str,
        grace_days: int,
        held_fee: HeldFee,
        order: PaymentOrder,
        gateway_sends_notice: bool,
        fee_units: int,
        auto_pay: bool,
        has_mandate: bool,
        opening_units: int,
    ) -> None:
        self.now = anchor
        self.has_mandate = has_mandate
        if opening_units:
            self.top_up_paid(opening_units)
        self.timezone = timezone
        self.policy = NumberPolicy(
            grace_period=timedelta(days=grace_days),
            held_fee=held_fee,
            payment_order=order,
            gateway_sends_notice=gateway_sends_notice,
        )
        self.offer = NumberOffer(
            code="in-local",
            country="IN",
            kind="local",
            capabilities=frozenset({Capability.VOICE}),
            monthly_fee=inr(fee_units),
            upfront_fee=inr(10_000),
        )
        self.acquire_at_now(auto_pay)

    def acquire_at_now(self, auto_pay: bool) -> None:
        e164 = f"+9180000000{len(self.anchors):02d}"
        subscription = NumberSubscription.activate(
            e164,
            "acct-1",
            self.offer,
            self.now,
            auto_pay=auto_pay,
            policy=self.policy,
            timezone=self.timezone,
        )
        self.numbers[e164] = subscription
        self.anchors[e164] = subscription.anchor
        self.charged[e164] = [0]  # the order paid period 0
        self.seen_status[e164] = NumberStatus.ACTIVE

    def pick(self, which: int) -> tuple[str, NumberSubscription]:
        e164 = sorted(self.numbers)[which % len(self.numbers)]
        return e164, self.numbers[e164]

    # --- rules ------------------------------------------------------------------------------

    @rule(hours=st.integers(1, 24 * 40))
    def time_passes(self, hours: int) -> None:
        self.now += timedelta(hours=hours)

    @rule(units=st.sampled_from([10_000, 50_000, 200_000, 1_600_000]))
    def top_up_paid(self, units: int) -> None:
        key = f"payment:pay_{len(self.top_ups)}"
        self.wallet.credit(inr(units), key, self.now, reference=key)
        self.top_ups.append(key)
        self.balance += inr(units).amount

    @rule()
    def mandate_set_up_or_revoked(self) -> None:
        self.has_mandate = not self.has_mandate

    @rule(auto_pay=st.booleans())
    def acquire(self, auto_pay: bool) -> None:
        held = sum(1 for n in self.numbers.values() if n.status is not NumberStatus.RELEASED)
        if held == LIMIT:
            with pytest.raises(LimitExceeded) as caught:
                check_number_limit(self.numbers.values(), self.plan)
            assert (caught.value.limit, caught.value.requested) == (LIMIT, LIMIT + 1)
            return
        check_number_limit(self.numbers.values(), self.plan)
        self.acquire_at_now(auto_pay)

    @rule(which=st.integers(0, 9), outcome=st.sampled_from(OUTCOMES))
    def due_work_runs(self, which: int, outcome: str) -> None:
        e164, subscription = self.pick(which)
        before = subscription.to_state()
        decision = renew(subscription, self.wallet.balance, self.now, has_mandate=self.has_mandate)
        assert subscription.to_state() == before  # deciding changes nothing
        self.carry_out(e164, decision, outcome)

    @rule(
        which=st.integers(0, 9),
        outcome=st.sampled_from(OUTCOMES),
        late=st.sampled_from([0, 0, 1, 3600, 86_400, -1, -3600, -7200]),
    )
    def scheduler_wakes_up_when_something_is_next_due(
        self, which: int, outcome: str, late: int
    ) -> None:
        """The service's scheduler: sleep until the next check, then run the due work.

        It may wake a little early, too: nothing may be actionable before `next_check_at`.
        """
        e164, subscription = self.pick(which)
        balance, mandate = self.wallet.balance, self.has_mandate
        decision = renew(subscription, balance, self.now, has_mandate=mandate)
        if isinstance(decision, NothingDue) and decision.next_check_at is not None:
            self.now = max(self.now, decision.next_check_at + timedelta(seconds=late))
            decision = renew(subscription, balance, self.now, has_mandate=mandate)
        self.carry_out(e164, decision, outcome)

    @rule(outcome=st.sampled_from(OUTCOMES))
    def run_due_for_every_number_at_the_earliest_check(self, outcome: str) -> None:
        """``run_due(now)``: wake at the earliest next check, then renew every number in turn."""
        balance, mandate = self.wallet.balance, self.has_mandate
        checks = [
            decision.next_check_at
            for subscription in self.numbers.values()
            if isinstance(
                decision := renew(subscription, balance, self.now, has_mandate=mandate),
                NothingDue,
            )
            and decision.next_check_at is not None
        ]
        if checks and len(checks) == len(self.numbers.keys() - self.released):
            self.now = min(checks)
        for e164 in sorted(self.numbers):
            decision = renew(
                self.numbers[e164], self.wallet.balance, self.now, has_mandate=self.has_mandate
            )
            self.carry_out(e164, decision, outcome)

    @rule(which=st.integers(0, 9), outcome=st.sampled_from(OUTCOMES))
    def auto_pay_toggled(self, which: int, outcome: str) -> None:
        e164, subscription = self.pick(which)
        if subscription.status is NumberStatus.RELEASED:
            self.assert_refused(subscription, lambda: subscription.set_auto_pay(True, self.now))
            return
        was_held = subscription.status is NumberStatus.ON_HOLD
        charge_now = subscription.set_auto_pay(not subscription.auto_pay, self.now)
        assert charge_now == (was_held and subscription.auto_pay)
        if charge_now:
            decision = renew(
                subscription,
                self.wallet.balance,
                self.now,
                has_mandate=self.has_mandate,
                customer_present=True,
            )
            self.carry_out(e164, decision, outcome)

    @rule(which=st.integers(0, 9))
    def customer_releases(self, which: int) -> None:
        e164, subscription = self.pick(which)
        if subscription.status is NumberStatus.RELEASED:
            self.assert_refused(subscription, lambda: subscription.release(self.now))
            return
        event = subscription.release(self.now)
        for period in event.unused_periods:  # charged, never used: given back
            assert period in self.charged[e164]
            assert subscription.period(period).start >= self.now
        self.released.add(e164)

    @rule(which=st.integers(0, 9), index=st.integers(0, 6))
    def late_payment_lands(self, which: int, index: int) -> None:
        _, subscription = self.pick(which)
        if subscription.status is NumberStatus.RELEASED:
            assert (
                subscription.payment_disposition(index, self.now)
                is PaymentDisposition.REFUND_OR_CREDIT
            )
            self.assert_refused(
                subscription, lambda: subscription.record_renewal_paid(index, self.now)
            )
        elif index < subscription.paid_periods:
            before = subscription.to_state()
            assert subscription.record_renewal_paid(index, self.now) is PaymentDisposition.DUPLICATE
            assert subscription.to_state() == before

    @precondition(lambda self: self.last_charge is not None)
    @rule()
    def the_same_charge_is_carried_out_again(self) -> None:
        assert self.last_charge is not None
        e164, decision = self.last_charge
        if self.wallet.entry(decision.idempotency_key) is None:
            return  # out of the wallet's key window: the subscription is what deduplicates
        before = self.wallet.to_state()
        self.wallet.debit(decision.amount, decision.idempotency_key, self.now, reference=e164)
        assert self.wallet.to_state() == before  # same key, same input: the same entry
        subscription = self.numbers[e164]
        if subscription.status is not NumberStatus.RELEASED:
            state = subscription.to_state()
            assert (
                subscription.record_renewal_paid(decision.period_index, self.now)
                is PaymentDisposition.DUPLICATE
            )
            assert subscription.to_state() == state

    @precondition(lambda self: bool(self.top_ups))
    @rule(pick=st.integers(0, 20))
    def top_up_reversed(self, pick: int) -> None:
        key = self.top_ups[pick % len(self.top_ups)]
        entry = self.wallet.entry(key)
        before = self.wallet.to_state()
        try:
            self.wallet.reverse(key, f"chargeback:{key}", self.now)
        except (InsufficientFunds, InvalidTransition, NotFound):
            assert self.wallet.to_state() == before
            return
        if self.wallet.to_state() != before:  # a new reversal, not a retried one
            assert entry is not None
            self.balance -= entry.amount.amount

    @rule()
    def the_wallet_carries_on_as_a_copy(self) -> None:
        # What a store does for the next unit of work: hand over a copy of the committed
        # wallet. The original must stay as it was.
        state = self.wallet.to_state()
        self.left_behind = [(self.wallet, state)]
        self.wallet = self.wallet.copy()
        assert self.wallet.to_state() == state

    @rule()
    def everything_is_saved_and_loaded(self) -> None:
        self.wallet = Wallet.from_state(self.wallet.to_state())
        self.numbers = {
            e164: NumberSubscription.from_state(n.to_state()) for e164, n in self.numbers.items()
        }

    # --- the service ------------------------------------------------------------------------

    def carry_out(self, e164: str, decision: RenewalDecision, outcome: str) -> None:
        subscription = self.numbers[e164]
        if isinstance(decision, NothingDue):
            assert decision.next_check_at is None or decision.next_check_at > self.now
            assert (decision.next_check_at is None) == (e164 in self.released)
        elif isinstance(decision, DebitWallet):
            assert decision.idempotency_key == subscription.renewal_key(decision.period_index)
            self.wallet.debit(decision.amount, decision.idempotency_key, self.now, reference=e164)
            self.balance -= decision.amount.amount
            self.paid(e164, decision.period_index)
            self.last_charge = (e164, decision)
        elif isinstance(decision, ChargeMandate):
            assert self.has_mandate
            if not decision.on_session:
                assert subscription.status is NumberStatus.ACTIVE
                assert self.now >= subscription.paid_through
                assert not subscription.policy.needs_authentication(decision.amount)
                if subscription.policy.notice_required:
                    notice = subscription.notice
                    assert notice is not None
                    assert notice.period_index == decision.period_index
                    assert self.now - notice.sent_at >= subscription.policy.pre_debit_notice_lead
            if outcome == "succeed":
                self.paid(e164, decision.period_index)
            elif outcome == "fail":
                subscription.put_on_hold(HoldReason.PAYMENT_FAILED, self.now)
            elif outcome == "action_required":
                subscription.put_on_hold(HoldReason.CUSTOMER_ACTION_REQUIRED, self.now)
        elif isinstance(decision, SendPreDebitNotice):
            notice = subscription.record_pre_debit_notice(decision.period_index, self.now)
            assert notice.debit_at == decision.debit_at
            assert notice.debit_at - notice.sent_at >= subscription.policy.pre_debit_notice_lead
        elif isinstance(decision, PutOnHold):
            hold = subscription.put_on_hold(decision.reason, self.now)
            assert hold.reason is decision.reason
        else:
            assert isinstance(decision, ReleaseNumber)
            assert subscription.hold is not None
            assert self.now >= subscription.hold.release_after
            subscription.release(self.now, reason=ReleaseReason.GRACE_ELAPSED)
            self.released.add(e164)

    def paid(self, e164: str, period_index: int) -> None:
        """A charge for `period_index` succeeded: it must be new, for a live number."""
        assert e164 not in self.released, "a released number was charged"
        assert period_index not in self.charged[e164], f"period {period_index} charged twice"
        self.charged[e164].append(period_index)
        disposition = self.numbers[e164].record_renewal_paid(period_index, self.now)
        assert disposition is PaymentDisposition.APPLY

    def assert_refused(self, subscription: NumberSubscription, action: object) -> None:
        before = subscription.to_state()
        try:
            action()  # type: ignore[operator]
        except InvalidTransition:
            pass
        else:  # pragma: no cover - the assertion is the point
            raise AssertionError("a released number accepted an action")
        assert subscription.to_state() == before

    # --- invariants -------------------------------------------------------------------------

    @invariant()
    def a_wallet_copied_from_is_left_as_it_was(self) -> None:
        for original, state in self.left_behind:
            assert original.to_state() == state

    @invariant()
    def the_wallet_is_never_negative_and_adds_up(self) -> None:
        assert self.wallet.balance.amount >= 0
        assert self.wallet.balance == self.wallet.credited - self.wallet.debited
        assert self.wallet.balance.amount == self.balance

    @invariant()
    def only_table_transitions_happen(self) -> None:
        for e164, subscription in self.numbers.items():
            before, after = self.seen_status[e164], subscription.status
            if before is not after:
                assert (before, after) in TRANSITIONS
            if before is NumberStatus.RELEASED:
                assert after is NumberStatus.RELEASED
            assert (after is NumberStatus.RELEASED) == (e164 in self.released)
            self.seen_status[e164] = after

    @invariant()
    def holds_have_a_reason_and_a_release_time(self) -> None:
        for subscription in self.numbers.values():
            hold = subscription.hold
            assert (hold is not None) == (subscription.status is NumberStatus.ON_HOLD)
            if hold is not None:
                assert isinstance(hold.reason, HoldReason)
                assert hold.release_after == hold.since + subscription.policy.grace_period

    @invariant()
    def paid_time_is_the_periods_charged(self) -> None:
        for e164, subscription in self.numbers.items():
            charged = self.charged[e164]
            assert charged == sorted(set(charged))
            assert subscription.paid_periods == charged[-1] + 1
            if subscription.policy.held_fee is HeldFee.ACCRUE:
                assert charged == list(range(len(charged)))

    @invariant()
    def anchors_never_drift(self) -> None:
        for e164, subscription in self.numbers.items():
            assert subscription.anchor == self.anchors[e164]
            zone = ZoneInfo(subscription.timezone)
            start = subscription.anchor.astimezone(zone)
            end = subscription.paid_through.astimezone(zone)
            months = start.month - 1 + subscription.paid_periods
            year, month = start.year + months // 12, months % 12 + 1
            assert (end.year, end.month) == (year, month)
            assert end.day == min(start.day, calendar.monthrange(year, month)[1])
            assert end.timetz() == start.timetz()


NumbersAndWallet.TestCase.settings = settings(
    NumbersAndWallet.TestCase.settings, stateful_step_count=50
)
test_numbers_and_wallet = NumbersAndWallet.TestCase
