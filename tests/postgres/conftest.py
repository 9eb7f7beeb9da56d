"""PostgreSQL fixtures: one throwaway cluster per session, a fresh schema per test.

The cluster comes from `tests.pg_cluster.postgres_dsn` (``MINUTEBILL_POSTGRES_DSN``, or
``initdb``/``pg_ctl`` on loopback). When neither is possible every test here is skipped with a
reason that says how to enable them; ``.ci/run`` refuses such skips. Each test gets its own
schema (dropped afterwards), so they can share a server with other data. The throwaway
cluster's databases sort text by language rules (ICU en-US), as most real servers do, so no
test creates a database; only against a server whose own database sorts by code point (a
given DSN, or a server without ICU) does `pg_collated_dsn` create one, for the collation tests.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Iterator
from contextlib import ExitStack

import psycopg
import pytest

from minutebill.adapters.postgres import PostgresStore
from tests.pg_cluster import HOW_TO_ENABLE, ClusterUnavailable, collated_dsn, postgres_dsn

_RUN = uuid.uuid4().hex[:6]
_SCHEMAS = itertools.count(1)


def new_schema_name() -> str:
    """A schema name no other test (nor another test run on the same server) uses."""
    return f"mbt_{_RUN}_{os.getpid()}_{next(_SCHEMAS)}"


def drop_schema(dsn: str, schema: str) -> None:
    """Drop a test schema and everything in it."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(scope="session")
def pg_dsn() -> Iterator[str]:
    """A DSN of a PostgreSQL server the tests may use freely (skips when there is none)."""
    with ExitStack() as stack:
        try:
            dsn = stack.enter_context(postgres_dsn())
        except ClusterUnavailable as exc:
            reason = str(exc)
            if HOW_TO_ENABLE not in reason:
                reason = f"{reason}; {HOW_TO_ENABLE}"
            pytest.skip(f"PostgreSQL tests need a server: {reason}")
        yield dsn


@pytest.fixture(scope="session")
def pg_collated_dsn(pg_dsn: str) -> Iterator[str]:
    """A DSN of a database whose default collation sorts text by language (ICU en-US, say).

    Skips, saying why, when the server has no such database and cannot create one.
    """
    with ExitStack() as stack:
        try:
            dsn = stack.enter_context(collated_dsn(pg_dsn))
        except ClusterUnavailable as exc:
            pytest.skip(f"PostgreSQL collation tests need a database: {exc}")
        yield dsn


@pytest.fixture
def pg_schema(pg_dsn: str) -> Iterator[str]:
    """A fresh schema name for this test (dropped afterwards)."""
    schema = new_schema_name()
    yield schema
    drop_schema(pg_dsn, schema)


@pytest.fixture
def pg_store(pg_dsn: str, pg_schema: str) -> Iterator[PostgresStore]:
    """A migrated, empty `PostgresStore` in this test's own schema."""
    store = PostgresStore(pg_dsn, schema=pg_schema, max_size=4)
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
def one_connection(pg_dsn: str, pg_schema: str) -> Iterator[PostgresStore]:
    """A `PostgresStore` with a single connection, so that its protocol trace is all of it."""
    with PostgresStore(pg_dsn, schema=pg_schema, min_size=1, max_size=1) as store:
        yield store
