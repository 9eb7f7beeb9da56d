"""Shared test suites that every adapter of a minutebill port must pass.

An adapter author subclasses the contract in their own test suite and overrides **one**
fixture; pytest collects the inherited tests (name the subclass ``Test...``)::

    from minutebill.testing.contracts import GatewayHarness, PaymentGatewayContract

    class TestMyGateway(PaymentGatewayContract):
        @pytest.fixture
        def harness(self) -> GatewayHarness:
            return GatewayHarness(gateway=MyGateway(sandbox_keys), driver=MySandboxDriver())

`PaymentGatewayContract` checks what `minutebill.ports.PaymentGateway` promises: idempotency
(same key → same payment; same key, other amount → `IdempotencyConflict`), status mapping,
webhook verification over the raw bytes (a flipped byte, a re-serialised body or a wrong
secret fails) and refund limits.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import ClassVar, Protocol

import pytest
from attrs import evolve, frozen

from minutebill.domain.payment_events import PaymentEventKind
from minutebill.domain.payment_status import PaymentStatus
from minutebill.errors import (
    GatewayError,
    GatewayRejected,
    IdempotencyConflict,
    MinutebillError,
    NotFound,
    WebhookVerificationError,
)
from minutebill.gateway import GatewayPayment, PaymentGateway, PaymentRequest, RefundRequest
from minutebill.testing.fakes import Outcome

__all__ = ["GatewayDriver", "GatewayHarness", "PaymentGatewayContract"]


class GatewayDriver(Protocol):
    """What the contract needs besides the port: a way to make each outcome happen.

    A sandbox driver uses the gateway's test values (a UPI address or test card that always
    succeeds, fails or asks for authentication) and its webhook signing scheme.
    """

    def payment_request(
        self,
        outcome: Outcome,
        *,
        reference: str,
        idempotency_key: str,
        amount_minor: int,
        currency: str,
    ) -> PaymentRequest:
        """A request for `create_payment` that ends in `outcome`."""
        ...

    def settle(self, gateway_payment_id: str) -> None:
        """Return once the gateway reached the scripted outcome (a sandbox may poll)."""
        ...

    def signed_webhook(
        self, gateway_payment_id: str, *, wrong_secret: bool = False
    ) -> tuple[bytes, Mapping[str, str]]:
        """A genuine webhook (raw body, headers) for the payment's current status.

        With `wrong_secret`, the same kind of webhook signed with another secret.
        """
        ...


@frozen
class GatewayHarness:
    """What the `harness` fixture returns.

    Attributes:
        gateway: The adapter under test.
        driver: Makes outcomes happen on it.
        currency: The currency to test in.
        amount_minor: The amount of each test payment, in minor units.
    """

    gateway: PaymentGateway
    driver: GatewayDriver
    currency: str = "INR"
    amount_minor: int = 49_900


_MAPPING = {
    Outcome.SUCCEED: PaymentStatus.SUCCEEDED,
    Outcome.FAIL: PaymentStatus.FAILED,
    Outcome.STAY_PENDING: PaymentStatus.PENDING,
    Outcome.REQUIRE_ACTION: PaymentStatus.ACTION_REQUIRED,
}

_EVENT_KINDS = {
    PaymentStatus.SUCCEEDED: PaymentEventKind.SUCCEEDED,
    PaymentStatus.FAILED: PaymentEventKind.FAILED,
    PaymentStatus.PENDING: PaymentEventKind.PENDING,
    PaymentStatus.ACTION_REQUIRED: PaymentEventKind.ACTION_REQUIRED,
}


class PaymentGatewayContract:
    """The promises of `PaymentGateway`, as tests. Subclass it and override `harness`.

    Set `unsupported_outcomes` on the subclass for outcomes a sandbox cannot produce; the
    tests that need them are skipped, not passed.
    """

    unsupported_outcomes: ClassVar[frozenset[Outcome]] = frozenset()

    @pytest.fixture
    def harness(self) -> GatewayHarness:
        """Override: the gateway under test and its driver."""
        raise NotImplementedError("override the `harness` fixture")

    # --- helpers -------------------------------------------------------------------------

    def _need(self, outcome: Outcome) -> None:
        if outcome in self.unsupported_outcomes:
            pytest.skip(f"the gateway's sandbox cannot produce {outcome.value}")

    def _pay(
        self, harness: GatewayHarness, outcome: Outcome, name: str, amount_minor: int | None = None
    ) -> GatewayPayment:
        self._need(outcome)
        request = harness.driver.payment_request(
            outcome,
            reference=f"contract-{name}",
            idempotency_key=f"contract-key-{name}",
            amount_minor=amount_minor or harness.amount_minor,
            currency=harness.currency,
        )
        created = harness.gateway.create_payment(request)
        harness.driver.settle(created.gateway_payment_id)
        return harness.gateway.get_payment(created.gateway_payment_id)

    # --- creating and reading payments ---------------------------------------------------

    def test_create_echoes_reference_amount_and_currency(self, harness: GatewayHarness) -> None:
        payment = self._pay(harness, Outcome.SUCCEED, "echo")
        assert payment.reference == "contract-echo"
        assert payment.amount_minor == harness.amount_minor
        assert payment.currency == harness.currency

    @pytest.mark.parametrize("outcome", list(_MAPPING), ids=lambda o: o.value)
    def test_status_maps_to_minutebill_status(
        self, harness: GatewayHarness, outcome: Outcome
    ) -> None:
        payment = self._pay(harness, outcome, f"status-{outcome.value}")
        assert payment.status is _MAPPING[outcome]

    def test_same_key_and_request_returns_the_same_payment(self, harness: GatewayHarness) -> None:
        self._need(Outcome.SUCCEED)
        request = harness.driver.payment_request(
            Outcome.SUCCEED,
            reference="contract-twice",
            idempotency_key="contract-key-twice",
            amount_minor=harness.amount_minor,
            currency=harness.currency,
        )
        first = harness.gateway.create_payment(request)
        second = harness.gateway.create_payment(request)
        assert second.gateway_payment_id == first.gateway_payment_id
        assert second.amount_minor == first.amount_minor

    def test_same_key_with_another_amount_is_a_conflict(self, harness: GatewayHarness) -> None:
        self._need(Outcome.SUCCEED)
        request = harness.driver.payment_request(
            Outcome.SUCCEED,
            reference="contract-conflict",
            idempotency_key="contract-key-conflict",
            amount_minor=harness.amount_minor,
            currency=harness.currency,
        )
        first = harness.gateway.create_payment(request)
        other = evolve(request, amount_minor=harness.amount_minor + 100)
        with pytest.raises(IdempotencyConflict):
            harness.gateway.create_payment(other)
        assert harness.gateway.get_payment(first.gateway_payment_id).amount_minor == (
            harness.amount_minor
        )

    def test_unknown_payment_is_not_found(self, harness: GatewayHarness) -> None:
        with pytest.raises(NotFound):
            harness.gateway.get_payment("contract-no-such-payment")

    def test_timeout_is_retryable_and_the_retry_does_not_charge_twice(
        self, harness: GatewayHarness
    ) -> None:
        self._need(Outcome.TIME_OUT)
        request = harness.driver.payment_request(
            Outcome.TIME_OUT,
            reference="contract-timeout",
            idempotency_key="contract-key-timeout",
            amount_minor=harness.amount_minor,
            currency=harness.currency,
        )
        with pytest.raises(GatewayError) as raised:
            harness.gateway.create_payment(request)
        assert raised.value.retryable
        retried = harness.gateway.create_payment(request)
        again = harness.gateway.create_payment(request)
        assert retried.gateway_payment_id == again.gateway_payment_id

    # --- webhooks ------------------------------------------------------------------------

    def test_a_genuine_webhook_parses_to_the_payment_event(self, harness: GatewayHarness) -> None:
        payment = self._pay(harness, Outcome.SUCCEED, "hook")
        body, headers = harness.driver.signed_webhook(payment.gateway_payment_id)
        event = harness.gateway.parse_webhook(body, headers)
        assert event.gateway_payment_id == payment.gateway_payment_id
        assert event.payment_reference == payment.reference
        assert event.kind is _EVENT_KINDS[payment.status]

    def test_header_names_are_case_insensitive(self, harness: GatewayHarness) -> None:
        payment = self._pay(harness, Outcome.SUCCEED, "hook-case")
        body, headers = harness.driver.signed_webhook(payment.gateway_payment_id)
        lowered = {k.lower(): v for k, v in headers.items()}
        assert harness.gateway.parse_webhook(body, lowered).payment_reference == payment.reference

    def test_a_flipped_byte_fails_verification(self, harness: GatewayHarness) -> None:
        payment = self._pay(harness, Outcome.SUCCEED, "hook-flip")
        body, headers = harness.driver.signed_webhook(payment.gateway_payment_id)
        for position in (0, len(body) // 2, len(body) - 1):
            flipped = bytearray(body)
            flipped[position] ^= 0x01
            with pytest.raises(WebhookVerificationError):
                harness.gateway.parse_webhook(bytes(flipped), headers)

    def test_a_reserialised_body_fails_verification(self, harness: GatewayHarness) -> None:
        payment = self._pay(harness, Outcome.SUCCEED, "hook-json")
        body, headers = harness.driver.signed_webhook(payment.gateway_payment_id)
        reserialised = json.dumps(json.loads(body), indent=2, sort_keys=True).encode()
        assert reserialised != body
        with pytest.raises(WebhookVerificationError):
            harness.gateway.parse_webhook(reserialised, headers)

    def test_a_wrong_secret_fails_verification(self, harness: GatewayHarness) -> None:
        payment = self._pay(harness, Outcome.SUCCEED, "hook-secret")
        body, headers = harness.driver.signed_webhook(payment.gateway_payment_id, wrong_secret=True)
        with pytest.raises(WebhookVerificationError):
            harness.gateway.parse_webhook(body, headers)

    def test_a_missing_signature_fails_verification(self, harness: GatewayHarness) -> None:
        payment = self._pay(harness, Outcome.SUCCEED, "hook-unsigned")
        body, _ = harness.driver.signed_webhook(payment.gateway_payment_id)
        with pytest.raises(WebhookVerificationError):
            harness.gateway.parse_webhook(body, {"Content-Type": "application/json"})

    # --- refunds -------------------------------------------------------------------------

    def _refund(self, payment: GatewayPayment, amount_minor: int, key: str) -> RefundRequest:
        return RefundRequest(
            gateway_payment_id=payment.gateway_payment_id,
            payment_reference=payment.reference,
            refund_reference=key,
            idempotency_key=key,
            amount_minor=amount_minor,
            currency=payment.currency,
        )

    def test_partial_refunds_up_to_the_captured_amount(self, harness: GatewayHarness) -> None:
        payment = self._pay(harness, Outcome.SUCCEED, "refund-parts")
        third = payment.amount_minor // 3
        harness.gateway.refund(self._refund(payment, third, "r-parts-1"))
        rest = payment.amount_minor - third
        harness.gateway.refund(self._refund(payment, rest, "r-parts-2"))
        with pytest.raises(GatewayRejected):
            harness.gateway.refund(self._refund(payment, 1, "r-parts-3"))

    def test_a_refund_larger_than_captured_is_rejected(self, harness: GatewayHarness) -> None:
        payment = self._pay(harness, Outcome.SUCCEED, "refund-big")
        with pytest.raises(GatewayRejected):
            harness.gateway.refund(self._refund(payment, payment.amount_minor + 1, "r-big"))
        # Nothing was refunded: the whole amount can still be.
        harness.gateway.refund(self._refund(payment, payment.amount_minor, "r-big-ok"))

    def test_a_failed_payment_cannot_be_refunded(self, harness: GatewayHarness) -> None:
        payment = self._pay(harness, Outcome.FAIL, "refund-failed")
        with pytest.raises(GatewayRejected):
            harness.gateway.refund(self._refund(payment, payment.amount_minor, "r-failed"))

    def test_the_same_refund_key_refunds_once(self, harness: GatewayHarness) -> None:
        payment = self._pay(harness, Outcome.SUCCEED, "refund-once")
        request = self._refund(payment, payment.amount_minor, "r-once")
        first = harness.gateway.refund(request)
        second = harness.gateway.refund(request)
        assert first.refund_id == second.refund_id
        with pytest.raises(GatewayRejected):
            harness.gateway.refund(self._refund(payment, 1, "r-once-more"))

    def test_the_same_refund_key_with_another_amount_is_a_conflict(
        self, harness: GatewayHarness
    ) -> None:
        payment = self._pay(harness, Outcome.SUCCEED, "refund-conflict")
        harness.gateway.refund(self._refund(payment, 100, "r-conflict"))
        with pytest.raises(IdempotencyConflict):
            harness.gateway.refund(self._refund(payment, 200, "r-conflict"))

    def test_errors_belong_to_the_minutebill_tree(self, harness: GatewayHarness) -> None:
        payment = self._pay(harness, Outcome.FAIL, "refund-tree")
        with pytest.raises(MinutebillError):
            harness.gateway.refund(self._refund(payment, 1, "r-tree"))
