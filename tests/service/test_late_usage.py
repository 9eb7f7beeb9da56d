"""Calls made while a renewal is past due are covered by the period the late payment opens.

A renewal that fails at the period end leaves the plan PAST_DUE within its grace, and calls
are still admitted. Such a call is rated on the ended period (whose plan minutes expired), so
it is overage; but it falls inside the period the late payment opens, so once that period is
paid its plan minutes cover it: the arrears of the covered part are not billed and what the
wallet paid for it goes back. Figures by hand, from `examples/catalog.toml` (no tax).

Every test runs on the in-memory store and on SQLite.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from minutebill import Billing, MemoryStore, TaxPolicy, Upi
from minutebill.domain.money import Money
from minutebill.domain.wallet import Wallet
from minutebill.domain.wallet_entries import EntryKind
from minutebill.testing.checkers import assert_ledgers_match_calls
from minutebill.testing.fakes import FakePaymentGateway, FixedClock
from minutebill.testing.stateful import START, BillingRig, reference_catalog
from tests.service.test_support import inr, top_up

ENT = "ent"
UPI = Upi("asha@okaxis")


def balance(rig: BillingRig, account: str) -> Money:
    with rig.uow_factory() as uow:
        found: Wallet = uow.wallets.get(account)
        return found.balance


def wallet_credits(rig: BillingRig, account: str) -> list[tuple[str, Money]]:
    with rig.uow_factory() as uow:
        found: Wallet = uow.wallets.get(account)
        return [(e.reason, e.amount) for e in found.entries if e.kind is EntryKind.CREDIT]


def past_due(rig: BillingRig, account: str, plan: str, rupees: int = 0) -> datetime:
    """Subscribe `account` to `plan` with `rupees` in the wallet; let the renewal fail.

    Returns:
        The missed due date (the ended period's end).
    """
    rig.billing.subscribe(account, plan)
    if rupees:
        top_up(rig, account, rupees, f"seed-{account}")
    end = rig.billing.overview(account).period_end
    rig.clock.set(end)
    assert rig.billing.run_due()["plans_past_due"] == 1
    rig.clock.advance(timedelta(hours=1))
    return end


def test_a_grace_call_is_covered_once_the_renewal_is_paid(rig: BillingRig) -> None:
    """Enterprise: a 100-minute grace call, ₹120 in arrears, then a top-up of the price.

    The top-up of ₹24,999 pays the renewal alone: the call's ₹120 of arrears are not billed
    (they were: the renewal then needed ₹25,119 and stayed unpaid), and the new period shows
    100 of its 20,000 minutes used.
    """
    due = past_due(rig, ENT, "enterprise")
    record = rig.billing.end_call(ENT, "grace-1", timedelta(minutes=100))
    assert (record.overage_seconds, record.overage_charge) == (6000, inr("120.00"))
    top_up(rig, ENT, 24_999, "t1")
    overview = rig.billing.overview(ENT)
    assert (overview.status, overview.period_start) == ("active", due)
    assert overview.used_minutes == Decimal(100)
    assert overview.remaining_minutes == Decimal(19_900)
    assert balance(rig, ENT) == inr(0)
    assert_ledgers_match_calls(rig.uow_factory, [ENT])  # the record keeps its overage
    rig.clock.set(overview.period_end)  # the next renewal bills no arrears for the call
    top_up(rig, ENT, 24_999, "t2")
    rig.billing.run_due()
    assert rig.billing.overview(ENT).period_start == overview.period_end
    assert balance(rig, ENT) == inr(0)


def test_only_the_uncovered_part_of_a_long_grace_call_is_billed(rig: BillingRig) -> None:
    """20,100 grace minutes: the new period's 20,000 cover all but 100 (₹120 of ₹24,120)."""
    past_due(rig, ENT, "enterprise")
    record = rig.billing.end_call(ENT, "grace-1", timedelta(minutes=20_100))
    assert record.overage_charge == inr("24120.00")
    top_up(rig, ENT, 30_000, "t1")
    overview = rig.billing.overview(ENT)
    assert overview.status == "active"
    assert (overview.used_minutes, overview.remaining_minutes) == (Decimal(20_000), Decimal(0))
    assert balance(rig, ENT) == inr(30_000 - 24_999 - 120)


def test_what_the_wallet_paid_for_a_covered_grace_call_goes_back(rig: BillingRig) -> None:
    """Pro: ₹200 cannot pay ₹7,999; a 100-minute grace call takes ₹150 from the wallet.

    Once the renewal is paid the call is covered by the period's 5,000 minutes, so the ₹150
    is credited back: ₹50 + ₹7,949 − ₹7,999 + ₹150 = ₹150.
    """
    past_due(rig, "pro", "pro", 200)
    rig.billing.end_call("pro", "grace-1", timedelta(minutes=100))
    assert balance(rig, "pro") == inr(50)
    top_up(rig, "pro", 7949, "t1")
    overview = rig.billing.overview("pro")
    assert (overview.status, overview.used_minutes) == ("active", Decimal(100))
    assert balance(rig, "pro") == inr(150)
    assert wallet_credits(rig, "pro")[-1] == ("overage covered by the paid period", inr("150.00"))


def test_a_replayed_renewal_credits_nothing_more(rig: BillingRig) -> None:
    past_due(rig, "pro", "pro", 200)
    rig.billing.end_call("pro", "grace-1", timedelta(minutes=100))
    top_up(rig, "pro", 7949, "t1")
    rig.billing.run_due()
    top_up(rig, "pro", 1, "t2")  # money arriving asks the plan again
    rig.billing.run_due()
    assert balance(rig, "pro") == inr(151)
    reasons = [reason for reason, _ in wallet_credits(rig, "pro")]
    assert reasons.count("overage covered by the paid period") == 1


def test_grace_usage_of_a_plan_that_lapses_unpaid_stays_arrears(rig: BillingRig) -> None:
    """The grace runs out unpaid: the call's ₹120 are billed at the lapse, as before."""
    due = past_due(rig, ENT, "enterprise", 200)
    rig.billing.end_call(ENT, "grace-1", timedelta(minutes=100))
    rig.clock.set(due + timedelta(days=8))
    rig.billing.run_due()
    assert rig.billing.overview(ENT).status == "expired"
    assert balance(rig, ENT) == inr(80)


def test_a_downgrade_scheduled_for_the_renewal_covers_with_the_new_plans_minutes(
    rig: BillingRig,
) -> None:
    """Enterprise → Pro at the renewal: the late ₹120 are left out of Pro's ₹7,999."""
    rig.billing.subscribe(ENT, "enterprise")
    rig.billing.change_plan(ENT, rig.billing.quote_plan_change(ENT, "pro"))
    due = rig.billing.overview(ENT).period_end
    rig.clock.set(due)
    assert rig.billing.run_due()["plans_past_due"] == 1
    rig.clock.advance(timedelta(hours=1))
    rig.billing.end_call(ENT, "grace-1", timedelta(minutes=100))  # Enterprise's rule: arrears
    top_up(rig, ENT, 7999, "t1")
    overview = rig.billing.overview(ENT)
    assert (overview.status, overview.plan_code) == ("active", "pro")
    assert (overview.used_minutes, overview.total_minutes) == (Decimal(100), Decimal(5000))
    assert balance(rig, ENT) == inr(0)


def test_the_covered_part_goes_back_with_its_tax() -> None:
    """Pro with 18 % GST: ₹9,100 cannot pay ₹9,438.82; a 5,100-minute grace call costs ₹7,650.

    The wallet pays ₹9,027 for it (tax included), leaving ₹73. Once the renewal is paid the
    period's 5,000 minutes cover 5,000 of the 5,100: the 100 uncovered minutes keep their
    ₹150 (₹177 with tax), and the rest of what the wallet paid, ₹8,850, goes back.
    """
    gst = TaxPolicy.india_gst("0.18", supplier_state="KA", customer_state="KA")
    clock = FixedClock(START)
    gateway = FakePaymentGateway(secret=b"secret", clock=clock)
    billing = Billing(MemoryStore().unit_of_work, gateway, reference_catalog(), clock, tax=gst)
    billing.subscribe("acct", "pro")
    billing.top_up("acct", inr("9100.00"), UPI, idempotency_key="t0")
    clock.set(billing.overview("acct").period_end)
    assert billing.run_due()["plans_past_due"] == 1
    clock.advance(timedelta(hours=1))
    record = billing.end_call("acct", "grace-1", timedelta(minutes=5100))
    assert record.overage_charge == inr("7650.00")
    assert billing.overview("acct").wallet_balance == inr("73.00")
    billing.top_up("acct", inr("9365.82"), UPI, idempotency_key="t1")
    overview = billing.overview("acct")
    assert (overview.status, overview.used_minutes) == ("active", Decimal(5000))
    assert overview.wallet_balance == inr("8850.00")
