"""The SQLite store against raw `sqlite3`, measured in the same run on the same file system.

1. ``end_call`` throughput: `Billing.end_call` on a `SqliteStore` (``synchronous=FULL`` and
   ``NORMAL``) against raw `sqlite3` doing the least an equivalent settlement can do in one
   ``BEGIN IMMEDIATE`` transaction: read the balance row and its version, a conditional
   ``UPDATE ... WHERE version = ?``, one ``INSERT`` of the call, ``COMMIT`` — with the same
   pragmas (WAL, the same ``synchronous``, a busy timeout). One process, one account, one
   call per transaction; the ratio is minutebill's rate over the raw rate.
2. ``run_due`` over 10,000 phone numbers (1,000 accounts with 10 numbers each, every one due
   for renewal and paid from a funded wallet). Seeding writes the aggregates through a unit of
   work, outside the timing; only ``run_due`` is timed, on a fresh copy of the seeded file.
3. A usage summary (``usage_by_day`` and ``usage_by_tag`` over a month, together) and a
   50-row history page (``usage_history`` at a random cursor) over 1,000,000 stored calls of
   one account. Seeding BYPASSES THE SERVICE: the rows (records and their per-day, per-tag
   rollups) are written with ``executemany`` straight into the SQLite tables, as `end_call`
   would have left them; only the service calls are timed (median of many runs).

Run: ``python benchmarks/store.py [--dir DIR]``. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from minutebill.adapters.sqlite import SqliteStore, Synchronous
from minutebill.catalog import Catalog
from minutebill.domain.money import Money
from minutebill.domain.numbers import NumberSubscription
from minutebill.domain.wallet import Wallet
from minutebill.service import Billing
from minutebill.testing.fakes import FakePaymentGateway, FixedClock

ROOT = Path(__file__).resolve().parents[1]
CATALOG = Catalog.from_file(ROOT / "examples" / "catalog.toml")
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ZONE_OFFSET = timedelta(hours=5, minutes=30)  # Asia/Kolkata, the accounts' time zone
CALLS = 1000  # end_call calls per timed run
REPEATS = 5
DUE_REPEATS = 2  # each renews 10,000 numbers on a fresh copy of the seeded file
NUMBER_ACCOUNTS = 1_000
NUMBERS_PER_ACCOUNT = 10
USAGE_CALLS = 1_000_000
TAGS = ("campaign:diwali", "campaign:holi", "campaign:renewals", "agent:priya")
QUERY_RUNS = 300


def billing(store: SqliteStore, clock: FixedClock) -> Billing:
    gateway = FakePaymentGateway(secret=b"benchmark", clock=clock)
    return Billing(store.unit_of_work, gateway, CATALOG, clock)


def durations(count: int, seed: int) -> list[timedelta]:
    rng = random.Random(seed)
    return [timedelta(seconds=rng.randint(1, 600)) for _ in range(count)]


# --- 1. end_call against raw sqlite3 ---------------------------------------------------------


def minutebill_end_calls(path: Path, synchronous: Synchronous) -> Callable[[int], float]:
    """A timed run of `end_call`s on one account (a new batch of call ids each run)."""
    store = SqliteStore(path, synchronous=synchronous)
    clock = FixedClock(T0)
    service = billing(store, clock)
    service.subscribe("acct-bench", "enterprise", timezone="Asia/Kolkata")
    lengths = durations(CALLS, 1)

    tick = timedelta(milliseconds=1)

    def run(batch: int) -> float:
        clock.advance(timedelta(minutes=1))
        start = time.perf_counter()
        for i, duration in enumerate(lengths):
            clock.advance(tick)  # calls end one after another, as the raw side's times do
            service.end_call("acct-bench", f"b{batch}-{i}", duration)
        return time.perf_counter() - start

    return run


RAW_SCHEMA = """
CREATE TABLE balances (
    account_id TEXT PRIMARY KEY, version INTEGER NOT NULL,
    remaining INTEGER NOT NULL, consumed INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE calls (
    account_id TEXT NOT NULL, call_id TEXT NOT NULL, settled_micros INTEGER NOT NULL,
    billable_seconds INTEGER NOT NULL, PRIMARY KEY (account_id, call_id)
) WITHOUT ROWID;
CREATE INDEX calls_by_time ON calls (account_id, settled_micros, call_id);
"""


def raw_end_calls(path: Path, synchronous: Synchronous) -> Callable[[int], float]:
    """The raw baseline: read, conditional UPDATE, INSERT, one transaction per call."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 30000")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    conn.executescript(RAW_SCHEMA)
    conn.execute("INSERT INTO balances VALUES ('acct-bench', 0, 1200000, 0)")
    lengths = [-(-int(d.total_seconds()) // 6) * 6 for d in durations(CALLS, 1)]
    micros = [0]

    def run(batch: int) -> float:
        start = time.perf_counter()
        for i, seconds in enumerate(lengths):
            micros[0] += 1000
            conn.execute("BEGIN IMMEDIATE")
            version, remaining = conn.execute(
                "SELECT version, remaining FROM balances WHERE account_id = ?", ("acct-bench",)
            ).fetchone()
            taken = min(seconds, remaining)
            updated = conn.execute(
                "UPDATE balances SET version = ?, remaining = ?, consumed = consumed + ?"
                " WHERE account_id = ? AND version = ?",
                (version + 1, remaining - taken, taken, "acct-bench", version),
            )
            if updated.rowcount != 1:
                raise RuntimeError("lost the balance row")
            conn.execute(
                "INSERT INTO calls VALUES (?, ?, ?, ?)",
                ("acct-bench", f"b{batch}-{i}", micros[0], seconds),
            )
            conn.execute("COMMIT")
        return time.perf_counter() - start

    return run


def bench_end_call(workdir: Path, synchronous: Synchronous) -> tuple[float, float]:
    """Calls per second for minutebill and for raw sqlite3, best of interleaved repeats."""
    ours = minutebill_end_calls(workdir / f"minutebill-{synchronous}.db", synchronous)
    raw = raw_end_calls(workdir / f"raw-{synchronous}.db", synchronous)
    ours_best = raw_best = float("inf")
    for batch in range(REPEATS):
        ours_best = min(ours_best, ours(batch))
        raw_best = min(raw_best, raw(batch))
    return CALLS / ours_best, CALLS / raw_best


# --- 2. run_due over 10,000 numbers ----------------------------------------------------------


def seed_numbers(path: Path) -> None:
    """1,000 funded wallets with 10 Auto-Pay numbers each, activated at T0 (through a uow)."""
    store = SqliteStore(path, synchronous="NORMAL")
    offer = CATALOG.number_offer("in-local")
    for first in range(0, NUMBER_ACCOUNTS, 100):
        with store.unit_of_work() as uow:
            for a in range(first, first + 100):
                account_id = f"acct-{a:05d}"
                wallet = Wallet(account_id, "INR")
                wallet.credit(Money("100000.00", "INR"), f"seed:{account_id}", T0)
                uow.wallets.add(wallet)
                for n in range(NUMBERS_PER_ACCOUNT):
                    uow.numbers.add(
                        NumberSubscription.activate(
                            f"+91804{a:05d}{n:02d}",
                            account_id,
                            offer,
                            T0,
                            timezone="Asia/Kolkata",
                        )
                    )
            uow.commit()
    store.close()


def bench_run_due(workdir: Path) -> float:
    """Seconds for one `run_due` renewing 10,000 numbers, best of fresh copies."""
    seeded = workdir / "numbers-seed.db"
    seed_numbers(seeded)
    at = T0 + timedelta(days=32)
    best = float("inf")
    for repeat in range(DUE_REPEATS):
        path = workdir / f"numbers-{repeat}.db"
        shutil.copyfile(seeded, path)
        store = SqliteStore(path)
        service = billing(store, FixedClock(at))
        gc.collect()
        start = time.perf_counter()
        report = service.run_due(at)
        best = min(best, time.perf_counter() - start)
        renewed = report["numbers_renewed"]
        if renewed != NUMBER_ACCOUNTS * NUMBERS_PER_ACCOUNT or report.failures:
            raise RuntimeError(f"run_due renewed {renewed}: {report}")
        store.close()
    return best


# --- 3. usage summary and history page over 1,000,000 calls ----------------------------------

_RECORD = (
    '{{"account_id":"{a}","billable_seconds":{b},"call_id":"{c}","debits":[["{g}",{b}]],'
    '"duration_us":{d},"held_seconds":0,"overage_charge":null,"overage_seconds":0,'
    '"settled_at":"{s}","started_at":"{t}","tags":["{tag}"]}}'
)


def usage_rows(
    account_id: str,
    grant_id: str,
    start: datetime,
    count: int,
    daily: dict[tuple[str, str], list[int]],
) -> Iterator[tuple[Any, ...]]:
    """`count` usage_records rows as `end_call` writes them, tallying per-day totals."""
    rng = random.Random(3)
    step = timedelta(days=365) / count
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    for i in range(count):
        settled = start + step * i
        seconds = rng.randint(1, 600)
        billable = -(-seconds // 6) * 6
        tag = TAGS[i % len(TAGS)]
        day = (settled + ZONE_OFFSET).date().isoformat()
        for key in ((day, ""), (day, tag)):
            totals = daily.setdefault(key, [0, 0])
            totals[0] += 1
            totals[1] += billable
        settled_micros = (settled - epoch) // timedelta(microseconds=1)
        state = _RECORD.format(
            a=account_id,
            b=billable,
            c=f"call-{i:07d}",
            g=grant_id,
            d=seconds * 1_000_000,
            s=settled.isoformat(),
            t=(settled - timedelta(seconds=seconds)).isoformat(),
            tag=tag,
        )
        yield (account_id, f"call-{i:07d}", settled_micros, day, billable, 0, state)


def seed_usage(path: Path, account_id: str, start: datetime) -> None:
    """1,000,000 calls of one account over a year, written straight into the tables."""
    store = SqliteStore(path, synchronous="NORMAL")
    service = billing(store, FixedClock(start))
    service.subscribe(account_id, "enterprise", timezone="Asia/Kolkata")
    store.close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")
    daily: dict[tuple[str, str], list[int]] = {}
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO usage_records (account_id, call_id, settled_micros, local_day,"
        " billable_seconds, overage_seconds, state) VALUES (?, ?, ?, ?, ?, ?, ?)",
        usage_rows(account_id, f"plan:{account_id}:0", start, USAGE_CALLS, daily),
    )
    conn.executemany(
        "INSERT INTO usage_daily (account_id, day, tag, calls, billable_seconds,"
        " overage_seconds) VALUES (?, ?, ?, ?, ?, 0)",
        [(account_id, day, tag, calls, seconds) for (day, tag), (calls, seconds) in daily.items()],
    )
    conn.execute("COMMIT")
    conn.close()


def median_ms(runs: int, call: Callable[[], object]) -> float:
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        timings.append(time.perf_counter() - start)
    return statistics.median(timings) * 1000


def bench_usage(workdir: Path) -> tuple[float, float]:
    """Median milliseconds of a month's summary and of a 50-row page, 1,000,000 calls stored."""
    path = workdir / "usage.db"
    account_id = "acct-usage"
    start = T0 - timedelta(days=365)
    seed_usage(path, account_id, start)
    store = SqliteStore(path)
    service = billing(store, FixedClock(T0))
    month = date(2025, 11, 1), date(2025, 12, 1)

    def summary() -> None:
        days = service.usage_by_day(account_id, *month)
        tags = service.usage_by_tag(account_id, *month)
        if len(days) != 30 or len(tags) != len(TAGS):
            raise RuntimeError(f"summary saw {len(days)} days, {len(tags)} tags")

    rng = random.Random(5)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    cursors: list[str | None] = [None]
    for _ in range(QUERY_RUNS):
        at = start + timedelta(days=rng.uniform(1, 364))
        cursors.append(f"{(at - epoch) // timedelta(microseconds=1)}:~")
    pages = iter(cursors * 2)

    def page() -> None:
        found = service.usage_history(account_id, cursor=next(pages), limit=50)
        if len(found.records) != 50:
            raise RuntimeError(f"page of {len(found.records)} records")

    summary()
    page()
    summary_ms = median_ms(QUERY_RUNS, summary)
    page_ms = median_ms(QUERY_RUNS, page)
    store.close()
    return summary_ms, page_ms


# --- the run ---------------------------------------------------------------------------------


def sqlite_benchmarks(workdir: Path) -> dict[str, float]:
    """Every SQLite benchmark, printing as it goes; returns the figures for the JSON line."""
    results: dict[str, float] = {}
    for synchronous in ("FULL", "NORMAL"):
        ours, raw = bench_end_call(workdir, synchronous)
        ratio = ours / raw
        print(
            f"end_call, synchronous={synchronous}: minutebill {ours:,.0f}/s,"
            f" raw sqlite3 {raw:,.0f}/s, ratio {ratio:.3f}"
        )
        results[f"sqlite_{synchronous.lower()}_vs_raw"] = round(ratio, 3)
    due = bench_run_due(workdir)
    print(f"run_due renewing {NUMBER_ACCOUNTS * NUMBERS_PER_ACCOUNT:,} numbers: {due:.3f} s")
    results["run_due_10k_s"] = round(due, 3)
    summary_ms, page_ms = bench_usage(workdir)
    print(f"over {USAGE_CALLS:,} calls: month summary {summary_ms:.3f} ms, page {page_ms:.3f} ms")
    results["summary_1m_ms"] = round(summary_ms, 3)
    results["page_1m_ms"] = round(page_ms, 3)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--dir", type=Path, help="where to put the database files")
    parser.add_argument(
        "--postgres",
        nargs="?",
        const="",
        metavar="DSN",
        help="measure PostgreSQL instead (without a DSN: a throwaway local cluster)",
    )
    args = parser.parse_args(argv)
    if args.postgres is not None:
        # benchmarks/ is on sys.path when this script runs; the PostgreSQL benchmark's worker
        # processes import it by this name, so it is not loaded under another.
        import store_postgres

        store_postgres.main(args.postgres or None)
        return 0
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="minutebill-bench-") as tmp:
        print(f"files in {tmp} (Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version})")
        results = sqlite_benchmarks(Path(tmp))
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
