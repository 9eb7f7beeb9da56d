"""Money: exact arithmetic in one currency, explicit half-up rounding, minor units, allocation."""

from __future__ import annotations

import copy
import operator
import pickle
from collections.abc import Callable
from decimal import (
    ROUND_CEILING,
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_HALF_DOWN,
    ROUND_HALF_EVEN,
    ROUND_UP,
    Decimal,
    DecimalException,
    localcontext,
)
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minutebill import CurrencyMismatch, Money, ValidationError
from minutebill.domain.money import (
    MAX_MINOR_UNITS,
    MIN_ADJUSTED_EXPONENT,
    currency_exponent,
    known_currencies,
    sum_money,
)
from minutebill.testing.strategies import currencies, exact_amounts, money

# --- strategies -------------------------------------------------------------------------------


def exact_money(currency: str | None = None) -> st.SearchStrategy[Money]:
    """Unrounded amounts (up to six decimals) in `currency` or any known currency."""
    codes = currencies() if currency is None else st.just(currency)
    return st.builds(Money, exact_amounts(6), codes)


def any_money(currency: str | None = None) -> st.SearchStrategy[Money]:
    """Rounded or unrounded amounts."""
    return money(currency) | exact_money(currency)


@st.composite
def same_currency(draw: st.DrawFn, count: int) -> list[Money]:
    """`count` amounts (rounded or not) that share one currency."""
    code = draw(currencies())
    return [draw(any_money(code)) for _ in range(count)]


ratio_values = st.integers(0, 1000) | st.decimals(
    min_value=0, max_value=1000, places=3, allow_nan=False, allow_infinity=False
)
ratio_lists = st.lists(ratio_values, min_size=1, max_size=12).filter(any)

ambient_roundings = st.sampled_from(
    [ROUND_DOWN, ROUND_FLOOR, ROUND_CEILING, ROUND_UP, ROUND_HALF_DOWN, ROUND_HALF_EVEN]
)


def exact(m: Money) -> Fraction:
    return Fraction(m.amount)


def unit(currency: str) -> Fraction:
    return Fraction(1, 10 ** currency_exponent(currency))


# --- construction and value semantics ---------------------------------------------------------


def test_money_is_an_exact_decimal_amount_and_a_currency() -> None:
    price = Money("7999.00", "INR")
    assert price.amount == Decimal("7999.00")
    assert price.currency == "INR"
    assert Money(5, "JPY").amount == Decimal(5)
    assert Money(Decimal("1.234"), "KWD").amount == Decimal("1.234")
    assert Money(" 12.50 ", "USD") == Money("12.5", "USD")
    assert repr(price) == "Money('7999.00', 'INR')"
    assert str(price) == "7999.00 INR"


@given(exact_money())
def test_money_is_immutable(m: Money) -> None:
    before = (m.amount, m.currency)
    for name, value in (("amount", Decimal(1)), ("currency", "USD"), ("extra", 1)):
        with pytest.raises(AttributeError):
            setattr(m, name, value)
    with pytest.raises(AttributeError):
        del m.amount
    assert (m.amount, m.currency) == before


@given(any_money(), any_money())
def test_equal_money_hashes_equal(a: Money, b: Money) -> None:
    assert (a == b) == (a.currency == b.currency and a.amount == b.amount)
    if a == b:
        assert hash(a) == hash(b)


def test_equality_ignores_trailing_zeros_but_not_the_currency() -> None:
    assert Money("1.0", "INR") == Money("1.00", "INR")
    assert hash(Money("1.0", "INR")) == hash(Money("1.00", "INR"))
    assert len({Money("1.0", "INR"), Money("1.00", "INR"), Money(1, "INR")}) == 1
    assert Money(1, "INR") != Money(1, "USD")
    assert Money(1, "INR") != Decimal(1)
    assert Money(0, "INR") != 0


@given(any_money())
def test_money_survives_pickle_and_copy(m: Money) -> None:
    for clone in (pickle.loads(pickle.dumps(m)), copy.copy(m), copy.deepcopy(m)):  # noqa: S301
        assert clone == m
        assert type(clone) is Money
        assert str(clone.amount) == str(m.amount)


# --- addition laws ----------------------------------------------------------------------------


@given(same_currency(2))
def test_addition_is_commutative(ms: list[Money]) -> None:
    a, b = ms
    assert a + b == b + a


@given(same_currency(3))
def test_addition_is_associative(ms: list[Money]) -> None:
    a, b, c = ms
    assert (a + b) + c == a + (b + c)


@given(any_money())
def test_zero_is_the_identity(a: Money) -> None:
    zero = Money.zero(a.currency)
    assert a + zero == a
    assert zero + a == a
    assert a - zero == a


@given(same_currency(2))
def test_negation_and_subtraction(ms: list[Money]) -> None:
    a, b = ms
    zero = Money.zero(a.currency)
    assert a + (-a) == zero
    negated = -a
    assert -negated == a
    assert a - b == a + (-b)
    assert (a - b) + b == a
    assert abs(-a) == abs(a)
    assert abs(a).amount >= 0


@given(same_currency(2))
def test_addition_and_subtraction_are_exact(ms: list[Money]) -> None:
    a, b = ms
    assert exact(a + b) == exact(a) + exact(b)
    assert exact(a - b) == exact(a) - exact(b)


def test_the_largest_and_smallest_amounts_add_exactly() -> None:
    big = Money.from_minor_units(MAX_MINOR_UNITS, "INR")
    tiny = Money(Decimal("1e-40"), "INR")
    assert exact(big + tiny) == Fraction(MAX_MINOR_UNITS, 100) + Fraction(1, 10**40)
    assert exact(big + big) == Fraction(MAX_MINOR_UNITS, 50)


@given(st.lists(money("INR"), max_size=20))
def test_sum_money_is_the_fold_of_addition(ms: list[Money]) -> None:
    expected = Money.zero("INR")
    for m in ms:
        expected = expected + m
    assert sum_money(ms, "INR") == expected
    assert exact(sum_money(ms, "INR")) == sum((exact(m) for m in ms), Fraction(0))


def test_sum_money_of_nothing_is_zero_and_refuses_other_currencies() -> None:
    assert sum_money([], "KWD") == Money.zero("KWD")
    with pytest.raises(CurrencyMismatch):
        sum_money([Money(1, "INR"), Money(1, "USD")], "INR")


@given(
    any_money(),
    st.integers(-1000, 1000) | st.decimals(min_value=-1000, max_value=1000, places=4),
)
def test_multiplication_is_exact(m: Money, factor: int | Decimal) -> None:
    assert exact(m * factor) == exact(m) * Fraction(factor)
    assert factor * m == m * factor


def test_comparisons_within_one_currency() -> None:
    assert Money("1.00", "INR") < Money("1.01", "INR") <= Money("1.01", "INR")
    assert Money("2", "INR") > Money("1.99", "INR") >= Money("1.99", "INR")
    assert sorted([Money(3, "INR"), Money(1, "INR"), Money(2, "INR")]) == [
        Money(1, "INR"),
        Money(2, "INR"),
        Money(3, "INR"),
    ]
    assert not Money(0, "INR")
    assert Money("0.01", "INR")


def test_money_divided_by_money_is_a_ratio() -> None:
    used = Money("1303.00", "INR")
    total = Money("5000.00", "INR")
    assert used / total == Decimal("0.2606")
    # Division rounds at 34 significant digits, whatever the ambient context says.
    assert Money(1, "INR") / Money(3, "INR") == Decimal("0." + "3" * 34)


def test_money_divided_by_a_number_is_money() -> None:
    assert Money("100.00", "INR") / 4 == Money("25", "INR")
    assert (Money("100.00", "INR") / 3).rounded() == Money("33.33", "INR")


# --- rounding ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("0.125", "INR", "0.13"),
        ("-0.125", "INR", "-0.13"),
        ("0.135", "INR", "0.14"),
        ("0.124999", "INR", "0.12"),
        ("2.5", "JPY", "3"),
        ("-2.5", "JPY", "-3"),
        ("1.0005", "KWD", "1.001"),
        ("1.0004", "BHD", "1.000"),
        ("7999", "INR", "7999.00"),
    ],
)
def test_rounding_is_half_up_to_the_minor_unit(amount: str, currency: str, expected: str) -> None:
    rounded = Money(amount, currency).rounded()
    assert rounded == Money(expected, currency)
    assert str(rounded.amount) == expected


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("-0.001", "INR", "0.00"),
        ("-0.004999", "INR", "0.00"),
        ("-0.4", "JPY", "0"),
        ("-0", "KWD", "0.000"),
    ],
)
def test_an_amount_that_rounds_to_zero_is_plain_zero_never_minus_zero(
    amount: str, currency: str, expected: str
) -> None:
    rounded = Money(amount, currency).rounded()
    assert str(rounded.amount) == expected
    assert not rounded.amount.is_signed()


@given(exact_money())
def test_a_rounded_amount_is_never_a_negative_zero(m: Money) -> None:
    r = m.rounded().amount
    assert r or not r.is_signed()


@pytest.mark.parametrize(
    ("currency", "expected"), [("INR", "0.00"), ("USD", "0.00"), ("JPY", "0"), ("KWD", "0.000")]
)
def test_zero_is_written_with_the_currencys_minor_unit(currency: str, expected: str) -> None:
    for zero in (Money.zero(currency), sum_money([], currency)):
        assert str(zero.amount) == expected
        assert zero.is_rounded()
        assert zero == Money(0, currency)
        assert hash(zero) == hash(Money(0, currency))


@given(currencies())
def test_zero_has_the_exponent_of_the_currencys_minor_unit(currency: str) -> None:
    zero = Money.zero(currency)
    assert zero.amount.as_tuple().exponent == -currency_exponent(currency)
    assert zero.amount == 0
    assert not zero.amount.is_signed()
    assert zero == Money.from_minor_units(0, currency)


@given(exact_money())
def test_rounded_is_the_nearest_minor_unit_ties_away_from_zero(m: Money) -> None:
    r = m.rounded()
    q = unit(m.currency)
    assert r.currency == m.currency
    assert r.is_rounded()
    assert r.rounded() == r
    assert exact(r) % q == 0
    distance = abs(exact(r) - exact(m))
    assert distance <= q / 2
    if distance == q / 2:
        assert abs(exact(r)) > abs(exact(m))


@given(exact_money(), ambient_roundings, st.integers(1, 12))
def test_no_result_depends_on_the_ambient_decimal_context(
    m: Money, rounding: str, precision: int
) -> None:
    other = Money(Decimal("12345678.987654321"), m.currency)
    rounded = m.rounded()

    def results() -> list[object]:
        return [
            m.rounded(),
            m + other,
            m - other,
            -m,
            m * 7,
            m / 8,
            rounded.minor_units,
            rounded.allocate([1, 2, 3]),
            m.is_rounded(),
        ]

    expected = results()
    with localcontext() as ctx:
        ctx.rounding = rounding
        ctx.prec = precision
        assert results() == expected
        assert [str(x) for x in results()] == [str(x) for x in expected]


def test_rounding_ignores_a_different_ambient_rounding_mode() -> None:
    with localcontext() as ctx:
        ctx.rounding = ROUND_DOWN
        assert Money("0.125", "INR").rounded() == Money("0.13", "INR")
        ctx.rounding = ROUND_HALF_EVEN
        assert Money("0.125", "INR").rounded() == Money("0.13", "INR")
        assert Money("-0.125", "INR").rounded() == Money("-0.13", "INR")


def test_an_amount_beyond_the_default_precision_still_rounds() -> None:
    long = Money(Decimal("1234567890123456.785000000000000000000000000001"), "INR")
    assert long.rounded().amount == Decimal("1234567890123456.79")


# --- minor units ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("currency", "exponent"), [("INR", 2), ("USD", 2), ("JPY", 0), ("KWD", 3), ("BHD", 3)]
)
def test_currency_exponents_come_from_babel(currency: str, exponent: int) -> None:
    assert currency_exponent(currency) == exponent
    assert Money(1, currency).exponent == exponent


def test_minor_units_round_trip_in_every_currency_babel_knows() -> None:
    codes = sorted(known_currencies())
    assert {"INR", "JPY", "KWD", "BHD", "USD"} <= set(codes)
    assert {currency_exponent(c) for c in codes} >= {0, 2, 3}
    for code in codes:
        scale = 10 ** currency_exponent(code)
        for units in (
            0,
            1,
            -1,
            7,
            scale - 1,
            scale,
            123_456_789,
            MAX_MINOR_UNITS,
            -MAX_MINOR_UNITS,
        ):
            m = Money.from_minor_units(units, code)
            assert m.minor_units == units, code
            assert exact(m) == Fraction(units, scale), code
            assert m.is_rounded(), code
            assert Money(m.amount, code) == m, code


@given(currencies(), st.integers(-MAX_MINOR_UNITS, MAX_MINOR_UNITS))
def test_from_minor_units_round_trips(currency: str, units: int) -> None:
    m = Money.from_minor_units(units, currency)
    assert m.minor_units == units
    assert Money.from_minor_units(m.minor_units, currency) == m


@given(money())
def test_rounded_money_round_trips_through_minor_units(m: Money) -> None:
    assert Money.from_minor_units(m.minor_units, m.currency) == m


def test_gateway_amounts_in_minor_units() -> None:
    assert Money.from_minor_units(15000, "INR") == Money("150.00", "INR")
    assert Money.from_minor_units(500, "JPY") == Money(500, "JPY")
    assert Money.from_minor_units(1234, "KWD") == Money("1.234", "KWD")
    assert Money("799.99", "INR").minor_units == 79999
    assert Money("-0.01", "INR").minor_units == -1


# --- allocation -------------------------------------------------------------------------------


@given(money(min_units=-(10**9), max_units=10**9), ratio_lists)
def test_allocate_sums_exactly_and_stays_within_one_minor_unit(
    m: Money, ratios: list[int | Decimal]
) -> None:
    parts = m.allocate(ratios)
    assert len(parts) == len(ratios)
    assert sum_money(parts, m.currency) == m
    total = sum((Fraction(r) for r in ratios), Fraction(0))
    q = unit(m.currency)
    for part, ratio in zip(parts, ratios, strict=True):
        assert part.currency == m.currency
        assert part.is_rounded()
        share = exact(m) * Fraction(ratio) / total
        assert abs(exact(part) - share) < q
    assert m.allocate(ratios) == parts


@given(money(min_units=-(10**9), max_units=10**9), st.integers(1, 40), st.integers(1, 50))
def test_equal_ratios_give_parts_at_most_one_minor_unit_apart(
    m: Money, count: int, weight: int
) -> None:
    units = [p.minor_units for p in m.allocate([weight] * count)]
    assert max(units) - min(units) <= 1
    assert sum(units) == m.minor_units


def test_allocate_hands_leftover_units_to_the_earliest_largest_remainders() -> None:
    inr = "INR"
    assert Money("100.00", inr).allocate([1, 1, 1]) == [
        Money("33.34", inr),
        Money("33.33", inr),
        Money("33.33", inr),
    ]
    assert Money("0.05", inr).allocate([1] * 6) == [Money("0.01", inr)] * 5 + [Money(0, inr)]
    assert Money("18.01", inr).allocate([1, 1]) == [Money("9.01", inr), Money("9.00", inr)]
    assert Money("10.00", inr).allocate([Decimal("0.7"), Decimal("0.3")]) == [
        Money("7.00", inr),
        Money("3.00", inr),
    ]
    assert Money("1.00", inr).allocate([0, 1]) == [Money(0, inr), Money("1.00", inr)]
    assert Money(100, "JPY").allocate([1, 2]) == [Money(33, "JPY"), Money(67, "JPY")]


# --- refused input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "amount",
    [
        0.1,
        1.0,
        float("nan"),
        float("inf"),
        True,
        False,
        Decimal("NaN"),
        Decimal("sNaN"),
        Decimal("Infinity"),
        Decimal("-Infinity"),
        "NaN",
        "inf",
        "abc",
        "",
        "1,000",
        None,
        [1],
        Fraction(1, 3),
    ],
    ids=repr,
)
def test_refused_amounts(amount: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        Money(amount, "INR")
    assert caught.value.field == "amount"
    assert caught.value.value is amount
    assert "amount=" in str(caught.value)


@pytest.mark.parametrize("currency", ["XYZ", "inr", "", " INR", None, 356, ["INR"]], ids=repr)
def test_refused_currencies(currency: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        Money(1, currency)
    assert caught.value.field == "currency"
    assert caught.value.value == currency
    with pytest.raises(ValidationError):
        Money.from_minor_units(1, currency)
    with pytest.raises(ValidationError):
        Money.zero(currency)


@pytest.mark.parametrize("units", [1.5, True, "100", Decimal(100), None], ids=repr)
def test_from_minor_units_refuses_anything_but_an_int(units: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        Money.from_minor_units(units, "INR")
    assert caught.value.field == "units"


BINARY: list[Callable[[Money, Money], object]] = [
    operator.add,
    operator.sub,
    operator.lt,
    operator.le,
    operator.gt,
    operator.ge,
    operator.truediv,
]


@pytest.mark.parametrize("op", BINARY, ids=lambda op: op.__name__)
def test_two_currencies_do_not_mix(op: Callable[[Money, Money], object]) -> None:
    with pytest.raises(CurrencyMismatch) as caught:
        op(Money(1, "INR"), Money(1, "USD"))
    assert (caught.value.expected, caught.value.actual) == ("INR", "USD")
    assert "INR" in str(caught.value)
    assert "USD" in str(caught.value)


@given(exact_money(), exact_money())
def test_any_two_currencies_do_not_mix(a: Money, b: Money) -> None:
    if a.currency == b.currency:
        return
    for op in BINARY:
        with pytest.raises(CurrencyMismatch):
            op(a, b)


@pytest.mark.parametrize("divisor", [0, Decimal(0), Decimal("-0.000"), Money(0, "INR")], ids=repr)
def test_division_by_zero_is_refused(divisor: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        Money("10.00", "INR") / divisor
    assert caught.value.field == "divisor"


@pytest.mark.parametrize("bad", [Decimal("NaN"), Decimal("Infinity")], ids=repr)
def test_non_finite_factors_and_divisors_are_refused(bad: Decimal) -> None:
    with pytest.raises(ValidationError) as caught:
        Money("10.00", "INR") * bad
    assert caught.value.field == "factor"
    with pytest.raises(ValidationError) as caught:
        Money("10.00", "INR") / bad
    assert caught.value.field == "divisor"


@pytest.mark.parametrize(
    "expression",
    [
        lambda m: m + 1,
        lambda m: 1 + m,
        lambda m: m - Decimal(1),
        lambda m: m * 1.5,
        lambda m: m * m,
        lambda m: m / 1.5,
        lambda m: m < 1,
        lambda m: m >= Decimal(0),
    ],
)
def test_operators_with_non_money_are_type_errors(expression: Callable[[Money], object]) -> None:
    with pytest.raises(TypeError):
        expression(Money(1, "INR"))


@pytest.mark.parametrize(("amount", "currency"), [("0.125", "INR"), ("1.5", "JPY")])
def test_minor_units_of_an_unrounded_amount_is_refused(amount: str, currency: str) -> None:
    m = Money(amount, currency)
    with pytest.raises(ValidationError) as caught:
        _ = m.minor_units
    assert caught.value.field == "amount"
    assert caught.value.value == m
    assert "rounded()" in str(caught.value)
    assert m.rounded().minor_units == m.rounded().minor_units


@pytest.mark.parametrize(
    "ratios",
    [[], [-1, 2], [0, 0], [Decimal(0)], [Decimal("NaN")], [Decimal("Infinity")], [1.5], [True]],
    ids=repr,
)
def test_allocate_refuses_bad_ratios(ratios: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        Money("10.00", "INR").allocate(ratios)
    assert caught.value.field == "ratios"


def test_allocate_refuses_an_unrounded_amount() -> None:
    with pytest.raises(ValidationError):
        Money("10.005", "INR").allocate([1, 1])


# --- range ------------------------------------------------------------------------------------

# The largest amount in each kind of currency: 18 digits of minor units.
LARGEST = {
    "INR": "9999999999999999.99",
    "JPY": "999999999999999999",
    "KWD": "999999999999999.999",
}
OUT_OF_RANGE = [
    "1E+999999999999999999",
    "1E+99999999999",
    "-1E+99999999999",
    "1E+16",
    "10000000000000000.00",
    "9999999999999999.995",
    "-9999999999999999.991",
    "1E-999999999999999999",
    "0E-999999999999999999",
    "-1E-41",
    "0E-41",
]


def test_the_range_of_an_amount_is_eighteen_digits_of_minor_units() -> None:
    assert MAX_MINOR_UNITS == 10**18 - 1 < 2**63
    assert MIN_ADJUSTED_EXPONENT == -40
    for currency, text in LARGEST.items():
        for amount in (text, "-" + text):
            m = Money(amount, currency)
            assert m.rounded() == m
            assert abs(m.minor_units) == MAX_MINOR_UNITS
            assert Money.from_minor_units(m.minor_units, currency) == m
    for tiny in ("1E-40", "-1E-40", "0E-40", Decimal("1.5E-40")):
        assert Money(tiny, "INR").rounded() == Money(0, "INR")


@pytest.mark.parametrize("text", OUT_OF_RANGE)
@pytest.mark.parametrize("kind", [str, Decimal])
def test_amounts_out_of_range_are_refused_when_built(text: str, kind: type) -> None:
    amount = kind(text)
    with pytest.raises(ValidationError) as caught:
        Money(amount, "INR")
    assert caught.value.field == "amount"
    assert caught.value.value is amount
    assert "amount=" in str(caught.value)


@pytest.mark.parametrize("units", [10**18, -(10**18), 2**63, 10**40])
def test_ints_out_of_range_are_refused(units: int) -> None:
    with pytest.raises(ValidationError) as caught:
        Money.from_minor_units(units, "INR")
    assert caught.value.field == "units"
    with pytest.raises(ValidationError) as caught:
        Money(units * 100, "JPY")
    assert caught.value.field == "amount"


def test_no_amount_in_range_rounds_out_of_it() -> None:
    # The bound is a whole number of minor units, so rounding half-up never crosses it:
    # 9999999999999999.995 would round to 10^18 paise and is refused, as is anything past .99.
    assert Money("9999999999999999.985", "INR").rounded().minor_units == MAX_MINOR_UNITS
    assert Money("-9999999999999999.985", "INR").rounded().minor_units == -MAX_MINOR_UNITS
    for beyond in ("9999999999999999.991", "9999999999999999.995", "-9999999999999999.9900001"):
        with pytest.raises(ValidationError):
            Money(beyond, "INR")


def test_products_and_quotients_out_of_range_are_refused() -> None:
    big = Money("1000000000.00", "INR")
    cases: list[tuple[Callable[[], object], str]] = [
        (lambda: big * 10**7, "factor"),
        (lambda: big * Decimal("1E+999999999999999999"), "factor"),
        (lambda: Money("1E-40", "INR") * Decimal("0.1"), "factor"),
        (lambda: Money("1E-40", "INR") * Decimal("1E-999999999999999999"), "factor"),
        (lambda: big / Decimal("1E-8"), "divisor"),
        (lambda: big / Decimal("1E-999999999999999999"), "divisor"),
        (lambda: Money("0.01", "INR") / Decimal("1E+999999999999999999"), "divisor"),
    ]
    for compute, field in cases:
        with pytest.raises(ValidationError) as caught:
            compute()
        assert caught.value.field == field
    assert big * 10**6 == Money("1000000000000000", "INR")
    assert big / Decimal("1E-6") == Money("1000000000000000", "INR")


def test_sums_beyond_the_range_stay_exact_but_have_no_minor_units() -> None:
    big = Money.from_minor_units(MAX_MINOR_UNITS, "INR")
    total = sum_money([big] * 1000, "INR")
    assert exact(total) == Fraction(MAX_MINOR_UNITS * 1000, 100)
    assert total.rounded() == total
    assert total.is_rounded()
    with pytest.raises(ValidationError) as caught:
        _ = total.minor_units
    assert "range" in caught.value.reason


extreme_amounts = st.sampled_from(
    [LARGEST["INR"], "1E-40", "-1E-40", "0E-40", "0.005", "-9999999999999999.985"]
).map(lambda text: Money(text, "INR")) | st.builds(
    Money.from_minor_units, st.integers(-MAX_MINOR_UNITS, MAX_MINOR_UNITS), st.just("INR")
)
extreme_numbers = st.sampled_from(
    [0, 1, -1, 10**18, Decimal("1E+999999999999999999"), Decimal("1E-999999999999999999")]
) | st.decimals(allow_nan=False, allow_infinity=False)


@given(extreme_amounts, extreme_amounts, extreme_numbers)
def test_no_operation_on_amounts_in_range_raises_a_raw_decimal_error(
    a: Money, b: Money, number: int | Decimal
) -> None:
    operations: list[Callable[[], object]] = [
        a.rounded,
        a.is_rounded,
        lambda: a + b,
        lambda: a - b,
        lambda: Money.rounded(a + b),
        lambda: Money.is_rounded(a - b),
        lambda: a < b,
        lambda: a / b,
        lambda: a * number,
        lambda: a / number,
        lambda: a.minor_units,
        lambda: a.rounded().minor_units,
        lambda: a.rounded().allocate([1, 2]),
        lambda: Money(str(a.amount), "INR"),
    ]
    for operation in operations:
        try:
            operation()
        except ValidationError:
            pass
        except (DecimalException, MemoryError) as error:  # pragma: no cover - the bug
            raise AssertionError(f"raw {type(error).__name__}") from error
