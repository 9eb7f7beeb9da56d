"""A unit of work opened while another of the same thread is open is independent of it.

It sees what is committed, not what the open one has yet to commit, and each commits all or
nothing. On SQLite one writer at a time holds the database, so a second unit that may commit
inside one that may is refused at once, rather than waiting for a lock its own thread holds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from minutebill._unit_of_work import UnitOfWork
from minutebill.adapters.memory import MemoryStore
from minutebill.adapters.sqlite import SqliteStore
from minutebill.domain.money import Money
from minutebill.domain.wallet import Wallet
from minutebill.errors import PersistenceError

T0 = datetime(2026, 1, 1, tzinfo=UTC)
Factory = Callable[..., UnitOfWork]


@pytest.fixture(params=["memory", "sqlite"])
def uow_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Factory]:
    """A store holding wallet ``a`` with ₹100.00 at version 1."""
    store: MemoryStore | SqliteStore
    store = MemoryStore() if request.param == "memory" else SqliteStore(tmp_path / "b.db")
    with store.unit_of_work() as uow:
        wallet = Wallet("a", "INR")
        wallet.credit(Money("100.00", "INR"), "seed", T0)
        uow.wallets.add(wallet)
        uow.commit()
    yield store.unit_of_work
    if isinstance(store, SqliteStore):
        store.close()


def balance(uow_factory: Factory) -> tuple[Money, int]:
    with uow_factory(read_only=True) as uow:
        wallet: Wallet = uow.wallets.get("a")
        return wallet.balance, wallet.version


def test_a_nested_reader_sees_what_is_committed_and_the_outer_unit_commits_whole(
    uow_factory: Factory,
) -> None:
    with uow_factory() as outer:
        outer.wallets.get("a").debit(Money("30.00", "INR"), "k1", T0)
        with uow_factory(read_only=True) as inner:
            assert inner.wallets.get("a").balance == Money("100.00", "INR")
        outer.commit()
    assert balance(uow_factory) == (Money("70.00", "INR"), 2)


def test_a_unit_that_commits_may_open_inside_a_reader(uow_factory: Factory) -> None:
    with uow_factory(read_only=True) as outer:
        assert outer.wallets.get("a").balance == Money("100.00", "INR")
        with uow_factory() as inner:
            inner.wallets.get("a").debit(Money("30.00", "INR"), "k1", T0)
            inner.commit()
        with uow_factory(read_only=True) as later:
            assert later.wallets.get("a").balance == Money("70.00", "INR")
    assert balance(uow_factory) == (Money("70.00", "INR"), 2)


def read_and_fail(uow_factory: Factory) -> None:
    with uow_factory(read_only=True) as uow:
        uow.wallets.get("a")
        raise RuntimeError("the inner work failed")


def test_a_nested_unit_that_fails_leaves_the_outer_one_whole(uow_factory: Factory) -> None:
    with uow_factory() as outer:
        outer.wallets.get("a").debit(Money("30.00", "INR"), "k1", T0)
        with pytest.raises(RuntimeError, match="inner"):
            read_and_fail(uow_factory)
        outer.commit()
    assert balance(uow_factory) == (Money("70.00", "INR"), 2)


def test_sqlite_refuses_a_second_unit_that_may_commit_in_one_thread(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "b.db")
    try:
        with store.unit_of_work() as outer:
            outer.wallets.add(Wallet("a", "INR"))
            with pytest.raises(PersistenceError, match="read_only") as refused:
                store.unit_of_work().__enter__()
            assert not refused.value.retryable  # it could never succeed in this thread
            with store.unit_of_work(read_only=True) as reader:  # a reader still may
                assert reader.wallets.find("a") is None
            outer.commit()
        with store.unit_of_work() as after:  # the thread's units are free again
            assert after.wallets.get("a").version == 1
    finally:
        store.close()
