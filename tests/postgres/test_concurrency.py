"""Several processes billing the same accounts on one PostgreSQL: nothing lost, nothing twice.

Four spawned processes (a pool kept for the module, so imports are paid once) start each race
together at a barrier. Afterwards the store is audited with
`minutebill.testing.checkers`: every ledger equals the sum of its settled calls, every
acknowledged call is stored once, nothing went negative — and the wallet, subscription and
outbox agree with each other. A deliberately naive store (reads without ``FOR UPDATE``,
updates without a version check) proves the audit catches lost updates.
"""

from __future__ import annotations

import multiprocessing
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from minutebill.adapters.postgres import PostgresStore
from minutebill.catalog import Catalog
from minutebill.domain.money import Money
from minutebill.domain.payment_status import PaymentStatus
from minutebill.errors import PersistenceError
from minutebill.service import Billing
from minutebill.testing.checkers import assert_ledgers_match_calls, audit_ledgers
from minutebill.testing.fakes import FakePaymentGateway, FixedClock, Outcome
from minutebill.testing.stateful import UPI, reference_catalog
from tests.postgres import _workers

pytestmark = pytest.mark.postgres

WORKERS = 4
CALLS = 2_500  # per worker, on the shared account and again on its own
T0 = datetime(2026, 1, 1, tzinfo=UTC)
DURING = T0 + timedelta(hours=1)
RENEWAL = datetime(2026, 2, 1, 0, 30, tzinfo=UTC)  # the January period is over

Task = tuple[Callable[..., dict[str, Any]], tuple[Any, ...], dict[str, Any]]


@pytest.fixture(scope="module")
def workers() -> Iterator[ProcessPoolExecutor]:
    """Four warm worker processes that start each task together at a barrier."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(WORKERS)
    with ProcessPoolExecutor(
        WORKERS,
        mp_context=context,
        initializer=_workers.install_barrier,
        initargs=(barrier,),
    ) as pool:
        assert all(f.result() for f in [pool.submit(_workers.ready) for _ in range(WORKERS)])
        yield pool


def together(pool: ProcessPoolExecutor, tasks: list[Task]) -> list[dict[str, Any]]:
    """Run one task per worker, all started at once; their results in task order."""
    assert len(tasks) == WORKERS
    futures = [pool.submit(function, *args, **kwargs) for function, args, kwargs in tasks]
    return [future.result(timeout=600) for future in futures]


def billing_on(
    store: PostgresStore, at: datetime, catalog: Catalog | None = None
) -> tuple[Billing, FakePaymentGateway]:
    clock = FixedClock(at)
    gateway = FakePaymentGateway(secret=_workers.SECRET, clock=clock)
    catalog = catalog or reference_catalog()
    return Billing(store.unit_of_work, gateway, catalog, clock), gateway


def acknowledged_calls(results: list[dict[str, Any]]) -> dict[str, list[str]]:
    merged: dict[str, list[str]] = {}
    for result in results:
        for account, calls in result["acknowledged"].items():
            merged.setdefault(account, []).extend(calls)
    return merged


def outbox_names(store: PostgresStore, account_id: str) -> Counter[str]:
    with store.unit_of_work() as uow:
        return Counter(
            e.name for e in uow.outbox.since(0, limit=10**7) if e.account_id == account_id
        )


def assert_nothing_negative(store: PostgresStore, account_ids: list[str]) -> None:
    with store.unit_of_work() as uow:
        for account_id in account_ids:
            ledger = uow.ledgers.get(account_id)
            assert all(grant.remaining >= 0 for grant in ledger.grants())
            assert ledger.totals().remaining >= 0
            wallet = uow.wallets.get(account_id)
            assert wallet.balance.amount >= 0


@pytest.fixture
def store(pg_store: PostgresStore) -> PostgresStore:
    return pg_store


# --- settlements ------------------------------------------------------------------------------


@pytest.mark.slow
def test_four_processes_settling_on_a_shared_and_their_own_accounts_lose_nothing(
    pg_dsn: str, store: PostgresStore, workers: ProcessPoolExecutor
) -> None:
    # Each worker alternates: a call of the shared account, a call of its own account. So the
    # workers take turns on the shared ledger while they settle their own ones in parallel.
    own = [f"acct-own-{n}" for n in range(WORKERS)]
    billing, _ = billing_on(store, T0)
    billing.subscribe("acct-shared", "starter", timezone="Asia/Kolkata")  # overage: recorded
    for account in own:
        billing.subscribe(account, "enterprise", timezone="UTC")
    with store.unit_of_work() as uow:
        shared_version = uow.ledgers.get("acct-shared").version

    results = together(
        workers,
        [
            (
                _workers.settle_calls,
                (pg_dsn, store.schema, ["acct-shared", account], f"w{n}", 2 * CALLS, DURING),
                {},
            )
            for n, account in enumerate(own)
        ],
    )

    assert [r["errors"] for r in results] == [[]] * WORKERS
    acknowledged = acknowledged_calls(results)
    assert len(acknowledged["acct-shared"]) == WORKERS * CALLS
    audit = assert_ledgers_match_calls(
        store.unit_of_work, ["acct-shared", *own], acknowledged=acknowledged
    )
    assert [a.records for a in audit.accounts] == [WORKERS * CALLS] + [CALLS] * WORKERS
    assert audit.lost_seconds == 0
    with store.unit_of_work() as uow:
        shared = uow.ledgers.get("acct-shared")
        # Every settlement saved the ledger exactly once, on top of the one before it.
        assert shared.version == shared_version + WORKERS * CALLS
        totals = shared.totals()
        assert totals.remaining == 0  # the plan's 1,000 minutes are used up...
        assert totals.overage > 0  # ...and the rest is recorded as overage, never negative
        day = DURING.date()
        for account in own:
            days = uow.usage.daily(account, day, day + timedelta(days=1))
            assert [t.calls for _, t in days] == [CALLS]
            assert uow.usage.by_tag(account, day, day + timedelta(days=1))["load"].calls == CALLS
    assert outbox_names(store, "acct-shared")["CallSettled"] == WORKERS * CALLS
    assert_nothing_negative(store, ["acct-shared", *own])


# --- money racing minutes ---------------------------------------------------------------------


@pytest.mark.slow
def test_top_ups_and_renewals_racing_settlements_count_everything_once(
    pg_dsn: str, store: PostgresStore, workers: ProcessPoolExecutor
) -> None:
    accounts = ["acct-race-0", "acct-race-1"]
    tiny = Catalog.from_mapping(_workers.TINY_CATALOG)
    billing, _ = billing_on(store, T0, tiny)
    for account in accounts:
        billing.subscribe(account, "tiny", timezone="UTC")
    top_ups, rupees = 10, 50

    results = together(
        workers,
        [
            (
                _workers.settle_calls,
                (pg_dsn, store.schema, accounts, "race-a", 150, RENEWAL),
                {"seconds": 60, "tiny": True},
            ),
            (
                _workers.settle_calls,
                (pg_dsn, store.schema, accounts, "race-b", 150, RENEWAL),
                {"seconds": 60, "tiny": True},
            ),
            (
                _workers.top_up_repeatedly,
                (pg_dsn, store.schema, accounts, top_ups, rupees, RENEWAL),
                {},
            ),
            (_workers.run_due_repeatedly, (pg_dsn, store.schema, 15, RENEWAL), {}),
        ],
    )
    settlers, top_upper, renewer = results[:2], results[2], results[3]
    assert [r["errors"] for r in settlers] == [[], []]
    assert top_upper["errors"] == []
    assert renewer["failures"] == []
    # Whatever the renewal worker skipped (rows locked by a racing unit of work), now.
    after, _ = billing_on(store, RENEWAL, tiny)
    assert after.run_due(RENEWAL).failures == ()

    assert_ledgers_match_calls(
        store.unit_of_work, accounts, acknowledged=acknowledged_calls(settlers)
    )
    assert_nothing_negative(store, accounts)
    with store.unit_of_work() as uow:
        entries = uow.outbox.since(0, limit=10**7)
        for account in accounts:
            wallet = uow.wallets.get(account)
            mine = [e for e in entries if e.account_id == account]
            credit_events = [e.payload for e in mine if e.name == "WalletCredited"]
            credited = [Decimal(c["amount"]["amount"]) for c in credit_events]
            # Calls settled after the period end while the renewal waited for money were
            # charged as overage; the paid renewal's minutes covered them and gave it back.
            given_back = [
                Decimal(c["amount"]["amount"])
                for c in credit_events
                if c["reason"] == "overage covered by the paid period"
            ]
            assert len(given_back) <= 1
            assert sum(given_back) <= 10  # at most the period's 10 minutes at ₹1
            debits = [e.payload for e in mine if e.name == "WalletDebited"]
            # Each top-up credited once, though every request was sent twice.
            assert wallet.credited == Money(top_ups * rupees + sum(given_back), "INR")
            assert len(credited) == top_ups + len(given_back)
            # The wallet is exactly what its committed events say: no update was lost.
            assert sum(credited) == wallet.credited.amount
            assert sum(Decimal(d["amount"]["amount"]) for d in debits) == wallet.debited.amount
            assert wallet.balance == wallet.credited - wallet.debited
            assert len({d["entry_key"] for d in debits}) == len(debits)
            # The plan renewed exactly once, paid once.
            renewals = [d for d in debits if d["reason"] == "plan renewal"]
            assert [d["amount"]["amount"] for d in renewals] == ["100.00"]
            assert sum(1 for e in mine if e.name == "SubscriptionRenewed") == 1
            subscription = uow.subscriptions.get(account)
            assert subscription.current_period.start == datetime(2026, 2, 1, tzinfo=UTC)
            plan_grants = [g.grant_id for g in uow.ledgers.get(account).grants()]
            assert plan_grants.count(f"plan:{account}:1") == 1


@pytest.mark.slow
def test_four_workers_delivering_the_same_webhooks_fulfil_once(
    pg_dsn: str, store: PostgresStore, workers: ProcessPoolExecutor
) -> None:
    billing, gateway = billing_on(store, DURING)
    billing.subscribe("acct-hook", "pro", timezone="UTC")
    gateway.script(Outcome.STAY_PENDING, Outcome.STAY_PENDING)
    top_up = billing.top_up("acct-hook", Money("500.00", "INR"), UPI, idempotency_key="t1")
    bundle = billing.checkout_bundle("acct-hook", "nexus", UPI, idempotency_key="b1")
    assert top_up.status is bundle.status is PaymentStatus.PENDING
    with store.unit_of_work() as uow:
        for payment in uow.payments.for_account("acct-hook"):
            assert payment.gateway_payment_id is not None
            gateway.move(payment.gateway_payment_id, PaymentStatus.SUCCEEDED)
    hooks = [(w.body, dict(w.headers)) for w in gateway.take_webhooks()]
    with store.unit_of_work() as uow:
        grants_before = len(uow.ledgers.get("acct-hook").grants())

    results = together(
        workers,
        [
            (_workers.deliver_webhooks, (pg_dsn, store.schema, hooks[n:] + hooks[:n], DURING), {})
            for n in range(WORKERS)
        ],
    )

    assert [r["errors"] for r in results] == [[]] * WORKERS
    final = {
        (payment_id, status, fulfilled)
        for r in results
        for payment_id, status, fulfilled in r["answers"]
    }
    assert (top_up.payment.payment_id, "succeeded", True) in final
    assert (bundle.payment.payment_id, "succeeded", True) in final
    names = outbox_names(store, "acct-hook")
    assert names["WalletCredited"] == 1
    assert names["FulfilmentDecided"] == 2
    with store.unit_of_work() as uow:
        assert uow.wallets.get("acct-hook").balance == Money("500.00", "INR")
        bundles = [
            g for g in uow.ledgers.get("acct-hook").grants() if g.grant_id.startswith("bundle:")
        ]
        assert len(uow.ledgers.get("acct-hook").grants()) == grants_before + 1
        assert [g.granted for g in bundles] == [300 * 60]


# --- the negative control ---------------------------------------------------------------------


@pytest.mark.slow
def test_the_audit_flags_a_naive_store_racing_on_one_account(
    pg_dsn: str, store: PostgresStore, workers: ProcessPoolExecutor
) -> None:
    billing, _ = billing_on(store, T0)
    billing.subscribe("acct-naive", "enterprise", timezone="UTC")

    results = together(
        workers,
        [
            (
                _workers.settle_calls,
                (pg_dsn, store.schema, ["acct-naive"], f"naive{n}", 250, DURING),
                {"naive": True},
            )
            for n in range(WORKERS)
        ],
    )

    assert [r["errors"] for r in results] == [[]] * WORKERS  # the naive store never notices
    audit = audit_ledgers(
        store.unit_of_work, ["acct-naive"], acknowledged=acknowledged_calls(results)
    )
    assert audit.records == WORKERS * 250  # every call is stored...
    assert not audit.ok  # ...but the ledger lost some of them
    assert audit.lost_seconds > 0
    assert any("consumed" in problem for problem in audit.problems)


def _settle_in(uow: Any, account_id: str, call_id: str) -> None:
    ledger = uow.ledgers.get(account_id)
    record = ledger.settle(call_id, timedelta(seconds=60), DURING)
    uow.usage.add(record, local_day=DURING.date())


def test_a_naive_read_modify_write_loses_the_first_commit_and_the_audit_says_so(
    pg_dsn: str, pg_schema: str
) -> None:
    with _workers.NaiveStore(pg_dsn, schema=pg_schema, max_size=2) as naive:
        billing, _ = billing_on(naive, T0)
        billing.subscribe("acct-1", "enterprise", timezone="UTC")
        with naive.unit_of_work() as first, naive.unit_of_work() as second:
            _settle_in(first, "acct-1", "call-1")  # both read the same ledger version
            _settle_in(second, "acct-1", "call-2")
            first.commit()
            second.commit()  # overwrites the first settlement
        audit = audit_ledgers(naive.unit_of_work, ["acct-1"])
    assert audit.records == 2
    assert audit.lost_seconds == 60
    assert not audit.ok


def test_the_same_interleaving_on_postgres_store_waits_for_the_lock_instead(
    pg_dsn: str, pg_schema: str
) -> None:
    impatient = f"{pg_dsn} options='-c lock_timeout=200'"
    with PostgresStore(impatient, schema=pg_schema, max_size=2) as store:
        billing, _ = billing_on(store, T0)
        billing.subscribe("acct-1", "enterprise", timezone="UTC")
        with store.unit_of_work() as first:
            _settle_in(first, "acct-1", "call-1")  # holds the ledger's row lock
            with store.unit_of_work() as second, pytest.raises(PersistenceError) as waited:
                _settle_in(second, "acct-1", "call-2")
            assert waited.value.retryable  # the runner would simply try again
            first.commit()
        with store.unit_of_work() as again:  # the retry reads the committed ledger
            _settle_in(again, "acct-1", "call-2")
            again.commit()
        audit = assert_ledgers_match_calls(
            store.unit_of_work, ["acct-1"], acknowledged={"acct-1": ["call-1", "call-2"]}
        )
    assert audit.records == 2
    assert audit.lost_seconds == 0
