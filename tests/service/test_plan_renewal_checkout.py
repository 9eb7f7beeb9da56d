"""A past-due plan paid by UPI or card bills what the due work would take from the wallet.

The renewal the due work pays from the wallet carries the ended period's overage billed in
arrears, less the late usage the new period's plan minutes cover. Paid through a checkout
instead (`Billing.checkout_plan_renewal`), the quote shows the same amount (the price and the
arrears as two lines, taxed alike), and the payment renews the plan through the same rule:
the arrears are billed once, never dropped, and no later due work or top-up bills them again.
Figures by hand, from `examples/catalog.toml`: Enterprise costs ₹24,999 for 20,000 minutes and
bills overage in arrears at ₹1.20 a minute.

Every test runs on the in-memory store and on SQLite.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from minutebill import CheckoutResult, TaxPolicy
from minutebill.domain.ledger import MinuteLedger
from minutebill.domain.money import Money
from minutebill.domain.payment_status import PaymentStatus
from minutebill.domain.wallet import Wallet
from minutebill.domain.wallet_entries import EntryKind
from minutebill.errors import IdempotencyConflict, InvalidTransition
from minutebill.testing.fakes import Outcome
from minutebill.testing.stateful import UPI, BillingRig
from tests.service.test_support import capture_later, inr, open_rig, snapshot, top_up

ENT = "ent"
GST = TaxPolicy.india_gst("0.18", supplier_state="KA", customer_state="KA")


def wallet(rig: BillingRig) -> Wallet:
    with rig.uow_factory() as uow:
        found: Wallet = uow.wallets.get(ENT)
        return found


def debits(rig: BillingRig) -> list[tuple[str, Money]]:
    return [(e.reason, e.amount) for e in wallet(rig).entries if e.kind is EntryKind.DEBIT]


def arrears(rig: BillingRig) -> tuple[Money, ...]:
    with rig.uow_factory() as uow:
        ledger: MinuteLedger = uow.ledgers.get(ENT)
        return ledger.period_arrears


def past_due_with_arrears(rig: BillingRig, overage_minutes: int = 100) -> datetime:
    """Enterprise with `overage_minutes` beyond its 20,000 in the period, then unpaid.

    Returns:
        The missed due date.
    """
    rig.billing.subscribe(ENT, "enterprise")
    rig.billing.end_call(ENT, "in-period", timedelta(minutes=20_000 + overage_minutes))
    end = rig.billing.overview(ENT).period_end
    rig.clock.set(end)
    assert rig.billing.run_due()["plans_past_due"] == 1
    rig.clock.advance(timedelta(hours=1))
    return end


def pending_renewal(rig: BillingRig) -> CheckoutResult:
    """`past_due_with_arrears`, then its renewal at checkout (key ``r``), not yet captured."""
    past_due_with_arrears(rig)
    rig.gateway.script(Outcome.STAY_PENDING)
    return rig.billing.checkout_plan_renewal(ENT, UPI, idempotency_key="r")


def test_a_renewal_paid_at_checkout_bills_the_ended_periods_arrears_once(
    rig: BillingRig,
) -> None:
    """₹24,999 and ₹120 of arrears, one payment of ₹25,119; nothing is left or billed again."""
    due = past_due_with_arrears(rig)
    assert arrears(rig) == (inr("120.00"),)
    rig.gateway.script(Outcome.SUCCEED)
    result = rig.billing.checkout_plan_renewal(ENT, UPI, idempotency_key="renew-1")
    quote = result.quote
    assert [(line.description, line.amount) for line in quote.lines] == [
        ("Enterprise plan renewal", inr("24999.00")),
        ("Enterprise overage billed in arrears", inr("120.00")),
    ]
    assert quote.total == inr("25119.00")
    assert result.payment.fulfilled
    assert result.payment.complete
    overview = rig.billing.overview(ENT)
    assert (overview.status, overview.period_start) == ("active", due)
    assert wallet(rig).balance == inr(0)  # all of it paid the renewal, none left over
    assert debits(rig) == [("plan renewal", inr("25119.00"))]
    assert arrears(rig) == ()
    rig.billing.run_due()  # the due work afterwards bills nothing again
    assert debits(rig) == [("plan renewal", inr("25119.00"))]
    rig.clock.set(overview.period_end)  # nor does the next renewal
    top_up(rig, ENT, 24_999, "t1")
    assert rig.billing.run_due()["plans_renewed"] == 1
    assert wallet(rig).balance == inr(0)


def test_the_arrears_line_is_taxed_as_the_renewal_and_the_due_work_tax_them(
    tmp_path: Path,
) -> None:
    """Under 18 % GST: ₹25,119 + ₹4,521.42 = ₹29,640.42, what the wallet would have paid."""
    with open_rig("memory", tmp_path, tax=GST) as rig:
        past_due_with_arrears(rig)
        rig.gateway.script(Outcome.SUCCEED)
        quote = rig.billing.checkout_plan_renewal(ENT, UPI, idempotency_key="r").quote
        assert quote.breakdown.amount == inr("25119.00")
        assert quote.breakdown.tax == inr("4521.42")
        assert quote.total == inr("29640.42")
        assert rig.billing.overview(ENT).status == "active"
        assert wallet(rig).balance == inr(0)
        assert debits(rig) == [("plan renewal", inr("29640.42"))]


def test_late_usage_the_new_period_covers_is_not_quoted_and_is_covered(rig: BillingRig) -> None:
    """A 100-minute grace call (₹120) is covered by the new period: ₹24,999 + ₹120 in-period."""
    past_due_with_arrears(rig)
    rig.billing.end_call(ENT, "grace-1", timedelta(minutes=100))
    assert arrears(rig) == (inr("240.00"),)
    rig.gateway.script(Outcome.SUCCEED)
    quote = rig.billing.checkout_plan_renewal(ENT, UPI, idempotency_key="r").quote
    assert [line.amount for line in quote.lines] == [inr("24999.00"), inr("120.00")]
    overview = rig.billing.overview(ENT)
    assert (overview.status, overview.used_minutes) == ("active", Decimal(100))
    assert wallet(rig).balance == inr(0)


def test_a_renewal_without_arrears_has_one_line(rig: BillingRig) -> None:
    rig.billing.subscribe(ENT, "enterprise")
    rig.clock.set(rig.billing.overview(ENT).period_end)
    rig.gateway.script(Outcome.SUCCEED)
    # The due work has not run: the checkout does it first (the wallet cannot pay).
    result = rig.billing.checkout_plan_renewal(ENT, UPI, idempotency_key="r")
    assert [line.amount for line in result.quote.lines] == [inr("24999.00")]
    assert rig.billing.overview(ENT).status == "active"
    assert wallet(rig).balance == inr(0)


def test_a_renewal_the_wallet_paid_meanwhile_leaves_the_payment_in_the_wallet(
    rig: BillingRig,
) -> None:
    """A top-up pays the renewal (and its arrears) first; the card's ₹25,119 stays in the wallet."""
    result = pending_renewal(rig)
    assert not result.payment.fulfilled
    top_up(rig, ENT, 25_119, "t1")
    assert rig.billing.overview(ENT).status == "active"
    capture_later(rig, result.payment.payment_id)
    answers = rig.deliver(rig.gateway.take_webhooks() * 2)
    assert answers[-1].fulfilled
    assert wallet(rig).balance == inr("25119.00")
    assert debits(rig) == [("plan renewal", inr("25119.00"))]
    rig.billing.run_due()
    assert wallet(rig).balance == inr("25119.00")


def test_a_renewal_paid_after_the_plan_ended_is_refunded(rig: BillingRig) -> None:
    past_due_with_arrears(rig)
    with rig.uow_factory() as uow:
        grace_until = uow.subscriptions.get(ENT).grace_until
    assert grace_until is not None
    rig.clock.set(grace_until - timedelta(minutes=1))
    rig.gateway.script(Outcome.STAY_PENDING)
    result = rig.billing.checkout_plan_renewal(ENT, UPI, idempotency_key="slow")
    rig.clock.advance(timedelta(minutes=2))
    rig.billing.run_due()
    assert rig.billing.overview(ENT).status == "expired"
    capture_later(rig, result.payment.payment_id)
    answers = rig.deliver(rig.gateway.take_webhooks() * 2)
    assert answers[-1].status is PaymentStatus.REFUNDED
    assert wallet(rig).balance == inr(0)


def test_the_same_key_continues_the_renewal_as_quoted(rig: BillingRig) -> None:
    first = pending_renewal(rig)
    rig.billing.end_call(ENT, "grace-2", timedelta(minutes=30_000))  # arrears grow meanwhile
    again = rig.billing.checkout_plan_renewal(ENT, UPI, idempotency_key="r")
    assert again.quote == first.quote
    assert again.payment.payment_id == first.payment.payment_id
    with pytest.raises(IdempotencyConflict):
        rig.billing.top_up(ENT, inr(100), UPI, idempotency_key="r")


def test_a_renewal_billing_more_by_the_capture_waits_in_the_wallet_for_the_rest(
    rig: BillingRig,
) -> None:
    """30,000 grace minutes after the quote: the new period covers 20,000, ₹12,000 more is due."""
    result = pending_renewal(rig)
    rig.billing.end_call(ENT, "grace-2", timedelta(minutes=30_000))
    capture_later(rig, result.payment.payment_id)
    rig.deliver(rig.gateway.take_webhooks())
    assert rig.billing.overview(ENT).status == "past_due"
    assert wallet(rig).balance == inr("25119.00")
    top_up(rig, ENT, 12_000, "t1")  # the rest: the renewal now bills 25,119 + 12,000
    assert rig.billing.overview(ENT).status == "active"
    assert wallet(rig).balance == inr(0)


def test_a_plan_that_owes_nothing_is_refused_and_nothing_changes(rig: BillingRig) -> None:
    rig.billing.subscribe(ENT, "enterprise")
    before, charged = snapshot(rig, ENT), rig.gateway.payments()
    with pytest.raises(InvalidTransition, match="active"):
        rig.billing.checkout_plan_renewal(ENT, UPI, idempotency_key="r")
    # Due, but the wallet pays it: the due work would renew it, so there is nothing to pay
    # here, and the refusal leaves that work to the due work.
    top_up(rig, ENT, 24_999, "t1")
    rig.clock.set(rig.billing.overview(ENT).period_end)
    before = snapshot(rig, ENT)
    with pytest.raises(InvalidTransition, match="active"):
        rig.billing.checkout_plan_renewal(ENT, UPI, idempotency_key="r")
    assert snapshot(rig, ENT) == before
    assert len(rig.gateway.payments()) == len(charged) + 1  # the top-up only
