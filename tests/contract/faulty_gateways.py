"""Gateways that each break one promise of `PaymentGateway`, run against the contract.

Not collected on its own (the name does not start with ``test_``):
``test_contract_catches_faulty_gateways.py`` runs these classes in a separate pytest session
and checks that each fails exactly the contract tests of its fault.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import pytest
from attrs import evolve

from minutebill.domain.money import Money
from minutebill.domain.payment_events import PaymentEvent, PaymentEventKind
from minutebill.domain.payment_status import PaymentStatus
from minutebill.errors import GatewayRejected, GatewayUnavailable
from minutebill.gateway import (
    GatewayPayment,
    GatewayRefund,
    MandateChargeRequest,
    PaymentRequest,
    RefundRequest,
)
from minutebill.testing.contracts import GatewayHarness, PaymentGatewayContract
from minutebill.testing.fakes import FakeGatewayDriver, FakePaymentGateway, FixedClock

__all__ = [
    "TestAnyMandateGateway",
    "TestCaptureOnlyWhileSucceededGateway",
    "TestFailedAsCanceledWebhookGateway",
    "TestFatalOutageGateway",
    "TestKeylessMandateGateway",
    "TestMajorUnitMandateGateway",
    "TestNoAuthLimitGateway",
    "TestNoCaptureInstantGateway",
    "TestRefundWithoutReferenceGateway",
    "TestRetryableRejectionGateway",
    "TestSkewedWebhookGateway",
    "TestUnknownRefundRejectedGateway",
]


class SkewedWebhookGateway(FakePaymentGateway):
    """Dates a success webhook 2 s after the capture (event time, not capture time)."""

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> PaymentEvent:
        event = super().parse_webhook(body, headers)
        if event.kind is PaymentEventKind.SUCCEEDED:
            event = evolve(event, occurred_at=event.occurred_at + timedelta(seconds=2))
        return event


class NoCaptureInstantGateway(FakePaymentGateway):
    """Never fills in `captured_at`."""

    def create_payment(self, request: PaymentRequest) -> GatewayPayment:
        return evolve(super().create_payment(request), captured_at=None)

    def charge_mandate(self, request: MandateChargeRequest) -> GatewayPayment:
        return evolve(super().charge_mandate(request), captured_at=None)

    def get_payment(self, gateway_payment_id: str) -> GatewayPayment:
        return evolve(super().get_payment(gateway_payment_id), captured_at=None)


class CaptureOnlyWhileSucceededGateway(FakePaymentGateway):
    """Forgets the capture instant once the payment is (partly) refunded."""

    def get_payment(self, gateway_payment_id: str) -> GatewayPayment:
        payment = super().get_payment(gateway_payment_id)
        if payment.status is PaymentStatus.SUCCEEDED:
            return payment
        return evolve(payment, captured_at=None)


class FailedAsCanceledWebhookGateway(FakePaymentGateway):
    """Maps a decline webhook to CANCELED."""

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> PaymentEvent:
        event = super().parse_webhook(body, headers)
        if event.kind is PaymentEventKind.FAILED:
            event = evolve(event, kind=PaymentEventKind.CANCELED, reason=None)
        return event


class FatalOutageGateway(FakePaymentGateway):
    """Reports an outage as an error that may not be retried."""

    def create_payment(self, request: PaymentRequest) -> GatewayPayment:
        try:
            return super().create_payment(request)
        except GatewayUnavailable as error:
            raise GatewayUnavailable(str(error), retryable=False) from None


class RetryableRejectionGateway(FakePaymentGateway):
    """Marks every rejection retryable (a 4xx treated like a 5xx)."""

    def charge_mandate(self, request: MandateChargeRequest) -> GatewayPayment:
        try:
            return super().charge_mandate(request)
        except GatewayRejected as error:
            raise GatewayRejected(str(error), retryable=True) from None

    def refund(self, request: RefundRequest) -> GatewayRefund:
        try:
            return super().refund(request)
        except GatewayRejected as error:
            raise GatewayRejected(str(error), retryable=True) from None


class KeylessMandateGateway(FakePaymentGateway):
    """Sends every mandate charge under a fresh idempotency key."""

    _attempts = itertools.count()

    def charge_mandate(self, request: MandateChargeRequest) -> GatewayPayment:
        key = f"{request.idempotency_key}-{next(self._attempts)}"
        return super().charge_mandate(evolve(request, idempotency_key=key))


class MajorUnitMandateGateway(FakePaymentGateway):
    """Sends mandate amounts in rupees where the gateway expects paise."""

    def charge_mandate(self, request: MandateChargeRequest) -> GatewayPayment:
        return super().charge_mandate(evolve(request, amount_minor=request.amount_minor // 100))


class AnyMandateGateway(FakePaymentGateway):
    """Charges any mandate id, approved or not."""

    def charge_mandate(self, request: MandateChargeRequest) -> GatewayPayment:
        self.add_mandate(request.mandate_id)
        return super().charge_mandate(request)


class RefundWithoutReferenceGateway(FakePaymentGateway):
    """Answers a refund with the gateway's id where our reference belongs."""

    def refund(self, request: RefundRequest) -> GatewayRefund:
        refund = super().refund(request)
        return evolve(refund, refund_reference=refund.refund_id)


class UnknownRefundRejectedGateway(FakePaymentGateway):
    """Rejects a refund of an unknown payment instead of saying it is not found."""

    def refund(self, request: RefundRequest) -> GatewayRefund:
        if request.gateway_payment_id not in {p.gateway_payment_id for p in self.payments()}:
            raise GatewayRejected(f"no payment {request.gateway_payment_id}")
        return super().refund(request)


def _harness(
    gateway_class: type[FakePaymentGateway], no_auth_limit: Money | None = None
) -> GatewayHarness:
    clock = FixedClock(datetime(2024, 5, 1, 9, 30, tzinfo=UTC))
    fake = gateway_class(secret=b"whsec_faulty", clock=clock, no_auth_limit=no_auth_limit)
    return GatewayHarness(gateway=fake, driver=FakeGatewayDriver(fake))


class TestSkewedWebhookGateway(PaymentGatewayContract):
    @pytest.fixture
    def harness(self) -> GatewayHarness:
        return _harness(SkewedWebhookGateway)


class TestNoCaptureInstantGateway(PaymentGatewayContract):
    @pytest.fixture
    def harness(self) -> GatewayHarness:
        return _harness(NoCaptureInstantGateway)


class TestCaptureOnlyWhileSucceededGateway(PaymentGatewayContract):
    @pytest.fixture
    def harness(self) -> GatewayHarness:
        return _harness(CaptureOnlyWhileSucceededGateway)


class TestFailedAsCanceledWebhookGateway(PaymentGatewayContract):
    @pytest.fixture
    def harness(self) -> GatewayHarness:
        return _harness(FailedAsCanceledWebhookGateway)


class TestFatalOutageGateway(PaymentGatewayContract):
    @pytest.fixture
    def harness(self) -> GatewayHarness:
        return _harness(FatalOutageGateway)


class TestRetryableRejectionGateway(PaymentGatewayContract):
    @pytest.fixture
    def harness(self) -> GatewayHarness:
        return _harness(RetryableRejectionGateway)


class TestKeylessMandateGateway(PaymentGatewayContract):
    @pytest.fixture
    def harness(self) -> GatewayHarness:
        return _harness(KeylessMandateGateway)


class TestMajorUnitMandateGateway(PaymentGatewayContract):
    @pytest.fixture
    def harness(self) -> GatewayHarness:
        return _harness(MajorUnitMandateGateway)


class TestAnyMandateGateway(PaymentGatewayContract):
    @pytest.fixture
    def harness(self) -> GatewayHarness:
        return _harness(AnyMandateGateway)


class TestNoAuthLimitGateway(PaymentGatewayContract):
    """Collects mandate charges of any size without the customer."""

    @pytest.fixture
    def harness(self) -> GatewayHarness:
        return _harness(FakePaymentGateway, no_auth_limit=Money("1000000000.00", "INR"))


class TestRefundWithoutReferenceGateway(PaymentGatewayContract):
    @pytest.fixture
    def harness(self) -> GatewayHarness:
        return _harness(RefundWithoutReferenceGateway)


class TestUnknownRefundRejectedGateway(PaymentGatewayContract):
    @pytest.fixture
    def harness(self) -> GatewayHarness:
        return _harness(UnknownRefundRejectedGateway)
