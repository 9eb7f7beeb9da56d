"""Hypothesis strategies for minutebill values.

Each is a noun function returning a ``SearchStrategy``; its docstring says what it shrinks
towards. Adapter authors and host applications use them in their own property tests.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import strategies as st

from minutebill.domain.money import Money, currency_exponent, known_currencies
from minutebill.domain.rating import BillingIncrement

__all__ = [
    "aware_datetimes",
    "billing_increments",
    "call_durations",
    "currencies",
    "money",
]


def currencies() -> st.SearchStrategy[str]:
    """ISO 4217 codes Babel knows; shrinks towards ``INR``."""
    return st.just("INR") | st.sampled_from(sorted(known_currencies()))


def money(
    currency: str | st.SearchStrategy[str] | None = None,
    *,
    min_units: int = -(10**12),
    max_units: int = 10**12,
) -> st.SearchStrategy[Money]:
    """Rounded amounts (whole minor units) in `currency` (default: any known currency).

    Shrinks towards zero in ``INR``.
    """
    codes = (
        currencies()
        if currency is None
        else (st.just(currency) if isinstance(currency, str) else currency)
    )
    return codes.flatmap(
        lambda code: st.integers(min_units, max_units).map(
            lambda units: Money.from_minor_units(units, code)
        )
    )


def exact_amounts(places: int = 6) -> st.SearchStrategy[Decimal]:
    """Finite decimals with up to `places` fractional digits; shrinks towards 0."""
    return st.decimals(
        min_value=Decimal(-(10**9)), max_value=Decimal(10**9), places=places, allow_nan=False
    )


def billing_increments() -> st.SearchStrategy[BillingIncrement]:
    """Pulse rules, common presets first; shrinks towards per-second rating."""
    presets = st.sampled_from(
        [
            BillingIncrement.PER_SECOND,
            BillingIncrement.PER_MINUTE,
            BillingIncrement.SIXTY_SIX,
            BillingIncrement.SIX_SIX,
        ]
    )
    custom = st.builds(
        BillingIncrement,
        st.integers(1, 600),
        st.integers(1, 120),
        st.integers(0, 600),
    )
    return presets | custom


def call_durations(max_seconds: int = 4 * 3600) -> st.SearchStrategy[timedelta]:
    """Call lengths from zero up to `max_seconds`, with microseconds; shrinks towards zero."""
    return st.integers(0, max_seconds * 1_000_000).map(lambda us: timedelta(microseconds=us))


def aware_datetimes(min_year: int = 2000, max_year: int = 2099) -> st.SearchStrategy[datetime]:
    """Aware instants in UTC within the years given; shrinks towards Jan 1 of `min_year`."""
    return st.datetimes(
        min_value=datetime(min_year, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive
        max_value=datetime(max_year, 12, 31),  # noqa: DTZ001
        timezones=st.just(UTC),
    )


def minor_unit_exponents() -> st.SearchStrategy[int]:
    """The exponents of known currencies (0, 2, 3, ...)."""
    return currencies().map(currency_exponent)
