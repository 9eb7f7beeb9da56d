"""PostgreSQL orders text by code point, as every store does, whatever the database's collation.

The tests run on a database whose default collation sorts by language (`pg_collated_dsn`,
e.g. ICU en-US, where ``call-a < call-B < Call-c``) and compare every ordered answer with
`MemoryStore`, whose order is Python's (code point, as SQLite's BINARY is).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import psycopg
import pytest
from psycopg import sql

from minutebill._unit_of_work import UnitOfWork
from minutebill.adapters import postgres as postgres_adapter
from minutebill.adapters._postgres_sql import STATEMENTS
from minutebill.adapters.memory import MemoryStore
from minutebill.adapters.postgres import PostgresStore, migrate, migrations
from minutebill.domain.grants import GrantSource
from minutebill.domain.ledger import MinuteLedger
from minutebill.domain.ledger_policy import LedgerPolicy
from minutebill.domain.money import Money
from minutebill.domain.payments import Payment
from minutebill.testing.stateful import BillingRig
from minutebill.testing.uow_contract import UnitOfWorkContract
from tests.postgres.conftest import drop_schema, new_schema_name

pytestmark = pytest.mark.postgres

T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
ACCOUNT = "acct-collation"
# Ids a language collation puts in another order than code points do: case, punctuation,
# digits, accents, a character beyond the Basic Multilingual Plane.
IDS = (
    "call-a", "call-B", "Call-c", "call_d", "CALL.e", "call e", "call-10", "call-9",
    "ça-f", "call-é", "call-\U0001f600", "call~g", "a", "B",
)  # fmt: skip


@pytest.fixture
def collated_store(pg_collated_dsn: str) -> Iterator[PostgresStore]:
    """A migrated, empty store in a fresh schema of the database that sorts by language."""
    schema = new_schema_name()
    try:
        with PostgresStore(pg_collated_dsn, schema=schema, max_size=2) as store:
            yield store
    finally:
        drop_schema(pg_collated_dsn, schema)


class TestPostgresStoreOnALanguageCollation(UnitOfWorkContract):
    """The whole contract (its code point order included) on the database that sorts by language."""

    @pytest.fixture
    def uow_factory(self, collated_store: PostgresStore) -> Callable[[], UnitOfWork]:
        return collated_store.unit_of_work


def test_the_database_really_sorts_by_language(pg_collated_dsn: str) -> None:
    with psycopg.connect(pg_collated_dsn) as conn:
        rows = conn.execute("SELECT unnest(%s::text[]) AS x ORDER BY x", (["B", "a"],)).fetchall()
    assert rows == [("a",), ("B",)]  # code points: "B" < "a"


# --- what each store answers -----------------------------------------------------------------


def _seed(uow_factory: Callable[[], UnitOfWork]) -> None:
    """Calls settled at one instant, due ledgers, payments and tags, all named by `IDS`."""
    with uow_factory() as uow:
        ledger = MinuteLedger(ACCOUNT, LedgerPolicy())
        ledger.grant("plan:0", GrantSource.PLAN, 600 * 60, T0)
        for call_id in IDS:  # all at the same instant: only the call id orders them
            record = ledger.settle(call_id, timedelta(seconds=30), T0, tags=(f"tag {call_id}",))
            uow.usage.add(record, local_day=T0.date())
        uow.ledgers.add(ledger)
        for account_id in IDS:  # all due at the same instant: only the account id orders them
            due = MinuteLedger(account_id, LedgerPolicy())
            due.grant("plan:0", GrantSource.PLAN, 600, T0)
            due.reserve("call", 60, T0)
            uow.ledgers.add(due)
        for payment_id in IDS:
            uow.payments.add(
                Payment.create(
                    payment_id=payment_id,
                    account_id=ACCOUNT,
                    quote_id=f"quote {payment_id}",
                    amount=Money("10.00", "INR"),
                    idempotency_key=f"key {payment_id}",
                    at=T0,
                )
            )
        uow.commit()


class Answers(NamedTuple):
    """A store's ordered answers: pages of call ids and of due accounts, payments, tags."""

    usage: list[list[str]]
    due: list[list[str]]
    payments: list[str]
    tags: list[str]


def _answers(uow_factory: Callable[[], UnitOfWork]) -> Answers:
    """Every ordered answer of the store, paged in small pages through the cursors."""
    later = T0 + 2 * LedgerPolicy().hold_ttl
    with uow_factory() as uow:
        usage: list[list[str]] = []
        cursor = None
        while True:
            page = uow.usage.page(ACCOUNT, cursor=cursor, limit=3)
            usage.append([r.call_id for r in page.records])
            if (cursor := page.next_cursor) is None:
                break
        due: list[list[str]] = []
        after = None
        while page_due := uow.ledgers.due_page(later, 2, after=after):
            due.append([ledger.account_id for ledger, _ in page_due])
            after = page_due[-1][1]
        return Answers(
            usage,
            due,
            [p.payment_id for p in uow.payments.for_account(ACCOUNT)],
            list(uow.usage.by_tag(ACCOUNT, T0.date(), T0.date() + timedelta(days=1))),
        )


def _expected() -> Answers:
    store = MemoryStore()
    _seed(store.unit_of_work)
    answers = _answers(store.unit_of_work)
    # MemoryStore's order is Python's, code point order:
    assert answers.payments == sorted(IDS)
    assert list(itertools.chain(*answers.due)) == sorted(IDS)
    assert list(itertools.chain(*answers.usage)) == sorted(IDS, reverse=True)
    return answers


def test_pages_and_orders_match_memory_on_a_language_collation(
    collated_store: PostgresStore,
) -> None:
    _seed(collated_store.unit_of_work)
    assert _answers(collated_store.unit_of_work) == _expected()


def test_usage_history_pages_alike_on_memory_and_postgres(collated_store: PostgresStore) -> None:
    # The reported case, through the service: calls settled at the same instant.
    def history(uow_factory: Callable[[], UnitOfWork]) -> list[list[str]]:
        rig = BillingRig.build(uow_factory)
        rig.billing.subscribe("acct-a", "pro", timezone="Asia/Kolkata")
        for call_id in ("call-a", "call-B", "Call-c", "call_d"):
            rig.billing.end_call("acct-a", call_id, timedelta(seconds=30))
        pages, cursor = [], None
        while True:
            page = rig.billing.usage_history("acct-a", limit=2, cursor=cursor)
            pages.append([r.call_id for r in page.records])
            if (cursor := page.next_cursor) is None:
                return pages

    expected = [["call_d", "call-a"], ["call-B", "Call-c"]]
    assert history(MemoryStore().unit_of_work) == expected
    assert history(collated_store.unit_of_work) == expected


# --- the schema ------------------------------------------------------------------------------

# Every text column a key, an index or an ORDER BY compares.
_KEY_COLUMNS = {
    "minutebill_documents": {"account_id", "kind", "key", "reference"},
    "minutebill_usage_records": {"account_id", "call_id"},
    "minutebill_usage_daily": {"account_id", "tag"},
    "minutebill_idempotency": {"account_id", "key"},
    "minutebill_outbox": {"account_id"},
}


def _collations(dsn: str, schema: str) -> dict[str, dict[str, str]]:
    """The collation of each text column of minutebill's tables in `schema`."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT c.relname, a.attname, coalesce(co.collname, '')"
            " FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " LEFT JOIN pg_collation co ON co.oid = a.attcollation"
            " WHERE n.nspname = %s AND c.relkind = 'r' AND a.atttypid = 'text'::regtype"
            " AND a.attnum > 0 AND NOT a.attisdropped",
            (schema,),
        ).fetchall()
    found: dict[str, dict[str, str]] = {}
    for table, column, collation in rows:
        found.setdefault(table, {})[column] = collation
    return found


def test_every_text_key_column_compares_by_code_point(
    pg_collated_dsn: str, collated_store: PostgresStore
) -> None:
    found = _collations(pg_collated_dsn, collated_store.schema)
    for table, columns in _KEY_COLUMNS.items():
        assert {c: found[table][c] for c in columns} == dict.fromkeys(columns, "C"), table


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("usage_first", (ACCOUNT, 50)),
        ("usage_after", (ACCOUNT, 10**15, "call-B", 50)),
        ("load_due", ("ledger", 10**15, 0, "acct", "", 500)),
        ("load_due_unlocked", ("ledger", 10**15, 0, "acct", "", 500)),
        ("load_account", (ACCOUNT, "payment")),
    ],
)
def test_paging_reads_an_index_in_order_without_sorting(
    pg_collated_dsn: str, collated_store: PostgresStore, name: str, params: tuple[object, ...]
) -> None:
    types, text, _ = STATEMENTS[name]
    with psycopg.connect(pg_collated_dsn, autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{collated_store.schema}"')
        # Whatever the table's size: an index in the wanted order is the plan, or a sort.
        conn.execute("SET enable_seqscan = off")
        conn.execute("SET enable_bitmapscan = off")
        conn.execute(f"PREPARE q({types}) AS {text}".encode())
        literals = sql.SQL(", ").join(map(sql.Literal, params))
        explain = sql.SQL("EXPLAIN (COSTS OFF) EXECUTE q({})").format(literals)
        plan = "\n".join(row[0] for row in conn.execute(explain))
    assert "Index" in plan, plan
    assert "Sort" not in plan, plan


def test_migrating_a_version_1_schema_fixes_its_order_and_keeps_its_rows(
    pg_collated_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    schema = new_schema_name()
    try:
        with monkeypatch.context() as patched:  # a schema made by the first release
            patched.setattr(postgres_adapter, "migrations", lambda: migrations()[:1])
            assert migrate(pg_collated_dsn, schema=schema) == 1
            with PostgresStore(pg_collated_dsn, schema=schema, auto_migrate=False) as old:
                _seed(old.unit_of_work)
                before = _answers(old.unit_of_work)
        assert before != _expected()  # the bug: the database's collation ordered them

        assert migrate(pg_collated_dsn, schema=schema) == migrations()[-1][0]
        with PostgresStore(pg_collated_dsn, schema=schema, auto_migrate=False) as store:
            assert _answers(store.unit_of_work) == _expected()
            for table, columns in _KEY_COLUMNS.items():
                found = _collations(pg_collated_dsn, schema)[table]
                assert {c: found[c] for c in columns} == dict.fromkeys(columns, "C"), table
    finally:
        drop_schema(pg_collated_dsn, schema)
