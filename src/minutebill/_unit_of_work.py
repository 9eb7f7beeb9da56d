"""The persistence ports: a unit of work and its repositories (re-exported by `minutebill.ports`).

A store keeps each aggregate as the JSON document its ``to_state()`` returns, with a version
for optimistic concurrency. Usage records, the event outbox and the idempotency store are
append-mostly tables of their own, so an aggregate never carries its history.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from types import TracebackType
from typing import Any, Generic, Protocol, Self, TypeVar

from attrs import frozen

from minutebill.domain.events import DomainEvent

__all__ = [
    "AggregateRepository",
    "IdempotencyStore",
    "Outbox",
    "OutboxEntry",
    "StoredResponse",
    "UnitOfWork",
    "UsagePage",
    "UsageRepository",
    "UsageTotals",
]

T = TypeVar("T")
Record = TypeVar("Record")


class AggregateRepository(Protocol[T]):
    """Aggregates of one kind, each identified by ``(account_id, key)``.

    Postconditions: an aggregate returned by `get`/`find`/`due` is tracked by the unit of work;
    if its state changed, `UnitOfWork.commit` saves it with its version checked and bumped.
    """

    def get(self, account_id: str, key: str = "") -> T:
        """The aggregate, tracked for saving.

        Raises:
            NotFound: if there is none.
        """
        ...

    def find(self, account_id: str, key: str = "") -> T | None:
        """The aggregate, tracked for saving, or None."""
        ...

    def exists(self, account_id: str, key: str = "") -> bool:
        """Whether the aggregate exists, without loading (or tracking) it.

        The cheap way to check that an account is known before reading rows that belong to it.
        """
        ...

    def add(self, aggregate: T) -> None:
        """Track a new aggregate; commit inserts it.

        Raises:
            ValidationError: at once, if this unit of work tracks one with the same identity
                already (added or loaded).
            ConcurrencyConflict: at commit, if one with the same identity exists already.
        """
        ...

    def replace(self, aggregate: T) -> None:
        """Put `aggregate` in the place of the loaded one with the same identity.

        For a reused identity, such as a released number bought again; saved with the version
        checked.

        Raises:
            NotFound: if no aggregate with that identity was loaded in this unit of work.
        """
        ...

    def by_reference(self, reference: str) -> T | None:
        """The aggregate with this globally unique reference (a payment id), tracked."""
        ...

    def for_account(self, account_id: str) -> list[T]:
        """Every aggregate of this kind for `account_id`, tracked, in key order."""
        ...

    def due(self, at: datetime, limit: int, *, after: str | None = None) -> list[T]:
        """Up to `limit` aggregates whose scheduled work is due by `at`, earliest first, tracked.

        Pass `after` (a cursor from `due_page`) to continue past aggregates already seen.
        """
        ...

    def due_page(
        self, at: datetime, limit: int, *, after: str | None = None
    ) -> list[tuple[T, str]]:
        """Like `due`, each aggregate with the cursor that continues after it.

        Raises:
            ValidationError: if `after` is not a cursor this method returned.
        """
        ...


@frozen
class UsageTotals:
    """Aggregated usage over a span: call count and seconds."""

    calls: int
    billable_seconds: int
    overage_seconds: int


@frozen
class UsagePage(Generic[Record]):
    """One page of usage records, newest first, and the cursor for the next page (or None)."""

    records: tuple[Record, ...]
    next_cursor: str | None


class UsageRepository(Protocol[Record]):
    """Settled calls, one row per ``(account_id, call_id)``, indexed by (account, time).

    Per-day and per-tag totals are kept up to date on insert, so summaries never scan history.
    """

    def add(self, record: Record, *, local_day: date) -> None:
        """Insert at commit; `local_day` is the call's date in the account's time zone.

        Raises:
            IdempotencyConflict: at commit, for a second record with the same call id.
        """
        ...

    def get(self, account_id: str, call_id: str) -> Record | None:
        """The record of a settled call (one added in this unit of work included), or None."""
        ...

    def page(
        self, account_id: str, *, cursor: str | None = None, limit: int = 50
    ) -> UsagePage[Record]:
        """Newest-first records; pass the returned cursor for the next page.

        Raises:
            ValidationError: if `cursor` is not a cursor this method returned.
        """
        ...

    def daily(
        self, account_id: str, since: date, until: date, *, tag: str | None = None
    ) -> list[tuple[date, UsageTotals]]:
        """Totals per local day in ``[since, until)`` (days without calls left out).

        Raises:
            ValidationError: if `since` or `until` is not a `date` (a `datetime` included),
                or `tag` is not None and not a valid tag.
        """
        ...

    def by_tag(self, account_id: str, since: date, until: date) -> dict[str, UsageTotals]:
        """Totals per tag over the local days ``[since, until)``.

        Raises:
            ValidationError: if `since` or `until` is not a `date` (a `datetime` included).
        """
        ...


@frozen
class OutboxEntry:
    """An event as committed: its position in the outbox, its name and its plain-data form."""

    position: int
    account_id: str
    name: str
    occurred_at: datetime
    payload: dict[str, Any]


class Outbox(Protocol):
    """Events written in the same transaction as the state they describe (transactional outbox).

    The service publishes each commit's events once, after the commit (a crash in between
    loses that publication, never the events); a host that must never miss one reads
    `since(cursor)` and keeps its own cursor: the position of the last entry it handled.
    """

    def add(self, events: Sequence[DomainEvent]) -> None:
        """Append at commit, in order, after the events of the aggregates the unit saves."""
        ...

    def since(self, position: int, limit: int = 1000) -> list[OutboxEntry]:
        """Committed entries after `position`, oldest first.

        Never an entry while one with a smaller position may still be committed, so a reader
        that moves its cursor to the last entry it got never skips one. (Where concurrent
        commits can become visible out of position order, as on PostgreSQL, an entry is
        withheld until every transaction that might still commit a smaller position has
        ended.) Read the outbox in a unit of work of its own, before anything else: a unit
        that has read something else already reads it as of then, and may withhold entries
        committed since.
        """
        ...


@frozen
class StoredResponse:
    """What an idempotent request returned the first time, and a fingerprint of its input."""

    fingerprint: str
    response: dict[str, Any]


class IdempotencyStore(Protocol):
    """Remembers money-moving requests by ``(account_id, key)``.

    A retry then returns the first answer instead of acting twice.
    """

    def get(self, account_id: str, key: str) -> StoredResponse | None:
        """The first answer for `key` (one put in this unit of work included), or None."""
        ...

    def put(self, account_id: str, key: str, stored: StoredResponse) -> None:
        """Remember at commit.

        Raises:
            IdempotencyConflict: at commit, if another unit of work stored `key` first.
        """
        ...


class UnitOfWork(Protocol):
    """One atomic piece of work against a store: all of it commits, or none of it.

    Use as a context manager, entered once; call `commit()` before leaving, else everything
    is rolled back (as it is when the block raises). After `commit()` the unit of work is
    finished: reading through it or committing again raises `MinutebillError`, as it does
    after the block.

    A store may offer optimistic units of work (`PostgresStore.unit_of_work(optimistic=True)`)
    that decide on aggregates as the store last committed them and check them later: a read,
    `commit()` or leaving the block on an error may then raise `ConcurrencyConflict` (the
    error decided on stale state is its context). The service asks for them because it runs
    the work again on a conflict.

    Units of work do not nest: one entered while another is open is independent of it. It
    sees what is committed, not what the open one has yet to commit, and commits (or not)
    on its own. Two that may commit and wait on the same rows would wait for each other; on
    SQLite, where one writer holds the whole database, entering a second unit that may
    commit in a thread that has one open raises `PersistenceError` (open the inner one
    ``read_only``).

    Attributes:
        ledgers, wallets, subscriptions, numbers, orders, payments: repositories.
        usage: settled calls. outbox: committed events. idempotency: first answers.
    """

    @property
    def ledgers(self) -> AggregateRepository[Any]: ...

    @property
    def wallets(self) -> AggregateRepository[Any]: ...

    @property
    def subscriptions(self) -> AggregateRepository[Any]: ...

    @property
    def numbers(self) -> AggregateRepository[Any]: ...

    @property
    def orders(self) -> AggregateRepository[Any]: ...

    @property
    def payments(self) -> AggregateRepository[Any]: ...

    @property
    def usage(self) -> UsageRepository[Any]: ...

    @property
    def outbox(self) -> Outbox: ...

    @property
    def idempotency(self) -> IdempotencyStore: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def commit(self) -> list[DomainEvent]:
        """Write everything, atomically and durably.

        Saves every changed tracked aggregate (versions checked), inserts new rows, and
        appends the aggregates' recorded events to the outbox.

        Returns:
            The events committed, in order, for the service to publish.

        Raises:
            ConcurrencyConflict: if any aggregate changed in the store since it was loaded;
                nothing was written.
            IdempotencyConflict: if a call id or idempotency key was taken meanwhile.
            PersistenceError: if the driver failed; nothing was written.
        """
        ...

    def rollback(self) -> None:
        """Discard everything; the unit of work is finished."""
        ...
