"""Registered through the ``hypothesis`` entry point, so importing minutebill registers nothing.

Hypothesis calls `_hypothesis_setup_hook` when it loads; from then on ``st.from_type(Money)``
and friends draw minutebill values.
"""

from __future__ import annotations


def _hypothesis_setup_hook() -> None:
    from hypothesis import strategies as st

    from minutebill.domain.money import Money
    from minutebill.domain.rating import BillingIncrement
    from minutebill.testing import strategies

    st.register_type_strategy(Money, strategies.money())
    st.register_type_strategy(BillingIncrement, strategies.billing_increments())
