"""`Billing` on each store behaves exactly like `Billing` on the in-memory store, step by step.

MemoryStore against MemoryStore checks the machine itself (two identical services never
disagree, and the invariants hold); SqliteStore against MemoryStore checks the embedded store.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from minutebill._unit_of_work import UnitOfWork
from minutebill.adapters.memory import MemoryStore
from minutebill.adapters.sqlite import SqliteStore, _SqliteTransaction
from minutebill.testing.stateful import billing_machine

MACHINE_SETTINGS = settings(
    max_examples=20,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
SANITY_SETTINGS = settings(MACHINE_SETTINGS, max_examples=10)


@contextmanager
def memory_store() -> Iterator[Callable[[], UnitOfWork]]:
    yield MemoryStore().unit_of_work


@contextmanager
def sqlite_store() -> Iterator[Callable[[], UnitOfWork]]:
    with tempfile.TemporaryDirectory(prefix="minutebill-machine-") as folder:
        store = SqliteStore(Path(folder) / "billing.db")
        try:
            yield store.unit_of_work
        finally:
            store.close()


MemoryAgainstMemory = billing_machine(memory_store, name="MemoryAgainstMemory")
SqliteAgainstMemory = billing_machine(sqlite_store, name="SqliteAgainstMemory")

TestMemoryAgainstMemory = MemoryAgainstMemory.TestCase
TestMemoryAgainstMemory.settings = SANITY_SETTINGS

TestSqliteAgainstMemory = SqliteAgainstMemory.TestCase
TestSqliteAgainstMemory.settings = MACHINE_SETTINGS


class _OldestFirst(_SqliteTransaction):
    """A subtly wrong store: usage pages come oldest first."""

    def usage_page(
        self, account_id: str, before: tuple[int, str] | None, limit: int
    ) -> list[tuple[int, str, str]]:
        return sorted(super().usage_page(account_id, before, limit))


class _OldestFirstStore(SqliteStore):
    def _transaction(self, *, read_only: bool) -> _SqliteTransaction:
        return _OldestFirst(self._connect(), read_only=read_only)


@contextmanager
def oldest_first_store() -> Iterator[Callable[[], UnitOfWork]]:
    with tempfile.TemporaryDirectory(prefix="minutebill-broken-") as folder:
        store = _OldestFirstStore(Path(folder) / "billing.db")
        try:
            yield store.unit_of_work
        finally:
            store.close()


def test_the_machine_catches_a_store_that_pages_usage_oldest_first() -> None:
    machine = billing_machine(oldest_first_store, name="OldestFirstAgainstMemory")
    with pytest.raises(AssertionError, match=r"answered|stores differ"):
        run_state_machine_as_test(
            machine,
            settings=settings(
                max_examples=100,
                stateful_step_count=25,
                deadline=None,
                derandomize=True,
                database=None,
                phases=[Phase.generate],
                suppress_health_check=[HealthCheck.too_slow],
            ),
        )
