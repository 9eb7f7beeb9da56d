"""The PostgreSQL store against raw psycopg, measured in the same run on the same server.

1. ``end_call`` with one client: `Billing.end_call` on a `PostgresStore` (one account, one
   call per unit of work) against raw psycopg doing the least an equivalent settlement can
   do: ONE statement in autocommit mode, a conditional ``UPDATE`` of the account's balance
   (``WHERE remaining >= seconds``, bumping a version) and the ``INSERT`` of the call, joined
   in a data-modifying CTE. The ratio is minutebill's rate over the raw rate.
2. ``end_call`` with four client processes (``spawn``), started together at a barrier: all
   on ONE account (they take turns on its rows' locks), and each on its own account.
   The rate is all settlements over the time from the first start to the last finish.
3. Lost updates, counted for real: after the four-client runs the store is audited with
   `minutebill.testing.checkers` (each ledger must equal the sum of its calls) and each
   ledger's version must have grown by exactly the settlements acknowledged.
4. Round trips of one ``end_call`` (steady state), counted from the libpq protocol trace.
5. Where the single-client time goes: CPU per settlement of this process (client) and, when
   the benchmark started the server itself, of the server process serving it (its
   ``/proc/<pid>/schedstat``), for raw psycopg and minutebill, least of the runs. Wall time
   beyond client + server CPU is the round trips' waiting (and other load on the machine).

Run: ``python benchmarks/store_postgres.py [--dsn DSN]``; without a DSN a throwaway cluster
is started (``initdb``/``pg_ctl``, see ``tests/pg_cluster.py``). The tables live in a schema
of their own, dropped at the end. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import psycopg
from psycopg import pq

from minutebill.adapters.postgres import PostgresStore, migrate
from minutebill.errors import MinutebillError
from minutebill.service import Billing
from minutebill.testing.checkers import audit_ledgers
from minutebill.testing.fakes import FakePaymentGateway, FixedClock
from minutebill.testing.stateful import reference_catalog

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CALL = timedelta(seconds=30)  # billed 30 s on the Enterprise plan (60/6 rating)
CALLS = 1_000  # end_calls per timed single-client run
RAW_CALLS = 2_000
CLIENT_CALLS = 750  # end_calls per client process in one four-client run
CLIENTS = 4
REPEATS = 4  # best of: the run least disturbed by other processes
CLIENT_REPEATS = 2


def billing(store: PostgresStore) -> Billing:
    clock = FixedClock(T0)
    gateway = FakePaymentGateway(secret=b"benchmark", clock=clock)
    return Billing(store.unit_of_work, gateway, reference_catalog(), clock)


def open_store(dsn: str, schema: str) -> PostgresStore:
    return PostgresStore(dsn, schema=schema, min_size=1, max_size=1, auto_migrate=False)


# --- 1. one client against raw psycopg ------------------------------------------------------


RAW_SETTLE = (
    "WITH debit AS (UPDATE bench_raw_balance SET remaining = remaining - %(s)s,"
    " version = version + 1 WHERE account_id = %(a)s AND remaining >= %(s)s"
    " RETURNING account_id)"
    " INSERT INTO bench_raw_calls (account_id, call_id, seconds)"
    " SELECT account_id, %(c)s, %(s)s FROM debit"
)


class Run(NamedTuple):
    """One timed single-client run: settlements per second and CPU per settlement (µs)."""

    rate: float
    client_us: float
    server_us: float | None  # None: the server is not a process of this machine


def local_backend(pid: int) -> int | None:
    """`pid` if it is a PostgreSQL process of this machine (Linux), else None."""
    try:
        return pid if Path(f"/proc/{pid}/comm").read_text().strip() == "postgres" else None
    except OSError:
        return None


def backend_cpu(pid: int | None) -> float | None:
    """Seconds of CPU the server process `pid` has used so far (Linux), or None."""
    if pid is None:
        return None
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        return None


class Stopwatch:
    """Wall time, this process's CPU and the server backend's CPU from creation to `stop`."""

    def __init__(self, backend: int | None) -> None:
        self.backend = backend
        self.server = backend_cpu(backend)
        self.cpu = time.process_time()
        self.start = time.perf_counter()

    def stop(self, count: int) -> Run:
        """The rate of `count` settlements since creation, and their CPU per settlement."""
        elapsed = time.perf_counter() - self.start
        client_us = (time.process_time() - self.cpu) / count * 1e6
        after = backend_cpu(self.backend)
        server = self.server
        server_us = None if server is None or after is None else (after - server) / count * 1e6
        return Run(count / elapsed, client_us, server_us)


def cheapest(runs: list[Run]) -> Run:
    """The best rate, and the least CPU per settlement (the runs least disturbed)."""
    servers = [r.server_us for r in runs if r.server_us is not None]
    return Run(
        max(r.rate for r in runs),
        min(r.client_us for r in runs),
        min(servers) if servers else None,
    )


def one_client(dsn: str, schema: str, *, local: bool) -> tuple[Run, Run]:
    """Raw and minutebill, one client each: best rate of `REPEATS`, and CPU per settlement.

    The two alternate (raw, minutebill, raw, ...) so that both meet the same machine load.
    The server's CPU is read from its backend process when the server runs on this machine
    (`local`: the throwaway cluster).
    """
    with (
        psycopg.connect(dsn, autocommit=True, options=f"-c search_path={schema}") as conn,
        open_store(dsn, schema) as store,
    ):
        conn.execute(
            "CREATE TABLE bench_raw_balance (account_id text PRIMARY KEY,"
            " remaining bigint NOT NULL, version integer NOT NULL)"
        )
        conn.execute(
            "CREATE TABLE bench_raw_calls (account_id text, call_id text, seconds bigint,"
            " PRIMARY KEY (account_id, call_id))"
        )
        conn.execute("INSERT INTO bench_raw_balance VALUES ('acct-raw', 10000000000, 0)")
        service = billing(store)
        service.subscribe("acct-single", "enterprise", timezone="Asia/Kolkata")
        service.end_call("acct-single", "warm-up", CALL)
        with store.unit_of_work() as uow:  # the pool's only connection
            uow.ledgers.get("acct-single")
            store_backend = uow.tx._conn.pgconn.backend_pid  # type: ignore[attr-defined]
        raw_backend = local_backend(conn.pgconn.backend_pid) if local else None
        store_backend = local_backend(store_backend) if local else None

        def raw(batch: int) -> Run:
            watch = Stopwatch(raw_backend)
            for n in range(RAW_CALLS):
                conn.execute(RAW_SETTLE, {"a": "acct-raw", "c": f"{batch}-{n}", "s": 30})
            return watch.stop(RAW_CALLS)

        def minutebill(batch: int) -> Run:
            watch = Stopwatch(store_backend)
            for n in range(CALLS):
                service.end_call("acct-single", f"{batch}-{n}", CALL)
            return watch.stop(CALLS)

        raw_runs, minutebill_runs = [], []
        for batch in range(REPEATS):
            raw_runs.append(raw(batch))
            minutebill_runs.append(minutebill(batch))
        return cheapest(raw_runs), cheapest(minutebill_runs)


# --- 2. four clients ------------------------------------------------------------------------

_barrier: list[Any] = []


def _install(barrier: Any) -> None:
    _barrier[:] = [barrier]


def client(
    dsn: str, schema: str, account_id: str, prefix: str, count: int
) -> tuple[float, float, int]:
    """One client process: settle `count` calls after the barrier; (start, end, acknowledged)."""
    with open_store(dsn, schema) as store:
        service = billing(store)
        service.end_call(account_id, f"{prefix}-warm-up", CALL)
        for barrier in _barrier:
            barrier.wait(120)
        done = 0
        start = time.perf_counter()  # CLOCK_MONOTONIC: comparable between processes
        for n in range(count):
            try:
                service.end_call(account_id, f"{prefix}-{n}", CALL)
            except MinutebillError as exc:
                print(f"  {prefix}-{n} failed: {exc}", file=sys.stderr)
            else:
                done += 1
        return start, time.perf_counter(), done + 1


def four_clients(
    pool: Any, dsn: str, schema: str, accounts: list[str], label: str
) -> tuple[float, int]:
    """Best rate of `CLIENTS` processes settling on `accounts`, and the lost updates."""
    with open_store(dsn, schema) as store:
        service = billing(store)
        for account in set(accounts):
            service.subscribe(account, "enterprise", timezone="Asia/Kolkata")
        with store.unit_of_work() as uow:
            before = {a: uow.ledgers.get(a).version for a in set(accounts)}
        acknowledged = dict.fromkeys(accounts, 0)
        best = 0.0
        for run in range(CLIENT_REPEATS):
            jobs = [
                pool.apply_async(client, (dsn, schema, account, f"{label}{run}-{n}", CLIENT_CALLS))
                for n, account in enumerate(accounts)
            ]
            results = [job.get(600) for job in jobs]
            elapsed = max(end for _, end, _ in results) - min(start for start, _, _ in results)
            best = max(best, sum(done - 1 for _, _, done in results) / elapsed)
            for account, (_, _, done) in zip(accounts, results, strict=True):
                acknowledged[account] += done
        return best, lost_updates(store, acknowledged, before)


def lost_updates(store: PostgresStore, acknowledged: dict[str, int], before: dict[str, int]) -> int:
    """Acknowledged settlements the ledgers do not show (by version, and by the audit)."""
    audit = audit_ledgers(store.unit_of_work, sorted(acknowledged))
    with store.unit_of_work() as uow:
        versions: dict[str, int] = {a: uow.ledgers.get(a).version for a in acknowledged}
    by_version = sum(acknowledged[a] - (versions[a] - before[a]) for a in acknowledged)
    by_seconds = audit.lost_seconds // int(CALL.total_seconds())
    by_records = sum(acknowledged.values()) - audit.records
    if not audit.ok:
        print("  audit:", *audit.problems[:5], sep="\n    ")
    return max(by_version, by_seconds, by_records, 0 if audit.ok else 1)


# --- 4. round trips -------------------------------------------------------------------------


def round_trips(dsn: str, schema: str) -> int:
    """Request/response turns of one steady-state `end_call`, from the libpq trace."""
    with open_store(dsn, schema) as store, tempfile.TemporaryFile("w+") as trace:
        service = billing(store)
        service.subscribe("acct-trace", "enterprise", timezone="Asia/Kolkata")
        service.end_call("acct-trace", "warm-up", CALL)
        with store.unit_of_work() as uow:  # the pool's only connection, statements prepared
            uow.ledgers.get("acct-trace")
            conn = uow.tx._conn  # type: ignore[attr-defined]
        conn.pgconn.trace(trace.fileno())
        conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
        service.end_call("acct-trace", "traced", CALL)
        conn.pgconn.untrace()
        trace.seek(0)
        turns, previous = 0, ""
        for line in trace:
            direction = line.split("\t", 1)[0]
            if direction == "B" and previous == "F":
                turns += 1
            previous = direction
        return turns


# --- main -----------------------------------------------------------------------------------


def cpu_text(run: Run) -> str:
    server = "?" if run.server_us is None else f"{run.server_us:,.0f}"
    return f"client {run.client_us:,.0f} µs, server {server} µs"


def rounded(value: float | None) -> int | None:
    return None if value is None else round(value)


@contextmanager
def server(dsn: str | None) -> Iterator[str]:
    if dsn:
        yield dsn
        return
    sys.path.insert(0, str(ROOT))
    from tests.pg_cluster import postgres_dsn

    with postgres_dsn() as started:
        yield started


def main(dsn: str | None = None) -> dict[str, Any]:
    """Run every measurement (on `dsn`, or a throwaway cluster) and print the JSON line."""
    schema = f"minutebill_bench_{os.getpid()}"
    with server(dsn) as url:
        migrate(url, schema=schema)
        try:
            raw_run, single_run = one_client(url, schema, local=dsn is None)
            raw, single = raw_run.rate, single_run.rate
            print(f"end_call, 1 client: raw psycopg {raw:,.0f}/s, minutebill {single:,.0f}/s")
            print(
                f"  CPU per settlement: raw {cpu_text(raw_run)}; minutebill {cpu_text(single_run)}"
            )
            context = multiprocessing.get_context("spawn")
            barrier = context.Barrier(CLIENTS)
            with context.Pool(CLIENTS, initializer=_install, initargs=(barrier,)) as pool:
                same, lost_same = four_clients(pool, url, schema, ["acct-shared"] * CLIENTS, "s")
                print(f"end_call, {CLIENTS} clients, one account: {same:,.0f}/s, lost {lost_same}")
                own = [f"acct-own-{n}" for n in range(CLIENTS)]
                separate, lost_separate = four_clients(pool, url, schema, own, "o")
                print(
                    f"end_call, {CLIENTS} clients, their own accounts: {separate:,.0f}/s,"
                    f" lost {lost_separate}"
                )
            trips = round_trips(url, schema)
            print(f"round trips of one end_call: {trips}")
        finally:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    figures = {
        "pg_1client_vs_raw": round(single / raw, 3),
        "pg_4clients_same_account_per_s": round(same),
        "pg_4clients_separate_vs_1client": round(separate / single, 3),
        "lost_updates": lost_same + lost_separate,
        "pg_raw_client_cpu_us": round(raw_run.client_us),
        "pg_raw_server_cpu_us": rounded(raw_run.server_us),
        "pg_client_cpu_us": round(single_run.client_us),
        "pg_server_cpu_us": rounded(single_run.server_us),
    }
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--dsn", help="a PostgreSQL DSN (default: start a throwaway cluster)")
    main(parser.parse_args().dsn)
