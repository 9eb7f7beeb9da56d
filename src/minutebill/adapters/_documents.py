"""The unit of work every minutebill store shares, written once over a small `Transaction` port.

A store (memory, SQLite, PostgreSQL) only has to read and write rows; this module turns those
rows into tracked aggregates, decides what changed, and hands the store one `WriteBatch` to
apply atomically at commit. Aggregates are kept as their ``to_state()`` JSON documents with a
version; a loaded aggregate whose state changed is saved with its version checked.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime
from types import TracebackType
from typing import Any, Generic, Protocol, Self, TypeVar, overload

from attrs import define, field, frozen

from minutebill._serialization import event_payload, payload_fields, plain
from minutebill._unit_of_work import OutboxEntry, StoredResponse, UsagePage, UsageTotals
from minutebill.adapters._cursors import (
    due_cursor,
    parse_due_cursor,
    parse_usage_cursor,
    usage_cursor,
)
from minutebill.adapters._document_json import (
    STANDARD,
    dumps,
    from_micros,
    loads,
    loads_joined,
    to_micros,
)
from minutebill.adapters._transaction import (
    DocumentWrite,
    OutboxRow,
    StoredDocument,
    Transaction,
    UsageRow,
    WriteBatch,
)
from minutebill.domain.counts import require_int
from minutebill.domain.events import DomainEvent
from minutebill.domain.periods import require_day, to_utc
from minutebill.domain.state import State
from minutebill.domain.text import require_key
from minutebill.errors import (
    ConcurrencyConflict,
    MinutebillError,
    NotFound,
    PersistenceError,
    ValidationError,
)

__all__ = ["AggregateKind", "CommittedAggregates", "DocumentUnitOfWork", "Kinds"]

A = TypeVar("A")


def _encode(kind: AggregateKind[Any], aggregate: Any) -> str:
    """The document of `aggregate`: its state without the version, which is a column."""
    state = kind.document(aggregate)
    state.pop("version", None)
    return dumps(state)


def _version(aggregate: Any) -> int:
    """The version an aggregate carries; immutable documents (quotes) carry none and are 0."""
    return int(getattr(aggregate, "version", 0))


def _set_version(aggregate: Any, version: int) -> None:
    if hasattr(aggregate, "version"):
        aggregate.version = version


class Aggregate(Protocol):
    """What the store needs from an aggregate."""

    version: int

    def to_state(self) -> State: ...

    def pull_events(self) -> list[DomainEvent]: ...


@frozen
class AggregateKind(Generic[A]):
    """How one kind of aggregate is identified, indexed and rebuilt.

    Attributes:
        name: The kind's name in the store (``"ledger"``).
        from_state: Rebuilds an aggregate from its document.
        identity: ``(account_id, key)`` of an aggregate.
        due_at: When its next scheduled work is due (None: nothing scheduled).
        reference: A second, globally unique key (a payment's gateway reference), or None.
        copy: An independent aggregate in the stored state of the one given, as `from_state`
            of its document would rebuild it, only faster; None for kinds that cannot copy.
            Kinds that can are kept in `CommittedAggregates` after each commit.
        document: The state to save, encoded at once and then dropped: ``to_state()``, or a
            cheaper one equal to it that may share parts with the aggregate.
    """

    name: str
    from_state: Callable[[State], A]
    identity: Callable[[A], tuple[str, str]]
    due_at: Callable[[A], datetime | None] = field(default=lambda _: None)
    reference: Callable[[A], str | None] = field(default=lambda _: None)
    copy: Callable[[A], A] | None = None
    document: Callable[[A], State] = field(default=lambda a: a.to_state())


class CommittedAggregates:
    """The aggregates a store's units of work committed last, kept instead of decoded again.

    A unit of work that loads a document reads its version and text inside its transaction
    (under the row's lock where the store takes one), as always. When they equal those of
    an aggregate this store committed, the unit gets that aggregate instead of decoding the
    text again: the same value (`AggregateKind.copy` promises what `from_state` would build),
    in a tenth of the time. A write by any other process or store shows as another version
    or text, so nothing stale is ever handed out; it only costs a decode.

    A unit of work that may commit *takes* the kept aggregate: it leaves this cache, so no one
    else can get it, and the unit keeps a copy of what it commits (never the aggregate its
    caller holds, which the caller may go on changing). A read-only unit gets a copy.

    This is what makes the next settlement of an account cheap when one app process settles
    most of its calls. Bounded: beyond `size` identities the one committed longest ago is
    forgotten. Safe for the threads of one store: entries are immutable tuples, and copying,
    taking and replacing an entry each hold a lock, so a kept aggregate is copied only while
    no unit of work owns it.
    """

    __slots__ = ("_entries", "_lock", "size")

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._entries: dict[tuple[str, str, str], tuple[int, str, Any]] = {}
        self._lock = threading.Lock()

    def _entry(
        self, identity: tuple[str, str, str], doc: StoredDocument
    ) -> tuple[int, str, Any] | None:
        entry = self._entries.get(identity)
        if entry is None or entry[0] != doc.version or entry[1] != doc.state:
            return None
        return entry

    def copy_of(self, kind: AggregateKind[A], doc: StoredDocument) -> A | None:
        """A copy of the kept aggregate if `doc` is exactly what was committed, else None."""
        identity = (kind.name, doc.account_id, doc.key)
        entry = self._entry(identity, doc)
        if entry is None or kind.copy is None:
            return None
        with self._lock:  # not while another thread takes it and starts changing it
            if self._entries.get(identity) is not entry:
                return None
            return kind.copy(entry[2])

    def take(self, kind: AggregateKind[A], doc: StoredDocument) -> A | None:
        """The kept aggregate itself if `doc` is exactly what was committed, else None.

        It is no longer kept: the caller owns it (and keeps a copy when it commits).
        """
        if kind.copy is None:  # never kept (see `keep`): nothing to look up
            return None
        identity = (kind.name, doc.account_id, doc.key)
        entry = self._entry(identity, doc)
        if entry is None:
            return None
        with self._lock:
            if self._entries.get(identity) is not entry:
                return None  # another thread took or replaced it meanwhile
            del self._entries[identity]
        return entry[2]  # type: ignore[no-any-return]

    def keep(
        self, identity: tuple[str, str, str], kind: AggregateKind[A], state: str, aggregate: A
    ) -> None:
        """Keep a copy of `aggregate`, just committed (or found unchanged) as `state`."""
        if kind.copy is None:
            return
        version = _version(aggregate)
        entry = self._entries.get(identity)
        if entry is not None and entry[0] == version and entry[1] == state:
            return  # kept already (a read-only unit of work copied it from here)
        kept = (version, state, kind.copy(aggregate))
        with self._lock:
            entries = self._entries
            entries.pop(identity, None)
            entries[identity] = kept
            if len(entries) > self.size:
                del entries[next(iter(entries))]

    def __len__(self) -> int:
        return len(self._entries)


@define
class _Tracked:
    kind: AggregateKind[Any]
    aggregate: Any
    loaded_state: str | None
    loaded_indexed: tuple[int | None, str | None] | None = None


class _Repository(Generic[A]):
    """Typed access to one kind inside a unit of work (implements `AggregateRepository`)."""

    def __init__(self, uow: DocumentUnitOfWork, kind: AggregateKind[A]) -> None:
        self._uow = uow
        self._kind = kind

    def _track(self, doc: StoredDocument) -> A:
        identity = (self._kind.name, doc.account_id, doc.key)
        tracked = self._uow.tracked.get(identity)
        if tracked is not None:
            return tracked.aggregate  # type: ignore[no-any-return]
        committed = self._uow.committed
        if self._uow.read_only:
            aggregate = committed.copy_of(self._kind, doc)
        else:
            aggregate = committed.take(self._kind, doc)
        if aggregate is None:
            state = loads(doc.state)
            state["version"] = doc.version
            aggregate = self._kind.from_state(state)
            _set_version(aggregate, doc.version)
        # Stored text is always dumps(to_state()) and round trips are exact, so comparing the
        # re-encoded state with it at commit tells whether anything changed.
        self._uow.tracked[identity] = _Tracked(self._kind, aggregate, doc.state, doc.indexed)
        return aggregate

    def find(self, account_id: str, key: str = "") -> A | None:
        tracked = self._uow.tracked.get((self._kind.name, account_id, key))
        if tracked is not None:
            return tracked.aggregate  # type: ignore[no-any-return]
        doc = self._uow.tx.load(self._kind.name, account_id, key)
        return None if doc is None else self._track(doc)

    def exists(self, account_id: str, key: str = "") -> bool:
        """Whether the aggregate exists (in this unit of work or the store), without loading it."""
        tracked = self._uow.tracked.get((self._kind.name, account_id, key))
        if tracked is not None:
            return True
        return self._uow.tx.exists(self._kind.name, account_id, key)

    def get(self, account_id: str, key: str = "") -> A:
        found = self.find(account_id, key)
        if found is None:
            raise NotFound(self._kind.name, f"{account_id}/{key}" if key else account_id)
        return found

    def add(self, aggregate: A) -> None:
        account_id, key = self._kind.identity(aggregate)
        identity = (self._kind.name, account_id, key)
        if identity in self._uow.tracked:
            raise ValidationError(self._kind.name, key or account_id, "already in this unit")
        self._uow.tracked[identity] = _Tracked(self._kind, aggregate, None)

    def replace(self, aggregate: A) -> None:
        """Put `aggregate` in the place of the tracked one with its identity.

        For an identity that is reused (a released number bought again): the new aggregate is
        saved over the old document, with the old one's version checked.

        Raises:
            NotFound: if no aggregate with that identity was loaded in this unit of work.
        """
        account_id, key = self._kind.identity(aggregate)
        tracked = self._uow.tracked.get((self._kind.name, account_id, key))
        if tracked is None:
            raise NotFound(self._kind.name, f"{account_id}/{key}" if key else account_id)
        _set_version(aggregate, _version(tracked.aggregate))
        tracked.aggregate = aggregate

    def for_account(self, account_id: str) -> list[A]:
        return [self._track(doc) for doc in self._uow.tx.load_account(self._kind.name, account_id)]

    def due(self, at: datetime, limit: int, *, after: str | None = None) -> list[A]:
        return [a for a, _ in self.due_page(at, limit, after=after)]

    def due_page(
        self, at: datetime, limit: int, *, after: str | None = None
    ) -> list[tuple[A, str]]:
        """Like `due`, each with a cursor: pass the last one as `after` for the next page.

        Raises:
            ValidationError: if `at` is not an aware datetime, `limit` not a whole number of
                at least 1, or `after` not a cursor this method returned.
        """
        require_int("limit", limit, 1)
        start = parse_due_cursor(after)
        rows = self._uow.tx.load_due(self._kind.name, to_micros(to_utc(at)), limit, start)
        return [
            (self._track(doc), due_cursor(micros, doc.account_id, doc.key)) for micros, doc in rows
        ]

    def by_reference(self, reference: str) -> A | None:
        """The aggregate whose `reference` (e.g. a gateway payment reference) is given."""
        doc = self._uow.tx.load_by_reference(self._kind.name, reference)
        return None if doc is None else self._track(doc)


class _Usage(Generic[A]):
    def __init__(self, uow: DocumentUnitOfWork, from_state: Callable[[State], A]) -> None:
        self._uow = uow
        self._from_state = from_state

    def add(self, record: Any, *, local_day: date) -> None:
        state = dumps(record.to_state())
        # An event that carries this record (CallSettled) reuses the text in the outbox.
        self._uow.encoded[id(record)] = (record, state)
        self._uow.batch.usage.append(
            UsageRow(
                account_id=record.account_id,
                call_id=record.call_id,
                settled_micros=to_micros(record.settled_at),
                local_day=local_day.isoformat(),
                billable_seconds=record.billable_seconds,
                overage_seconds=record.overage_seconds,
                tags=tuple(sorted(record.tags)),
                state=state,
            )
        )

    def get(self, account_id: str, call_id: str) -> A | None:
        for row in self._uow.batch.usage:
            if row.account_id == account_id and row.call_id == call_id:
                return self._from_state(loads(row.state))
        text = self._uow.tx.usage_get(account_id, call_id)
        return None if text is None else self._from_state(loads(text))

    def page(self, account_id: str, *, cursor: str | None = None, limit: int = 50) -> UsagePage[A]:
        require_int("limit", limit, 1)
        before = parse_usage_cursor(cursor)
        rows = self._uow.tx.usage_page(account_id, before, limit + 1)
        # One parse of the page as a JSON array costs less than a parse per record.
        states = loads_joined([state for _, _, state in rows[:limit]])
        records = tuple(self._from_state(state) for state in states)
        next_cursor = None
        if len(rows) > limit:
            micros, call_id, _ = rows[limit - 1]
            next_cursor = usage_cursor(micros, call_id)
        return UsagePage(records, next_cursor)

    def daily(
        self, account_id: str, since: date, until: date, *, tag: str | None = None
    ) -> list[tuple[date, UsageTotals]]:
        # The totals of every call are kept under the tag "": a tag must be a real one.
        wanted = "" if tag is None else require_key("tag", tag)
        first, end = _days(since, until)
        rows = self._uow.tx.usage_daily(account_id, first, end, wanted)
        return [(date.fromisoformat(d), UsageTotals(c, b, o)) for d, c, b, o in rows]

    def by_tag(self, account_id: str, since: date, until: date) -> dict[str, UsageTotals]:
        rows = self._uow.tx.usage_by_tag(account_id, *_days(since, until))
        return {t: UsageTotals(c, b, o) for t, c, b, o in rows}


def _days(since: date, until: date) -> tuple[str, str]:
    """The texts the stores keep local days as ("YYYY-MM-DD"), of two checked days."""
    # A datetime's text sorts after its day's, so its day would be left out: refused.
    return require_day(since, "since").isoformat(), require_day(until, "until").isoformat()


class _Outbox:
    def __init__(self, uow: DocumentUnitOfWork) -> None:
        self._uow = uow

    def add(self, events: Sequence[DomainEvent]) -> None:
        self._uow.extra_events.extend(events)

    def since(self, position: int, limit: int = 1000) -> list[OutboxEntry]:
        # Checked here, before any store: stores read such values differently (SQLite takes
        # LIMIT -1 for no limit, a slice counts a negative start from the end).
        require_int("position", position, 0)
        require_int("limit", limit, 1)
        return [
            OutboxEntry(pos, account, name, from_micros(micros), loads(payload))
            for pos, account, name, micros, payload in self._uow.tx.outbox_since(position, limit)
        ]


class _Idempotency:
    def __init__(self, uow: DocumentUnitOfWork) -> None:
        self._uow = uow

    def get(self, account_id: str, key: str) -> StoredResponse | None:
        for acc, k, fingerprint, response in self._uow.batch.idempotency:
            if (acc, k) == (account_id, key):
                return StoredResponse(fingerprint, loads(response))
        row = self._uow.tx.idempotency_get(account_id, key)
        return None if row is None else StoredResponse(row[0], loads(row[1]))

    def put(self, account_id: str, key: str, stored: StoredResponse) -> None:
        self._uow.batch.idempotency.append(
            (account_id, key, stored.fingerprint, dumps(stored.response))
        )


@frozen
class Kinds:
    """The aggregate kinds a store keeps, and how usage records are rebuilt."""

    ledgers: AggregateKind[Any]
    wallets: AggregateKind[Any]
    subscriptions: AggregateKind[Any]
    numbers: AggregateKind[Any]
    orders: AggregateKind[Any]
    payments: AggregateKind[Any]
    usage_record: Callable[[State], Any]
    committed: CommittedAggregates = field(factory=CommittedAggregates)


R = TypeVar("R")


class _made_on_first_use(Generic[R]):  # noqa: N801 - used as a decorator, like cached_property
    """`functools.cached_property` without its lock: a repository made on first use.

    The lock (taken at every first use before Python 3.12) is not needed here: a unit of work
    belongs to one thread. After the first use the value is in the instance's ``__dict__``,
    which Python looks in before this (non-data) descriptor.
    """

    def __init__(self, make: Callable[[DocumentUnitOfWork], R]) -> None:
        self._make = make
        self.__doc__ = make.__doc__
        self.name = make.__name__

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> Self: ...

    @overload
    def __get__(self, instance: DocumentUnitOfWork, owner: type | None = None) -> R: ...

    def __get__(self, instance: DocumentUnitOfWork | None, owner: type | None = None) -> R | Self:
        if instance is None:
            return self
        made = instance.__dict__[self.name] = self._make(instance)
        return made


class DocumentUnitOfWork:
    """A `UnitOfWork` over any store that implements `Transaction`.

    Repositories are made on first use: most units of work touch one or two of them.
    """

    def __init__(
        self, begin: Callable[[], Transaction], kinds: Kinds, *, read_only: bool = False
    ) -> None:
        self._begin = begin
        self._kinds = kinds
        self.committed = kinds.committed
        self.read_only = read_only
        self._tx: Transaction | None = None
        self.tracked: dict[tuple[str, str, str], _Tracked] = {}
        self.batch = WriteBatch()
        self.extra_events: list[DomainEvent] = []
        # Values already encoded in this unit of work, by id (the value is kept alive with
        # its text so the id cannot be reused): an event carrying one embeds the text.
        self.encoded: dict[int, tuple[object, str]] = {}
        self._finished = False

    @property
    def tx(self) -> Transaction:
        """The open transaction (the unit of work must have been entered)."""
        if self._tx is None or self._finished:
            raise MinutebillError("the unit of work is not open; use it in a with-block")
        return self._tx

    def __enter__(self) -> Self:
        if self._tx is not None:
            raise MinutebillError("a unit of work is entered once")
        self._tx = self._begin()
        return self

    @_made_on_first_use
    def ledgers(self) -> _Repository[Any]:
        """Minute ledgers."""
        return _Repository(self, self._kinds.ledgers)

    @_made_on_first_use
    def wallets(self) -> _Repository[Any]:
        """Wallets."""
        return _Repository(self, self._kinds.wallets)

    @_made_on_first_use
    def subscriptions(self) -> _Repository[Any]:
        """Plan subscriptions."""
        return _Repository(self, self._kinds.subscriptions)

    @_made_on_first_use
    def numbers(self) -> _Repository[Any]:
        """Number subscriptions."""
        return _Repository(self, self._kinds.numbers)

    @_made_on_first_use
    def orders(self) -> _Repository[Any]:
        """Checkout quotes."""
        return _Repository(self, self._kinds.orders)

    @_made_on_first_use
    def payments(self) -> _Repository[Any]:
        """Payments."""
        return _Repository(self, self._kinds.payments)

    @_made_on_first_use
    def usage(self) -> _Usage[Any]:
        """Settled calls."""
        return _Usage(self, self._kinds.usage_record)

    @_made_on_first_use
    def outbox(self) -> _Outbox:
        """Committed events."""
        return _Outbox(self)

    @_made_on_first_use
    def idempotency(self) -> _Idempotency:
        """First answers of idempotent requests."""
        return _Idempotency(self)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc is not None and not self._finished and _decided_on_reads(exc):
                self.tx.verify()  # raises ConcurrencyConflict in place of an error on stale state
        finally:
            if not self._finished:
                self.rollback()
            # The repositories refer back to this unit of work: dropping them breaks the
            # cycle, so a finished unit of work (and every aggregate it tracked) is freed at
            # once instead of waiting for the cyclic garbage collector (measured: a tenth of
            # due work).
            for name in _REPOSITORIES:
                self.__dict__.pop(name, None)

    def _changes(self) -> Iterator[tuple[_Tracked, DocumentWrite]]:
        for (kind_name, account_id, key), tracked in self.tracked.items():
            state = _encode(tracked.kind, tracked.aggregate)
            if state == tracked.loaded_state:
                continue
            version = _version(tracked.aggregate)
            new = tracked.loaded_state is None
            due = tracked.kind.due_at(tracked.aggregate)
            due_micros = None if due is None else to_micros(due)
            reference = tracked.kind.reference(tracked.aggregate)
            # Positional: keyword arguments make building a named tuple three times as dear.
            write = DocumentWrite(
                kind_name,
                account_id,
                key,
                1 if new else version + 1,  # version
                None if new else version,  # expected_version
                due_micros,
                reference,
                state,
                new or tracked.loaded_indexed != (due_micros, reference),  # indexed_changed
            )
            yield tracked, write

    def _payload(self, event: DomainEvent) -> str:
        """The event's payload as JSON text, embedding values already encoded in this unit."""
        encoded = self.encoded
        if not encoded:  # nothing to embed (every unit of work but a call's settlement)
            return dumps(event_payload(event))
        fields: dict[str, Any] = {}
        embedded: list[str] = []
        standard = False  # whether a part was written by the standard library (see `dumps`)
        for name in payload_fields(type(event)):
            value = getattr(event, name)
            known = encoded.get(id(value))
            if known is not None and known[0] is value:
                embedded.append(f'"{name}":{known[1]}')  # a field name needs no escaping
                standard = standard or known[1][:1] == STANDARD
            else:
                fields[name] = plain(value)
        text = dumps(fields)
        if not embedded:
            return text
        if text[:1] == STANDARD:
            standard, text = True, text[1:]
        rest = "" if text == "{}" else "," + text[1:-1]
        payload = "{" + ",".join(embedded) + rest + "}"
        return STANDARD + payload if standard else payload

    def commit(self) -> list[DomainEvent]:
        """Write everything atomically; see `UnitOfWork.commit`.

        Raises:
            MinutebillError: in a read-only unit of work (its store took no write lock).
        """
        tx = self.tx
        if self.read_only:
            raise MinutebillError("a read-only unit of work cannot commit")
        changes = list(self._changes())
        events: list[DomainEvent] = []
        for tracked in self.tracked.values():
            pull = getattr(tracked.aggregate, "pull_events", None)
            if pull is not None:
                events.extend(pull())
        events.extend(self.extra_events)
        batch = self.batch
        batch.documents = [write for _, write in changes]
        batch.outbox = outbox = []
        at, micros = None, 0
        for e in events:
            if e.occurred_at is not at:  # a use case's events share one instant: convert it once
                at = e.occurred_at
                micros = to_micros(at)
            outbox.append(OutboxRow(e.account_id, e.name, micros, self._payload(e)))
        try:
            # Also with nothing to write: a store that decided on documents it had cached
            # (PostgreSQL) checks them when it commits, so what this unit returns is current.
            tx.write(batch)
        finally:
            self._finished = True
            tx.close()
        for tracked, write in changes:
            _set_version(tracked.aggregate, write.version)
            tracked.loaded_state = write.state
        committed = self.committed
        for identity, tracked in self.tracked.items():
            # Kinds that cannot copy are never kept (a page of due numbers: no call each).
            if tracked.loaded_state is not None and tracked.kind.copy is not None:
                committed.keep(identity, tracked.kind, tracked.loaded_state, tracked.aggregate)
        return events

    def rollback(self) -> None:
        """Discard everything."""
        if self._tx is not None and not self._finished:
            self._finished = True
            self._tx.close()
        self._finished = True


def _decided_on_reads(exc: BaseException) -> bool:
    """Whether `exc` may be a decision on what the unit read (a store's failure is not)."""
    return isinstance(exc, Exception) and not isinstance(
        exc, ConcurrencyConflict | PersistenceError
    )


_REPOSITORIES = tuple(
    name
    for name, value in vars(DocumentUnitOfWork).items()
    if isinstance(value, _made_on_first_use)
)
"""The repositories a unit of work makes on first use (its cached properties)."""
