"""PostgreSQL store for many app servers sharing one database (extra ``minutebill[postgres]``).

psycopg 3 with a connection pool. Isolation is READ COMMITTED with row locks: every unit of
work locks the documents it reads (``SELECT … FOR UPDATE``), so two servers settling calls for
the same account take turns on that account's rows instead of failing and retrying, and
updates are still conditional on the version as a second line of defence. An account's
subscription, ledger and wallet are locked together, always in that order, the first time a
unit of work reads any of them, so the use cases that need several of them cannot deadlock on
each other. Unique keys make every call id, idempotency key and (item, period) renewal payment
exactly-once in the database itself.

A call settlement takes one round trip when this process committed the account last, two
otherwise. Each connection prepares minutebill's statements once (server-side ``PREPARE``); a
unit of work then sends ``BEGIN`` and its first read as one message, and its writes together
with ``COMMIT`` as another (the simple query protocol runs several statements per message,
stopping at the first error). The first read, of the account's documents, is skipped when the
store still has them as it committed them: the writes' message then starts with a statement
that locks those rows and checks their versions (see `minutebill.adapters._account_cache`).
The writes of a small commit, such as a settlement's, are ONE statement (data-modifying CTEs),
prepared per connection for each shape of commit it meets. Driver errors become
`PersistenceError`s (retryable for serialization failures, deadlocks, lock timeouts and lost
connections); a stale version becomes `ConcurrencyConflict`, a taken call id or idempotency key
`IdempotencyConflict`.

The outbox is read up to its settled position only, so a reader never skips an event that
commits after one with a larger position (see `minutebill.adapters._outbox_horizon`).

Every text column of a key or an index is declared ``COLLATE "C"`` (schema version 2), so
ids order and keyset cursors compare by code point, as in every other store, whatever the
database's default collation; the indexes serve those orders as they are.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib.resources import files
from typing import Any, Self

from minutebill.adapters._account_cache import AccountCache, AccountDocuments
from minutebill.adapters._documents import DocumentUnitOfWork, Kinds
from minutebill.adapters._kinds import default_kinds
from minutebill.adapters._outbox_horizon import OutboxHorizon, in_progress
from minutebill.adapters._postgres_sql import (
    ONE_STATEMENT_ROWS,
    PIECES,
    READ_ONLY,
    SESSION,
    SHAPES_PER_CONNECTION,
    STATEMENTS,
    Shape,
    commit_rows,
    commit_statement,
    execute_prepared,
    literal,
    load_cell,
)
from minutebill.adapters._transaction import StoredDocument, Transaction, WriteBatch
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
    from psycopg import pq
    from psycopg.conninfo import conninfo_to_dict
    from psycopg_pool import ConnectionPool
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "minutebill.adapters.postgres needs the extra: pip install 'minutebill[postgres]'"
    ) from exc

__all__ = ["PostgresStore", "migrate", "migrations"]

_SCHEMA_NAME = re.compile(r"^(?!pg_)[a-z_][a-z0-9_]{0,62}$")
_LOCK_ID = 0x6D696E75  # "minu": serialises concurrent migrations
_STALE = "minutebill: stale version of "


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


def _translate(exc: psycopg.Error) -> PersistenceError:
    hint = ""
    if isinstance(exc, pg_errors.UndefinedTable | pg_errors.UndefinedFunction):
        hint = " (run minutebill.adapters.postgres.migrate(dsn, schema=...) first)"
    return PersistenceError(f"PostgreSQL: {exc}{hint}".strip(), retryable=_retryable(exc))


@contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except psycopg.Error as exc:
        raise _translate(exc) from exc


def _check_schema(schema: object) -> str:
    if not isinstance(schema, str) or not _SCHEMA_NAME.match(schema):
        raise ValidationError(
            "schema", schema, "a lower-case SQL identifier of at most 63 characters, not pg_*"
        )
    return schema


def migrate(dsn: str, *, schema: str = "public") -> int:
    """Create or upgrade minutebill's tables in `schema`; returns the schema version.

    Idempotent, and safe to run from several servers at once (an advisory lock serialises
    them; each migration runs in the same transaction as the version it records).

    Raises:
        ValidationError: for a schema name that is not a plain lower-case identifier.
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
        timeout: Seconds to wait for a free connection (and, on construction, for the first).
        kinds: The aggregate kinds kept (default: minutebill's own).
        auto_migrate: Run `migrate` on construction.
        cached_accounts: Accounts whose documents the store keeps as it last committed them,
            so that a unit of work on one of them decides without reading them first and
            sends one message less (a settlement: one round trip instead of two); the
            message that follows locks and checks them. 0 reads every account under lock
            first. Size it to the accounts one app server bills in a while (each takes a
            few kilobytes).

    Raises:
        ValidationError: for a schema name that is not a plain lower-case identifier, or a
            negative `cached_accounts`.
        PersistenceError: if the database cannot be reached.
    """

    def __init__(
        self,
        dsn: str,
        *,
        schema: str = "public",
        min_size: int = 1,
        max_size: int = 8,
        timeout: float = 30.0,
        kinds: Kinds | None = None,
        auto_migrate: bool = True,
        cached_accounts: int = 4096,
    ) -> None:
        self.schema = _check_schema(schema)
        if type(cached_accounts) is not int or cached_accounts < 0:
            raise ValidationError("cached_accounts", cached_accounts, "a whole number, 0 or more")
        self._accounts = AccountCache(cached_accounts)
        self._outbox = OutboxHorizon()
        if auto_migrate:
            migrate(dsn, schema=schema)
        self._kinds = kinds or default_kinds()
        # An account's one-per-account documents, in the order units of work lock them.
        self._account_kinds = (
            self._kinds.subscriptions.name,
            self._kinds.ledgers.name,
            self._kinds.wallets.name,
        )
        # The pool's connections that have the statements, each with the commit shapes it
        # has prepared besides (see `commit_statement`).
        self._sessions: weakref.WeakKeyDictionary[psycopg.Connection[Any], set[Shape]] = (
            weakref.WeakKeyDictionary()
        )
        with _translated():
            options = str(conninfo_to_dict(dsn).get("options") or "")
        options = f"{options} -c search_path={schema}".strip()  # keep the DSN's own options
        self._pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            dsn,
            min_size=min_size,
            max_size=max_size,
            timeout=timeout,
            kwargs={
                "autocommit": True,
                "prepare_threshold": None,  # minutebill prepares its own statements
                "client_encoding": "UTF8",  # the literals and results are UTF-8
                "options": options,
            },
            open=False,
        )
        try:
            self._pool.open(wait=True, timeout=timeout)
        except psycopg.Error as exc:
            self._pool.close()
            raise _translate(exc) from exc

    def unit_of_work(
        self, *, read_only: bool = False, optimistic: bool = False
    ) -> DocumentUnitOfWork:
        """A new unit of work (enter it with ``with``).

        A ``read_only`` one reads one snapshot (``REPEATABLE READ, READ ONLY``), locks no row,
        and cannot commit: reads never wait for settlements, nor hold them up.

        An ``optimistic`` one takes an account's subscription, ledger and wallet as this store
        last committed them, when it has them (see `cached_accounts`), instead of reading them
        under lock, and locks and checks them with its next message to the server: a read,
        or its commit. So any of those may raise `ConcurrencyConflict` if another server
        changed the account meanwhile, and the work must then run again, as `Billing` does
        (it asks for optimistic units of work). Nothing is written by a unit that raised.
        """
        return DocumentUnitOfWork(
            lambda: self._transaction(read_only=read_only, optimistic=optimistic),
            self._kinds,
            read_only=read_only,
        )

    __call__ = unit_of_work

    def _transaction(self, *, read_only: bool, optimistic: bool = False) -> Transaction:
        """A transaction on a pooled connection (the one place tests swap in their own)."""
        return _PostgresTransaction(
            self._pool,
            self._sessions,
            self._account_kinds,
            self._accounts,
            read_only=read_only,
            optimistic=optimistic and not read_only,
            outbox=self._outbox,
        )

    def close(self) -> None:
        """Close the pool."""
        self._pool.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _PostgresTransaction(Transaction):
    """One unit of work's connection: ``BEGIN`` goes with the first read, COMMIT with the writes.

    Statements go out as text through the simple query protocol, several in one message, and
    the server answers with the result of the last one (or the first error, having run none
    after it). libpq's ``PQexec`` does exactly that with the least work on the client.
    """

    def __init__(
        self,
        pool: ConnectionPool[psycopg.Connection[Any]],
        sessions: weakref.WeakKeyDictionary[psycopg.Connection[Any], set[Shape]],
        account_kinds: tuple[str, str, str],
        accounts: AccountCache,
        *,
        read_only: bool = False,
        optimistic: bool = False,
        outbox: OutboxHorizon | None = None,
    ) -> None:
        self._read_only = read_only
        self._outbox = outbox if outbox is not None else OutboxHorizon()
        # Found before this transaction's snapshot, so every position up to it is visible in it.
        self._outbox_settled = self._outbox.settled
        self._begin = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY;" if read_only else "BEGIN;"
        self._pool = pool
        self._sessions = sessions
        self._account_kinds = account_kinds  # in the order they are locked
        self._accounts = accounts
        self._optimistic = optimistic
        self._locked_accounts: set[str] = set()
        self._account_docs: dict[tuple[str, str], StoredDocument] = {}
        # Accounts whose documents came from the cache and are not locked and checked yet:
        # the next message starts by doing so.
        self._unchecked: list[str] = []
        try:
            self._conn: psycopg.Connection[Any] = pool.getconn()
        except psycopg.Error as exc:
            raise _translate(exc) from exc
        self._begun = False
        self._open = True

    def _exec(self, text: str) -> pq.abc.PGresult:
        if "\x00" in text:
            raise ValidationError("text", text[:40], "PostgreSQL text cannot hold NUL characters")
        pgconn = self._conn.pgconn
        result = pgconn.exec_(text.encode())
        if pgconn.status == pq.ConnStatus.BAD:  # the server went away: worth another try
            message = pgconn.get_error_message().strip()
            raise psycopg.OperationalError(message or "the connection was lost")
        if result.status == pq.ExecStatus.FATAL_ERROR:
            raise pg_errors.error_from_result(result)
        return result

    def _session(self) -> set[Shape]:
        """The commit shapes the connection has prepared (its statements prepared first)."""
        if not self._open:
            raise MinutebillError("transaction already finished")
        shapes = self._sessions.get(self._conn)
        if shapes is None:
            self._exec(SESSION)
            shapes = self._sessions[self._conn] = set()
        return shapes

    def _send(self, text: str) -> pq.abc.PGresult:
        """Send one message (after BEGIN, on the first); the result of its last statement.

        The message first locks and checks the accounts decided on from the cache, if any.

        Raises:
            ConcurrencyConflict: if one of them changed since (the cache forgets it).
        """
        self._session()
        unchecked = self._unchecked
        if unchecked:
            text = ";".join([*map(self._check_account, unchecked), text])
        try:
            result = self._exec(text if self._begun else self._begin + text)
        except pg_errors.SerializationFailure as exc:
            stale = _stale_account(exc, unchecked)
            if stale is None:
                raise
            self._accounts.stale(stale)
            raise ConcurrencyConflict(_account_name(stale), 0) from exc
        self._begun = True
        unchecked.clear()
        return result

    def _check_account(self, account_id: str) -> str:
        """The statement that locks the account's documents and checks what was decided on."""
        kinds = self._account_kinds
        expected = ",".join(
            f"{kind}:{self._account_docs[(kind, account_id)].version}"
            for kind in sorted(kinds)
            if (kind, account_id) in self._account_docs
        )
        return execute_prepared(
            "check_account", (account_id, *kinds, _account_name(account_id), expected)
        )

    def _result(self, name: str, params: Sequence[object]) -> pq.abc.PGresult:
        # A plain try: the `_translated` context manager costs more than the rest of a read.
        if self._read_only:
            name = READ_ONLY.get(name, name)
        try:
            return self._send(execute_prepared(name, params))
        except psycopg.Error as exc:
            raise _translate(exc) from exc

    def _rows(self, name: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        columns = STATEMENTS[name][2]
        result = self._result(name, params)
        return [
            tuple(
                load_cell(kind, result.get_value(row, column))
                for column, kind in enumerate(columns)
            )
            for row in range(result.ntuples)
        ]

    def _docs(self, name: str, params: Sequence[object]) -> list[StoredDocument]:
        return [StoredDocument(a, k, v, s) for a, k, v, s in self._rows(name, params)]

    def load(self, kind: str, account_id: str, key: str) -> StoredDocument | None:
        """One document, locked.

        The first time a unit of work asks for one of an account's one-per-account documents
        (its subscription, ledger or wallet), all three are locked at once, in that order, and
        kept: so units of work that need several of them (a settlement charging overage to the
        wallet, a top-up renewing a plan, the renewal job) always lock them in the same order
        and cannot deadlock on each other, and the later reads cost no round trip.
        """
        if key == "" and kind in self._account_kinds:
            if account_id not in self._locked_accounts:
                self._lock_account(account_id)
            return self._account_docs.get((kind, account_id))
        docs = self._docs("load", (account_id, kind, key))
        return docs[0] if docs else None

    def exists(self, kind: str, account_id: str, key: str) -> bool:
        """Whether the document is stored, asked without locking or fetching it."""
        if key == "" and kind in self._account_kinds and account_id in self._locked_accounts:
            return (kind, account_id) in self._account_docs
        with _translated():
            result = self._send(  # every value is quoted by literal
                "SELECT 1 FROM minutebill_documents WHERE account_id = "  # noqa: S608
                f"{literal(account_id)} AND kind = {literal(kind)} AND key = {literal(key)}"
            )
        return bool(result.ntuples)

    def _lock_account(self, account_id: str) -> None:
        # The cache stands in for the unit's first read only: a unit that read something else
        # first (a page of due work) would risk all of its work on an account it may not have
        # committed for a long time.
        if self._optimistic and not self._begun and not self._unchecked:
            cached = self._accounts.get(account_id)
            if cached is not None:  # decide on these; the next message locks and checks them
                self._locked_accounts.add(account_id)
                self._unchecked.append(account_id)
                for kind, doc in cached.items():
                    self._account_docs[(kind, account_id)] = doc
                return
        result = self._result("lock_account", (account_id, *self._account_kinds))
        self._locked_accounts.add(account_id)
        cell = result.get_value  # every column is NOT NULL
        read: AccountDocuments = {}
        for row in range(result.ntuples):
            kind = (cell(row, 0) or b"").decode()
            version, state = cell(row, 1) or b"", cell(row, 2) or b""
            doc = read[kind] = StoredDocument(account_id, "", int(version), state.decode())
            self._account_docs[(kind, account_id)] = doc
        if not self._read_only:
            self._accounts.put(account_id, read)

    def _remember_committed(self, batch: WriteBatch) -> None:
        """Keep the locked accounts' documents as this commit left them, for the next unit."""
        docs = self._account_docs
        kinds = self._account_kinds
        for w in batch.documents:
            if w.key == "" and w.kind in kinds and w.account_id in self._locked_accounts:
                docs[(w.kind, w.account_id)] = StoredDocument(w.account_id, "", w.version, w.state)
        for account_id in self._locked_accounts:
            self._accounts.put(
                account_id,
                {kind: docs[(kind, account_id)] for kind in kinds if (kind, account_id) in docs},
            )

    def load_account(self, kind: str, account_id: str) -> list[StoredDocument]:
        return self._docs("load_account", (account_id, kind))

    def load_due(
        self, kind: str, due_micros: int, limit: int, after: tuple[int, str, str] | None
    ) -> list[tuple[int, StoredDocument]]:
        start = after if after is not None else (-(2**63), "", "")
        rows = self._rows("load_due", (kind, due_micros, *start, limit))
        return [(int(m), StoredDocument(a, k, v, s)) for m, a, k, v, s in rows]

    def load_by_reference(self, kind: str, reference: str) -> StoredDocument | None:
        docs = self._docs("load_by_reference", (kind, reference))
        return docs[0] if docs else None

    def usage_get(self, account_id: str, call_id: str) -> str | None:
        rows = self._rows("usage_get", (account_id, call_id))
        return str(rows[0][0]) if rows else None

    def usage_page(
        self, account_id: str, before: tuple[int, str] | None, limit: int
    ) -> list[tuple[int, str, str]]:
        if before is None:
            rows = self._rows("usage_first", (account_id, limit))
        else:
            rows = self._rows("usage_after", (account_id, before[0], before[1], limit))
        return [(int(m), str(c), str(s)) for m, c, s in rows]

    def usage_daily(
        self, account_id: str, since: str, until: str, tag: str
    ) -> list[tuple[str, int, int, int]]:
        rows = self._rows("usage_daily", (account_id, tag, since, until))
        return [(str(d), int(c), int(b), int(o)) for d, c, b, o in rows]

    def usage_by_tag(
        self, account_id: str, since: str, until: str
    ) -> list[tuple[str, int, int, int]]:
        rows = self._rows("usage_by_tag", (account_id, since, until))
        return [(str(t), int(c), int(b), int(o)) for t, c, b, o in rows]

    def idempotency_get(self, account_id: str, key: str) -> tuple[str, str] | None:
        rows = self._rows("idempotency_get", (account_id, key))
        return (str(rows[0][0]), str(rows[0][1])) if rows else None

    def outbox_since(self, position: int, limit: int) -> list[tuple[int, str, str, int, str]]:
        """The events after `position`, up to the settled position only (`_outbox_horizon`).

        A unit of work that reads the outbox before anything else probes the outbox first,
        outside its transaction, so its snapshot has every event committed before the probe
        unless a transaction then in progress is still running; a reader that polls moves on
        however busy the database is. One that read something else first has its snapshot
        already and reads up to the horizon as it was then.
        """
        if not self._begun:
            self._probe_outbox()
        settled = self._settled_outbox()
        rows = self._rows("outbox_since", (position, limit, settled))
        return [(int(p), str(a), str(n), int(m), str(j)) for p, a, n, m, j in rows]

    def _probe_outbox(self) -> None:
        """Read the sequence's last value, then the transactions in progress.

        In a transaction of its own (READ COMMITTED: each statement has its own snapshot,
        in order) before this unit's. A snapshot lists the transactions in progress below its
        ``xmax`` only; the ones above it are all below the id this probe then takes for
        itself, so the probe waits for those ids too. Its commit waits for no disk flush:
        it wrote nothing.
        """
        conn = self._conn
        with _translated(), conn.transaction():
            conn.execute("SET LOCAL synchronous_commit TO off")
            [(last,)] = conn.execute(
                "SELECT coalesce(pg_sequence_last_value("
                "'minutebill_outbox_position_seq'::regclass), 0)"
            ).fetchall()
            [(snapshot, own)] = conn.execute(
                "SELECT txid_current_snapshot()::text, txid_current()"
            ).fetchall()
        self._outbox.record(int(last), in_progress(snapshot, int(own)))

    def _settled_outbox(self) -> int:
        """The settled position for this transaction's snapshot (starting it if need be)."""
        # As found before the snapshot: a newer one may count on commits it cannot see.
        settled = self._outbox_settled if self._begun else self._outbox.settled
        waiting = self._outbox.waiting(settled)
        ended: frozenset[int] = frozenset()
        if waiting:
            listed = ",".join(map(str, sorted(waiting)))
            with _translated():
                result = self._send(
                    f"SELECT x FROM unnest('{{{listed}}}'::bigint[]) AS x"  # noqa: S608 - ints
                    " WHERE txid_visible_in_snapshot(x, txid_current_snapshot())"
                )
            ended = frozenset(
                int(result.get_value(row, 0) or b"0") for row in range(result.ntuples)
            )
        self._outbox_settled = self._outbox.settle(settled, ended)  # for this snapshot
        return self._outbox_settled

    def _commit_message(self, batch: WriteBatch) -> tuple[str, Shape | None]:
        """The batch's writes and COMMIT as one message, and the shape it prepares (if any)."""
        rows = commit_rows(batch)
        shape = tuple(map(len, rows))
        shapes = self._session()
        if not any(shape):
            return "COMMIT", None
        if sum(shape) > ONE_STATEMENT_ROWS or (
            shape not in shapes and len(shapes) >= SHAPES_PER_CONNECTION
        ):
            statements = [
                execute_prepared(p.name, row)
                for p, each in zip(PIECES, rows, strict=True)
                for row in each
            ]
            return ";".join([*statements, "COMMIT"]), None
        # The hot path of every settlement: one EXECUTE of the shape's statement.
        name, prepare = commit_statement(shape)
        params = ", ".join([literal(value) for each in rows for row in each for value in row])
        execute = f"EXECUTE {name}({params});COMMIT"
        if shape in shapes:
            return execute, None
        return f"{prepare};{execute}", shape

    def write(self, batch: WriteBatch) -> None:
        prepares = None
        try:
            if not batch and not self._begun and not self._unchecked:
                return  # nothing was read nor is written: no transaction to end
            # One message: every write, then COMMIT; the server stops at the first error.
            message, prepares = self._commit_message(batch)
            self._send(message)
            if prepares is not None:
                self._session().add(prepares)
            self._remember_committed(batch)
        except psycopg.Error as exc:
            if prepares is not None:  # PREPARE outlives a rollback: start the session over
                self._sessions.pop(self._conn, None)
            if isinstance(exc, pg_errors.UniqueViolation):
                raise _unique_violation(exc) from exc
            if isinstance(exc, pg_errors.SerializationFailure):
                raise _stale(exc, batch) from exc
            raise _translate(exc) from exc
        finally:
            self.close()

    def verify(self) -> None:
        """Check the account decided on from the cache, if it is not checked yet.

        Only before an error ends the unit: the check and ``ROLLBACK`` go in one message.
        """
        if self._unchecked:
            with _translated():
                self._send("ROLLBACK")

    def close(self) -> None:
        if not self._open:
            return
        self._open = False
        conn = self._conn
        try:
            if conn.pgconn.transaction_status != pq.TransactionStatus.IDLE:
                conn.execute("ROLLBACK")
        except psycopg.Error:
            conn.close()  # a broken connection: the pool replaces it
        finally:
            self._pool.putconn(conn)


def _account_name(account_id: str) -> str:
    return f"the documents of account {account_id}"


def _stale_account(exc: pg_errors.SerializationFailure, accounts: list[str]) -> str | None:
    """Which of `accounts` the account check found changed, if that is what `exc` says."""
    primary = exc.diag.message_primary or ""
    for account_id in accounts:
        if primary == _STALE + _account_name(account_id):
            return account_id
    return None


def _stale(exc: pg_errors.SerializationFailure, batch: WriteBatch) -> MinutebillError:
    """A stale version as `ConcurrencyConflict` (other serialization failures: retryable)."""
    primary = exc.diag.message_primary or ""
    if not primary.startswith(_STALE):
        return _translate(exc)
    name = primary.removeprefix(_STALE)
    for w in batch.documents:
        if w.name == name:
            return ConcurrencyConflict(name, w.expected_version or 0)
    return ConcurrencyConflict(name, 0)  # pragma: no cover - the name is always in the batch


def _unique_violation(exc: pg_errors.UniqueViolation) -> MinutebillError:
    constraint = exc.diag.constraint_name or ""
    detail = exc.diag.message_detail or str(exc)
    if constraint.startswith("minutebill_usage_records"):
        return IdempotencyConflict(detail, "call already settled")
    if constraint.startswith("minutebill_idempotency"):
        return IdempotencyConflict(detail)
    return ConcurrencyConflict(f"document ({detail})", 0)
