"""Read-only units of work on PostgreSQL: one snapshot, no row locks, no commit."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from minutebill.adapters.postgres import PostgresStore
from minutebill.domain.grants import GrantSource
from minutebill.domain.ledger import MinuteLedger
from minutebill.domain.money import Money
from minutebill.errors import MinutebillError
from minutebill.testing.fakes import Outcome
from minutebill.testing.stateful import UPI, BillingRig

pytestmark = pytest.mark.postgres

T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
ACCOUNT = "acct-reads"


def _seed(store: PostgresStore) -> None:
    with store.unit_of_work() as uow:
        ledger = MinuteLedger(ACCOUNT)
        ledger.grant("plan:0", GrantSource.PLAN, 600, T0)
        ledger.settle("c0", timedelta(seconds=60), T0)
        uow.ledgers.add(ledger)
        uow.commit()


def _read_in_thread(store: PostgresStore, *, read_only: bool) -> list[object]:
    """Read the ledger from another thread; what it read, or nothing if it had to wait."""
    seen: list[object] = []

    def read() -> None:
        with store.unit_of_work(read_only=read_only) as uow:
            seen.append(uow.ledgers.get(ACCOUNT).to_state())
            seen.append(uow.usage.page(ACCOUNT).records)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout=2)
    return seen


def test_a_read_only_unit_of_work_reads_past_a_writer_s_row_locks(pg_store: PostgresStore) -> None:
    _seed(pg_store)
    with pg_store.unit_of_work() as writer:
        locked = writer.ledgers.get(ACCOUNT)  # the account's rows are locked from here on
        locked.settle("c1", timedelta(seconds=30), T0 + timedelta(minutes=1))
        assert _read_in_thread(pg_store, read_only=False) == []  # a locking read waits
        seen = _read_in_thread(pg_store, read_only=True)
        assert len(seen) == 2
        assert seen[0]["grants"][0]["consumed"] == 60  # type: ignore[index]  # last commit only
        writer.commit()


def test_a_read_only_unit_of_work_cannot_commit(pg_store: PostgresStore) -> None:
    _seed(pg_store)
    with pg_store.unit_of_work(read_only=True) as uow:
        uow.ledgers.get(ACCOUNT).grant("promo", GrantSource.PROMOTIONAL, 60, T0)
        with pytest.raises(MinutebillError, match="read-only"):
            uow.commit()
    with pg_store.unit_of_work(read_only=True) as uow:
        assert uow.ledgers.get(ACCOUNT).totals().granted == 600


def test_billing_reads_the_page_while_a_settlement_holds_the_account(
    pg_store: PostgresStore,
) -> None:
    rig = BillingRig.build(pg_store.unit_of_work)
    rig.billing.subscribe(ACCOUNT, "pro")
    with pg_store.unit_of_work() as writer:
        writer.ledgers.get(ACCOUNT)  # holds the account's row locks
        done: list[object] = []
        reader = threading.Thread(
            target=lambda: done.append(rig.billing.overview(ACCOUNT)), daemon=True
        )
        reader.start()
        reader.join(timeout=2)
        assert len(done) == 1


def test_the_overview_after_the_period_end_does_the_due_work_on_its_copies_only(
    pg_store: PostgresStore,
) -> None:
    rig = BillingRig.build(pg_store.unit_of_work)
    rig.billing.subscribe(ACCOUNT, "pro")
    rig.gateway.script(Outcome.SUCCEED)
    rig.billing.top_up(ACCOUNT, Money(10_000, "INR"), UPI, idempotency_key="t1")
    ended = rig.billing.overview(ACCOUNT).period_end
    rig.clock.set(ended + timedelta(minutes=5))
    overview = rig.billing.overview(ACCOUNT)
    assert (overview.period_start, overview.remaining_minutes) == (ended, Decimal(5000))
    assert overview.wallet_balance == Money(10_000 - 7999, "INR")
    with pg_store.unit_of_work(read_only=True) as uow:  # nothing was saved
        assert uow.subscriptions.get(ACCOUNT).period_index == 0
        assert uow.wallets.get(ACCOUNT).balance == Money(10_000, "INR")
