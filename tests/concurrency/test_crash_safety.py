"""A writer killed with SIGKILL at random points loses no acknowledged settlement.

A writer process settles calls in a loop on a SQLite file (``synchronous=FULL``, the default)
and sends each call id down a pipe after `end_call` returned — that message is the
acknowledgement a host would pass on. The test reads a seeded random number of them, kills the
writer with SIGKILL wherever it then is (between calls, inside a unit of work, in the middle
of a commit), reopens the file and checks: the database is intact, every ledger invariant
holds (`assert_ledgers_match_calls`), every acknowledged call is stored, and at most the one
call in flight beyond them is (committed, not yet acknowledged). Twenty rounds, one file.

SIGKILL ends the process, not the machine: the operating system still writes what the process
handed it, so this tests SQLite's atomic commit and the recovery of its write-ahead log, not
``fsync``. Surviving power loss is what ``synchronous=FULL`` adds on top.
"""

from __future__ import annotations

import random
import signal
import sqlite3
from pathlib import Path

import pytest

from minutebill.testing.checkers import assert_ledgers_match_calls
from tests.concurrency._workers import context, crash_writer, open_store, seed_accounts

ROUNDS = 20
SEED = 20260302
ACCOUNT = "acct-crash"
MAX_ACKS = 150
LIMIT = 1_000_000  # far more than are acknowledged before the kill


def _kill_after(path: Path, prefix: str, acks: int) -> list[str]:
    """Start a writer, take `acks` acknowledgements, SIGKILL it; return every one received."""
    ctx = context()
    receiver, sender = ctx.Pipe(duplex=False)
    writer = ctx.Process(target=crash_writer, args=(str(path), ACCOUNT, prefix, LIMIT, sender))
    writer.start()
    sender.close()  # the writer holds the only sending end: its death ends the stream
    received = [receiver.recv_bytes().decode() for _ in range(acks)]
    writer.kill()
    writer.join()
    assert writer.exitcode == -signal.SIGKILL
    while True:  # acknowledged before the signal landed
        try:
            received.append(receiver.recv_bytes().decode())
        except EOFError:
            break
    receiver.close()
    return received


def _integrity(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        (result,) = conn.execute("PRAGMA integrity_check").fetchone()
    finally:
        conn.close()
    return str(result)


@pytest.mark.slow
def test_a_writer_killed_at_random_points_loses_no_acknowledged_call(tmp_path: Path) -> None:
    path = tmp_path / "crash.db"
    seed_accounts(path, [ACCOUNT])
    rng = random.Random(SEED)
    acknowledged: list[str] = []
    stored = 0
    in_flight_commits = 0

    for round_number in range(ROUNDS):
        prefix = f"r{round_number}"
        acked = _kill_after(path, prefix, rng.randrange(MAX_ACKS))
        assert acked == [f"{prefix}-{i}" for i in range(len(acked))]
        acknowledged.extend(acked)

        assert _integrity(path) == "ok"
        store = open_store(path)
        audit = assert_ledgers_match_calls(
            store.unit_of_work, [ACCOUNT], acknowledged={ACCOUNT: acknowledged}
        )
        # The writer settles one call at a time: besides the acknowledged ones, at most the
        # call in flight when the signal landed was committed.
        new = audit.records - stored
        assert new in {len(acked), len(acked) + 1}
        with store.unit_of_work() as uow:
            in_flight = uow.usage.get(ACCOUNT, f"{prefix}-{len(acked)}")
            assert uow.usage.get(ACCOUNT, f"{prefix}-{len(acked) + 1}") is None
        assert (in_flight is not None) == (new == len(acked) + 1)
        in_flight_commits += in_flight is not None
        stored = audit.records
        store.close()

    assert stored == len(acknowledged) + in_flight_commits
    assert len(acknowledged) > 0
