"""Exact amounts of money in one currency.

`Money` is a frozen, hashable value: a `Decimal` amount and an ISO 4217 code that Babel knows.
Arithmetic is exact and never consults the ambient `decimal` context for rounding; rounding
happens only when asked (`rounded()`), to the currency's minor unit, half-up. Anything that
reaches a ledger, an order or a payment is rounded first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache
from typing import final, overload

from babel.numbers import get_currency_precision, list_currencies

from minutebill.errors import CurrencyMismatch, ValidationError

__all__ = ["Money", "currency_exponent", "known_currencies", "sum_money"]

_set = object.__setattr__
_new = object.__new__


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
    if currency not in known_currencies():
        raise ValidationError("currency", currency, "not an ISO 4217 code known to Babel")
    return int(get_currency_precision(currency))


@cache
def _quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-currency_exponent(currency))


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
        try:
            value = Decimal(amount.strip())
        except InvalidOperation:
            raise ValidationError("amount", amount, "not a decimal number") from None
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
        ValidationError: for a float, a non-finite or non-numeric amount, or an unknown currency.

    Arithmetic (`+`, `-`, comparisons, `Money / Money`) works only within one currency and
    raises `CurrencyMismatch` otherwise. Multiplying or dividing by a number stays exact;
    call `rounded()` before the amount is charged or stored.
    """

    __slots__ = ("amount", "currency")

    amount: Decimal
    currency: str

    def __init__(self, amount: Decimal | int | str, currency: str) -> None:
        if not isinstance(currency, str) or currency not in known_currencies():
            raise ValidationError("currency", currency, "not an ISO 4217 code known to Babel")
        _set(self, "amount", _to_decimal(amount))
        _set(self, "currency", currency)

    @classmethod
    def _trusted(cls, amount: Decimal, currency: str) -> Money:
        """Build without validation, for results of arithmetic on valid operands."""
        money: Money = _new(cls)
        _set(money, "amount", amount)
        _set(money, "currency", currency)
        return money

    @classmethod
    def zero(cls, currency: str) -> Money:
        """Zero in `currency`."""
        return cls(0, currency)

    @classmethod
    def from_minor_units(cls, units: int, currency: str) -> Money:
        """The amount a gateway states in minor units: ``from_minor_units(15000, "INR")`` is ₹150.

        Raises:
            ValidationError: if `units` is not an int or the currency is unknown.
        """
        if isinstance(units, bool) or not isinstance(units, int):
            raise ValidationError("units", units, "minor units must be an int")
        return cls(Decimal(units).scaleb(-currency_exponent(currency)), currency)

    # --- frozen value semantics -------------------------------------------------------------

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Money is immutable; cannot set {name}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"Money is immutable; cannot delete {name}")

    def __reduce__(self) -> tuple[type[Money], tuple[Decimal, str]]:
        return (Money, (self.amount, self.currency))

    def __repr__(self) -> str:
        return f"Money('{self.amount}', '{self.currency}')"

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"

    def __eq__(self, other: object) -> bool:
        if type(other) is not Money:
            return NotImplemented
        return self.currency == other.currency and self.amount == other.amount

    def __hash__(self) -> int:
        return hash((self.amount, self.currency))

    def _check(self, other: Money) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatch(self.currency, other.currency)

    def __lt__(self, other: Money) -> bool:
        self._check(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._check(other)
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        self._check(other)
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        self._check(other)
        return self.amount >= other.amount

    def __bool__(self) -> bool:
        return bool(self.amount)

    # --- arithmetic -------------------------------------------------------------------------

    def __add__(self, other: Money) -> Money:
        if type(other) is not Money:
            return NotImplemented
        if other.currency != self.currency:
            raise CurrencyMismatch(self.currency, other.currency)
        money: Money = _new(Money)
        _set(money, "amount", self.amount + other.amount)
        _set(money, "currency", self.currency)
        return money

    def __sub__(self, other: Money) -> Money:
        if type(other) is not Money:
            return NotImplemented
        if other.currency != self.currency:
            raise CurrencyMismatch(self.currency, other.currency)
        money: Money = _new(Money)
        _set(money, "amount", self.amount - other.amount)
        _set(money, "currency", self.currency)
        return money

    def __neg__(self) -> Money:
        return Money._trusted(-self.amount, self.currency)

    def __abs__(self) -> Money:
        return Money._trusted(abs(self.amount), self.currency)

    def __mul__(self, factor: Decimal | int) -> Money:
        if isinstance(factor, bool) or not isinstance(factor, Decimal | int):
            return NotImplemented
        return Money._trusted(self.amount * factor, self.currency)

    __rmul__ = __mul__

    @overload
    def __truediv__(self, other: Money) -> Decimal: ...

    @overload
    def __truediv__(self, other: Decimal | int) -> Money: ...

    def __truediv__(self, other: Money | Decimal | int) -> Money | Decimal:
        if type(other) is Money:
            self._check(other)
            if not other.amount:
                raise ValidationError("divisor", other, "cannot divide by zero")
            return self.amount / other.amount
        if isinstance(other, bool) or not isinstance(other, Decimal | int):
            return NotImplemented
        if not other:
            raise ValidationError("divisor", other, "cannot divide by zero")
        return Money._trusted(self.amount / other, self.currency)

    # --- rounding and minor units -----------------------------------------------------------

    @property
    def exponent(self) -> int:
        """Digits of the currency's minor unit (INR 2, JPY 0, KWD 3)."""
        return currency_exponent(self.currency)

    def rounded(self) -> Money:
        """This amount quantised to the currency's minor unit, half-up.

        Uses an explicit rounding mode, never the ambient decimal context, so the result is
        the same in every thread and host.
        """
        return Money._trusted(
            self.amount.quantize(_quantum(self.currency), rounding=ROUND_HALF_UP), self.currency
        )

    def is_rounded(self) -> bool:
        """Whether the amount is a whole number of minor units."""
        return self.amount == self.amount.quantize(_quantum(self.currency), rounding=ROUND_HALF_UP)

    @property
    def minor_units(self) -> int:
        """The amount as an integer count of minor units (paise, cents, fils).

        Raises:
            ValidationError: if the amount is not a whole number of minor units; round first.
        """
        scaled = self.amount.scaleb(currency_exponent(self.currency))
        if scaled != scaled.to_integral_value():
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
        exact: list[Decimal] = []
        for ratio in ratios:
            if isinstance(ratio, bool) or not isinstance(ratio, Decimal | int):
                raise ValidationError("ratios", ratio, "ratios must be Decimal or int")
            if not Decimal(ratio).is_finite() or ratio < 0:
                raise ValidationError("ratios", ratio, "ratios must be finite and non-negative")
            exact.append(Decimal(ratio))
        total_ratio = sum(exact, Decimal(0))
        if not total_ratio:
            raise ValidationError("ratios", ratios, "ratios must not all be zero")
        units = self.minor_units
        sign = -1 if units < 0 else 1
        units = abs(units)
        shares = [Decimal(units) * r / total_ratio for r in exact]
        floors = [int(s.to_integral_value(rounding="ROUND_FLOOR")) for s in shares]
        leftover = units - sum(floors)
        by_remainder = sorted(range(len(shares)), key=lambda i: (floors[i] - shares[i], i))
        for i in by_remainder[:leftover]:
            floors[i] += 1
        return [Money.from_minor_units(sign * part, self.currency) for part in floors]


def sum_money(amounts: Iterable[Money], currency: str) -> Money:
    """Sum `amounts`, all in `currency` (zero when empty).

    Raises:
        CurrencyMismatch: if any amount is in another currency.
    """
    total = Money.zero(currency)
    for amount in amounts:
        total += amount
    return total
