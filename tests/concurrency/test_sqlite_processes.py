"""Several processes settling calls in one SQLite file lose nothing and count nothing twice.

Each worker process opens its own `SqliteStore` and `Billing` on the same file and settles its
calls one `end_call` at a time; all start together behind a barrier. Afterwards the ledger
checker compares each ledger with the sum of its usage records. The same checker, run after
the same race on a deliberately naive store (reads without the write lock, unconditional
saves), must report lost updates — otherwise these tests could not fail.

``MINUTEBILL_CONCURRENCY_CALLS`` lowers the calls per process (default 2,500: 4 x 2,500).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from minutebill.adapters.memory import MemoryStore
from minutebill.catalog import Catalog
from minutebill.service import Billing
from minutebill.testing.checkers import assert_ledgers_match_calls, audit_ledgers
from minutebill.testing.fakes import FakePaymentGateway, FixedClock
from tests.concurrency._workers import (
    CATALOG,
    PLAN,
    T0,
    billing,
    call_ids,
    context,
    durations,
    open_store,
    seed_accounts,
    settle_calls,
)

PROCESSES = 4
CALLS = int(os.environ.get("MINUTEBILL_CONCURRENCY_CALLS", "2500"))
ACCOUNT = "acct-shared"


def _run_workers(path: Path, jobs: list[tuple[str, str]], count: int, *, naive: bool) -> None:
    """Run one `settle_calls` process per ``(account_id, prefix)``, all started together."""
    ctx = context()
    barrier = ctx.Barrier(len(jobs))
    workers = [
        ctx.Process(
            target=settle_calls,
            args=(str(path), account_id, prefix, count, naive, barrier),
            name=f"settle-{prefix}",
        )
        for account_id, prefix in jobs
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert [w.exitcode for w in workers] == [0] * len(workers)


def _expected_billable(prefixes: list[str], count: int) -> int:
    rating = Catalog.from_file(CATALOG).plan(PLAN).features.rating
    return sum(rating.billable_seconds(d) for p in prefixes for d in durations(p, count))


@pytest.mark.slow
def test_four_processes_on_one_account_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "calls.db"
    seed_accounts(path, [ACCOUNT])
    prefixes = [f"p{i}" for i in range(PROCESSES)]

    _run_workers(path, [(ACCOUNT, p) for p in prefixes], CALLS, naive=False)

    store = open_store(path)
    acknowledged = [c for p in prefixes for c in call_ids(p, CALLS)]
    audit = assert_ledgers_match_calls(
        store.unit_of_work, [ACCOUNT], acknowledged={ACCOUNT: acknowledged}
    )
    assert audit.records == PROCESSES * CALLS
    (account,) = audit.accounts
    billed = account.ledger_consumed + account.ledger_overage
    assert billed == _expected_billable(prefixes, CALLS)
    by_tag = billing(store, FixedClock(T0)).usage_by_tag(
        ACCOUNT, T0.date(), T0.date() + timedelta(days=1)
    )
    assert by_tag["campaign:load"].calls == PROCESSES * CALLS
    assert by_tag["campaign:load"].billable_seconds == billed
    store.close()


@pytest.mark.slow
def test_four_processes_on_their_own_accounts_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "calls.db"
    accounts = [f"acct-{i}" for i in range(PROCESSES)]
    seed_accounts(path, accounts)
    count = max(1, CALLS // 5)

    _run_workers(path, [(a, f"{a}-call") for a in accounts], count, naive=False)

    store = open_store(path)
    audit = assert_ledgers_match_calls(
        store.unit_of_work,
        accounts,
        acknowledged={a: call_ids(f"{a}-call", count) for a in accounts},
    )
    assert [a.records for a in audit.accounts] == [count] * PROCESSES
    for account in audit.accounts:
        billed = account.ledger_consumed + account.ledger_overage
        assert billed == _expected_billable([f"{account.account_id}-call"], count)
    store.close()


def test_the_checker_flags_an_update_lost_between_two_units_of_work(tmp_path: Path) -> None:
    """Two interleaved naive units of work, in one process: the second save wins."""
    path = tmp_path / "naive.db"
    seed_accounts(path, [ACCOUNT])
    store = open_store(path, naive=True)
    first, second = store.unit_of_work(), store.unit_of_work()
    with first, second:
        at = T0 + timedelta(hours=1)
        for uow, call_id in ((first, "call-a"), (second, "call-b")):
            ledger = uow.ledgers.get(ACCOUNT)  # both read the same version
            record = ledger.settle(call_id, timedelta(minutes=3), at)
            uow.usage.add(record, local_day=at.date())
        first.commit()
        second.commit()  # overwrites the ledger that first saved

    audit = audit_ledgers(store.unit_of_work, [ACCOUNT], acknowledged={ACCOUNT: ["call-a"]})
    assert not audit.ok
    assert audit.lost_seconds == 180
    assert any("ledger consumed" in p for p in audit.problems)
    store.close()


@pytest.mark.slow
def test_the_checker_flags_lost_updates_of_a_naive_store_across_processes(
    tmp_path: Path,
) -> None:
    path = tmp_path / "naive.db"
    seed_accounts(path, [ACCOUNT])
    prefixes = [f"n{i}" for i in range(PROCESSES)]
    count = max(1, min(CALLS, 150))

    _run_workers(path, [(ACCOUNT, p) for p in prefixes], count, naive=True)

    store = open_store(path)
    audit = audit_ledgers(store.unit_of_work, [ACCOUNT])
    # Every call was stored (the usage rows are inserts), but ledger saves overwrote each
    # other: the ledger accounts for fewer seconds than the calls debited.
    assert audit.records == PROCESSES * count
    assert not audit.ok
    assert audit.lost_seconds > 0
    store.close()


def test_the_checker_reads_any_store_and_flags_an_acknowledged_call_that_is_missing() -> None:
    store = MemoryStore()
    clock = FixedClock(T0)
    service = Billing(
        store.unit_of_work,
        FakePaymentGateway(secret=b"checker", clock=clock),
        Catalog.from_file(CATALOG),
        clock,
    )
    service.subscribe(ACCOUNT, PLAN)
    service.end_call(ACCOUNT, "call-1", timedelta(seconds=61))

    assert assert_ledgers_match_calls(store.unit_of_work, [ACCOUNT]).records == 1
    audit = audit_ledgers(
        store.unit_of_work, [ACCOUNT, "acct-unknown"], acknowledged={ACCOUNT: ["call-2"]}
    )
    assert audit.problems == (
        f"{ACCOUNT}: 1 acknowledged calls missing, e.g. ['call-2']",
        "acct-unknown: no ledger",
    )
    with pytest.raises(AssertionError, match="call-2"):
        assert_ledgers_match_calls(
            store.unit_of_work, [ACCOUNT], acknowledged={ACCOUNT: ["call-2"]}
        )
