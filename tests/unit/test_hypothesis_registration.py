"""The testing kit registers its strategies through the ``hypothesis`` entry point."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from minutebill import BillingIncrement, Card, LedgerPolicy, Money, TaxPolicy, Upi


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
