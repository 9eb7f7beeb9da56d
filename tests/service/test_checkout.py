"""Checkout through `Billing`: bundles, top-ups, numbers, Auto-Pay, releases and plan changes.

Every test runs on the in-memory store and on SQLite.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minutebill.adapters.memory import MemoryStore
from minutebill.catalog import Catalog
from minutebill.domain.catalog import AddOnBundle, BundleValidity, Capability
from minutebill.domain.fulfilment import Remedy, Unfulfillable
from minutebill.domain.grants import GrantSource
from minutebill.domain.money import Money
from minutebill.domain.payment_status import PaymentStatus
from minutebill.domain.proration import PlanChangeKind
from minutebill.domain.wallet import Wallet
from minutebill.errors import (
    GatewayTimeout,
    GatewayUnavailable,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidTransition,
    LimitExceeded,
    MissingCapability,
    ValidationError,
)
from minutebill.testing.fakes import Outcome, Webhook
from minutebill.testing.payment_strategies import deliveries
from minutebill.testing.stateful import START, UPI, BillingRig, reference_catalog
from tests.service.test_support import (
    ACCOUNT,
    STORES,
    capture_later,
    inr,
    open_rig,
    open_store,
    snapshot,
    top_up,
)

NUMBER = "+919800000001"


@pytest.fixture
def rig(rig: BillingRig) -> BillingRig:
    """The service tests' rig, with `ACCOUNT` on Pro."""
    rig.billing.subscribe(ACCOUNT, "pro", timezone="Asia/Kolkata")
    return rig


def bundle_grants(rig: BillingRig) -> list[int]:
    with rig.uow_factory() as uow:
        ledger = uow.ledgers.get(ACCOUNT)
        return [g.granted for g in ledger.grants() if g.source is GrantSource.BUNDLE]


def wallet(rig: BillingRig) -> Wallet:
    with rig.uow_factory() as uow:
        found: Wallet = uow.wallets.get(ACCOUNT)
        return found


def shuffled_five_times(hooks: list[Webhook]) -> list[Webhook]:
    """Each webhook five times, the success first and last, the rest interleaved backwards."""
    return [h for _ in range(5) for h in reversed(hooks)]


# --- bundles -----------------------------------------------------------------------------------


def test_a_bundle_is_granted_exactly_once_however_its_webhooks_arrive(rig: BillingRig) -> None:
    rig.gateway.script(Outcome.STAY_PENDING)
    result = rig.billing.checkout_bundle(ACCOUNT, "nexus", UPI, idempotency_key="k1")
    assert result.status is PaymentStatus.PENDING
    assert not result.payment.fulfilled
    assert result.quote.breakdown.total == Money("449.00", "INR")
    assert bundle_grants(rig) == []
    capture_later(rig, result.payment.payment_id)
    hooks = rig.gateway.take_webhooks()
    assert [h.event_type for h in hooks] == ["payment.pending", "payment.succeeded"]
    answers = rig.deliver(shuffled_five_times(hooks))
    assert {a.status for a in answers} == {PaymentStatus.SUCCEEDED}
    assert all(a.fulfilled and a.complete for a in answers)
    assert bundle_grants(rig) == [300 * 60]
    overview = rig.billing.overview(ACCOUNT)
    assert overview.total_minutes == Decimal(5300)
    with rig.uow_factory() as uow:
        grant = next(g for g in uow.ledgers.get(ACCOUNT).grants() if g.source is GrantSource.BUNDLE)
    assert grant.expires_at == overview.period_end  # Nexus is valid for the plan period


def bundle_expiries(rig: BillingRig) -> list[datetime | None]:
    with rig.uow_factory() as uow:
        ledger = uow.ledgers.get(ACCOUNT)
        return [g.expires_at for g in ledger.grants() if g.source is GrantSource.BUNDLE]


def past_the_period_end(rig: BillingRig, *, renew: bool) -> datetime:
    """Move past the first period's end (the wallet is empty); `renew`: run the due work.

    Returns:
        The end of the first period.
    """
    ended = rig.billing.overview(ACCOUNT).period_end
    rig.clock.set(ended + timedelta(minutes=5))
    if renew:
        rig.billing.run_due()
    return ended


@pytest.mark.parametrize("renew", [False, True], ids=["renewal-not-run", "past-due"])
def test_a_plan_period_bundle_bought_after_the_period_end_lasts_the_period_it_is_in(
    rig: BillingRig, renew: bool
) -> None:
    ended = past_the_period_end(rig, renew=renew)
    with rig.uow_factory() as uow:  # the store: the overview shows the due work done
        stored = uow.subscriptions.get(ACCOUNT).status.value
    assert stored == ("past_due" if renew else "active")
    result = rig.billing.checkout_bundle(ACCOUNT, "nexus", UPI, idempotency_key="late")
    assert result.status is PaymentStatus.SUCCEEDED
    assert result.payment.fulfilled
    assert bundle_grants(rig) == [300 * 60]
    # The period the purchase falls in: the one after the ended period, a month long.
    (expires_at,) = bundle_expiries(rig)
    assert expires_at is not None
    assert ended + timedelta(days=28) <= expires_at <= ended + timedelta(days=31)


@pytest.mark.parametrize("kind", STORES)
def test_a_bundle_that_never_expires_outlives_the_plan_periods(kind: str, tmp_path: Path) -> None:
    reference = reference_catalog()
    forever = AddOnBundle("forever", "Forever", 200, inr("299.00"), BundleValidity.never_expires())
    catalog = Catalog(
        plans=reference.plans,
        bundles=(*reference.bundles, forever),
        number_offers=reference.number_offers,
    )
    with open_rig(kind, tmp_path, catalog=catalog) as rig:
        rig.billing.subscribe(ACCOUNT, "pro", timezone="Asia/Kolkata")
        result = rig.billing.checkout_bundle(ACCOUNT, "forever", UPI, idempotency_key="f1")
        assert result.payment.fulfilled
        assert bundle_expiries(rig) == [None]
        top_up(rig, ACCOUNT, 30_000, "renewals")
        ends = []
        for _ in range(3):  # three renewals: plan minutes expire, the bundle's do not
            ends.append(rig.billing.overview(ACCOUNT).period_end)
            rig.clock.set(ends[-1] + timedelta(minutes=1))
            assert rig.billing.run_due()["plans_renewed"] == 1
        overview = rig.billing.overview(ACCOUNT)
        assert (overview.status, overview.period_start) == ("active", ends[-1])
        assert bundle_grants(rig) == [200 * 60]
        assert overview.total_minutes == Decimal(5000 + 200)


def test_a_bundle_bought_while_past_due_shows_on_the_overview(rig: BillingRig) -> None:
    """Minutes bought after the period end count in Total and Remaining, and their use in Used.

    While the plan is past due the ledger still counts the ended period, and a grant that
    starts after that period's end was left out of its figures: the 300 Nexus minutes were
    usable (a call used them) but the overview showed Remaining 0 and the call nowhere.
    """
    ended = past_the_period_end(rig, renew=True)
    rig.billing.checkout_bundle(ACCOUNT, "nexus", UPI, idempotency_key="late")
    overview = rig.billing.overview(ACCOUNT)
    assert overview.status == "past_due"
    # Pro's 5,000 minutes of the ended period (expired unused) and the 300 bought since.
    assert (overview.total_minutes, overview.remaining_minutes) == (Decimal(5300), Decimal(300))
    rig.billing.end_call(ACCOUNT, "grace-call", timedelta(minutes=50))
    overview = rig.billing.overview(ACCOUNT)
    assert (overview.used_minutes, overview.remaining_minutes) == (Decimal(50), Decimal(250))
    assert overview.used_percent == Decimal("0.94")  # 3,000 / 318,000 s = 0.943 %
    top_up(rig, ACCOUNT, 7999, "renewal")  # the wallet pays the past-due plan
    overview = rig.billing.overview(ACCOUNT)
    assert (overview.status, overview.period_start) == ("active", ended)
    # The new period: its 5,000 plan minutes and the 250 left of the bundle.
    assert (overview.total_minutes, overview.remaining_minutes) == (Decimal(5250), Decimal(5250))


def expire_the_plan(rig: BillingRig) -> None:
    past_the_period_end(rig, renew=True)
    assert rig.billing.overview(ACCOUNT).status == "past_due"
    rig.clock.advance(timedelta(days=60))
    rig.billing.run_due()
    assert rig.billing.overview(ACCOUNT).status == "expired"


def test_a_plan_period_bundle_is_not_sold_once_the_plan_has_expired(rig: BillingRig) -> None:
    expire_the_plan(rig)
    before, charged = snapshot(rig), rig.gateway.payments()
    with pytest.raises(InvalidTransition, match="expired"):
        rig.billing.checkout_bundle(ACCOUNT, "nexus", UPI, idempotency_key="too-late")
    assert snapshot(rig) == before
    assert rig.gateway.payments() == charged


def test_a_plan_period_bundle_is_not_sold_when_the_grace_ran_out_before_the_due_work(
    rig: BillingRig,
) -> None:
    """A plan left unrenewed past its grace has ended, whether or not the due work said so.

    With the wallet empty and `run_due` not run since the period end, the stored plan was
    still ACTIVE, so Nexus was charged and granted ten days on, for a plan that the next
    call (or the due work) found expired: the minutes could not be used.
    """
    ended = rig.billing.overview(ACCOUNT).period_end
    rig.clock.set(ended + timedelta(days=10))  # the 7-day grace is over
    charged = rig.gateway.payments()
    with pytest.raises(InvalidTransition, match="expired"):
        rig.billing.checkout_bundle(ACCOUNT, "nexus", UPI, idempotency_key="too-late")
    assert rig.gateway.payments() == charged
    assert bundle_grants(rig) == []


@pytest.mark.parametrize("due_work_first", [False, True])
def test_a_payment_captured_after_its_window_ends_refunded_not_failed(
    rig: BillingRig, due_work_first: bool
) -> None:
    """The gateway took the money after the deadline: returned, and the status says so.

    Whether `run_due` failed the open payment at its deadline before the late success was
    reported or only looks at it afterwards, the payment ends REFUNDED, never FAILED.
    """
    rig.gateway.script(Outcome.STAY_PENDING)
    result = rig.billing.checkout_bundle(ACCOUNT, "nexus", UPI, idempotency_key="slow")
    payment_id = result.payment.payment_id
    rig.clock.advance(timedelta(hours=25))  # past the 24-hour authorisation window
    if due_work_first:
        assert rig.billing.run_due()["payments_expired"] == 1
    capture_later(rig, payment_id)
    answers = rig.deliver(rig.gateway.take_webhooks())
    assert answers[-1].status is PaymentStatus.REFUNDED
    report = rig.billing.run_due()
    assert (report["payments_expired"], report.failures) == (0, ())
    with rig.uow_factory() as uow:
        payment = uow.payments.by_reference(payment_id)
    assert payment is not None
    assert payment.late_capture
    assert payment.fulfilment is not None
    assert payment.fulfilment.reason is Unfulfillable.LATE_CAPTURE
    assert (payment.status, payment.refunded) == (PaymentStatus.REFUNDED, payment.captured)
    assert bundle_grants(rig) == []


def test_a_plan_period_bundle_paid_after_the_plan_expired_is_refunded(rig: BillingRig) -> None:
    past_the_period_end(rig, renew=True)
    with rig.uow_factory() as uow:
        grace_until = uow.subscriptions.get(ACCOUNT).grace_until
    assert grace_until is not None
    rig.clock.set(grace_until - timedelta(minutes=1))
    rig.gateway.script(Outcome.STAY_PENDING)
    result = rig.billing.checkout_bundle(ACCOUNT, "nexus", UPI, idempotency_key="slow")
    rig.clock.advance(timedelta(minutes=2))
    rig.billing.run_due()
    assert rig.billing.overview(ACCOUNT).status == "expired"
    capture_later(rig, result.payment.payment_id)
    answers = rig.deliver(rig.gateway.take_webhooks() * 2)
    assert bundle_grants(rig) == []
    assert answers[-1].status is PaymentStatus.REFUNDED
    assert wallet(rig).balance == Money(0, "INR")


def test_a_plan_period_bundle_paid_after_the_grace_ran_out_unrenewed_is_refunded(
    rig: BillingRig,
) -> None:
    """Paid (UPI, late) once the grace is over, with the due work not run: refunded."""
    ended = rig.billing.overview(ACCOUNT).period_end
    rig.clock.set(ended + timedelta(days=7, minutes=-1))  # a minute of grace left
    rig.gateway.script(Outcome.STAY_PENDING)
    result = rig.billing.checkout_bundle(ACCOUNT, "nexus", UPI, idempotency_key="slow")
    rig.clock.advance(timedelta(minutes=2))  # the grace is over; no due work ran
    capture_later(rig, result.payment.payment_id)
    answers = rig.deliver(rig.gateway.take_webhooks() * 2)
    assert bundle_grants(rig) == []
    assert answers[-1].status is PaymentStatus.REFUNDED


def test_checking_out_again_with_the_same_key_continues_the_same_purchase(
    rig: BillingRig,
) -> None:
    first = rig.billing.checkout_bundle(ACCOUNT, "elite", UPI, idempotency_key="k1")
    assert first.status is PaymentStatus.SUCCEEDED
    rig.deliver(rig.gateway.take_webhooks() * 3)
    before = snapshot(rig)
    again = rig.billing.checkout_bundle(ACCOUNT, "elite", UPI, idempotency_key="k1")
    assert again.payment == first.payment
    assert again.quote == first.quote
    assert bundle_grants(rig) == [100 * 60]
    assert snapshot(rig) == before


@pytest.mark.parametrize(
    "change", ["bundle", "quantity", "method"], ids=["other-bundle", "quantity", "method"]
)
def test_a_key_reused_for_another_purchase_is_refused(rig: BillingRig, change: str) -> None:
    rig.billing.checkout_bundle(ACCOUNT, "elite", UPI, idempotency_key="k1")
    before = snapshot(rig)
    from minutebill.domain.payment_methods import Card

    with pytest.raises(IdempotencyConflict, match="'k1'"):
        rig.billing.checkout_bundle(
            ACCOUNT,
            "nexus" if change == "bundle" else "elite",
            Card("visa", "4242") if change == "method" else UPI,
            idempotency_key="k1",
            quantity=2 if change == "quantity" else 1,
        )
    assert snapshot(rig) == before


def test_a_declined_payment_grants_nothing(rig: BillingRig) -> None:
    rig.gateway.script(Outcome.FAIL)
    result = rig.billing.checkout_bundle(ACCOUNT, "nexus", UPI, idempotency_key="k1")
    assert result.status is PaymentStatus.FAILED
    rig.deliver(rig.gateway.take_webhooks() * 2)
    assert bundle_grants(rig) == []
    assert rig.billing.overview(ACCOUNT).total_minutes == Decimal(5000)


def test_a_payment_whose_response_was_lost_is_continued_with_the_same_key(
    rig: BillingRig,
) -> None:
    rig.gateway.script(Outcome.TIME_OUT)
    with pytest.raises(GatewayTimeout):
        rig.billing.checkout_bundle(ACCOUNT, "nexus", UPI, idempotency_key="k1")
    assert bundle_grants(rig) == []
    again = rig.billing.checkout_bundle(ACCOUNT, "nexus", UPI, idempotency_key="k1")
    assert again.status is PaymentStatus.SUCCEEDED
    rig.deliver(rig.gateway.take_webhooks() * 2)
    assert bundle_grants(rig) == [300 * 60]


def test_a_lost_answer_and_lost_webhooks_are_recovered_by_asking_again(rig: BillingRig) -> None:
    """The gateway took the money; its answer and its webhooks never arrived.

    Reconciling asks the gateway again with the same request and key (which it answers with
    the payment it made, collecting once), so the top-up is credited rather than left open
    until the due work fails it at its deadline.
    """
    rig.gateway.script(Outcome.TIME_OUT)
    with pytest.raises(GatewayTimeout):
        rig.billing.top_up(ACCOUNT, Money(1000, "INR"), UPI, idempotency_key="t1")
    rig.gateway.take_webhooks()  # lost
    with rig.uow_factory() as uow:
        (payment,) = uow.payments.for_account(ACCOUNT)
    result = rig.billing.reconcile_payment(payment.payment_id)
    assert result.status is PaymentStatus.SUCCEEDED
    assert wallet(rig).balance == Money(1000, "INR")
    assert len(rig.gateway.payments()) == 1  # asked twice, collected once
    assert rig.billing.reconcile_payment(payment.payment_id).status is PaymentStatus.SUCCEEDED
    assert wallet(rig).balance == Money(1000, "INR")


def test_the_due_work_asks_again_before_failing_a_payment_whose_answer_was_lost(
    rig: BillingRig,
) -> None:
    rig.gateway.script(Outcome.TIME_OUT)
    with pytest.raises(GatewayTimeout):
        rig.billing.checkout_bundle(ACCOUNT, "nexus", UPI, idempotency_key="k1")
    rig.gateway.take_webhooks()  # lost
    rig.clock.advance(timedelta(days=2))  # past the payment's deadline
    rig.billing.run_due()
    assert bundle_grants(rig) == [300 * 60]
    with rig.uow_factory() as uow:
        (payment,) = uow.payments.for_account(ACCOUNT)
    assert payment.status is PaymentStatus.SUCCEEDED


def test_a_payment_the_gateway_never_received_is_not_sent_behind_the_customer_s_back(
    rig: BillingRig,
) -> None:
    rig.gateway.script(Outcome.UNAVAILABLE)
    with pytest.raises(GatewayUnavailable):
        rig.billing.top_up(ACCOUNT, Money(1000, "INR"), UPI, idempotency_key="t1")
    with rig.uow_factory() as uow:
        (payment,) = uow.payments.for_account(ACCOUNT)
    assert rig.billing.reconcile_payment(payment.payment_id).status is PaymentStatus.CREATED
    rig.clock.advance(timedelta(days=2))
    rig.billing.run_due()
    assert rig.gateway.payments() == ()  # never asked again: the customer did not retry
    with rig.uow_factory() as uow:
        (payment,) = uow.payments.for_account(ACCOUNT)
    assert payment.status is PaymentStatus.FAILED
    assert wallet(rig).balance == Money(0, "INR")
    # Nor by reconciling it once it failed: it answers from the store.
    assert rig.billing.reconcile_payment(payment.payment_id).status is PaymentStatus.FAILED
    assert rig.gateway.payments() == ()


# --- top-ups -----------------------------------------------------------------------------------


def test_a_top_up_is_credited_once(rig: BillingRig) -> None:
    result = rig.billing.top_up(ACCOUNT, Money(1000, "INR"), UPI, idempotency_key="t1")
    assert result.status is PaymentStatus.SUCCEEDED
    rig.deliver(rig.gateway.take_webhooks() * 5)
    again = rig.billing.top_up(ACCOUNT, Money(1000, "INR"), UPI, idempotency_key="t1")
    assert again.payment.payment_id == result.payment.payment_id
    assert wallet(rig).balance == Money(1000, "INR")
    assert len(wallet(rig).entries) == 1


@pytest.mark.parametrize("retried", ["1000.00", "1000", "1000.000"])
def test_a_top_up_retried_with_the_same_amount_written_otherwise_continues(
    rig: BillingRig, retried: str
) -> None:
    rig.gateway.script(Outcome.UNAVAILABLE)
    with pytest.raises(GatewayUnavailable):
        rig.billing.top_up(ACCOUNT, Money(1000, "INR"), UPI, idempotency_key="t1")
    again = rig.billing.top_up(ACCOUNT, Money(retried, "INR"), UPI, idempotency_key="t1")
    assert again.status is PaymentStatus.SUCCEEDED
    assert str(again.quote.total.amount) == "1000.00"
    assert wallet(rig).balance == Money(1000, "INR")


def test_checkout_quotes_are_valid_for_the_billings_quote_validity(tmp_path: Path) -> None:
    store = MemoryStore()
    rig = BillingRig.build(store.unit_of_work, quote_validity=timedelta(hours=2))
    rig.billing.subscribe(ACCOUNT, "pro")
    rig.gateway.script(Outcome.STAY_PENDING)
    quote = rig.billing.top_up(ACCOUNT, Money(300, "INR"), UPI, idempotency_key="t").quote
    assert quote.valid_until - quote.priced_at == timedelta(hours=2)


@pytest.mark.parametrize("validity", [timedelta(0), timedelta(minutes=-5), 1800])
def test_a_quote_validity_that_is_not_a_positive_timedelta_is_refused(validity: object) -> None:
    with pytest.raises(ValidationError, match="quote_validity"):
        BillingRig.build(MemoryStore().unit_of_work, quote_validity=validity)


def test_two_accounts_may_use_the_same_idempotency_key(rig: BillingRig) -> None:
    rig.billing.subscribe("acct-2", "starter")
    for account in (ACCOUNT, "acct-2"):  # the host numbers its orders per customer
        result = rig.billing.top_up(account, Money(300, "INR"), UPI, idempotency_key="order-1")
        assert result.status is PaymentStatus.SUCCEEDED
    rig.deliver(rig.gateway.take_webhooks() * 2)
    for account in (ACCOUNT, "acct-2"):
        assert rig.billing.overview(account).wallet_balance == Money(300, "INR")


def test_a_pending_top_up_is_credited_by_its_webhook_only(rig: BillingRig) -> None:
    rig.gateway.script(Outcome.STAY_PENDING)
    result = rig.billing.top_up(ACCOUNT, Money(250, "INR"), UPI, idempotency_key="t1")
    assert wallet(rig).balance == Money(0, "INR")
    capture_later(rig, result.payment.payment_id)
    hooks = rig.gateway.take_webhooks()
    for order in itertools.permutations(hooks):
        rig.deliver(order)
    assert wallet(rig).balance == Money(250, "INR")


@pytest.mark.parametrize(
    "options",
    [{"auto_pay": False}, {"mandate_id": "mandate-upi-2"}],
    ids=["auto-pay-off", "another-mandate"],
)
def test_a_number_key_reused_with_other_options_is_refused(
    rig: BillingRig, options: dict[str, Any]
) -> None:
    rig.gateway.script(Outcome.UNAVAILABLE)
    with pytest.raises(GatewayUnavailable):
        rig.billing.acquire_number(
            ACCOUNT, "in-local", NUMBER, UPI, idempotency_key="n1", mandate_id="mandate-upi-1"
        )
    before = snapshot(rig)
    chosen: dict[str, Any] = {"mandate_id": "mandate-upi-1"} | options
    with pytest.raises(IdempotencyConflict, match="'n1'"):
        rig.billing.acquire_number(ACCOUNT, "in-local", NUMBER, UPI, idempotency_key="n1", **chosen)
    assert snapshot(rig) == before
    assert rig.gateway.payments() == ()
    again = rig.billing.acquire_number(
        ACCOUNT, "in-local", NUMBER, UPI, idempotency_key="n1", mandate_id="mandate-upi-1"
    )
    assert again.status is PaymentStatus.SUCCEEDED


# --- numbers -----------------------------------------------------------------------------------


def test_buying_a_number_shows_the_fee_breakdown_and_activates_it(rig: BillingRig) -> None:
    result = rig.billing.acquire_number(ACCOUNT, "in-local", NUMBER, UPI, idempotency_key="n1")
    breakdown = result.quote.breakdown
    assert breakdown.amount == Money(500, "INR")
    assert breakdown.upfront_fees == Money(1000, "INR")
    assert breakdown.total == Money(1500, "INR")
    assert result.capabilities == frozenset({Capability.VOICE, Capability.SMS})
    (view,) = rig.billing.numbers(ACCOUNT)
    assert (view.number_e164, view.status, view.auto_pay) == (NUMBER, "active", True)
    assert view.paid_through == datetime(2026, 2, 5, 9, tzinfo=UTC)
    assert view.recurring_fee == Money(500, "INR")


def test_the_plans_number_limit_is_enforced_and_changes_nothing(tmp_path: Path) -> None:
    with open_rig("sqlite", tmp_path) as rig:
        rig.billing.subscribe(ACCOUNT, "starter")  # one number
        rig.billing.acquire_number(ACCOUNT, "in-local", NUMBER, UPI, idempotency_key="n1")
        before = snapshot(rig)
        with pytest.raises(LimitExceeded, match="phone_numbers"):
            rig.billing.acquire_number(
                ACCOUNT, "in-local", "+919800000002", UPI, idempotency_key="n2"
            )
        assert snapshot(rig) == before


def test_a_number_missing_a_required_capability_is_refused(rig: BillingRig) -> None:
    before = snapshot(rig)
    with pytest.raises(MissingCapability):
        rig.billing.acquire_number(
            ACCOUNT, "in-local", NUMBER, UPI, idempotency_key="n1", requires=[Capability.MMS]
        )
    assert snapshot(rig) == before


def test_a_number_the_account_already_holds_cannot_be_bought_again(rig: BillingRig) -> None:
    rig.billing.acquire_number(ACCOUNT, "in-local", NUMBER, UPI, idempotency_key="n1")
    before = snapshot(rig)
    with pytest.raises(InvalidTransition, match=r"\+919800000001"):
        rig.billing.acquire_number(ACCOUNT, "in-local", NUMBER, UPI, idempotency_key="n2")
    assert snapshot(rig) == before


def test_auto_pay_toggles_and_a_released_number_refuses_it(rig: BillingRig) -> None:
    rig.billing.acquire_number(ACCOUNT, "in-local", NUMBER, UPI, idempotency_key="n1")
    assert rig.billing.set_auto_pay(ACCOUNT, NUMBER, False).auto_pay is False
    assert rig.billing.set_auto_pay(ACCOUNT, NUMBER, True).auto_pay is True
    released = rig.billing.release_number(ACCOUNT, NUMBER)
    assert released.status == "released"
    before = snapshot(rig)
    with pytest.raises(InvalidTransition, match="released"):
        rig.billing.set_auto_pay(ACCOUNT, NUMBER, False)
    with pytest.raises(InvalidTransition, match="released"):
        rig.billing.release_number(ACCOUNT, NUMBER)
    assert snapshot(rig) == before


def test_a_released_number_is_never_charged_again(rig: BillingRig) -> None:
    top_up(rig, ACCOUNT, 10_000, "t1")
    rig.billing.acquire_number(ACCOUNT, "in-local", NUMBER, UPI, idempotency_key="n1")
    rig.clock.advance(timedelta(days=3))  # the paid period has started: nothing to give back
    rig.billing.release_number(ACCOUNT, NUMBER)
    assert wallet(rig).balance == Money(10_000, "INR")
    rig.clock.set(datetime(2026, 2, 5, 10, tzinfo=UTC))
    report = rig.billing.run_due()
    assert report["numbers_renewed"] == 0
    assert wallet(rig).balance == Money(10_000 - 7999, "INR")  # the plan renewed, not the number


def test_turning_auto_pay_on_for_a_held_number_pays_it_from_the_wallet(rig: BillingRig) -> None:
    rig.billing.acquire_number(
        ACCOUNT, "in-local", NUMBER, UPI, idempotency_key="n1", auto_pay=False
    )
    rig.clock.set(datetime(2026, 2, 5, 10, tzinfo=UTC))
    rig.billing.run_due()
    (held,) = rig.billing.numbers(ACCOUNT)
    assert (held.status, held.hold_reason) == ("on_hold", "auto_pay_off")
    top_up(rig, ACCOUNT, 600, "t1")  # the plan is past due: 600 cannot pay it
    assert rig.billing.numbers(ACCOUNT)[0].status == "on_hold"  # Auto-Pay is off
    view = rig.billing.set_auto_pay(ACCOUNT, NUMBER, True)
    assert (view.status, view.paid_through) == ("active", datetime(2026, 3, 5, 9, tzinfo=UTC))
    assert wallet(rig).balance == Money(100, "INR")


@pytest.mark.parametrize("remedy", [Remedy.REFUND, Remedy.CREDIT_WALLET])
def test_a_number_that_can_no_longer_be_delivered_is_refunded_or_credited(
    tmp_path: Path, remedy: Remedy
) -> None:
    with open_store("sqlite", tmp_path) as uow_factory:
        rig = BillingRig.build(uow_factory, remedy=remedy)
        rig.billing.subscribe(ACCOUNT, "starter")  # one number
        rig.gateway.script(Outcome.STAY_PENDING, Outcome.STAY_PENDING)
        first = rig.billing.acquire_number(ACCOUNT, "in-local", NUMBER, UPI, idempotency_key="a")
        second = rig.billing.acquire_number(
            ACCOUNT, "in-local", "+919800000002", UPI, idempotency_key="b"
        )
        capture_later(rig, first.payment.payment_id)
        capture_later(rig, second.payment.payment_id)
        answers = rig.deliver(rig.gateway.take_webhooks() * 3)
        assert [n.number_e164 for n in rig.billing.numbers(ACCOUNT)] == [NUMBER]
        late = [a for a in answers if a.payment_id == second.payment.payment_id][-1]
        assert (late.complete, late.remedy) == (False, remedy)
        assert late.remedy_amount == Money(1500, "INR")
        refunded = remedy is Remedy.REFUND
        assert late.status is (PaymentStatus.REFUNDED if refunded else PaymentStatus.SUCCEEDED)
        assert wallet(rig).balance == Money(0 if refunded else 1500, "INR")


# --- plan changes ------------------------------------------------------------------------------


def test_an_upgrade_is_paid_from_the_wallet_exactly_as_quoted(rig: BillingRig) -> None:
    rig.clock.advance(timedelta(days=10))  # 21 of 31 days left
    quote = rig.billing.quote_plan_change(ACCOUNT, "enterprise")
    assert quote.kind is PlanChangeKind.UPGRADE
    assert quote.charge == Money("11516.13", "INR")  # 17,000 × 21/31
    before = snapshot(rig)
    with pytest.raises(InsufficientFunds):
        rig.billing.change_plan(ACCOUNT, quote)
    assert snapshot(rig) == before
    top_up(rig, ACCOUNT, 12_000, "t1")
    overview = rig.billing.change_plan(ACCOUNT, quote)
    assert overview.plan_code == "enterprise"
    assert overview.wallet_balance == Money("483.87", "INR")
    extra = (Decimal(quote.granted_seconds) / 60).quantize(Decimal("0.01"))
    assert overview.total_minutes == Decimal(5000) + extra
    again = rig.billing.change_plan(ACCOUNT, quote)  # the same quote charges once
    assert again.wallet_balance == Money("483.87", "INR")
    assert again.total_minutes == overview.total_minutes


def test_an_expired_quote_says_so_even_when_the_wallet_could_not_pay(rig: BillingRig) -> None:
    quote = rig.billing.quote_plan_change(ACCOUNT, "enterprise")
    rig.clock.advance(timedelta(minutes=31))
    before = snapshot(rig)
    with pytest.raises(ValidationError, match="expired"):
        rig.billing.change_plan(ACCOUNT, quote)
    assert snapshot(rig) == before


def test_a_change_quoted_before_the_due_work_is_the_one_it_will_get_and_saves_nothing(
    rig: BillingRig,
) -> None:
    """00:05 after the period end, the scheduler not yet run: the quote of the renewed period.

    The read does the due work on its own copies (the wallet pays the renewal) and saves
    nothing; the quote is the one the account gets once the due work ran, and applying it
    before then does that work first.
    """
    top_up(rig, ACCOUNT, 7999 + 17_000, "t1")
    end = rig.billing.overview(ACCOUNT).period_end
    rig.clock.set(end + timedelta(minutes=5))
    before = snapshot(rig)
    quote = rig.billing.quote_plan_change(ACCOUNT, "enterprise")
    assert snapshot(rig) == before
    assert quote.period.start == end
    assert quote.charge == Money("16997.89", "INR")  # 17,000 × (28 days - 5 min) / 28 days
    overview = rig.billing.change_plan(ACCOUNT, quote)  # renews first, then upgrades
    assert (overview.plan_code, overview.period_start) == ("enterprise", end)
    assert overview.wallet_balance == Money(17_000, "INR") - quote.total
    assert rig.billing.run_due()["plans_renewed"] == 0  # done already


def test_the_quote_before_the_due_work_equals_the_quote_after_it(tmp_path: Path) -> None:
    quotes = []
    for run_due_first in (False, True):
        with open_rig("memory", tmp_path) as rig:
            rig.billing.subscribe(ACCOUNT, "pro", timezone="Asia/Kolkata")
            top_up(rig, ACCOUNT, 7999, "t1")
            rig.clock.set(rig.billing.overview(ACCOUNT).period_end + timedelta(hours=2))
            if run_due_first:
                assert rig.billing.run_due()["plans_renewed"] == 1
            quotes.append(rig.billing.quote_plan_change(ACCOUNT, "enterprise"))
    assert quotes[0] == quotes[1]


def test_a_change_quoted_before_the_due_work_of_an_unpaid_renewal_is_refused(
    rig: BillingRig,
) -> None:
    """The wallet cannot pay the renewal: once due work is done the plan is past due."""
    rig.clock.set(rig.billing.overview(ACCOUNT).period_end + timedelta(minutes=5))
    before = snapshot(rig)
    with pytest.raises(InvalidTransition, match="past_due"):
        rig.billing.quote_plan_change(ACCOUNT, "enterprise")
    assert snapshot(rig) == before


def test_a_downgrade_waits_for_the_period_end_and_charges_nothing(rig: BillingRig) -> None:
    top_up(rig, ACCOUNT, 3000, "t1")
    quote = rig.billing.quote_plan_change(ACCOUNT, "starter")
    assert (quote.kind, quote.charge) == (PlanChangeKind.DOWNGRADE, Money(0, "INR"))
    overview = rig.billing.change_plan(ACCOUNT, quote)
    assert (overview.plan_code, overview.wallet_balance) == ("pro", Money(3000, "INR"))
    rig.clock.set(START + timedelta(days=31, hours=1))
    rig.billing.run_due()
    renewed = rig.billing.overview(ACCOUNT)
    assert (renewed.plan_code, renewed.total_minutes) == ("starter", Decimal(1000))
    assert renewed.wallet_balance == Money(3000 - 1999, "INR")


@given(
    outcome=st.sampled_from([Outcome.STAY_PENDING, Outcome.LATE_SUCCESS, Outcome.FAIL]),
    data=st.data(),
)
@settings(max_examples=40)
def test_any_delivery_of_the_webhooks_fulfils_exactly_once(
    outcome: Outcome, data: st.DataObject
) -> None:
    rig = BillingRig.build(MemoryStore().unit_of_work)
    rig.billing.subscribe(ACCOUNT, "pro")
    rig.gateway.script(outcome, outcome)
    bundle = rig.billing.checkout_bundle(ACCOUNT, "nexus", UPI, idempotency_key="b1")
    money = rig.billing.top_up(ACCOUNT, Money(700, "INR"), UPI, idempotency_key="t1")
    if outcome is Outcome.STAY_PENDING:
        capture_later(rig, bundle.payment.payment_id)
        capture_later(rig, money.payment.payment_id)
    rig.clock.advance(timedelta(minutes=5))  # a late success lands after 3 minutes
    hooks = rig.gateway.take_webhooks()
    rig.deliver(data.draw(deliveries(hooks), label="deliveries"))
    paid = outcome is not Outcome.FAIL
    assert bundle_grants(rig) == ([300 * 60] if paid else [])
    assert wallet(rig).balance == Money(700 if paid else 0, "INR")
    assert len(wallet(rig).entries) == int(paid)
