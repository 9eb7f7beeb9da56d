"""A number is settled after every step: the wallet pays what the rules say it pays, at once.

`renew` returns one decision at a time; after the service carries one out (due work, a wallet
credit, Auto-Pay turned on, a failed mandate debit) it asks again at the same instant and
pays from the wallet while that is the decision. So an `HeldFee.ACCRUE` number owing several
periods is paid all of them, and a number held after a mandate decline is paid by a wallet
that already covers the fee. Every test runs on the in-memory store and on SQLite.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import pytest

from minutebill._unit_of_work import UnitOfWork
from minutebill.domain.money import Money
from minutebill.domain.number_policy import HeldFee, NumberPolicy, PaymentOrder
from minutebill.domain.numbers import NumberSubscription
from minutebill.domain.payment_status import PaymentStatus
from minutebill.domain.payments import Payment
from minutebill.domain.wallet import Wallet
from minutebill.domain.wallet_entries import EntryKind
from minutebill.testing.fakes import Outcome
from minutebill.testing.stateful import MANDATE, UPI, BillingRig
from tests.service.test_support import ACCOUNT, STORES, open_store, snapshot, top_up

NUMBER = "+919800000001"
# The number is bought at the rig's start, Jan 5 09:00 UTC: its periods end on the 5th.
DUE = datetime(2026, 2, 5, 9, tzinfo=UTC)
MAR_5 = datetime(2026, 3, 5, 9, tzinfo=UTC)
APR_5 = datetime(2026, 4, 5, 9, tzinfo=UTC)
ACCRUE_60 = NumberPolicy(grace_period=timedelta(days=60), held_fee=HeldFee.ACCRUE)

Store = Callable[[], UnitOfWork]


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with open_store(request.param, tmp_path) as uow_factory:
        yield uow_factory


def rig_on(
    store: Store,
    policy: NumberPolicy,
    *,
    auto_pay: bool = True,
    mandate: bool = False,
    wallet: int = 0,
) -> BillingRig:
    """An account on Enterprise (its plan renewal never fits these wallets) with the number."""
    rig = BillingRig.build(store, number_policy=policy)
    rig.billing.subscribe(ACCOUNT, "enterprise", timezone="Asia/Kolkata")
    if wallet:
        top_up(rig, ACCOUNT, wallet, "seed")
    rig.billing.acquire_number(
        ACCOUNT,
        "in-local",
        NUMBER,
        UPI,
        idempotency_key="n1",
        auto_pay=auto_pay,
        mandate_id=MANDATE if mandate else None,
    )
    rig.gateway.take_webhooks()
    return rig


def the_number(rig: BillingRig) -> tuple[str, str | None, datetime]:
    (number,) = rig.billing.numbers(ACCOUNT)
    return number.status, number.hold_reason, number.paid_through


def renewal_debits(rig: BillingRig) -> list[tuple[str, Money]]:
    """The wallet's number-renewal debits: (idempotency key, amount), oldest first."""
    with rig.uow_factory() as uow:
        wallet: Wallet = uow.wallets.get(ACCOUNT)
    return [
        (e.key, e.amount)
        for e in wallet.entries
        if e.kind is EntryKind.DEBIT and e.reason == "number renewal"
    ]


def wallet_credits(rig: BillingRig, reason: str) -> list[Money]:
    with rig.uow_factory() as uow:
        wallet: Wallet = uow.wallets.get(ACCOUNT)
    return [e.amount for e in wallet.entries if e.kind is EntryKind.CREDIT and e.reason == reason]


def renewal_key(rig: BillingRig, period: int) -> str:
    with rig.uow_factory() as uow:
        number: NumberSubscription = uow.numbers.get(ACCOUNT, NUMBER)
    return number.renewal_key(period)


def mandate_renewals(rig: BillingRig) -> list[Payment]:
    with rig.uow_factory() as uow:
        payments: list[Payment] = uow.payments.for_account(ACCOUNT)
    return [p for p in payments if p.quote_id.startswith(f"number:{NUMBER}:")]


FEE = Money(500, "INR")


# --- HeldFee.ACCRUE: every owed period is paid -------------------------------------------------


def test_a_top_up_pays_every_period_an_accruing_held_number_owes(store: Store) -> None:
    rig = rig_on(store, ACCRUE_60)
    rig.clock.set(DUE + timedelta(hours=1))
    assert rig.billing.run_due()["numbers_put_on_hold"] == 1
    rig.clock.set(datetime(2026, 3, 20, 9, tzinfo=UTC))  # two periods owed now
    top_up(rig, ACCOUNT, 5000, "t1")
    assert the_number(rig) == ("active", None, APR_5)
    keys = [renewal_key(rig, 1), renewal_key(rig, 2)]
    assert renewal_debits(rig) == [(keys[0], FEE), (keys[1], FEE)]
    # Nothing is left for the due work, and the number is not released at the end of grace.
    assert rig.billing.run_due()["numbers_renewed"] == 0
    assert rig.billing.run_due(DUE + timedelta(days=60))["numbers_released"] == 0
    assert the_number(rig)[0] == "active"


def test_turning_auto_pay_on_pays_every_period_an_accruing_held_number_owes(
    store: Store,
) -> None:
    rig = rig_on(store, ACCRUE_60, auto_pay=False)
    rig.clock.set(DUE)
    rig.billing.run_due()
    assert the_number(rig) == ("on_hold", "auto_pay_off", DUE)
    rig.clock.set(datetime(2026, 3, 20, 9, tzinfo=UTC))
    top_up(rig, ACCOUNT, 5000, "t1")  # Auto-Pay is off: the wallet does not pay yet
    assert the_number(rig) == ("on_hold", "auto_pay_off", DUE)
    view = rig.billing.set_auto_pay(ACCOUNT, NUMBER, True)
    assert (view.status, view.paid_through) == ("active", APR_5)
    assert [amount for _, amount in renewal_debits(rig)] == [FEE, FEE]


def test_after_a_mandate_pays_one_owed_period_the_wallet_pays_the_others(store: Store) -> None:
    """Method first: the customer's Auto-Pay switch charges the mandate for the first owed
    period; the wallet, which covers the fee, pays the second, and the number is Active."""
    policy = attrs.evolve(ACCRUE_60, payment_order=PaymentOrder.METHOD_FIRST)
    rig = rig_on(store, policy, auto_pay=False, mandate=True, wallet=800)
    rig.clock.set(DUE)
    rig.billing.run_due()
    assert the_number(rig) == ("on_hold", "auto_pay_off", DUE)
    rig.clock.set(datetime(2026, 3, 20, 9, tzinfo=UTC))  # two periods owed now
    view = rig.billing.set_auto_pay(ACCOUNT, NUMBER, True)
    assert (view.status, view.hold_reason, view.paid_through) == ("active", None, APR_5)
    assert [(p.status, p.amount) for p in mandate_renewals(rig)] == [(PaymentStatus.SUCCEEDED, FEE)]
    assert renewal_debits(rig) == [(renewal_key(rig, 2), FEE)]
    assert rig.billing.run_due(DUE + timedelta(days=60))["numbers_released"] == 0


def test_a_wallet_that_covers_only_some_owed_periods_pays_those_and_the_number_stays_held(
    store: Store,
) -> None:
    rig = rig_on(store, NumberPolicy(grace_period=timedelta(days=90)))
    rig.clock.set(datetime(2026, 4, 20, 9, tzinfo=UTC))  # three periods owed
    rig.billing.run_due()
    top_up(rig, ACCOUNT, 500, "t1")  # one of them
    assert the_number(rig) == ("on_hold", "insufficient_credit", MAR_5)
    top_up(rig, ACCOUNT, 1000, "t2")  # the other two
    assert the_number(rig) == ("active", None, datetime(2026, 5, 5, 9, tzinfo=UTC))
    assert len(renewal_debits(rig)) == 3


def test_due_work_that_runs_periods_late_pays_every_period_due_in_one_run(store: Store) -> None:
    rig = rig_on(store, ACCRUE_60, wallet=5000)
    report = rig.billing.run_due(datetime(2026, 3, 20, 9, tzinfo=UTC))
    assert report["numbers_renewed"] == 1
    assert the_number(rig) == ("active", None, APR_5)
    assert len(renewal_debits(rig)) == 2


# --- held after a mandate debit, with a wallet that covers the fee ------------------------------


def test_a_wallet_pays_at_once_for_a_number_held_after_a_method_first_decline(
    store: Store,
) -> None:
    rig = rig_on(
        store, NumberPolicy(payment_order=PaymentOrder.METHOD_FIRST), mandate=True, wallet=800
    )
    rig.clock.set(DUE - timedelta(days=1))
    assert rig.billing.run_due()["pre_debit_notices"] == 1
    rig.gateway.script(Outcome.FAIL)
    rig.clock.set(DUE)
    assert rig.billing.run_due()["mandate_charges"] == 1
    assert the_number(rig) == ("active", None, MAR_5)
    assert renewal_debits(rig) == [(renewal_key(rig, 1), FEE)]
    assert [p.status for p in mandate_renewals(rig)] == [PaymentStatus.FAILED]
    rig.clock.set(DUE + timedelta(days=7))
    assert rig.billing.run_due()["numbers_released"] == 0


def test_a_wallet_topped_up_while_a_debit_is_pending_pays_when_the_debit_fails(
    store: Store,
) -> None:
    rig = rig_on(store, NumberPolicy(), mandate=True)
    rig.clock.set(DUE - timedelta(days=1))
    rig.billing.run_due()
    rig.gateway.script(Outcome.STAY_PENDING)
    rig.clock.set(DUE)
    assert rig.billing.run_due()["mandate_charges"] == 1
    rig.clock.set(DUE + timedelta(hours=1))
    top_up(rig, ACCOUNT, 600, "t1")  # the number is Active: nothing to pay yet
    assert renewal_debits(rig) == []
    (payment,) = mandate_renewals(rig)
    assert payment.gateway_payment_id is not None
    rig.clock.set(DUE + timedelta(hours=3))
    rig.gateway.move(payment.gateway_payment_id, PaymentStatus.FAILED, "declined")
    rig.deliver(rig.gateway.take_webhooks())
    assert the_number(rig) == ("active", None, MAR_5)
    assert renewal_debits(rig) == [(renewal_key(rig, 1), FEE)]

    # The failed debit is authorised late after all: the period is not paid twice.
    before = the_number(rig)
    rig.gateway.move(payment.gateway_payment_id, PaymentStatus.SUCCEEDED)
    rig.deliver(rig.gateway.take_webhooks())
    assert the_number(rig) == before
    assert len(renewal_debits(rig)) == 1
    assert wallet_credits(rig, "renewal paid twice") == [FEE]  # the late money is not lost


def test_due_work_that_finds_a_failed_attempt_holds_the_number_and_the_wallet_pays(
    store: Store,
) -> None:
    """The decline was learned before the number was due by the clock (due work ran ahead)."""
    rig = rig_on(
        store, NumberPolicy(payment_order=PaymentOrder.METHOD_FIRST), mandate=True, wallet=800
    )
    rig.clock.set(DUE - timedelta(days=1))
    rig.billing.run_due()
    rig.gateway.script(Outcome.STAY_PENDING)
    assert rig.billing.run_due(DUE)["mandate_charges"] == 1
    (payment,) = mandate_renewals(rig)
    assert payment.gateway_payment_id is not None
    rig.gateway.move(payment.gateway_payment_id, PaymentStatus.FAILED, "declined")
    rig.deliver(rig.gateway.take_webhooks())
    assert the_number(rig) == ("active", None, DUE)  # not due yet by the clock
    rig.clock.set(DUE)
    report = rig.billing.run_due()
    assert (report["mandate_charges"], report["numbers_renewed"]) == (0, 1)
    assert the_number(rig) == ("active", None, MAR_5)
    assert renewal_debits(rig) == [(renewal_key(rig, 1), FEE)]


# --- one period, one payment --------------------------------------------------------------------


@pytest.mark.parametrize("credit_first", [True, False])
def test_due_work_and_a_wallet_credit_at_one_instant_pay_each_period_once(
    store: Store, credit_first: bool
) -> None:
    """Both pay a period with its renewal key, and a paid period is never asked for again."""
    rig = rig_on(store, ACCRUE_60)
    rig.billing.run_due(DUE)
    at = datetime(2026, 3, 20, 9, tzinfo=UTC)
    rig.clock.set(at)
    if credit_first:
        top_up(rig, ACCOUNT, 5000, "t1")
        before = snapshot(rig)
        assert rig.billing.run_due(at)["numbers_renewed"] == 0
        assert rig.billing.run_due(at)["numbers_renewed"] == 0
        assert snapshot(rig)[f"{ACCOUNT}/numbers"] == before[f"{ACCOUNT}/numbers"]
    else:
        assert rig.billing.run_due(at)["numbers_renewed"] == 0  # the wallet is empty
        top_up(rig, ACCOUNT, 5000, "t1")
        assert rig.billing.run_due(at)["numbers_renewed"] == 0
    assert the_number(rig) == ("active", None, APR_5)
    keys = [key for key, _ in renewal_debits(rig)]
    assert keys == [renewal_key(rig, 1), renewal_key(rig, 2)]
    top_up(rig, ACCOUNT, 500, "t2")  # more money: nothing more is owed
    assert len(renewal_debits(rig)) == 2


def test_a_top_up_renews_a_past_due_plan_before_it_pays_held_numbers(store: Store) -> None:
    """As the due work does: the plan (every call needs it) first, then the numbers.

    Starter renews at INR 1,999 and the number at INR 500; neither fits an empty wallet.
    A top-up of INR 1,999 renews the plan and leaves the number held, rather than paying
    the number and leaving the plan past due with INR 1,499.
    """
    rig = BillingRig.build(store)
    rig.billing.subscribe(ACCOUNT, "starter", timezone="Asia/Kolkata")
    rig.billing.acquire_number(ACCOUNT, "in-local", NUMBER, UPI, idempotency_key="n1")
    rig.gateway.take_webhooks()
    rig.clock.advance(timedelta(days=32))  # both due, nothing in the wallet
    rig.billing.run_due()
    assert rig.billing.overview(ACCOUNT).status == "past_due"
    assert the_number(rig)[0] == "on_hold"
    top_up(rig, ACCOUNT, 1999, "t1")
    overview = rig.billing.overview(ACCOUNT)
    assert (overview.status, overview.wallet_balance) == ("active", Money(0, "INR"))
    assert the_number(rig)[0] == "on_hold"
    top_up(rig, ACCOUNT, 500, "t2")  # now the number
    assert the_number(rig)[0] == "active"
    assert rig.billing.overview(ACCOUNT).wallet_balance == Money(0, "INR")
