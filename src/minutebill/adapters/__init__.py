"""Stores that implement the `minutebill.ports` unit of work: memory, SQLite, PostgreSQL.

The stores live in `minutebill.adapters.memory`, `minutebill.adapters.sqlite` and
`minutebill.adapters.postgres`. This package gives an adapter author what those three are
built from: `DocumentUnitOfWork`, the unit of work written once over the small `Transaction`
port (a few reads, then one atomic write of a `WriteBatch`), the rows that cross that port,
and the aggregate kinds a store keeps (`default_kinds`). See the how-to "Write a repository
adapter".
"""

from minutebill.adapters._documents import AggregateKind, DocumentUnitOfWork, Kinds
from minutebill.adapters._kinds import default_kinds
from minutebill.adapters._transaction import (
    DocumentWrite,
    OutboxRow,
    StoredDocument,
    Transaction,
    UsageRow,
    WriteBatch,
)

__all__ = [
    "AggregateKind",
    "DocumentUnitOfWork",
    "DocumentWrite",
    "Kinds",
    "OutboxRow",
    "StoredDocument",
    "Transaction",
    "UsageRow",
    "WriteBatch",
    "default_kinds",
]
