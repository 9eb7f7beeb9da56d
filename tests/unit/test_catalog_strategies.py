"""The testing kit's catalog strategies draw only valid values, which a catalog file round-trips.

minutebill reads catalog files but writes none, so `catalog_data` below writes the mapping a
catalog file parses to (the keys of ``docs/how-to/catalog.md``); reading it back goes through
`schemas.CatalogSchema`, exactly as `Catalog.from_file` does after parsing.
"""

from __future__ import annotations

import json
from typing import Any

import attrs
import pytest
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from minutebill import (
    AddOnBundle,
    BillingIncrement,
    BillingInterval,
    BundleValidity,
    Capability,
    Catalog,
    Money,
    NumberOffer,
    OverageMode,
    OveragePolicy,
    Plan,
    PlanFeatures,
    ValidityKind,
)
from minutebill.testing.strategies import (
    add_on_bundles,
    billing_intervals,
    bundle_validities,
    catalogs,
    display_names,
    item_codes,
    number_offers,
    plan_features,
    plans,
)

# --- a catalog file's data, written from domain values ----------------------------------------


def amount(money: Money) -> str:
    return str(money.amount)


def plan_entry(plan: Plan) -> dict[str, Any]:
    overage: dict[str, Any] = {"mode": plan.features.overage.mode.value}
    if plan.features.overage.rate_per_minute is not None:
        overage["rate_per_minute"] = amount(plan.features.overage.rate_per_minute)
    return {
        "code": plan.code,
        "name": plan.name,
        "price": amount(plan.price),
        "interval_months": plan.interval.months,
        "included_minutes": plan.included_minutes,
        "concurrent_calls": plan.features.concurrent_calls,
        "phone_numbers": plan.features.phone_numbers,
        "queue_priority": plan.features.queue_priority,
        "rating": str(plan.features.rating),
        "overage": overage,
    }


def bundle_entry(bundle: AddOnBundle) -> dict[str, Any]:
    validity = bundle.validity
    return {
        "code": bundle.code,
        "name": bundle.name,
        "minutes": bundle.minutes,
        "price": amount(bundle.price),
        "validity": validity.days if validity.kind is ValidityKind.DAYS else validity.kind.value,
    }


def offer_entry(offer: NumberOffer) -> dict[str, Any]:
    return {
        "code": offer.code,
        "country": offer.country,
        "kind": offer.kind,
        "capabilities": sorted(c.value for c in offer.capabilities),
        "monthly_fee": amount(offer.monthly_fee),
        "upfront_fee": amount(offer.upfront_fee),
        "interval_months": offer.interval.months,
    }


def catalog_data(catalog: Catalog, currency: str) -> dict[str, Any]:
    return {
        "currency": currency,
        "plans": [plan_entry(p) for p in catalog.plans],
        "bundles": [bundle_entry(b) for b in catalog.bundles],
        "number_offers": [offer_entry(o) for o in catalog.number_offers],
    }


def read_back(data: dict[str, Any]) -> Catalog:
    """`data` written as JSON text and read as a catalog file's contents."""
    return Catalog.from_mapping(json.loads(json.dumps(data)), source="generated.json")


def prices_of(catalog: Catalog) -> list[Money]:
    out: list[Money] = []
    for plan in catalog.plans:
        out.append(plan.price)
        if plan.features.overage.rate_per_minute is not None:
            out.append(plan.features.overage.rate_per_minute)
    out.extend(b.price for b in catalog.bundles)
    for offer in catalog.number_offers:
        out.extend((offer.monthly_fee, offer.upfront_fee))
    return out


# --- every value is valid and round-trips -----------------------------------------------------


@given(catalogs())
def test_any_catalog_written_as_json_reads_back_equal(catalog: Catalog) -> None:
    currency = catalog.plans[0].price.currency
    assert read_back(catalog_data(catalog, currency)) == catalog


@given(catalogs())
def test_a_catalog_prices_everything_in_one_currency_with_unique_codes(catalog: Catalog) -> None:
    prices = prices_of(catalog)
    assert len({p.currency for p in prices}) == 1
    assert all(p.is_rounded() and p.amount >= 0 for p in prices)
    assert len(catalog.plans) >= 1
    for items in (catalog.plans, catalog.bundles, catalog.number_offers):
        codes = [item.code for item in items]
        assert len(set(codes)) == len(codes)


@given(plans())
def test_any_plan_is_valid_and_reads_back_from_a_file_entry(plan: Plan) -> None:
    assert attrs.evolve(plan) == plan  # the constructor's checks pass again
    data = {"currency": plan.price.currency, "plans": [plan_entry(plan)]}
    assert read_back(data).plans == (plan,)


@given(add_on_bundles())
def test_any_bundle_is_valid_and_reads_back_from_a_file_entry(bundle: AddOnBundle) -> None:
    assert attrs.evolve(bundle) == bundle
    data = {"currency": bundle.price.currency, "bundles": [bundle_entry(bundle)]}
    assert read_back(data).bundles == (bundle,)


@given(number_offers())
def test_any_number_offer_is_valid_and_reads_back_from_a_file_entry(offer: NumberOffer) -> None:
    assert attrs.evolve(offer) == offer
    assert offer.monthly_fee.currency == offer.upfront_fee.currency
    data = {"currency": offer.monthly_fee.currency, "number_offers": [offer_entry(offer)]}
    assert read_back(data).number_offers == (offer,)


@given(plan_features(), billing_intervals(), bundle_validities(), item_codes(), display_names())
def test_the_parts_are_valid(
    features: PlanFeatures,
    interval: BillingInterval,
    validity: BundleValidity,
    code: str,
    name: str,
) -> None:
    assert attrs.evolve(features) == features
    assert BillingIncrement.parse(str(features.rating)) == features.rating
    assert attrs.evolve(interval) == interval
    assert attrs.evolve(validity) == validity
    assert AddOnBundle(code, name, 1, Money("0", "INR")).name == name  # the domain accepts both


# --- arguments --------------------------------------------------------------------------------


@given(
    plans("JPY", codes="pro"),
    add_on_bundles("JPY", codes="nexus", validities=st.just(BundleValidity.never_expires())),
    number_offers("JPY", codes="jp-local", countries="JP"),
)
def test_the_arguments_fix_currency_codes_and_parts(
    plan: Plan, bundle: AddOnBundle, offer: NumberOffer
) -> None:
    assert (plan.code, bundle.code, offer.code, offer.country) == ("pro", "nexus", "jp-local", "JP")
    assert {plan.price.currency, bundle.price.currency, offer.upfront_fee.currency} == {"JPY"}
    assert bundle.validity == BundleValidity.never_expires()


@given(plan_features("USD", ratings=st.just(BillingIncrement.SIXTY_SIX)))
def test_features_take_their_rating_from_the_argument(features: PlanFeatures) -> None:
    assert features.rating == BillingIncrement.SIXTY_SIX
    rate = features.overage.rate_per_minute
    assert rate is None or rate.currency == "USD"


@given(catalogs("USD", plan_codes=["free", "pro"], bundle_codes=[], offer_codes=["us-local"]))
def test_a_catalog_holds_exactly_the_codes_asked_for(catalog: Catalog) -> None:
    assert [p.code for p in catalog.plans] == ["free", "pro"]
    assert catalog.bundles == ()
    assert catalog.number_offer("us-local").monthly_fee.currency == "USD"
    assert {p.currency for p in prices_of(catalog)} == {"USD"}


@given(catalogs(st.sampled_from(["INR", "KWD", "JPY"]), max_items=2))
def test_a_catalog_takes_its_currency_from_a_strategy(catalog: Catalog) -> None:
    assert len({p.currency for p in prices_of(catalog)}) == 1
    assert prices_of(catalog)[0].currency in {"INR", "KWD", "JPY"}
    assert max(len(catalog.plans), len(catalog.bundles), len(catalog.number_offers)) <= 2


@pytest.mark.parametrize(
    "arguments",
    [{"plan_codes": ["pro", "pro"]}, {"bundle_codes": "nexus"}, {"offer_codes": ["a", "b", "a"]}],
)
def test_codes_given_twice_or_as_a_string_are_refused(arguments: dict[str, Any]) -> None:
    with pytest.raises(InvalidArgument):
        catalogs(**arguments)


# --- what is reached, and what values shrink towards ------------------------------------------


# `find` raises if none is drawn; derandomized, so a rare draw cannot make it flaky.
UNSHRUNK = settings(phases=[Phase.generate], database=None, derandomize=True, max_examples=500)


@pytest.mark.parametrize("kind", list(ValidityKind))
def test_bundles_come_with_each_validity_kind(kind: ValidityKind) -> None:
    find(add_on_bundles(), lambda bundle: bundle.validity.kind is kind, settings=UNSHRUNK)


@pytest.mark.parametrize("mode", list(OverageMode))
def test_plans_come_with_each_overage_mode(mode: OverageMode) -> None:
    find(plans(), lambda plan: plan.features.overage.mode is mode, settings=UNSHRUNK)


@pytest.mark.parametrize("capability", list(Capability))
def test_number_offers_come_with_each_capability_alone(capability: Capability) -> None:
    find(number_offers(), lambda offer: offer.capabilities == {capability}, settings=UNSHRUNK)


def test_amounts_come_in_other_currencies_than_inr() -> None:
    find(catalogs(), lambda c: c.plans[0].price.currency != "INR", settings=UNSHRUNK)


def test_intervals_beyond_a_year_are_drawn() -> None:
    assert find(billing_intervals(), lambda i: i.months > 12) == BillingInterval(13)


FREE = Money("0", "INR")
SIMPLEST_FEATURES = PlanFeatures(
    concurrent_calls=1,
    phone_numbers=0,
    queue_priority=0,
    overage=OveragePolicy.block(),
    rating=BillingIncrement.PER_SECOND,
)
SIMPLEST_PLAN = Plan("a", "0", FREE, BillingInterval.monthly(), 0, SIMPLEST_FEATURES)
MINIMAL: list[tuple[st.SearchStrategy[Any], object]] = [
    (billing_intervals(), BillingInterval.monthly()),
    (bundle_validities(), BundleValidity.plan_period()),
    (item_codes(), "a"),
    (display_names(), "0"),
    (plan_features(), SIMPLEST_FEATURES),
    (plans(), SIMPLEST_PLAN),
    (add_on_bundles(), AddOnBundle("a", "0", 1, FREE)),
    (
        number_offers(),
        NumberOffer("a", "IN", "local", frozenset({Capability.VOICE}), FREE, FREE),
    ),
    (catalogs(), Catalog(plans=[SIMPLEST_PLAN])),
]


@pytest.mark.parametrize(
    ("strategy", "simplest"), MINIMAL, ids=[type(v).__name__ for _, v in MINIMAL]
)
def test_each_strategy_shrinks_towards_what_its_docstring_says(
    strategy: st.SearchStrategy[Any], simplest: object
) -> None:
    assert find(strategy, lambda _: True) == simplest
