"""Threads settling and reading one account at once lose nothing and count nothing twice.

The threads of one store share the ledgers it committed (a writer takes the kept ledger, a
reader copies it): this is where a ledger handed to two units of work at once, or copied
while another thread changes it, would show as a lost or doubled second.
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from pathlib import Path

import pytest

from minutebill.domain.ledger import MinuteLedger, UsageRecord
from minutebill.errors import ConcurrencyConflict
from minutebill.service import Billing
from tests.service.test_exactly_once import KINDS, all_at_once, services
from tests.service.test_support import ACCOUNT

THREADS = 6
CALLS_PER_THREAD = 20


def settle_and_read(billing: Billing, thread: int) -> tuple[list[UsageRecord], int]:
    """Settle this thread's calls, reading the plan between them; (records, calls refused)."""
    records, refused = [], 0
    for n in range(CALLS_PER_THREAD):
        seconds = 7 + 13 * thread + n  # every call a different length
        try:
            record = billing.end_call(ACCOUNT, f"t{thread}-{n}", timedelta(seconds=seconds))
        except ConcurrencyConflict:  # the memory store's optimistic retries can run out
            refused += 1
        else:
            records.append(record)
        billing.overview(ACCOUNT)  # a reader in between, copying the kept ledger
    return records, refused


@pytest.mark.parametrize("kind", KINDS)
def test_threads_settling_one_account_at_once_lose_no_second(kind: str, tmp_path: Path) -> None:
    with services(kind, tmp_path, THREADS) as rigs:
        main = rigs[0]
        main.billing.subscribe(ACCOUNT, "pro")

        results = all_at_once(
            [partial(settle_and_read, rig.billing, t) for t, rig in enumerate(rigs)]
        )

        records = [record for batch, _ in results for record in batch]
        refused = sum(count for _, count in results)
        with main.uow_factory() as uow:
            ledger: MinuteLedger = uow.ledgers.get(ACCOUNT)
            stored = uow.usage.page(ACCOUNT, limit=1000).records
        totals = ledger.totals()
        # SQLite serialises writers; the memory store may refuse a call after its retries.
        assert refused == 0 or kind == "memory"
        assert len(records) + refused == THREADS * CALLS_PER_THREAD
        assert sorted(r.call_id for r in stored) == sorted(r.call_id for r in records)
        assert totals.consumed + totals.overage == sum(r.billable_seconds for r in records)
        assert totals.held == 0
        assert ledger.version == 1 + len(records)  # one save per settlement, none lost
