"""Payments under real gateway behaviour: any order, any duplicates, the same outcome, once."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minutebill import Capability, Money, NumberOffer, ValidationError
from minutebill.domain.catalog import AddOnBundle
from minutebill.domain.checkout import Order, Quote
from minutebill.domain.fulfilment import Fulfilment
from minutebill.domain.line_items import BundleLine, NumberLine, TopUpLine
from minutebill.domain.payment_events import PaymentEvent
from minutebill.domain.payments import Payment, PaymentMethod, PaymentStatus
from minutebill.testing.payment_strategies import (
    deliveries,
    gateway_event_sets,
    gateway_histories,
    payment_methods,
)

NOW = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
WINDOW = timedelta(hours=1)
OFFER = NumberOffer(
    "in-local",
    "IN",
    "local",
    frozenset({Capability.VOICE}),
    Money("199.00", "INR"),
    Money("499.00", "INR"),
)
QUOTE = Order(
    [
        NumberLine(offer=OFFER, number_e164="+918045678901"),
        BundleLine(bundle=AddOnBundle("pro", "Pro", 150, Money("799.00", "INR"))),
        TopUpLine(amount=Money("100.00", "INR")),
    ],
    "INR",
).quote(quote_id="q-1", account_id="acct-1", at=NOW)

ONE_PAYMENT = {
    "reference": "pay-1",
    "gateway_payment_id": "gw-1",
    "amount": QUOTE.total,
    "created_at": NOW,
    "window": WINDOW,
}
plausible = gateway_histories(**ONE_PAYMENT)  # type: ignore[arg-type]
anything = gateway_event_sets(**ONE_PAYMENT)  # type: ignore[arg-type]
histories = plausible | anything


def new_payment(quote: Quote = QUOTE) -> Payment:
    return Payment.for_quote(
        quote, payment_id="pay-1", idempotency_key="k-1", at=NOW, authorization_window=WINDOW
    )


def deliver(events: list[PaymentEvent]) -> tuple[Payment, list[Fulfilment], list[PaymentStatus]]:
    """Apply `events` one by one as a host would, trying to fulfil after each."""
    payment = new_payment()
    decisions: list[Fulfilment] = []
    statuses = [payment.status]
    for e in events:
        payment.apply(e)
        statuses.append(payment.status)
        decision = payment.fulfil(
            QUOTE,
            at=NOW + timedelta(days=1),
            unavailable={"+918045678901"},
            repriced_total=QUOTE.total,
        )
        if decision is not None:
            decisions.append(decision)
    return payment, decisions, statuses


def state_without_version(payment: Payment) -> dict[str, object]:
    state = payment.to_state()
    del state["version"]
    return state


@given(st.data(), histories)
def test_any_order_any_duplicates_same_status_and_one_same_fulfilment(
    data: st.DataObject, history: list[PaymentEvent]
) -> None:
    first = data.draw(deliveries(history), label="first delivery")
    second = data.draw(deliveries(history), label="second delivery")
    a, decisions_a, _ = deliver(first)
    b, decisions_b, _ = deliver(second)
    assert a.status is b.status
    assert state_without_version(a) == state_without_version(b)
    assert decisions_a == decisions_b
    captured = any(e.kind.value == "succeeded" for e in history)
    assert len(decisions_a) == (1 if captured else 0)


@given(st.data(), histories)
def test_the_final_status_is_the_status_of_the_gateway_time_order(
    data: st.DataObject, history: list[PaymentEvent]
) -> None:
    shuffled, _, _ = deliver(data.draw(deliveries(history)))
    in_order, _, _ = deliver(history)
    assert shuffled.status is in_order.status


@given(st.data(), histories)
def test_statuses_only_move_forward_except_late_authorisation(
    data: st.DataObject, history: list[PaymentEvent]
) -> None:
    _, _, statuses = deliver(data.draw(deliveries(history)))
    for before, after in itertools.pairwise(statuses):
        assert before.may_become(after), f"{before} -> {after}"


@given(st.data(), histories)
def test_refunds_never_exceed_what_was_captured(
    data: st.DataObject, history: list[PaymentEvent]
) -> None:
    payment, _, _ = deliver(data.draw(deliveries(history)))
    assert payment.refunded <= payment.amount
    assert Money.zero("INR") <= payment.refundable <= payment.captured
    if payment.captured and payment.refundable:
        before = payment.to_state()
        with pytest.raises(ValidationError):
            payment.request_refund(payment.refundable + Money("0.01", "INR"), refund_id="x", at=NOW)
        assert payment.to_state() == before


refund_answers = st.lists(st.sampled_from(["owed", "sent", "refused"]), max_size=3)
"""What became of each refund we request: still owed, taken by the gateway, or refused."""


@given(st.data(), histories, payment_methods())
def test_payments_survive_their_state_and_behave_the_same(
    data: st.DataObject, history: list[PaymentEvent], method: PaymentMethod
) -> None:
    events = data.draw(deliveries(history))
    payment = Payment.for_quote(
        QUOTE,
        payment_id="pay-1",
        idempotency_key="k",
        at=NOW,
        authorization_window=WINDOW,
        method=method,
    )
    half = len(events) // 2
    for e in events[:half]:
        payment.apply(e)
    payment.fulfil(QUOTE, at=NOW, repriced_total=QUOTE.total)
    for n, answer in enumerate(data.draw(refund_answers, label="our refunds")):
        if not payment.refundable or payment.gateway_payment_id is None:
            break
        units = data.draw(st.integers(1, payment.refundable.minor_units), label="units")
        refund_id = f"ours-{n}"
        payment.request_refund(Money.from_minor_units(units, "INR"), refund_id=refund_id, at=NOW)
        if answer == "sent":
            payment.record_refund_sent(refund_id, f"rfnd-{n}")
        elif answer == "refused":
            payment.reject_refund(refund_id, "refused", at=NOW)
    state = payment.to_state()
    again = Payment.from_state(state)
    assert again.to_state() == state
    assert again.refunds_owed == payment.refunds_owed
    assert again.refundable == payment.refundable
    for e in events[half:]:
        assert payment.apply(e) == again.apply(e)
    assert again.to_state() == payment.to_state()
    assert again.fulfil(QUOTE, at=NOW, repriced_total=QUOTE.total) == payment.fulfil(
        QUOTE, at=NOW, repriced_total=QUOTE.total
    )
