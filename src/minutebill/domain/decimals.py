"""The private `decimal` contexts that every Decimal computation in minutebill runs in.

Python's decimal operators (``a / b``, ``quantize()``, ``normalize()``, ``sum()`` of Decimals)
use the *ambient* context of the running thread, and a host application may have changed it:
a lower precision, another rounding mode, traps on `Inexact`, a small exponent range. No
minutebill result may depend on that. So every operation names one of the contexts built
here, through their methods (``EXACT.add(a, b)``) or the helpers below, and third-party code
that reads the ambient context itself (Babel's number formatting) runs inside `isolated()`.

The contexts are configuration, never changed; the only thing `decimal` writes to them is
their signal flags, which nothing reads. Each sets every field, so not even a host's edit of
`decimal.DefaultContext` reaches them.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from decimal import (
    MAX_EMAX,
    MAX_PREC,
    MIN_EMIN,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    localcontext,
)

__all__ = [
    "DIVISION",
    "EXACT",
    "ROUNDING",
    "divide",
    "isolated",
    "parse",
    "private_context",
    "quantize",
]


def private_context(
    precision: int = MAX_PREC, rounding: str = ROUND_HALF_UP, *, exact: bool = False
) -> Context:
    """A context that no ambient setting reaches: the full exponent range, fixed traps.

    Args:
        precision: Significant digits of each result (unbounded by default).
        rounding: How a result beyond `precision` is rounded.
        exact: Also trap `Inexact`, so that an operation that would round raises instead.

    It always traps `InvalidOperation`, `DivisionByZero` and `Overflow`: those are bugs or bad
    input, never a result.
    """
    traps = [InvalidOperation, DivisionByZero, Overflow]
    if exact:
        traps.append(Inexact)
    return Context(
        prec=precision,
        rounding=rounding,
        Emin=MIN_EMIN,
        Emax=MAX_EMAX,
        capitals=1,
        clamp=0,
        flags=[],
        traps=traps,
    )


EXACT = private_context(exact=True)
"""Addition, subtraction, multiplication and scaling that never round silently."""

DIVISION = private_context(34, ROUND_HALF_EVEN)
"""Division, which cannot always be exact (1/3): half-even at 34 significant digits (IEEE
decimal128), far below any currency's minor unit."""

ROUNDING = private_context()
"""Rounding on purpose (`quantize`): unbounded precision, so a long amount still rounds."""


def divide(dividend: Decimal | int, divisor: Decimal | int) -> Decimal:
    """``dividend / divisor`` in `DIVISION`."""
    return DIVISION.divide(dividend, divisor)


def quantize(value: Decimal, quantum: Decimal, rounding: str = ROUND_HALF_UP) -> Decimal:
    """`value` rounded to the exponent of `quantum` (``Decimal("0.01")``), half-up by default."""
    return value.quantize(quantum, rounding, ROUNDING)


def isolated() -> AbstractContextManager[Context]:
    """Run code that reads the ambient context (Babel's formatting) in a copy of `ROUNDING`.

    Inside, the thread's context has unbounded precision, rounds half-up (as `Money.rounded`
    does) and traps only real errors; the host's context is back on exit.
    """
    return localcontext(ROUNDING)


def parse(text: str) -> Decimal | None:
    """`Decimal(text)`, or None when `text` is not a number, whatever the ambient traps.

    The constructor is exact in every context, but a syntax error only raises when the
    ambient context traps `InvalidOperation` (otherwise it gives NaN); a NaN is therefore
    parsed again in `ROUNDING` to tell ``"NaN"`` from ``"abc"``.
    """
    try:
        value = Decimal(text)
        if value.is_nan():
            with isolated():
                value = Decimal(text)
    except InvalidOperation:
        return None
    return value
