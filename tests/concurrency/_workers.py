"""Code the concurrency and crash tests run in other processes.

Everything here is module level so that a child process can import it: the tests start
their workers with the ``forkserver`` start method (see `context`), so no child inherits the
test process's SQLite connections or locks.

`NaiveSqliteStore` is a deliberately broken store: it reads without taking the write lock and
saves documents without checking their version — the read-then-write race every correct store
must prevent. The tests show the ledger checker catches it.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
import random
import sqlite3
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from minutebill.adapters import Transaction, WriteBatch
from minutebill.adapters.sqlite import SqliteStore, Synchronous, _SqliteTransaction
from minutebill.catalog import Catalog
from minutebill.domain.grants import GrantSource
from minutebill.service import Billing
from minutebill.testing.fakes import FakePaymentGateway, FixedClock

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "examples" / "catalog.toml"
PLAN = "enterprise"
PROMO_SECONDS = 200_000
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
"""When the accounts subscribe; workers settle calls in the hours after."""


class _NaiveTransaction(_SqliteTransaction):
    """Reads outside any transaction; writes documents unconditionally (lost updates)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        self._open = True  # no BEGIN: every read is its own autocommit snapshot, no lock

    def _write_documents(self, batch: WriteBatch) -> None:
        for w in batch.documents:
            self._conn.execute(
                "INSERT INTO documents (kind, account_id, key, version, due_micros, reference,"
                " state) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (kind, account_id, key)"
                " DO UPDATE SET version = excluded.version, due_micros = excluded.due_micros,"
                " reference = excluded.reference, state = excluded.state",
                (w.kind, w.account_id, w.key, w.version, w.due_micros, w.reference, w.state),
            )

    def write(self, batch: WriteBatch) -> None:
        self._conn.execute("BEGIN IMMEDIATE")  # the lock only now, after the reads
        super().write(batch)


class NaiveSqliteStore(SqliteStore):
    """A broken store for the checker to catch: read, then write without a version check."""

    def _begin(self, *, read_only: bool) -> Transaction:
        # Every unit of work on the thread's one connection, nested or not: no lock to wait on.
        return _NaiveTransaction(self._connect())


def context() -> multiprocessing.context.ForkServerContext:
    """The ``forkserver`` start method, with minutebill and this module imported once.

    Children fork from a clean server process (no SQLite connections or locks inherited from
    the test process) and start in milliseconds instead of re-importing everything.
    """
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(
        ["minutebill.service", "minutebill.adapters.sqlite", "tests.concurrency._workers"]
    )
    return ctx


def open_store(path: Path | str, *, naive: bool = False, synchronous: Synchronous = "FULL") -> Any:
    """A `SqliteStore` (or the naive one) on `path`."""
    cls = NaiveSqliteStore if naive else SqliteStore
    return cls(path, synchronous=synchronous)


def billing(store: SqliteStore, clock: FixedClock) -> Billing:
    """A `Billing` on `store` with the example catalog and a fake gateway."""
    gateway = FakePaymentGateway(secret=b"concurrency", clock=clock)
    return Billing(store.unit_of_work, gateway, Catalog.from_file(CATALOG), clock)


def seed_accounts(path: Path | str, account_ids: list[str]) -> None:
    """Subscribe each account to the Enterprise plan and give it promotional minutes."""
    store = open_store(path)
    try:
        service = billing(store, FixedClock(T0))
        for account_id in account_ids:
            service.subscribe(account_id, PLAN, timezone="Asia/Kolkata")
            with store.unit_of_work() as uow:
                ledger = uow.ledgers.get(account_id)
                ledger.grant("promo:launch", GrantSource.PROMOTIONAL, PROMO_SECONDS, T0)
                uow.commit()
    finally:
        store.close()


def durations(seed: str, count: int) -> list[timedelta]:
    """`count` call lengths of 1 to 300 seconds, the same for the same seed."""
    rng = random.Random(seed)
    return [timedelta(seconds=rng.randint(1, 300)) for _ in range(count)]


def call_ids(prefix: str, count: int) -> list[str]:
    """The call ids a worker with `prefix` settles."""
    return [f"{prefix}-{i}" for i in range(count)]


def settle_calls(
    path: str, account_id: str, prefix: str, count: int, naive: bool, barrier: Any
) -> None:
    """Worker: settle `count` calls (no hold: imported CDRs) on `account_id`, one by one.

    Waits on `barrier` after opening the store so that every worker starts together. Any
    exception ends the process with a non-zero exit code, which the test checks.
    """
    store = open_store(path, naive=naive)
    clock = FixedClock(T0 + timedelta(hours=1))
    service = billing(store, clock)
    barrier.wait()
    for call_id, duration in zip(call_ids(prefix, count), durations(prefix, count), strict=True):
        clock.advance(timedelta(milliseconds=100))
        service.end_call(account_id, call_id, duration, tags=("campaign:load",))
    store.close()


def crash_writer(path: str, account_id: str, prefix: str, limit: int, acks: Connection) -> None:
    """Worker: settle ``prefix-0``, ``prefix-1``, ... sending each id once `end_call` returned.

    Each acknowledgement is one small message on `acks` (a single atomic pipe write), sent
    only after the settlement committed: what the parent received was acknowledged.
    """
    store = open_store(path)
    clock = FixedClock(T0 + timedelta(hours=2))
    service = billing(store, clock)
    rng = random.Random(prefix)
    for i in range(limit):
        call_id = f"{prefix}-{i}"
        clock.advance(timedelta(milliseconds=100))
        service.end_call(account_id, call_id, timedelta(seconds=rng.randint(1, 300)))
        acks.send_bytes(call_id.encode())
