"""Payments: methods, the status rules, refunds, late authorisation and fulfilment once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from minutebill import (
    AddOnBundle,
    Capability,
    IdempotencyConflict,
    InvalidTransition,
    Money,
    NumberOffer,
    ValidationError,
)
from minutebill.domain.checkout import Order, Quote
from minutebill.domain.fulfilment import (
    Remedy,
    StepKind,
    Unfulfillable,
    capture_mismatch_fulfilment,
    decide_fulfilment,
)
from minutebill.domain.line_items import BundleLine, NumberLine, TopUpLine
from minutebill.domain.payment_events import PaymentEvent, PaymentEventKind
from minutebill.domain.payments import (
    CaptureMismatched,
    Card,
    CardFunding,
    FulfilmentDecided,
    Payment,
    PaymentCaptured,
    PaymentStatus,
    PaymentStatusChanged,
    RefundFailed,
    Upi,
)
from minutebill.domain.tax import TaxPolicy
from minutebill.gateway import GatewayPayment

NOW = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
K = PaymentEventKind
S = PaymentStatus
OFFER = NumberOffer(
    "in-local",
    "IN",
    "local",
    frozenset({Capability.VOICE, Capability.SMS}),
    Money("199.00", "INR"),
    Money("499.00", "INR"),
)
NEXUS = AddOnBundle("nexus", "Nexus", 300, Money("1499.00", "INR"))
NUMBER = "+918045678901"


def make_quote(*lines: object, tax: TaxPolicy | None = None) -> Quote:
    order = Order(lines or [NumberLine(offer=OFFER, number_e164=NUMBER)], "INR")
    return order.quote(quote_id="q-1", account_id="acct-1", at=NOW, tax=tax)


def make_payment(quote: Quote | None = None, **kw: object) -> Payment:
    return Payment.for_quote(
        quote or make_quote(),
        payment_id="pay-1",
        idempotency_key="key-1",
        at=NOW,
        method=Upi("asha@okaxis"),
        **kw,  # type: ignore[arg-type]
    )


def event(
    kind: PaymentEventKind,
    minutes: float,
    *,
    eid: str | None = None,
    amount: Money | None = None,
    refund_id: str | None = None,
    gateway_id: str = "gw-1",
    reference: str = "pay-1",
) -> PaymentEvent:
    return PaymentEvent(
        event_id=eid or f"{kind.value}-{minutes}-{refund_id}",
        kind=kind,
        payment_reference=reference,
        gateway_payment_id=gateway_id,
        occurred_at=NOW + timedelta(minutes=minutes),
        amount=amount,
        refund_id=refund_id,
    )


def inr(text: str) -> Money:
    return Money(text, "INR")


def status(payment: Payment) -> PaymentStatus:
    """Read the status afresh (keeps mypy from narrowing it across calls)."""
    return payment.status


def owed(payment: Payment) -> tuple[tuple[str, Money], ...]:
    """Read the refunds owed afresh (as `status` does)."""
    return payment.refunds_owed


# --- payment methods -------------------------------------------------------------------------


def test_upi_addresses_are_name_at_handle_in_lower_case() -> None:
    upi = Upi(" Asha.K-99@OkAxis ")
    assert upi.vpa == "asha.k-99@okaxis"
    assert upi.handle == "okaxis"


@pytest.mark.parametrize(
    "vpa", ["asha", "asha@", "@okaxis", "asha@@okaxis", "as ha@okaxis", "a@1bank"]
)
def test_a_upi_address_without_a_proper_handle_is_refused(vpa: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Upi(vpa)
    assert raised.value.field == "vpa"


def test_cards_keep_brand_last4_and_funding_only() -> None:
    card = Card("RuPay", "4242", CardFunding.DEBIT)
    assert (card.brand, card.last4, card.funding) == ("rupay", "4242", CardFunding.DEBIT)


@pytest.mark.parametrize(
    ("brand", "last4"),
    [
        ("visa", "4111111111111111"),
        ("visa", "4111 1111 1111 1111"),
        ("visa", "4111-1111-1111-1111"),
        ("visa 4111111111111111", "1111"),
        ("visa", 4111111111111111),
    ],
)
def test_a_card_with_a_full_number_is_refused_and_the_number_is_masked(
    brand: str, last4: object
) -> None:
    with pytest.raises(ValidationError) as raised:
        Card(brand, last4)  # type: ignore[arg-type]
    assert "4111111111111111" not in str(raised.value)
    assert "4111 1111" not in str(raised.value)
    assert "1111" in str(raised.value)  # the masked hint: "16 digits ending 1111"


@pytest.mark.parametrize(
    "vpa",
    [
        "4111111111111111@ybl",
        "4111 1111 1111 1111@ybl",
        "4111-1111-1111-1111@ybl",
        "4111.1111.1111.1111@ybl",
        "4111_1111_1111_1111@ybl",
        "visa.4111.1111.1111.1111@okaxis",
    ],
)
def test_a_card_number_in_a_upi_address_is_refused_and_masked(vpa: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Upi(vpa)
    assert "4111" not in str(raised.value).replace("ending 1111", "")
    assert "digits ending 1111" in str(raised.value)


@pytest.mark.parametrize("last4", ["123", "12345", "abcd", ""])
def test_last4_is_exactly_four_digits(last4: str) -> None:
    with pytest.raises(ValidationError):
        Card("visa", last4)


@pytest.mark.parametrize("vpa", [None, 42, b"asha@okaxis"])
def test_a_upi_address_must_be_a_string(vpa: object) -> None:
    with pytest.raises(ValidationError) as raised:
        Upi(vpa)  # type: ignore[arg-type]
    assert (raised.value.field, raised.value.value) == ("vpa", vpa)


@pytest.mark.parametrize(
    ("brand", "last4", "field"),
    [
        ("visa", 4242, "last4"),
        ("visa", None, "last4"),
        (None, "4242", "brand"),
        (b"visa", "4242", "brand"),
    ],
)
def test_card_brand_and_last4_must_be_strings(brand: object, last4: object, field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Card(brand, last4)  # type: ignore[arg-type]
    assert (raised.value.field, raised.value.reason) == (field, "must be a string")


@pytest.mark.parametrize("brand", ["", "   ", "v" * 33, "visa2"])
def test_a_card_brand_is_a_network_name(brand: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Card(brand, "4242")
    assert (raised.value.field, raised.value.value) == ("brand", brand)


@pytest.mark.parametrize("funding", ["debit", None])
def test_card_funding_must_be_a_card_funding(funding: object) -> None:
    with pytest.raises(ValidationError) as raised:
        Card("visa", "4242", funding)  # type: ignore[arg-type]
    assert (raised.value.field, raised.value.value) == ("funding", funding)


def test_a_card_has_no_field_for_a_cvv() -> None:
    with pytest.raises(TypeError):
        Card("visa", "4242", CardFunding.CREDIT, "123")  # type: ignore[call-arg]


# --- creating a payment ----------------------------------------------------------------------


def test_paying_a_quote_charges_exactly_its_total() -> None:
    quote = make_quote(tax=TaxPolicy.india_gst("0.18", supplier_state="KA", customer_state="MH"))
    payment = make_payment(quote)
    assert payment.amount == quote.total == inr("823.64")
    assert status(payment) is S.CREATED
    assert not payment.captured


def test_an_expired_quote_cannot_start_a_payment() -> None:
    with pytest.raises(InvalidTransition):
        Payment.for_quote(
            make_quote(), payment_id="p", idempotency_key="k", at=NOW + timedelta(hours=1)
        )


@pytest.mark.parametrize(
    "window", [timedelta(0), timedelta(seconds=-1), timedelta(milliseconds=1500)]
)
def test_the_authorisation_window_is_positive_whole_seconds(window: timedelta) -> None:
    with pytest.raises(ValidationError):
        make_payment(authorization_window=window)


@pytest.mark.parametrize(
    "amount", [inr("0.00"), inr("-698.00"), inr("698.005"), Decimal("698.00"), 698]
)
def test_a_payment_is_of_a_positive_amount_in_whole_minor_units(amount: object) -> None:
    with pytest.raises(ValidationError) as raised:
        Payment.create(
            payment_id="pay-1",
            account_id="acct-1",
            quote_id="q-1",
            amount=amount,  # type: ignore[arg-type]
            idempotency_key="key-1",
            at=NOW,
        )
    assert (raised.value.field, raised.value.value) == ("amount", amount)


@pytest.mark.parametrize("method", ["upi", "asha@okaxis", {"type": "upi", "vpa": "asha@okaxis"}])
def test_a_payment_method_is_upi_or_a_card(method: object) -> None:
    with pytest.raises(ValidationError) as raised:
        Payment.for_quote(
            make_quote(),
            payment_id="pay-1",
            idempotency_key="key-1",
            at=NOW,
            method=method,  # type: ignore[arg-type]
        )
    assert (raised.value.field, raised.value.value) == ("method", method)


# --- statuses --------------------------------------------------------------------------------


def test_a_duplicate_event_is_a_no_op() -> None:
    payment = make_payment()
    success = event(K.SUCCEEDED, 1)
    assert payment.apply(success)
    payment.pull_events()
    before = payment.to_state()
    assert not payment.apply(success)
    assert payment.to_state() == before
    assert payment.pull_events() == []


def test_progress_only_moves_forward() -> None:
    payment = make_payment()
    payment.apply(event(K.ACTION_REQUIRED, 2))
    payment.apply(event(K.PENDING, 1))
    assert status(payment) is S.ACTION_REQUIRED
    payment.apply(event(K.PENDING, 3))
    assert status(payment) is S.ACTION_REQUIRED


def test_webhook_before_the_create_response() -> None:
    payment = make_payment()
    payment.apply(event(K.SUCCEEDED, 1, amount=payment.amount))  # the webhook wins the race
    assert status(payment) is S.SUCCEEDED
    assert payment.gateway_payment_id == "gw-1"
    payment.pull_events()
    response = GatewayPayment(
        gateway_payment_id="gw-1",
        reference="pay-1",
        status=S.PENDING,
        amount_minor=payment.amount.minor_units,
        currency="INR",
        updated_at=NOW + timedelta(seconds=20),
    )
    payment.link_gateway(response.gateway_payment_id)
    observed = response.to_event()
    assert observed is not None
    assert payment.apply(observed)
    assert status(payment) is S.SUCCEEDED  # the older PENDING does not pull it back
    assert payment.pull_events() == []


def test_late_authorisation_after_a_failure() -> None:
    payment = make_payment()
    payment.apply(event(K.FAILED, 1))
    assert status(payment) is S.FAILED
    assert payment.fulfil(make_quote(), at=NOW) is None  # nothing captured: nothing to decide
    payment.apply(event(K.AUTHORIZED, 4))
    assert status(payment) is S.AUTHORIZED
    payment.apply(event(K.SUCCEEDED, 5))
    assert status(payment) is S.SUCCEEDED
    decision = payment.fulfil(make_quote(), at=NOW + timedelta(minutes=5))
    assert decision is not None
    assert decision.complete
    assert [s.kind for s in decision.steps] == [StepKind.ACTIVATE_NUMBER]


def test_an_authorisation_older_than_the_failure_does_not_undo_it() -> None:
    payment = make_payment()
    payment.apply(event(K.FAILED, 5))
    payment.apply(event(K.AUTHORIZED, 4))
    assert status(payment) is S.FAILED


def test_a_success_after_the_window_is_a_late_capture_and_is_returned() -> None:
    payment = make_payment(authorization_window=timedelta(hours=1))
    payment.apply(event(K.FAILED, 1))
    payment.apply(event(K.SUCCEEDED, 61))
    assert status(payment) is S.SUCCEEDED  # money moved: never FAILED, though it buys nothing
    assert payment.late_capture
    assert payment.captured == payment.amount
    events = payment.pull_events()
    assert any(isinstance(e, PaymentCaptured) and e.late for e in events)
    decision = payment.fulfil(make_quote(), at=NOW + timedelta(minutes=62))
    assert decision is not None
    assert (decision.remedy, decision.reason) == (Remedy.REFUND, Unfulfillable.LATE_CAPTURE)
    assert decision.remedy_amount == payment.amount
    assert decision.steps == ()


def test_expire_fails_an_open_payment_at_its_deadline() -> None:
    payment = make_payment(authorization_window=timedelta(hours=1))
    payment.apply(event(K.PENDING, 1))
    assert not payment.expire(NOW + timedelta(minutes=59))
    assert payment.expire(NOW + timedelta(hours=3))
    assert status(payment) is S.FAILED
    assert not payment.expire(NOW + timedelta(hours=4))
    payment.apply(event(K.SUCCEEDED, 50))  # reported late, but it happened in time
    assert status(payment) is S.SUCCEEDED


def test_a_refusal_fails_an_open_payment_once_and_a_success_still_wins() -> None:
    payment = make_payment()
    assert payment.record_refusal("unknown or revoked mandate", at=NOW + timedelta(minutes=1))
    assert status(payment) is S.FAILED
    assert payment.events[-1].reason == "unknown or revoked mandate"
    assert not payment.record_refusal("unknown or revoked mandate", at=NOW + timedelta(minutes=2))
    payment.apply(event(K.SUCCEEDED, 3))
    assert status(payment) is S.SUCCEEDED
    assert not payment.record_refusal("too late", at=NOW + timedelta(minutes=4))
    with pytest.raises(ValidationError, match="reason"):
        make_payment().record_refusal(" ", at=NOW)


def test_a_cancel_is_final_unless_money_was_captured_in_time() -> None:
    payment = make_payment()
    payment.apply(event(K.AUTHORIZED, 1))
    payment.apply(event(K.CANCELED, 2))
    assert status(payment) is S.CANCELED
    payment.apply(event(K.FAILED, 3))
    assert status(payment) is S.CANCELED
    payment.apply(event(K.SUCCEEDED, 4))  # the gateway captured despite the cancel
    assert status(payment) is S.SUCCEEDED


def test_status_change_events_name_both_states() -> None:
    payment = make_payment()
    payment.pull_events()
    payment.apply(event(K.PENDING, 1))
    (changed,) = payment.pull_events()
    assert isinstance(changed, PaymentStatusChanged)
    assert (changed.previous, changed.status) == (S.CREATED, S.PENDING)


def test_a_second_capture_instant_is_refused() -> None:
    payment = make_payment()
    payment.apply(event(K.SUCCEEDED, 1))
    before = payment.to_state()
    with pytest.raises(ValidationError):
        payment.apply(event(K.SUCCEEDED, 2, eid="poll"))
    assert payment.to_state() == before


# --- a capture of another amount ------------------------------------------------------------


def test_a_capture_of_another_amount_is_kept_refunded_in_full_and_never_fulfilled() -> None:
    """The gateway took ₹600 of a ₹698 payment: taken as reported, all of it to go back."""
    quote = make_quote()
    payment = make_payment(quote)
    payment.pull_events()
    assert payment.apply(event(K.SUCCEEDED, 1, amount=inr("600.00")))
    assert payment.status is S.SUCCEEDED
    assert (payment.captured, payment.refundable) == (inr("600.00"), inr("600.00"))
    assert payment.capture_mismatch
    events = payment.pull_events()
    mismatched = [e for e in events if isinstance(e, CaptureMismatched)]
    assert [(e.amount, e.captured) for e in mismatched] == [(inr("698.00"), inr("600.00"))]
    assert [e.amount for e in events if isinstance(e, PaymentCaptured)] == [inr("600.00")]
    # The service's remedy is a wallet credit, but money nobody agreed to is sent back.
    decision = payment.fulfil(quote, at=NOW, remedy=Remedy.CREDIT_WALLET)
    assert decision is not None
    assert decision.steps == ()
    assert (decision.reason, decision.remedy) == (Unfulfillable.CAPTURE_MISMATCH, Remedy.REFUND)
    assert decision.remedy_amount == inr("600.00")
    assert not decision.complete
    assert payment.fulfil(quote, at=NOW) is None  # decided once
    before = payment.to_state()
    assert not payment.apply(event(K.SUCCEEDED, 1, amount=inr("600.00")))  # a duplicate
    assert payment.to_state() == before
    with pytest.raises(ValidationError):
        payment.request_refund(inr("600.01"), refund_id="r-1", at=NOW)
    assert payment.request_refund(inr("600.00"), refund_id="r-1", at=NOW)
    payment.apply(event(K.REFUND_SUCCEEDED, 2, amount=inr("600.00"), refund_id="r-1"))
    assert (payment.status, payment.refunded, payment.refundable) == (
        S.REFUNDED,
        inr("600.00"),
        inr("0.00"),
    )
    assert Payment.from_state(payment.to_state()).to_state() == payment.to_state()


def test_a_capture_of_more_than_the_amount_can_be_refunded_in_full() -> None:
    payment = make_payment()
    payment.apply(event(K.SUCCEEDED, 1, amount=inr("700.00")))
    assert payment.refundable == inr("700.00")
    payment.request_refund(inr("700.00"), refund_id="r-1", at=NOW)
    payment.apply(event(K.REFUND_SUCCEEDED, 2, amount=inr("700.00"), refund_id="r-1"))
    assert payment.status is S.REFUNDED


@pytest.mark.parametrize("first", ["698.00", "600.00"])
def test_a_report_contradicting_the_captured_amount_is_refused_and_changes_nothing(
    first: str,
) -> None:
    payment = make_payment()
    payment.apply(event(K.SUCCEEDED, 1, amount=inr(first)))
    before = payment.to_state()
    payment.pull_events()
    with pytest.raises(ValidationError, match="captured"):
        payment.apply(event(K.SUCCEEDED, 1, eid="poll", amount=inr("650.00")))
    assert payment.to_state() == before
    assert payment.pull_events() == []


def test_a_capture_of_the_amount_is_no_mismatch() -> None:
    payment = make_payment()
    payment.apply(event(K.SUCCEEDED, 1, amount=payment.amount))
    payment.apply(event(K.SUCCEEDED, 1, eid="poll"))  # no amount stated: the same capture
    assert not payment.capture_mismatch
    assert payment.captured == payment.amount


# --- refused events change nothing ----------------------------------------------------------


@pytest.mark.parametrize("kind", ["succeeded", None])
def test_a_gateway_event_needs_a_payment_event_kind(kind: object) -> None:
    with pytest.raises(ValidationError) as raised:
        event(kind, 1, eid="e-1")  # type: ignore[arg-type]
    assert (raised.value.field, raised.value.value) == ("kind", kind)


@pytest.mark.parametrize("amount", [inr("0.00"), inr("-1.00"), inr("698.005"), Decimal("698.00")])
@pytest.mark.parametrize("kind", [K.SUCCEEDED, K.REFUND_SUCCEEDED])
def test_an_event_amount_is_positive_money_in_whole_minor_units(
    kind: PaymentEventKind, amount: object
) -> None:
    refund_id = "r-1" if kind.is_refund else None
    with pytest.raises(ValidationError) as raised:
        event(kind, 1, amount=amount, refund_id=refund_id)  # type: ignore[arg-type]
    assert (raised.value.field, raised.value.value) == ("amount", amount)


@pytest.mark.parametrize("kind", [K.REFUND_SUCCEEDED, K.REFUND_FAILED])
def test_a_refund_event_states_its_amount(kind: PaymentEventKind) -> None:
    with pytest.raises(ValidationError) as raised:
        event(kind, 1, refund_id="r-1")
    assert (raised.value.field, raised.value.value) == ("amount", None)


@pytest.mark.parametrize("kind", [k for k in K if not k.is_refund])
def test_only_a_refund_event_names_a_refund(kind: PaymentEventKind) -> None:
    with pytest.raises(ValidationError) as raised:
        event(kind, 1, refund_id="r-1")
    assert (raised.value.field, raised.value.value) == ("refund_id", "r-1")
    assert kind.value in raised.value.reason


@pytest.mark.parametrize(
    "bad",
    [
        event(K.SUCCEEDED, 1, reference="pay-2"),
        event(K.SUCCEEDED, 1, gateway_id="gw-2"),
        event(K.AUTHORIZED, 1, amount=Money("1.00", "INR")),
        event(K.SUCCEEDED, 1, amount=Money("1.00", "USD")),
        event(K.PENDING, 9, eid="seen"),
    ],
    ids=[
        "other-reference",
        "other-gateway-payment",
        "other-amount-authorised",
        "other-currency",
        "id-reused",
    ],
)
def test_a_refused_event_changes_nothing(bad: PaymentEvent) -> None:
    payment = make_payment()
    payment.apply(event(K.PENDING, 0, eid="seen"))
    before = payment.to_state()
    payment.pull_events()
    with pytest.raises((ValidationError, IdempotencyConflict)):
        payment.apply(bad)
    assert payment.to_state() == before
    assert payment.pull_events() == []


def refused(payment: Payment, change: Callable[[], object]) -> ValidationError:
    """The `ValidationError` that `change` raises, having changed `payment` in nothing."""
    before = payment.to_state()
    with pytest.raises(ValidationError) as raised:
        change()
    assert payment.to_state() == before
    assert payment.pull_events() == []
    return raised.value


@pytest.mark.parametrize("bad", [None, "succeeded", event(K.SUCCEEDED, 1).to_state()])
def test_what_is_not_a_payment_event_is_refused_and_changes_nothing(bad: object) -> None:
    payment = make_payment()
    payment.apply(event(K.PENDING, 0))
    payment.pull_events()
    error = refused(payment, lambda: payment.apply(bad))  # type: ignore[arg-type]
    assert (error.field, error.value) == ("event", bad)


# --- refunds -------------------------------------------------------------------------------


def captured_payment() -> Payment:
    payment = make_payment()
    payment.apply(event(K.SUCCEEDED, 1))
    payment.pull_events()
    return payment


def test_a_refund_larger_than_captured_is_refused_and_changes_nothing() -> None:
    payment = captured_payment()
    refused(
        payment,
        lambda: payment.request_refund(payment.amount + inr("0.01"), refund_id="r-1", at=NOW),
    )


@pytest.mark.parametrize("amount", [inr("0.00"), inr("-1.00"), inr("1.005"), Decimal("1.00")])
def test_a_refund_of_no_money_or_of_part_of_a_paisa_is_refused_and_changes_nothing(
    amount: object,
) -> None:
    payment = captured_payment()
    error = refused(
        payment,
        lambda: payment.request_refund(amount, refund_id="r-1", at=NOW),  # type: ignore[arg-type]
    )
    assert (error.field, error.value) == ("amount", amount)


def test_a_refund_in_another_currency_is_refused_and_changes_nothing() -> None:
    payment = captured_payment()
    error = refused(
        payment, lambda: payment.request_refund(Money("1.00", "USD"), refund_id="r-1", at=NOW)
    )
    assert (error.field, error.value) == ("amount", Money("1.00", "USD"))
    assert error.reason == "must be in INR"


def test_partial_refunds_never_exceed_what_was_captured() -> None:
    payment = captured_payment()
    assert payment.request_refund(inr("500.00"), refund_id="r-1", at=NOW)
    assert payment.refundable == inr("198.00")
    before = payment.to_state()
    with pytest.raises(ValidationError):
        payment.request_refund(inr("198.01"), refund_id="r-2", at=NOW)
    assert payment.to_state() == before
    assert payment.request_refund(inr("198.00"), refund_id="r-2", at=NOW)
    assert not payment.refundable


def test_the_same_refund_requested_twice_is_reserved_once() -> None:
    payment = captured_payment()
    assert payment.request_refund(inr("100.00"), refund_id="r-1", at=NOW)
    assert not payment.request_refund(inr("100.00"), refund_id="r-1", at=NOW)
    assert payment.refundable == inr("598.00")
    with pytest.raises(IdempotencyConflict):
        payment.request_refund(inr("200.00"), refund_id="r-1", at=NOW)


def test_nothing_captured_nothing_to_refund() -> None:
    payment = make_payment()
    before = payment.to_state()
    with pytest.raises(InvalidTransition):
        payment.request_refund(inr("1.00"), refund_id="r-1", at=NOW)
    assert payment.to_state() == before


def test_refund_events_move_to_partially_refunded_then_refunded() -> None:
    payment = captured_payment()
    payment.request_refund(inr("98.00"), refund_id="r-1", at=NOW)
    payment.apply(event(K.REFUND_SUCCEEDED, 2, amount=inr("98.00"), refund_id="r-1"))
    assert status(payment) is S.PARTIALLY_REFUNDED
    assert payment.refunded == inr("98.00")
    payment.apply(event(K.REFUND_SUCCEEDED, 3, amount=inr("600.00"), refund_id="dashboard-7"))
    assert status(payment) is S.REFUNDED


def test_a_failed_refund_frees_its_reservation() -> None:
    payment = captured_payment()
    payment.request_refund(inr("698.00"), refund_id="r-1", at=NOW)
    payment.apply(event(K.REFUND_FAILED, 2, amount=inr("698.00"), refund_id="r-1"))
    assert payment.refundable == payment.amount
    assert status(payment) is S.SUCCEEDED


def test_refund_events_beyond_the_amount_are_refused() -> None:
    payment = captured_payment()
    payment.apply(event(K.REFUND_SUCCEEDED, 2, amount=inr("600.00"), refund_id="a"))
    before = payment.to_state()
    with pytest.raises(ValidationError):
        payment.apply(event(K.REFUND_SUCCEEDED, 3, amount=inr("99.00"), refund_id="b"))
    assert payment.to_state() == before


def test_a_refund_event_must_match_the_requested_amount() -> None:
    payment = captured_payment()
    payment.request_refund(inr("10.00"), refund_id="r-1", at=NOW)
    before = payment.to_state()
    with pytest.raises(IdempotencyConflict):
        payment.apply(event(K.REFUND_SUCCEEDED, 2, amount=inr("20.00"), refund_id="r-1"))
    assert payment.to_state() == before


def test_a_refund_is_owed_until_the_gateway_answers_for_it() -> None:
    payment = captured_payment()
    assert owed(payment) == ()
    payment.request_refund(inr("10.00"), refund_id="r-1", at=NOW)
    payment.request_refund(inr("20.00"), refund_id="r-2", at=NOW)
    payment.request_refund(inr("30.00"), refund_id="r-3", at=NOW)
    assert owed(payment) == (
        ("r-1", inr("10.00")),
        ("r-2", inr("20.00")),
        ("r-3", inr("30.00")),
    )
    assert payment.record_refund_sent("r-1", "rfnd_1")  # taken, still pending
    payment.apply(event(K.REFUND_SUCCEEDED, 2, amount=inr("20.00"), refund_id="r-2"))
    assert owed(payment) == (("r-3", inr("30.00")),)
    assert payment.refundable == inr("638.00")  # the pending one still holds its amount


def test_a_refund_is_noted_as_sent_once_under_one_gateway_id() -> None:
    payment = captured_payment()
    payment.request_refund(inr("10.00"), refund_id="r-1", at=NOW)
    assert payment.record_refund_sent("r-1", "rfnd_1")
    before = payment.to_state()
    assert not payment.record_refund_sent("r-1", "rfnd_1")
    with pytest.raises(IdempotencyConflict):
        payment.record_refund_sent("r-1", "rfnd_2")
    with pytest.raises(ValidationError):
        payment.record_refund_sent("never-requested", "rfnd_3")
    assert payment.to_state() == before


def test_a_refused_refund_is_recorded_as_failed_once_and_frees_its_reservation() -> None:
    payment = captured_payment()
    payment.request_refund(inr("698.00"), refund_id="r-1", at=NOW)
    payment.pull_events()
    assert payment.reject_refund("r-1", "exceeds what is left", at=NOW + timedelta(minutes=5))
    assert payment.refunds_owed == ()
    assert payment.refundable == payment.amount
    assert status(payment) is S.SUCCEEDED
    (failed,) = payment.pull_events()
    assert isinstance(failed, RefundFailed)
    assert (failed.refund_id, failed.amount, failed.reason) == (
        "r-1",
        inr("698.00"),
        "exceeds what is left",
    )
    before = payment.to_state()
    assert not payment.reject_refund("r-1", "again", at=NOW + timedelta(minutes=6))
    assert payment.to_state() == before
    assert payment.pull_events() == []
    assert not payment.request_refund(inr("698.00"), refund_id="r-1", at=NOW)  # not again
    with pytest.raises(ValidationError):
        payment.reject_refund("never-requested", "no", at=NOW)


def test_a_refund_the_gateway_reports_failed_is_recorded_once() -> None:
    payment = captured_payment()
    payment.request_refund(inr("98.00"), refund_id="r-1", at=NOW)
    payment.pull_events()
    failed = event(K.REFUND_FAILED, 2, amount=inr("98.00"), refund_id="r-1")
    payment.apply(failed)
    again = event(K.REFUND_FAILED, 3, eid="redelivered", amount=inr("98.00"), refund_id="r-1")
    payment.apply(again)
    assert [e.name for e in payment.pull_events()] == ["RefundFailed"]


def test_refunds_sent_survive_the_state_and_older_documents_load() -> None:
    payment = captured_payment()
    payment.request_refund(inr("10.00"), refund_id="r-1", at=NOW)
    payment.request_refund(inr("20.00"), refund_id="r-2", at=NOW)
    payment.record_refund_sent("r-1", "rfnd_1")
    state = payment.to_state()
    assert [r["gateway_refund_id"] for r in state["refund_requests"]] == ["rfnd_1", None]
    again = Payment.from_state(state)
    assert again.to_state() == state
    assert again.refunds_owed == (("r-2", inr("20.00")),)
    older = payment.to_state()
    for request in older["refund_requests"]:
        del request["gateway_refund_id"]  # as written before refunds were noted as sent
    loaded = Payment.from_state(older)
    assert loaded.refunds_owed == (("r-1", inr("10.00")), ("r-2", inr("20.00")))
    assert loaded.refundable == payment.refundable


def refund_event(
    kind: PaymentEventKind, refund_id: str, amount: str, *, eid: str, minutes: float = 2
) -> PaymentEvent:
    return event(kind, minutes, eid=eid, amount=inr(amount), refund_id=refund_id)


def sent_refund(amount: str = "100.00") -> Payment:
    """A captured payment (698.00) with a refund ``r-1`` that the gateway took as ``rfnd_1``."""
    payment = captured_payment()
    payment.request_refund(inr(amount), refund_id="r-1", at=NOW)
    payment.record_refund_sent("r-1", "rfnd_1")
    payment.pull_events()
    return payment


def test_a_refund_event_under_the_gateway_refund_id_counts_once() -> None:
    payment = sent_refund()
    payment.apply(refund_event(K.REFUND_SUCCEEDED, "rfnd_1", "100.00", eid="e-gw"))
    assert (payment.refunded, payment.refundable) == (inr("100.00"), inr("598.00"))
    assert (status(payment), owed(payment)) == (S.PARTIALLY_REFUNDED, ())
    payment.apply(refund_event(K.REFUND_SUCCEEDED, "r-1", "100.00", eid="e-ours", minutes=3))
    assert (payment.refunded, payment.refundable) == (inr("100.00"), inr("598.00"))


def test_a_refund_failed_under_the_gateway_refund_id_frees_its_reservation_once() -> None:
    payment = sent_refund()
    payment.apply(refund_event(K.REFUND_FAILED, "rfnd_1", "100.00", eid="e-gw"))
    assert payment.refundable == payment.amount
    (failed,) = payment.pull_events()
    assert isinstance(failed, RefundFailed)
    assert (failed.refund_id, failed.amount) == ("r-1", inr("100.00"))
    payment.apply(refund_event(K.REFUND_FAILED, "r-1", "100.00", eid="e-ours", minutes=3))
    assert payment.pull_events() == []
    assert not payment.reject_refund("r-1", "refused", at=NOW)  # its outcome is known


def test_a_refund_event_before_the_gateway_refund_id_is_known_is_matched_once_it_is() -> None:
    payment = captured_payment()
    payment.request_refund(inr("100.00"), refund_id="r-1", at=NOW)
    payment.pull_events()
    payment.apply(refund_event(K.REFUND_SUCCEEDED, "rfnd_1", "100.00", eid="e-gw"))
    # Not known to be ours yet: it counts as a refund of its own, and ours is still owed.
    assert (payment.refunded, payment.refundable) == (inr("100.00"), inr("498.00"))
    assert owed(payment) == (("r-1", inr("100.00")),)
    assert payment.record_refund_sent("r-1", "rfnd_1")
    assert (payment.refunded, payment.refundable, owed(payment)) == (
        inr("100.00"),
        inr("598.00"),
        (),
    )
    other_order = sent_refund()
    other_order.apply(refund_event(K.REFUND_SUCCEEDED, "rfnd_1", "100.00", eid="e-gw"))
    assert payment.to_state() == other_order.to_state()


def test_a_refund_failed_before_the_gateway_refund_id_is_known_is_released_once_it_is() -> None:
    payment = captured_payment()
    payment.request_refund(inr("100.00"), refund_id="r-1", at=NOW)
    payment.pull_events()
    payment.apply(refund_event(K.REFUND_FAILED, "rfnd_1", "100.00", eid="e-gw"))
    assert payment.refundable == inr("598.00")  # ours still holds its amount
    assert payment.pull_events() == []  # no refund of ours is known to have failed
    payment.record_refund_sent("r-1", "rfnd_1")
    assert (payment.refundable, owed(payment)) == (payment.amount, ())
    (failed,) = payment.pull_events()
    assert isinstance(failed, RefundFailed)
    assert (failed.refund_id, failed.amount) == ("r-1", inr("100.00"))


def test_a_refund_reported_under_both_ids_before_its_gateway_id_is_known_counts_once() -> None:
    payment = captured_payment()
    payment.request_refund(inr("349.00"), refund_id="r-1", at=NOW)
    payment.apply(refund_event(K.REFUND_SUCCEEDED, "r-1", "349.00", eid="e-ours"))
    payment.apply(refund_event(K.REFUND_SUCCEEDED, "rfnd_1", "349.00", eid="e-gw"))
    assert status(payment) is S.REFUNDED  # two refunds, as far as the payment can tell
    payment.pull_events()
    payment.record_refund_sent("r-1", "rfnd_1")
    assert (status(payment), payment.refunded, payment.refundable) == (
        S.PARTIALLY_REFUNDED,
        inr("349.00"),
        inr("349.00"),
    )
    (changed,) = payment.pull_events()
    assert isinstance(changed, PaymentStatusChanged)
    assert (changed.previous, changed.status) == (S.REFUNDED, S.PARTIALLY_REFUNDED)


def test_a_refund_we_never_requested_counts_once_under_its_own_id() -> None:
    payment = sent_refund()
    dashboard = refund_event(K.REFUND_SUCCEEDED, "rfnd_9", "200.00", eid="e-dash")
    payment.apply(dashboard)
    payment.apply(dashboard)
    payment.apply(refund_event(K.REFUND_SUCCEEDED, "rfnd_1", "100.00", eid="e-gw"))
    assert (payment.refunded, payment.refundable) == (inr("300.00"), inr("398.00"))


def test_a_gateway_refund_id_must_name_one_refund_of_one_amount() -> None:
    payment = sent_refund()
    payment.request_refund(inr("50.00"), refund_id="r-2", at=NOW)
    before = payment.to_state()
    with pytest.raises(IdempotencyConflict):
        payment.apply(refund_event(K.REFUND_SUCCEEDED, "rfnd_1", "20.00", eid="e-gw"))
    with pytest.raises(IdempotencyConflict):
        payment.record_refund_sent("r-2", "rfnd_1")  # already r-1's
    with pytest.raises(IdempotencyConflict):
        payment.record_refund_sent("r-2", "r-1")  # our id for another refund
    with pytest.raises(IdempotencyConflict):
        payment.request_refund(inr("100.00"), refund_id="rfnd_1", at=NOW)
    assert payment.to_state() == before
    payment.apply(refund_event(K.REFUND_SUCCEEDED, "rfnd_2", "20.00", eid="e-other"))
    before = payment.to_state()
    with pytest.raises(IdempotencyConflict):
        payment.record_refund_sent("r-2", "rfnd_2")  # the gateway reported 20.00 under it
    assert payment.to_state() == before


def test_refunds_matched_by_gateway_id_survive_the_state() -> None:
    payment = captured_payment()
    payment.request_refund(inr("100.00"), refund_id="r-1", at=NOW)
    payment.request_refund(inr("50.00"), refund_id="r-2", at=NOW)
    payment.apply(refund_event(K.REFUND_SUCCEEDED, "rfnd_1", "100.00", eid="e-1"))
    payment.apply(refund_event(K.REFUND_FAILED, "rfnd_2", "50.00", eid="e-2"))
    payment.record_refund_sent("r-1", "rfnd_1")
    state = payment.to_state()
    again = Payment.from_state(state)
    assert again.to_state() == state
    assert (again.refunded, again.refundable, again.refunds_owed) == (
        inr("100.00"),
        inr("548.00"),
        (("r-2", inr("50.00")),),
    )
    again.record_refund_sent("r-2", "rfnd_2")
    assert again.refundable == inr("598.00")


# --- fulfilment ----------------------------------------------------------------------------


def test_fulfilment_is_decided_once() -> None:
    quote = make_quote(BundleLine(bundle=NEXUS), TopUpLine(amount=inr("250.00")))
    payment = make_payment(quote)
    payment.apply(event(K.SUCCEEDED, 1))
    first = payment.fulfil(quote, at=NOW + timedelta(minutes=1))
    assert first is not None
    assert [(s.kind, s.target, s.amount) for s in first.steps] == [
        (StepKind.GRANT_BUNDLE, "nexus", inr("1499.00")),
        (StepKind.CREDIT_WALLET, "wallet", inr("250.00")),
    ]
    assert payment.fulfilled
    assert payment.apply(event(K.SUCCEEDED, 1, eid="poll"))  # a second report of the capture
    assert payment.fulfil(quote, at=NOW + timedelta(minutes=2)) is None
    assert payment.fulfilment == first
    assert sum(isinstance(e, FulfilmentDecided) for e in payment.pull_events()) == 1


def test_success_after_the_number_was_released_refunds_its_share() -> None:
    quote = make_quote(
        NumberLine(offer=OFFER, number_e164=NUMBER),
        BundleLine(bundle=NEXUS),
        tax=TaxPolicy.exclusive("0.18"),
    )
    payment = make_payment(quote)
    payment.apply(event(K.SUCCEEDED, 1))
    decision = payment.fulfil(quote, at=NOW, unavailable={NUMBER})
    assert decision is not None
    assert decision.reason is Unfulfillable.TARGET_UNAVAILABLE
    assert decision.unfulfilled_lines == (0,)
    assert [s.kind for s in decision.steps] == [StepKind.GRANT_BUNDLE]
    assert decision.remedy_amount == quote.line_totals()[0] == inr("823.64")
    assert decision.remedy_key == "pay-1:remedy"


def test_success_after_the_only_number_was_released_credits_the_wallet_if_asked() -> None:
    quote = make_quote()
    payment = make_payment(quote)
    payment.apply(event(K.SUCCEEDED, 1))
    decision = payment.fulfil(quote, at=NOW, unavailable=[NUMBER], remedy=Remedy.CREDIT_WALLET)
    assert decision is not None
    assert (decision.remedy, decision.remedy_amount, decision.steps) == (
        Remedy.CREDIT_WALLET,
        quote.total,
        (),
    )


def test_a_quote_fulfilled_by_another_payment_is_returned() -> None:
    quote = make_quote()
    payment = make_payment(quote)
    payment.apply(event(K.SUCCEEDED, 1))
    decision = payment.fulfil(quote, at=NOW, already_fulfilled_by="pay-0")
    assert decision is not None
    assert decision.reason is Unfulfillable.ALREADY_FULFILLED
    assert decision.remedy_amount == quote.total


def test_an_expired_and_repriced_quote_is_returned() -> None:
    quote = make_quote()
    payment = make_payment(quote)
    payment.apply(event(K.SUCCEEDED, 45))  # after the 30-minute quote expired
    before = payment.to_state()
    with pytest.raises(ValidationError):
        payment.fulfil(quote, at=NOW + timedelta(minutes=46))
    assert payment.to_state() == before
    decision = payment.fulfil(quote, at=NOW + timedelta(minutes=46), repriced_total=inr("749.00"))
    assert decision is not None
    assert decision.reason is Unfulfillable.QUOTE_REPRICED


def test_an_expired_quote_with_the_same_price_is_honoured() -> None:
    quote = make_quote()
    payment = make_payment(quote)
    payment.apply(event(K.SUCCEEDED, 45))
    decision = payment.fulfil(quote, at=NOW + timedelta(minutes=46), repriced_total=quote.total)
    assert decision is not None
    assert decision.complete


def test_fulfil_refuses_another_quote_and_changes_nothing() -> None:
    payment = captured_payment()
    other = Order([TopUpLine(amount=inr("1.00"))], "INR").quote(
        quote_id="q-2", account_id="acct-1", at=NOW
    )
    before = payment.to_state()
    with pytest.raises(ValidationError):
        payment.fulfil(other, at=NOW)
    assert payment.to_state() == before


@pytest.mark.parametrize("remedy", ["refund", None])
def test_fulfil_refuses_a_remedy_that_is_not_a_remedy_and_changes_nothing(remedy: object) -> None:
    payment = captured_payment()
    error = refused(
        payment,
        lambda: payment.fulfil(make_quote(), at=NOW, remedy=remedy),  # type: ignore[arg-type]
    )
    assert (error.field, error.value) == ("remedy", remedy)


def test_fulfil_refuses_one_unavailable_target_as_a_bare_string_and_changes_nothing() -> None:
    payment = captured_payment()
    error = refused(payment, lambda: payment.fulfil(make_quote(), at=NOW, unavailable=NUMBER))
    assert (error.field, error.value) == ("unavailable", NUMBER)


@pytest.mark.parametrize("captured", [inr("600.00"), inr("698.01")])
def test_a_fulfilment_is_decided_only_for_a_capture_of_the_quotes_total(captured: Money) -> None:
    quote = make_quote()
    with pytest.raises(ValidationError) as raised:
        decide_fulfilment(
            quote,
            payment_id="pay-1",
            captured=captured,
            captured_at=NOW,
            accepted=True,
            at=NOW,
        )
    assert (raised.value.field, raised.value.value) == ("captured", captured)
    assert str(quote.total) in raised.value.reason


def test_a_capture_of_the_quotes_total_cannot_be_decided_as_a_mismatch() -> None:
    quote = make_quote()
    with pytest.raises(ValidationError) as raised:
        capture_mismatch_fulfilment(quote, payment_id="pay-1", captured=quote.total, at=NOW)
    assert (raised.value.field, raised.value.value) == ("captured", quote.total)


def test_renewals_and_plans_map_to_their_steps() -> None:
    quote = make_quote(NumberLine(offer=OFFER, number_e164=NUMBER, renewal=True))
    payment = make_payment(quote)
    payment.apply(event(K.SUCCEEDED, 1))
    decision = payment.fulfil(quote, at=NOW)
    assert decision is not None
    assert [s.kind for s in decision.steps] == [StepKind.RENEW_NUMBER]
