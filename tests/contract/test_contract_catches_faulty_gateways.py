"""The gateway contract fails an adapter that breaks a promise of `PaymentGateway`.

Each adapter in `tests.contract.faulty_gateways` breaks one promise; run in a pytest session
of its own, the contract must fail exactly the tests of that promise and pass the rest. The
first is the reproduction of the gap this suite had: a success webhook dated 2 s after the
`captured_at` that `get_payment` reports passed every test, yet `Billing` refused it.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

import pytest

from minutebill import MemoryStore, Money, ValidationError
from minutebill.domain.payment_events import PaymentEventKind
from minutebill.testing.fakes import Outcome
from minutebill.testing.stateful import UPI, BillingRig
from tests.contract.faulty_gateways import SkewedWebhookGateway

CAPTURE_WEBHOOK = "test_a_success_webhook_dates_the_capture_at_captured_at"
MANDATE_CAPTURE = "test_a_mandate_charge_reports_one_capture_instant"

# What each faulty adapter must fail: exactly these contract tests, no more, no fewer.
EXPECTED_FAILURES = {
    "TestSkewedWebhookGateway": {CAPTURE_WEBHOOK, MANDATE_CAPTURE},
    "TestNoCaptureInstantGateway": {
        "test_every_report_of_a_capture_carries_one_instant",
        CAPTURE_WEBHOOK,
        MANDATE_CAPTURE,
    },
    "TestCaptureOnlyWhileSucceededGateway": {"test_a_refund_keeps_the_capture_instant"},
    "TestFailedAsCanceledWebhookGateway": {
        "test_a_genuine_webhook_parses_to_the_payment_event[fail]"
    },
    "TestFatalOutageGateway": {"test_an_unavailable_gateway_is_retryable"},
    "TestRetryableRejectionGateway": {
        "test_an_unknown_mandate_is_rejected_for_good",
        "test_a_refund_larger_than_captured_is_rejected",
    },
    "TestKeylessMandateGateway": {
        "test_the_same_mandate_key_charges_once",
        "test_the_same_mandate_key_with_another_amount_is_a_conflict",
    },
    "TestMajorUnitMandateGateway": {
        "test_a_mandate_charge_echoes_reference_amount_and_currency",
        "test_the_same_mandate_key_with_another_amount_is_a_conflict",
        "test_a_charge_above_the_no_auth_limit_needs_the_customer",
    },
    "TestAnyMandateGateway": {"test_an_unknown_mandate_is_rejected_for_good"},
    "TestNoAuthLimitGateway": {"test_a_charge_above_the_no_auth_limit_needs_the_customer"},
    "TestRefundWithoutReferenceGateway": {
        "test_a_refund_echoes_its_references_amount_and_currency"
    },
    "TestUnknownRefundRejectedGateway": {"test_a_refund_of_an_unknown_payment_is_not_found"},
}

# The promises the contract did not check before: each must catch at least one fault.
ADDED_TESTS = {
    CAPTURE_WEBHOOK,
    MANDATE_CAPTURE,
    "test_every_report_of_a_capture_carries_one_instant",
    "test_a_refund_keeps_the_capture_instant",
    "test_a_genuine_webhook_parses_to_the_payment_event[fail]",
    "test_an_unavailable_gateway_is_retryable",
    "test_an_unknown_mandate_is_rejected_for_good",
    "test_the_same_mandate_key_charges_once",
    "test_the_same_mandate_key_with_another_amount_is_a_conflict",
    "test_a_mandate_charge_echoes_reference_amount_and_currency",
    "test_a_charge_above_the_no_auth_limit_needs_the_customer",
    "test_a_refund_echoes_its_references_amount_and_currency",
    "test_a_refund_of_an_unknown_payment_is_not_found",
}


def test_each_faulty_gateway_fails_exactly_the_tests_of_its_fault(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_faulty="from tests.contract.faulty_gateways import *  # noqa: F403\n")
    recorded = pytester.inline_run("-p", "no:cacheprovider", "-q")
    passed, skipped, failed = recorded.listoutcomes()
    failures: dict[str, set[str]] = defaultdict(set)
    for report in failed:
        _, test_class, test_name = report.nodeid.split("::")
        failures[test_class].add(test_name)
    assert dict(failures) == EXPECTED_FAILURES
    assert not skipped
    assert len(passed) > 25 * len(EXPECTED_FAILURES)


def test_every_added_contract_test_catches_a_fault() -> None:
    caught = set().union(*EXPECTED_FAILURES.values())
    assert caught >= ADDED_TESTS


def test_the_skewed_webhook_breaks_billing_as_the_contract_says() -> None:
    rig = BillingRig.build(MemoryStore().unit_of_work)
    gateway = SkewedWebhookGateway(secret=b"whsec_skewed", clock=rig.clock)
    rig.billing.gateway = gateway
    rig.billing.subscribe("acct-a", "pro", timezone="Asia/Kolkata")
    gateway.script(Outcome.SUCCEED)
    rig.billing.top_up("acct-a", Money("100.00", "INR"), UPI, idempotency_key="top-up-1")
    (hook,) = gateway.take_webhooks()
    event = gateway.parse_webhook(hook.body, hook.headers)
    assert event.kind is PaymentEventKind.SUCCEEDED
    with pytest.raises(ValidationError, match="reported the capture at"):
        rig.billing.handle_gateway_event(hook.body, hook.headers)
    captured_at = gateway.get_payment(event.gateway_payment_id).captured_at
    assert event.occurred_at == captured_at + timedelta(seconds=2)  # type: ignore[operator]
