"""A file written by an older schema version is upgraded in place, and nothing in it changes."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from attrs import frozen

from minutebill.adapters import sqlite as sqlite_adapter
from minutebill.adapters.sqlite import SqliteStore, migrations
from minutebill.domain.grants import GrantSource
from minutebill.domain.ledger import MinuteLedger
from minutebill.errors import IdempotencyConflict

T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
ACCOUNT = "acct-upgrade"


def _settle(store: SqliteStore, call_ids: range) -> None:
    for n in call_ids:
        with store.unit_of_work() as uow:
            at = T0 + timedelta(minutes=n)
            record = uow.ledgers.get(ACCOUNT).settle(
                f"call-{n}", timedelta(seconds=30 + n), at, tags=("campaign",)
            )
            uow.usage.add(record, local_day=at.date())
            uow.commit()


@frozen
class Stored:
    """What a reader sees of the account."""

    ledger: object
    calls: list[str]
    per_tag: object
    outbox: list[tuple[int, str, object]]

    @property
    def positions(self) -> list[int]:
        return [position for position, _, _ in self.outbox]


def _what_is_stored(store: SqliteStore) -> Stored:
    with store.unit_of_work() as uow:
        return Stored(
            uow.ledgers.get(ACCOUNT).to_state(),
            [r.call_id for r in uow.usage.page(ACCOUNT, limit=100).records],
            uow.usage.by_tag(ACCOUNT, date(2026, 1, 1), date(2026, 1, 2)),
            [(e.position, e.name, e.payload) for e in uow.outbox.since(0)],
        )


def test_a_version_1_file_is_upgraded_and_keeps_every_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "old.db"
    with monkeypatch.context() as patched:  # a store that knows only the first version
        patched.setattr(sqlite_adapter, "migrations", lambda: migrations()[:1])
        old = SqliteStore(path)
        with old.unit_of_work() as uow:
            ledger = MinuteLedger(ACCOUNT)
            ledger.grant("plan:0", GrantSource.PLAN, 600 * 60, T0)
            uow.ledgers.add(ledger)
            uow.commit()
        _settle(old, range(5))
        before = _what_is_stored(old)
        old.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (1,)

    store = SqliteStore(path)  # opening migrates
    newest = migrations()[-1][0]
    assert newest > 1
    assert store.migrate() == newest  # and again is a no-op
    assert _what_is_stored(store) == before

    _settle(store, range(5, 7))  # the upgraded file goes on: positions keep growing
    after = _what_is_stored(store)
    assert after.positions == sorted(set(after.positions))
    assert after.positions[: len(before.positions)] == before.positions
    assert len(after.calls) == 7
    with store.unit_of_work() as uow:
        record = uow.usage.get(ACCOUNT, "call-0")  # a call id is still stored once
        assert record is not None
        uow.usage.add(record, local_day=T0.date())
        with pytest.raises(IdempotencyConflict):
            uow.commit()
    store.close()
