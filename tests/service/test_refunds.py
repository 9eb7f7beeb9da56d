"""Remedy refunds: decided once with the fulfilment, sent until the gateway answers for them.

The scenario: a number bought twice; the second purchase cannot be delivered, so fulfilment
decides a refund of its 1,500.00. The gateway is scripted to fail the refund call
(`FakePaymentGateway.script_refunds`) and keeps every call it gets (`refund_calls`).

Every test runs on the in-memory store and on SQLite.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from minutebill import CaptureMismatched, PaymentResult, ValidationError
from minutebill.domain.fulfilment import Remedy
from minutebill.domain.money import Money
from minutebill.domain.payment_events import PaymentEvent, PaymentEventKind
from minutebill.domain.payment_status import PaymentStatus
from minutebill.domain.payments import Payment
from minutebill.domain.wallet import Wallet
from minutebill.gateway import RefundRequest
from minutebill.testing.fakes import Outcome, Webhook
from minutebill.testing.stateful import UPI, BillingRig
from tests.service.test_support import (
    ACCOUNT,
    STORES,
    RecordingPublisher,
    capture_later,
    open_rig,
    snapshot,
)

NUMBER = "+919800000001"
OWED = Money(1500, "INR")
LATER = timedelta(days=400)  # far beyond any payment's reconciliation or deadline


@pytest.fixture
def rig(rig: BillingRig) -> BillingRig:
    """The service tests' rig, with `ACCOUNT` on Pro."""
    rig.billing.subscribe(ACCOUNT, "pro", timezone="Asia/Kolkata")
    return rig


@pytest.fixture(params=STORES)
def rig_by_gateway_id(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BillingRig]:
    """A rig whose gateway's refund webhooks carry only its own refund id (``rfnd_...``)."""
    with open_rig(request.param, tmp_path, echo_refund_reference=False) as opened:
        opened.billing.subscribe(ACCOUNT, "pro", timezone="Asia/Kolkata")
        yield opened


def buy_the_number_twice(rig: BillingRig) -> str:
    """Two purchases of one number, both captured (webhooks queued); the second's payment id."""
    rig.gateway.script(Outcome.STAY_PENDING, Outcome.STAY_PENDING)
    first = rig.billing.acquire_number(ACCOUNT, "in-local", NUMBER, UPI, idempotency_key="n1")
    second = rig.billing.acquire_number(ACCOUNT, "in-local", NUMBER, UPI, idempotency_key="n2")
    capture_later(rig, first.payment.payment_id)
    capture_later(rig, second.payment.payment_id)
    return second.payment.payment_id


def answer_for(answers: list[PaymentResult], payment_id: str) -> PaymentResult:
    return [a for a in answers if a.payment_id == payment_id][-1]


def stored(rig: BillingRig, payment_id: str) -> Payment:
    with rig.uow_factory() as uow:
        found: Payment | None = uow.payments.by_reference(payment_id)
    assert found is not None
    return found


def at_the_gateway(rig: BillingRig, payment_id: str) -> PaymentStatus:
    gateway_id = stored(rig, payment_id).gateway_payment_id
    assert gateway_id is not None
    return rig.gateway.get_payment(gateway_id).status


def refund_calls(rig: BillingRig) -> list[RefundRequest]:
    """Every refund call the gateway got so far."""
    return list(rig.gateway.refund_calls)


def outbox_names(rig: BillingRig) -> list[str]:
    with rig.uow_factory() as uow:
        return [e.name for e in uow.outbox.since(0, limit=10_000)]


def due_payments(rig: BillingRig) -> list[str]:
    with rig.uow_factory() as uow:
        far: datetime = rig.clock.now() + LATER
        return [p.payment_id for p in uow.payments.due(far, 100)]


def assert_fulfilled_once(rig: BillingRig) -> None:
    """One number, bought once; nothing credited; one decision per payment."""
    assert [n.number_e164 for n in rig.billing.numbers(ACCOUNT)] == [NUMBER]
    with rig.uow_factory() as uow:
        wallet: Wallet = uow.wallets.get(ACCOUNT)
    assert wallet.balance == Money(0, "INR")
    assert outbox_names(rig).count("FulfilmentDecided") == 2


def test_a_refund_the_gateway_could_not_take_is_sent_again_by_run_due_with_the_same_key(
    rig: BillingRig,
) -> None:
    second = buy_the_number_twice(rig)
    rig.gateway.script_refunds(Outcome.UNAVAILABLE)
    answers = rig.deliver(rig.gateway.take_webhooks())
    late = answer_for(answers, second)
    assert (late.status, late.remedy, late.remedy_amount) == (
        PaymentStatus.SUCCEEDED,
        Remedy.REFUND,
        OWED,
    )
    assert late.refund_owed == OWED
    assert len(refund_calls(rig)) == 1
    assert due_payments(rig) == [second]  # owed: due work until the gateway takes it

    report = rig.billing.run_due()

    assert (report["refunds_sent"], report.failures) == (1, ())
    first_call, again = refund_calls(rig)
    assert again == first_call  # the same request, under the same idempotency key
    assert again.idempotency_key == f"{second}:remedy"
    assert at_the_gateway(rig, second) is PaymentStatus.REFUNDED
    result = rig.billing.reconcile_payment(second)
    assert (result.status, result.refund_owed) == (PaymentStatus.REFUNDED, None)
    assert stored(rig, second).refunded == OWED
    assert_fulfilled_once(rig)


def test_once_the_gateway_took_the_refund_nothing_sends_it_again(rig: BillingRig) -> None:
    second = buy_the_number_twice(rig)
    rig.gateway.script_refunds(Outcome.UNAVAILABLE)
    hooks = rig.gateway.take_webhooks()
    rig.deliver(hooks)
    assert rig.billing.run_due()["refunds_sent"] == 1
    assert due_payments(rig) == []  # owes nothing: out of the due index

    for _ in range(2):
        report = rig.billing.run_due()
        assert (report["refunds_sent"], report.failures) == (0, ())
    rig.deliver(hooks + rig.gateway.take_webhooks())  # everything redelivered, refund's too
    rig.billing.reconcile_payment(second)

    assert len(refund_calls(rig)) == 2
    assert stored(rig, second).status is PaymentStatus.REFUNDED
    assert_fulfilled_once(rig)


def test_a_redelivered_webhook_sends_the_owed_refund_again(rig: BillingRig) -> None:
    second = buy_the_number_twice(rig)
    rig.gateway.script_refunds(Outcome.UNAVAILABLE)
    hooks = rig.gateway.take_webhooks()
    rig.deliver(hooks)

    answers = rig.deliver(hooks)  # the gateway redelivers

    late = answer_for(answers, second)
    assert (late.status, late.refund_owed) == (PaymentStatus.REFUNDED, None)
    assert len(refund_calls(rig)) == 2
    assert len(set(refund_calls(rig))) == 1
    assert rig.billing.run_due()["refunds_sent"] == 0
    assert_fulfilled_once(rig)


def test_a_refund_whose_answer_was_lost_is_sent_again_and_the_gateway_refunds_once(
    rig: BillingRig,
) -> None:
    second = buy_the_number_twice(rig)
    rig.gateway.script_refunds(Outcome.TIME_OUT)  # the gateway refunds; its answer is lost
    late = answer_for(rig.deliver(rig.gateway.take_webhooks()), second)
    assert late.refund_owed == OWED  # minutebill cannot know the refund happened
    assert at_the_gateway(rig, second) is PaymentStatus.REFUNDED  # but it did
    lost = rig.gateway.take_webhooks()  # and its webhook is late
    assert [h.event_type for h in lost] == ["refund.succeeded"]

    report = rig.billing.run_due()

    assert (report["refunds_sent"], report.failures) == (1, ())
    first_call, again = refund_calls(rig)
    assert again == first_call
    assert rig.gateway.take_webhooks() == []  # the same key: no second refund at the gateway
    payment = stored(rig, second)
    assert (payment.status, payment.refunded, payment.refunds_owed) == (
        PaymentStatus.REFUNDED,
        OWED,
        (),
    )
    rig.deliver(lost)  # the late webhook changes nothing
    assert stored(rig, second).refunded == OWED
    assert_fulfilled_once(rig)


def test_a_refund_the_gateway_refuses_is_reported_once_and_never_sent_again(
    rig: BillingRig,
) -> None:
    second = buy_the_number_twice(rig)
    rig.gateway.script_refunds(Outcome.UNAVAILABLE)
    rig.deliver(rig.gateway.take_webhooks())
    gateway_id = stored(rig, second).gateway_payment_id
    assert gateway_id is not None
    # Meanwhile someone refunds 1,000.00 from the gateway's dashboard.
    rig.gateway.refund(
        RefundRequest(
            gateway_payment_id=gateway_id,
            payment_reference=second,
            refund_reference="dashboard-1",
            idempotency_key="dashboard-1",
            amount_minor=100_000,
            currency="INR",
        )
    )

    report = rig.billing.run_due()

    assert report["refunds_sent"] == 0
    ((item, reason),) = report.failures
    assert second in item
    assert "exceeds" in reason
    payment = stored(rig, second)
    assert payment.refunds_owed == ()
    assert payment.refundable == OWED  # the refused refund no longer holds the money
    assert outbox_names(rig).count("RefundFailed") == 1
    again = rig.billing.run_due()
    assert (again["refunds_sent"], again.failures) == (0, ())
    assert len(refund_calls(rig)) == 3  # ours, the dashboard's, ours refused
    rig.deliver(rig.gateway.take_webhooks())  # the dashboard refund's webhook
    assert stored(rig, second).status is PaymentStatus.PARTIALLY_REFUNDED
    assert_fulfilled_once(rig)


def test_a_refund_the_gateway_took_as_pending_is_not_sent_again(rig: BillingRig) -> None:
    second = buy_the_number_twice(rig)
    rig.gateway.script_refunds(Outcome.STAY_PENDING)
    late = answer_for(rig.deliver(rig.gateway.take_webhooks()), second)
    assert (late.status, late.refund_owed) == (PaymentStatus.SUCCEEDED, None)

    assert rig.billing.run_due()["refunds_sent"] == 0

    assert len(refund_calls(rig)) == 1
    gateway_id = stored(rig, second).gateway_payment_id
    assert gateway_id is not None
    settled = PaymentEvent(  # the gateway's webhook, once the refund settles
        event_id="evt-refund-settled",
        kind=PaymentEventKind.REFUND_SUCCEEDED,
        payment_reference=second,
        gateway_payment_id=gateway_id,
        occurred_at=rig.clock.now(),
        amount=OWED,
        refund_id=f"{second}:remedy",
    )
    assert rig.deliver([rig.gateway.webhook_for(settled)])[0].status is PaymentStatus.REFUNDED
    assert_fulfilled_once(rig)


def refund_id_in(webhook: Webhook) -> str:
    return str(json.loads(webhook.body)["data"]["refund_id"])


def test_a_refund_webhook_with_only_the_gateways_id_before_its_answer_counts_once(
    rig_by_gateway_id: BillingRig,
) -> None:
    rig = rig_by_gateway_id
    second = buy_the_number_twice(rig)
    rig.gateway.script_refunds(Outcome.TIME_OUT)  # the gateway refunds; its answer is lost
    late = answer_for(rig.deliver(rig.gateway.take_webhooks()), second)
    assert late.refund_owed == OWED
    (webhook,) = rig.gateway.take_webhooks()
    assert refund_id_in(webhook).startswith("rfnd_")  # not ours: f"{second}:remedy"

    # The webhook arrives before minutebill has recorded the gateway's answer. The refund is
    # still owed, so it is sent again; the gateway answers by key with the refund it made.
    rig.deliver([webhook])

    payment = stored(rig, second)
    assert (payment.status, payment.refunded, payment.refundable, payment.refunds_owed) == (
        PaymentStatus.REFUNDED,
        OWED,
        Money(0, "INR"),
        (),
    )
    assert len(refund_calls(rig)) == 2
    assert len(set(refund_calls(rig))) == 1  # one refund, under one key
    before = payment.to_state()
    rig.deliver([webhook])  # redelivered, now that its id is known: nothing changes
    after = stored(rig, second).to_state()
    assert {**after, "version": None} == {**before, "version": None}
    assert rig.billing.run_due()["refunds_sent"] == 0
    assert_fulfilled_once(rig)


def test_a_refund_failure_with_only_the_gateways_id_is_reported_once(
    rig_by_gateway_id: BillingRig,
) -> None:
    rig = rig_by_gateway_id
    second = buy_the_number_twice(rig)
    rig.gateway.script_refunds(Outcome.FAIL)
    rig.deliver(rig.gateway.take_webhooks())
    assert outbox_names(rig).count("RefundFailed") == 1  # from the refund call's answer
    hooks = rig.gateway.take_webhooks()
    assert [refund_id_in(h)[:5] for h in hooks] == ["rfnd_"]

    rig.deliver(hooks + hooks)

    assert outbox_names(rig).count("RefundFailed") == 1
    payment = stored(rig, second)
    assert (payment.status, payment.refundable, payment.refunds_owed) == (
        PaymentStatus.SUCCEEDED,
        OWED,
        (),
    )
    assert len(refund_calls(rig)) == 1


@pytest.mark.parametrize("refunded", [1500, 600], ids=["all", "part"])
@pytest.mark.parametrize("remedy", [Remedy.REFUND, Remedy.CREDIT_WALLET])
def test_a_remedy_returns_only_what_was_not_refunded_at_the_gateway_already(
    tmp_path: Path, remedy: Remedy, refunded: int
) -> None:
    with open_rig("memory", tmp_path, remedy=remedy) as rig:
        rig.billing.subscribe(ACCOUNT, "pro", timezone="Asia/Kolkata")
        second = buy_the_number_twice(rig)
        first_hooks = [h for h in rig.gateway.take_webhooks() if second.encode() not in h.body]
        rig.deliver(first_hooks)
        payment = stored(rig, second)
        assert payment.gateway_payment_id is not None
        # The merchant refunded the duplicate in the gateway's dashboard; that refund's
        # webhook arrives before the capture's.
        dashboard = PaymentEvent(
            event_id="evt_dashboard",
            kind=PaymentEventKind.REFUND_SUCCEEDED,
            payment_reference=second,
            gateway_payment_id=payment.gateway_payment_id,
            occurred_at=rig.clock.now(),
            amount=Money(refunded, "INR"),
            refund_id="rfnd_dashboard",
        )
        capture = PaymentEvent(
            event_id="evt_capture",
            kind=PaymentEventKind.SUCCEEDED,
            payment_reference=second,
            gateway_payment_id=payment.gateway_payment_id,
            occurred_at=rig.clock.now(),
            amount=OWED,
        )
        rig.deliver([rig.gateway.webhook_for(dashboard)])
        answer = rig.deliver([rig.gateway.webhook_for(capture)] * 2)[-1]
        left = OWED - Money(refunded, "INR")
        assert answer.remedy is remedy  # decided for the whole; returned is what is left
        if remedy is Remedy.REFUND:
            assert [r.amount for r in refund_calls(rig)] == ([left] if left else [])
            assert rig.billing.overview(ACCOUNT).wallet_balance == Money(0, "INR")
        else:
            assert refund_calls(rig) == []
            assert rig.billing.overview(ACCOUNT).wallet_balance == left


# --- a capture of another amount -----------------------------------------------------------------


@pytest.mark.parametrize("remedy", list(Remedy), ids=lambda r: r.value)
@pytest.mark.parametrize("kind", STORES)
def test_a_capture_of_another_amount_is_taken_once_refunded_and_not_fulfilled(
    kind: str, remedy: Remedy, tmp_path: Path
) -> None:
    """The gateway reports taking ₹400 of a ₹449 bundle: accepted, nothing granted, ₹400 back.

    The webhook used to be refused on every delivery (`ValidationError`), so the gateway kept
    sending it and the money it took stayed with the merchant unseen.
    """
    publisher = RecordingPublisher()
    with open_rig(kind, tmp_path, publisher=publisher, remedy=remedy) as rig:
        rig.billing.subscribe(ACCOUNT, "pro", timezone="Asia/Kolkata")
        rig.gateway.script(Outcome.STAY_PENDING)
        started = rig.billing.checkout_bundle(ACCOUNT, "nexus", UPI, idempotency_key="odd")
        payment_id = started.payment.payment_id
        capture_later(rig, payment_id)  # the gateway holds the money (₹449 at most) ...
        rig.gateway.take_webhooks()  # ... and reports capturing ₹400 instead:
        with rig.uow_factory() as uow:
            gateway_id = uow.payments.get(ACCOUNT, payment_id).gateway_payment_id
        odd = rig.gateway.webhook_for(
            PaymentEvent(
                event_id="evt_odd",
                kind=PaymentEventKind.SUCCEEDED,
                payment_reference=payment_id,
                gateway_payment_id=gateway_id,
                occurred_at=rig.clock.now(),
                amount=Money(400, "INR"),
            )
        )
        result = rig.billing.handle_gateway_event(odd.body, odd.headers)
        assert (result.fulfilled, result.complete) == (True, False)
        assert (result.remedy, result.remedy_amount) == (Remedy.REFUND, Money(400, "INR"))
        assert result.refund_owed is None  # sent after the commit, and taken
        assert [r.amount_minor for r in rig.gateway.refund_calls] == [40_000]
        with rig.uow_factory() as uow:
            payment: Payment = uow.payments.get(ACCOUNT, payment_id)
            ledger = uow.ledgers.get(ACCOUNT)
            balance = uow.wallets.get(ACCOUNT).balance
        assert payment.capture_mismatch
        assert payment.captured == Money(400, "INR")
        assert [g.grant_id for g in ledger.grants() if g.grant_id.startswith("bundle:")] == []
        assert balance == Money(0, "INR")
        mismatches = [e for e in publisher.events if isinstance(e, CaptureMismatched)]
        assert [(e.amount, e.captured) for e in mismatches] == [
            (Money(449, "INR"), Money(400, "INR"))
        ]
        after = snapshot(rig, ACCOUNT)
        again = rig.billing.handle_gateway_event(odd.body, odd.headers)  # delivered again
        assert again == result
        assert snapshot(rig, ACCOUNT) == after
        assert len(rig.gateway.refund_calls) == 1
        (refunded,) = rig.gateway.take_webhooks()
        final = rig.billing.handle_gateway_event(refunded.body, refunded.headers)
        assert final.status is PaymentStatus.REFUNDED


def test_a_contradicting_capture_report_is_refused_and_changes_nothing(
    rig: BillingRig,
) -> None:
    """Once ₹449 is known captured, a report of ₹400 under another event id is refused."""
    rig.gateway.script(Outcome.SUCCEED)
    started = rig.billing.checkout_bundle(ACCOUNT, "nexus", UPI, idempotency_key="b")
    payment_id = started.payment.payment_id
    with rig.uow_factory() as uow:
        payment: Payment = uow.payments.get(ACCOUNT, payment_id)
    assert payment.captured_at is not None
    assert payment.gateway_payment_id is not None
    odd = rig.gateway.webhook_for(
        PaymentEvent(
            event_id="evt_odd",
            kind=PaymentEventKind.SUCCEEDED,
            payment_reference=payment_id,
            gateway_payment_id=payment.gateway_payment_id,
            occurred_at=payment.captured_at,
            amount=Money(400, "INR"),
        )
    )
    before = snapshot(rig, ACCOUNT)
    with pytest.raises(ValidationError, match="captured"):
        rig.billing.handle_gateway_event(odd.body, odd.headers)
    assert snapshot(rig, ACCOUNT) == before
