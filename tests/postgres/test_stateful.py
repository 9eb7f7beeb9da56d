"""`Billing` on PostgreSQL answers and stores exactly what `Billing` on `MemoryStore` does.

The comparison machine of `minutebill.testing.stateful` runs random sessions of use cases
(calls, checkouts with duplicated and reordered webhooks, numbers, plan changes, due work)
against both stores and compares every answer and every stored document after each step.
Examples share one schema, emptied (TRUNCATE) before each, since creating a schema per
example would cost more than the example.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg
import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from minutebill._unit_of_work import UnitOfWork
from minutebill.adapters.postgres import PostgresStore
from minutebill.testing.stateful import billing_machine

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

_TABLES = (
    "minutebill_documents",
    "minutebill_usage_records",
    "minutebill_usage_daily",
    "minutebill_idempotency",
    "minutebill_outbox",
)


def _empty(dsn: str, schema: str) -> None:
    tables = ", ".join(f'"{schema}".{table}' for table in _TABLES)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"TRUNCATE {tables} RESTART IDENTITY")


def test_billing_on_postgres_matches_billing_in_memory(
    pg_dsn: str, pg_store: PostgresStore
) -> None:
    @contextmanager
    def fresh_store() -> Iterator[Callable[[], UnitOfWork]]:
        _empty(pg_dsn, pg_store.schema)
        yield pg_store.unit_of_work

    machine = billing_machine(fresh_store, name="PostgresAgainstMemory")
    current = settings()
    run_state_machine_as_test(
        machine,
        settings=settings(
            current,
            max_examples=max(8, current.max_examples // 6),
            stateful_step_count=20,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
