"""The checkout view: Amount, Up Front Fees, tax lines and Total, from real purchases."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from minutebill import (
    Billing,
    BundleLine,
    Card,
    CardFunding,
    Catalog,
    MemoryStore,
    Money,
    Order,
    TaxPolicy,
    TopUpLine,
    Upi,
    ValidationError,
)
from minutebill.testing.fakes import FakePaymentGateway, FixedClock, Outcome
from minutebill.views import PAYMENT_MODES, CheckoutView

CATALOG = Path(__file__).resolve().parents[2] / "examples" / "catalog.toml"
GST = TaxPolicy.india_gst("0.18", supplier_state="KA", customer_state="KA")
NOW = datetime(2024, 5, 1, 4, 30, tzinfo=UTC)


@pytest.fixture
def shop() -> tuple[Billing, FakePaymentGateway]:
    clock = FixedClock(NOW)
    gateway = FakePaymentGateway(secret=b"whsec_test", clock=clock)
    billing = Billing(
        MemoryStore().unit_of_work, gateway, Catalog.from_file(CATALOG), clock, tax=GST
    )
    billing.subscribe("acme", "pro", timezone="Asia/Kolkata")
    return billing, gateway


def test_a_number_checkout_shows_the_full_breakdown(
    shop: tuple[Billing, FakePaymentGateway],
) -> None:
    billing, _ = shop
    result = billing.acquire_number(
        "acme",
        "in-local",
        "+918040001234",
        Card("visa", "4242", CardFunding.DEBIT),
        idempotency_key="n-1",
    )
    view = CheckoutView.build(result, timezone="Asia/Kolkata")
    text = view.format("en_IN")
    assert text["rows"] == [
        ("Amount", "₹500.00"),
        ("Up Front Fees", "₹1,000.00"),
        ("CGST 9%", "₹135.00"),
        ("SGST 9%", "₹135.00"),
        ("Total Amount", "₹1,770.00"),
    ]
    assert text["capabilities"] == "SMS, Voice"
    assert text["capabilities_note"] == "Includes SMS, Voice capabilities"
    assert text["payment_modes"] == ["UPI", "Credit or debit card"]
    assert text["status"] == "Paid"
    assert text["lines"] == [("Number +918040001234 (IN local)", "₹1,500.00")]
    assert text["valid_until"].startswith("1 May 2024, 10:30")  # 30 minutes, Kolkata time
    assert view.total == result.quote.total
    assert view.quote_id == result.quote.quote_id


def test_the_figures_add_up_to_the_total(shop: tuple[Billing, FakePaymentGateway]) -> None:
    billing, _ = shop
    result = billing.checkout_bundle("acme", "elite", Upi("asha@okaxis"), idempotency_key="b-1")
    view = CheckoutView.build(result)
    assert view.amount + view.upfront_fees + view.tax == view.total
    assert sum((t.amount for t in view.tax_lines), Money.zero("INR")) == view.tax
    assert view.format("en_IN")["tax_lines"][0] == {
        "name": "CGST",
        "rate": "9%",
        "amount": "₹15.21",
        "label": "CGST 9%",
    }


def test_a_payment_that_needs_the_customer_keeps_its_next_step(
    shop: tuple[Billing, FakePaymentGateway],
) -> None:
    billing, gateway = shop
    gateway.script(Outcome.REQUIRE_ACTION)
    result = billing.checkout_bundle("acme", "nexus", Upi("asha@okaxis"), idempotency_key="b-2")
    view = CheckoutView.build(result)
    assert view.status == "action_required"
    assert view.next_action_url == result.next_action_url
    assert view.next_action_url is not None
    assert view.format("en_IN")["status"] == "Action required"


def test_a_preview_is_not_paid_and_offers_both_payment_modes() -> None:
    bundle = Catalog.from_file(CATALOG).bundle("nexus")
    quote = Order([BundleLine(bundle=bundle)], "INR").quote(
        quote_id="preview", account_id="acme", at=NOW, tax=GST
    )
    view = CheckoutView.preview(quote)
    assert view.status is None
    assert view.payment_modes == PAYMENT_MODES
    assert view.format("en_IN")["status"] == ""
    assert view.format("en_IN")["capabilities_note"] == ""


def test_the_breakdown_reads_a_language_tag_and_refuses_an_unknown_locale() -> None:
    bundle = Catalog.from_file(CATALOG).bundle("nexus")
    quote = Order([BundleLine(bundle=bundle)], "INR").quote(
        quote_id="preview", account_id="acme", at=NOW, tax=GST
    )
    view = CheckoutView.preview(quote)
    assert view.format("hi-IN") == view.format("hi_IN")
    with pytest.raises(ValidationError, match="locale"):
        view.format("xx_YY")


def test_zero_tax_lines_stay_out_of_the_rows_but_not_the_record() -> None:
    quote = Order([TopUpLine(amount=Money("2000.00", "INR"))], "INR").quote(
        quote_id="top-up", account_id="acme", at=NOW, tax=GST
    )
    text = CheckoutView.preview(quote).format("en_IN")
    assert [name for name, _ in text["rows"]] == ["Amount", "Up Front Fees", "Total Amount"]
    assert [t["amount"] for t in text["tax_lines"]] == ["₹0.00", "₹0.00"]


def test_an_inclusive_tax_is_marked_included() -> None:
    bundle = Catalog.from_file(CATALOG).bundle("nexus")
    inclusive = TaxPolicy.inclusive("0.18", name="GST")
    quote = Order([BundleLine(bundle=bundle)], "INR").quote(
        quote_id="incl", account_id="acme", at=NOW, tax=inclusive
    )
    rows = CheckoutView.preview(quote).format("en_IN")["rows"]
    assert rows[2][0] == "GST 18% (included)"
    assert rows[-1] == ("Total Amount", "₹449.00")
