"""Checkout: orders, fee breakdowns that always add up, quotes and capability confirmation."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minutebill import (
    AddOnBundle,
    BillingInterval,
    Capability,
    CurrencyMismatch,
    InvalidTransition,
    MissingCapability,
    Money,
    NumberOffer,
    ValidationError,
)
from minutebill.domain.checkout import DEFAULT_QUOTE_VALIDITY, FeeBreakdown, Order, Quote
from minutebill.domain.line_items import (
    BundleLine,
    LineItem,
    NumberLine,
    PlanAction,
    PlanLine,
    TopUpLine,
    line_from_state,
)
from minutebill.domain.money import currency_exponent
from minutebill.domain.tax import TaxLine, TaxPolicy
from minutebill.testing.payment_strategies import line_items, orders, tax_policies, tax_rates

NOW = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
VOICE_SMS = frozenset({Capability.VOICE, Capability.SMS})
LOCAL = NumberOffer(
    "in-local", "IN", "local", VOICE_SMS, Money("199.00", "INR"), Money("499.00", "INR")
)
VOICE_ONLY = NumberOffer(
    "in-tollfree",
    "IN",
    "toll-free",
    frozenset({Capability.VOICE}),
    Money("999.00", "INR"),
    Money("0.00", "INR"),
)
NEXUS = AddOnBundle("nexus", "Nexus", 300, Money("1499.00", "INR"))


def inr(text: str) -> Money:
    return Money(text, "INR")


def number(
    offer: NumberOffer = LOCAL, e164: str = "+918045678901", *, renewal: bool = False
) -> NumberLine:
    return NumberLine(offer=offer, number_e164=e164, renewal=renewal)


# --- the checkout screen ---------------------------------------------------------------------


@pytest.mark.parametrize("months", [1, 3, 12])
@pytest.mark.parametrize("renewal", [False, True])
def test_a_number_line_charges_one_whole_interval_of_its_offer(months: int, renewal: bool) -> None:
    """The line pays what the number's period costs: the monthly fee times its months."""
    offer = attrs.evolve(LOCAL, interval=BillingInterval.every_months(months))
    line = number(offer, renewal=renewal)
    assert line.amount == inr("199.00") * months
    assert line.amount == offer.period_fee
    total = Order([line], "INR").breakdown().total
    assert total == inr("199.00") * months + (inr("0.00") if renewal else inr("499.00"))


def test_a_number_and_a_bundle_show_amount_upfront_fees_and_total() -> None:
    order = Order(
        [number(), BundleLine(bundle=NEXUS)], "INR", requires={Capability.SMS, Capability.VOICE}
    )
    breakdown = order.breakdown()
    assert breakdown.amount == inr("1698.00")
    assert breakdown.upfront_fees == inr("499.00")
    assert breakdown.tax == inr("0.00")
    assert breakdown.total == inr("2197.00")
    assert order.capabilities == VOICE_SMS


def test_gst_within_a_state_adds_cgst_and_sgst_lines() -> None:
    order = Order([number()], "INR")
    gst = TaxPolicy.india_gst("0.18", supplier_state="KA", customer_state="KA")
    b = order.breakdown(gst)
    assert (b.amount, b.upfront_fees, b.tax, b.total) == (
        inr("199.00"),
        inr("499.00"),
        inr("125.64"),
        inr("823.64"),
    )
    assert [(t.name, t.amount) for t in b.tax_lines] == [
        ("CGST", inr("62.82")),
        ("SGST", inr("62.82")),
    ]


def test_inclusive_prices_keep_the_total_and_show_the_tax_inside() -> None:
    order = Order([PlanLine(plan_code="pro", description="Pro plan", amount=inr("118.00"))], "INR")
    b = order.breakdown(TaxPolicy.inclusive("0.18", "GST"))
    assert (b.amount, b.tax, b.total, b.tax_included) == (
        inr("100.00"),
        inr("18.00"),
        inr("118.00"),
        True,
    )


def test_tax_is_computed_once_on_the_sum_not_per_line() -> None:
    tiny = PlanLine(plan_code="p", description="tiny", amount=inr("0.05"))
    other = PlanLine(plan_code="q", description="tiny too", amount=inr("0.05"))
    # Per line: 0.005 -> 0.01 twice = 0.02. Once on the sum: 0.010 -> 0.01.
    assert Order([tiny, other], "INR").breakdown(TaxPolicy.exclusive("0.10")).tax == inr("0.01")


def test_wallet_top_ups_are_not_taxed_by_default() -> None:
    order = Order([TopUpLine(amount=inr("500.00")), BundleLine(bundle=NEXUS)], "INR")
    b = order.breakdown(TaxPolicy.exclusive("0.18"))
    assert b.tax == inr("269.82")  # 18 % of the bundle only
    assert b.total == inr("2268.82")


def test_a_renewal_charges_no_upfront_fee() -> None:
    b = Order([number(renewal=True)], "INR").breakdown()
    assert (b.amount, b.upfront_fees, b.total) == (inr("199.00"), inr("0.00"), inr("199.00"))


def test_an_order_without_upfront_fees_or_tax_shows_rounded_zeros() -> None:
    b = Order([BundleLine(bundle=NEXUS)], "INR").breakdown()
    assert (str(b.upfront_fees.amount), str(b.tax.amount)) == ("0.00", "0.00")
    assert b.to_state()["upfront_fees"] == {"amount": "0.00", "currency": "INR"}


def test_line_descriptions_read_like_the_checkout() -> None:
    assert BundleLine(bundle=NEXUS, quantity=2).description == "Nexus add-on, 300 min × 2"
    assert number().description == "Number +918045678901 (IN local)"
    assert TopUpLine(amount=inr("10.00")).description == "Wallet top-up"


# --- capability confirmation ---------------------------------------------------------------


def test_requiring_sms_from_a_voice_only_number_is_refused() -> None:
    with pytest.raises(MissingCapability) as raised:
        Order([number(VOICE_ONLY)], "INR", requires={Capability.SMS, Capability.VOICE})
    assert raised.value.missing == {Capability.SMS}


def test_each_number_must_include_what_is_required() -> None:
    lines = [number(), number(VOICE_ONLY, "+918000000001")]
    with pytest.raises(MissingCapability):
        Order(lines, "INR", requires={Capability.SMS})


def test_requirements_without_any_number_are_all_missing() -> None:
    with pytest.raises(MissingCapability) as raised:
        Order([BundleLine(bundle=NEXUS)], "INR", requires={Capability.VOICE})
    assert raised.value.missing == {Capability.VOICE}


# --- refusals ------------------------------------------------------------------------------


def test_an_order_needs_a_line() -> None:
    with pytest.raises(ValidationError):
        Order([], "INR")


def test_lines_in_another_currency_are_refused() -> None:
    with pytest.raises(CurrencyMismatch):
        Order([TopUpLine(amount=Money("5.00", "USD"))], "INR")


def test_the_same_number_twice_is_refused() -> None:
    with pytest.raises(ValidationError):
        Order([number(), number()], "INR")


@pytest.mark.parametrize("e164", ["918045678901", "+0123456789", "+91 80456", "+1234"])
def test_numbers_must_be_e164(e164: str) -> None:
    with pytest.raises(ValidationError):
        number(e164=e164)


@pytest.mark.parametrize("amount", [inr("0.00"), inr("1.005"), inr("-1.00")])
def test_top_ups_must_be_positive_whole_paise(amount: Money) -> None:
    with pytest.raises(ValidationError):
        TopUpLine(amount=amount)


def test_plan_lines_refuse_unrounded_amounts() -> None:
    with pytest.raises(ValidationError):
        PlanLine(plan_code="pro", description="Upgrade", amount=inr("333.333"))


def test_bundle_quantity_must_be_positive() -> None:
    with pytest.raises(ValidationError):
        BundleLine(bundle=NEXUS, quantity=0)


def test_a_breakdown_that_does_not_add_up_cannot_exist() -> None:
    with pytest.raises(ValidationError):
        FeeBreakdown(inr("1.00"), inr("1.00"), inr("0.00"), inr("3.00"))


@pytest.mark.parametrize("lines", [None, 7, "top-up", b"top-up"])
def test_lines_that_are_not_a_collection_of_line_items_are_refused(lines: object) -> None:
    with pytest.raises(ValidationError) as raised:
        Order(lines, "INR")  # type: ignore[arg-type]
    assert (raised.value.field, raised.value.value) == ("lines", lines)


@pytest.mark.parametrize("line", [inr("500.00"), NEXUS, LOCAL, "top-up"])
def test_an_order_line_that_is_not_a_line_item_is_refused(line: object) -> None:
    with pytest.raises(ValidationError) as raised:
        Order([BundleLine(bundle=NEXUS), line], "INR")
    assert (raised.value.field, raised.value.value) == ("lines", line)


@pytest.mark.parametrize("requires", [Capability.SMS, None, 3])
def test_requirements_that_are_not_a_collection_are_refused(requires: object) -> None:
    with pytest.raises(ValidationError) as raised:
        Order([number()], "INR", requires=requires)  # type: ignore[arg-type]
    assert (raised.value.field, raised.value.value) == ("requires", requires)


@pytest.mark.parametrize("requires", [["sms"], [Capability.VOICE, "sms"], [None]])
def test_requirements_must_be_capabilities(requires: object) -> None:
    with pytest.raises(ValidationError) as raised:
        Order([number()], "INR", requires=requires)  # type: ignore[arg-type]
    assert (raised.value.field, raised.value.value) == ("requires", requires)


@pytest.mark.parametrize("bundle", ["nexus", None, LOCAL])
def test_a_bundle_line_needs_an_add_on_bundle(bundle: object) -> None:
    with pytest.raises(ValidationError) as raised:
        BundleLine(bundle=bundle)  # type: ignore[arg-type]
    assert (raised.value.field, raised.value.value) == ("bundle", bundle)


@pytest.mark.parametrize("quantity", [True, 2.0, "2", None])
def test_bundle_quantity_must_be_an_int(quantity: object) -> None:
    with pytest.raises(ValidationError) as raised:
        BundleLine(bundle=NEXUS, quantity=quantity)  # type: ignore[arg-type]
    assert (raised.value.field, raised.value.value) == ("quantity", quantity)


@pytest.mark.parametrize("amount", [500, "500.00", Decimal("500.00"), None])
@pytest.mark.parametrize(
    "make",
    [
        lambda amount: TopUpLine(amount=amount),
        lambda amount: PlanLine(plan_code="pro", description="Pro plan", amount=amount),
    ],
    ids=["top-up", "plan"],
)
def test_line_amounts_must_be_money(make: Callable[[object], LineItem], amount: object) -> None:
    with pytest.raises(ValidationError) as raised:
        make(amount)
    assert (raised.value.field, raised.value.value) == ("amount", amount)


@pytest.mark.parametrize("taxable", ["yes", 1, None])
def test_a_top_up_is_taxable_or_not_as_a_bool(taxable: object) -> None:
    with pytest.raises(ValidationError) as raised:
        TopUpLine(amount=inr("500.00"), taxable=taxable)  # type: ignore[arg-type]
    assert (raised.value.field, raised.value.value) == ("taxable", taxable)


@pytest.mark.parametrize("offer", ["in-local", None, NEXUS])
def test_a_number_line_needs_a_number_offer(offer: object) -> None:
    with pytest.raises(ValidationError) as raised:
        NumberLine(offer=offer, number_e164="+918045678901")  # type: ignore[arg-type]
    assert (raised.value.field, raised.value.value) == ("offer", offer)


@pytest.mark.parametrize("renewal", ["no", 0, None])
def test_a_number_line_is_a_renewal_or_not_as_a_bool(renewal: object) -> None:
    with pytest.raises(ValidationError) as raised:
        number(renewal=renewal)  # type: ignore[arg-type]
    assert (raised.value.field, raised.value.value) == ("renewal", renewal)


@pytest.mark.parametrize("action", ["change", None])
def test_a_plan_line_needs_a_plan_action(action: object) -> None:
    with pytest.raises(ValidationError) as raised:
        PlanLine(
            plan_code="pro",
            description="Upgrade",
            amount=inr("250.00"),
            action=action,  # type: ignore[arg-type]
        )
    assert (raised.value.field, raised.value.value) == ("action", action)


@pytest.mark.parametrize("state", [{"kind": "voucher"}, {"kind": None}, {}])
def test_a_stored_line_of_an_unknown_kind_is_refused(state: dict[str, object]) -> None:
    with pytest.raises(ValidationError) as raised:
        line_from_state(state)
    assert (raised.value.field, raised.value.value) == ("kind", state.get("kind"))


@pytest.mark.parametrize(
    ("figures", "field"),
    [
        ((inr("-1.00"), inr("1.00"), inr("0.00"), inr("0.00")), "amount"),
        ((inr("1.005"), inr("0.005"), inr("0.00"), inr("1.01")), "amount"),
        ((inr("2.00"), inr("0.00"), inr("-1.00"), inr("1.00")), "tax"),
        ((inr("1.00"), Decimal("0.00"), inr("0.00"), inr("1.00")), "upfront_fees"),
        ((inr("1.00"), inr("0.00"), inr("0.00"), "1.00"), "total"),
    ],
)
def test_breakdown_figures_must_be_non_negative_whole_minor_units(
    figures: tuple[object, object, object, object], field: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        FeeBreakdown(*figures)  # type: ignore[arg-type]
    assert raised.value.field == field
    assert raised.value.value == figures[("amount", "upfront_fees", "tax", "total").index(field)]


@pytest.mark.parametrize("tax_lines", [None, "CGST", [("CGST", "0.09", "9.00")]])
def test_tax_lines_that_are_not_tax_lines_are_refused(tax_lines: object) -> None:
    with pytest.raises(ValidationError) as raised:
        FeeBreakdown(inr("100.00"), inr("0.00"), inr("9.00"), inr("109.00"), tax_lines)  # type: ignore[arg-type]
    assert (raised.value.field, raised.value.value) == ("tax_lines", tax_lines)


@pytest.mark.parametrize(
    "tax_lines",
    [(), (TaxLine("CGST", Decimal("0.09"), inr("9.00")),)],
    ids=["none", "half"],
)
def test_tax_lines_that_do_not_sum_to_the_tax_are_refused(tax_lines: tuple[TaxLine, ...]) -> None:
    with pytest.raises(ValidationError) as raised:
        FeeBreakdown(inr("100.00"), inr("0.00"), inr("18.00"), inr("118.00"), tax_lines)
    assert (raised.value.field, raised.value.value) == ("tax_lines", tax_lines)


# --- quotes ----------------------------------------------------------------------------------


def quote(order: Order | None = None, *, tax: TaxPolicy | None = None) -> Quote:
    return (order or Order([number()], "INR")).quote(
        quote_id="q-1", account_id="acct-1", at=NOW, tax=tax
    )


def test_a_quote_is_valid_for_thirty_minutes_by_default() -> None:
    q = quote()
    assert q.priced_at == NOW
    assert q.valid_until == NOW + DEFAULT_QUOTE_VALIDITY == NOW + timedelta(minutes=30)
    assert q.is_valid_at(NOW + timedelta(minutes=29, seconds=59))
    assert not q.is_valid_at(q.valid_until)


def test_an_expired_quote_cannot_be_paid() -> None:
    q = quote()
    q.ensure_payable(NOW)
    with pytest.raises(InvalidTransition):
        q.ensure_payable(NOW + timedelta(hours=1))


def test_a_free_quote_needs_no_payment() -> None:
    free = Order([PlanLine(plan_code="free", description="Free", amount=inr("0.00"))], "INR")
    with pytest.raises(InvalidTransition):
        quote(free).ensure_payable(NOW)


def test_naive_instants_are_refused() -> None:
    with pytest.raises(ValidationError):
        Order([number()], "INR").quote(quote_id="q", account_id="a", at=datetime(2024, 5, 1))  # noqa: DTZ001


@pytest.mark.parametrize("valid_for", [timedelta(0), timedelta(seconds=-1), 1800, None])
def test_a_quote_must_be_valid_for_a_positive_timedelta(valid_for: object) -> None:
    with pytest.raises(ValidationError) as raised:
        Order([number()], "INR").quote(
            quote_id="q",
            account_id="a",
            at=NOW,
            valid_for=valid_for,  # type: ignore[arg-type]
        )
    assert (raised.value.field, raised.value.value) == ("valid_for", valid_for)


@pytest.mark.parametrize("valid_until", [NOW, NOW - timedelta(seconds=1)])
def test_a_quote_valid_until_before_it_was_priced_is_refused(valid_until: datetime) -> None:
    with pytest.raises(ValidationError) as raised:
        attrs.evolve(quote(), valid_until=valid_until)
    assert (raised.value.field, raised.value.value) == ("valid_until", valid_until)


def test_a_quote_priced_in_another_currency_than_its_order_is_refused() -> None:
    dollars = Order([TopUpLine(amount=Money("5.00", "USD"))], "USD").breakdown()
    with pytest.raises(CurrencyMismatch) as raised:
        attrs.evolve(quote(), breakdown=dollars)
    assert (raised.value.expected, raised.value.actual) == ("INR", "USD")


def test_a_quote_confirms_the_capabilities_bought() -> None:
    assert quote().capabilities == VOICE_SMS


def test_plan_lines_carry_their_action() -> None:
    line = PlanLine(
        plan_code="pro",
        description="Upgrade to Pro",
        amount=inr("250.00"),
        action=PlanAction.CHANGE,
    )
    assert line_from_state(line.to_state()) == line


# --- properties ------------------------------------------------------------------------------


@given(orders(), tax_policies())
def test_total_is_amount_plus_upfront_fees_plus_tax_exactly(order: Order, tax: TaxPolicy) -> None:
    b = order.breakdown(tax)
    assert b.total == b.amount + b.upfront_fees + b.tax
    assert all(m.is_rounded() and m.amount >= 0 for m in (b.amount, b.upfront_fees, b.tax, b.total))
    assert sum(t.amount.minor_units for t in b.tax_lines) == b.tax.minor_units


@given(orders(), tax_policies())
def test_every_figure_is_written_with_the_currencys_places(order: Order, tax: TaxPolicy) -> None:
    b = order.breakdown(tax)
    places = -currency_exponent(order.currency)
    for m in (b.amount, b.upfront_fees, b.tax, b.total):
        assert m.amount.as_tuple().exponent == places, m


@given(orders(), tax_rates())
def test_inclusive_prices_are_exactly_what_the_customer_pays(order: Order, rate: Decimal) -> None:
    listed = sum((line.amount + line.upfront_fee for line in order.lines), inr("0"))
    assert order.breakdown(TaxPolicy.inclusive(rate)).total == listed
    assert order.breakdown(TaxPolicy.none()).total == listed


@given(orders(), tax_rates())
def test_exclusive_tax_never_changes_the_amount_shown(order: Order, rate: Decimal) -> None:
    none, excl = order.breakdown(), order.breakdown(TaxPolicy.exclusive(rate))
    assert (excl.amount, excl.upfront_fees) == (none.amount, none.upfront_fees)
    assert excl.total >= none.total


@given(orders())
def test_at_a_zero_rate_every_policy_agrees(order: Order) -> None:
    totals = {
        order.breakdown(p).total
        for p in (TaxPolicy.none(), TaxPolicy.exclusive("0"), TaxPolicy.inclusive("0"))
    }
    assert len(totals) == 1


@given(st.integers(0, 10**8), tax_rates())
def test_exclusive_and_inclusive_agree_on_the_same_gross_price(units: int, rate: Decimal) -> None:
    net = Money.from_minor_units(units, "INR")
    excl = Order([PlanLine(plan_code="p", description="d", amount=net)], "INR").breakdown(
        TaxPolicy.exclusive(rate)
    )
    gross = Order([PlanLine(plan_code="p", description="d", amount=excl.total)], "INR")
    incl = gross.breakdown(TaxPolicy.inclusive(rate))
    assert (incl.amount, incl.tax, incl.total) == (excl.amount, excl.tax, excl.total)


@given(orders(), tax_rates(), st.sampled_from(["KA", "MH"]), st.booleans())
def test_gst_within_or_across_states_charges_the_same_total(
    order: Order, rate: Decimal, customer: str, inclusive: bool
) -> None:
    def policy(where: str) -> TaxPolicy:
        return TaxPolicy.india_gst(
            rate, supplier_state="KA", customer_state=where, inclusive=inclusive
        )

    assert order.breakdown(policy(customer)).total == order.breakdown(policy("KA")).total


@given(orders(), tax_policies())
def test_line_totals_share_out_the_total_exactly(order: Order, tax: TaxPolicy) -> None:
    q = order.quote(quote_id="q", account_id="a", at=NOW, tax=tax)
    shares = q.line_totals()
    assert sum((s for s in shares), inr("0")) == q.total
    if not q.breakdown.tax_included:
        for share, line in zip(shares, q.lines, strict=True):
            assert share >= line.amount + line.upfront_fee


@given(orders(), tax_policies())
def test_quotes_survive_their_state_exactly(order: Order, tax: TaxPolicy) -> None:
    q = order.quote(quote_id="q", account_id="a", at=NOW, tax=tax)
    again = Quote.from_state(q.to_state())
    assert again == q
    assert again.to_state() == q.to_state()
    assert again.line_totals() == q.line_totals()


@given(line_items())
def test_lines_survive_their_state(line: LineItem) -> None:
    assert line_from_state(line.to_state()) == line


@given(orders(), tax_policies())
def test_pricing_is_pure(order: Order, tax: TaxPolicy) -> None:
    assert order.breakdown(tax) == order.breakdown(tax)
