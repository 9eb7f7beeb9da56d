"""Hypothesis strategies for minutebill values: money, ratings, call lengths and the catalog.

Each is a noun function returning a ``SearchStrategy``; its docstring says what it shrinks
towards. Adapter authors and host applications use them in their own property tests. Every
value drawn is valid: the domain's constructors accept it, and a catalog's items can be written
to a catalog file and read back equal.
"""

from __future__ import annotations

import operator
import string
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TypeVar

import attrs
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from minutebill.catalog import Catalog
from minutebill.domain.catalog import (
    AddOnBundle,
    BundleValidity,
    Capability,
    NumberOffer,
    OveragePolicy,
    Plan,
    PlanFeatures,
)
from minutebill.domain.money import Money, currency_exponent, known_currencies
from minutebill.domain.periods import BillingInterval
from minutebill.domain.rating import BillingIncrement
from minutebill.testing.ledger_strategies import overage_policies
from minutebill.testing.payment_strategies import prices

__all__ = [
    "add_on_bundles",
    "aware_datetimes",
    "billing_increments",
    "billing_intervals",
    "bundle_validities",
    "call_durations",
    "catalogs",
    "currencies",
    "display_names",
    "item_codes",
    "money",
    "number_offers",
    "plan_features",
    "plans",
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
    return _currency(currency).flatmap(
        lambda code: st.integers(min_units, max_units).map(
            lambda units: Money.from_minor_units(units, code)
        )
    )


def _currency(currency: str | st.SearchStrategy[str] | None) -> st.SearchStrategy[str]:
    """`currency` as a strategy: any known currency for None, just it for a code."""
    if currency is None:
        return currencies()
    return st.just(currency) if isinstance(currency, str) else currency


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


# --- the catalog: plans, bundles, number offers ---------------------------------------------


def billing_intervals(max_months: int = 36) -> st.SearchStrategy[BillingInterval]:
    """Intervals of 1 to `max_months` months, the usual 1, 3, 6 and 12 drawn often.

    Shrinks towards monthly.
    """
    usual = [m for m in (1, 3, 6, 12) if m <= max_months]
    return (st.sampled_from(usual) | st.integers(1, max_months)).map(BillingInterval)


def item_codes() -> st.SearchStrategy[str]:
    """Codes like ``pro`` or ``in-local-2``: a lowercase letter, then letters, digits or ``-``.

    Shrinks towards ``a``.
    """
    first = st.sampled_from(string.ascii_lowercase)
    rest = st.text(string.ascii_lowercase + string.digits + "-", max_size=19)
    return st.builds(operator.add, first, rest)


def display_names(max_size: int = 40) -> st.SearchStrategy[str]:
    """Any text the domain accepts as a name: not blank, no NUL, UTF-8 encodable.

    Names are shown to customers, so they are drawn from all of Unicode (right-to-left
    scripts, emoji, markup characters) to find rendering bugs. Shrinks towards ``0``.
    """
    chars = st.characters(codec="utf-8", exclude_characters="\x00")
    return st.text(chars, min_size=1, max_size=max_size).filter(str.strip)


def plan_features(
    currency: str | st.SearchStrategy[str] | None = None,
    *,
    ratings: st.SearchStrategy[BillingIncrement] | None = None,
) -> st.SearchStrategy[PlanFeatures]:
    """What a tier unlocks; an overage rate is priced in `currency` (default: any known one).

    Overage is any of the `overage_policies`; `ratings` replaces `billing_increments`.
    Shrinks towards one concurrent call, no phone numbers, priority 0, per-second rating
    and `OveragePolicy.block()`.
    """
    return _in_currency(
        currency,
        lambda code: st.builds(
            PlanFeatures,
            concurrent_calls=st.integers(1, 1000),
            phone_numbers=st.integers(0, 1000),
            queue_priority=st.integers(0, 100),
            overage=overage_policies(code),
            rating=_or(ratings, billing_increments()),
        ),
        _features_in,
    )


def plans(
    currency: str | st.SearchStrategy[str] | None = None,
    *,
    codes: str | st.SearchStrategy[str] | None = None,
    intervals: st.SearchStrategy[BillingInterval] | None = None,
    max_price_units: int = 10_000_000,
) -> st.SearchStrategy[Plan]:
    """Plans priced in `currency` (default: any known one), overage rate included.

    Args:
        currency: A currency code, or a strategy of them.
        codes: The plan's code, or a strategy of them (default `item_codes`).
        intervals: Billing intervals (default `billing_intervals`).
        max_price_units: The highest price, in minor units of the currency.

    Shrinks towards a free monthly plan ``a`` in ``INR`` with no included minutes and the
    simplest `plan_features`.
    """
    return _in_currency(
        currency,
        lambda code: st.builds(
            Plan,
            code=_text(codes, item_codes()),
            name=display_names(),
            price=prices(code, max_units=max_price_units),
            interval=_or(intervals, billing_intervals()),
            included_minutes=st.integers(0, 100_000),
            features=plan_features(code),
        ),
        _plan_in,
    )


def bundle_validities(max_days: int = 3650) -> st.SearchStrategy[BundleValidity]:
    """Until the plan period ends, for 1 to `max_days` days, or forever.

    Shrinks towards `BundleValidity.plan_period()`.
    """
    return st.one_of(
        st.just(BundleValidity.plan_period()),
        st.integers(1, max_days).map(BundleValidity.for_days),
        st.just(BundleValidity.never_expires()),
    )


def add_on_bundles(
    currency: str | st.SearchStrategy[str] | None = None,
    *,
    codes: str | st.SearchStrategy[str] | None = None,
    validities: st.SearchStrategy[BundleValidity] | None = None,
    max_price_units: int = 10_000_000,
) -> st.SearchStrategy[AddOnBundle]:
    """Add-on minute bundles priced in `currency` (default: any known one), any validity.

    `codes` is the bundle's code or a strategy of them; `validities` replaces
    `bundle_validities`. Shrinks towards a free one-minute bundle ``a`` in ``INR`` that lasts
    until the end of the plan period.
    """
    return _in_currency(
        currency,
        lambda code: st.builds(
            AddOnBundle,
            code=_text(codes, item_codes()),
            name=display_names(),
            minutes=st.integers(1, 100_000),
            price=prices(code, max_units=max_price_units),
            validity=_or(validities, bundle_validities()),
        ),
        _bundle_in,
    )


_COUNTRIES = ("IN", "US", "GB", "AE", "SG", "DE", "AU", "CA")
_NUMBER_KINDS = ("local", "mobile", "toll-free", "national")


def number_offers(
    currency: str | st.SearchStrategy[str] | None = None,
    *,
    codes: str | st.SearchStrategy[str] | None = None,
    countries: str | st.SearchStrategy[str] | None = None,
    max_fee_units: int = 10_000_000,
) -> st.SearchStrategy[NumberOffer]:
    """Phone-number offers whose fees are both in `currency` (default: any known one).

    `codes` and `countries` are a value or a strategy of them; countries default to
    common ISO 3166 codes or any two capital letters. Capabilities are any non-empty set;
    kinds are ``local``, ``mobile``, ``toll-free`` or ``national``. Shrinks towards a free,
    voice-only, monthly local number ``a`` in ``IN``, priced in ``INR``.
    """
    any_country = st.sampled_from(_COUNTRIES) | st.from_regex(r"[A-Z]{2}", fullmatch=True)
    return _in_currency(
        currency,
        lambda code: st.builds(
            NumberOffer,
            code=_text(codes, item_codes()),
            country=_text(countries, any_country),
            kind=st.sampled_from(_NUMBER_KINDS),
            capabilities=st.frozensets(st.sampled_from(Capability), min_size=1),
            monthly_fee=prices(code, max_units=max_fee_units),
            upfront_fee=prices(code, max_units=max_fee_units),
            interval=billing_intervals(),
        ),
        _offer_in,
    )


def catalogs(
    currency: str | st.SearchStrategy[str] | None = None,
    *,
    plan_codes: Sequence[str] | None = None,
    bundle_codes: Sequence[str] | None = None,
    offer_codes: Sequence[str] | None = None,
    max_items: int = 4,
) -> st.SearchStrategy[Catalog]:
    """Catalogs priced in one currency, codes unique within each kind of item.

    Args:
        currency: The catalog's currency, or a strategy of them (default: any known one).
        plan_codes: If given, the catalog holds exactly these plans, in this order (so a
            test can look up ``catalog.plan("pro")``); otherwise 1 to `max_items` plans.
        bundle_codes: Likewise for add-on bundles (otherwise 0 to `max_items`).
        offer_codes: Likewise for number offers (otherwise 0 to `max_items`).
        max_items: The most items of each kind drawn when their codes are not given.

    Returns:
        A strategy that shrinks towards an ``INR`` catalog holding one simplest `plans`
        value, no bundles and no number offers.

    Raises:
        InvalidArgument: for a list of codes that is a string or holds a code twice.
    """
    for name, given in (
        ("plan_codes", plan_codes),
        ("bundle_codes", bundle_codes),
        ("offer_codes", offer_codes),
    ):
        if isinstance(given, str) or (given is not None and len(set(given)) != len(given)):
            raise InvalidArgument(f"{name}={given!r}: expected a list of distinct codes")
    return _in_currency(
        currency,
        lambda code: st.builds(
            Catalog,
            plans=_items(lambda c: plans(code, codes=c), plan_codes, 1, max_items),
            bundles=_items(lambda c: add_on_bundles(code, codes=c), bundle_codes, 0, max_items),
            number_offers=_items(lambda c: number_offers(code, codes=c), offer_codes, 0, max_items),
        ),
        _catalog_in,
    )


T = TypeVar("T")
_Item = TypeVar("_Item", Plan, AddOnBundle, NumberOffer)


def _items(
    items: Callable[[str | None], st.SearchStrategy[_Item]],
    codes: Sequence[str] | None,
    min_size: int,
    max_size: int,
) -> st.SearchStrategy[list[_Item]]:
    """Items with exactly `codes`, or `min_size` to `max_size` of them with distinct codes."""
    if codes is not None:
        return st.tuples(*(items(code) for code in codes)).map(list)
    return st.lists(
        items(None), min_size=min_size, max_size=max_size, unique_by=lambda item: item.code
    )


def _in_currency(
    currency: str | st.SearchStrategy[str] | None,
    build: Callable[[str], st.SearchStrategy[T]],
    priced_in: Callable[[T, str], T],
) -> st.SearchStrategy[T]:
    """`build(code)` for a currency `code`.

    For a strategy of currencies (or None), values are drawn in INR and their amounts then
    take the currency drawn, minor units kept: the currency shrinks on its own, where a
    ``flatmap`` would draw everything again for each currency the shrinker tries.
    """
    if isinstance(currency, str):
        return build(currency)
    return st.builds(priced_in, build("INR"), _currency(currency))


def _price_in(price: Money, currency: str) -> Money:
    return Money.from_minor_units(price.minor_units, currency)


def _features_in(features: PlanFeatures, currency: str) -> PlanFeatures:
    overage = features.overage
    if overage.rate_per_minute is not None:
        overage = OveragePolicy(overage.mode, _price_in(overage.rate_per_minute, currency))
    return attrs.evolve(features, overage=overage)


def _plan_in(plan: Plan, currency: str) -> Plan:
    return attrs.evolve(
        plan,
        price=_price_in(plan.price, currency),
        features=_features_in(plan.features, currency),
    )


def _bundle_in(bundle: AddOnBundle, currency: str) -> AddOnBundle:
    return attrs.evolve(bundle, price=_price_in(bundle.price, currency))


def _offer_in(offer: NumberOffer, currency: str) -> NumberOffer:
    return attrs.evolve(
        offer,
        monthly_fee=_price_in(offer.monthly_fee, currency),
        upfront_fee=_price_in(offer.upfront_fee, currency),
    )


def _catalog_in(catalog: Catalog, currency: str) -> Catalog:
    return Catalog(
        plans=[_plan_in(p, currency) for p in catalog.plans],
        bundles=[_bundle_in(b, currency) for b in catalog.bundles],
        number_offers=[_offer_in(o, currency) for o in catalog.number_offers],
    )


def _text(
    value: str | st.SearchStrategy[str] | None, default: st.SearchStrategy[str]
) -> st.SearchStrategy[str]:
    """`value` as a strategy; `default` for None."""
    return st.just(value) if isinstance(value, str) else _or(value, default)


def _or(given: st.SearchStrategy[T] | None, default: st.SearchStrategy[T]) -> st.SearchStrategy[T]:
    """`given`, or `default` for None (a strategy's truth value is not to be relied on)."""
    return default if given is None else given
