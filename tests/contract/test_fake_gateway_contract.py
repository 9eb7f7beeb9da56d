"""`FakePaymentGateway` passes the payment-gateway contract every adapter must pass."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from minutebill.testing.contracts import GatewayHarness, PaymentGatewayContract
from minutebill.testing.fakes import FakeGatewayDriver, FakePaymentGateway, FixedClock


class TestFakePaymentGateway(PaymentGatewayContract):
    @pytest.fixture
    def harness(self) -> GatewayHarness:
        clock = FixedClock(datetime(2024, 5, 1, 9, 30, tzinfo=UTC))
        fake = FakePaymentGateway(secret=b"whsec_contract", clock=clock)
        return GatewayHarness(gateway=fake, driver=FakeGatewayDriver(fake))


class TestFakePaymentGatewayInDollars(PaymentGatewayContract):
    """In USD: mandate charges have no no-authentication limit, so that test is skipped."""

    @pytest.fixture
    def harness(self) -> GatewayHarness:
        clock = FixedClock(datetime(2024, 5, 1, 9, 30, tzinfo=UTC))
        fake = FakePaymentGateway(secret=b"whsec_contract", clock=clock)
        return GatewayHarness(
            gateway=fake, driver=FakeGatewayDriver(fake), currency="USD", amount_minor=2_000_000
        )
