"""PostgreSQL store for many app servers sharing one database (extra ``minutebill[postgres]``).

psycopg 3 with a connection pool. Isolation is READ COMMITTED with row locks: every unit of
work locks the documents it reads (``SELECT … FOR UPDATE``), so two servers settling calls for
the same account take turns on that account's ledger row instead of failing and retrying, and
updates are still conditional on the version as a second line of defence. Unique keys make
every call id, idempotency key and (item, period) renewal exactly-once in the database itself.

A call settlement takes two round trips: the first read is sent together with ``BEGIN`` in one
pipeline, and every write of the commit is sent together with ``COMMIT`` in another.
Driver errors become `PersistenceError`s (retryable for serialization failures, deadlocks and
lost connections).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib.resources import files
from typing import Any, Self

from minutebill.adapters._documents import (
    DocumentUnitOfWork,
    Kinds,
    StoredDocument,
    Transaction,
    WriteBatch,
)
from minutebill.adapters._kinds import default_kinds
from minutebill.errors import (
    ConcurrencyConflict,
    IdempotencyConflict,
    MinutebillError,
    PersistenceError,
    ValidationError,
)

try:
    import psycopg
    from psycopg import errors as pg_errors
    from psycopg_pool import ConnectionPool
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "minutebill.adapters.postgres needs the extra: pip install 'minutebill[postgres]'"
    ) from exc

__all__ = ["PostgresStore", "migrate", "migrations"]

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_LOCK_ID = 0x6D696E75  # "minu": serialises concurrent migrations


def migrations() -> list[tuple[int, str]]:
    """The packaged migrations as ``(version, sql)``, in order."""
    folder = files("minutebill.adapters.sql").joinpath("postgres")
    return sorted(
        (int(entry.name.split("_", 1)[0]), entry.read_text(encoding="utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".sql")
    )


def _retryable(exc: psycopg.Error) -> bool:
    return isinstance(
        exc,
        pg_errors.SerializationFailure
        | pg_errors.DeadlockDetected
        | pg_errors.LockNotAvailable
        | psycopg.OperationalError,
    )


def _translate(exc: psycopg.Error) -> MinutebillError:
    primary = exc.diag.message_primary or str(exc)
    if isinstance(exc, pg_errors.SerializationFailure) and "stale version of " in primary:
        return ConcurrencyConflict(primary.split("stale version of ", 1)[1], 0)
    return PersistenceError(f"PostgreSQL: {exc}".strip(), retryable=_retryable(exc))


@contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except psycopg.Error as exc:
        raise _translate(exc) from exc


def _check_schema(schema: str) -> str:
    if not _SCHEMA_NAME.match(schema):
        raise ValidationError("schema", schema, "a lower-case SQL identifier")
    return schema


def migrate(dsn: str, *, schema: str = "public") -> int:
    """Create or upgrade minutebill's tables in `schema`; returns the schema version.

    Safe to run from several servers at once (an advisory lock serialises them).

    Raises:
        PersistenceError: if the database cannot be reached or a migration fails.
    """
    _check_schema(schema)
    with _translated(), psycopg.connect(dsn, autocommit=False) as conn:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_ID,))
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        conn.execute(f'SET LOCAL search_path TO "{schema}"')
        conn.execute("CREATE TABLE IF NOT EXISTS minutebill_schema (version integer NOT NULL)")
        row = conn.execute("SELECT max(version) FROM minutebill_schema").fetchone()
        current = int(row[0]) if row and row[0] is not None else 0
        for version, sql in migrations():
            if version > current:
                conn.execute(sql.encode())
                conn.execute("INSERT INTO minutebill_schema (version) VALUES (%s)", (version,))
                current = version
        conn.commit()
    return current


class PostgresStore:
    """A minutebill store in a PostgreSQL database.

    Args:
        dsn: A libpq connection string.
        schema: The schema holding minutebill's tables (created by `migrate`).
        min_size: Connections the pool keeps open.
        max_size: Connections the pool opens at most: size it to the unit-of-work concurrency
            of one app server (threads that bill at once), not to the number of accounts.
        kinds: The aggregate kinds kept (default: minutebill's own).
        auto_migrate: Run `migrate` on construction.

    Raises:
        PersistenceError: if the database cannot be reached.
    """

    def __init__(
        self,
        dsn: str,
        *,
        schema: str = "public",
        min_size: int = 1,
        max_size: int = 8,
        kinds: Kinds | None = None,
        auto_migrate: bool = True,
    ) -> None:
        self.schema = _check_schema(schema)
        if auto_migrate:
            migrate(dsn, schema=schema)
        self._kinds = kinds or default_kinds()
        with _translated():
            self._pool = ConnectionPool(
                dsn,
                min_size=min_size,
                max_size=max_size,
                kwargs={"autocommit": True, "options": f"-c search_path={schema}"},
                open=True,
            )

    def unit_of_work(self) -> DocumentUnitOfWork:
        """A new unit of work (enter it with ``with``)."""
        return DocumentUnitOfWork(lambda: _PostgresTransaction(self._pool), self._kinds)

    __call__ = unit_of_work

    def close(self) -> None:
        """Close the pool."""
        self._pool.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_DOC = "SELECT account_id, key, version, state FROM minutebill_documents"


class _PostgresTransaction(Transaction):
    """One unit of work's connection.

    BEGIN goes out with the first statement, COMMIT with the writes.
    """

    def __init__(self, pool: ConnectionPool[Any]) -> None:
        self._pool = pool
        with _translated():
            self._conn: psycopg.Connection[Any] = pool.getconn()
        self._begun = False
        self._open = True

    def _rows(self, sql: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        conn = self._conn
        with _translated():
            if not self._begun:
                with conn.pipeline():
                    conn.execute("BEGIN")
                    cursor = conn.execute(sql, params)
                    self._begun = True
                    return cursor.fetchall()
            return conn.execute(sql, params).fetchall()

    def _docs(self, sql: str, params: Sequence[object]) -> list[StoredDocument]:
        return [StoredDocument(a, k, v, s) for a, k, v, s in self._rows(sql, params)]

    def load(self, kind: str, account_id: str, key: str) -> StoredDocument | None:
        docs = self._docs(
            f"{_DOC} WHERE account_id = %s AND kind = %s AND key = %s FOR UPDATE",
            (account_id, kind, key),
        )
        return docs[0] if docs else None

    def load_account(self, kind: str, account_id: str) -> list[StoredDocument]:
        return self._docs(
            f"{_DOC} WHERE account_id = %s AND kind = %s ORDER BY key FOR UPDATE",
            (account_id, kind),
        )

    def load_due(
        self, kind: str, due_micros: int, limit: int, after: tuple[int, str, str] | None
    ) -> list[tuple[int, StoredDocument]]:
        # SKIP LOCKED: several workers running due work at once split it between them.
        start = after if after is not None else (-(2**63), "", "")
        rows = self._rows(
            "SELECT due_micros, account_id, key, version, state FROM minutebill_documents"
            " WHERE kind = %s AND due_micros <= %s AND (due_micros, account_id, key) > (%s, %s, %s)"
            " ORDER BY due_micros, account_id, key LIMIT %s FOR UPDATE SKIP LOCKED",
            (kind, due_micros, *start, limit),
        )
        return [(int(m), StoredDocument(a, k, v, s)) for m, a, k, v, s in rows]

    def load_by_reference(self, kind: str, reference: str) -> StoredDocument | None:
        docs = self._docs(
            f"{_DOC} WHERE kind = %s AND reference = %s FOR UPDATE", (kind, reference)
        )
        return docs[0] if docs else None

    def usage_get(self, account_id: str, call_id: str) -> str | None:
        rows = self._rows(
            "SELECT state FROM minutebill_usage_records WHERE account_id = %s AND call_id = %s",
            (account_id, call_id),
        )
        return str(rows[0][0]) if rows else None

    def usage_page(
        self, account_id: str, before: tuple[int, str] | None, limit: int
    ) -> list[tuple[int, str, str]]:
        if before is None:
            rows = self._rows(
                "SELECT settled_micros, call_id, state FROM minutebill_usage_records"
                " WHERE account_id = %s ORDER BY settled_micros DESC, call_id DESC LIMIT %s",
                (account_id, limit),
            )
        else:
            rows = self._rows(
                "SELECT settled_micros, call_id, state FROM minutebill_usage_records"
                " WHERE account_id = %s AND (settled_micros, call_id) < (%s, %s)"
                " ORDER BY settled_micros DESC, call_id DESC LIMIT %s",
                (account_id, before[0], before[1], limit),
            )
        return [(int(m), str(c), str(s)) for m, c, s in rows]

    def usage_daily(
        self, account_id: str, since: str, until: str, tag: str
    ) -> list[tuple[str, int, int, int]]:
        rows = self._rows(
            "SELECT day, calls, billable_seconds, overage_seconds FROM minutebill_usage_daily"
            " WHERE account_id = %s AND tag = %s AND day >= %s AND day < %s ORDER BY day",
            (account_id, tag, since, until),
        )
        return [(d.isoformat(), int(c), int(b), int(o)) for d, c, b, o in rows]

    def usage_by_tag(
        self, account_id: str, since: str, until: str
    ) -> list[tuple[str, int, int, int]]:
        rows = self._rows(
            "SELECT tag, sum(calls), sum(billable_seconds), sum(overage_seconds)"
            " FROM minutebill_usage_daily WHERE account_id = %s AND tag <> ''"
            " AND day >= %s AND day < %s GROUP BY tag ORDER BY tag",
            (account_id, since, until),
        )
        return [(str(t), int(c), int(b), int(o)) for t, c, b, o in rows]

    def idempotency_get(self, account_id: str, key: str) -> tuple[str, str] | None:
        rows = self._rows(
            "SELECT fingerprint, response FROM minutebill_idempotency"
            " WHERE account_id = %s AND key = %s",
            (account_id, key),
        )
        return (str(rows[0][0]), str(rows[0][1])) if rows else None

    def outbox_since(self, position: int, limit: int) -> list[tuple[int, str, str, int, str]]:
        rows = self._rows(
            "SELECT position, account_id, name, occurred_micros, payload FROM minutebill_outbox"
            " WHERE position > %s ORDER BY position LIMIT %s",
            (position, limit),
        )
        return [(int(p), str(a), str(n), int(m), str(j)) for p, a, n, m, j in rows]

    def _queue_writes(self, batch: WriteBatch) -> None:
        conn = self._conn
        for w in batch.documents:
            name = f"{w.kind} {w.account_id}/{w.key}".rstrip("/")
            if w.expected_version is None:
                conn.execute(
                    "INSERT INTO minutebill_documents (account_id, kind, key, version,"
                    " due_micros, reference, state) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    (w.account_id, w.kind, w.key, w.version, w.due_micros, w.reference, w.state),
                )
            else:
                conn.execute(
                    "WITH updated AS (UPDATE minutebill_documents SET version = %s,"
                    " due_micros = %s, reference = %s, state = %s WHERE account_id = %s"
                    " AND kind = %s AND key = %s AND version = %s RETURNING 1)"
                    " SELECT CASE WHEN EXISTS (SELECT 1 FROM updated) THEN 1"
                    " ELSE minutebill_stale_version(%s) END",
                    (
                        w.version,
                        w.due_micros,
                        w.reference,
                        w.state,
                        w.account_id,
                        w.kind,
                        w.key,
                        w.expected_version,
                        name,
                    ),
                )
        for row in batch.usage:
            conn.execute(
                "INSERT INTO minutebill_usage_records (account_id, call_id, settled_micros,"
                " local_day, billable_seconds, overage_seconds, state)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (
                    row.account_id,
                    row.call_id,
                    row.settled_micros,
                    row.local_day,
                    row.billable_seconds,
                    row.overage_seconds,
                    row.state,
                ),
            )
            for tag in ("", *row.tags):
                conn.execute(
                    "INSERT INTO minutebill_usage_daily (account_id, tag, day, calls,"
                    " billable_seconds, overage_seconds) VALUES (%s, %s, %s, 1, %s, %s)"
                    " ON CONFLICT (account_id, tag, day) DO UPDATE SET"
                    " calls = minutebill_usage_daily.calls + 1,"
                    " billable_seconds = minutebill_usage_daily.billable_seconds"
                    " + excluded.billable_seconds,"
                    " overage_seconds = minutebill_usage_daily.overage_seconds"
                    " + excluded.overage_seconds",
                    (row.account_id, tag, row.local_day, row.billable_seconds, row.overage_seconds),
                )
        for account_id, key, fingerprint, response in batch.idempotency:
            conn.execute(
                "INSERT INTO minutebill_idempotency (account_id, key, fingerprint, response)"
                " VALUES (%s, %s, %s, %s)",
                (account_id, key, fingerprint, response),
            )
        for r in batch.outbox:
            conn.execute(
                "INSERT INTO minutebill_outbox (account_id, name, occurred_micros, payload)"
                " VALUES (%s, %s, %s, %s)",
                (r.account_id, r.name, r.occurred_micros, r.payload),
            )

    def write(self, batch: WriteBatch) -> None:
        if not self._open:
            raise MinutebillError("transaction already finished")
        conn = self._conn
        try:
            with conn.pipeline():
                if not self._begun:
                    conn.execute("BEGIN")
                    self._begun = True
                self._queue_writes(batch)
                conn.execute("COMMIT")
            self._begun = False
        except pg_errors.UniqueViolation as exc:
            raise _unique_violation(exc) from exc
        except psycopg.Error as exc:
            raise _translate(exc) from exc
        finally:
            self.close()

    def close(self) -> None:
        if not self._open:
            return
        self._open = False
        conn = self._conn
        try:
            if self._begun or conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                conn.execute("ROLLBACK")
        except psycopg.Error:
            conn.close()  # a broken connection: the pool replaces it
        finally:
            self._pool.putconn(conn)


def _unique_violation(exc: pg_errors.UniqueViolation) -> MinutebillError:
    constraint = getattr(exc.diag, "constraint_name", "") or ""
    detail = getattr(exc.diag, "message_detail", "") or str(exc)
    if "usage_records" in constraint:
        return IdempotencyConflict(detail, "call already settled")
    if "idempotency" in constraint:
        return IdempotencyConflict(detail)
    return ConcurrencyConflict(f"document ({detail})", 0)
