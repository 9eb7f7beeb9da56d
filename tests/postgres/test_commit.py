"""How `PostgresStore` sends a commit: one statement for a small one, row by row for a big one.

A small commit (a settlement's) is ONE prepared statement, prepared on the connection the first
time a commit of its shape is seen, in the same message. PREPARE outlives a rolled-back
transaction, so a failed first try must not leave the connection unable to prepare it again;
a connection prepares a bounded number of shapes; a big commit goes row by row and still
checks versions.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from minutebill._unit_of_work import StoredResponse
from minutebill.adapters._postgres_sql import ONE_STATEMENT_ROWS, SHAPES_PER_CONNECTION
from minutebill.adapters.postgres import PostgresStore
from minutebill.domain.grants import GrantSource
from minutebill.domain.ledger import MinuteLedger
from minutebill.domain.wallet import Wallet
from minutebill.errors import ConcurrencyConflict, IdempotencyConflict
from minutebill.service import Billing
from minutebill.testing.fakes import FakePaymentGateway, FixedClock
from minutebill.testing.stateful import reference_catalog
from tests.postgres._trace import traced

pytestmark = pytest.mark.postgres

T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
BIG = ONE_STATEMENT_ROWS + 4  # rows: more than a one-statement commit takes


def billing(store: PostgresStore) -> Billing:
    clock = FixedClock(T0)
    gateway = FakePaymentGateway(secret=b"whsec-commit", clock=clock)
    return Billing(store.unit_of_work, gateway, reference_catalog(), clock)


def sent_queries(store: PostgresStore, action: Callable[[], object]) -> list[str]:
    """The Query messages `action` sends on the store's only connection (libpq trace)."""
    return [line for line in traced(store, action) if line.startswith("F") and "\tQuery\t" in line]


def prepared_commits(store: PostgresStore) -> int:
    with store.unit_of_work() as uow:
        conn = uow.tx._conn  # type: ignore[attr-defined]
        row = conn.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'minutebill_commit_%'"
        ).fetchone()
    return int(row[0]) if row else 0


def seeded(store: PostgresStore) -> None:
    ledger = MinuteLedger("acct-1")
    ledger.grant("plan:0", GrantSource.PLAN, 600 * 60, T0)
    with store() as uow:
        uow.ledgers.add(ledger)
        uow.commit()


def test_a_settlement_writes_with_one_statement(one_connection: PostgresStore) -> None:
    service = billing(one_connection)
    service.subscribe("acct-1", "enterprise", timezone="Asia/Kolkata")
    service.end_call("acct-1", "c1", timedelta(minutes=1))

    queries = sent_queries(
        one_connection, lambda: service.end_call("acct-1", "c2", timedelta(minutes=1))
    )

    commit = queries[-1]
    assert re.findall(r"EXECUTE (\w+)", commit) == [
        "minutebill_check_account",  # the account's documents came from the store's cache
        "minutebill_commit_1_0_1_1_0_1",
    ]
    assert commit.rstrip().rstrip('"').endswith("COMMIT")
    assert "PREPARE" not in commit  # prepared by the first settlement on this connection


def test_a_shape_whose_first_commit_failed_commits_on_the_same_connection(
    pg_dsn: str, pg_schema: str, one_connection: PostgresStore
) -> None:
    seeded(one_connection)
    with one_connection() as uow:
        ledger = uow.ledgers.get("acct-1")
        first = ledger.settle("c1", timedelta(seconds=61), T0)
        second = ledger.settle("c2", timedelta(seconds=61), T0)
    with PostgresStore(pg_dsn, schema=pg_schema, min_size=1, max_size=1) as other, other() as uow:
        uow.usage.add(first, local_day=T0.date())
        uow.commit()

    with one_connection() as uow:  # the shape's first commit here: PREPARE, then a duplicate
        uow.usage.add(first, local_day=T0.date())
        with pytest.raises(IdempotencyConflict):
            uow.commit()
    with one_connection() as uow:  # the same shape again, on the same connection
        uow.usage.add(second, local_day=T0.date())
        uow.commit()

    with one_connection() as uow:
        assert [r.call_id for r in uow.usage.page("acct-1").records] == ["c2", "c1"]


def test_a_connection_prepares_a_bounded_number_of_commit_shapes(
    one_connection: PostgresStore,
) -> None:
    shapes = [(wallets, keys) for wallets in range(1, 9) for keys in range(9 - wallets)]
    assert len(shapes) > SHAPES_PER_CONNECTION  # 36 shapes of up to 8 rows
    for n, (wallets, keys) in enumerate(shapes):
        with one_connection() as uow:
            for w in range(wallets):
                uow.wallets.add(Wallet(f"acct-{n}-{w}", "INR"))
            for k in range(keys):
                uow.idempotency.put(f"acct-{n}", f"k{k}", StoredResponse("f", {"k": k}))
            uow.commit()

    assert prepared_commits(one_connection) == SHAPES_PER_CONNECTION
    with one_connection() as uow:
        for n, (wallets, keys) in enumerate(shapes):
            assert uow.wallets.get(f"acct-{n}-{wallets - 1}").currency == "INR"
            assert (keys == 0) is (uow.idempotency.get(f"acct-{n}", "k0") is None)


def test_a_big_commit_goes_row_by_row_and_checks_versions(one_connection: PostgresStore) -> None:
    seeded(one_connection)
    with one_connection() as uow:
        for n in range(BIG):
            uow.wallets.add(Wallet(f"acct-{n}", "INR"))
        uow.commit()
    with one_connection() as uow:
        ledger = uow.ledgers.get("acct-1")
        ledger.grant("promo:1", GrantSource.PROMOTIONAL, 60, T0)
        ledger.version = 7  # as if loaded long ago
        for n in range(BIG):
            uow.wallets.add(Wallet(f"acct-new-{n}", "INR"))
        with pytest.raises(ConcurrencyConflict) as raised:
            uow.commit()

    assert raised.value.aggregate == "ledger acct-1"
    assert prepared_commits(one_connection) == 1  # the seeding's; neither big commit prepared
    with one_connection() as uow:
        assert uow.wallets.get(f"acct-{BIG - 1}").currency == "INR"
        assert uow.wallets.find("acct-new-0") is None
        assert uow.ledgers.get("acct-1").version == 1
