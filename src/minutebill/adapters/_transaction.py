"""The port between the shared unit of work and a store: a few reads, then one atomic write.

A store implements `Transaction`; `minutebill.adapters.DocumentUnitOfWork` does everything
else (tracking aggregates, deciding what changed, versions, events) and hands the store one
`WriteBatch` at commit.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

from attrs import define, field

__all__ = [
    "DocumentWrite",
    "OutboxRow",
    "StoredDocument",
    "Transaction",
    "UsageRow",
    "WriteBatch",
]


# The rows below are built for every document and event a unit of work touches: named tuples,
# which cost a fraction of a frozen attrs instance to build.


class StoredDocument(NamedTuple):
    """A document as read from the store.

    Attributes:
        account_id: The account.
        key: The key within the account and kind.
        version: The stored version.
        state: The document (JSON text).
        indexed: The stored ``(due_micros, reference)`` columns if the store read them
            (None: not read). A save that leaves both unchanged then tells the store so
            (`DocumentWrite.indexed_changed`), which may skip updating their indexes.
    """

    account_id: str
    key: str
    version: int
    state: str
    indexed: tuple[int | None, str | None] | None = None


class DocumentWrite(NamedTuple):
    """A document to insert (``expected_version`` None) or update (checked against it).

    ``indexed_changed`` is False only for an update whose ``due_micros`` and ``reference``
    are known to equal the stored ones: a store may then write just the version and state.
    """

    kind: str
    account_id: str
    key: str
    version: int
    expected_version: int | None
    due_micros: int | None
    reference: str | None
    state: str
    indexed_changed: bool = True

    @property
    def name(self) -> str:
        """The document as errors name it: ``"ledger acct-1"``, ``"number acct-1/+9198..."``."""
        return f"{self.kind} {self.account_id}/{self.key}".rstrip("/")


class UsageRow(NamedTuple):
    """A settled call to insert, with the columns its indexes and daily totals need."""

    account_id: str
    call_id: str
    settled_micros: int
    local_day: str
    billable_seconds: int
    overage_seconds: int
    tags: tuple[str, ...]
    state: str

    @property
    def totalled_under(self) -> tuple[str, ...]:
        """The daily-total tags the call counts under: ``""`` (all calls) and each of its tags."""
        return ("", *self.tags)


class OutboxRow(NamedTuple):
    """An event to append to the outbox."""

    account_id: str
    name: str
    occurred_micros: int
    payload: str


@define
class WriteBatch:
    """Everything one commit writes; a store applies it all or nothing."""

    documents: list[DocumentWrite] = field(factory=list)
    usage: list[UsageRow] = field(factory=list)
    outbox: list[OutboxRow] = field(factory=list)
    idempotency: list[tuple[str, str, str, str]] = field(factory=list)

    def __bool__(self) -> bool:
        return bool(self.documents or self.usage or self.outbox or self.idempotency)


class Transaction(Protocol):
    """The port a store implements: reads inside one transaction, then one atomic write.

    `write` commits, also an empty batch (a store may have reads left to check then). It
    raises `ConcurrencyConflict` for a stale or duplicate document, and `IdempotencyConflict`
    for a duplicate usage row or idempotency key, having written nothing.
    """

    def load(self, kind: str, account_id: str, key: str) -> StoredDocument | None: ...

    def exists(self, kind: str, account_id: str, key: str) -> bool:
        """Whether the document is stored (stores answer without reading the document)."""
        return self.load(kind, account_id, key) is not None

    def load_account(self, kind: str, account_id: str) -> list[StoredDocument]: ...

    def load_due(
        self, kind: str, due_micros: int, limit: int, after: tuple[int, str, str] | None
    ) -> list[tuple[int, StoredDocument]]: ...

    def load_by_reference(self, kind: str, reference: str) -> StoredDocument | None: ...

    def usage_get(self, account_id: str, call_id: str) -> str | None: ...

    def usage_page(
        self, account_id: str, before: tuple[int, str] | None, limit: int
    ) -> list[tuple[int, str, str]]: ...

    def usage_daily(
        self, account_id: str, since: str, until: str, tag: str
    ) -> list[tuple[str, int, int, int]]: ...

    def usage_by_tag(
        self, account_id: str, since: str, until: str
    ) -> list[tuple[str, int, int, int]]: ...

    def idempotency_get(self, account_id: str, key: str) -> tuple[str, str] | None: ...

    def outbox_since(self, position: int, limit: int) -> list[tuple[int, str, str, int, str]]: ...

    def write(self, batch: WriteBatch) -> None: ...

    def verify(self) -> None:
        """Check, before an error ends the unit, what it decided on and has not checked yet.

        A store that reads under lock has nothing left to check; one that decided on
        documents it had cached (PostgreSQL) checks them, so that an error raised on them is
        raised only if they were current.

        Raises:
            ConcurrencyConflict: if they were not (the error was decided on stale state).
        """
        return

    def close(self) -> None: ...
