"""Renewals and upgrades paid from the wallet carry the checkout's tax.

The wallet is untaxed stored value: tax is due when it pays for a service.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from minutebill import Billing, MemoryStore, Money, TaxPolicy, Upi, ValidationError
from minutebill._unit_of_work import UnitOfWork
from minutebill.domain.number_events import NumberReleased, NumberRenewed
from minutebill.domain.proration import PlanChangeQuote
from minutebill.ports import EventPublisher
from minutebill.testing.fakes import FakePaymentGateway, FixedClock
from minutebill.testing.stateful import reference_catalog, store_contents
from tests.service.test_support import STORES, RecordingPublisher, open_store

START = datetime(2026, 1, 10, 4, 30, tzinfo=UTC)
UPI = Upi("asha@okaxis")
GST = TaxPolicy.india_gst("0.18", supplier_state="KA", customer_state="KA")


GST_INCLUDED = TaxPolicy.india_gst("0.18", supplier_state="KA", customer_state="KA", inclusive=True)
IST = ZoneInfo("Asia/Kolkata")


def billing_with(
    tax: TaxPolicy,
    clock: FixedClock,
    uow_factory: Callable[[], UnitOfWork] | None = None,
    publisher: EventPublisher | None = None,
) -> Billing:
    gateway = FakePaymentGateway(secret=b"secret", clock=clock)
    store = uow_factory or MemoryStore().unit_of_work
    return Billing(store, gateway, reference_catalog(), clock, tax=tax, publisher=publisher)


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
    publisher = RecordingPublisher()
    billing = billing_with(GST, clock, publisher=publisher)
    billing.subscribe("acct", "enterprise", timezone="Asia/Kolkata")
    billing.acquire_number("acct", "in-local", "+918040000001", UPI, idempotency_key="n")
    billing.top_up("acct", Money("590.00", "INR"), UPI, idempotency_key="t")
    clock.set(billing.numbers("acct")[0].paid_through)
    assert billing.run_due()["numbers_renewed"] == 1
    assert billing.overview("acct").wallet_balance == Money(0, "INR")
    billing.release_number("acct", "+918040000001")  # at once: the paid period never started
    assert billing.overview("acct").wallet_balance == Money("590.00", "INR")
    (released,) = [e for e in publisher.events if isinstance(e, NumberReleased)]
    assert (released.unused_periods, released.refund_due) == ((1,), Money("590.00", "INR"))
    # The renewal's event says both what the period cost and what the wallet paid for it.
    (renewed,) = [e for e in publisher.events if isinstance(e, NumberRenewed)]
    assert (renewed.amount, renewed.paid) == (Money("500.00", "INR"), Money("590.00", "INR"))


def test_overage_charged_to_the_wallet_carries_the_tax_too() -> None:
    clock = FixedClock(START)
    billing = billing_with(GST, clock)
    billing.subscribe("acct", "pro", timezone="Asia/Kolkata")  # overage: 1.50 a minute
    billing.top_up("acct", Money("100.00", "INR"), UPI, idempotency_key="t")
    billing.start_call("acct", "c1", max_seconds=600)
    record = billing.end_call("acct", "c1", timedelta(minutes=5010))  # 10 minutes over
    assert record.overage_charge == Money("15.00", "INR")  # the rated charge, net
    assert billing.overview("acct").wallet_balance == Money("100.00", "INR") - Money("17.70", "INR")


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


# --- upgrades ----------------------------------------------------------------------------------


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], UnitOfWork]]:
    with open_store(request.param, tmp_path) as uow_factory:
        yield uow_factory


def upgrade_halfway(
    store: Callable[[], UnitOfWork], tax: TaxPolicy
) -> tuple[Billing, FixedClock, PlanChangeQuote]:
    """Starter from Feb 1 (IST), ₹20,000 in the wallet, a quote for Pro on Feb 15: 14/28 left."""
    clock = FixedClock(datetime(2025, 2, 1, tzinfo=IST))
    billing = billing_with(tax, clock, store)
    billing.subscribe("acct", "starter", timezone="Asia/Kolkata")
    billing.top_up("acct", Money("20000.00", "INR"), UPI, idempotency_key="t")
    clock.set(datetime(2025, 2, 15, tzinfo=IST))
    return billing, clock, billing.quote_plan_change("acct", "pro")


def test_an_upgrade_paid_from_the_wallet_is_debited_with_gst_as_quoted(
    store: Callable[[], UnitOfWork],
) -> None:
    billing, clock, quote = upgrade_halfway(store, GST)
    assert quote.charge == Money("3000.00", "INR")  # (7,999 − 1,999) × 14/28
    assert quote.tax == Money("540.00", "INR")
    assert quote.total == Money("3540.00", "INR")
    before = billing.overview("acct").wallet_balance
    after = billing.change_plan("acct", quote).wallet_balance
    assert before - after == quote.total
    assert billing.change_plan("acct", quote).wallet_balance == after  # charged once
    # The same rule as the renewal that follows: the price with its GST.
    clock.set(datetime(2025, 3, 1, tzinfo=IST))
    billing.run_due()
    renewal = after - billing.overview("acct").wallet_balance
    assert renewal == Money("7999.00", "INR") * Decimal("1.18")


def test_an_upgrade_under_prices_that_include_gst_takes_the_charge_as_it_is(
    store: Callable[[], UnitOfWork],
) -> None:
    billing, _, quote = upgrade_halfway(store, GST_INCLUDED)
    assert (quote.charge, quote.tax) == (Money("3000.00", "INR"), Money("457.63", "INR"))
    assert quote.total == quote.charge
    before = billing.overview("acct").wallet_balance
    assert before - billing.change_plan("acct", quote).wallet_balance == Money("3000.00", "INR")


def test_a_quote_priced_without_the_tax_is_refused_and_changes_nothing(
    store: Callable[[], UnitOfWork],
) -> None:
    billing, _, quote = upgrade_halfway(store, GST)
    state = quote.to_state()
    del state["tax"], state["tax_included"]  # as stored before quotes carried their tax
    untaxed = PlanChangeQuote.from_state(state)
    before = store_contents(store, ["acct"])
    with pytest.raises(ValidationError, match="tax policy"):
        billing.change_plan("acct", untaxed)
    assert store_contents(store, ["acct"]) == before
    assert billing.overview("acct").plan_code == "starter"


def test_a_fee_asked_again_under_another_tax_policy_is_taxed_by_that_one() -> None:
    # Renewals remember the gross of the fee object they last priced; a policy replaced in
    # between (even by one with the same rate) must not be answered from that memory.
    billing = billing_with(GST, FixedClock(START))
    fee = Money("500.00", "INR")
    assert billing._gross(fee) == Money("590.00", "INR")
    assert billing._gross(fee) == Money("590.00", "INR")
    billing.tax = GST_INCLUDED
    assert billing._gross(fee) is fee
    billing.tax = TaxPolicy.india_gst("0.05", supplier_state="KA", customer_state="KA")
    assert billing._gross(fee) == Money("525.00", "INR")
    billing.tax = GST
    assert billing._gross(fee) == Money("590.00", "INR")
