"""Tax policies: exclusive, inclusive and India's GST, rounded once, split exactly."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from minutebill import Money, ValidationError
from minutebill.domain.tax import TaxComponent, TaxLine, TaxMode, TaxPolicy
from minutebill.testing.payment_strategies import tax_policies, tax_rates

inr = st.integers(0, 10**9).map(lambda u: Money.from_minor_units(u, "INR"))
states = st.sampled_from(["KA", "MH", "29", "27", "dl"])


def gst(rate: str = "0.18", *, inclusive: bool = False, where: str = "KA") -> TaxPolicy:
    return TaxPolicy.india_gst(rate, supplier_state="KA", customer_state=where, inclusive=inclusive)


def test_gst_within_a_state_is_cgst_plus_sgst_at_half_the_rate_each() -> None:
    policy = gst()
    tax = policy.tax_on(Money("1000.00", "INR"))
    assert tax == Money("180.00", "INR")
    assert policy.lines(tax) == (
        TaxLine("CGST", Decimal("0.09"), Money("90.00", "INR")),
        TaxLine("SGST", Decimal("0.09"), Money("90.00", "INR")),
    )


def test_gst_across_states_is_one_igst_line() -> None:
    policy = gst(where="MH")
    tax = policy.tax_on(Money("1000.00", "INR"))
    assert policy.lines(tax) == (TaxLine("IGST", Decimal("0.18"), Money("180.00", "INR")),)


def test_an_odd_paisa_goes_to_cgst() -> None:
    policy = gst()
    tax = policy.tax_on(Money("100.06", "INR"))  # 18.0108 -> 18.01
    assert tax == Money("18.01", "INR")
    cgst, sgst = policy.lines(tax)
    assert (cgst.amount, sgst.amount) == (Money("9.01", "INR"), Money("9.00", "INR"))


def test_union_territories_use_utgst() -> None:
    policy = TaxPolicy.india_gst(
        "0.18", supplier_state="CH", customer_state="ch", state_tax_name="UTGST"
    )
    assert [c.name for c in policy.components] == ["CGST", "UTGST"]


def test_tax_is_rounded_once_half_up() -> None:
    assert TaxPolicy.exclusive("0.18").tax_on(Money("0.25", "INR")) == Money("0.05", "INR")
    assert TaxPolicy.exclusive("0.10").tax_on(Money("0.05", "INR")) == Money("0.01", "INR")


def test_inclusive_extracts_the_tax_from_the_gross_price() -> None:
    assert TaxPolicy.inclusive("0.18").tax_on(Money("118.00", "INR")) == Money("18.00", "INR")


def test_no_tax_is_zero_and_has_no_lines() -> None:
    policy = TaxPolicy.none()
    assert not policy.tax_on(Money("99.99", "INR"))
    assert policy.lines(Money("0.00", "INR")) == ()


@pytest.mark.parametrize("rate", [0.18, "1", "1.5", "-0.1", "abc", None, "NaN"])
def test_bad_rates_are_refused(rate: object) -> None:
    with pytest.raises(ValidationError) as raised:
        TaxPolicy.exclusive(rate)  # type: ignore[arg-type]
    assert raised.value.field == "rate"


def test_components_adding_up_to_a_whole_are_refused() -> None:
    half = TaxComponent("A", "0.5")
    with pytest.raises(ValidationError):
        TaxPolicy(TaxMode.EXCLUSIVE, (half, half))


def test_a_policy_needs_components_unless_none() -> None:
    with pytest.raises(ValidationError):
        TaxPolicy(TaxMode.EXCLUSIVE, ())
    with pytest.raises(ValidationError):
        TaxPolicy(TaxMode.NONE, (TaxComponent("GST", "0.18"),))


@pytest.mark.parametrize("name", ["", "   ", None, 18])
def test_a_tax_component_needs_a_name(name: object) -> None:
    with pytest.raises(ValidationError) as raised:
        TaxComponent(name, "0.18")
    assert (raised.value.field, raised.value.value) == ("name", name)


@pytest.mark.parametrize(
    "components",
    [
        TaxComponent("GST", "0.18"),
        "GST",
        (("GST", "0.18"),),
        [TaxComponent("CGST", "0.09"), "SGST"],
        None,
    ],
    ids=["bare-component", "string", "pair", "one-not-a-component", "none"],
)
def test_policy_components_must_be_a_sequence_of_tax_components(components: object) -> None:
    with pytest.raises(ValidationError) as raised:
        TaxPolicy(TaxMode.EXCLUSIVE, components)
    assert (raised.value.field, raised.value.value) == ("components", components)


@pytest.mark.parametrize(
    ("mode", "components"),
    [("exclusive", (TaxComponent("GST", "0.18"),)), ("none", ()), (None, ())],
)
def test_a_policy_mode_must_be_a_tax_mode(
    mode: object, components: tuple[TaxComponent, ...]
) -> None:
    with pytest.raises(ValidationError) as raised:
        TaxPolicy(mode, components)  # type: ignore[arg-type]
    assert (raised.value.field, raised.value.value) == ("mode", mode)


def test_empty_states_are_refused() -> None:
    with pytest.raises(ValidationError):
        TaxPolicy.india_gst("0.18", supplier_state=" ", customer_state="KA")


def test_unrounded_taxable_amounts_are_refused() -> None:
    with pytest.raises(ValidationError):
        TaxPolicy.exclusive("0.18").tax_on(Money("1.005", "INR"))


@given(inr, tax_rates(), states, states, st.booleans())
def test_gst_parts_sum_exactly_to_the_tax(
    taxable: Money, rate: Decimal, a: str, b: str, inclusive: bool
) -> None:
    policy = TaxPolicy.india_gst(rate, supplier_state=a, customer_state=b, inclusive=inclusive)
    tax = policy.tax_on(taxable)
    lines = policy.lines(tax)
    assert sum(line.amount.minor_units for line in lines) == tax.minor_units
    if len(lines) == 2:
        assert 0 <= lines[0].amount.minor_units - lines[1].amount.minor_units <= 1


@given(inr, tax_rates())
def test_odd_paise_split_exactly_with_cgst_one_paisa_ahead(taxable: Money, rate: Decimal) -> None:
    policy = TaxPolicy.india_gst(rate, supplier_state="KA", customer_state="KA")
    tax = policy.tax_on(taxable)
    assume(tax.minor_units % 2 == 1)
    cgst, sgst = policy.lines(tax)
    assert cgst.amount + sgst.amount == tax
    assert cgst.amount.minor_units == sgst.amount.minor_units + 1


@given(inr, tax_rates())
def test_intra_and_inter_state_gst_charge_the_same_tax(taxable: Money, rate: Decimal) -> None:
    within = TaxPolicy.india_gst(rate, supplier_state="KA", customer_state="KA")
    across = TaxPolicy.india_gst(rate, supplier_state="KA", customer_state="MH")
    assert within.tax_on(taxable) == across.tax_on(taxable)


@given(inr, tax_rates())
def test_inclusive_recovers_the_exclusive_tax_from_the_gross(net: Money, rate: Decimal) -> None:
    tax = TaxPolicy.exclusive(rate).tax_on(net)
    assert TaxPolicy.inclusive(rate).tax_on(net + tax) == tax


@given(inr, tax_rates())
def test_the_tax_is_within_half_a_paisa_of_the_exact_tax(net: Money, rate: Decimal) -> None:
    tax = TaxPolicy.exclusive(rate).tax_on(net)
    assert abs(tax.amount - net.amount * rate) <= Decimal("0.005")


@given(tax_policies())
def test_policies_survive_their_state(policy: TaxPolicy) -> None:
    assert TaxPolicy.from_state(policy.to_state()) == policy


def test_floats_never_become_rates() -> None:
    with pytest.raises(ValidationError):
        TaxComponent("GST", 0.18)


@given(tax_policies(rates=st.just(Decimal("0.18"))))
def test_tax_policies_draw_from_the_rates_they_are_given(policy: TaxPolicy) -> None:
    assert policy.rate in (Decimal(0), Decimal("0.18"))


@pytest.mark.parametrize(
    ("name", "rate", "amount", "field"),
    [
        ("", Decimal("0.09"), Money("9.00", "INR"), "name"),
        (None, Decimal("0.09"), Money("9.00", "INR"), "name"),
        ("CGST", 0.09, Money("9.00", "INR"), "rate"),
        ("CGST", Decimal("1.5"), Money("9.00", "INR"), "rate"),
        ("CGST", Decimal("0.09"), Money("-9.00", "INR"), "amount"),
        ("CGST", Decimal("0.09"), Money("9.001", "INR"), "amount"),
        ("CGST", Decimal("0.09"), Decimal("9.00"), "amount"),
    ],
)
def test_a_tax_line_refuses_a_bad_name_rate_or_amount(
    name: object, rate: object, amount: object, field: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        TaxLine(name, rate, amount)  # type: ignore[arg-type]
    assert (caught.value.field, caught.value.value) == (field, locals()[field])


def test_a_tax_line_survives_its_state() -> None:
    line = TaxLine("CGST", Decimal("0.09"), Money("9.00", "INR"))
    assert TaxLine.from_state(line.to_state()) == line
