"""The SQL of the PostgreSQL store: its prepared statements and how a commit is written.

Text only, no connection: `minutebill.adapters.postgres` sends it, and decides when.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, NamedTuple

from minutebill.adapters._transaction import WriteBatch

__all__ = [
    "ONE_STATEMENT_ROWS",
    "PIECES",
    "READ_ONLY",
    "SESSION",
    "SHAPES_PER_CONNECTION",
    "STATEMENTS",
    "Shape",
    "commit_rows",
    "commit_statement",
    "execute_prepared",
    "literal",
    "load_cell",
]


# --- statements ------------------------------------------------------------------------------
# Prepared once per connection; a unit of work sends ``EXECUTE name(literals)`` for each, so
# several go out in one message and the server plans none of them again. Each read names the
# Python type of every column it returns (results arrive as text).

DOC = "SELECT account_id, key, version, state FROM minutebill_documents"
DOC_COLUMNS = (str, str, int, str)
STATEMENTS: dict[str, tuple[str, str, tuple[type, ...]]] = {
    "load": (
        "text, text, text",
        f"{DOC} WHERE account_id = $1 AND kind = $2 AND key = $3 FOR UPDATE",
        DOC_COLUMNS,
    ),
    # An account's one-per-account documents, locked together in one fixed order (see
    # the store's ``load``): the kind tells them apart (the account and key are known).
    "lock_account": (
        "text, text, text, text",
        (
            "SELECT kind, version, state FROM minutebill_documents"
            " WHERE account_id = $1 AND key = '' AND kind IN ($2, $3, $4)"
            " ORDER BY CASE kind WHEN $2 THEN 0 WHEN $3 THEN 1 ELSE 2 END FOR UPDATE"
        ),
        (str, int, str),
    ),
    # The same rows and lock order, for documents read from the store's cache: raises a stale
    # version (40001) unless the account's documents are at the versions given, as
    # "kind:version" joined by commas in code point order of the kinds ('' for none).
    "check_account": (
        "text, text, text, text, text, text",
        (
            "SELECT minutebill_stale_version($5) FROM (SELECT kind, version"
            " FROM minutebill_documents WHERE account_id = $1 AND key = '' AND kind IN ($2, $3, $4)"
            " ORDER BY CASE kind WHEN $2 THEN 0 WHEN $3 THEN 1 ELSE 2 END FOR UPDATE) AS locked"
            " HAVING coalesce(string_agg(kind || ':' || version, ',' ORDER BY kind), '') <> $6"
        ),
        (),
    ),
    "load_account": (
        "text, text",
        f"{DOC} WHERE account_id = $1 AND kind = $2 ORDER BY key FOR UPDATE",
        DOC_COLUMNS,
    ),
    # SKIP LOCKED: several workers running due work at once split it between them.
    "load_due": (
        "text, bigint, bigint, text, text, bigint",
        (
            "SELECT due_micros, account_id, key, version, state FROM minutebill_documents"
            " WHERE kind = $1 AND due_micros <= $2 AND (due_micros, account_id, key) > ($3, $4, $5)"
            " ORDER BY due_micros, account_id, key LIMIT $6 FOR UPDATE SKIP LOCKED"
        ),
        (int, str, str, int, str),
    ),
    "load_by_reference": (
        "text, text",
        f"{DOC} WHERE kind = $1 AND reference = $2 FOR UPDATE",
        DOC_COLUMNS,
    ),
    "usage_get": (
        "text, text",
        "SELECT state FROM minutebill_usage_records WHERE account_id = $1 AND call_id = $2",
        (str,),
    ),
    "usage_first": (
        "text, bigint",
        (
            "SELECT settled_micros, call_id, state FROM minutebill_usage_records"
            " WHERE account_id = $1 ORDER BY settled_micros DESC, call_id DESC LIMIT $2"
        ),
        (int, str, str),
    ),
    "usage_after": (
        "text, bigint, text, bigint",
        (
            "SELECT settled_micros, call_id, state FROM minutebill_usage_records"
            " WHERE account_id = $1 AND (settled_micros, call_id) < ($2, $3)"
            " ORDER BY settled_micros DESC, call_id DESC LIMIT $4"
        ),
        (int, str, str),
    ),
    # to_char: the day in ISO form whatever the session's DateStyle.
    "usage_daily": (
        "text, text, date, date",
        (
            "SELECT to_char(day, 'YYYY-MM-DD'), calls, billable_seconds, overage_seconds"
            " FROM minutebill_usage_daily"
            " WHERE account_id = $1 AND tag = $2 AND day >= $3 AND day < $4 ORDER BY day"
        ),
        (str, int, int, int),
    ),
    "usage_by_tag": (
        "text, date, date",
        (
            "SELECT tag, sum(calls), sum(billable_seconds), sum(overage_seconds)"
            " FROM minutebill_usage_daily WHERE account_id = $1 AND tag <> ''"
            " AND day >= $2 AND day < $3 GROUP BY tag ORDER BY tag"
        ),
        (str, int, int, int),
    ),
    "idempotency_get": (
        "text, text",
        (
            "SELECT fingerprint, response FROM minutebill_idempotency"
            " WHERE account_id = $1 AND key = $2"
        ),
        (str, str),
    ),
    "outbox_since": (
        "bigint, bigint, bigint",
        (
            # Up to the settled position $3 (see the store's ``outbox_since``).
            "SELECT position, account_id, name, occurred_micros, payload FROM minutebill_outbox"
            " WHERE position > $1 AND position <= $3 ORDER BY position LIMIT $2"
        ),
        (int, str, str, int, str),
    ),
}


# --- writes ------------------------------------------------------------------------------------
# A commit writes rows into up to six tables; each table's statement is a piece, written here
# for one row. A small commit (at most `ONE_STATEMENT_ROWS` rows; a call settlement writes
# four) goes to the server as ONE statement, its pieces joined as data-modifying CTEs (each
# insert piece takes all its rows in one VALUES list), prepared on the connection the first
# time a commit of that shape is seen: the server then takes one snapshot, starts one executor
# and looks up one plan instead of one per row. A larger commit (a page of due work) sends one
# EXECUTE per row of the one-row statements, so the statements prepared per connection stay few.


class Piece(NamedTuple):
    """One table's write: its statement for one row (``$1``...), and that row's types."""

    name: str
    types: tuple[str, ...]
    sql: str  # an update: the statement; an insert: all before its ``VALUES`` list
    tail: str = ""  # an insert: all after its VALUES list
    insert: bool = True  # False: an update, one statement per row

    def one_row(self) -> str:
        return self.rows(1, 0) if self.insert else self.sql

    def rows(self, count: int, offset: int) -> str:
        """The statement for `count` rows whose parameters start after ``$offset``."""
        if not self.insert:
            return re.sub(r"\$(\d+)", lambda m: f"${int(m[1]) + offset}", self.sql)
        width = len(self.types)
        values = ", ".join(
            "(" + ", ".join(f"${offset + row * width + n}" for n in range(1, width + 1)) + ")"
            for row in range(count)
        )
        return f"{self.sql} VALUES {values}{self.tail}"


# In the order a one-statement commit lists them (and `commit_rows` returns their rows).
PIECES = (
    # The version check, a second line of defence: the row was locked when this unit of work
    # read it and documents are never deleted, so it is there; a version other than the one
    # read raises 40001 from the function (CASE evaluates it only then).
    Piece(
        "update_document",
        ("text", "text", "text", "integer", "integer", "bigint", "text", "text", "text"),
        (
            "UPDATE minutebill_documents SET version = CASE WHEN version = $5 THEN $4"
            " ELSE minutebill_stale_version($9) END, due_micros = $6, reference = $7,"
            " state = $8 WHERE account_id = $1 AND kind = $2 AND key = $3"
        ),
        insert=False,
    ),
    Piece(
        "insert_document",
        ("text", "text", "text", "integer", "bigint", "text", "text"),
        (
            "INSERT INTO minutebill_documents (account_id, kind, key, version, due_micros,"
            " reference, state)"
        ),
    ),
    Piece(
        "insert_usage",
        ("text", "text", "bigint", "date", "bigint", "bigint", "text"),
        (
            "INSERT INTO minutebill_usage_records (account_id, call_id, settled_micros, local_day,"
            " billable_seconds, overage_seconds, state)"
        ),
    ),
    Piece(
        "add_daily",
        ("text", "text", "date", "bigint", "bigint", "bigint"),
        (
            "INSERT INTO minutebill_usage_daily AS d (account_id, tag, day, calls,"
            " billable_seconds, overage_seconds)"
        ),
        (
            " ON CONFLICT (account_id, tag, day) DO UPDATE SET calls = d.calls + excluded.calls,"
            " billable_seconds = d.billable_seconds + excluded.billable_seconds,"
            " overage_seconds = d.overage_seconds + excluded.overage_seconds"
        ),
    ),
    Piece(
        "insert_idempotency",
        ("text", "text", "text", "text"),
        "INSERT INTO minutebill_idempotency (account_id, key, fingerprint, response)",
    ),
    Piece(
        "insert_outbox",
        ("text", "text", "bigint", "text"),
        "INSERT INTO minutebill_outbox (account_id, name, occurred_micros, payload)",
    ),
)
ONE_STATEMENT_ROWS = 16
SHAPES_PER_CONNECTION = 32  # one-statement commits prepared per connection, at most

STATEMENTS.update({piece.name: (", ".join(piece.types), piece.one_row(), ()) for piece in PIECES})

# Read-only units of work read one snapshot without locking: each locking read has a twin
# without its lock clause (a read-only transaction refuses FOR UPDATE).
LOCK_CLAUSE = re.compile(r" FOR UPDATE( SKIP LOCKED)?$")
READ_ONLY: dict[str, str] = {
    name: f"{name}_unlocked" for name, (_, sql, _) in STATEMENTS.items() if LOCK_CLAUSE.search(sql)
}
STATEMENTS.update(
    {
        unlocked: (types, LOCK_CLAUSE.sub("", sql), columns)
        for name, unlocked in READ_ONLY.items()
        for types, sql, columns in [STATEMENTS[name]]
    }
)

Shape = tuple[int, ...]
"""Rows per piece of a commit, in `PIECES` order."""


@lru_cache(maxsize=256)
def commit_statement(shape: Shape) -> tuple[str, str]:
    """The name of the one statement that writes a commit of `shape`, and its ``PREPARE``."""
    parts: list[str] = []
    types: list[str] = []
    for piece, count in zip(PIECES, shape, strict=True):
        # An insert takes all its rows in one VALUES list; an update is a statement per row.
        for rows in [count] if piece.insert else [1] * count:
            if rows:
                parts.append(piece.rows(rows, len(types)))
                types.extend(piece.types * rows)
    *ctes, last = parts
    with_ = "WITH " + ", ".join(f"w{n} AS ({cte})" for n, cte in enumerate(ctes)) + " "
    name = "minutebill_commit_" + "_".join(map(str, shape))
    return name, f"PREPARE {name}({', '.join(types)}) AS {with_ if ctes else ''}{last}"


Row = tuple[object, ...]


def commit_rows(batch: WriteBatch) -> tuple[list[Row], ...]:
    """The batch's rows, one list per piece of `PIECES`."""
    updates: list[Row] = []
    inserts: list[Row] = []
    for w in batch.documents:
        if w.expected_version is None:
            inserts.append(
                (w.account_id, w.kind, w.key, w.version, w.due_micros, w.reference, w.state)
            )
        else:
            updates.append(
                (w.account_id, w.kind, w.key, w.version, w.expected_version, w.due_micros,
                 w.reference, w.state, w.name)
            )  # fmt: skip
    usage: list[Row] = []
    daily: dict[tuple[str, str, str], list[int]] = {}
    for row in batch.usage:
        usage.append(
            (row.account_id, row.call_id, row.settled_micros, row.local_day,
             row.billable_seconds, row.overage_seconds, row.state)
        )  # fmt: skip
        for tag in row.totalled_under:
            totals = daily.setdefault((row.account_id, tag, row.local_day), [0, 0, 0])
            totals[0] += 1
            totals[1] += row.billable_seconds
            totals[2] += row.overage_seconds
    # One upsert row per (account, tag, day), in key order so concurrent commits lock alike.
    totals_rows: list[Row] = [(*key, *totals) for key, totals in sorted(daily.items())]
    # Outbox rows are (account_id, name, occurred_micros, payload) already.
    return updates, inserts, usage, totals_rows, list(batch.idempotency), list(batch.outbox)


# Run once on every new connection. The literals below rely on standard-conforming strings
# (a backslash is an ordinary character), so the session says so itself.
SESSION = ";".join(
    [
        "SET standard_conforming_strings = on",
        "DEALLOCATE ALL",  # in case an earlier attempt on this connection half failed
        *(
            f"PREPARE minutebill_{name}({types}) AS {sql}"
            for name, (types, sql, _) in STATEMENTS.items()
        ),
    ]
)


def literal(value: object) -> str:
    """`value` as an SQL literal (standard-conforming strings are on in every session)."""
    if value is None:
        return "NULL"
    if type(value) is int:
        return str(value)
    if type(value) is str:
        return "'" + value.replace("'", "''") + "'"
    raise TypeError(f"no SQL literal for {type(value).__name__}")  # pragma: no cover


def load_cell(kind: type, cell: bytes | None) -> Any:
    """A text-format result cell as `kind` (str or int)."""
    if cell is None:
        return None
    return cell.decode() if kind is str else kind(cell)


def execute_prepared(name: str, params: Sequence[object]) -> str:
    return f"EXECUTE minutebill_{name}({', '.join(map(literal, params))})"
