"""Shared test suites that every adapter of a minutebill port must pass.

An adapter author subclasses the contract in their own test suite and overrides **one**
fixture; pytest collects the inherited tests (name the subclass ``Test...``)::

    from minutebill.testing.contracts import GatewayHarness, PaymentGatewayContract

    class TestMyGateway(PaymentGatewayContract):
        @pytest.fixture
        def harness(self) -> GatewayHarness:
            return GatewayHarness(gateway=MyGateway(sandbox_keys), driver=MySandboxDriver())

`PaymentGatewayContract` checks what `minutebill.ports.PaymentGateway` promises: idempotency
(same key → same payment; same key, other amount → `IdempotencyConflict`) for payments, mandate
charges and refunds; amounts echoed in minor units; status mapping; one capture instant in every
report of a capture (`create_payment`, `get_payment`, the success webhook); webhook verification
over the raw bytes (a flipped byte, a re-serialised body or a wrong secret fails); refund limits;
and the `retryable` flag of each error it can provoke. Mandate charges need the optional
`MandateDriver.mandate_request` on the driver; without it their tests are skipped, not passed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import ClassVar, Protocol, runtime_checkable

import pytest
from attrs import Factory, evolve, field, frozen

from minutebill.domain.payment_events import PaymentEventKind
from minutebill.domain.payment_status import PaymentStatus
from minutebill.errors import (
    GatewayError,
    GatewayRejected,
    GatewayUnavailable,
    IdempotencyConflict,
    MinutebillError,
    NotFound,
    WebhookVerificationError,
)
from minutebill.gateway import (
    GatewayPayment,
    MandateChargeRequest,
    PaymentGateway,
    PaymentRequest,
    RefundRequest,
)
from minutebill.testing.fakes import Outcome

__all__ = ["GatewayDriver", "GatewayHarness", "MandateDriver", "PaymentGatewayContract"]


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


@runtime_checkable
class MandateDriver(GatewayDriver, Protocol):
    """A `GatewayDriver` that can also charge a mandate: give your driver this method.

    The contract's `charge_mandate` tests run only when the driver has it, and are skipped
    otherwise (a skip, not a pass).
    """

    def mandate_request(
        self, *, reference: str, idempotency_key: str, amount_minor: int, currency: str
    ) -> MandateChargeRequest:
        """A request for `charge_mandate` on a mandate the customer approved in the sandbox.

        The gateway collects it (SUCCEEDED) unless the amount is above the no-authentication
        limit. The contract swaps in an unknown `mandate_id` to see it rejected.
        """
        ...


def _no_auth_limit(harness: GatewayHarness) -> int | None:
    return 1_500_000 if harness.currency == "INR" else None


@frozen
class GatewayHarness:
    """What the `harness` fixture returns.

    Attributes:
        gateway: The adapter under test.
        driver: Makes outcomes happen on it.
        currency: The currency to test in.
        amount_minor: The amount of each test payment, in minor units.
        no_auth_limit_minor: The largest mandate charge the gateway collects without the
            customer, in minor units; above it `charge_mandate` answers ACTION_REQUIRED. By
            default INR 15,000 (the RBI limit for e-mandates) in INR, else None: no limit to
            test (that test is skipped).
    """

    gateway: PaymentGateway
    driver: GatewayDriver
    currency: str = "INR"
    amount_minor: int = 49_900
    no_auth_limit_minor: int | None = field(default=Factory(_no_auth_limit, takes_self=True))


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
    tests that need them are skipped, not passed. The `charge_mandate` tests need a driver
    with `MandateDriver.mandate_request`, and are skipped without one.
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

    def _create(
        self, harness: GatewayHarness, outcome: Outcome, name: str
    ) -> tuple[GatewayPayment, GatewayPayment]:
        """The payment as `create_payment` answered, and as `get_payment` reports it settled."""
        self._need(outcome)
        request = harness.driver.payment_request(
            outcome,
            reference=f"contract-{name}",
            idempotency_key=f"contract-key-{name}",
            amount_minor=harness.amount_minor,
            currency=harness.currency,
        )
        created = harness.gateway.create_payment(request)
        harness.driver.settle(created.gateway_payment_id)
        return created, harness.gateway.get_payment(created.gateway_payment_id)

    def _pay(self, harness: GatewayHarness, outcome: Outcome, name: str) -> GatewayPayment:
        return self._create(harness, outcome, name)[1]

    def _mandate_driver(self, harness: GatewayHarness) -> MandateDriver:
        if not isinstance(harness.driver, MandateDriver):
            pytest.skip("the driver has no `mandate_request`: charge_mandate is not tested")
        return harness.driver

    def _mandate_request(
        self, harness: GatewayHarness, name: str, amount_minor: int | None = None
    ) -> MandateChargeRequest:
        return self._mandate_driver(harness).mandate_request(
            reference=f"contract-{name}",
            idempotency_key=f"contract-key-{name}",
            amount_minor=amount_minor or harness.amount_minor,
            currency=harness.currency,
        )

    def _charge(self, harness: GatewayHarness, name: str) -> tuple[GatewayPayment, GatewayPayment]:
        """A mandate charge as `charge_mandate` answered, and as `get_payment` reports it."""
        charged = harness.gateway.charge_mandate(self._mandate_request(harness, name))
        harness.driver.settle(charged.gateway_payment_id)
        return charged, harness.gateway.get_payment(charged.gateway_payment_id)

    @staticmethod
    def _assert_one_capture_instant(*reports: GatewayPayment) -> None:
        captured = [r for r in reports if r.captured_at is not None]
        settled = reports[-1]
        assert settled.status is PaymentStatus.SUCCEEDED
        assert settled.captured_at is not None, "a captured payment must report `captured_at`"
        assert {r.captured_at for r in captured} == {settled.captured_at}

    def _assert_success_webhook_at_capture(
        self, harness: GatewayHarness, payment: GatewayPayment
    ) -> None:
        body, headers = harness.driver.signed_webhook(payment.gateway_payment_id)
        event = harness.gateway.parse_webhook(body, headers)
        assert event.kind is PaymentEventKind.SUCCEEDED
        assert event.occurred_at == payment.captured_at, (
            f"the success webhook dates the capture {event.occurred_at}, get_payment "
            f"{payment.captured_at}: every report of one capture must carry the same instant"
        )
        assert event.amount is None or event.amount == payment.amount

    # --- creating and reading payments ---------------------------------------------------

    def test_create_echoes_reference_amount_and_currency(self, harness: GatewayHarness) -> None:
        for payment in self._create(harness, Outcome.SUCCEED, "echo"):
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

    def test_an_unavailable_gateway_is_retryable(self, harness: GatewayHarness) -> None:
        self._need(Outcome.UNAVAILABLE)
        request = harness.driver.payment_request(
            Outcome.UNAVAILABLE,
            reference="contract-unavailable",
            idempotency_key="contract-key-unavailable",
            amount_minor=harness.amount_minor,
            currency=harness.currency,
        )
        with pytest.raises(GatewayUnavailable) as raised:
            harness.gateway.create_payment(request)
        assert raised.value.retryable

    # --- the capture instant -------------------------------------------------------------

    def test_every_report_of_a_capture_carries_one_instant(self, harness: GatewayHarness) -> None:
        created, settled = self._create(harness, Outcome.SUCCEED, "captured-at")
        again = harness.gateway.get_payment(settled.gateway_payment_id)
        self._assert_one_capture_instant(created, settled, again)

    def test_a_success_webhook_dates_the_capture_at_captured_at(
        self, harness: GatewayHarness
    ) -> None:
        created, settled = self._create(harness, Outcome.SUCCEED, "hook-captured-at")
        self._assert_one_capture_instant(created, settled)
        self._assert_success_webhook_at_capture(harness, settled)

    def test_a_refund_keeps_the_capture_instant(self, harness: GatewayHarness) -> None:
        payment = self._pay(harness, Outcome.SUCCEED, "refund-captured-at")
        harness.gateway.refund(self._refund(payment, payment.amount_minor // 2, "r-captured-at"))
        later = harness.gateway.get_payment(payment.gateway_payment_id)
        assert later.captured_at == payment.captured_at

    # --- webhooks ------------------------------------------------------------------------

    @pytest.mark.parametrize("outcome", list(_MAPPING), ids=lambda o: o.value)
    def test_a_genuine_webhook_parses_to_the_payment_event(
        self, harness: GatewayHarness, outcome: Outcome
    ) -> None:
        payment = self._pay(harness, outcome, f"hook-{outcome.value}")
        body, headers = harness.driver.signed_webhook(payment.gateway_payment_id)
        event = harness.gateway.parse_webhook(body, headers)
        assert event.gateway_payment_id == payment.gateway_payment_id
        assert event.payment_reference == payment.reference
        assert event.kind is _EVENT_KINDS[payment.status]
        assert event.amount is None or event.amount == payment.amount

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

    # --- mandate charges (auto-pay, off-session) -----------------------------------------

    def test_a_mandate_charge_echoes_reference_amount_and_currency(
        self, harness: GatewayHarness
    ) -> None:
        charged, settled = self._charge(harness, "mandate-echo")
        for payment in (charged, settled):
            assert payment.reference == "contract-mandate-echo"
            assert payment.amount_minor == harness.amount_minor
            assert payment.currency == harness.currency
        assert settled.status is PaymentStatus.SUCCEEDED

    def test_a_mandate_charge_reports_one_capture_instant(self, harness: GatewayHarness) -> None:
        charged, settled = self._charge(harness, "mandate-captured-at")
        self._assert_one_capture_instant(charged, settled)
        self._assert_success_webhook_at_capture(harness, settled)

    def test_the_same_mandate_key_charges_once(self, harness: GatewayHarness) -> None:
        request = self._mandate_request(harness, "mandate-twice")
        first = harness.gateway.charge_mandate(request)
        second = harness.gateway.charge_mandate(request)
        assert second.gateway_payment_id == first.gateway_payment_id
        assert second.amount_minor == first.amount_minor

    def test_the_same_mandate_key_with_another_amount_is_a_conflict(
        self, harness: GatewayHarness
    ) -> None:
        request = self._mandate_request(harness, "mandate-conflict")
        first = harness.gateway.charge_mandate(request)
        with pytest.raises(IdempotencyConflict):
            harness.gateway.charge_mandate(evolve(request, amount_minor=request.amount_minor + 100))
        assert harness.gateway.get_payment(first.gateway_payment_id).amount_minor == (
            request.amount_minor
        )

    def test_an_unknown_mandate_is_rejected_for_good(self, harness: GatewayHarness) -> None:
        request = self._mandate_request(harness, "mandate-unknown")
        with pytest.raises(GatewayRejected) as raised:
            harness.gateway.charge_mandate(evolve(request, mandate_id="contract-no-such-mandate"))
        assert not raised.value.retryable

    def test_a_charge_above_the_no_auth_limit_needs_the_customer(
        self, harness: GatewayHarness
    ) -> None:
        self._mandate_driver(harness)
        limit = harness.no_auth_limit_minor
        if limit is None:
            pytest.skip(f"no no-authentication limit for mandate charges in {harness.currency}")
        at_limit = self._mandate_request(harness, "mandate-at-limit", limit)
        above = self._mandate_request(harness, "mandate-above-limit", limit + 1)
        assert harness.gateway.charge_mandate(at_limit).status is not (
            PaymentStatus.ACTION_REQUIRED
        )
        assert harness.gateway.charge_mandate(above).status is PaymentStatus.ACTION_REQUIRED

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
        with pytest.raises(GatewayRejected) as raised:
            harness.gateway.refund(self._refund(payment, payment.amount_minor + 1, "r-big"))
        assert not raised.value.retryable
        # Nothing was refunded: the whole amount can still be.
        harness.gateway.refund(self._refund(payment, payment.amount_minor, "r-big-ok"))

    def test_a_failed_payment_cannot_be_refunded(self, harness: GatewayHarness) -> None:
        payment = self._pay(harness, Outcome.FAIL, "refund-failed")
        with pytest.raises(GatewayRejected):
            harness.gateway.refund(self._refund(payment, payment.amount_minor, "r-failed"))

    def test_a_refund_echoes_its_references_amount_and_currency(
        self, harness: GatewayHarness
    ) -> None:
        payment = self._pay(harness, Outcome.SUCCEED, "refund-echo")
        request = self._refund(payment, payment.amount_minor // 4, "r-echo")
        refund = harness.gateway.refund(request)
        assert refund.refund_reference == request.refund_reference
        assert refund.payment_reference == payment.reference
        assert refund.gateway_payment_id == payment.gateway_payment_id
        assert refund.amount_minor == request.amount_minor
        assert refund.currency == payment.currency

    def test_a_refund_of_an_unknown_payment_is_not_found(self, harness: GatewayHarness) -> None:
        payment = self._pay(harness, Outcome.SUCCEED, "refund-unknown")
        unknown = evolve(payment, gateway_payment_id="contract-no-such-payment")
        with pytest.raises(NotFound):
            harness.gateway.refund(self._refund(unknown, 100, "r-unknown"))

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
