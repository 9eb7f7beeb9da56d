"""`Billing.run_due`: renewals, pre-debit notices, holds, releases, expiries and stale work.

Every test runs on the in-memory store and on SQLite.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from minutebill import Admitted, RolloverPolicy
from minutebill.domain.money import Money
from minutebill.domain.payment_status import PaymentStatus
from minutebill.domain.wallet import Wallet
from minutebill.domain.wallet_entries import EntryKind
from minutebill.errors import InvalidTransition
from minutebill.testing.fakes import Outcome
from minutebill.testing.stateful import MANDATE, UPI, BillingRig
from tests.service.test_support import (
    ACCOUNT,
    STORES,
    capture_later,
    open_rig,
    snapshot,
    top_up,
)

PERIOD_END = datetime(2026, 2, 5, 9, tzinfo=UTC)
NUMBERS = ("+919800000001", "+919800000002", "+919800000003")


@pytest.fixture
def rig(rig: BillingRig) -> BillingRig:
    """The service tests' rig, with `ACCOUNT` on Pro."""
    rig.billing.subscribe(ACCOUNT, "pro", timezone="Asia/Kolkata")
    return rig


def balance(rig: BillingRig) -> Money:
    with rig.uow_factory() as uow:
        found: Wallet = uow.wallets.get(ACCOUNT)
        return found.balance


def debits(rig: BillingRig) -> list[tuple[str, str, Money]]:
    with rig.uow_factory() as uow:
        found: Wallet = uow.wallets.get(ACCOUNT)
        return [(e.key, e.reason, e.amount) for e in found.entries if e.kind is EntryKind.DEBIT]


def statuses(rig: BillingRig) -> dict[str, tuple[str, datetime]]:
    return {n.number_e164: (n.status, n.paid_through) for n in rig.billing.numbers(ACCOUNT)}


# --- plans -------------------------------------------------------------------------------------


def test_the_plan_renews_from_the_wallet_once_per_period(rig: BillingRig) -> None:
    top_up(rig, ACCOUNT, 10_000, "t1")
    rig.billing.checkout_bundle(ACCOUNT, "nexus", UPI, idempotency_key="b1")
    assert rig.billing.overview(ACCOUNT).total_minutes == Decimal(5300)
    rig.clock.set(PERIOD_END + timedelta(minutes=1))
    report = rig.billing.run_due()
    assert report["plans_renewed"] == 1
    assert report.failures == ()
    overview = rig.billing.overview(ACCOUNT)
    assert overview.period_start == PERIOD_END
    assert overview.next_billing_at == datetime(2026, 3, 5, 9, tzinfo=UTC)
    assert overview.total_minutes == Decimal(5000)  # the bundle ended with its period
    assert balance(rig) == Money(10_000 - 7999, "INR")
    before = snapshot(rig)
    again = rig.billing.run_due()
    assert again["plans_renewed"] == 0
    assert snapshot(rig) == before


@pytest.mark.parametrize("store", STORES)
def test_unused_plan_minutes_roll_over_as_the_subscription_says(store: str, tmp_path: Path) -> None:
    with open_rig(store, tmp_path) as rig:
        rig.billing.subscribe("roll", "pro", rollover=RolloverPolicy.capped(200))
        top_up(rig, "roll", 10_000, "t1")
        rig.billing.end_call("roll", "c1", timedelta(minutes=4700))  # 300 of 5000 left
        rig.clock.set(rig.billing.overview("roll").period_end)
        assert rig.billing.run_due()["plans_renewed"] == 1
        overview = rig.billing.overview("roll")
        assert overview.total_minutes == Decimal(5000 + 200)  # the rollover is capped at 200
        assert overview.remaining_minutes == Decimal(5200)


@pytest.mark.parametrize("store", STORES)
def test_a_renewal_paid_late_in_grace_rolls_over_what_an_on_time_one_would(
    store: str, tmp_path: Path
) -> None:
    """The due work expired the unused minutes at the period end; paying a day late keeps them.

    Starter grants 1,000 minutes; 700 used leaves 300, all under the cap of 500.
    """
    with open_rig(store, tmp_path) as rig:
        rig.billing.subscribe("roll", "starter", rollover=RolloverPolicy.capped(500))
        rig.billing.end_call("roll", "c1", timedelta(minutes=700))
        rig.clock.set(rig.billing.overview("roll").period_end)
        assert rig.billing.run_due()["plans_past_due"] == 1  # nothing in the wallet
        assert rig.billing.overview("roll").remaining_minutes == 0  # expired at the end
        rig.clock.advance(timedelta(days=1))
        top_up(rig, "roll", 1999, "t1")  # pays the renewal, a day late
        overview = rig.billing.overview("roll")
        assert overview.status == "active"
        assert overview.total_minutes == Decimal(1000 + 300)
        assert overview.remaining_minutes == Decimal(1300)
        rig.billing.run_due()  # nothing more to carry
        assert rig.billing.overview("roll").total_minutes == Decimal(1300)


@pytest.mark.parametrize("store", STORES)
def test_minutes_a_live_call_held_at_the_boundary_roll_over_when_it_gives_them_back(
    store: str, tmp_path: Path
) -> None:
    """A call holds 50 of the last 100 Starter minutes across the boundary and uses 10.

    The 40 it gives back were unused plan minutes of the ended period: with the 50 left free
    at the boundary, 90 roll over (under the cap of 500), once.
    """
    with open_rig(store, tmp_path) as rig:
        rig.billing.subscribe("roll", "starter", rollover=RolloverPolicy.capped(500))
        rig.billing.end_call("roll", "c1", timedelta(minutes=900))
        end = rig.billing.overview("roll").period_end
        rig.clock.set(end - timedelta(minutes=5))
        assert isinstance(rig.billing.start_call("roll", "c2", max_seconds=50 * 60), Admitted)
        top_up(rig, "roll", 1999, "t1")
        rig.clock.set(end + timedelta(minutes=1))
        assert rig.billing.run_due()["plans_renewed"] == 1
        assert rig.billing.overview("roll").total_minutes == Decimal(1000 + 50)
        rig.billing.end_call("roll", "c2", timedelta(minutes=10))
        overview = rig.billing.overview("roll")
        assert overview.total_minutes == Decimal(1000 + 90)
        assert overview.remaining_minutes == Decimal(1090)
        rig.clock.advance(timedelta(hours=1))
        rig.billing.run_due()  # nothing more to carry or expire
        assert rig.billing.overview("roll").total_minutes == Decimal(1090)
        with rig.uow_factory() as uow:
            totals = uow.ledgers.get("roll").totals()
        assert totals.granted == totals.remaining + totals.held + totals.consumed + totals.expired
        assert totals.consumed == 910 * 60


def test_overage_the_wallet_paid_is_not_billed_again_after_an_upgrade_to_arrears(
    rig: BillingRig,
) -> None:
    top_up(rig, ACCOUNT, 100_000, "t1")
    rig.billing.end_call(ACCOUNT, "c1", timedelta(minutes=5010))  # Pro: ₹15 from the wallet
    rig.clock.advance(timedelta(days=1))
    quote = rig.billing.quote_plan_change(ACCOUNT, "enterprise")  # overage billed in arrears
    rig.billing.change_plan(ACCOUNT, quote)
    before = balance(rig)
    rig.clock.set(PERIOD_END)
    assert rig.billing.run_due()["plans_renewed"] == 1
    assert before - balance(rig) == Money("24999.00", "INR")  # the price, nothing in arrears


def enterprise_with_arrears(rig: BillingRig) -> Money:
    """An Enterprise account 10 minutes over (₹12 billed in arrears); its wallet balance."""
    rig.billing.subscribe("ent", "enterprise")
    top_up(rig, "ent", 100_000, "t-ent")
    rig.billing.end_call("ent", "c1", timedelta(minutes=20_010))
    with rig.uow_factory() as uow:
        assert uow.ledgers.get("ent").period_arrears == (Money("12.00", "INR"),)
        found: Wallet = uow.wallets.get("ent")
        return found.balance


def ent_balance(rig: BillingRig) -> Money:
    with rig.uow_factory() as uow:
        found: Wallet = uow.wallets.get("ent")
        return found.balance


def test_arrears_are_billed_once_a_canceled_plan_ends(rig: BillingRig) -> None:
    before = enterprise_with_arrears(rig)
    rig.billing.cancel("ent")
    rig.clock.set(rig.billing.overview("ent").period_end)
    rig.billing.run_due()
    assert rig.billing.overview("ent").status == "expired"
    assert before - ent_balance(rig) == Money("12.00", "INR")  # not dropped with the plan
    rig.billing.run_due()
    assert before - ent_balance(rig) == Money("12.00", "INR")  # and billed once


def test_overage_in_arrears_of_a_call_ended_after_the_plan_ended_is_paid_from_the_wallet(
    rig: BillingRig,
) -> None:
    """No renewal will bill it: the wallet pays it when the call ends, as at the lapse.

    Enterprise bills overage in arrears at ₹1.20 a minute, rated 60/6. A call live when the
    canceled plan ends (its minutes used up, so it holds nothing) hangs up after the due
    work expired the plan: its 5 minutes of overage are ₹6.00.
    """
    before = enterprise_with_arrears(rig)
    rig.clock.set(PERIOD_END - timedelta(minutes=2))
    decision = rig.billing.start_call("ent", "c2")
    assert isinstance(decision, Admitted)
    assert decision.reservation.seconds == 0  # it runs on overage
    rig.billing.cancel("ent")
    rig.clock.set(PERIOD_END + timedelta(minutes=1))
    rig.billing.run_due()
    assert rig.billing.overview("ent").status == "expired"
    assert before - ent_balance(rig) == Money("12.00", "INR")  # the period's arrears
    rig.clock.advance(timedelta(minutes=2))
    record = rig.billing.end_call("ent", "c2", timedelta(minutes=5))
    assert (record.overage_seconds, record.overage_charge) == (300, Money("6.00", "INR"))
    assert before - ent_balance(rig) == Money("18.00", "INR")  # not dropped with the plan
    assert rig.billing.end_call("ent", "c2", timedelta(minutes=5)) == record
    assert before - ent_balance(rig) == Money("18.00", "INR")  # and paid once


def test_arrears_are_billed_when_a_past_due_plan_expires(rig: BillingRig) -> None:
    enterprise_with_arrears(rig)
    with rig.uow_factory() as uow:  # spend the wallet down to ₹20: the renewal fails
        wallet: Wallet = uow.wallets.get("ent")
        wallet.debit(wallet.balance - Money(20, "INR"), "spent", rig.clock.now())
        uow.commit()
    end = rig.billing.overview("ent").period_end
    rig.clock.set(end)
    rig.billing.run_due()
    assert rig.billing.overview("ent").status == "past_due"
    rig.clock.set(end + timedelta(days=8))
    rig.billing.run_due()
    assert rig.billing.overview("ent").status == "expired"
    assert ent_balance(rig) == Money("8.00", "INR")  # ₹12 of arrears out of ₹20


def spend_down_to(rig: BillingRig, account: str, rupees: int) -> None:
    """Leave `rupees` in the account's wallet (too little for any renewal)."""
    with rig.uow_factory() as uow:
        wallet: Wallet = uow.wallets.get(account)
        wallet.debit(wallet.balance - Money(rupees, "INR"), "spent", rig.clock.now())
        uow.commit()


def test_arrears_are_billed_when_due_work_first_runs_after_the_grace_period(
    rig: BillingRig,
) -> None:
    """A renewal found unpaid after its grace expires the plan at once, arrears billed.

    With the scheduler days late, the plan expired straight from active and its ₹12 of
    arrears were dropped, while due work on time billed them when the grace ran out.
    """
    enterprise_with_arrears(rig)
    spend_down_to(rig, "ent", 20)
    rig.clock.set(rig.billing.overview("ent").period_end + timedelta(days=9))
    rig.billing.run_due()
    assert rig.billing.overview("ent").status == "expired"
    assert ent_balance(rig) == Money("8.00", "INR")  # ₹12 of arrears out of ₹20
    rig.billing.run_due()
    assert ent_balance(rig) == Money("8.00", "INR")  # once


def test_arrears_are_billed_when_a_past_due_plan_is_canceled(rig: BillingRig) -> None:
    """Canceling a past-due plan ends it at once; its arrears are billed as at a lapse.

    They were dropped, so canceling during the grace period avoided them.
    """
    enterprise_with_arrears(rig)
    spend_down_to(rig, "ent", 20)
    rig.clock.set(rig.billing.overview("ent").period_end)
    rig.billing.run_due()
    assert rig.billing.overview("ent").status == "past_due"
    rig.clock.advance(timedelta(days=1))
    assert rig.billing.cancel("ent").status == "expired"
    assert ent_balance(rig) == Money("8.00", "INR")  # ₹12 of arrears out of ₹20
    rig.clock.advance(timedelta(days=10))
    rig.billing.run_due()
    assert ent_balance(rig) == Money("8.00", "INR")  # once


def test_an_unpaid_renewal_goes_past_due_and_a_top_up_pays_it(rig: BillingRig) -> None:
    rig.clock.set(PERIOD_END + timedelta(hours=1))
    report = rig.billing.run_due()
    assert (report["plans_past_due"], report["plans_renewed"]) == (1, 0)
    overview = rig.billing.overview(ACCOUNT)
    assert overview.status == "past_due"
    assert overview.expires_at == PERIOD_END + timedelta(days=7)
    top_up(rig, ACCOUNT, 8000, "t1")
    paid = rig.billing.overview(ACCOUNT)
    assert (paid.status, paid.period_start) == ("active", PERIOD_END)
    assert paid.wallet_balance == Money(1, "INR")


def test_a_plan_past_its_grace_expires(rig: BillingRig) -> None:
    rig.clock.set(PERIOD_END + timedelta(hours=1))
    rig.billing.run_due()
    rig.clock.set(PERIOD_END + timedelta(days=7, hours=1))
    assert rig.billing.run_due()["plans_expired"] == 1
    assert rig.billing.overview(ACCOUNT).status == "expired"


def test_a_renewal_first_looked_at_after_its_grace_is_reported_as_expired(
    rig: BillingRig,
) -> None:
    rig.clock.set(PERIOD_END + timedelta(days=20))
    report = rig.billing.run_due()
    assert (report["plans_expired"], report["plans_past_due"]) == (1, 0)
    assert rig.billing.overview(ACCOUNT).status == "expired"


# --- numbers -----------------------------------------------------------------------------------


def test_numbers_renew_hold_and_release_as_their_settings_say(rig: BillingRig) -> None:
    top_up(rig, ACCOUNT, 8500, "t1")
    buy = rig.billing.acquire_number
    buy(ACCOUNT, "in-local", NUMBERS[0], UPI, idempotency_key="n1")
    buy(ACCOUNT, "in-local", NUMBERS[1], UPI, idempotency_key="n2", auto_pay=False)
    rig.clock.set(PERIOD_END + timedelta(hours=1))
    report = rig.billing.run_due()
    assert (report["plans_renewed"], report["numbers_renewed"]) == (1, 1)
    assert report["numbers_put_on_hold"] == 1
    assert balance(rig) == Money(8500 - 7999 - 500, "INR")
    after = statuses(rig)
    assert after[NUMBERS[0]] == ("active", datetime(2026, 3, 5, 9, tzinfo=UTC))
    assert after[NUMBERS[1]] == ("on_hold", PERIOD_END)
    held = next(n for n in rig.billing.numbers(ACCOUNT) if n.number_e164 == NUMBERS[1])
    assert held.hold_reason == "auto_pay_off"
    assert held.release_after == PERIOD_END + timedelta(days=7)  # from the due date
    rig.clock.set(PERIOD_END + timedelta(days=7, hours=2))
    assert rig.billing.run_due()["numbers_released"] == 1
    assert statuses(rig)[NUMBERS[1]][0] == "released"
    assert balance(rig) == Money(1, "INR")


@pytest.mark.parametrize("late", [timedelta(days=3), timedelta(days=7), timedelta(days=40)])
def test_a_numbers_grace_runs_from_its_due_date_however_late_the_due_work_runs(
    rig: BillingRig, late: timedelta
) -> None:
    """Like a plan's grace: the release date does not depend on when the due work ran."""
    rig.billing.acquire_number(ACCOUNT, "in-local", NUMBERS[0], UPI, idempotency_key="n1")
    rig.clock.set(PERIOD_END + late)
    report = rig.billing.run_due()
    (number,) = rig.billing.numbers(ACCOUNT)
    if late < timedelta(days=7):
        assert report["numbers_put_on_hold"] == 1
        assert (number.status, number.release_after) == ("on_hold", PERIOD_END + timedelta(7))
    else:  # past the grace period already: held and released in the same run
        assert report["numbers_released"] == 1
        assert number.status == "released"


def test_a_number_past_its_grace_is_released_in_the_run_that_holds_it_whatever_follows_it(
    rig: BillingRig,
) -> None:
    """A number due later in the same page of due work does not keep the first one held."""
    rig.billing.acquire_number(ACCOUNT, "in-local", NUMBERS[0], UPI, idempotency_key="n1")
    rig.clock.set(datetime(2026, 1, 20, 9, tzinfo=UTC))
    rig.billing.acquire_number(ACCOUNT, "in-local", NUMBERS[1], UPI, idempotency_key="n2")
    second_due = datetime(2026, 2, 20, 9, tzinfo=UTC)
    report = rig.billing.run_due(second_due + timedelta(days=1))  # the first's grace ended Feb 12
    assert (report["numbers_released"], report["numbers_put_on_hold"]) == (1, 1)
    assert statuses(rig) == {
        NUMBERS[0]: ("released", PERIOD_END),
        NUMBERS[1]: ("on_hold", second_due),
    }


def test_late_due_work_holds_a_number_the_wallet_paid_only_some_periods_of(
    rig: BillingRig,
) -> None:
    """The wallet pays two of three owed periods; a number due after it does not keep the
    first from being held for the third in the same run."""
    rig.billing.acquire_number(ACCOUNT, "in-local", NUMBERS[0], UPI, idempotency_key="n1")
    rig.clock.set(datetime(2026, 3, 7, 9, tzinfo=UTC))
    rig.billing.acquire_number(ACCOUNT, "in-local", NUMBERS[1], UPI, idempotency_key="n2")
    top_up(rig, ACCOUNT, 1000, "t1")
    third_due = datetime(2026, 4, 5, 9, tzinfo=UTC)
    report = rig.billing.run_due(datetime(2026, 4, 8, 9, tzinfo=UTC))
    assert report["numbers_renewed"] == 1
    assert statuses(rig) == {
        NUMBERS[0]: ("on_hold", third_due),
        NUMBERS[1]: ("on_hold", datetime(2026, 4, 7, 9, tzinfo=UTC)),
    }
    first = next(n for n in rig.billing.numbers(ACCOUNT) if n.number_e164 == NUMBERS[0])
    assert (first.hold_reason, first.release_after) == (
        "insufficient_credit",
        third_due + timedelta(days=7),
    )
    assert balance(rig) == Money(0, "INR")


def test_a_number_on_hold_for_credit_is_paid_by_the_next_top_up(rig: BillingRig) -> None:
    rig.billing.acquire_number(ACCOUNT, "in-local", NUMBERS[0], UPI, idempotency_key="n1")
    rig.clock.set(PERIOD_END + timedelta(hours=1))
    assert rig.billing.run_due()["numbers_put_on_hold"] == 1
    (held,) = rig.billing.numbers(ACCOUNT)
    assert (held.status, held.hold_reason) == ("on_hold", "insufficient_credit")
    top_up(rig, ACCOUNT, 600, "t1")  # cannot pay the past-due plan, can pay the number
    (paid,) = rig.billing.numbers(ACCOUNT)
    assert (paid.status, paid.paid_through) == ("active", datetime(2026, 3, 5, 9, tzinfo=UTC))
    assert balance(rig) == Money(100, "INR")


def test_money_given_back_to_the_wallet_pays_a_held_number_too(rig: BillingRig) -> None:
    """Not only a top-up: an unused period credited back on a release pays a held number."""
    for n, number in enumerate(NUMBERS[:2]):
        rig.billing.acquire_number(ACCOUNT, "in-local", number, UPI, idempotency_key=f"n{n}")
    top_up(rig, ACCOUNT, 500, "t1")  # one renewal's worth
    rig.clock.set(PERIOD_END)
    report = rig.billing.run_due()
    assert (report["numbers_renewed"], report["numbers_put_on_hold"]) == (1, 1)
    paid, held = NUMBERS[0], NUMBERS[1]
    assert statuses(rig)[held][0] == "on_hold"
    rig.billing.release_number(ACCOUNT, paid)  # its renewed period has not started: ₹500 back
    assert statuses(rig)[held] == ("active", datetime(2026, 3, 5, 9, tzinfo=UTC))
    assert balance(rig) == Money(0, "INR")


def test_a_mandate_is_told_a_day_ahead_then_charged_once(rig: BillingRig) -> None:
    rig.billing.acquire_number(
        ACCOUNT, "in-local", NUMBERS[0], UPI, idempotency_key="n1", mandate_id=MANDATE
    )
    rig.gateway.take_webhooks()
    rig.clock.set(PERIOD_END - timedelta(hours=20))
    assert rig.billing.run_due()["pre_debit_notices"] == 1
    assert rig.billing.run_due()["pre_debit_notices"] == 0
    rig.clock.set(PERIOD_END + timedelta(hours=3))  # 24 h after the notice is +4 h: not yet
    assert rig.billing.run_due()["mandate_charges"] == 0
    rig.clock.set(PERIOD_END + timedelta(hours=4))
    assert rig.billing.run_due()["mandate_charges"] == 1
    assert rig.billing.run_due()["mandate_charges"] == 0
    assert statuses(rig)[NUMBERS[0]] == ("active", datetime(2026, 3, 5, 9, tzinfo=UTC))
    hooks = rig.gateway.take_webhooks()
    assert [h.event_type for h in hooks] == ["payment.succeeded"]
    rig.deliver(hooks * 5)
    assert statuses(rig)[NUMBERS[0]] == ("active", datetime(2026, 3, 5, 9, tzinfo=UTC))
    with rig.uow_factory() as uow:
        payments = uow.payments.for_account(ACCOUNT)
        renewals = [p for p in payments if p.quote_id.startswith(f"number:{NUMBERS[0]}:")]
    assert [(p.status, p.amount) for p in renewals] == [
        (PaymentStatus.SUCCEEDED, Money(500, "INR"))
    ]


def test_a_declined_mandate_charge_puts_the_number_on_hold(rig: BillingRig) -> None:
    rig.billing.acquire_number(
        ACCOUNT, "in-local", NUMBERS[0], UPI, idempotency_key="n1", mandate_id=MANDATE
    )
    rig.clock.set(PERIOD_END - timedelta(days=1))
    rig.billing.run_due()
    rig.gateway.script(Outcome.FAIL)
    rig.clock.set(PERIOD_END + timedelta(minutes=1))
    assert rig.billing.run_due()["mandate_charges"] == 1
    (held,) = rig.billing.numbers(ACCOUNT)
    assert (held.status, held.hold_reason) == ("on_hold", "payment_failed")


def test_running_due_work_twice_for_the_same_instant_charges_once(rig: BillingRig) -> None:
    top_up(rig, ACCOUNT, 20_000, "t1")
    for index, number in enumerate(NUMBERS):
        rig.billing.acquire_number(ACCOUNT, "in-local", number, UPI, idempotency_key=f"n{index}")
    at = PERIOD_END + timedelta(hours=3)
    first = rig.billing.run_due(at)
    assert (first["plans_renewed"], first["numbers_renewed"]) == (1, 3)
    before = snapshot(rig)
    second = rig.billing.run_due(at)
    assert second["plans_renewed"] == second["numbers_renewed"] == 0
    assert snapshot(rig) == before
    assert balance(rig) == Money(20_000 - 7999 - 3 * 500, "INR")
    taken = debits(rig)
    assert sorted(reason for _, reason, _ in taken) == ["number renewal"] * 3 + ["plan renewal"]
    assert len({key for key, _, _ in taken}) == 4  # one debit per (item, period)


# --- holds, payments, pages --------------------------------------------------------------------


def test_holds_of_calls_that_never_ended_expire_and_give_their_minutes_back(
    rig: BillingRig,
) -> None:
    rig.billing.start_call(ACCOUNT, "c1", max_seconds=1200)
    assert rig.billing.overview(ACCOUNT).held_minutes == Decimal(20)
    rig.clock.advance(timedelta(hours=5))
    assert rig.billing.run_due()["holds_expired"] == 1
    overview = rig.billing.overview(ACCOUNT)
    assert (overview.held_minutes, overview.remaining_minutes) == (Decimal(0), Decimal(5000))


def test_a_payment_whose_webhook_was_lost_is_reconciled(rig: BillingRig) -> None:
    rig.gateway.script(Outcome.STAY_PENDING)
    result = rig.billing.checkout_bundle(ACCOUNT, "nexus", UPI, idempotency_key="b1")
    capture_later(rig, result.payment.payment_id)
    rig.gateway.take_webhooks()  # lost on the way
    rig.clock.advance(timedelta(minutes=16))
    assert rig.billing.run_due()["payments_reconciled"] == 1
    assert rig.billing.overview(ACCOUNT).total_minutes == Decimal(5300)


def test_every_open_payment_is_reconciled_however_small_the_pages(rig: BillingRig) -> None:
    rig.gateway.script(*[Outcome.STAY_PENDING] * 3)
    started = [
        rig.billing.checkout_bundle(ACCOUNT, "elite", UPI, idempotency_key=f"b{i}")
        for i in range(3)
    ]
    capture_later(rig, started[2].payment.payment_id)  # the last one was paid; its webhook lost
    rig.gateway.take_webhooks()
    rig.clock.advance(timedelta(minutes=16))
    report = rig.billing.run_due(batch_size=1)
    assert report["payments_reconciled"] == 3
    assert rig.billing.overview(ACCOUNT).total_minutes == Decimal(5100)


def test_a_mandate_charge_the_gateway_cannot_take_is_reported_and_the_rest_go_ahead(
    rig: BillingRig,
) -> None:
    rig.billing.subscribe("acct-2", "pro")
    for account, number in ((ACCOUNT, NUMBERS[0]), ("acct-2", NUMBERS[1])):
        rig.billing.acquire_number(
            account, "in-local", number, UPI, idempotency_key="n1", mandate_id=MANDATE
        )
    rig.clock.set(PERIOD_END - timedelta(days=1))
    rig.billing.run_due()
    rig.clock.set(PERIOD_END + timedelta(minutes=1))
    rig.gateway.script(Outcome.UNAVAILABLE)
    report = rig.billing.run_due()
    assert report["mandate_charges"] == 1
    assert len(report.failures) == 1
    assert NUMBERS[0] in report.failures[0][0]
    assert "unavailable" in report.failures[0][1]
    paid = {a: rig.billing.numbers(a)[0].paid_through for a in (ACCOUNT, "acct-2")}
    assert sorted(paid.values()) == [PERIOD_END, datetime(2026, 3, 5, 9, tzinfo=UTC)]
    retry = rig.billing.run_due()
    assert (retry["mandate_charges"], retry.failures) == (1, ())
    for account in (ACCOUNT, "acct-2"):
        assert rig.billing.numbers(account)[0].paid_through == datetime(2026, 3, 5, 9, tzinfo=UTC)


def test_renewals_of_the_same_number_string_on_two_accounts_are_two_payments(
    rig: BillingRig,
) -> None:
    rig.billing.subscribe("acct-2", "pro")
    for account in (ACCOUNT, "acct-2"):  # e.g. numbers of two providers' ranges that coincide
        rig.billing.acquire_number(
            account, "in-local", NUMBERS[0], UPI, idempotency_key="n1", mandate_id=MANDATE
        )
    rig.clock.set(PERIOD_END - timedelta(days=1))
    rig.billing.run_due()
    rig.clock.set(PERIOD_END + timedelta(minutes=1))
    assert rig.billing.run_due()["mandate_charges"] == 2
    renewed = datetime(2026, 3, 5, 9, tzinfo=UTC)
    for account in (ACCOUNT, "acct-2"):
        assert rig.billing.numbers(account)[0].paid_through == renewed
        with rig.uow_factory() as uow:
            payments = [p for p in uow.payments.for_account(account) if p.amount.amount == 500]
        assert [p.status for p in payments] == [PaymentStatus.SUCCEEDED]


def test_due_work_in_small_pages_does_what_one_big_page_does(tmp_path: Path) -> None:
    progress: list[tuple[str, int]] = []
    contents = []
    for size, kind in ((1, "sqlite"), (500, "memory")):
        folder = tmp_path / str(size)
        folder.mkdir()
        with open_rig(kind, folder) as rig:
            for index in range(3):
                account = f"acct-{index}"
                rig.billing.subscribe(account, "starter")
                if index:
                    top_up(rig, account, 1999 * index, f"t{index}")
            rig.clock.set(PERIOD_END + timedelta(hours=1))
            report = rig.billing.run_due(
                batch_size=size, progress=lambda kind, n: progress.append((kind, n))
            )
            assert (report["plans_renewed"], report["plans_past_due"]) == (2, 1)
            seen = snapshot(rig, "acct-0", "acct-1", "acct-2")
            # Commits differ, so accounts' events interleave differently; each account's
            # events keep their order.
            seen["outbox"].sort(key=lambda entry: entry[0])
            contents.append(seen)
    assert contents[0] == contents[1]
    subscriptions = [n for kind, n in progress if kind == "subscriptions"]
    assert subscriptions[:3] == [1, 2, 3]  # the one-by-one run reports every page


def test_progress_counts_the_items_handled_not_the_page_size(rig: BillingRig) -> None:
    """Three subscriptions in pages of two: progress says 2, then 3 (not 2, then 4)."""
    for account in ("acct-a", "acct-b"):
        rig.billing.subscribe(account, "starter")
    rig.clock.set(PERIOD_END + timedelta(hours=1))
    progress: list[tuple[str, int]] = []
    rig.billing.run_due(batch_size=2, progress=lambda kind, n: progress.append((kind, n)))
    assert [n for kind, n in progress if kind == "subscriptions"] == [2, 3]
    progress.clear()
    rig.clock.set(PERIOD_END + timedelta(days=40))
    rig.billing.run_due(progress=lambda kind, n: progress.append((kind, n)))
    assert [n for kind, n in progress if kind == "subscriptions"] == [3]


def test_progress_counts_the_open_payments_looked_at(rig: BillingRig) -> None:
    rig.gateway.script(*[Outcome.STAY_PENDING] * 3)
    for n in range(3):
        rig.billing.top_up(ACCOUNT, Money(100 + n, "INR"), UPI, idempotency_key=f"t{n}")
    rig.clock.advance(timedelta(minutes=16))  # due to be asked about
    progress: list[tuple[str, int]] = []
    rig.billing.run_due(batch_size=2, progress=lambda kind, n: progress.append((kind, n)))
    assert [n for kind, n in progress if kind == "payments"] == [1, 2, 3]


@pytest.mark.parametrize("store", STORES)
def test_a_failing_item_is_retried_alone_though_another_became_due_before_it(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The one-by-one retry handles the item it read, not whatever is due next in its place.

    ``acct-c`` fails, so its page is retried item by item; just after the retry read the
    page, another process adds ``acct-b``, due at the same instant and listed between
    ``acct-a`` and ``acct-c``. ``acct-c``'s failure is still reported, ``acct-e`` still
    handled, and ``acct-b`` waits for the next run.
    """
    with open_rig(store, tmp_path) as rig:
        billing = rig.billing
        for account in ("acct-a", "acct-c", "acct-e"):
            billing.subscribe(account, "starter")
        handle, read = billing._due_subscription, billing._read
        added: list[str] = []

        def failing(uow: Any, subscription: Any, at: datetime, counts: Any) -> None:
            if subscription.account_id == "acct-c":
                raise InvalidTransition("subscription", "acct-c", "renew")
            handle(uow, subscription, at, counts)

        def read_then_add(work: Any) -> Any:
            result = read(work)
            if not added:
                added.append("acct-b")
                billing.subscribe("acct-b", "starter")  # due with the others, listed among them
            return result

        monkeypatch.setattr(billing, "_due_subscription", failing)
        monkeypatch.setattr(billing, "_read", read_then_add)
        report = billing.run_due(PERIOD_END + timedelta(hours=1))
        assert added == ["acct-b"]
        assert len(report.failures) == 1
        assert report.failures[0][0].startswith("subscriptions ")
        assert "acct-c" in report.failures[0][0]
        assert report["plans_past_due"] == 2  # acct-a and acct-e, with empty wallets
        status = {a: billing.overview(a).status for a in ("acct-a", "acct-b", "acct-c", "acct-e")}
        assert status == {
            "acct-a": "past_due",
            "acct-b": "active",
            "acct-c": "active",
            "acct-e": "past_due",
        }
        monkeypatch.undo()
        retry = billing.run_due(PERIOD_END + timedelta(hours=1))
        assert (retry["plans_past_due"], retry.failures) == (2, ())
