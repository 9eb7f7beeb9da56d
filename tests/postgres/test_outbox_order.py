"""A reader that follows the outbox by position never skips an event on PostgreSQL.

Positions come from a sequence when an event is inserted, so a transaction holding a smaller
position can commit after one holding a larger one. These tests hold such a transaction open
on a connection of their own and show that `Outbox.since` does not return the larger
position until the smaller one has committed (or rolled back), and that a reader whose
snapshot is older than a commit does not count on it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterator
from contextlib import ExitStack, contextmanager
from datetime import timedelta

import psycopg

from minutebill.adapters._outbox_horizon import OutboxHorizon
from minutebill.adapters.postgres import PostgresStore
from minutebill.testing.stateful import BillingRig


@contextmanager
def writer(dsn: str, schema: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """A connection of its own, in the test's schema, whose transactions the test controls."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{schema}"')
        yield conn


def insert_event(conn: psycopg.Connection[tuple[object, ...]], name: str) -> int:
    """Insert one outbox row in the connection's open transaction; its position."""
    row = conn.execute(
        "INSERT INTO minutebill_outbox (account_id, name, occurred_micros, payload)"
        " VALUES ('acct-1', %s, 0, '{}') RETURNING position",
        (name,),
    ).fetchone()
    assert row is not None
    return int(str(row[0]))


def positions(store: PostgresStore, after: int = 0) -> list[int]:
    """What a new reader gets from the outbox after `after`."""
    with store.unit_of_work(read_only=True) as uow:
        return [entry.position for entry in uow.outbox.since(after)]


@contextmanager
def overtaken(
    dsn: str, schema: str
) -> Iterator[tuple[psycopg.Connection[tuple[object, ...]], int, int]]:
    """A transaction holding a position, open, and a larger position committed meanwhile.

    Yields the open transaction's connection (to commit or roll back) and both positions.
    """
    with writer(dsn, schema) as early, writer(dsn, schema) as late:
        early.execute("BEGIN")
        first = insert_event(early, "Early")
        late.execute("BEGIN")
        second = insert_event(late, "Late")
        late.execute("COMMIT")
        assert first < second
        yield early, first, second


def test_a_position_committed_after_a_larger_one_is_not_skipped(
    pg_dsn: str, pg_schema: str, pg_store: PostgresStore
) -> None:
    with overtaken(pg_dsn, pg_schema) as (early, first, second):
        # The larger position is committed, but the smaller one may still be: a reader that
        # took the larger one now would move its cursor past the smaller one for good.
        assert positions(pg_store) == []

        early.execute("COMMIT")
        assert positions(pg_store) == [first, second]


def test_a_position_rolled_back_settles_the_ones_after_it(
    pg_dsn: str, pg_schema: str, pg_store: PostgresStore
) -> None:
    with overtaken(pg_dsn, pg_schema) as (early, _, second):
        assert positions(pg_store) == []

        early.execute("ROLLBACK")
        assert positions(pg_store) == [second]


def test_a_reader_does_not_count_on_commits_its_snapshot_cannot_see(
    pg_dsn: str, pg_schema: str, pg_store: PostgresStore
) -> None:
    with (
        overtaken(pg_dsn, pg_schema) as (early, first, second),
        pg_store.unit_of_work(read_only=True) as old,
    ):
        assert old.ledgers.find("acct-1") is None  # its snapshot is taken here
        early.execute("COMMIT")
        assert positions(pg_store) == [first, second]  # a newer reader has both

        # The older snapshot cannot see the first position: the second is not for it.
        assert old.outbox.since(0) == []


class _ProbeBeforeSettling(OutboxHorizon):
    """A horizon that runs `meanwhile` once, just before a reader settles its snapshot."""

    def __init__(self, meanwhile: Callable[[], None]) -> None:
        super().__init__()
        self._meanwhile: Callable[[], None] | None = meanwhile

    def settle(self, settled: int, ended: Collection[int]) -> int:
        meanwhile, self._meanwhile = self._meanwhile, None
        if meanwhile is not None:
            meanwhile()
        return super().settle(settled, ended)


def test_a_probe_another_reader_takes_meanwhile_is_not_counted(
    pg_dsn: str, pg_schema: str, pg_store: PostgresStore
) -> None:
    """Two readers of one store: the second probes while the first is settling.

    The first reader's snapshot was never asked about the transaction the second one's probe
    saw running, so that probe must not settle anything for it.
    """
    with ExitStack() as stack:
        held: list[tuple[psycopg.Connection[tuple[object, ...]], int, int]] = []

        def meanwhile() -> None:
            held.append(stack.enter_context(overtaken(pg_dsn, pg_schema)))
            assert positions(pg_store) == []  # the second reader sees the first position held

        pg_store._outbox = _ProbeBeforeSettling(meanwhile)  # the race, on cue
        assert positions(pg_store) == []  # not [second]: the cursor would pass the first
        early, first, second = held[0]
        early.execute("COMMIT")
        assert positions(pg_store) == [first, second]


def test_a_quiet_store_is_read_to_its_last_commit_at_once(pg_store: PostgresStore) -> None:
    billing = BillingRig.build(pg_store.unit_of_work).billing
    billing.subscribe("acct-1", "pro")
    committed = positions(pg_store)
    assert committed  # subscribing recorded events, and the next read has every one
    billing.end_call("acct-1", "call-1", timedelta(minutes=2))
    assert positions(pg_store, committed[-1]) != []


def test_readers_following_concurrent_writers_read_every_event_once_in_order(
    pg_dsn: str, pg_schema: str, pg_store: PostgresStore
) -> None:
    """Two reader threads share the store (and its outbox horizon) while three threads write.

    A reader that skipped a position would still reach the last one, without it.
    """
    writers, readers, events_each = 3, 2, 40
    start = threading.Barrier(writers + readers)
    seen: list[list[int]] = [[] for _ in range(readers)]

    def write(n: int) -> None:
        with writer(pg_dsn, pg_schema) as conn:
            start.wait()
            for i in range(events_each):
                with conn.transaction():
                    insert_event(conn, f"W{n}-{i}")

    def follow(got: list[int]) -> None:
        start.wait()
        last = writers * events_each  # the sequence starts at 1 in a fresh schema
        for _ in range(100_000):  # the horizon trails each probe by about one commit
            got.extend(positions(pg_store, got[-1] if got else 0))
            if got and got[-1] >= last:
                return

    writing = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    following = [threading.Thread(target=follow, args=(got,)) for got in seen]
    for thread in [*writing, *following]:
        thread.start()
    for thread in [*writing, *following]:
        thread.join()

    with writer(pg_dsn, pg_schema) as conn:
        stored = [int(str(r[0])) for r in conn.execute("SELECT position FROM minutebill_outbox")]
    assert len(stored) == writers * events_each
    for got in seen:
        assert got == sorted(stored)  # every event once, in position order
