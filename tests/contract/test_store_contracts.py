"""minutebill's own stores pass the `UnitOfWorkContract` an adapter author would subclass."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from minutebill._unit_of_work import StoredResponse, UnitOfWork
from minutebill.adapters.memory import MemoryStore
from minutebill.adapters.sqlite import SqliteStore
from minutebill.testing.uow_contract import UnitOfWorkContract


class TestMemoryStore(UnitOfWorkContract):
    @pytest.fixture
    def uow_factory(self) -> Callable[[], UnitOfWork]:
        return MemoryStore().unit_of_work


class TestSqliteStore(UnitOfWorkContract):
    @pytest.fixture
    def uow_factory(self, tmp_path: Path) -> Callable[[], UnitOfWork]:
        return SqliteStore(tmp_path / "minutebill.db").unit_of_work


class TestSqliteStoreSynchronousNormal(UnitOfWorkContract):
    @pytest.fixture
    def uow_factory(self, tmp_path: Path) -> Callable[[], UnitOfWork]:
        return SqliteStore(tmp_path / "minutebill.db", synchronous="NORMAL").unit_of_work


class TestSqliteStorePrivate(UnitOfWorkContract):
    """``SqliteStore(":memory:")``: a private database, one for every thread of the store."""

    @pytest.fixture
    def uow_factory(self) -> Iterator[Callable[[], UnitOfWork]]:
        store = SqliteStore(":memory:")
        yield store.unit_of_work
        store.close()


@pytest.mark.parametrize("path", [":memory:", ""])
def test_a_private_sqlite_store_is_one_database_for_every_thread(path: str) -> None:
    store = SqliteStore(path)
    try:
        with store.unit_of_work() as uow:
            uow.idempotency.put("acct", "k", StoredResponse("f", {"answer": 42}))
            uow.commit()
        seen: list[object] = []

        def read() -> None:
            with store.unit_of_work(read_only=True) as uow:
                stored = uow.idempotency.get("acct", "k")
                seen.append(None if stored is None else stored.response["answer"])

        thread = threading.Thread(target=read)
        thread.start()
        thread.join()
        assert seen == [42]
        private = Path(store.path).parent
        assert private.exists()
    finally:
        store.close()
    assert not private.exists()  # nothing of it is left behind
