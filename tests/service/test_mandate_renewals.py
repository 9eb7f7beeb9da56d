"""Number renewals charged to a saved mandate: holds, retries and tax.

A mandate debit can fail long after it was sent (a webhook, a reconciliation, the payment's
expiry), be declined in due work run for a later instant than the clock's, or be tried again
when the customer acts. Every test runs on the in-memory store and on SQLite.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import pytest

from minutebill import PaymentResult
from minutebill._unit_of_work import UnitOfWork
from minutebill.catalog import Catalog
from minutebill.domain.fulfilment import Remedy, Unfulfillable
from minutebill.domain.money import Money
from minutebill.domain.payment_events import PaymentEvent, PaymentEventKind
from minutebill.domain.payment_status import PaymentStatus
from minutebill.domain.payments import Payment
from minutebill.domain.tax import TaxPolicy
from minutebill.errors import GatewayRejected, GatewayUnavailable, InvalidTransition
from minutebill.gateway import GatewayPayment
from minutebill.testing.fakes import Outcome
from minutebill.testing.stateful import MANDATE, UPI, BillingRig, reference_catalog
from tests.service.test_support import ACCOUNT, STORES, open_store, top_up

NUMBER = "+919800000001"
DUE = datetime(2026, 2, 5, 9, tzinfo=UTC)  # the number's first renewal (bought at the start)
NEXT = datetime(2026, 3, 5, 9, tzinfo=UTC)
GRACE = timedelta(days=7)
GST = TaxPolicy.india_gst("0.18", supplier_state="KA", customer_state="KA")
SECOND_MANDATE = "mandate-upi-2"


Store = Callable[[], UnitOfWork]


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with open_store(request.param, tmp_path) as uow_factory:
        yield uow_factory


def rig_on(uow_factory: Store, *, tax: TaxPolicy | None = None) -> BillingRig:
    """A rig whose account holds the number with Auto-Pay on and `MANDATE` saved."""
    rig = BillingRig.build(uow_factory, tax=tax)
    rig.gateway.add_mandate(SECOND_MANDATE)
    rig.billing.subscribe(ACCOUNT, "enterprise", timezone="Asia/Kolkata")
    rig.billing.acquire_number(
        ACCOUNT, "in-local", NUMBER, UPI, idempotency_key="n1", mandate_id=MANDATE
    )
    rig.gateway.take_webhooks()
    return rig


@pytest.fixture
def rig(store: Store) -> BillingRig:
    return rig_on(store)


def renewals(rig: BillingRig) -> list[Payment]:
    """The mandate payments of the number's renewals, oldest first."""
    with rig.uow_factory() as uow:
        payments: list[Payment] = uow.payments.for_account(ACCOUNT)
    found = [p for p in payments if p.quote_id.startswith(f"number:{NUMBER}:")]
    return sorted(found, key=lambda p: (p.created_at, p.payment_id))


def the_number(rig: BillingRig) -> tuple[str, str | None, datetime]:
    (number,) = rig.billing.numbers(ACCOUNT)
    return number.status, number.hold_reason, number.paid_through


def charge_at_due(rig: BillingRig, outcome: Outcome, due: datetime = DUE) -> Payment:
    """Notice a day ahead, then the debit on the `due` date, ending as `outcome` says."""
    rig.clock.set(due - timedelta(days=1))
    rig.billing.run_due()
    rig.gateway.script(outcome)
    rig.clock.set(due)
    assert rig.billing.run_due()["mandate_charges"] == 1
    (payment,) = renewals(rig)
    return payment


def gateway_fails(rig: BillingRig, payment: Payment) -> None:
    assert payment.gateway_payment_id is not None
    rig.gateway.move(payment.gateway_payment_id, PaymentStatus.FAILED, "insufficient funds")


# --- a failure learned later ---------------------------------------------------------------


def test_a_pending_debit_failed_by_webhook_holds_the_number_then_releases_it(
    rig: BillingRig,
) -> None:
    payment = charge_at_due(rig, Outcome.STAY_PENDING)
    assert the_number(rig) == ("active", None, DUE)
    rig.clock.advance(timedelta(hours=1))
    gateway_fails(rig, payment)
    rig.deliver(rig.gateway.take_webhooks())
    assert the_number(rig) == ("on_hold", "payment_failed", DUE)
    (held,) = rig.billing.numbers(ACCOUNT)
    assert held.release_after == DUE + GRACE  # the grace runs from the due date
    rig.clock.set(DUE + timedelta(days=1))
    report = rig.billing.run_due()
    assert (report["mandate_charges"], report.failures) == (0, ())  # not retried on hold
    assert the_number(rig)[0] == "on_hold"
    rig.clock.set(DUE + GRACE)
    assert rig.billing.run_due()["numbers_released"] == 1
    assert the_number(rig)[0] == "released"
    assert [p.status for p in renewals(rig)] == [PaymentStatus.FAILED]


def test_a_pending_debit_found_failed_by_reconciliation_holds_the_number(
    rig: BillingRig,
) -> None:
    payment = charge_at_due(rig, Outcome.STAY_PENDING)
    rig.clock.advance(timedelta(hours=2))
    gateway_fails(rig, payment)
    rig.gateway.take_webhooks()  # lost on the way
    assert rig.billing.reconcile_payment(payment.payment_id).status is PaymentStatus.FAILED
    assert the_number(rig) == ("on_hold", "payment_failed", DUE)
    (held,) = rig.billing.numbers(ACCOUNT)
    assert held.release_after == DUE + GRACE


def captured_another_amount(rig: BillingRig, payment: Payment) -> PaymentResult:
    """The gateway reports capturing ₹100 of the renewal `payment` (its webhook, delivered)."""
    odd = rig.gateway.webhook_for(
        PaymentEvent(
            event_id="evt_odd",
            kind=PaymentEventKind.SUCCEEDED,
            payment_reference=payment.payment_id,
            gateway_payment_id=payment.gateway_payment_id,
            occurred_at=rig.clock.now(),
            amount=Money(100, "INR"),
        )
    )
    return rig.billing.handle_gateway_event(odd.body, odd.headers)


def test_a_debit_captured_for_another_amount_is_refunded_and_holds_the_number_at_once(
    rig: BillingRig,
) -> None:
    """The gateway took ₹100 of the renewal fee: refunded, and the period is not paid.

    The number used to stay Active and unpaid until the next due work held it.
    """
    payment = charge_at_due(rig, Outcome.STAY_PENDING)
    rig.clock.advance(timedelta(hours=1))

    result = captured_another_amount(rig, payment)

    assert (result.remedy, result.remedy_amount) == (Remedy.REFUND, Money(100, "INR"))
    assert the_number(rig) == ("on_hold", "payment_failed", DUE)
    (held,) = rig.billing.numbers(ACCOUNT)
    assert held.release_after == DUE + GRACE  # the grace runs from the due date
    rig.clock.set(DUE + timedelta(days=1))
    report = rig.billing.run_due()
    assert (report["mandate_charges"], report.failures) == (0, ())  # not sent again on hold
    assert the_number(rig)[0] == "on_hold"


def test_a_wallet_topped_up_meanwhile_pays_the_period_a_mismatched_capture_left_unpaid(
    rig: BillingRig,
) -> None:
    payment = charge_at_due(rig, Outcome.STAY_PENDING)
    top_up(rig, ACCOUNT, 1000, "t1")  # while the debit is open: the number is not held yet

    captured_another_amount(rig, payment)

    assert the_number(rig) == ("active", None, NEXT)  # held, then paid from the wallet


def test_a_debit_pending_past_its_authorisation_window_expires_and_holds_the_number(
    rig: BillingRig,
) -> None:
    charge_at_due(rig, Outcome.STAY_PENDING)
    rig.clock.set(DUE + timedelta(hours=12))
    assert rig.billing.run_due()["mandate_charges"] == 1  # the same debit, asked again
    assert the_number(rig)[0] == "active"
    expired_at = DUE + timedelta(days=1, hours=1)
    report = rig.billing.run_due(expired_at)
    assert report["payments_expired"] == 1
    assert the_number(rig) == ("on_hold", "payment_failed", DUE)
    (held,) = rig.billing.numbers(ACCOUNT)
    assert held.release_after == DUE + GRACE
    assert len(renewals(rig)) == 1  # one payment, one gateway key, however often it was sent
    assert rig.billing.run_due(DUE + GRACE)["numbers_released"] == 1


def test_a_debit_whose_status_cannot_be_read_still_expires_at_its_deadline(
    rig: BillingRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    charge_at_due(rig, Outcome.STAY_PENDING)

    def unreadable(gateway_payment_id: str) -> GatewayPayment:
        raise GatewayUnavailable(f"cannot read {gateway_payment_id} (outage)")

    monkeypatch.setattr(rig.gateway, "get_payment", unreadable)
    report = rig.billing.run_due(DUE + timedelta(hours=2))
    assert [why for _, why in report.failures] == ["cannot read pay_000003 (outage)"]
    assert the_number(rig)[0] == "active"  # not due yet: still pending
    report = rig.billing.run_due(DUE + timedelta(days=1, hours=1))
    assert report["payments_expired"] == 1  # the poll failed, the deadline still counts
    assert len(report.failures) == 1
    assert the_number(rig) == ("on_hold", "payment_failed", DUE)
    assert rig.billing.run_due(DUE + GRACE)["numbers_released"] == 1


def test_a_failure_learned_before_the_due_date_holds_the_number_at_the_next_run(
    rig: BillingRig,
) -> None:
    """A scheduler ahead of the clock: the webhook lands before the number is due by the clock."""
    rig.billing.run_due(DUE - timedelta(days=1))
    rig.gateway.script(Outcome.STAY_PENDING)
    assert rig.billing.run_due(DUE)["mandate_charges"] == 1
    (payment,) = renewals(rig)
    rig.clock.set(DUE - timedelta(hours=1))
    gateway_fails(rig, payment)
    rig.deliver(rig.gateway.take_webhooks())  # the clock is still before DUE: no hold yet
    assert the_number(rig) == ("active", None, DUE)
    later = DUE + timedelta(hours=6)
    report = rig.billing.run_due(later)
    assert (report["numbers_put_on_hold"], report["mandate_charges"]) == (1, 0)
    assert the_number(rig) == ("on_hold", "payment_failed", DUE)
    (held,) = rig.billing.numbers(ACCOUNT)
    assert held.release_after == DUE + GRACE
    assert len(renewals(rig)) == 1


def test_a_notice_given_for_one_mandate_does_not_announce_a_debit_of_another(
    rig: BillingRig,
) -> None:
    rig.clock.set(DUE - timedelta(days=1))
    assert rig.billing.run_due()["pre_debit_notices"] == 1  # for MANDATE
    rig.clock.set(DUE - timedelta(hours=1))
    rig.billing.set_auto_pay(ACCOUNT, NUMBER, True, mandate_id=SECOND_MANDATE)
    rig.clock.set(DUE)
    report = rig.billing.run_due()
    assert (report["pre_debit_notices"], report["mandate_charges"]) == (1, 0)
    assert renewals(rig) == []  # the customer is told about this mandate's debit first
    assert the_number(rig) == ("active", None, DUE)
    rig.clock.set(DUE + timedelta(days=1))
    assert rig.billing.run_due()["mandate_charges"] == 1
    assert the_number(rig) == ("active", None, NEXT)
    with rig.uow_factory() as uow:
        notices = [e for e in uow.outbox.since(0) if e.name == "PreDebitNoticeDue"]
    assert [e.payload["debit_at"] for e in notices][-1] == "2026-02-06T09:00:00+00:00"


# --- a decline in due work run for a later instant -----------------------------------------


def test_a_declined_debit_in_due_work_for_a_later_instant_holds_the_number(
    rig: BillingRig,
) -> None:
    rig.billing.run_due(DUE - timedelta(days=1))  # the clock stays at the start
    rig.gateway.script(Outcome.FAIL)
    at = DUE + timedelta(minutes=1)
    report = rig.billing.run_due(at)
    assert (report["mandate_charges"], report.failures) == (1, ())
    assert the_number(rig) == ("on_hold", "payment_failed", DUE)
    (held,) = rig.billing.numbers(ACCOUNT)
    assert held.release_after == DUE + GRACE
    assert rig.billing.run_due(DUE + timedelta(days=10))["numbers_released"] == 1
    assert the_number(rig)[0] == "released"


def test_a_debit_refused_for_a_revoked_mandate_holds_the_number_at_once(
    rig: BillingRig,
) -> None:
    # The customer revoked the mandate in their UPI app: the gateway refuses it for good.
    rig.billing.set_auto_pay(ACCOUNT, NUMBER, True, mandate_id="mandate-revoked")
    rig.billing.run_due(DUE - timedelta(days=1))
    report = rig.billing.run_due(DUE)
    assert report["mandate_charges"] == 0
    assert [why for _, why in report.failures] == ["unknown or revoked mandate"]
    assert the_number(rig) == ("on_hold", "payment_failed", DUE)
    assert [p.status for p in renewals(rig)] == [PaymentStatus.FAILED]
    again = rig.billing.run_due(DUE + timedelta(hours=1))  # reported once, not sent again
    assert (again["mandate_charges"], again.failures) == (0, ())
    rig.billing.run_due(DUE + GRACE)
    assert the_number(rig)[0] == "released"


def test_a_customer_back_with_a_revoked_mandate_is_told_and_the_number_stays_held(
    rig: BillingRig,
) -> None:
    charge_at_due(rig, Outcome.FAIL)
    rig.clock.advance(timedelta(minutes=1))
    rig.billing.set_auto_pay(ACCOUNT, NUMBER, False)
    with pytest.raises(GatewayRejected):
        rig.billing.set_auto_pay(ACCOUNT, NUMBER, True, mandate_id="mandate-revoked")
    assert the_number(rig) == ("on_hold", "payment_failed", DUE)
    assert [p.status for p in renewals(rig)] == [PaymentStatus.FAILED] * 2
    rig.billing.set_auto_pay(ACCOUNT, NUMBER, False)
    view = rig.billing.set_auto_pay(ACCOUNT, NUMBER, True, mandate_id=SECOND_MANDATE)
    assert (view.status, view.paid_through) == ("active", NEXT)


def test_a_revoked_mandate_removed_is_neither_announced_nor_debited(rig: BillingRig) -> None:
    """The host learns the mandate was revoked and removes it: renewals use the wallet alone."""
    rig.billing.set_auto_pay(ACCOUNT, NUMBER, True, mandate_id="mandate-revoked")
    view = rig.billing.remove_mandate(ACCOUNT, NUMBER)
    assert (view.auto_pay, view.has_mandate) == (True, False)
    assert rig.billing.numbers(ACCOUNT) == [view]
    notice = rig.billing.run_due(DUE - timedelta(days=1))
    assert (notice["pre_debit_notices"], notice.failures) == (0, ())
    report = rig.billing.run_due(DUE)  # nothing in the wallet: held for credit, no debit
    assert (report["mandate_charges"], report.failures) == (0, ())
    assert the_number(rig) == ("on_hold", "insufficient_credit", DUE)
    assert renewals(rig) == []
    top_up(rig, ACCOUNT, 500, "t1")  # the wallet pays the held number at once
    assert the_number(rig) == ("active", None, NEXT)
    again = rig.billing.remove_mandate(ACCOUNT, NUMBER)  # nothing more to remove
    assert again.has_mandate is False


def test_a_mandate_is_not_removed_from_a_released_number(rig: BillingRig) -> None:
    rig.billing.release_number(ACCOUNT, NUMBER)
    with pytest.raises(InvalidTransition):
        rig.billing.remove_mandate(ACCOUNT, NUMBER)


# --- the customer tries again ----------------------------------------------------------------


def test_a_customer_who_turns_auto_pay_back_on_is_charged_at_once_under_a_new_key(
    rig: BillingRig,
) -> None:
    charge_at_due(rig, Outcome.FAIL)
    assert the_number(rig) == ("on_hold", "payment_failed", DUE)
    rig.clock.advance(timedelta(hours=2))
    rig.billing.set_auto_pay(ACCOUNT, NUMBER, False)
    view = rig.billing.set_auto_pay(ACCOUNT, NUMBER, True, mandate_id=SECOND_MANDATE)
    assert (view.status, view.paid_through) == ("active", NEXT)
    first, second = renewals(rig)
    assert (first.status, second.status) == (PaymentStatus.FAILED, PaymentStatus.SUCCEEDED)
    assert first.quote_id == second.quote_id  # one quote per period: paid once at most
    assert len({first.payment_id, second.payment_id}) == 2
    assert len({first.idempotency_key, second.idempotency_key}) == 2
    assert second.amount == Money(500, "INR")
    again = rig.billing.run_due()
    assert (again["mandate_charges"], again["numbers_renewed"]) == (0, 0)
    assert len(renewals(rig)) == 2


@pytest.mark.parametrize(
    ("outcome", "reason"),
    [(Outcome.FAIL, "payment_failed"), (Outcome.REQUIRE_ACTION, "customer_action_required")],
)
def test_a_customer_who_sets_auto_pay_on_for_a_held_number_is_charged_at_once(
    rig: BillingRig, outcome: Outcome, reason: str
) -> None:
    # Auto-Pay stayed on through the decline: the page shows it on, and the customer, back
    # with a new mandate, sets it on (the how-to's way to try again), without turning it off.
    charge_at_due(rig, outcome)
    assert the_number(rig) == ("on_hold", reason, DUE)
    rig.clock.advance(timedelta(hours=2))
    view = rig.billing.set_auto_pay(ACCOUNT, NUMBER, True, mandate_id=SECOND_MANDATE)
    assert (view.status, view.hold_reason, view.paid_through) == ("active", None, NEXT)
    _, second = renewals(rig)
    assert second.status is PaymentStatus.SUCCEEDED
    assert second.amount == Money(500, "INR")
    again = rig.billing.set_auto_pay(ACCOUNT, NUMBER, True)  # Active: nothing more is charged
    assert (again.status, again.paid_through) == ("active", NEXT)
    assert len(renewals(rig)) == 2


def test_a_retry_still_pending_is_asked_again_not_charged_again(rig: BillingRig) -> None:
    charge_at_due(rig, Outcome.FAIL)
    rig.clock.advance(timedelta(minutes=1))
    rig.gateway.script(Outcome.STAY_PENDING)
    rig.billing.set_auto_pay(ACCOUNT, NUMBER, False)
    rig.billing.set_auto_pay(ACCOUNT, NUMBER, True)
    rig.billing.run_due()
    rig.billing.set_auto_pay(ACCOUNT, NUMBER, False)
    rig.billing.set_auto_pay(ACCOUNT, NUMBER, True)  # the customer acts again meanwhile
    failed, retry = renewals(rig)
    assert failed.status is PaymentStatus.FAILED
    assert retry.status is PaymentStatus.PENDING
    assert the_number(rig)[0] == "on_hold"
    assert retry.gateway_payment_id is not None
    rig.gateway.move(retry.gateway_payment_id, PaymentStatus.SUCCEEDED)
    rig.deliver(rig.gateway.take_webhooks())
    assert the_number(rig) == ("active", None, NEXT)
    assert [p.status for p in renewals(rig)] == [PaymentStatus.FAILED, PaymentStatus.SUCCEEDED]


def test_a_retry_in_flight_is_asked_again_as_it_was_sent_after_a_mandate_change(
    rig: BillingRig,
) -> None:
    charge_at_due(rig, Outcome.FAIL)
    rig.clock.advance(timedelta(minutes=1))
    rig.gateway.script(Outcome.STAY_PENDING)
    rig.billing.set_auto_pay(ACCOUNT, NUMBER, False)
    rig.billing.set_auto_pay(ACCOUNT, NUMBER, True)  # attempt 1, pending on MANDATE
    rig.clock.advance(timedelta(minutes=1))
    rig.billing.set_auto_pay(ACCOUNT, NUMBER, False)
    view = rig.billing.set_auto_pay(ACCOUNT, NUMBER, True, mandate_id=SECOND_MANDATE)
    assert view.status == "on_hold"  # attempt 1 is still in flight: asked again, not repeated
    assert len(rig.gateway.payments()) == 3  # the purchase, the decline, attempt 1
    _, retry = renewals(rig)
    assert retry.gateway_payment_id is not None
    rig.gateway.move(retry.gateway_payment_id, PaymentStatus.FAILED)
    rig.deliver(rig.gateway.take_webhooks())
    rig.clock.advance(timedelta(minutes=1))
    rig.billing.set_auto_pay(ACCOUNT, NUMBER, False)
    view = rig.billing.set_auto_pay(ACCOUNT, NUMBER, True)  # attempt 2, on SECOND_MANDATE
    assert (view.status, view.paid_through) == ("active", NEXT)
    assert [p.status for p in renewals(rig)] == [
        PaymentStatus.FAILED,
        PaymentStatus.FAILED,
        PaymentStatus.SUCCEEDED,
    ]


def test_each_customer_retry_after_a_failure_is_a_new_attempt(rig: BillingRig) -> None:
    charge_at_due(rig, Outcome.FAIL)
    for _ in range(2):
        rig.clock.advance(timedelta(minutes=1))
        rig.gateway.script(Outcome.FAIL)
        rig.billing.set_auto_pay(ACCOUNT, NUMBER, False)
        rig.billing.set_auto_pay(ACCOUNT, NUMBER, True)
        rig.clock.advance(timedelta(minutes=1))
    rig.billing.set_auto_pay(ACCOUNT, NUMBER, False)
    rig.billing.set_auto_pay(ACCOUNT, NUMBER, True)
    assert the_number(rig) == ("active", None, NEXT)
    statuses = [p.status for p in renewals(rig)]
    assert statuses == [PaymentStatus.FAILED] * 3 + [PaymentStatus.SUCCEEDED]
    assert len({p.idempotency_key for p in renewals(rig)}) == 4


def test_a_customer_back_for_a_debit_that_needs_them_is_charged_on_session(
    rig: BillingRig,
) -> None:
    waiting = charge_at_due(rig, Outcome.REQUIRE_ACTION)
    assert the_number(rig) == ("on_hold", "customer_action_required", DUE)
    rig.clock.advance(timedelta(minutes=1))
    rig.billing.set_auto_pay(ACCOUNT, NUMBER, False)
    view = rig.billing.set_auto_pay(ACCOUNT, NUMBER, True)
    assert (view.status, view.paid_through) == ("active", NEXT)
    first, second = renewals(rig)
    assert first.payment_id == waiting.payment_id
    assert (first.status, second.status) == (
        PaymentStatus.ACTION_REQUIRED,
        PaymentStatus.SUCCEEDED,
    )
    rig.billing.run_due(DUE + timedelta(days=2))  # the first one expires: nothing changes
    assert the_number(rig) == ("active", None, NEXT)


def test_a_customer_back_for_a_debit_above_the_limit_is_sent_to_authenticate_it(
    store: Store,
) -> None:
    reference = reference_catalog()
    (offer,) = reference.number_offers
    dear = attrs.evolve(offer, monthly_fee=Money("20000.00", "INR"))  # above INR 15,000
    catalog = Catalog(plans=reference.plans, bundles=reference.bundles, number_offers=[dear])
    rig = BillingRig.build(store, catalog=catalog)
    rig.billing.subscribe(ACCOUNT, "enterprise", timezone="Asia/Kolkata")
    rig.billing.acquire_number(
        ACCOUNT, "in-local", NUMBER, UPI, idempotency_key="n1", mandate_id=MANDATE
    )
    rig.clock.set(DUE)
    rig.billing.run_due()  # never debited off-session above the limit
    assert the_number(rig) == ("on_hold", "customer_action_required", DUE)
    rig.clock.advance(timedelta(hours=1))
    rig.billing.set_auto_pay(ACCOUNT, NUMBER, False)
    view = rig.billing.set_auto_pay(ACCOUNT, NUMBER, True)  # the customer is here to approve
    asked = rig.gateway.payments()[-1]
    assert asked.status is PaymentStatus.ACTION_REQUIRED
    assert view.next_action_url is not None
    assert view.next_action_url == asked.next_action_url
    assert (view.status, view.hold_reason) == ("on_hold", "customer_action_required")
    assert rig.billing.numbers(ACCOUNT)[0].next_action_url is None  # only the answer has it


def test_a_late_success_of_a_failed_attempt_for_a_period_paid_since_is_refunded(
    rig: BillingRig,
) -> None:
    first = charge_at_due(rig, Outcome.LATE_SUCCESS)  # declined now, authorised 3 min later
    assert the_number(rig) == ("on_hold", "payment_failed", DUE)
    rig.gateway.take_webhooks()
    rig.clock.advance(timedelta(minutes=1))
    rig.billing.set_auto_pay(ACCOUNT, NUMBER, False)
    rig.billing.set_auto_pay(ACCOUNT, NUMBER, True)
    assert the_number(rig) == ("active", None, NEXT)
    rig.clock.advance(timedelta(minutes=5))
    results = rig.deliver(rig.gateway.take_webhooks())
    late = next(r for r in results if r.payment_id == first.payment_id)
    assert (late.remedy, late.remedy_amount) == (Remedy.REFUND, Money(500, "INR"))
    assert the_number(rig) == ("active", None, NEXT)  # paid once, not twice
    refunded, paid = renewals(rig)
    assert refunded.fulfilment is not None
    assert refunded.fulfilment.reason is Unfulfillable.ALREADY_FULFILLED
    assert (refunded.status, paid.status) == (PaymentStatus.REFUNDED, PaymentStatus.SUCCEEDED)


# --- tax -----------------------------------------------------------------------------------


def test_a_mandate_renewal_is_announced_and_charged_with_its_tax(store: Store) -> None:
    rig = rig_on(store, tax=GST)
    rig.clock.set(DUE - timedelta(days=1))
    assert rig.billing.run_due()["pre_debit_notices"] == 1
    rig.clock.set(DUE)
    assert rig.billing.run_due()["mandate_charges"] == 1
    with rig.uow_factory() as uow:
        notices = [e for e in uow.outbox.since(0) if e.name == "PreDebitNoticeDue"]
        renewed = [e for e in uow.outbox.since(0) if e.name == "NumberRenewed"]
    assert [e.payload["amount"] for e in notices] == [{"amount": "590.00", "currency": "INR"}]
    (payment,) = renewals(rig)
    assert (payment.status, payment.amount) == (PaymentStatus.SUCCEEDED, Money("590.00", "INR"))
    assert the_number(rig) == ("active", None, NEXT)
    # The renewal says what was announced and debited, beside the fee before tax.
    assert [(e.payload["amount"]["amount"], e.payload["paid"]["amount"]) for e in renewed][-1] == (
        "500.00",
        "590.00",
    )


def test_a_mandate_renewal_costs_what_the_same_renewal_from_the_wallet_costs(
    store: Store,
) -> None:
    rig = rig_on(store, tax=GST)
    top_up(rig, ACCOUNT, 590, "t1")
    rig.clock.set(DUE)
    assert rig.billing.run_due()["numbers_renewed"] == 1
    assert rig.billing.overview(ACCOUNT).wallet_balance == Money(0, "INR")
    rig.clock.set(NEXT - timedelta(days=1))
    rig.billing.run_due()
    rig.clock.set(NEXT)
    assert rig.billing.run_due()["mandate_charges"] == 1
    (payment,) = renewals(rig)
    assert payment.amount == Money("590.00", "INR")


def test_a_debit_approved_after_the_wallet_paid_its_period_is_credited_with_its_tax(
    store: Store,
) -> None:
    rig = rig_on(store, tax=GST)
    waiting = charge_at_due(rig, Outcome.REQUIRE_ACTION)
    assert the_number(rig) == ("on_hold", "customer_action_required", DUE)
    rig.clock.advance(timedelta(minutes=5))
    top_up(rig, ACCOUNT, 1000, "t1")  # the wallet pays the held period: 590.00 with GST
    assert the_number(rig) == ("active", None, NEXT)
    assert rig.billing.overview(ACCOUNT).wallet_balance == Money("410.00", "INR")
    rig.clock.advance(timedelta(minutes=5))
    assert waiting.gateway_payment_id is not None
    rig.gateway.move(waiting.gateway_payment_id, PaymentStatus.SUCCEEDED)  # approved now
    rig.deliver(rig.gateway.take_webhooks())
    # The debit took 590.00; all of it comes back to the wallet, not the net 500.00.
    assert rig.billing.overview(ACCOUNT).wallet_balance == Money("1000.00", "INR")
    assert the_number(rig) == ("active", None, NEXT)


# --- a debit of an earlier subscription of the number ----------------------------------------


@pytest.mark.parametrize("periods_paid_first", [0, 2])
def test_a_late_debit_for_a_released_number_bought_again_is_refunded(
    rig: BillingRig, periods_paid_first: int
) -> None:
    """The old debit pays a period of the old subscription, never one of the new.

    With no period paid first the old debit's period is the new subscription's first unpaid
    one (it would be applied to it); with two, it is ahead of it (it could not be applied).
    """
    if periods_paid_first:
        top_up(rig, ACCOUNT, 500 * periods_paid_first, "t1")
        for _ in range(periods_paid_first):
            rig.clock.set(the_number(rig)[2])
            assert rig.billing.run_due()["numbers_renewed"] == 1
    old = charge_at_due(rig, Outcome.STAY_PENDING, due=the_number(rig)[2])
    rig.clock.advance(timedelta(hours=1))
    rig.billing.release_number(ACCOUNT, NUMBER)
    rig.clock.advance(timedelta(hours=1))
    rig.billing.acquire_number(
        ACCOUNT, "in-local", NUMBER, UPI, idempotency_key="n2", mandate_id=MANDATE
    )
    bought_again = the_number(rig)
    answer = captured_late(rig, old)
    assert the_number(rig) == bought_again  # the new subscription is not touched
    assert_refunded_in_full(answer)


def captured_late(rig: BillingRig, payment: Payment) -> PaymentResult:
    """The gateway captures `payment` now; its success webhook arrives twice. The last answer."""
    assert payment.status is PaymentStatus.PENDING
    assert payment.gateway_payment_id is not None
    rig.gateway.take_webhooks()
    rig.gateway.move(payment.gateway_payment_id, PaymentStatus.SUCCEEDED)
    answer: PaymentResult = rig.deliver(rig.gateway.take_webhooks() * 2)[-1]
    return answer


def assert_refunded_in_full(answer: PaymentResult) -> None:
    assert answer.remedy is Remedy.REFUND
    assert answer.remedy_amount == Money("500.00", "INR")
    assert answer.status is PaymentStatus.REFUNDED


def test_a_late_debit_for_a_released_number_is_refunded_and_the_number_stays_released(
    rig: BillingRig,
) -> None:
    pending = charge_at_due(rig, Outcome.STAY_PENDING)
    rig.clock.advance(timedelta(hours=1))
    rig.billing.release_number(ACCOUNT, NUMBER)
    released = the_number(rig)
    answer = captured_late(rig, pending)
    assert the_number(rig) == released
    assert released[0] == "released"
    assert_refunded_in_full(answer)
