"""What a `PostgresStore` sends and receives, from the libpq protocol trace."""

from __future__ import annotations

import tempfile
from collections.abc import Callable

from psycopg import pq

from minutebill.adapters.postgres import PostgresStore


def traced(store: PostgresStore, action: Callable[[], object]) -> list[str]:
    """The protocol trace lines of `action` on the store's only connection.

    Each line starts with ``F`` (sent by the client) or ``B`` (sent by the server).
    """
    with store.unit_of_work() as uow:
        uow.wallets.find("nobody")  # a connection with the statements prepared
        conn = uow.tx._conn  # type: ignore[attr-defined]
    with tempfile.TemporaryFile("w+") as trace:
        conn.pgconn.trace(trace.fileno())
        conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
        try:
            action()
        finally:
            conn.pgconn.untrace()
        trace.seek(0)
        return list(trace)
