"""A finished unit of work is freed at once, with everything it tracked (no cycle left)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from minutebill._unit_of_work import UnitOfWork
from minutebill.adapters.memory import MemoryStore
from minutebill.adapters.sqlite import SqliteStore
from minutebill.domain.grants import GrantSource
from minutebill.domain.ledger import MinuteLedger

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(params=["memory", "sqlite"])
def uow_factory(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[], UnitOfWork]]:
    if request.param == "memory":
        yield MemoryStore().unit_of_work
        return
    store = SqliteStore(tmp_path / "billing.db")
    yield store.unit_of_work
    store.close()


@pytest.fixture
def no_cycle_collection() -> Iterator[None]:
    gc.collect()
    gc.disable()
    yield
    gc.enable()


@pytest.mark.usefixtures("no_cycle_collection")
@pytest.mark.parametrize("commit", [True, False])
def test_a_finished_unit_of_work_and_its_aggregates_are_freed_by_reference_counting(
    uow_factory: Callable[[], UnitOfWork], commit: bool
) -> None:
    with uow_factory() as uow:
        ledger = MinuteLedger("acct-1")
        ledger.grant("plan:0", GrantSource.PLAN, 600, T0)
        uow.ledgers.add(ledger)
        uow.commit()
    with uow_factory() as uow:
        loaded = uow.ledgers.get("acct-1")
        loaded.settle("c1", timedelta(seconds=30), T0)
        uow.usage.page("acct-1")
        uow.outbox.since(0)
        uow.idempotency.get("acct-1", "k")
        if commit:
            uow.commit()
    gone = weakref.ref(uow), weakref.ref(loaded)
    del uow, loaded
    assert [ref() for ref in gone] == [None, None]
