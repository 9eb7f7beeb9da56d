"""Reading use cases read a snapshot: they neither wait for a writer nor hold one up."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from minutebill._unit_of_work import UnitOfWork
from minutebill.adapters.memory import MemoryStore
from minutebill.adapters.sqlite import SqliteStore
from minutebill.errors import MinutebillError, PersistenceError
from minutebill.testing.stateful import BillingRig
from tests.service.test_support import ACCOUNT, settle_minutes


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    opened = SqliteStore(tmp_path / "billing.db", busy_timeout=0.05)
    yield opened
    opened.close()


@pytest.fixture
def rig(store: SqliteStore) -> BillingRig:
    built = BillingRig.build(store.unit_of_work, max_attempts=2)
    built.billing.subscribe(ACCOUNT, "pro", timezone="Asia/Kolkata")
    settle_minutes(built, ACCOUNT, 3, 4)
    return built


@pytest.fixture
def other_writer(store: SqliteStore) -> Iterator[sqlite3.Connection]:
    """Another connection in the middle of a write: it holds the file's write lock."""
    conn = sqlite3.connect(store.path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    yield conn
    conn.execute("ROLLBACK")
    conn.close()


def test_the_billing_page_reads_while_another_process_writes(
    rig: BillingRig, other_writer: sqlite3.Connection
) -> None:
    billing = rig.billing
    overview = billing.overview(ACCOUNT)
    assert overview.used_minutes == 7
    assert len(billing.usage_history(ACCOUNT).records) == 2
    today = rig.clock.now().date()
    assert billing.usage_by_day(ACCOUNT, today, today + timedelta(days=1))
    assert billing.numbers(ACCOUNT) == []
    # The lock is real: a use case that writes waits for it, and gives up.
    with pytest.raises(PersistenceError, match="locked") as refused:
        billing.end_call(ACCOUNT, "late", timedelta(minutes=1))
    assert refused.value.retryable


def test_a_read_sees_the_last_commit_not_the_write_in_progress(
    rig: BillingRig, store: SqliteStore
) -> None:
    conn = sqlite3.connect(store.path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("DELETE FROM usage_records")  # not committed
    assert len(rig.billing.usage_history(ACCOUNT).records) == 2
    conn.execute("ROLLBACK")
    conn.close()


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_a_read_only_unit_of_work_cannot_commit(kind: str, store: SqliteStore) -> None:
    factory = MemoryStore().unit_of_work if kind == "memory" else store.unit_of_work
    uow: UnitOfWork
    with factory(read_only=True) as uow:
        assert uow.ledgers.find(ACCOUNT) is None
        with pytest.raises(MinutebillError, match="read-only"):
            uow.commit()


def test_a_factory_without_read_only_is_used_for_reads_as_it_is(tmp_path: Path) -> None:
    store = MemoryStore()
    opened: list[str] = []

    def plain_factory() -> UnitOfWork:  # what a host's own adapter may offer
        opened.append("uow")
        return store.unit_of_work()

    rig = BillingRig.build(plain_factory)
    rig.billing.subscribe(ACCOUNT, "pro")
    before = len(opened)
    assert rig.billing.usage_by_tag(ACCOUNT, date(2026, 1, 1), date(2026, 2, 1)) == {}
    assert len(opened) == before + 1
