"""A reader that follows the outbox by position never skips an event on PostgreSQL.

Positions come from a sequence when an event is inserted, so a transaction holding a smaller
position can commit after one holding a larger one. These tests hold such a transaction open
on a connection of their own and show that `Outbox.since` does not return the larger
position until the smaller one has committed (or rolled back), and that a reader whose
snapshot is older than a commit does not count on it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import psycopg

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


def test_a_quiet_store_is_read_to_its_last_commit_at_once(pg_store: PostgresStore) -> None:
    billing = BillingRig.build(pg_store.unit_of_work).billing
    billing.subscribe("acct-1", "pro")
    committed = positions(pg_store)
    assert committed  # subscribing recorded events, and the next read has every one
    billing.end_call("acct-1", "call-1", timedelta(minutes=2))
    assert positions(pg_store, committed[-1]) != []


def test_a_reader_following_concurrent_writers_reads_every_event_once_in_order(
    pg_dsn: str, pg_schema: str, pg_store: PostgresStore
) -> None:
    writers, events_each = 3, 40
    done = threading.Event()
    start = threading.Barrier(writers + 1)

    def write(n: int) -> None:
        with writer(pg_dsn, pg_schema) as conn:
            start.wait()
            for i in range(events_each):
                with conn.transaction():
                    insert_event(conn, f"W{n}-{i}")

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    seen: list[int] = []
    start.wait()
    while True:
        finished = done.is_set()
        seen.extend(positions(pg_store, seen[-1] if seen else 0))
        if finished:
            break
        if not any(thread.is_alive() for thread in threads):
            done.set()  # one more read after the last commit
    for thread in threads:
        thread.join()

    with writer(pg_dsn, pg_schema) as conn:
        stored = [int(str(r[0])) for r in conn.execute("SELECT position FROM minutebill_outbox")]
    assert seen == sorted(stored)  # every event once, in position order
    assert len(seen) == writers * events_each
