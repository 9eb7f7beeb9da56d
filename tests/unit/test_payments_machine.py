"""A stateful test: `Payment` against a naive model that replays events in gateway time order.

The model is written the obvious way — sort the events seen by the gateway's instants and walk
a forward-only state machine with the late-authorisation exception — so it shares no code with
`minutebill.domain.payment_status`, which computes the status from the set directly.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from minutebill import IdempotencyConflict, InvalidTransition, Money, ValidationError
from minutebill.domain.checkout import Order, TopUpLine
from minutebill.domain.payment_events import PaymentEvent, PaymentEventKind
from minutebill.domain.payments import Payment, PaymentStatus

NOW = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
WINDOW = timedelta(hours=1)
DEADLINE = NOW + WINDOW
QUOTE = Order([TopUpLine(amount=Money("100.00", "INR"))], "INR").quote(
    quote_id="q-1", account_id="acct-1", at=NOW, valid_for=timedelta(days=1)
)
K = PaymentEventKind
S = PaymentStatus
OPEN = {S.CREATED, S.PENDING, S.ACTION_REQUIRED, S.AUTHORIZED}
RANK = [S.CREATED, S.PENDING, S.ACTION_REQUIRED, S.AUTHORIZED, S.FAILED, S.CANCELED, S.SUCCEEDED]


def ev(
    n: int, kind: PaymentEventKind, minutes: int, refund: tuple[str, str] | None = None
) -> PaymentEvent:
    amount = Money(refund[1], "INR") if refund else (QUOTE.total if kind is K.SUCCEEDED else None)
    return PaymentEvent(
        event_id=f"evt_{n}",
        kind=kind,
        payment_reference="pay-1",
        gateway_payment_id="gw-1",
        occurred_at=NOW + timedelta(minutes=minutes),
        amount=amount,
        refund_id=refund[0] if refund else None,
    )


CAPTURE_MINUTES = 40
POOL = [
    ev(0, K.PENDING, 1),
    ev(1, K.ACTION_REQUIRED, 2),
    ev(2, K.AUTHORIZED, 3),
    ev(3, K.FAILED, 4),
    ev(4, K.AUTHORIZED, 20),
    ev(5, K.FAILED, 30),
    ev(6, K.SUCCEEDED, CAPTURE_MINUTES),
    ev(7, K.SUCCEEDED, CAPTURE_MINUTES),  # the same capture, reported again under another id
    ev(8, K.CANCELED, 50),
    ev(9, K.AUTHORIZED, 90),  # after the window
    ev(10, K.REFUND_FAILED, 41, ("r1", "30.00")),
    ev(11, K.REFUND_SUCCEEDED, 42, ("r1", "30.00")),
    ev(12, K.REFUND_SUCCEEDED, 43, ("r2", "70.00")),
]


PROGRESS = [e for e in POOL if e.kind in (K.PENDING, K.ACTION_REQUIRED, K.AUTHORIZED, K.FAILED)]
OUTCOMES = [e for e in POOL if e not in PROGRESS]


def model_status(events: list[PaymentEvent]) -> PaymentStatus:
    """Replay `events` in gateway time order through the forward-only machine."""
    status = S.CREATED
    order = sorted(events, key=lambda e: (e.occurred_at, RANK.index(_target(e.kind))))
    for e in order:
        status = _step(status, e)
    if status is S.SUCCEEDED:
        refunded = sum(
            (e.amount for e in events if e.kind is K.REFUND_SUCCEEDED and e.amount),
            Money("0", "INR"),
        )
        if refunded >= QUOTE.total:
            return S.REFUNDED
        if refunded:
            return S.PARTIALLY_REFUNDED
    return status


def _step(status: PaymentStatus, e: PaymentEvent) -> PaymentStatus:
    in_time = e.occurred_at <= DEADLINE
    if e.kind.is_refund or (e.kind is K.SUCCEEDED and not in_time):
        return status
    if e.kind is K.SUCCEEDED:
        return S.SUCCEEDED
    if status in (S.SUCCEEDED, S.CANCELED):
        return status
    if e.kind in (K.CANCELED, K.FAILED):
        return _target(e.kind)
    if e.kind is K.AUTHORIZED:
        return S.AUTHORIZED if in_time and status in (*OPEN, S.FAILED) else status
    forward = status in OPEN and RANK.index(_target(e.kind)) > RANK.index(status)
    return _target(e.kind) if forward else status


def _target(kind: PaymentEventKind) -> PaymentStatus:
    return {
        K.PENDING: S.PENDING,
        K.ACTION_REQUIRED: S.ACTION_REQUIRED,
        K.AUTHORIZED: S.AUTHORIZED,
        K.FAILED: S.FAILED,
        K.CANCELED: S.CANCELED,
        K.SUCCEEDED: S.SUCCEEDED,
    }.get(kind, S.SUCCEEDED)


class PaymentMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.payment = Payment.for_quote(
            QUOTE, payment_id="pay-1", idempotency_key="k", at=NOW, authorization_window=WINDOW
        )
        self.seen: dict[str, PaymentEvent] = {}
        self.decisions = 0
        self.requested: dict[str, Money] = {}
        self.with_outcomes = False

    @initialize(with_outcomes=st.booleans())
    def choose_scenario(self, with_outcomes: bool) -> None:
        """Half the runs see only progress, failures and authorisations: late authorisation
        is then exercised instead of being hidden behind an early success or cancel."""
        self.with_outcomes = with_outcomes

    @rule(event=st.sampled_from(PROGRESS))
    def deliver_progress(self, event: PaymentEvent) -> None:
        self.deliver(event)

    @precondition(lambda self: self.with_outcomes)
    @rule(event=st.sampled_from(OUTCOMES))
    def deliver_outcome(self, event: PaymentEvent) -> None:
        self.deliver(event)

    def deliver(self, event: PaymentEvent) -> None:
        asked = self.requested.get(event.refund_id or "")
        if asked is not None and asked != event.amount:
            before = self.payment.to_state()
            with pytest.raises(IdempotencyConflict):
                self.payment.apply(event)
            assert self.payment.to_state() == before
            return
        new = event.event_id not in self.seen
        assert self.payment.apply(event) is new
        self.seen[event.event_id] = event

    @rule(hours=st.integers(0, 3))
    def expire(self, hours: int) -> None:
        at = NOW + timedelta(hours=hours)
        status = model_status(list(self.seen.values()))
        expected = at >= DEADLINE and status in OPEN
        assert self.payment.expire(at) is expected
        # Also on a failed payment: the window's end is kept, so a later authorisation from
        # before the deadline cannot reopen it.
        if at >= DEADLINE and (status in OPEN or status is PaymentStatus.FAILED):
            self.seen.setdefault("pay-1:expired", ev(99, K.FAILED, 60))

    @rule(rid=st.sampled_from(["r1", "r2", "r3"]), units=st.integers(1, 10_001))
    def request_refund(self, rid: str, units: int) -> None:
        amount = Money.from_minor_units(units, "INR")
        before = self.payment.to_state()
        try:
            reserved = self.payment.request_refund(amount, refund_id=rid, at=NOW)
        except (ValidationError, InvalidTransition, IdempotencyConflict):
            assert self.payment.to_state() == before
            return
        if reserved:
            self.requested[rid] = amount

    @rule()
    def fulfil(self) -> None:
        decision = self.payment.fulfil(QUOTE, at=NOW + timedelta(days=1))
        if decision is not None:
            self.decisions += 1
            late = all(
                e.occurred_at > DEADLINE for e in self.seen.values() if e.kind is K.SUCCEEDED
            )
            assert decision.complete is not late

    @rule()
    def reload(self) -> None:
        state = self.payment.to_state()
        self.payment = Payment.from_state(state)
        assert self.payment.to_state() == state

    @invariant()
    def status_matches_the_model(self) -> None:
        assert self.payment.status is model_status(list(self.seen.values()))

    @invariant()
    def money_adds_up(self) -> None:
        p = self.payment
        assert p.refunded <= p.amount
        assert Money("0", "INR") <= p.refundable <= p.captured
        captured = any(e.kind is K.SUCCEEDED for e in self.seen.values())
        assert p.captured == (p.amount if captured else Money("0", "INR"))

    @invariant()
    def fulfilled_at_most_once(self) -> None:
        assert self.decisions <= 1
        assert self.payment.fulfilled is (self.decisions == 1)


TestPaymentMachine = PaymentMachine.TestCase
TestPaymentMachine.settings = settings(stateful_step_count=25)


def test_the_model_reads_a_late_authorisation_like_the_product_does() -> None:
    assert model_status([POOL[3], POOL[4]]) is S.AUTHORIZED
    assert model_status([POOL[3], POOL[4], POOL[5]]) is S.FAILED
    assert model_status([POOL[9], POOL[3]]) is S.FAILED


@pytest.mark.parametrize("n", range(len(POOL)))
def test_each_pool_event_alone_agrees_with_the_model(n: int) -> None:
    payment = Payment.for_quote(
        QUOTE, payment_id="pay-1", idempotency_key="k", at=NOW, authorization_window=WINDOW
    )
    payment.apply(POOL[n])
    assert payment.status is model_status([POOL[n]])
