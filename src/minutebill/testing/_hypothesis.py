"""Registered through the ``hypothesis`` entry point, so importing minutebill registers nothing.

Hypothesis calls `_hypothesis_setup_hook` when it loads; from then on ``st.from_type(Money)``,
``st.from_type(Plan)``, ``st.from_type(Catalog)`` and friends draw valid minutebill values.
``pyproject.toml`` names this function under ``[project.entry-points.hypothesis]``.
"""

from __future__ import annotations


def _hypothesis_setup_hook() -> None:
    from hypothesis import strategies as st

    from minutebill.catalog import Catalog
    from minutebill.domain.catalog import (
        AddOnBundle,
        BundleValidity,
        NumberOffer,
        OveragePolicy,
        Plan,
        PlanFeatures,
    )
    from minutebill.domain.grants import GrantSource
    from minutebill.domain.ledger import LedgerPolicy
    from minutebill.domain.money import Money
    from minutebill.domain.payment_methods import Card, Upi
    from minutebill.domain.periods import BillingInterval
    from minutebill.domain.rating import BillingIncrement
    from minutebill.domain.tax import TaxPolicy
    from minutebill.testing import ledger_strategies, payment_strategies, strategies

    st.register_type_strategy(Money, strategies.money())
    st.register_type_strategy(BillingIncrement, strategies.billing_increments())
    st.register_type_strategy(GrantSource, ledger_strategies.grant_sources())
    st.register_type_strategy(OveragePolicy, ledger_strategies.overage_policies())
    st.register_type_strategy(LedgerPolicy, ledger_strategies.ledger_policies())
    st.register_type_strategy(BillingInterval, strategies.billing_intervals())
    st.register_type_strategy(PlanFeatures, strategies.plan_features())
    st.register_type_strategy(Plan, strategies.plans())
    st.register_type_strategy(BundleValidity, strategies.bundle_validities())
    st.register_type_strategy(AddOnBundle, strategies.add_on_bundles())
    st.register_type_strategy(NumberOffer, strategies.number_offers())
    st.register_type_strategy(Catalog, strategies.catalogs())
    st.register_type_strategy(Upi, payment_strategies.upi_addresses())
    st.register_type_strategy(Card, payment_strategies.cards())
    st.register_type_strategy(TaxPolicy, payment_strategies.tax_policies())
