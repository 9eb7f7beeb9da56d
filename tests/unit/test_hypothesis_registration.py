"""The testing kit registers its strategies through the ``hypothesis`` entry point."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st

from minutebill import (
    AddOnBundle,
    BillingIncrement,
    BillingInterval,
    BundleValidity,
    Card,
    Catalog,
    LedgerPolicy,
    Money,
    NumberOffer,
    Plan,
    PlanFeatures,
    TaxPolicy,
    Upi,
)
from minutebill.testing import strategies


@given(st.from_type(Money), st.from_type(BillingIncrement), st.from_type(LedgerPolicy))
def test_domain_values_are_drawn_from_their_types(
    money: Money, increment: BillingIncrement, policy: LedgerPolicy
) -> None:
    assert money.is_rounded()
    assert increment.initial_seconds >= 1
    assert policy.hold_ttl.total_seconds() > 0


@given(st.from_type(Upi), st.from_type(Card), st.from_type(TaxPolicy))
def test_payment_values_are_drawn_from_their_types(upi: Upi, card: Card, tax: TaxPolicy) -> None:
    assert "@" in upi.vpa
    assert len(card.last4) == 4
    assert tax.rate >= 0


@given(
    st.from_type(Plan),
    st.from_type(Catalog),
    st.from_type(AddOnBundle),
    st.from_type(NumberOffer),
)
def test_catalog_values_are_drawn_from_their_types(
    plan: Plan, catalog: Catalog, bundle: AddOnBundle, offer: NumberOffer
) -> None:
    assert plan.interval.months >= 1
    assert len({p.price.currency for p in catalog.plans}) == 1
    assert bundle.minutes >= 1
    assert offer.monthly_fee.currency == offer.upfront_fee.currency


CATALOG_TYPES: list[tuple[type[Any], st.SearchStrategy[Any]]] = [
    (BillingInterval, strategies.billing_intervals()),
    (PlanFeatures, strategies.plan_features()),
    (Plan, strategies.plans()),
    (BundleValidity, strategies.bundle_validities()),
    (AddOnBundle, strategies.add_on_bundles()),
    (NumberOffer, strategies.number_offers()),
    (Catalog, strategies.catalogs()),
]


@pytest.mark.parametrize(
    ("cls", "kit"), CATALOG_TYPES, ids=[cls.__name__ for cls, _ in CATALOG_TYPES]
)
def test_each_catalog_type_is_registered_with_the_kits_strategy(
    cls: type[Any], kit: st.SearchStrategy[Any]
) -> None:
    # Unregistered, from_type falls back to builds() of the attrs class: its first draw has
    # invalid fields (months=0, an empty code) and raises, or every defaulted field is left at
    # its default (BundleValidity() only ever lasts the plan period). Registered, it draws what
    # the kit's strategy draws, the simplest value first.
    unshrunk = settings(phases=[Phase.generate], database=None)
    simplest = find(kit, lambda _: True, settings=unshrunk)
    assert find(st.from_type(cls), lambda _: True, settings=unshrunk) == simplest
    find(st.from_type(cls), lambda value: value != simplest, settings=unshrunk)
