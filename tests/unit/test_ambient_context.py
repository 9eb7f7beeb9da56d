"""No ambient `decimal` context changes a result: tax, minutes, formatting and the overview.

A host may run minutebill inside any `decimal.localcontext()`: a low precision, another
rounding mode, every signal trapped, a tiny exponent range. Each test computes a result in the
default context, then again in such a hostile one, and expects the same value and text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import (
    ROUND_05UP,
    ROUND_CEILING,
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_HALF_DOWN,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    ROUND_UP,
    Clamped,
    Decimal,
    DivisionByZero,
    FloatOperation,
    Inexact,
    InvalidOperation,
    Overflow,
    Rounded,
    Subnormal,
    Underflow,
    localcontext,
)
from io import StringIO
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minutebill import Billing, Catalog, MemoryStore, Money, TaxPolicy, ValidationError
from minutebill._formatting import (
    format_billed_minutes,
    format_count,
    format_minutes,
    format_money,
    format_rate,
    format_used_percent,
)
from minutebill.cli import print_catalog
from minutebill.domain.checkout import Order
from minutebill.domain.line_items import PlanLine
from minutebill.domain.tax import TaxComponent
from minutebill.testing.fakes import FakePaymentGateway, FixedClock
from minutebill.views import usage_chart_svg
from minutebill.views._units import to_minutes

EXAMPLE = Path(__file__).parents[2] / "examples" / "catalog.toml"

ROUNDINGS = [
    ROUND_05UP,
    ROUND_CEILING,
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_HALF_DOWN,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    ROUND_UP,
]
SIGNALS = [
    Clamped,
    DivisionByZero,
    FloatOperation,
    Inexact,
    InvalidOperation,
    Overflow,
    Rounded,
    Subnormal,
    Underflow,
]


@contextmanager
def hostile(precision: int = 3, rounding: str = ROUND_DOWN) -> Iterator[None]:
    """An ambient context no computation should notice: low precision, small exponents,
    `rounding`, and every signal trapped."""
    with localcontext() as ctx:
        ctx.prec = precision
        ctx.rounding = rounding
        ctx.Emax, ctx.Emin = 9, -9
        ctx.capitals = 0
        for signal in SIGNALS:
            ctx.traps[signal] = True
        yield


precisions = st.integers(1, 6)
roundings = st.sampled_from(ROUNDINGS)


def same_everywhere(compute: Callable[[], object], precision: int, rounding: str) -> None:
    """`compute()` gives an equal result, written the same way, in a hostile context."""
    expected = compute()
    with hostile(precision, rounding):
        actual = compute()
    assert actual == expected
    assert repr(actual) == repr(expected)


POLICIES = [
    TaxPolicy.india_gst("0.18", supplier_state="KA", customer_state="KA", inclusive=True),
    TaxPolicy.india_gst("0.18", supplier_state="KA", customer_state="KA"),
    TaxPolicy.india_gst("0.05", supplier_state="KA", customer_state="MH", inclusive=True),
    TaxPolicy.exclusive("0.075", "VAT"),
    TaxPolicy.inclusive("0.2", "VAT"),
    TaxPolicy.none(),
]


def test_inclusive_gst_on_an_odd_amount_ignores_an_inexact_trap() -> None:
    # ₹100.06 × 0.18 / 1.18 is not a finite decimal: the host's Inexact trap must not see it.
    policy = POLICIES[0]
    order = Order(
        [PlanLine(plan_code="pro", description="Pro", amount=Money("100.06", "INR"))], "INR"
    )
    with localcontext() as ctx:
        ctx.traps[Inexact] = True
        breakdown = order.breakdown(policy)
    assert breakdown.tax == Money("15.26", "INR")
    assert sum(line.amount.minor_units for line in breakdown.tax_lines) == 1526


@given(st.integers(0, 10**10), st.sampled_from(POLICIES), precisions, roundings)
def test_tax_ignores_the_ambient_context(
    paise: int, policy: TaxPolicy, precision: int, rounding: str
) -> None:
    def compute() -> object:
        taxable = Money.from_minor_units(paise, "INR")
        tax = policy.tax_on(taxable)
        return tax, policy.lines(tax), policy.rate

    same_everywhere(compute, precision, rounding)


@given(st.decimals(min_value=0, max_value=Decimal("0.99"), places=4), st.booleans(), roundings)
def test_gst_halves_and_rates_ignore_the_ambient_context(
    rate: Decimal, same_state: bool, rounding: str
) -> None:
    def compute() -> object:
        customer = "KA" if same_state else "MH"
        policy = TaxPolicy.india_gst(rate, supplier_state="KA", customer_state=customer)
        return policy.components, policy.rate, TaxComponent("VAT", rate)

    same_everywhere(compute, 1, rounding)


@given(st.integers(0, 10**9), precisions, roundings)
def test_minutes_ignore_the_ambient_context(seconds: int, precision: int, rounding: str) -> None:
    def compute() -> object:
        minutes = to_minutes(seconds)
        return (
            minutes,
            format_minutes(minutes, "en_IN"),
            format_billed_minutes(seconds, "en"),
            format_billed_minutes(seconds, "de_DE"),
            format_count(seconds, "en_IN"),
        )

    same_everywhere(compute, precision, rounding)


@given(st.integers(-(10**17), 10**17), st.integers(0, 10**4), precisions, roundings)
def test_formatting_ignores_the_ambient_context(
    paise: int, hundredths: int, precision: int, rounding: str
) -> None:
    percent = Decimal(f"{hundredths // 100}.{hundredths % 100:02d}")

    def compute() -> object:
        return (
            format_money(Money.from_minor_units(paise, "INR"), "en_IN"),
            format_money(Money.from_minor_units(paise, "KWD"), "ar"),
            format_used_percent(percent, "en_IN"),
            format_used_percent(percent, "de_DE"),
            format_rate(Decimal("0.18"), "en"),
        )

    same_everywhere(compute, precision, rounding)


@given(
    st.decimals(min_value=-(10**9), max_value=10**9, places=6),
    st.integers(-1000, 1000),
    precisions,
    roundings,
)
def test_money_ignores_a_context_that_traps_everything(
    amount: Decimal, factor: int, precision: int, rounding: str
) -> None:
    def compute() -> object:
        m = Money(amount, "INR")
        other = Money("12345678.987654321", "INR")
        rounded = m.rounded()
        results = [rounded, m + other, m - other, m * factor, m / 7, m.is_rounded()]
        results += [rounded.minor_units, rounded.allocate([1, 2, 3]), Money(str(amount), "INR")]
        if other:
            results.append(m / other)
        return results

    same_everywhere(compute, precision, rounding)


@pytest.fixture(scope="module")
def billing() -> Billing:
    clock = FixedClock(datetime(2025, 5, 10, tzinfo=ZoneInfo("Asia/Kolkata")))
    billing = Billing(
        MemoryStore().unit_of_work,
        FakePaymentGateway(secret=b"s", clock=clock),
        Catalog.from_file(EXAMPLE),
        clock,
    )
    billing.subscribe("acme", "enterprise", timezone="Asia/Kolkata")  # rated 60/6
    billing.start_call("acme", "c1", max_seconds=617)  # holds the 618 s it may be billed
    billing.start_call("acme", "c2", max_seconds=60)
    billing.end_call("acme", "c2", timedelta(seconds=47))
    return billing


@pytest.mark.parametrize("rounding", ROUNDINGS)
@pytest.mark.parametrize("precision", [1, 3, 6])
def test_the_overview_ignores_the_ambient_context(
    billing: Billing, precision: int, rounding: str
) -> None:
    def compute() -> object:
        view = billing.overview("acme")
        return view, view.format("en_IN"), view.format("de_DE"), usage_chart_svg(view)

    same_everywhere(compute, precision, rounding)
    assert billing.overview("acme").held_minutes == Decimal("10.30")


def test_a_catalog_loads_and_prints_the_same_in_a_hostile_context() -> None:
    def compute() -> object:
        catalog = Catalog.from_file(EXAMPLE)
        out = StringIO()
        print_catalog(catalog, "en_IN", out)
        return catalog.plans, catalog.bundles, out.getvalue()

    same_everywhere(compute, 2, ROUND_FLOOR)


def test_a_non_number_is_refused_alike_when_the_host_does_not_trap_syntax_errors() -> None:
    def refusals() -> list[str]:
        reasons = []
        for text in ("abc", "NaN", "1,000"):
            with pytest.raises(ValidationError) as caught:
                Money(text, "INR")
            reasons.append(caught.value.reason)
        return reasons

    expected = refusals()
    assert expected[0] == "not a decimal number"
    with localcontext() as ctx:
        ctx.traps[InvalidOperation] = False
        assert refusals() == expected
