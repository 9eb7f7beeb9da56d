"""The embedded durable default: SQLite through the standard library's `sqlite3`.

One database file, safe for several threads and several processes: WAL journaling,
``BEGIN IMMEDIATE`` for every unit of work (the write lock is taken before the first read, so
no two writers ever interleave and no update is lost), a busy timeout instead of instant
"database is locked" errors, and ``synchronous=FULL`` by default so an acknowledged commit
survives power loss (``NORMAL`` keeps every commit atomic and consistent, and may lose the last
few after a power cut; it never corrupts). The schema is created and migrated by the versioned
SQL files in ``minutebill/adapters/sql/sqlite``. Driver errors become `PersistenceError`s.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from importlib.resources import files
from pathlib import Path
from typing import Literal

from minutebill.adapters._documents import DocumentUnitOfWork
from minutebill.adapters._kinds import Kinds, default_kinds
from minutebill.adapters._transaction import DocumentWrite, StoredDocument, Transaction, WriteBatch
from minutebill.errors import (
    ConcurrencyConflict,
    IdempotencyConflict,
    MinutebillError,
    PersistenceError,
    ValidationError,
)

__all__ = ["SqliteStore", "migrations"]

Synchronous = Literal["FULL", "NORMAL"]


def migrations() -> list[tuple[int, str]]:
    """The packaged migrations as ``(version, sql)``, in order."""
    folder = files("minutebill.adapters.sql").joinpath("sqlite")
    return sorted(
        (int(entry.name.split("_", 1)[0]), entry.read_text(encoding="utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".sql")
    )


def _statements(sql: str) -> Iterator[str]:
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    for statement in "\n".join(lines).split(";"):
        if statement.strip():
            yield statement


def _translate(exc: sqlite3.Error) -> PersistenceError:
    text = str(exc)
    retryable = isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text)
    return PersistenceError(f"SQLite: {text}", retryable=retryable)


@contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except sqlite3.Error as exc:
        raise _translate(exc) from exc


class SqliteStore:
    """A minutebill store in one SQLite file.

    Args:
        path: The database file (created if missing), or ``":memory:"`` (or ``""``) for a
            private one: a file in a new temporary directory, removed by `close`, so that
            every thread's connection sees the same database (SQLite's own in-memory
            databases are one per connection).
        synchronous: ``"FULL"`` (default: durable at every commit) or ``"NORMAL"``.
        busy_timeout: How long a unit of work waits for another writer, in seconds.
        kinds: The aggregate kinds kept (default: minutebill's own).

    Raises:
        PersistenceError: if the file cannot be opened or migrated.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        synchronous: Synchronous = "FULL",
        busy_timeout: float = 30.0,
        kinds: Kinds | None = None,
    ) -> None:
        if synchronous not in ("FULL", "NORMAL"):
            raise ValidationError("synchronous", synchronous, "FULL or NORMAL")
        self._private_dir: str | None = None
        if str(path) in (":memory:", ""):
            self._private_dir = tempfile.mkdtemp(prefix="minutebill-sqlite-")
            path = Path(self._private_dir) / "store.sqlite3"
        self.path = str(path)
        self.synchronous = synchronous
        self.busy_timeout = busy_timeout
        self._kinds = kinds or default_kinds()
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._guard = threading.Lock()
        self.migrate()

    def _connect(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._open_connection()
        return conn

    def _open_connection(self) -> sqlite3.Connection:
        with _translated():
            conn = sqlite3.connect(
                self.path,
                timeout=self.busy_timeout,
                isolation_level=None,
                check_same_thread=False,
            )
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute(f"PRAGMA synchronous = {self.synchronous}")
        with self._guard:
            self._connections.append(conn)
        return conn

    def _close_connection(self, conn: sqlite3.Connection) -> None:
        """Close a connection a nested unit of work had to itself."""
        with self._guard:
            if conn in self._connections:
                self._connections.remove(conn)
        conn.close()

    def migrate(self) -> int:
        """Bring the schema up to the newest packaged version; returns that version.

        Safe to run from several processes at once: the write lock is held while checking.
        """
        conn = self._connect()
        with _translated():
            conn.execute("BEGIN IMMEDIATE")
            try:
                (current,) = conn.execute("PRAGMA user_version").fetchone()
                for version, sql in migrations():
                    if version > current:
                        for statement in _statements(sql):
                            conn.execute(statement)
                        conn.execute(f"PRAGMA user_version = {version}")
                        current = version
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return int(current)

    def unit_of_work(self, *, read_only: bool = False) -> DocumentUnitOfWork:
        """A new unit of work (enter it with ``with``); it takes the write lock on entry.

        A ``read_only`` one reads a snapshot instead (WAL lets it read while another
        connection writes), takes no lock, and cannot commit.

        A unit of work entered while another of the same thread is open (nested) is
        independent of it, on a connection of its own: it sees what is committed, not what
        the open one has yet to commit. SQLite lets one writer at a time hold the database,
        so two units that may commit cannot both be open in one thread: the second would
        wait for the first, which waits for it.

        Raises:
            PersistenceError: on entering a unit that may commit while one that may is open
                in the same thread (make the inner one ``read_only``, or finish the outer).
        """
        return DocumentUnitOfWork(
            lambda: self._begin(read_only=read_only), self._kinds, read_only=read_only
        )

    __call__ = unit_of_work

    def _begin(self, *, read_only: bool) -> Transaction:
        """A transaction on this thread's connection, or on one of its own when nested."""
        refs: list[weakref.ref[_SqliteTransaction]] = getattr(self._local, "open_units", [])
        units = [u for r in refs if (u := r()) is not None and u.is_open]
        if not read_only and any(not u.read_only for u in units):
            raise PersistenceError(
                "SQLite: a unit of work that may commit is open in this thread already; a"
                " second one would wait for it forever (make the inner one read_only)"
            )
        conn = self._connect()
        if any(u.connection is conn for u in units):
            transaction = _SqliteTransaction(
                self._open_connection(), read_only=read_only, release=self._close_connection
            )
        else:
            transaction = self._transaction(read_only=read_only)
        self._local.open_units = [*map(weakref.ref, units), weakref.ref(transaction)]
        return transaction

    def _transaction(self, *, read_only: bool) -> _SqliteTransaction:
        """A transaction on this thread's connection (the one place tests swap in their own)."""
        return _SqliteTransaction(self._connect(), read_only=read_only)

    def close(self) -> None:
        """Close every connection this store opened (and remove a private database)."""
        with self._guard:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()
        if self._private_dir is not None:
            shutil.rmtree(self._private_dir, ignore_errors=True)


def _execute(
    conn: sqlite3.Connection, sql: str, rows: Sequence[Sequence[object]]
) -> sqlite3.Cursor:
    """`executemany` for several rows; plain `execute` (cheaper) for one."""
    if len(rows) == 1:
        return conn.execute(sql, rows[0])
    return conn.executemany(sql, rows)


class _SqliteTransaction(Transaction):
    # Hot paths (every unit of work) catch driver errors with a plain try rather than the
    # `_translated` context manager, whose generator costs more than the statement itself.

    read_only = False
    _release: Callable[[sqlite3.Connection], None] | None = None

    def __init__(
        self,
        conn: sqlite3.Connection,
        *,
        read_only: bool = False,
        release: Callable[[sqlite3.Connection], None] | None = None,
    ) -> None:
        self._conn = conn
        self.read_only = read_only
        self._release = release  # called with the connection once done (a nested unit's)
        try:
            # Left open only by a unit of work that was never closed (`SqliteStore._begin`
            # gives a nested one a connection of its own).
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            # A deferred transaction reads one snapshot from its first read on, with no lock.
            conn.execute("BEGIN DEFERRED" if read_only else "BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            if release is not None:
                release(conn)
            raise _translate(exc) from exc
        self._open = True

    @property
    def is_open(self) -> bool:
        """Whether the transaction is still open (neither committed nor rolled back)."""
        return self._open

    @property
    def connection(self) -> sqlite3.Connection:
        """The connection the transaction runs on."""
        return self._conn

    def _rows(self, sql: str, params: tuple[object, ...]) -> list[tuple[object, ...]]:
        try:
            return self._conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise _translate(exc) from exc

    def _docs(self, sql: str, params: tuple[object, ...]) -> list[StoredDocument]:
        # The indexed columns come along so that a save which leaves them unchanged can skip
        # rewriting their index entries (`DocumentWrite.indexed_changed`).
        return [
            StoredDocument(a, k, v, s, (m, r))  # type: ignore[arg-type]
            for a, k, v, s, m, r in self._rows(sql, params)
        ]

    def load(self, kind: str, account_id: str, key: str) -> StoredDocument | None:
        docs = self._docs(
            "SELECT account_id, key, version, state, due_micros, reference FROM documents"
            " WHERE kind = ? AND account_id = ? AND key = ?",
            (kind, account_id, key),
        )
        return docs[0] if docs else None

    def exists(self, kind: str, account_id: str, key: str) -> bool:
        return bool(
            self._rows(
                "SELECT 1 FROM documents WHERE kind = ? AND account_id = ? AND key = ?",
                (kind, account_id, key),
            )
        )

    def load_account(self, kind: str, account_id: str) -> list[StoredDocument]:
        return self._docs(
            "SELECT account_id, key, version, state, due_micros, reference FROM documents"
            " WHERE kind = ? AND account_id = ? ORDER BY key",
            (kind, account_id),
        )

    def load_due(
        self, kind: str, due_micros: int, limit: int, after: tuple[int, str, str] | None
    ) -> list[tuple[int, StoredDocument]]:
        start = after if after is not None else (-(2**63), "", "")
        rows = self._rows(
            "SELECT due_micros, account_id, key, version, state, reference FROM documents"
            " WHERE kind = ? AND due_micros <= ? AND (due_micros, account_id, key) > (?, ?, ?)"
            " ORDER BY due_micros, account_id, key LIMIT ?",
            (kind, due_micros, *start, limit),
        )
        return [
            (m, StoredDocument(a, k, v, s, (m, r)))  # type: ignore[misc, arg-type]
            for m, a, k, v, s, r in rows
        ]

    def load_by_reference(self, kind: str, reference: str) -> StoredDocument | None:
        docs = self._docs(
            "SELECT account_id, key, version, state, due_micros, reference FROM documents"
            " WHERE kind = ? AND reference = ?",
            (kind, reference),
        )
        return docs[0] if docs else None

    def usage_get(self, account_id: str, call_id: str) -> str | None:
        rows = self._rows(
            "SELECT state FROM usage_records WHERE account_id = ? AND call_id = ?",
            (account_id, call_id),
        )
        return str(rows[0][0]) if rows else None

    def usage_page(
        self, account_id: str, before: tuple[int, str] | None, limit: int
    ) -> list[tuple[int, str, str]]:
        if before is None:
            rows = self._rows(
                "SELECT settled_micros, call_id, state FROM usage_records WHERE account_id = ?"
                " ORDER BY settled_micros DESC, call_id DESC LIMIT ?",
                (account_id, limit),
            )
        else:
            rows = self._rows(
                "SELECT settled_micros, call_id, state FROM usage_records WHERE account_id = ?"
                " AND (settled_micros, call_id) < (?, ?)"
                " ORDER BY settled_micros DESC, call_id DESC LIMIT ?",
                (account_id, before[0], before[1], limit),
            )
        return [(int(m), str(c), str(s)) for m, c, s in rows]  # type: ignore[call-overload]

    def usage_daily(
        self, account_id: str, since: str, until: str, tag: str
    ) -> list[tuple[str, int, int, int]]:
        rows = self._rows(
            "SELECT day, calls, billable_seconds, overage_seconds FROM usage_daily"
            " WHERE account_id = ? AND tag = ? AND day >= ? AND day < ? ORDER BY day",
            (account_id, tag, since, until),
        )
        return [(str(d), int(c), int(b), int(o)) for d, c, b, o in rows]  # type: ignore[call-overload]

    def usage_by_tag(
        self, account_id: str, since: str, until: str
    ) -> list[tuple[str, int, int, int]]:
        # The key is (account_id, tag, day): walk the account's distinct tags by seeking
        # (a skip scan written out), then read each tag's days in range — never every day
        # of the account's history, which `tag != ''` alone would scan.
        rows = self._rows(
            "WITH RECURSIVE tags (tag) AS ("
            " SELECT MIN(tag) FROM usage_daily WHERE account_id = ?1 AND tag > ''"
            " UNION ALL SELECT (SELECT MIN(tag) FROM usage_daily"
            " WHERE account_id = ?1 AND tag > tags.tag) FROM tags WHERE tags.tag IS NOT NULL)"
            " SELECT d.tag, SUM(d.calls), SUM(d.billable_seconds), SUM(d.overage_seconds)"
            " FROM tags JOIN usage_daily AS d ON d.account_id = ?1 AND d.tag = tags.tag"
            " AND d.day >= ?2 AND d.day < ?3 GROUP BY d.tag ORDER BY d.tag",
            (account_id, since, until),
        )
        return [(str(t), int(c), int(b), int(o)) for t, c, b, o in rows]  # type: ignore[call-overload]

    def idempotency_get(self, account_id: str, key: str) -> tuple[str, str] | None:
        rows = self._rows(
            "SELECT fingerprint, response FROM idempotency WHERE account_id = ? AND key = ?",
            (account_id, key),
        )
        return (str(rows[0][0]), str(rows[0][1])) if rows else None

    def outbox_since(self, position: int, limit: int) -> list[tuple[int, str, str, int, str]]:
        rows = self._rows(
            "SELECT position, account_id, name, occurred_micros, payload FROM outbox"
            " WHERE position > ? ORDER BY position LIMIT ?",
            (position, limit),
        )
        return [(int(p), str(a), str(n), int(m), str(j)) for p, a, n, m, j in rows]  # type: ignore[call-overload]

    def _write_documents(self, batch: WriteBatch) -> None:
        inserts: list[DocumentWrite] = []
        updates: list[DocumentWrite] = []
        states: list[DocumentWrite] = []  # updates that leave due_micros and reference alone
        for w in batch.documents:
            if w.expected_version is None:
                inserts.append(w)
            elif w.indexed_changed:
                updates.append(w)
            else:
                states.append(w)
        if inserts:
            self._insert_documents(inserts)
        if updates:
            self._update_documents(
                updates,
                "UPDATE documents SET version = ?, due_micros = ?, reference = ?, state = ?"
                " WHERE kind = ? AND account_id = ? AND key = ? AND version = ?",
                [
                    (
                        w.version,
                        w.due_micros,
                        w.reference,
                        w.state,
                        w.kind,
                        w.account_id,
                        w.key,
                        w.expected_version,
                    )
                    for w in updates
                ],
            )
        if states:
            # Not assigning the indexed columns keeps SQLite from rewriting their index
            # entries: one b-tree page less per save.
            self._update_documents(
                states,
                "UPDATE documents SET version = ?, state = ?"
                " WHERE kind = ? AND account_id = ? AND key = ? AND version = ?",
                [
                    (w.version, w.state, w.kind, w.account_id, w.key, w.expected_version)
                    for w in states
                ],
            )

    def _insert_documents(self, writes: list[DocumentWrite]) -> None:
        try:
            _execute(
                self._conn,
                "INSERT INTO documents (kind, account_id, key, version, due_micros,"
                " reference, state) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (w.kind, w.account_id, w.key, w.version, w.due_micros, w.reference, w.state)
                    for w in writes
                ],
            )
        except sqlite3.IntegrityError:
            raise self._insert_conflict(writes) from None

    def _update_documents(
        self, writes: list[DocumentWrite], sql: str, params: list[tuple[object, ...]]
    ) -> None:
        try:
            updated = _execute(self._conn, sql, params).rowcount
        except sqlite3.IntegrityError:  # the unique reference index
            raise self._reference_conflict(writes) from None
        if updated != len(writes):
            raise self._stale(writes)

    def _stored(self, w: DocumentWrite) -> tuple[int, str] | None:
        rows = self._conn.execute(
            "SELECT version, state FROM documents WHERE kind = ? AND account_id = ? AND key = ?",
            (w.kind, w.account_id, w.key),
        ).fetchall()
        return None if not rows else (rows[0][0], rows[0][1])

    def _stale(self, writes: list[DocumentWrite]) -> ConcurrencyConflict:
        """The conflict for updates of which some matched no row (all are rolled back)."""
        for w in writes:
            stored = self._stored(w)
            if stored is None or stored[0] != w.version:
                return ConcurrencyConflict(w.name, w.expected_version or 0)
        return ConcurrencyConflict(writes[0].name, writes[0].expected_version or 0)

    def _insert_conflict(self, writes: list[DocumentWrite]) -> ConcurrencyConflict:
        """The conflict for inserts refused by the key or the unique reference."""
        # Rows before the refused one were inserted (the batch is rolled back anyway): the
        # refused one is the first whose row is missing or is not the one it would have been.
        for w in writes:
            if self._stored(w) != (w.version, w.state):
                return ConcurrencyConflict(w.name, 0, None)
        return ConcurrencyConflict(writes[0].name, 0, None)

    def _reference_conflict(self, writes: list[DocumentWrite]) -> ConcurrencyConflict:
        for w in writes:
            if w.reference is None:
                continue
            owner = self._conn.execute(
                "SELECT account_id, key FROM documents WHERE kind = ? AND reference = ?",
                (w.kind, w.reference),
            ).fetchall()
            if owner and tuple(owner[0]) != (w.account_id, w.key):
                return ConcurrencyConflict(f"{w.kind} reference {w.reference}", 0)
        first = next((w for w in writes if w.reference is not None), writes[0])
        return ConcurrencyConflict(f"{first.kind} reference {first.reference}", 0)

    def _write_usage(self, batch: WriteBatch) -> None:
        conn = self._conn
        for row in batch.usage:
            try:
                conn.execute(
                    "INSERT INTO usage_records (account_id, call_id, settled_micros, local_day,"
                    " billable_seconds, overage_seconds, state) VALUES (?, ?, ?, ?, ?, ?, ?)",
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
            except sqlite3.IntegrityError:
                raise IdempotencyConflict(row.call_id, "call already settled") from None
            _execute(
                conn,
                "INSERT INTO usage_daily (account_id, day, tag, calls, billable_seconds,"
                " overage_seconds) VALUES (?, ?, ?, 1, ?, ?)"
                " ON CONFLICT (account_id, tag, day) DO UPDATE SET calls = calls + 1,"
                " billable_seconds = billable_seconds + excluded.billable_seconds,"
                " overage_seconds = overage_seconds + excluded.overage_seconds",
                [
                    (row.account_id, row.local_day, tag, row.billable_seconds, row.overage_seconds)
                    for tag in row.totalled_under
                ],
            )

    def write(self, batch: WriteBatch) -> None:
        if not self._open:
            raise MinutebillError("transaction already finished")
        conn = self._conn
        try:
            self._write_documents(batch)
            self._write_usage(batch)
            for account_id, key, fingerprint, response in batch.idempotency:
                try:
                    conn.execute(
                        "INSERT INTO idempotency (account_id, key, fingerprint, response)"
                        " VALUES (?, ?, ?, ?)",
                        (account_id, key, fingerprint, response),
                    )
                except sqlite3.IntegrityError:
                    raise IdempotencyConflict(key) from None
            if batch.outbox:
                # The rows are (account_id, name, occurred_micros, payload) tuples already.
                _execute(
                    conn,
                    "INSERT INTO outbox (account_id, name, occurred_micros, payload)"
                    " VALUES (?, ?, ?, ?)",
                    batch.outbox,
                )
            conn.execute("COMMIT")
            self._open = False
        except sqlite3.Error as exc:
            raise _translate(exc) from exc
        finally:
            self.close()

    def close(self) -> None:
        if self._open:
            self._open = False
            with suppress(sqlite3.Error):
                self._conn.execute("ROLLBACK")
        release, self._release = self._release, None
        if release is not None:
            release(self._conn)
