"""Payments under real gateway behaviour: any order, any duplicates, the same outcome, once."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from attrs import evolve, frozen
from hypothesis import given
from hypothesis import strategies as st

from minutebill import Capability, MinutebillError, Money, NumberOffer, ValidationError
from minutebill.domain.catalog import AddOnBundle
from minutebill.domain.checkout import Order, Quote
from minutebill.domain.fulfilment import Fulfilment, Remedy, Unfulfillable
from minutebill.domain.line_items import BundleLine, NumberLine, TopUpLine
from minutebill.domain.payment_events import PaymentEvent, PaymentEventKind
from minutebill.domain.payments import Payment, PaymentMethod, PaymentStatus, RefundFailed
from minutebill.testing.payment_strategies import (
    deliveries,
    gateway_event_sets,
    gateway_histories,
    payment_methods,
)
from tests.unit.test_payments_machine import ev

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


CAPTURED = (PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED)


@given(st.data(), histories, st.integers(0, 3 * 3600))
def test_expiry_at_any_point_ends_the_same_and_never_fails_a_captured_payment(
    data: st.DataObject, history: list[PaymentEvent], late_by: int
) -> None:
    """`expire` (the due work) before, among or after the events: the same end, forward only.

    Money captured, in time or late, is never FAILED: the status says it was captured and
    what came back of it (a late capture is returned in full).
    """
    order = data.draw(deliveries(history), label="delivery")
    position = data.draw(st.integers(0, len(order)), label="expire after")
    payment, statuses = new_payment(), []
    at = payment.deadline + timedelta(seconds=late_by)
    for index, e in enumerate([*order, None]):
        if index == position:
            payment.expire(at)
            statuses.append(payment.status)
        if e is not None:
            payment.apply(e)
            statuses.append(payment.status)
    at_the_end, _, _ = deliver(order)
    at_the_end.expire(at)
    assert payment.status is at_the_end.status
    assert (payment.refunded, payment.late_capture) == (
        at_the_end.refunded,
        at_the_end.late_capture,
    )
    for before, after in itertools.pairwise(statuses):
        assert before.may_become(after), f"{before} -> {after}"
    if payment.captured:
        assert payment.status in CAPTURED
        refunded = payment.refunded >= payment.captured
        assert (payment.status is PaymentStatus.REFUNDED) == refunded


def test_an_authorisation_reported_after_expiry_does_not_reopen_a_failed_payment() -> None:
    """Failed, then expired, then an authorisation from before the deadline is reported.

    Had the authorisation come before the due work, the expiry would have failed it: so it
    must not reopen the payment now either (Hypothesis found this order).
    """

    failed, authorised = ev(0, PaymentEventKind.FAILED, 0), ev(1, PaymentEventKind.AUTHORIZED, 1)
    expired_early, expired_late = new_payment(), new_payment()
    expired_early.apply(failed)
    assert expired_early.expire(NOW + WINDOW) is False  # failed already: nothing to count
    expired_early.apply(authorised)
    for e in (failed, authorised):
        expired_late.apply(e)
    assert expired_late.expire(NOW + WINDOW) is True

    assert expired_early.status is expired_late.status is PaymentStatus.FAILED


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


@given(st.data(), histories, st.integers(1, 2 * QUOTE.total.minor_units))
def test_a_capture_of_any_amount_is_taken_once_in_any_order_and_only_refunded_if_off(
    data: st.DataObject, history: list[PaymentEvent], units: int
) -> None:
    """Whatever amount the gateway says it captured, every delivery ends in one payment.

    A capture of another amount than the quote's delivers nothing and owes all of it back.
    """
    taken = Money.from_minor_units(units, "INR")
    history = [
        evolve(e, amount=taken) if e.kind is PaymentEventKind.SUCCEEDED else e
        for e in history
        if not e.kind.is_refund  # refunds of the quoted amount may exceed another capture
    ]
    a, decisions_a, _ = deliver(data.draw(deliveries(history), label="first delivery"))
    b, decisions_b, _ = deliver(data.draw(deliveries(history), label="second delivery"))
    assert state_without_version(a) == state_without_version(b)
    assert decisions_a == decisions_b
    if a.captured_at is None:
        assert decisions_a == []
        return
    (decision,) = decisions_a
    assert (a.captured, a.refundable) == (taken, taken)
    assert a.capture_mismatch is (taken != QUOTE.total)
    if a.capture_mismatch:
        assert decision.steps == ()
        assert (decision.reason, decision.remedy) == (
            Unfulfillable.CAPTURE_MISMATCH,
            Remedy.REFUND,
        )
        assert decision.remedy_amount == taken


refund_answers = st.lists(st.sampled_from(["owed", "sent", "refused", "reported"]), max_size=3)
"""What became of each refund we request: still owed, taken by the gateway, or refused; or
taken, and then reported by a webhook that carries only the gateway's refund id."""


def outcome_of(payment: Payment, event: PaymentEvent) -> object:
    """What applying `event` did: whether it was new, or the kind of error that refused it."""
    try:
        return payment.apply(event)
    except MinutebillError as error:
        return type(error)


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
    reported: list[PaymentEvent] = []
    for n, answer in enumerate(data.draw(refund_answers, label="our refunds")):
        if not payment.refundable or payment.gateway_payment_id is None:
            break
        units = data.draw(st.integers(1, payment.refundable.minor_units), label="units")
        refund_id, amount = f"ours-{n}", Money.from_minor_units(units, "INR")
        payment.request_refund(amount, refund_id=refund_id, at=NOW)
        if answer in ("sent", "reported"):
            payment.record_refund_sent(refund_id, f"rfnd-{n}")
        elif answer == "refused":
            payment.reject_refund(refund_id, "refused", at=NOW)
        if answer == "reported":
            reported.append(
                PaymentEvent(
                    event_id=f"evt-rfnd-{n}",
                    kind=data.draw(
                        st.sampled_from(
                            [PaymentEventKind.REFUND_SUCCEEDED, PaymentEventKind.REFUND_FAILED]
                        )
                    ),
                    payment_reference="pay-1",
                    gateway_payment_id=payment.gateway_payment_id,
                    occurred_at=NOW + timedelta(days=1),
                    amount=amount,
                    refund_id=f"rfnd-{n}",
                )
            )
    state = payment.to_state()
    again = Payment.from_state(state)
    assert again.to_state() == state
    assert again.refunds_owed == payment.refunds_owed
    assert again.refundable == payment.refundable
    for e in events[half:]:
        assert payment.apply(e) == again.apply(e)
    for e in reported:
        assert outcome_of(payment, e) == outcome_of(again, e)
    assert again.to_state() == payment.to_state()
    assert again.fulfil(QUOTE, at=NOW, repriced_total=QUOTE.total) == payment.fulfil(
        QUOTE, at=NOW, repriced_total=QUOTE.total
    )


# --- refunds reported under our refund id or the gateway's ------------------------------------

REFUND_KINDS = (PaymentEventKind.REFUND_FAILED, PaymentEventKind.REFUND_SUCCEEDED)


@frozen
class RecordSent:
    """Our commit of the gateway's answer: it took `refund_id` as `gateway_refund_id`."""

    refund_id: str
    gateway_refund_id: str


@frozen
class RefundStory:
    """Refunds we requested, what the gateway reported about them (and about a refund made in
    its dashboard), and which answers we recorded: the steps that arrive in any order.

    Attributes:
        requests: Our refund id and amount, requested before anything else happens.
        steps: Refund events, each under our refund id or the gateway's, and `RecordSent`s.
        succeeded: Our refund ids the gateway reports a success for.
        reported: Our refund ids the gateway reports any outcome for.
        dashboard: What the gateway reports refunded from its dashboard (perhaps zero).
    """

    requests: tuple[tuple[str, Money], ...]
    steps: tuple[PaymentEvent | RecordSent, ...]
    succeeded: frozenset[str]
    reported: frozenset[str]
    dashboard: Money


@st.composite
def refund_stories(draw: st.DrawFn) -> RefundStory:
    """Up to three of our refunds and perhaps a dashboard one, within the captured amount.

    Each outcome the gateway reports (a failure, a success, or both) carries our refund id or
    only the gateway's, and may be reported again under the other; a refund reported under the
    gateway's id was taken, so its answer is recorded. Shrinks towards no refunds.
    """
    left = QUOTE.total.minor_units
    at = NOW + timedelta(minutes=5)
    requests: list[tuple[str, Money]] = []
    steps: list[PaymentEvent | RecordSent] = []
    succeeded: set[str] = set()
    reported: set[str] = set()
    dashboard = Money.zero("INR").rounded()

    def report(kind: PaymentEventKind, refund_id: str, amount: Money) -> None:
        nonlocal at
        at += timedelta(seconds=draw(st.integers(1, 600)))
        steps.append(
            PaymentEvent(
                event_id=f"evt-{len(steps)}",
                kind=kind,
                payment_reference="pay-1",
                gateway_payment_id="gw-1",
                occurred_at=at,
                amount=amount,
                refund_id=refund_id,
            )
        )

    for n in range(draw(st.integers(0, 3), label="our refunds")):
        if left <= 0:
            break
        units = draw(st.integers(1, left))
        left -= units
        ours, theirs = f"ours-{n}", f"rfnd_{n}"
        amount = Money.from_minor_units(units, "INR")
        requests.append((ours, amount))
        sent = draw(st.booleans(), label="answer recorded")
        for kind in (k for k in REFUND_KINDS if draw(st.booleans())):
            reported.add(ours)
            if kind is PaymentEventKind.REFUND_SUCCEEDED:
                succeeded.add(ours)
            ids = draw(st.sampled_from([[ours], [theirs], [ours, theirs], [theirs, ours]]))
            for refund_id in ids:
                report(kind, refund_id, amount)
            sent = sent or theirs in ids
        if sent:
            steps.append(RecordSent(ours, theirs))
    if left > 0 and draw(st.booleans(), label="a dashboard refund"):
        amount = Money.from_minor_units(draw(st.integers(1, left)), "INR")
        for kind in (k for k in REFUND_KINDS if draw(st.booleans())):
            if kind is PaymentEventKind.REFUND_SUCCEEDED:
                dashboard = amount
            report(kind, "rfnd_dashboard", amount)
    return RefundStory(
        tuple(requests), tuple(steps), frozenset(succeeded), frozenset(reported), dashboard
    )


def play(story: RefundStory, steps: list[PaymentEvent | RecordSent]) -> tuple[Payment, list[str]]:
    """A captured payment, the story's requests, then `steps` in the order given.

    An event refused because, for now, it would refund more than was captured (the same refund
    reported under both ids before its gateway id was recorded) is delivered again at the end,
    as a gateway redelivers a webhook that was not accepted. Returns the payment and the refund
    ids of the `RefundFailed` it recorded.
    """
    payment = new_payment()
    payment.apply(
        PaymentEvent(
            event_id="evt-captured",
            kind=PaymentEventKind.SUCCEEDED,
            payment_reference="pay-1",
            gateway_payment_id="gw-1",
            occurred_at=NOW + timedelta(minutes=1),
            amount=QUOTE.total,
        )
    )
    for refund_id, amount in story.requests:
        payment.request_refund(amount, refund_id=refund_id, at=NOW)
    refused: list[PaymentEvent] = []
    for step in steps:
        if isinstance(step, RecordSent):
            payment.record_refund_sent(step.refund_id, step.gateway_refund_id)
            continue
        try:
            payment.apply(step)
        except ValidationError:
            refused.append(step)
    for event in refused:
        payment.apply(event)
    failed = [e.refund_id for e in payment.pull_events() if isinstance(e, RefundFailed)]
    return payment, failed


@given(st.data(), refund_stories())
def test_refunds_reported_under_either_id_in_any_order_count_once(
    data: st.DataObject, story: RefundStory
) -> None:
    first, failed_first = play(story, data.draw(deliveries(list(story.steps)), label="first"))
    second, _ = play(story, data.draw(deliveries(list(story.steps)), label="second"))

    assert state_without_version(first) == state_without_version(second)
    amounts = dict(story.requests)
    refunded = sum((amounts[rid] for rid in story.succeeded), story.dashboard)
    unanswered = sum(
        (m for rid, m in story.requests if rid not in story.reported), Money.zero("INR").rounded()
    )
    assert first.refunded == refunded
    assert first.refundable == QUOTE.total - refunded - unanswered
    recorded = {s.refund_id for s in story.steps if isinstance(s, RecordSent)}
    assert first.refunds_owed == tuple(
        (rid, m) for rid, m in story.requests if rid not in story.reported | recorded
    )
    # A refund of ours is reported failed at most once, under our id; the dashboard's never.
    assert len(failed_first) == len(set(failed_first))
    assert story.reported - story.succeeded <= set(failed_first) <= story.reported
    again = Payment.from_state(first.to_state())
    assert again.to_state() == first.to_state()
    assert (again.refundable, again.refunds_owed) == (first.refundable, first.refunds_owed)
