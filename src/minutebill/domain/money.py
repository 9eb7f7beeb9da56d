"""Exact amounts of money in one currency.

`Money` is a frozen, hashable value: a `Decimal` amount and an ISO 4217 code that Babel knows.
Arithmetic is exact and never consults the ambient `decimal` context (its precision, rounding
or traps); rounding happens only when asked (`rounded()`), to the currency's minor unit,
half-up. Anything that reaches a ledger, an order or a payment is rounded first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from decimal import ROUND_HALF_UP, Decimal, DecimalException
from fractions import Fraction
from functools import cache
from typing import final, overload

from babel.numbers import get_currency_precision, list_currencies

from minutebill.domain.decimals import DIVISION, EXACT, ROUNDING, parse
from minutebill.errors import CurrencyMismatch, ValidationError

__all__ = [
    "MAX_MINOR_UNITS",
    "MIN_ADJUSTED_EXPONENT",
    "Money",
    "currency_exponent",
    "known_currencies",
    "minor_unit",
    "sum_money",
]

MAX_MINOR_UNITS = 10**18 - 1
"""The largest amount `Money` accepts, in minor units: 18 digits (₹9,999,999,999,999,999.99).

Gateways carry amounts as signed 64-bit integers, which hold every 18-digit number (2⁶³ is
about 9.2 × 10¹⁸); a bound in minor units also means rounding half-up never leaves it."""

MIN_ADJUSTED_EXPONENT = -40
"""The exponent of an amount's leading digit (`Decimal.adjusted`) is at least this: a non-zero
amount is at least 10⁻⁴⁰, a zero is written with at most 40 places. Far finer than any minor
unit, and it keeps every exact sum a few dozen digits long."""

_new = object.__new__

# Every operation runs in one of the private contexts of `minutebill.domain.decimals`, never
# the ambient `decimal` context, so a host's `localcontext()` (precision, rounding, traps)
# cannot change a result.
_add = EXACT.add
_subtract = EXACT.subtract

# currency -> the exponent of the leading digit below which an amount is surely in range
# (fewer than 10^17 minor units). Filled on first use of each currency, like the caches below.
_FAST_TOP: dict[str, int] = {}


@cache
def known_currencies() -> frozenset[str]:
    """The ISO 4217 codes Babel has data for (read once, then cached)."""
    return frozenset(list_currencies())


@cache
def currency_exponent(currency: str) -> int:
    """Digits after the decimal point of a currency's minor unit (INR 2, JPY 0, KWD 3).

    Raises:
        ValidationError: if Babel does not know the currency.
    """
    _require_currency(currency)
    return int(get_currency_precision(currency))


def _require_currency(currency: object) -> str:
    if not isinstance(currency, str) or currency not in known_currencies():
        raise ValidationError("currency", currency, "not an ISO 4217 code known to Babel")
    return currency


@cache
def minor_unit(currency: str) -> Decimal:
    """The currency's minor unit as an amount: ``Decimal("0.01")`` for INR, ``1`` for JPY.

    Raises:
        ValidationError: if Babel does not know the currency.
    """
    return Decimal(1).scaleb(-currency_exponent(currency), EXACT)


@cache
def _largest(currency: str) -> Decimal:
    return Decimal(MAX_MINOR_UNITS).scaleb(-currency_exponent(currency), EXACT)


def _fast_top(currency: object) -> int:
    """Validate `currency` and remember its fast range check (see `_FAST_TOP`)."""
    code = _require_currency(currency)
    top = _FAST_TOP[code] = 17 - currency_exponent(code)
    return top


def _range_error(value: Decimal, currency: str) -> str | None:
    """Why `value` is outside the range of an amount in `currency`, or None if it is not."""
    adjusted = value.adjusted()
    if adjusted < MIN_ADJUSTED_EXPONENT:
        return (
            f"finer than 1E{MIN_ADJUSTED_EXPONENT}: a non-zero amount is at least that, "
            f"a zero has at most {-MIN_ADJUSTED_EXPONENT} places"
        )
    if value.copy_abs() > _largest(currency):
        return _outside(currency)
    return None


def _outside(currency: str) -> str:
    return (
        f"outside the range of an amount: at most {MAX_MINOR_UNITS:,} minor units "
        f"({_largest(currency)} {currency}), what a gateway's 64-bit integer holds"
    )


def _to_decimal(amount: object) -> Decimal:
    if isinstance(amount, bool | float):
        raise ValidationError(
            "amount", amount, "use Decimal, int or a numeric string; float is inexact"
        )
    if isinstance(amount, Decimal):
        value = amount
    elif isinstance(amount, int):
        value = Decimal(amount)
    elif isinstance(amount, str):
        parsed = parse(amount.strip())  # exact, and "abc" told from "NaN" whatever the context
        if parsed is None:
            raise ValidationError("amount", amount, "not a decimal number")
        value = parsed
    else:
        raise ValidationError("amount", amount, "use Decimal, int or a numeric string")
    if not value.is_finite():
        raise ValidationError("amount", amount, "must be a finite number")
    return value


@final
class Money:
    """An exact amount in one currency.

    Args:
        amount: A `Decimal`, `int` or numeric string. `float`, NaN and infinities are refused
            because they cannot represent a price exactly.
        currency: An ISO 4217 code Babel knows (``"INR"``, ``"USD"``, ``"JPY"``, ``"KWD"``).

    Raises:
        ValidationError: for a float, a non-finite or non-numeric amount, an amount out of
            range, or an unknown currency.

    **Range.** An amount is at most `MAX_MINOR_UNITS` (10¹⁸ − 1) minor units either side of
    zero, ₹9,999,999,999,999,999.99 or ¥999,999,999,999,999,999, so its minor units always
    fit the signed 64-bit integer a gateway uses, and its leading digit is no finer than
    10⁻⁴⁰ (`MIN_ADJUSTED_EXPONENT`). Every constructor checks it (`Money(...)`,
    `from_minor_units`, and so catalog files and stored state), and so do `*` and `/`, whose
    one step can leave it. `+` and `-` do not, to stay fast: a sum of n amounts in range is
    exact and at most log₁₀ n digits longer, so it still rounds and compares; only its
    `minor_units` refuses a total beyond the range.

    Arithmetic (`+`, `-`, comparisons, `Money / Money`) works only within one currency and
    raises `CurrencyMismatch` otherwise. Addition, subtraction and multiplication are exact;
    division rounds half-even at 34 significant digits. No result depends on the ambient
    `decimal` context. Call `rounded()` before the amount is charged or stored.
    """

    # Frozen: the public `amount` and `currency` are read-only properties over private
    # (name-mangled) slots, and there is no `__dict__`, so no attribute can be set or deleted
    # through the public surface. Only this class writes the slots: `__init__` (which
    # validates), `_trusted` and the arithmetic hot path (results of valid operands). Plain
    # slot stores keep `a + b` fast: no `__setattr__` override, no `object.__setattr__`.
    __slots__ = ("__amount", "__currency")

    __amount: Decimal
    __currency: str

    def __init__(self, amount: Decimal | int | str, currency: str) -> None:
        try:
            top = _FAST_TOP[currency]
        except (KeyError, TypeError):  # a currency not seen yet, or unhashable
            top = _fast_top(currency)
        value = _to_decimal(amount)
        # One cheap test for the usual amount; the exact bounds only near or past them.
        if not MIN_ADJUSTED_EXPONENT <= value.adjusted() < top:
            reason = _range_error(value, currency)
            if reason is not None:
                raise ValidationError("amount", amount, reason)
        self.__amount = value
        self.__currency = currency

    @classmethod
    def _trusted(cls, amount: Decimal, currency: str) -> Money:
        """Build without validation, for results of arithmetic on valid operands."""
        money: Money = _new(cls)
        money.__amount = amount
        money.__currency = currency
        return money

    @property
    def amount(self) -> Decimal:
        """The exact amount; a whole number of minor units only once `rounded()`."""
        return self.__amount

    @property
    def currency(self) -> str:
        """The ISO 4217 code."""
        return self.__currency

    @classmethod
    def zero(cls, currency: str) -> Money:
        """Zero in `currency`, already rounded: ``0.00`` INR, ``0`` JPY, ``0.000`` KWD.

        So a total with nothing in it (`sum_money` of no amounts, a new wallet, an order
        without up-front fees) is written like any other rounded amount. It equals, and
        hashes like, every other zero in `currency` (``Money(0, "INR")``).

        Raises:
            ValidationError: if Babel does not know the currency.
        """
        return cls.from_minor_units(0, currency)

    @classmethod
    def from_minor_units(cls, units: int, currency: str) -> Money:
        """The amount a gateway states in minor units: ``from_minor_units(15000, "INR")`` is ₹150.

        Raises:
            ValidationError: if `units` is not an int, is beyond ±`MAX_MINOR_UNITS`, or the
                currency is unknown.
        """
        if isinstance(units, bool) or not isinstance(units, int):
            raise ValidationError("units", units, "minor units must be an int")
        _require_currency(currency)  # before the cached lookup, which would hash it
        if not -MAX_MINOR_UNITS <= units <= MAX_MINOR_UNITS:
            raise ValidationError(
                "units", units, f"outside the range of an amount: at most {MAX_MINOR_UNITS:,}"
            )
        return cls._trusted(Decimal(units).scaleb(-currency_exponent(currency), EXACT), currency)

    def _in_range(
        self,
        operation: Callable[[Decimal, Decimal | int], Decimal],
        name: str,
        operand: Decimal | int,
    ) -> Money:
        """`operation(amount, operand)` (`*` or `/`), checked against the range of an amount.

        `name` is the operand's, for the error.
        """
        try:
            amount = operation(self.__amount, operand)
        except DecimalException:  # an exponent past what `decimal` can hold
            raise ValidationError(
                name, operand, "the result is outside the range of an amount"
            ) from None
        reason = _range_error(amount, self.__currency)
        if reason is not None:
            raise ValidationError(name, operand, f"the result is {reason}")
        return Money._trusted(amount, self.__currency)

    # --- frozen value semantics -------------------------------------------------------------

    def __reduce__(self) -> tuple[type[Money], tuple[Decimal, str]]:
        return (Money, (self.__amount, self.__currency))

    def __repr__(self) -> str:
        return f"Money('{self.__amount}', '{self.__currency}')"

    def __str__(self) -> str:
        return f"{self.__amount} {self.__currency}"

    def __eq__(self, other: object) -> bool:
        if type(other) is not Money:
            return NotImplemented
        return self.__currency == other.__currency and self.__amount == other.__amount

    def __hash__(self) -> int:
        return hash((self.__amount, self.__currency))

    def _check(self, other: Money) -> None:
        if other.__currency != self.__currency:
            raise CurrencyMismatch(self.__currency, other.__currency)

    def __lt__(self, other: Money) -> bool:
        if type(other) is not Money:
            return NotImplemented
        self._check(other)
        return self.__amount < other.__amount

    def __le__(self, other: Money) -> bool:
        if type(other) is not Money:
            return NotImplemented
        self._check(other)
        return self.__amount <= other.__amount

    def __gt__(self, other: Money) -> bool:
        if type(other) is not Money:
            return NotImplemented
        self._check(other)
        return self.__amount > other.__amount

    def __ge__(self, other: Money) -> bool:
        if type(other) is not Money:
            return NotImplemented
        self._check(other)
        return self.__amount >= other.__amount

    def __bool__(self) -> bool:
        return bool(self.__amount)

    # --- arithmetic -------------------------------------------------------------------------

    # `__add__` and `__sub__` are the hot path (ledgers and orders sum many amounts): they
    # inline `_trusted` and skip validation, since both operands were validated when built.
    # Addition and subtraction run in the private exact context, so no ambient `decimal`
    # setting can round them.

    def __add__(self, other: Money) -> Money:
        if type(other) is not Money:
            return NotImplemented
        currency = self.__currency
        if other.__currency != currency:
            raise CurrencyMismatch(currency, other.__currency)
        money: Money = _new(Money)
        money.__amount = _add(self.__amount, other.__amount)
        money.__currency = currency
        return money

    def __sub__(self, other: Money) -> Money:
        if type(other) is not Money:
            return NotImplemented
        currency = self.__currency
        if other.__currency != currency:
            raise CurrencyMismatch(currency, other.__currency)
        money: Money = _new(Money)
        money.__amount = _subtract(self.__amount, other.__amount)
        money.__currency = currency
        return money

    def __neg__(self) -> Money:
        return Money._trusted(self.__amount.copy_negate(), self.__currency)

    def __abs__(self) -> Money:
        return Money._trusted(self.__amount.copy_abs(), self.__currency)

    def __mul__(self, factor: Decimal | int) -> Money:
        if isinstance(factor, bool) or not isinstance(factor, Decimal | int):
            return NotImplemented
        if isinstance(factor, Decimal) and not factor.is_finite():
            raise ValidationError("factor", factor, "must be a finite number")
        return self._in_range(EXACT.multiply, "factor", factor)

    __rmul__ = __mul__

    @overload
    def __truediv__(self, other: Money) -> Decimal: ...

    @overload
    def __truediv__(self, other: Decimal | int) -> Money: ...

    def __truediv__(self, other: Money | Decimal | int) -> Money | Decimal:
        if type(other) is Money:
            self._check(other)
            if not other.__amount:
                raise ValidationError("divisor", other, "cannot divide by zero")
            return DIVISION.divide(self.__amount, other.__amount)
        if isinstance(other, bool) or not isinstance(other, Decimal | int):
            return NotImplemented
        if isinstance(other, Decimal) and not other.is_finite():
            raise ValidationError("divisor", other, "must be a finite number")
        if not other:
            raise ValidationError("divisor", other, "cannot divide by zero")
        return self._in_range(DIVISION.divide, "divisor", other)

    # --- rounding and minor units -----------------------------------------------------------

    @property
    def exponent(self) -> int:
        """Digits of the currency's minor unit (INR 2, JPY 0, KWD 3)."""
        return currency_exponent(self.__currency)

    def rounded(self) -> Money:
        """This amount quantised to the currency's minor unit, half-up.

        Uses an explicit rounding mode, never the ambient decimal context, so the result is
        the same in every thread and host. The result is written with the currency's places
        (``7999`` INR gives ``7999.00``), and an amount that rounds to zero is plain zero,
        never ``-0.00`` (which a locale would show as "-₹0.00").
        """
        amount = self.__amount.quantize(minor_unit(self.__currency), ROUND_HALF_UP, ROUNDING)
        if not amount:
            amount = amount.copy_abs()  # -0.001 quantises to -0.00
        return Money._trusted(amount, self.__currency)

    def is_rounded(self) -> bool:
        """Whether the amount is a whole number of minor units."""
        return self.__amount == self.__amount.quantize(
            minor_unit(self.__currency), ROUND_HALF_UP, ROUNDING
        )

    @property
    def minor_units(self) -> int:
        """The amount as an integer count of minor units (paise, cents, fils).

        Raises:
            ValidationError: if the amount is not a whole number of minor units (round
                first), or is a sum beyond ±`MAX_MINOR_UNITS`, which no gateway can carry.
        """
        if self.__amount.copy_abs() > _largest(self.__currency):
            raise ValidationError("amount", self, _outside(self.__currency))
        scaled = self.__amount.scaleb(currency_exponent(self.__currency), EXACT)
        if scaled != scaled.to_integral_value(context=EXACT):
            raise ValidationError(
                "amount", self, "not a whole number of minor units; call rounded() first"
            )
        return int(scaled)

    def allocate(self, ratios: Sequence[Decimal | int]) -> list[Money]:
        """Split this (rounded) amount by `ratios` without losing or inventing a minor unit.

        Largest remainder: each part gets its floor share in minor units, then the leftover
        units go one each to the parts with the largest remainders (earliest first on ties).
        The parts always sum exactly to the amount and differ from the exact shares by less
        than one minor unit.

        Raises:
            ValidationError: for no ratios, a negative ratio, ratios summing to zero, or an
                amount that is not a whole number of minor units.
        """
        if not ratios:
            raise ValidationError("ratios", ratios, "at least one ratio is needed")
        exact: list[Fraction] = []
        for ratio in ratios:
            if isinstance(ratio, bool) or not isinstance(ratio, Decimal | int):
                raise ValidationError("ratios", ratio, "ratios must be Decimal or int")
            if not Decimal(ratio).is_finite() or ratio < 0:
                raise ValidationError("ratios", ratio, "ratios must be finite and non-negative")
            exact.append(Fraction(ratio))
        total_ratio = sum(exact, Fraction(0))
        if not total_ratio:
            raise ValidationError("ratios", ratios, "ratios must not all be zero")
        units = self.minor_units
        sign = -1 if units < 0 else 1
        units = abs(units)
        # Exact rational shares: no decimal context, so no rounding before the floor.
        shares = [units * r / total_ratio for r in exact]
        floors = [s.numerator // s.denominator for s in shares]
        leftover = units - sum(floors)
        by_remainder = sorted(range(len(shares)), key=lambda i: (floors[i] - shares[i], i))
        for i in by_remainder[:leftover]:
            floors[i] += 1
        return [Money.from_minor_units(sign * part, self.__currency) for part in floors]


def sum_money(amounts: Iterable[Money], currency: str) -> Money:
    """Sum `amounts`, all in `currency` (`Money.zero`, rounded, when empty).

    The sum starts from `Money.zero`, so a sum of rounded amounts has the currency's places
    whatever the amounts' own (``5`` INR sums to ``5.00``); its value is the exact sum.

    Raises:
        CurrencyMismatch: if any amount is in another currency.
    """
    total = Money.zero(currency)
    for amount in amounts:
        total += amount
    return total
