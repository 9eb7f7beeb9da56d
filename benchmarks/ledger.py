"""Minute ledger throughput against raw arithmetic on tuples and ints, measured in the same run.

* settle: `MinuteLedger.settle` of calls without a hold, with 3 live grants (plan, then a
  bundle, then a never-expiring bundle) and 60/60 rating, against a loop that rates the same
  durations and walks the same grants held as lists of ints, recording tuples.
* reserve+settle: a hold then its settlement, against the same two steps done raw.
* snapshot: `MinuteLedger.snapshot` on a ledger with 10 settled calls against one with
  100,000: the usage history is not part of the ledger, so the times should match.

Run ``python benchmarks/ledger.py``; the last line is one JSON object of time ratios
(lower is better).
"""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from minutebill.domain.ledger import GrantSource, LedgerPolicy, MinuteLedger
from minutebill.domain.periods import BillingPeriod

CALLS = 10_000
CHUNK = 250  # the best chunk of each run is kept: a busy machine rarely slows every chunk
REPEATS = 7
T0 = datetime(2025, 1, 1, tzinfo=UTC)
PERIOD = BillingPeriod(T0, datetime(2025, 2, 1, tzinfo=UTC))
AT = T0 + timedelta(days=3)
# Durations between 1 s and ~4 min, microseconds included, as a telephony switch reports them.
DURATIONS = [
    timedelta(seconds=1 + (i * 7919) % 240, microseconds=(i * 104_729) % 1_000_000)
    for i in range(CALLS)
]
CALL_IDS = [f"call-{i}" for i in range(CALLS)]
PLAN_SECONDS = 60 * CALLS  # about half the calls' rated seconds: plan first, then the bundle
BUNDLE_SECONDS = 10**9


def new_ledger() -> MinuteLedger:
    ledger = MinuteLedger("acct-bench", LedgerPolicy())
    ledger.open_period(PERIOD, T0)
    ledger.grant("plan", GrantSource.PLAN, PLAN_SECONDS, T0, expires_at=PERIOD.end)
    ledger.grant("bundle", GrantSource.BUNDLE, BUNDLE_SECONDS, T0, expires_at=PERIOD.end)
    ledger.grant("forever", GrantSource.BUNDLE, BUNDLE_SECONDS, T0)
    ledger.pull_events()
    return ledger


def raw_grants() -> list[list[Any]]:
    # [grant_id, remaining, effective_at, expires_at], already in consumption order.
    return [
        ["plan", PLAN_SECONDS, T0, PERIOD.end],
        ["bundle", BUNDLE_SECONDS, T0, PERIOD.end],
        ["forever", BUNDLE_SECONDS, T0, None],
    ]


def raw_rate(duration: timedelta) -> int:
    micros = (duration.days * 86_400 + duration.seconds) * 1_000_000 + duration.microseconds
    seconds = -(-micros // 1_000_000)
    if seconds <= 0:
        return 0
    return 60 if seconds <= 60 else 60 + -(-(seconds - 60) // 60) * 60


def raw_take(grants: list[list[Any]], need: int, at: datetime) -> tuple[list[tuple[str, int]], int]:
    debits = []
    for grant in grants:
        remaining = grant[1]
        expires = grant[3]
        if remaining and grant[2] <= at and (expires is None or at < expires):
            take = min(need, remaining)
            grant[1] = remaining - take
            debits.append((grant[0], take))
            need -= take
            if not need:
                break
    return debits, need


def chunks() -> list[range]:
    return [range(i, min(i + CHUNK, CALLS)) for i in range(0, CALLS, CHUNK)]


def settle_ledger() -> float:
    ledger = new_ledger()
    times = []
    for chunk in chunks():
        start = time.perf_counter()
        for i in chunk:
            ledger.settle(CALL_IDS[i], DURATIONS[i], AT)
        times.append((time.perf_counter() - start) / len(chunk))
    return min(times)


def settle_raw() -> float:
    grants = raw_grants()
    settled: dict[str, tuple[object, ...]] = {}
    times = []
    for chunk in chunks():
        start = time.perf_counter()
        for i in chunk:
            call_id, duration = CALL_IDS[i], DURATIONS[i]
            if call_id in settled:
                continue
            billable = raw_rate(duration)
            debits, overage = raw_take(grants, billable, AT)
            settled[call_id] = (call_id, AT, duration, billable, tuple(debits), overage)
        times.append((time.perf_counter() - start) / len(chunk))
    return min(times)


def reserve_settle_ledger() -> float:
    ledger = new_ledger()
    times = []
    for chunk in chunks():
        start = time.perf_counter()
        for i in chunk:
            ledger.reserve(CALL_IDS[i], 600, AT)
            ledger.settle(CALL_IDS[i], DURATIONS[i], AT)
        times.append((time.perf_counter() - start) / len(chunk))
    return min(times)


def reserve_settle_raw() -> float:
    grants = raw_grants()
    by_id = {g[0]: g for g in grants}
    holds: dict[str, tuple[tuple[str, int], ...]] = {}
    settled: dict[str, tuple[object, ...]] = {}
    times = []
    for chunk in chunks():
        start = time.perf_counter()
        for i in chunk:
            call_id, duration = CALL_IDS[i], DURATIONS[i]
            held, _ = raw_take(grants, 600, AT)
            holds[call_id] = tuple(held)
            billable = raw_rate(duration)
            need = billable
            debits = []
            for grant_id, seconds in holds.pop(call_id):
                use = min(need, seconds)
                by_id[grant_id][1] += seconds - use
                need -= use
                if use:
                    debits.append((grant_id, use))
            more, overage = raw_take(grants, need, AT) if need else ([], 0)
            settled[call_id] = (call_id, AT, duration, billable, tuple(debits + more), overage)
        times.append((time.perf_counter() - start) / len(chunk))
    return min(times)


def history(calls: int) -> MinuteLedger:
    ledger = new_ledger()
    for i in range(calls):
        ledger.settle(f"call-{i}", DURATIONS[i % CALLS], AT)
    return ledger


def snapshots(ledger: MinuteLedger) -> Callable[[], float]:
    def run() -> float:
        times = []
        for chunk in chunks():
            start = time.perf_counter()
            for _ in chunk:
                ledger.snapshot(AT)
            times.append((time.perf_counter() - start) / len(chunk))
        return min(times)

    return run


def best_of_both(one: Callable[[], float], other: Callable[[], float]) -> tuple[float, float]:
    """The best time of each, measured alternately so a busy machine slows both alike.

    The cyclic garbage collector is paused while timing, as `timeit` does.
    """
    first, second = [], []
    for _ in range(REPEATS):
        gc.collect()
        gc.disable()
        try:
            first.append(one())
            second.append(other())
        finally:
            gc.enable()
    return min(first), min(second)


def main() -> None:
    settle, raw = best_of_both(settle_ledger, settle_raw)
    pair, raw_pair = best_of_both(reserve_settle_ledger, reserve_settle_raw)
    small, large = history(10), history(100_000)
    if small.snapshot(AT).used_seconds >= large.snapshot(AT).used_seconds:
        raise SystemExit("the two histories should differ")
    few, many = best_of_both(snapshots(small), snapshots(large))
    per = 1e6
    print(f"settle          {settle * per:7.2f} us/call   raw {raw * per:6.2f} us/call")
    print(f"reserve+settle  {pair * per:7.2f} us/call   raw {raw_pair * per:6.2f} us/call")
    print(f"snapshot        {few * per:7.2f} us (10 calls)   {many * per:.2f} us (100,000 calls)")
    print(
        json.dumps(
            {
                "settle_vs_raw": round(settle / raw, 2),
                "reserve_settle_vs_raw": round(pair / raw_pair, 2),
                "snapshot_100k_vs_10": round(many / few, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
