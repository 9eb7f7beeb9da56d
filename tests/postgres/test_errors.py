"""What the PostgreSQL store does when things go wrong: clear errors, nothing half written.

Driver errors become `PersistenceError`s (retryable when trying again can help), a stale
version `ConcurrencyConflict`, a taken call id or idempotency key `IdempotencyConflict` —
enforced by the database's unique keys even between units of work that both checked first.
"""

from __future__ import annotations

import random
import socket
import string
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg import sql

from minutebill._unit_of_work import StoredResponse
from minutebill.adapters.postgres import PostgresStore, migrate, migrations
from minutebill.domain.checkout import Order, TopUpLine
from minutebill.domain.grants import GrantSource
from minutebill.domain.ledger import MinuteLedger
from minutebill.domain.money import Money
from minutebill.domain.payments import Payment
from minutebill.domain.wallet import Wallet
from minutebill.errors import (
    ConcurrencyConflict,
    IdempotencyConflict,
    PersistenceError,
    ValidationError,
)
from minutebill.service import Billing
from minutebill.testing.fakes import FakePaymentGateway, FixedClock
from minutebill.testing.stateful import reference_catalog
from tests.postgres.conftest import drop_schema, new_schema_name

pytestmark = pytest.mark.postgres

T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


def nobody_listening() -> str:
    """A DSN of a loopback port where no server listens (refused at once)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"host=127.0.0.1 port={port} user=postgres dbname=postgres connect_timeout=3"


def seeded_ledger(account_id: str = "acct-1") -> MinuteLedger:
    ledger = MinuteLedger(account_id)
    ledger.grant("plan:0", GrantSource.PLAN, 600 * 60, T0)
    return ledger


def payment(account_id: str, payment_id: str) -> tuple[object, Payment]:
    order = Order([TopUpLine(amount=Money("100.00", "INR"))], "INR")
    quote = order.quote(quote_id=f"quote-{payment_id}", account_id=account_id, at=T0)
    return quote, Payment.for_quote(quote, payment_id=payment_id, idempotency_key="k", at=T0)


def billing(store: PostgresStore) -> Billing:
    clock = FixedClock(T0)
    gateway = FakePaymentGateway(secret=b"whsec-errors", clock=clock)
    return Billing(store.unit_of_work, gateway, reference_catalog(), clock)


# --- reaching the server -------------------------------------------------------------------


def test_an_unreachable_server_is_a_retryable_persistence_error() -> None:
    dsn = nobody_listening()
    with pytest.raises(PersistenceError) as raised:
        migrate(dsn)
    assert raised.value.retryable
    assert "PostgreSQL" in str(raised.value)
    with pytest.raises(PersistenceError) as raised:
        PostgresStore(dsn, auto_migrate=False, timeout=0.5)
    assert raised.value.retryable


def test_a_store_on_a_schema_never_migrated_says_to_migrate(pg_dsn: str, pg_schema: str) -> None:
    with PostgresStore(pg_dsn, schema=pg_schema, auto_migrate=False) as store:
        with pytest.raises(PersistenceError, match=r"migrate\(") as raised, store() as uow:
            uow.ledgers.find("acct-1")
        assert not raised.value.retryable
        migrate(pg_dsn, schema=pg_schema)
        with store() as uow:  # the same pool works once the tables exist
            assert uow.ledgers.find("acct-1") is None


def test_a_killed_connection_is_retryable_and_the_pool_replaces_it(
    pg_dsn: str, pg_store: PostgresStore
) -> None:
    service = billing(pg_store)
    service.subscribe("acct-1", "starter", timezone="UTC")

    def kill_backends() -> None:
        with psycopg.connect(pg_dsn, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'"
                " AND query NOT ILIKE '%pg_terminate_backend%'"
            )

    kill_backends()
    with pytest.raises(PersistenceError) as raised, pg_store() as uow:
        uow.ledgers.get("acct-1")
    assert raised.value.retryable
    kill_backends()
    # Through the service the runner simply tries again on a fresh connection.
    record = service.end_call("acct-1", "call-1", timedelta(seconds=30))
    assert record.billable_seconds == 60
    with pg_store() as uow:
        assert uow.usage.get("acct-1", "call-1") == record


def test_an_exhausted_pool_is_a_retryable_error_not_a_hang(pg_dsn: str, pg_schema: str) -> None:
    with PostgresStore(pg_dsn, schema=pg_schema, max_size=1, timeout=0.3) as store:
        with store() as holding:
            holding.wallets.find("acct-1")
            with pytest.raises(PersistenceError) as raised, store() as uow:
                uow.wallets.find("acct-1")
        assert raised.value.retryable
        with store() as uow:  # the connection went back to the pool
            assert uow.wallets.find("acct-1") is None


def test_the_dsns_own_options_are_kept(pg_dsn: str, pg_schema: str) -> None:
    dsn = f"{pg_dsn} options='-c application_name=minutebill-tests -c lock_timeout=1234'"
    with PostgresStore(dsn, schema=pg_schema) as store, store() as uow:
        uow.wallets.find("acct-1")
        conn = uow.tx._conn  # type: ignore[attr-defined]
        assert conn.execute("SHOW lock_timeout").fetchone() == ("1234ms",)
        assert conn.execute("SHOW search_path").fetchone() == (pg_schema,)


# --- conflicts -----------------------------------------------------------------------------


def test_a_stale_version_is_a_concurrency_conflict_naming_the_aggregate(
    pg_store: PostgresStore,
) -> None:
    with pg_store() as uow:
        uow.ledgers.add(seeded_ledger())
        uow.commit()
    with pg_store() as uow:
        ledger = uow.ledgers.get("acct-1")
        before = ledger.to_state()
        ledger.grant("promo:1", GrantSource.PROMOTIONAL, 60, T0)
        ledger.version = 7  # as if loaded long ago
        uow.wallets.add(Wallet("acct-1", "INR"))
        with pytest.raises(ConcurrencyConflict) as raised:
            uow.commit()
    assert raised.value.aggregate == "ledger acct-1"
    assert raised.value.expected == 7
    with pg_store() as uow:  # nothing of that unit of work was written
        assert uow.ledgers.get("acct-1").to_state() == before
        assert uow.wallets.find("acct-1") is None


def test_two_units_of_work_creating_the_same_aggregate_conflict_in_the_database(
    pg_store: PostgresStore,
) -> None:
    with pg_store() as first, pg_store() as second:
        assert first.wallets.find("acct-1") is None
        assert second.wallets.find("acct-1") is None  # nothing to lock: both go ahead
        first.wallets.add(Wallet("acct-1", "INR"))
        second.wallets.add(Wallet("acct-1", "USD"))
        first.commit()
        with pytest.raises(ConcurrencyConflict):
            second.commit()
    with pg_store() as uow:
        assert uow.wallets.get("acct-1").currency == "INR"


def test_a_payment_id_is_unique_across_accounts(pg_store: PostgresStore) -> None:
    # Renewal payments are named after (account, number, period): the database refuses a
    # second payment for the same renewal even from another unit of work or account.
    for account_id in ("acct-1", "acct-2"):
        quote, pay = payment(account_id, "pay_renewal_1")
        with pg_store() as uow:
            uow.orders.add(quote)
            uow.payments.add(pay)
            if account_id == "acct-1":
                uow.commit()
            else:
                with pytest.raises(ConcurrencyConflict):
                    uow.commit()
    with pg_store() as uow:
        found = uow.payments.by_reference("pay_renewal_1")
        assert found is not None
        assert found.account_id == "acct-1"
        assert uow.orders.for_account("acct-2") == []


def test_a_call_settled_by_two_units_of_work_is_stored_once(pg_store: PostgresStore) -> None:
    with pg_store() as uow:
        uow.ledgers.add(seeded_ledger())
        uow.commit()
    with pg_store() as uow:
        record = uow.ledgers.get("acct-1").settle("call-1", timedelta(seconds=61), T0)
    with pg_store() as first, pg_store() as second:
        first.usage.add(record, local_day=T0.date())
        second.usage.add(record, local_day=T0.date())
        first.commit()
        with pytest.raises(IdempotencyConflict, match="call already settled"):
            second.commit()
    with pg_store() as uow:
        assert uow.usage.daily("acct-1", T0.date(), T0.date() + timedelta(days=1))[0][1].calls == 1


def test_an_idempotency_key_stored_by_two_units_of_work_keeps_the_first(
    pg_store: PostgresStore,
) -> None:
    with pg_store() as first, pg_store() as second:
        assert first.idempotency.get("acct-1", "k") is None
        assert second.idempotency.get("acct-1", "k") is None
        first.idempotency.put("acct-1", "k", StoredResponse("one", {"n": 1}))
        second.idempotency.put("acct-1", "k", StoredResponse("two", {"n": 2}))
        first.commit()
        with pytest.raises(IdempotencyConflict):
            second.commit()
    with pg_store() as uow:
        assert uow.idempotency.get("acct-1", "k") == StoredResponse("one", {"n": 1})


def test_text_postgresql_cannot_hold_is_refused_before_anything_is_written(
    pg_store: PostgresStore,
) -> None:
    service = billing(pg_store)
    service.subscribe("acct-1", "starter", timezone="UTC")
    with pg_store() as uow:
        before = uow.ledgers.get("acct-1").to_state()
    with pytest.raises(ValidationError, match="NUL"):  # refused by the service's check
        service.end_call("acct-1", "call\x00one", timedelta(seconds=30))
    with pg_store() as uow:  # a key no domain check saw: the store refuses it at commit
        uow.ledgers.get("acct-1").grant("bonus", GrantSource.PROMOTIONAL, 600, T0)
        uow.idempotency.put("acct-1", "key\x00", StoredResponse("f", {"n": 1}))
        with pytest.raises(ValidationError, match="NUL"):
            uow.commit()
    with pg_store() as uow:
        assert uow.ledgers.get("acct-1").to_state() == before
        assert uow.usage.page("acct-1").records == ()


def test_ids_too_long_to_index_are_refused_by_name_before_anything_is_written(
    pg_store: PostgresStore,
) -> None:
    # Random text does not compress: 3,000 characters make an index entry PostgreSQL refuses.
    # The longest id minutebill takes, four bytes a character, is indexed without trouble.
    service = billing(pg_store)
    service.subscribe("acct-1", "starter", timezone="UTC")
    rng = random.Random(7)
    noise = "".join(rng.choice(string.ascii_letters) for _ in range(3000))
    with pg_store() as uow:
        before = uow.ledgers.get("acct-1").to_state()
    with pytest.raises(ValidationError, match="at most 255"):
        service.end_call("acct-1", noise, timedelta(seconds=30))
    with pytest.raises(ValidationError, match="at most 255"):
        service.end_call("acct-1", "c1", timedelta(seconds=30), tags=[noise])
    with pg_store() as uow:
        assert uow.ledgers.get("acct-1").to_state() == before
    longest = "".join(rng.choice("😀🎉🚀💡") for _ in range(255))
    service.subscribe(longest, "starter", timezone="UTC")
    record = service.end_call(longest, longest, timedelta(seconds=30), tags=[longest])
    assert record.call_id == longest
    assert service.usage_history(longest).records == (record,)


def test_quotes_in_keys_are_data_not_sql(pg_store: PostgresStore) -> None:
    tricky = "o'brien'); DROP TABLE minutebill_documents; --\\"
    with pg_store() as uow:
        uow.wallets.add(Wallet(tricky, "INR"))
        uow.idempotency.put(tricky, tricky, StoredResponse(tricky, {"why": tricky}))
        uow.commit()
    with pg_store() as uow:
        assert uow.wallets.get(tricky).account_id == tricky
        assert uow.idempotency.get(tricky, tricky) == StoredResponse(tricky, {"why": tricky})


# --- migrations and schemas ----------------------------------------------------------------


def test_migrate_is_idempotent_and_keeps_the_data(pg_dsn: str, pg_store: PostgresStore) -> None:
    newest = max(version for version, _ in migrations())
    with pg_store() as uow:
        uow.wallets.add(Wallet("acct-1", "INR"))
        uow.commit()
    assert migrate(pg_dsn, schema=pg_store.schema) == newest
    assert migrate(pg_dsn, schema=pg_store.schema) == newest
    with pg_store() as uow:
        assert uow.wallets.get("acct-1").version == 1


def test_servers_migrating_at_once_all_succeed(pg_dsn: str, pg_schema: str) -> None:
    newest = max(version for version, _ in migrations())
    with ThreadPoolExecutor(4) as pool:
        versions = list(pool.map(lambda _: migrate(pg_dsn, schema=pg_schema), range(4)))
    assert versions == [newest] * 4
    with psycopg.connect(pg_dsn) as conn:
        table = sql.Identifier(pg_schema, "minutebill_schema")
        rows = conn.execute(sql.SQL("SELECT version FROM {}").format(table)).fetchall()
    assert rows == [(version,) for version, _ in migrations()]  # each recorded once


@pytest.mark.parametrize(
    "schema",
    ["", "Public", "a-b", "1st", 'x"; DROP SCHEMA public; --', "pg_catalog", "a" * 64, 42],
)
def test_a_schema_name_must_be_a_plain_identifier(schema: object) -> None:
    # Refused before any connection is tried (the DSN points nowhere).
    dsn = nobody_listening()
    with pytest.raises(ValidationError) as raised:
        migrate(dsn, schema=schema)  # type: ignore[arg-type]
    assert raised.value.field == "schema"
    with pytest.raises(ValidationError):
        PostgresStore(dsn, schema=schema)  # type: ignore[arg-type]


def test_schemas_keep_stores_apart(pg_dsn: str) -> None:
    first, second = new_schema_name(), new_schema_name()
    try:
        with PostgresStore(pg_dsn, schema=first) as a, PostgresStore(pg_dsn, schema=second) as b:
            billing(a).subscribe("acct-1", "starter", timezone="UTC")
            with b() as uow:
                assert uow.ledgers.find("acct-1") is None
            with a() as uow:
                assert uow.ledgers.find("acct-1") is not None
    finally:
        drop_schema(pg_dsn, first)
        drop_schema(pg_dsn, second)
