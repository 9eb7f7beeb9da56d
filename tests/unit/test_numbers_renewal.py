"""Renewal as a pure decision, and the edge cases the issue names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minutebill.domain.catalog import Capability, NumberOffer
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
    HoldReason,
    NumberStatus,
    PaymentDisposition,
    ReleaseReason,
)
from minutebill.domain.numbers import NumberSubscription
from minutebill.domain.wallet import Wallet
from minutebill.errors import CurrencyMismatch, InvalidTransition, ValidationError

NUMBER = "+918012345678"
JAN_31 = datetime(2025, 1, 31, 10, tzinfo=UTC)
FEB_28 = datetime(2025, 2, 28, 10, tzinfo=UTC)
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
FEE = Money("500.00", "INR")


def inr(amount: str | int) -> Money:
    return Money(amount, "INR")


def offer(fee: str = "500.00") -> NumberOffer:
    return NumberOffer(
        code="in-local",
        country="IN",
        kind="local",
        capabilities=frozenset({Capability.VOICE}),
        monthly_fee=inr(fee),
        upfront_fee=inr("100.00"),
    )


def number(*, fee: str = "500.00", auto_pay: bool = True, **policy: object) -> NumberSubscription:
    subscription = NumberSubscription.activate(
        NUMBER,
        "acct-1",
        offer(fee),
        JAN_31,
        auto_pay=auto_pay,
        policy=NumberPolicy(**policy),  # type: ignore[arg-type]
    )
    subscription.pull_events()
    return subscription


def status(subscription: NumberSubscription) -> NumberStatus:
    return subscription.status


# --- before the due date ---------------------------------------------------------------------


def test_nothing_is_due_before_the_renewal() -> None:
    decision = renew(number(), inr(0), JAN_31 + DAY, has_mandate=False)
    assert decision == NothingDue(next_check_at=FEB_28)


def test_a_mandate_renewal_schedules_its_notice_one_lead_before_the_due_date() -> None:
    subscription = number()
    early = renew(subscription, inr(0), JAN_31 + DAY, has_mandate=True)
    assert early == NothingDue(next_check_at=FEB_28 - DAY)
    decision = renew(subscription, inr(0), FEB_28 - DAY, has_mandate=True)
    assert isinstance(decision, SendPreDebitNotice)
    assert (decision.period_index, decision.amount, decision.debit_at) == (1, FEE, FEB_28)


def test_a_wallet_that_covers_the_fee_needs_no_notice() -> None:
    decision = renew(number(), inr(600), FEB_28 - HOUR, has_mandate=True)
    assert decision == NothingDue(next_check_at=FEB_28)


def test_method_first_sends_the_notice_even_when_the_wallet_covers() -> None:
    subscription = number(payment_order=PaymentOrder.METHOD_FIRST)
    decision = renew(subscription, inr(600), FEB_28 - HOUR, has_mandate=True)
    assert isinstance(decision, SendPreDebitNotice)


def test_no_notice_when_the_gateway_sends_it() -> None:
    subscription = number(gateway_sends_notice=True)
    assert renew(subscription, inr(0), FEB_28 - HOUR, has_mandate=True) == NothingDue(
        next_check_at=FEB_28
    )
    decision = renew(subscription, inr(0), FEB_28, has_mandate=True)
    assert isinstance(decision, ChargeMandate)
    assert decision.on_session is False


# --- on the due date -------------------------------------------------------------------------


def test_wallet_first_pays_from_the_wallet_with_the_period_key() -> None:
    subscription = number()
    decision = renew(subscription, inr(500), FEB_28, has_mandate=True)
    assert isinstance(decision, DebitWallet)
    assert decision.period_index == 1
    assert decision.period.start == FEB_28
    assert decision.amount == FEE
    assert decision.idempotency_key == "number:+918012345678:20250131T100000Z:1"


def test_the_mandate_is_charged_once_the_notice_has_run() -> None:
    subscription = number()
    subscription.record_pre_debit_notice(1, FEB_28 - 2 * DAY)
    decision = renew(subscription, inr(0), FEB_28, has_mandate=True)
    assert isinstance(decision, ChargeMandate)
    assert decision.idempotency_key == subscription.renewal_key(1)


def test_method_first_charges_the_mandate_before_the_wallet() -> None:
    subscription = number(payment_order=PaymentOrder.METHOD_FIRST)
    subscription.record_pre_debit_notice(1, FEB_28 - 2 * DAY)
    assert isinstance(renew(subscription, inr(900), FEB_28, has_mandate=True), ChargeMandate)
    assert isinstance(renew(subscription, inr(900), FEB_28, has_mandate=False), DebitWallet)


def test_a_late_notice_postpones_the_debit_and_keeps_the_number_active() -> None:
    subscription = number()
    decision = renew(subscription, inr(0), FEB_28 + HOUR, has_mandate=True)
    assert isinstance(decision, SendPreDebitNotice)
    assert decision.debit_at == FEB_28 + HOUR + DAY
    subscription.record_pre_debit_notice(1, FEB_28 + HOUR)
    waiting = renew(subscription, inr(0), FEB_28 + 2 * HOUR, has_mandate=True)
    assert waiting == NothingDue(next_check_at=FEB_28 + HOUR + DAY)
    assert subscription.status is NumberStatus.ACTIVE


def test_auto_pay_off_holds_the_number_when_the_renewal_falls_due() -> None:
    subscription = number(auto_pay=False)
    assert renew(subscription, inr(10_000), FEB_28, has_mandate=True) == PutOnHold(
        reason=HoldReason.AUTO_PAY_OFF, period_index=1
    )


def test_no_credit_and_no_mandate_holds_for_insufficient_credit() -> None:
    assert renew(number(), inr(499), FEB_28, has_mandate=False) == PutOnHold(
        reason=HoldReason.INSUFFICIENT_CREDIT, period_index=1
    )


def test_a_wallet_in_another_currency_is_refused() -> None:
    with pytest.raises(CurrencyMismatch):
        renew(number(), Money(500, "USD"), FEB_28, has_mandate=False)


@pytest.mark.parametrize("balance", ["500.00", Decimal("500.00"), 500, None])
def test_a_wallet_balance_that_is_not_money_is_refused(balance: object) -> None:
    with pytest.raises(ValidationError) as caught:
        renew(number(), balance, FEB_28, has_mandate=False)  # type: ignore[arg-type]

    assert (caught.value.field, caught.value.value) == ("wallet_balance", balance)


def test_a_time_before_the_anchor_is_refused() -> None:
    with pytest.raises(ValidationError):
        renew(number(), inr(0), JAN_31 - HOUR, has_mandate=False)


def test_a_released_number_has_nothing_due_ever() -> None:
    subscription = number()
    subscription.release(JAN_31 + DAY)
    for at in (FEB_28, FEB_28 + 100 * DAY):
        assert renew(subscription, inr(10**6), at, has_mandate=True) == NothingDue(
            next_check_at=None
        )


def test_renewal_is_idempotent_per_period() -> None:
    subscription = number()
    decision = renew(subscription, inr(500), FEB_28, has_mandate=False)
    assert decision == renew(subscription, inr(500), FEB_28 + HOUR, has_mandate=False)
    assert isinstance(decision, DebitWallet)
    wallet = Wallet("acct-1", "INR")
    wallet.credit(inr(1000), "top-up", JAN_31)
    for _ in range(2):  # the service runs the same due work twice
        wallet.debit(decision.amount, decision.idempotency_key, FEB_28)
        subscription.record_renewal_paid(decision.period_index, FEB_28)
    assert wallet.balance == inr(500)
    assert subscription.paid_through == datetime(2025, 3, 31, 10, tzinfo=UTC)
    assert renew(subscription, wallet.balance, FEB_28 + HOUR, has_mandate=False) == NothingDue(
        next_check_at=subscription.paid_through
    )


# --- on hold ---------------------------------------------------------------------------------


def on_hold(**kw: object) -> NumberSubscription:
    subscription = number(**kw)  # type: ignore[arg-type]
    subscription.put_on_hold(HoldReason.INSUFFICIENT_CREDIT, FEB_28)
    return subscription


def test_a_held_number_waits_for_money_until_its_grace_ends() -> None:
    subscription = on_hold()
    decision = renew(subscription, inr(0), FEB_28 + DAY, has_mandate=True)
    assert decision == NothingDue(next_check_at=FEB_28 + 7 * DAY)


def test_a_held_number_is_released_when_its_grace_ends() -> None:
    subscription = on_hold()
    decision = renew(subscription, inr(0), FEB_28 + 7 * DAY, has_mandate=True)
    assert decision == ReleaseNumber(reason=ReleaseReason.GRACE_ELAPSED)
    subscription.release(FEB_28 + 7 * DAY, reason=decision.reason)
    assert subscription.status is NumberStatus.RELEASED


def test_the_mandate_is_not_retried_on_hold_unless_the_customer_asks() -> None:
    subscription = on_hold()
    assert isinstance(renew(subscription, inr(0), FEB_28 + DAY, has_mandate=True), NothingDue)
    decision = renew(subscription, inr(0), FEB_28 + DAY, has_mandate=True, customer_present=True)
    assert isinstance(decision, ChargeMandate)
    assert decision.on_session is True


def test_turning_auto_pay_on_while_held_charges_at_once() -> None:
    subscription = number(auto_pay=False)
    subscription.put_on_hold(HoldReason.AUTO_PAY_OFF, FEB_28)
    at = FEB_28 + 2 * DAY
    assert subscription.set_auto_pay(True, at)
    decision = renew(subscription, inr(0), at, has_mandate=True, customer_present=True)
    assert isinstance(decision, ChargeMandate)
    subscription.record_renewal_paid(decision.period_index, at)
    assert subscription.status is NumberStatus.ACTIVE


def test_an_immediate_charge_with_nothing_to_charge_updates_the_hold_reason() -> None:
    subscription = number(auto_pay=False)
    subscription.put_on_hold(HoldReason.AUTO_PAY_OFF, FEB_28)
    subscription.set_auto_pay(True, FEB_28 + DAY)
    decision = renew(subscription, inr(0), FEB_28 + DAY, has_mandate=False, customer_present=True)
    assert decision == PutOnHold(reason=HoldReason.INSUFFICIENT_CREDIT, period_index=1)


def test_a_frozen_hold_charges_the_current_period() -> None:
    subscription = on_hold(grace_period=timedelta(days=60), held_fee=HeldFee.FREEZE)
    at = datetime(2025, 4, 5, tzinfo=UTC)
    decision = renew(subscription, inr(500), at, has_mandate=False)
    assert isinstance(decision, DebitWallet)
    assert decision.period_index == 2
    assert decision.period.start == datetime(2025, 3, 31, 10, tzinfo=UTC)


# --- the edge cases the issue names ----------------------------------------------------------


@pytest.mark.parametrize("refund", [inr(-1), inr("0.001"), Money(590, "USD"), 590])
def test_a_release_refuses_a_bad_refund_per_period_and_changes_nothing(refund: object) -> None:
    subscription = number()
    before = subscription.to_state()
    with pytest.raises(ValidationError, match="refund_per_period"):
        subscription.release(FEB_28, refund_per_period=refund)  # type: ignore[arg-type]
    assert subscription.to_state() == before
    assert subscription.pull_events() == []


def test_renewal_due_at_the_same_instant_as_a_release() -> None:
    # Release first: the renewal due at that instant is never charged.
    first = number()
    first.release(FEB_28)
    assert renew(first, inr(500), FEB_28, has_mandate=True) == NothingDue(next_check_at=None)
    assert first.payment_disposition(1, FEB_28) is PaymentDisposition.REFUND_OR_CREDIT
    # Renewal first: the period starting at the release instant was never used and is given back.
    second = number()
    decision = renew(second, inr(500), FEB_28, has_mandate=False)
    assert isinstance(decision, DebitWallet)
    second.record_renewal_paid(decision.period_index, FEB_28)
    released = second.release(FEB_28)
    assert released.unused_periods == (1,)
    assert released.refund_due == FEE
    # Charged with its tax, the period gives back what it was charged.
    third = number()
    third.record_renewal_paid(1, FEB_28)
    assert third.release(FEB_28, refund_per_period=inr(590)).refund_due == inr(590)
    # On hold, the end of the grace period wins over a payment at the same instant.
    held = on_hold()
    assert held.hold is not None
    end = held.hold.release_after
    assert renew(held, inr(10_000), end, has_mandate=True) == ReleaseNumber()
    assert isinstance(
        renew(held, inr(10_000), end - timedelta(seconds=1), has_mandate=True), DebitWallet
    )


def test_a_top_up_arriving_during_the_grace_period_reactivates() -> None:
    wallet = Wallet("acct-1", "INR")
    subscription = number()
    decision = renew(subscription, wallet.balance, FEB_28, has_mandate=False)
    assert decision == PutOnHold(reason=HoldReason.INSUFFICIENT_CREDIT, period_index=1)
    subscription.put_on_hold(decision.reason, FEB_28)
    top_up_at = FEB_28 + 3 * DAY
    wallet.credit(inr(500), "payment:pay_9", top_up_at, reference="pay_9")
    retry = renew(subscription, wallet.balance, top_up_at, has_mandate=False)
    assert isinstance(retry, DebitWallet)
    wallet.debit(retry.amount, retry.idempotency_key, top_up_at, reason="number renewal")
    subscription.record_renewal_paid(retry.period_index, top_up_at)
    assert subscription.status is NumberStatus.ACTIVE
    assert subscription.hold is None
    assert subscription.paid_through == datetime(2025, 3, 31, 10, tzinfo=UTC)  # anchor kept
    assert wallet.balance == inr(0)


def test_a_mandate_debit_above_the_limit_holds_with_customer_action_required() -> None:
    subscription = number(fee="15000.01")
    # No notice is scheduled for a debit that cannot happen without the customer...
    assert renew(subscription, inr(0), FEB_28 - HOUR, has_mandate=True) == NothingDue(
        next_check_at=FEB_28
    )
    # ...and on the due date the number is held until the customer acts.
    decision = renew(subscription, inr(0), FEB_28, has_mandate=True)
    assert decision == PutOnHold(reason=HoldReason.CUSTOMER_ACTION_REQUIRED, period_index=1)
    hold = subscription.put_on_hold(decision.reason, FEB_28)
    assert hold.reason is HoldReason.CUSTOMER_ACTION_REQUIRED
    # The customer, present, pays on-session; the limit does not apply to them.
    on_session = renew(subscription, inr(0), FEB_28 + DAY, has_mandate=True, customer_present=True)
    assert isinstance(on_session, ChargeMandate)
    assert on_session.on_session is True
    # At the limit exactly no authentication is needed.
    at_limit = number(fee="15000.00")
    at_limit.record_pre_debit_notice(1, FEB_28 - DAY)
    assert isinstance(renew(at_limit, inr(0), FEB_28, has_mandate=True), ChargeMandate)


# --- the amount a mandate debit takes (the fee with its tax) ---------------------------------

GROSS = inr("590.00")  # the fee with 18 % GST


def test_the_notice_and_the_charge_carry_the_debit_amount() -> None:
    subscription = number()
    notice = renew(subscription, inr(0), FEB_28 - DAY, has_mandate=True, debit_amount=GROSS)
    assert isinstance(notice, SendPreDebitNotice)
    assert notice.amount == GROSS
    subscription.record_pre_debit_notice(1, FEB_28 - DAY, amount=notice.amount)
    (event,) = subscription.pull_events()
    assert getattr(event, "amount", None) == GROSS
    charge = renew(subscription, inr(0), FEB_28, has_mandate=True, debit_amount=GROSS)
    assert isinstance(charge, ChargeMandate)
    assert charge.amount == GROSS


def test_a_wallet_renewal_is_still_decided_on_the_fee() -> None:
    decision = renew(number(), inr(500), FEB_28, has_mandate=True, debit_amount=GROSS)
    assert isinstance(decision, DebitWallet)
    assert decision.amount == FEE


def test_a_notice_of_another_amount_is_given_again_and_the_lead_starts_again() -> None:
    subscription = number()
    subscription.record_pre_debit_notice(1, FEB_28 - 2 * DAY)  # announced the net fee
    before_due = renew(subscription, inr(0), FEB_28 - HOUR, has_mandate=True, debit_amount=GROSS)
    assert isinstance(before_due, SendPreDebitNotice)
    assert (before_due.amount, before_due.debit_at) == (GROSS, FEB_28 - HOUR + DAY)
    again = subscription.record_pre_debit_notice(1, FEB_28 - HOUR, amount=GROSS)
    assert (again.amount, again.sent_at, again.debit_at) == (
        GROSS,
        FEB_28 - HOUR,
        FEB_28 + 23 * HOUR,
    )
    assert subscription.record_pre_debit_notice(1, FEB_28, amount=GROSS) == again
    waiting = renew(subscription, inr(0), FEB_28, has_mandate=True, debit_amount=GROSS)
    assert waiting == NothingDue(next_check_at=FEB_28 + 23 * HOUR)


def test_the_mandate_limit_applies_to_the_debit_amount() -> None:
    subscription = number(fee="13000.00")  # 15,340.00 with GST: above the limit
    taxed = inr("15340.00")
    assert renew(subscription, inr(0), FEB_28 - HOUR, has_mandate=True, debit_amount=taxed) == (
        NothingDue(next_check_at=FEB_28)
    )
    decision = renew(subscription, inr(0), FEB_28, has_mandate=True, debit_amount=taxed)
    assert decision == PutOnHold(reason=HoldReason.CUSTOMER_ACTION_REQUIRED, period_index=1)


@pytest.mark.parametrize(
    "amount", [Money("590.00", "USD"), inr("0"), inr("590.001"), Decimal("590.00")]
)
def test_a_bad_debit_amount_is_refused_and_a_bad_notice_amount_changes_nothing(
    amount: object,
) -> None:
    subscription = number()
    with pytest.raises((ValidationError, CurrencyMismatch)):
        renew(subscription, inr(0), FEB_28, has_mandate=True, debit_amount=amount)  # type: ignore[arg-type]
    before = subscription.to_state()
    with pytest.raises(ValidationError):
        subscription.record_pre_debit_notice(1, FEB_28 - DAY, amount=amount)  # type: ignore[arg-type]
    assert subscription.to_state() == before
    assert subscription.pull_events() == []


def test_a_wallet_that_covers_pays_even_above_the_mandate_limit() -> None:
    subscription = number(fee="20000.00")
    assert isinstance(renew(subscription, inr(20_000), FEB_28, has_mandate=True), DebitWallet)


def test_toggling_auto_pay_on_a_released_number_fails_and_changes_nothing() -> None:
    subscription = number(auto_pay=False)
    subscription.release(FEB_28 - DAY)
    subscription.pull_events()
    before = subscription.to_state()
    for on in (True, False):
        with pytest.raises(InvalidTransition) as caught:
            subscription.set_auto_pay(on, FEB_28)
        assert caught.value.state == "released"
        assert subscription.to_state() == before
        assert subscription.pull_events() == []


# --- the pre-debit notice lead, as a property ------------------------------------------------


@given(
    wakes=st.lists(
        st.tuples(st.booleans(), st.integers(-3 * 3600, 40 * 86_400)), min_size=1, max_size=30
    ),
    lead_hours=st.integers(1, 72),
    wallet_units=st.integers(0, 100_000),
    method_first=st.booleans(),
)
def test_the_notice_is_never_less_than_the_lead_before_the_debit(
    wakes: list[tuple[bool, int]], lead_hours: int, wallet_units: int, method_first: bool
) -> None:
    """However the due work is scheduled (early, on time, late), an off-session mandate debit
    comes a full lead after its notice, which named the same period and amount."""
    lead = timedelta(hours=lead_hours)
    order = PaymentOrder.METHOD_FIRST if method_first else PaymentOrder.WALLET_FIRST
    subscription = number(pre_debit_notice_lead=lead, payment_order=order)
    balance = Money.from_minor_units(wallet_units, "INR")
    at = JAN_31
    next_check: datetime | None = None
    for relative_to_next_check, seconds in wakes:
        base = next_check if relative_to_next_check and next_check is not None else at
        at = max(at, base + timedelta(seconds=seconds))
        decision: RenewalDecision = renew(subscription, balance, at, has_mandate=True)
        next_check = None
        if isinstance(decision, SendPreDebitNotice):
            notice = subscription.record_pre_debit_notice(decision.period_index, at)
            assert notice.debit_at == decision.debit_at
            assert notice.debit_at - notice.sent_at >= lead
            assert notice.debit_at >= subscription.paid_through
        elif isinstance(decision, ChargeMandate):
            notice_given = subscription.notice
            assert notice_given is not None
            assert notice_given.period_index == decision.period_index
            assert notice_given.amount == decision.amount
            assert at - notice_given.sent_at >= lead
            assert at >= subscription.paid_through
            subscription.record_renewal_paid(decision.period_index, at)
        elif isinstance(decision, DebitWallet):
            subscription.record_renewal_paid(decision.period_index, at)
        else:
            assert isinstance(decision, NothingDue)
            assert decision.next_check_at is not None
            assert decision.next_check_at > at
            next_check = decision.next_check_at
    assert status(subscription) is NumberStatus.ACTIVE


def test_a_wallet_decision_built_in_line_equals_the_one_its_class_builds() -> None:
    subscription = number()
    decision = renew(subscription, inr(500), FEB_28, has_mandate=False)
    expected = DebitWallet(
        period_index=1,
        period=subscription.period(1),
        amount=FEE,
        idempotency_key="number:+918012345678:20250131T100000Z:1",
    )
    assert decision == expected
    assert hash(decision) == hash(expected)
