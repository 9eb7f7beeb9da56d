"""Admission and boosted queueing against raw baselines measured in the same run.

1. `admit` (subscription check, concurrency, ledger hold, queue fairness) against a raw
   dict-and-int check that does the least an admission can do: compare the account's active
   count with its limit and its free seconds with the hold, then take both.
2. `CallQueue.pop` with 10,000 and with 1,000,000 calls waiting: a binary heap makes a pop
   O(log n), so a queue 100 times longer costs a small factor more per pop, not 100 times.

Run: ``python benchmarks/admission.py``. The last line is one JSON object.
"""

from __future__ import annotations

import gc
import json
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from minutebill import BillingInterval, Money, Plan, PlanFeatures
from minutebill.domain.admission import CallRequest, admit
from minutebill.domain.call_queue import CallQueue
from minutebill.domain.ledger import MinuteLedger
from minutebill.domain.subscriptions import Subscription

T0 = datetime(2025, 1, 1, tzinfo=UTC)
NOW = T0 + timedelta(days=1)
SLOTS = 50  # calls admitted per timed batch (the plan's concurrent calls)
BATCHES = 100
REPEATS = 7


def best_of(repeats: int, run: Callable[[], float]) -> float:
    """The smallest of `repeats` timings (seconds): the least disturbed by other processes."""
    return min(run() for _ in range(repeats))


def bench_admit() -> tuple[float, float, float]:
    plan = Plan(
        "enterprise",
        "Enterprise",
        Money("24999.00", "INR"),
        BillingInterval.monthly(),
        10_000_000,
        PlanFeatures(concurrent_calls=SLOTS, phone_numbers=25, queue_priority=10),
    )
    ledger = MinuteLedger("acme")
    sub = Subscription.start("acme", plan, T0, ledger=ledger)
    queue = CallQueue(1000)
    runs = iter(range(10**6))

    def fresh_batches() -> list[list[CallRequest]]:
        """New call ids for every run: a released call id cannot be held again."""
        run = next(runs)
        return [
            [CallRequest(f"c{run}-{b}-{i}", "acme", 300) for i in range(SLOTS)]
            for b in range(BATCHES)
        ]

    def run_admit() -> float:
        total = 0.0
        for batch in fresh_batches():
            start = time.perf_counter()
            for request in batch:
                admit(request, NOW, subscription=sub, ledger=ledger, queue=queue)
            total += time.perf_counter() - start
            for request in batch:  # untimed: free the slots for the next batch
                ledger.release(request.call_id, NOW)
            ledger.pull_events()  # as the unit of work does after each commit
        return total

    def run_reserve() -> float:
        total = 0.0
        for batch in fresh_batches():
            start = time.perf_counter()
            for request in batch:
                ledger.reserve(request.call_id, 300, NOW)
            total += time.perf_counter() - start
            for request in batch:
                ledger.release(request.call_id, NOW)
            ledger.pull_events()
        return total

    active: dict[str, int] = {"acme": 0}
    limit: dict[str, int] = {"acme": SLOTS}
    seconds: dict[str, int] = {"acme": 10_000_000 * 60}
    holds: dict[str, int] = {}

    def run_raw() -> float:
        total = 0.0
        for batch in fresh_batches():
            ids = [request.call_id for request in batch]
            start = time.perf_counter()
            for call_id in ids:
                if active["acme"] < limit["acme"] and seconds["acme"] >= 300:
                    active["acme"] += 1
                    seconds["acme"] -= 300
                    holds[call_id] = 300
            total += time.perf_counter() - start
            for call_id in ids:
                seconds["acme"] += holds.pop(call_id)
                active["acme"] -= 1
        return total

    calls = BATCHES * SLOTS
    # Interleaved, so a burst of load from other processes hits all three alike.
    timings = [(run_admit(), run_reserve(), run_raw()) for _ in range(REPEATS)]
    sub.pull_events()
    ours, reserve, raw = (min(column) / calls for column in zip(*timings, strict=True))
    return ours, reserve, raw


def bench_queue(size: int) -> tuple[float, float]:
    """Seconds per push while filling to `size`, and per pop with `size` calls waiting.

    Each timed run pops a tenth of the line at most (so the size stays about `size`), then
    puts the calls back untimed.
    """
    pops = min(size // 10, 50_000)
    rng = random.Random(size)
    priorities = [rng.choice((0, 5, 10)) for _ in range(size)]
    queue = CallQueue(size, timedelta(days=1))
    gc.disable()
    try:
        start = time.perf_counter()
        for i, priority in enumerate(priorities):
            queue.push(f"w{i}", f"acct{i % 97}", priority, NOW)
        push = (time.perf_counter() - start) / size

        def run_pops() -> float:
            pop = queue.pop
            begin = time.perf_counter()
            popped = [pop(NOW) for _ in range(pops)]
            elapsed = time.perf_counter() - begin
            for call in popped:  # put them back (untimed) so every run sees `size` waiting
                if call is not None:
                    queue.requeue(call)
            return elapsed

        pop = best_of(7, run_pops) / pops
    finally:
        gc.enable()
    return push, pop


def main() -> None:
    ours, reserve, raw = bench_admit()
    print(f"admit:             {ours * 1e6:8.2f} µs per call")
    print(f"  the ledger hold alone (MinuteLedger.reserve): {reserve * 1e6:.2f} µs")
    own = ours - reserve
    print(f"  admission's own work: {own * 1e6:.2f} µs ({own / raw:.1f}x raw)")
    print(f"raw dict-and-int:  {raw * 1e6:8.2f} µs per call")
    print(f"admit / raw:       {ours / raw:8.1f}x (goal: within 10x)")
    push_small, pop_small = bench_queue(10_000)
    push_large, pop_large = bench_queue(1_000_000)
    print(f"queue push, 10k:   {push_small * 1e6:8.2f} µs   pop: {pop_small * 1e6:8.2f} µs")
    print(f"queue push, 1M:    {push_large * 1e6:8.2f} µs   pop: {pop_large * 1e6:8.2f} µs")
    print(f"pop 1M / pop 10k:  {pop_large / pop_small:8.2f}x (log2 ratio {20 / 13.3:.2f})")
    print(
        json.dumps(
            {
                "admit_vs_raw": round(ours / raw, 2),
                "queue_pop_1m_vs_10k": round(pop_large / pop_small, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
