"""minutebill's own stores pass the `UnitOfWorkContract` an adapter author would subclass."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from minutebill._unit_of_work import UnitOfWork
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
