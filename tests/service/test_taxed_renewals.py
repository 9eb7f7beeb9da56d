"""Renewals paid from the wallet carry the checkout's tax: the wallet is untaxed stored value."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from minutebill import Billing, MemoryStore, Money, TaxPolicy, Upi
from minutebill.testing.fakes import FakePaymentGateway, FixedClock
from minutebill.testing.stateful import reference_catalog

START = datetime(2026, 1, 10, 4, 30, tzinfo=UTC)
UPI = Upi("asha@okaxis")
GST = TaxPolicy.india_gst("0.18", supplier_state="KA", customer_state="KA")


def billing_with(tax: TaxPolicy, clock: FixedClock) -> Billing:
    gateway = FakePaymentGateway(secret=b"secret", clock=clock)
    return Billing(MemoryStore().unit_of_work, gateway, reference_catalog(), clock, tax=tax)


def test_a_plan_and_a_number_renewed_from_the_wallet_are_debited_with_gst() -> None:
    clock = FixedClock(START)
    billing = billing_with(GST, clock)
    billing.subscribe("acct", "starter", timezone="Asia/Kolkata")
    billing.top_up("acct", Money("3000.00", "INR"), UPI, idempotency_key="t")
    billing.acquire_number("acct", "in-local", "+918040000001", UPI, idempotency_key="n")
    before = billing.overview("acct").wallet_balance
    clock.set(billing.numbers("acct")[0].paid_through)
    report = billing.run_due()
    assert (report["plans_renewed"], report["numbers_renewed"]) == (1, 1)
    plan_and_number = Money("1999.00", "INR") + Money("500.00", "INR")
    assert before - billing.overview("acct").wallet_balance == plan_and_number * Decimal("1.18")


def test_releasing_a_number_gives_back_what_its_unused_period_cost_with_the_tax() -> None:
    clock = FixedClock(START)
    billing = billing_with(GST, clock)
    billing.subscribe("acct", "enterprise", timezone="Asia/Kolkata")
    billing.acquire_number("acct", "in-local", "+918040000001", UPI, idempotency_key="n")
    billing.top_up("acct", Money("590.00", "INR"), UPI, idempotency_key="t")
    clock.set(billing.numbers("acct")[0].paid_through)
    assert billing.run_due()["numbers_renewed"] == 1
    assert billing.overview("acct").wallet_balance == Money(0, "INR")
    billing.release_number("acct", "+918040000001")  # at once: the paid period never started
    assert billing.overview("acct").wallet_balance == Money("590.00", "INR")


def test_a_wallet_that_covers_the_net_fee_but_not_the_tax_holds_the_number() -> None:
    clock = FixedClock(START)
    billing = billing_with(GST, clock)
    billing.subscribe("acct", "starter", timezone="Asia/Kolkata")
    billing.acquire_number("acct", "in-local", "+918040000001", UPI, idempotency_key="n")
    billing.top_up("acct", Money("550.00", "INR"), UPI, idempotency_key="t")
    clock.set(billing.numbers("acct")[0].paid_through + timedelta(minutes=1))
    report = billing.run_due()
    (number,) = billing.numbers("acct")
    assert number.status == "on_hold"
    assert report["numbers_renewed"] == 0
    assert report["plans_past_due"] == 1  # ₹1,999 + GST is more than the wallet holds too
    assert billing.overview("acct").wallet_balance == Money("550.00", "INR")


def test_without_a_tax_policy_the_net_fee_is_debited() -> None:
    clock = FixedClock(START)
    billing = billing_with(TaxPolicy.none(), clock)
    billing.subscribe("acct", "starter", timezone="Asia/Kolkata")
    billing.top_up("acct", Money("3000.00", "INR"), UPI, idempotency_key="t")
    billing.acquire_number("acct", "in-local", "+918040000001", UPI, idempotency_key="n")
    before = billing.overview("acct").wallet_balance
    clock.set(billing.numbers("acct")[0].paid_through)
    report = billing.run_due()
    assert (report["plans_renewed"], report["numbers_renewed"]) == (1, 1)
    assert before - billing.overview("acct").wallet_balance == Money("2499.00", "INR")
