"""`FakePaymentGateway` and `FixedClock`: scripted outcomes, signed webhooks, no wall clock."""

from __future__ import annotations

import hmac
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minutebill import (
    GatewayRejected,
    GatewayTimeout,
    GatewayUnavailable,
    IdempotencyConflict,
    Money,
    NotFound,
    ValidationError,
    WebhookVerificationError,
)
from minutebill.domain.checkout import Order, Quote
from minutebill.domain.line_items import TopUpLine
from minutebill.domain.payment_events import PaymentEventKind
from minutebill.domain.payments import Payment, PaymentStatus, Upi
from minutebill.gateway import GatewayPayment, MandateChargeRequest, PaymentRequest, RefundRequest
from minutebill.testing.fakes import (
    SIGNATURE_HEADER,
    FakePaymentGateway,
    FixedClock,
    Outcome,
    Webhook,
    sign,
)

NOW = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
SECRET = b"whsec_test"


def setup(default: Outcome = Outcome.SUCCEED) -> tuple[FakePaymentGateway, FixedClock]:
    clock = FixedClock(NOW)
    return FakePaymentGateway(secret=SECRET, clock=clock, default=default), clock


def request(reference: str = "pay-1", key: str = "key-1", units: int = 49_900) -> PaymentRequest:
    return PaymentRequest(
        reference=reference,
        idempotency_key=key,
        amount_minor=units,
        currency="INR",
        customer_id="acct-1",
        description="Nexus add-on",
        method=Upi("asha@okaxis"),
    )


def kinds(hooks: list[Webhook]) -> list[str]:
    return [h.event_type for h in hooks]


# --- the clock -------------------------------------------------------------------------------


def test_a_fixed_clock_moves_only_when_told() -> None:
    clock = FixedClock(NOW)
    assert clock.now() == clock.now() == NOW
    assert clock.advance(timedelta(minutes=5)) == NOW + timedelta(minutes=5)
    with pytest.raises(ValidationError):
        clock.advance(timedelta(seconds=-1))
    assert clock.now() == NOW + timedelta(minutes=5)


def test_a_fixed_clock_refuses_naive_times() -> None:
    with pytest.raises(ValidationError):
        FixedClock(datetime(2024, 5, 1))  # noqa: DTZ001


# --- scripted outcomes -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "status", "hook"),
    [
        (Outcome.SUCCEED, PaymentStatus.SUCCEEDED, "payment.succeeded"),
        (Outcome.FAIL, PaymentStatus.FAILED, "payment.failed"),
        (Outcome.STAY_PENDING, PaymentStatus.PENDING, "payment.pending"),
        (Outcome.REQUIRE_ACTION, PaymentStatus.ACTION_REQUIRED, "payment.action_required"),
    ],
)
def test_each_scripted_outcome_sets_the_status_and_sends_its_webhook(
    outcome: Outcome, status: PaymentStatus, hook: str
) -> None:
    fake, _ = setup()
    fake.script(outcome)
    payment = fake.create_payment(request())
    assert payment.status is status
    assert payment.updated_at == NOW
    assert kinds(fake.take_webhooks()) == [hook]
    assert fake.take_webhooks() == []  # taken once


def test_action_required_comes_with_where_to_act() -> None:
    fake, _ = setup(Outcome.REQUIRE_ACTION)
    assert fake.create_payment(request()).next_action_url is not None


def test_scripted_outcomes_are_used_in_order_then_the_default() -> None:
    fake, _ = setup(Outcome.FAIL)
    fake.script(Outcome.SUCCEED, Outcome.STAY_PENDING)
    statuses = [fake.create_payment(request(f"p{n}", f"k{n}")).status for n in range(3)]
    assert statuses == [PaymentStatus.SUCCEEDED, PaymentStatus.PENDING, PaymentStatus.FAILED]


def test_a_late_success_fails_first_and_succeeds_when_the_clock_passes() -> None:
    fake, clock = setup(Outcome.LATE_SUCCESS)
    created = fake.create_payment(request())
    assert created.status is PaymentStatus.FAILED
    assert kinds(fake.take_webhooks()) == ["payment.failed"]
    clock.advance(timedelta(minutes=2))
    assert fake.get_payment(created.gateway_payment_id).status is PaymentStatus.FAILED
    assert fake.take_webhooks() == []
    clock.advance(timedelta(minutes=1))
    late = fake.get_payment(created.gateway_payment_id)
    assert late.status is PaymentStatus.SUCCEEDED
    assert late.captured_at == NOW + timedelta(minutes=3)
    assert kinds(fake.take_webhooks()) == ["payment.succeeded"]


def test_a_timeout_loses_the_response_not_the_payment() -> None:
    fake, _ = setup()
    fake.script(Outcome.TIME_OUT)
    with pytest.raises(GatewayTimeout) as raised:
        fake.create_payment(request())
    assert raised.value.retryable
    retried = fake.create_payment(request())  # same key: the same payment, not a second one
    assert retried.status is PaymentStatus.SUCCEEDED
    assert kinds(fake.take_webhooks()) == ["payment.succeeded"]


def test_unavailable_means_nothing_happened() -> None:
    fake, _ = setup()
    fake.script(Outcome.UNAVAILABLE, Outcome.FAIL)
    with pytest.raises(GatewayUnavailable):
        fake.create_payment(request())
    assert fake.take_webhooks() == []
    assert fake.create_payment(request()).status is PaymentStatus.FAILED


def test_same_key_same_payment_other_amount_conflict() -> None:
    fake, _ = setup()
    first = fake.create_payment(request())
    assert fake.create_payment(request()) == first
    with pytest.raises(IdempotencyConflict):
        fake.create_payment(request(units=50_000))


def test_unknown_payments_are_not_found() -> None:
    fake, _ = setup()
    with pytest.raises(NotFound):
        fake.get_payment("pay_nope")
    with pytest.raises(NotFound):
        fake.move("pay_nope", PaymentStatus.SUCCEEDED)


def test_a_pending_payment_can_be_moved_by_the_test() -> None:
    fake, clock = setup(Outcome.STAY_PENDING)
    created = fake.create_payment(request())
    clock.advance(timedelta(seconds=30))
    fake.move(created.gateway_payment_id, PaymentStatus.FAILED, "insufficient funds")
    moved = fake.get_payment(created.gateway_payment_id)
    assert (moved.status, moved.failure_reason) == (PaymentStatus.FAILED, "insufficient funds")
    assert kinds(fake.take_webhooks()) == ["payment.pending", "payment.failed"]


# --- mandates --------------------------------------------------------------------------------


def mandate_charge(units: int, mandate: str = "mandate-1") -> MandateChargeRequest:
    return MandateChargeRequest(
        reference=f"renew-{units}",
        idempotency_key=f"renew-key-{units}",
        amount_minor=units,
        currency="INR",
        customer_id="acct-1",
        mandate_id=mandate,
        description="Number renewal",
    )


def test_mandate_charges_above_the_no_authentication_limit_need_the_customer() -> None:
    fake, _ = setup()
    fake.add_mandate("mandate-1")
    assert fake.charge_mandate(mandate_charge(1_500_000)).status is PaymentStatus.SUCCEEDED
    assert fake.charge_mandate(mandate_charge(1_500_001)).status is PaymentStatus.ACTION_REQUIRED


def test_an_unknown_mandate_is_rejected() -> None:
    fake, _ = setup()
    with pytest.raises(GatewayRejected) as raised:
        fake.charge_mandate(mandate_charge(100, "mandate-x"))
    assert not raised.value.retryable


# --- refunds ---------------------------------------------------------------------------------


def refund(payment: GatewayPayment, units: int, key: str) -> RefundRequest:
    return RefundRequest(
        gateway_payment_id=payment.gateway_payment_id,
        payment_reference=payment.reference,
        refund_reference=key,
        idempotency_key=key,
        amount_minor=units,
        currency="INR",
    )


def test_refunds_are_limited_to_what_was_captured() -> None:
    fake, _ = setup()
    payment = fake.create_payment(request())
    fake.refund(refund(payment, 40_000, "r1"))
    assert fake.get_payment(payment.gateway_payment_id).status is PaymentStatus.PARTIALLY_REFUNDED
    with pytest.raises(GatewayRejected):
        fake.refund(refund(payment, 9_901, "r2"))
    fake.refund(refund(payment, 9_900, "r3"))
    assert fake.get_payment(payment.gateway_payment_id).status is PaymentStatus.REFUNDED
    refunded = [json.loads(h.body)["data"] for h in fake.take_webhooks()[1:]]
    assert [(d["refund_id"], d["amount_minor"]) for d in refunded] == [
        ("r1", 40_000),
        ("r3", 9_900),
    ]


def test_scripted_refund_outcomes_keep_the_refund_promises() -> None:
    fake, _ = setup()
    payment = fake.create_payment(request())
    fake.take_webhooks()
    fake.script_refunds(Outcome.UNAVAILABLE, Outcome.TIME_OUT, Outcome.SUCCEED)
    with pytest.raises(GatewayUnavailable):  # nothing happened
        fake.refund(refund(payment, 10_000, "r1"))
    assert fake.get_payment(payment.gateway_payment_id).status is PaymentStatus.SUCCEEDED
    with pytest.raises(GatewayTimeout):  # refunded; the answer is lost
        fake.refund(refund(payment, 10_000, "r1"))
    assert fake.get_payment(payment.gateway_payment_id).status is PaymentStatus.PARTIALLY_REFUNDED
    again = fake.refund(refund(payment, 10_000, "r1"))  # the same key: the same refund
    assert kinds(fake.take_webhooks()) == ["refund.succeeded"]
    assert again.refund_reference == "r1"
    assert [c.idempotency_key for c in fake.refund_calls] == ["r1", "r1", "r1"]


def test_a_refund_can_be_scripted_to_fail_or_stay_pending() -> None:
    fake, _ = setup()
    payment = fake.create_payment(request())
    fake.take_webhooks()
    fake.script_refunds(Outcome.FAIL, Outcome.STAY_PENDING)
    failed = fake.refund(refund(payment, 49_900, "r1"))
    pending = fake.refund(refund(payment, 49_900, "r2"))  # the failed one refunded nothing
    assert (failed.status.value, pending.status.value) == ("failed", "pending")
    assert kinds(fake.take_webhooks()) == ["refund.failed"]
    assert fake.get_payment(payment.gateway_payment_id).status is PaymentStatus.SUCCEEDED
    with pytest.raises(GatewayRejected):  # the pending one holds the whole amount
        fake.refund(refund(payment, 1, "r3"))
    with pytest.raises(ValidationError):
        fake.script_refunds(Outcome.LATE_SUCCESS)


# --- webhooks --------------------------------------------------------------------------------


def test_webhooks_are_signed_with_hmac_sha256_over_the_raw_body() -> None:
    fake, _ = setup()
    fake.create_payment(request())
    (hook,) = fake.take_webhooks()
    value = hook.headers[SIGNATURE_HEADER]
    assert re.fullmatch(r"sha256=[0-9a-f]{64}", value)
    assert value == sign(hook.body, SECRET)
    event = fake.parse_webhook(hook.body, hook.headers)
    assert (event.kind, event.payment_reference) == (PaymentEventKind.SUCCEEDED, "pay-1")
    assert event.amount == Money("499.00", "INR")


def test_signatures_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    fake, _ = setup()
    fake.create_payment(request())
    (hook,) = fake.take_webhooks()
    calls: list[tuple[bytes, bytes]] = []
    original = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return original(a, b)

    monkeypatch.setattr("minutebill.testing.fakes.hmac.compare_digest", spy)
    fake.parse_webhook(hook.body, hook.headers)
    assert len(calls) == 1


@given(st.data())
def test_any_changed_byte_fails_verification(data: st.DataObject) -> None:
    fake, _ = setup()
    fake.create_payment(request())
    (hook,) = fake.take_webhooks()
    position = data.draw(st.integers(0, len(hook.body) - 1))
    flip = data.draw(st.integers(1, 255))
    body = bytearray(hook.body)
    body[position] ^= flip
    with pytest.raises(WebhookVerificationError):
        fake.parse_webhook(bytes(body), hook.headers)


def test_a_verified_body_that_is_not_an_event_is_a_validation_error() -> None:
    fake, _ = setup()
    body = b'{"hello": "world"}'
    with pytest.raises(ValidationError):
        fake.parse_webhook(body, {SIGNATURE_HEADER: sign(body, SECRET)})


@pytest.mark.parametrize(
    ("data", "field", "value"),
    [
        ({"amount_minor": 1.5, "currency": "INR"}, "body.data.amount_minor", 1.5),
        ({"amount_minor": "15000", "currency": "INR"}, "body.data.amount_minor", "15000"),
        ({"reference": ""}, "body.data.reference", ""),
    ],
    ids=["float-amount", "text-amount", "empty-reference"],
)
def test_a_verified_webhook_that_does_not_validate_names_the_field(
    data: dict[str, object], field: str, value: object
) -> None:
    fake, _ = setup()
    payload = {
        "id": "evt_1",
        "type": "payment.succeeded",
        "created_at": "2026-01-05T09:00:00+00:00",
        "data": {"payment_id": "pay_1", "reference": "p-1"} | data,
    }
    body = json.dumps(payload).encode()
    with pytest.raises(ValidationError) as raised:
        fake.parse_webhook(body, {SIGNATURE_HEADER: sign(body, SECRET)})
    assert (raised.value.field, raised.value.value) == (field, value)


def test_a_verified_body_that_is_not_json_is_named_as_the_body() -> None:
    fake, _ = setup()
    body = b"amount=15000&currency=INR"
    with pytest.raises(ValidationError, match="JSON") as raised:
        fake.parse_webhook(body, {SIGNATURE_HEADER: sign(body, SECRET)})
    assert (raised.value.field, raised.value.value) == ("body", body)


def test_a_signature_header_with_odd_characters_is_just_wrong() -> None:
    fake, _ = setup()
    with pytest.raises(WebhookVerificationError):
        fake.parse_webhook(b"{}", {SIGNATURE_HEADER: "sha256=ünïcode"})


@pytest.mark.parametrize(
    "headers",
    [None, [(SIGNATURE_HEADER, "sha256=00")], {SIGNATURE_HEADER: 5}, {SIGNATURE_HEADER: b"sha256"}],
    ids=["none", "pairs", "int-value", "bytes-value"],
)
def test_headers_that_are_not_a_mapping_of_text_fail_verification(headers: object) -> None:
    fake, _ = setup()
    with pytest.raises(WebhookVerificationError, match="signature header"):
        fake.parse_webhook(b"{}", headers)  # type: ignore[arg-type]


def test_a_signed_webhook_dated_beyond_the_years_utc_can_hold_is_a_validation_error() -> None:
    fake, _ = setup()
    body = json.dumps(
        {
            "id": "evt_1",
            "type": "payment.pending",
            "created_at": "9999-12-31T23:00:00-14:00",  # a valid offset, but no UTC instant
            "data": {"payment_id": "pay_1", "reference": "p-1"},
        }
    ).encode()
    with pytest.raises(ValidationError, match="9999"):
        fake.parse_webhook(body, {SIGNATURE_HEADER: sign(body, SECRET)})


# --- the fake and the domain together --------------------------------------------------------


def quote() -> Quote:
    order = Order([TopUpLine(amount=Money("499.00", "INR"))], "INR")
    return order.quote(quote_id="q-1", account_id="acct-1", at=NOW)


@given(st.permutations(range(3)), st.lists(st.integers(0, 2), max_size=4))
def test_a_late_success_delivered_in_any_order_fulfils_once(
    order: list[int], duplicates: list[int]
) -> None:
    fake, clock = setup(Outcome.LATE_SUCCESS)
    q = quote()
    payment = Payment.for_quote(q, payment_id="pay-1", idempotency_key="key-1", at=NOW)
    response = fake.create_payment(PaymentRequest.for_payment(payment, description="Top-up"))
    clock.advance(timedelta(minutes=5))
    hooks = fake.take_webhooks()  # failed, then succeeded
    created = response.to_event()
    assert created is not None
    arrivals = [hooks[0], hooks[1], None]  # None: the create response
    decisions = []
    for i in [*order, *duplicates]:
        hook = arrivals[i]
        event = created if hook is None else fake.parse_webhook(hook.body, hook.headers)
        payment.apply(event)
        decision = payment.fulfil(q, at=clock.now())
        if decision is not None:
            decisions.append(decision)
    assert payment.status is PaymentStatus.SUCCEEDED
    assert len(decisions) == 1
    assert decisions[0].complete


def test_every_report_of_a_capture_carries_the_capture_instant() -> None:
    fake, clock = setup(Outcome.STAY_PENDING)
    created = fake.create_payment(request())
    clock.advance(timedelta(minutes=1))
    fake.move(created.gateway_payment_id, PaymentStatus.SUCCEEDED)
    clock.advance(timedelta(minutes=1))
    fake.move(created.gateway_payment_id, PaymentStatus.SUCCEEDED)  # reported again, later
    hooks = fake.take_webhooks()[1:]
    instants = {fake.parse_webhook(h.body, h.headers).occurred_at for h in hooks}
    assert instants == {NOW + timedelta(minutes=1)}
    observed = fake.get_payment(created.gateway_payment_id).to_event()
    assert observed is not None
    assert observed.occurred_at == NOW + timedelta(minutes=1)


def test_a_zero_no_authentication_limit_sends_every_mandate_charge_to_the_customer() -> None:
    clock = FixedClock(NOW)
    fake = FakePaymentGateway(secret=SECRET, clock=clock, no_auth_limit=Money(0, "JPY"))
    fake.add_mandate("m-1")
    payment = fake.charge_mandate(
        MandateChargeRequest(
            reference="p-1",
            idempotency_key="k-1",
            amount_minor=1,
            currency="JPY",
            customer_id="acct-1",
            mandate_id="m-1",
            description="renewal",
        )
    )
    assert payment.status is PaymentStatus.ACTION_REQUIRED
