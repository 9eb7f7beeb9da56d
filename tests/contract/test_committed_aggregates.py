"""A store hands over the ledgers and wallets it committed, never a stale or shared one."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest

from minutebill.adapters import StoredDocument
from minutebill.adapters._documents import CommittedAggregates
from minutebill.adapters._kinds import default_kinds
from minutebill.adapters.memory import MemoryStore
from minutebill.adapters.sqlite import SqliteStore
from minutebill.domain.grants import GrantSource
from minutebill.domain.ledger import MinuteLedger
from minutebill.domain.money import Money
from minutebill.domain.state import State
from minutebill.domain.wallet import Wallet
from minutebill.errors import ConcurrencyConflict

T0 = datetime(2026, 1, 1, tzinfo=UTC)
Store = MemoryStore | SqliteStore


def counting_decodes(store: Store, kind: str = "ledgers") -> list[str]:
    """Make `store` note the account of every aggregate of `kind` it decodes from a document."""
    decoded: list[str] = []
    kinds = store._kinds
    aggregate_kind = getattr(kinds, kind)
    decode = aggregate_kind.from_state

    def from_state(state: State) -> Any:
        decoded.append(state["account_id"])
        return decode(state)

    changed = attrs.evolve(aggregate_kind, from_state=from_state)
    store._kinds = attrs.evolve(kinds, **{kind: changed})
    return decoded


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "memory":
        yield MemoryStore()
        return
    sqlite_store = SqliteStore(tmp_path / "billing.db")
    yield sqlite_store
    sqlite_store.close()


def add_ledger(store: Store, account_id: str = "acct-1") -> MinuteLedger:
    with store.unit_of_work() as uow:
        ledger = MinuteLedger(account_id)
        ledger.grant("plan:0", GrantSource.PLAN, 6000, T0)
        uow.ledgers.add(ledger)
        uow.commit()
    return ledger


def settle(store: Store, call_id: str, seconds: int = 60, account_id: str = "acct-1") -> None:
    with store.unit_of_work() as uow:
        uow.ledgers.get(account_id).settle(call_id, timedelta(seconds=seconds), T0)
        uow.commit()


def stored(store: Store, account_id: str = "acct-1") -> tuple[int, State]:
    with store.unit_of_work(read_only=True) as uow:
        ledger = uow.ledgers.get(account_id)
        return ledger.version, ledger.to_state()


def test_the_next_unit_of_work_gets_the_kept_ledger_instead_of_decoding(
    store: Store,
) -> None:
    decoded = counting_decodes(store)
    committed = add_ledger(store)
    settle(store, "c1")
    settle(store, "c2")

    with store.unit_of_work() as uow:
        loaded = uow.ledgers.get("acct-1")

    assert decoded == []
    assert loaded is not committed
    assert loaded.version == 3
    assert loaded.totals().consumed == 120


def test_a_wallet_is_handed_over_like_a_ledger(store: Store) -> None:
    decoded = counting_decodes(store, "wallets")
    with store.unit_of_work() as uow:
        wallet = Wallet("acct-1", "INR")
        wallet.credit(Money("500.00", "INR"), "top-up:1", T0)
        uow.wallets.add(wallet)
        uow.commit()
    for n in range(2):
        with store.unit_of_work() as uow:
            uow.wallets.get("acct-1").debit(Money("100.00", "INR"), f"renewal:{n}", T0)
            uow.commit()

    with store.unit_of_work(read_only=True) as uow:
        loaded: Wallet = uow.wallets.get("acct-1")

    assert decoded == []
    assert loaded is not wallet
    assert (loaded.version, loaded.balance) == (3, Money("300.00", "INR"))


def test_readers_copy_the_kept_ledger_and_leave_it_for_the_next_writer(store: Store) -> None:
    decoded = counting_decodes(store)
    add_ledger(store)
    settle(store, "c1")

    first, second = stored(store), stored(store)  # two read-only units of work
    settle(store, "c2")

    assert decoded == []
    assert first == second
    assert stored(store)[0] == 3


def test_a_ledger_changed_after_its_commit_does_not_change_what_is_handed_out(
    store: Store,
) -> None:
    committed = add_ledger(store)
    version, state = stored(store)

    committed.settle("after-the-commit", timedelta(seconds=60), T0)  # outside any unit
    with store.unit_of_work() as uow:
        uow.ledgers.get("acct-1").settle("rolled-back", timedelta(seconds=90), T0)
        # no commit: rolled back

    assert stored(store) == (version, state)


def test_a_failed_commit_keeps_nothing(store: Store) -> None:
    add_ledger(store)
    version, state = stored(store)
    with store.unit_of_work() as uow:
        ledger = uow.ledgers.get("acct-1")
        ledger.settle("c1", timedelta(seconds=60), T0)
        ledger.version -= 1  # as if another writer had committed in between
        with pytest.raises(ConcurrencyConflict):
            uow.commit()

    assert stored(store) == (version, state)


def test_a_commit_by_another_store_on_the_same_file_is_seen(tmp_path: Path) -> None:
    ours, theirs = SqliteStore(tmp_path / "b.db"), SqliteStore(tmp_path / "b.db")
    decoded = counting_decodes(ours)
    add_ledger(ours)
    settle(ours, "c1")
    settle(theirs, "theirs", seconds=600)  # another process, say

    with ours.unit_of_work() as uow:
        ledger = uow.ledgers.get("acct-1")

    assert decoded == ["acct-1"]
    assert (ledger.version, ledger.totals().consumed) == (3, 660)
    assert ledger.to_state() == stored(theirs)[1]
    ours.close()
    theirs.close()


def test_the_same_version_with_other_text_is_decoded(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "b.db")
    decoded = counting_decodes(store)
    add_ledger(store)
    with closing(sqlite3.connect(tmp_path / "b.db")) as conn, conn:
        # A hand edit that kept the version.
        conn.execute(
            "UPDATE documents SET state = replace(state, '6000', '7200') WHERE kind = 'ledger'"
        )

    with store.unit_of_work() as uow:
        ledger = uow.ledgers.get("acct-1")

    assert decoded == ["acct-1"]
    assert ledger.version == 1
    assert ledger.totals().granted == 7200
    store.close()


def test_only_the_most_recently_committed_identities_are_kept() -> None:
    kinds = default_kinds()
    committed = CommittedAggregates(size=2)
    ledgers = {}
    for n in range(3):
        ledger = ledgers[n] = MinuteLedger(f"acct-{n}")
        ledger.version = 1
        committed.keep(("ledger", f"acct-{n}", ""), kinds.ledgers, f"text-{n}", ledger)

    def doc(n: int, version: int = 1, text: str | None = None) -> StoredDocument:
        return StoredDocument(f"acct-{n}", "", version, text or f"text-{n}")

    found: list[Any] = [committed.copy_of(kinds.ledgers, doc(n)) for n in range(3)]

    assert len(committed) == 2
    assert found[0] is None
    assert [f.account_id for f in found[1:]] == ["acct-1", "acct-2"]
    assert all(f is not ledgers[n] for n, f in enumerate(found) if f is not None)
    assert committed.copy_of(kinds.ledgers, doc(2, version=2)) is None
    assert committed.copy_of(kinds.ledgers, doc(2, text="other")) is None
    assert committed.copy_of(kinds.wallets, doc(2)) is None  # another kind, same key


def test_a_kept_aggregate_is_taken_once_and_copied_only_while_kept() -> None:
    kinds = default_kinds()
    committed = CommittedAggregates()
    ledger = MinuteLedger("acct-1")
    ledger.version = 4
    committed.keep(("ledger", "acct-1", ""), kinds.ledgers, "text", ledger)
    doc = StoredDocument("acct-1", "", 4, "text")

    copy = committed.copy_of(kinds.ledgers, doc)
    taken = committed.take(kinds.ledgers, doc)

    assert copy is not None
    assert taken is not None
    assert copy is not taken
    assert taken is not ledger  # the kept one is a copy of what was committed
    assert taken.to_state() == ledger.to_state() == copy.to_state()
    assert committed.take(kinds.ledgers, doc) is None
    assert committed.copy_of(kinds.ledgers, doc) is None
    assert len(committed) == 0


def test_a_kept_aggregate_is_copied_under_the_lock_that_taking_it_needs() -> None:
    # So a reader never copies a ledger that a writer on another thread took and is changing.
    committed = CommittedAggregates()
    held_while_copying: list[bool] = []

    def copy(ledger: MinuteLedger) -> MinuteLedger:
        held_while_copying.append(committed._lock.locked())
        return ledger.copy()

    ledgers = attrs.evolve(default_kinds().ledgers, copy=copy)
    ledger = MinuteLedger("acct-1")
    committed.keep(("ledger", "acct-1", ""), ledgers, "text", ledger)  # copies, unlocked
    committed.copy_of(ledgers, StoredDocument("acct-1", "", 0, "text"))

    assert held_while_copying == [False, True]


def test_kinds_that_cannot_copy_are_not_kept() -> None:
    kinds = default_kinds()
    committed = CommittedAggregates()
    committed.keep(("subscription", "acct-1", ""), kinds.subscriptions, "{}", object())
    assert len(committed) == 0
