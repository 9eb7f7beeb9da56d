"""The in-memory store: zero set-up, thread-safe, and the reference model for the other stores.

Documents are kept as JSON text, exactly as the durable stores keep them, so the in-memory
store has the same semantics: a unit of work sees committed data, writes nothing until
commit, and commits all or nothing under one lock with versions checked.
"""

from __future__ import annotations

import bisect
import threading
from collections import defaultdict
from collections.abc import Callable

from attrs import define, field

from minutebill.adapters._documents import DocumentUnitOfWork
from minutebill.adapters._kinds import Kinds, default_kinds
from minutebill.adapters._transaction import StoredDocument, Transaction, UsageRow, WriteBatch
from minutebill.errors import ConcurrencyConflict, IdempotencyConflict, MinutebillError

__all__ = ["MemoryStore"]

_DocKey = tuple[str, str, str]


@define
class _Doc:
    version: int
    due_micros: int | None
    reference: str | None
    state: str


@define
class _Data:
    docs: dict[_DocKey, _Doc] = field(factory=dict)
    by_reference: dict[tuple[str, str], _DocKey] = field(factory=dict)
    usage: dict[tuple[str, str], UsageRow] = field(factory=dict)
    usage_order: dict[str, list[tuple[int, str]]] = field(factory=lambda: defaultdict(list))
    daily: dict[tuple[str, str, str], list[int]] = field(factory=dict)
    idempotency: dict[tuple[str, str], tuple[str, str]] = field(factory=dict)
    outbox: list[tuple[int, str, str, int, str]] = field(factory=list)


class MemoryStore:
    """Keeps everything in this process. Share one instance between threads freely.

    Example:
        >>> store = MemoryStore()
        >>> with store.unit_of_work() as uow:
        ...     uow.commit()
        []
    """

    def __init__(self, *, kinds: Kinds | None = None) -> None:
        self._lock = threading.RLock()
        self._data = _Data()
        self._kinds = kinds or default_kinds()

    def unit_of_work(self, *, read_only: bool = False) -> DocumentUnitOfWork:
        """A new unit of work (enter it with ``with``); ``read_only`` ones cannot commit."""
        return DocumentUnitOfWork(
            lambda: _MemoryTransaction(self._lock, self._data), self._kinds, read_only=read_only
        )

    __call__ = unit_of_work


class _MemoryTransaction(Transaction):
    def __init__(self, lock: threading.RLock, data: _Data) -> None:
        self._lock = lock
        self._data = data
        self._closed = False

    def _doc(self, key: _DocKey) -> StoredDocument | None:
        doc = self._data.docs.get(key)
        return None if doc is None else StoredDocument(key[1], key[2], doc.version, doc.state)

    def load(self, kind: str, account_id: str, key: str) -> StoredDocument | None:
        with self._lock:
            return self._doc((kind, account_id, key))

    def exists(self, kind: str, account_id: str, key: str) -> bool:
        with self._lock:
            return (kind, account_id, key) in self._data.docs

    def load_account(self, kind: str, account_id: str) -> list[StoredDocument]:
        with self._lock:
            keys = sorted(k for k in self._data.docs if k[0] == kind and k[1] == account_id)
            return [d for k in keys if (d := self._doc(k)) is not None]

    def load_due(
        self, kind: str, due_micros: int, limit: int, after: tuple[int, str, str] | None
    ) -> list[tuple[int, StoredDocument]]:
        with self._lock:
            due = sorted(
                (doc.due_micros, key[1], key[2])
                for key, doc in self._data.docs.items()
                if key[0] == kind and doc.due_micros is not None and doc.due_micros <= due_micros
            )
            if after is not None:
                due = due[bisect.bisect_right(due, after) :]
            return [
                (micros, d)
                for micros, account_id, key in due[:limit]
                if (d := self._doc((kind, account_id, key))) is not None
            ]

    def load_by_reference(self, kind: str, reference: str) -> StoredDocument | None:
        with self._lock:
            key = self._data.by_reference.get((kind, reference))
            return None if key is None else self._doc(key)

    def usage_get(self, account_id: str, call_id: str) -> str | None:
        with self._lock:
            row = self._data.usage.get((account_id, call_id))
            return None if row is None else row.state

    def usage_page(
        self, account_id: str, before: tuple[int, str] | None, limit: int
    ) -> list[tuple[int, str, str]]:
        with self._lock:
            order = self._data.usage_order.get(account_id, [])
            end = len(order) if before is None else bisect.bisect_left(order, before)
            picked = order[max(0, end - limit) : end][::-1]
            return [(m, c, self._data.usage[(account_id, c)].state) for m, c in picked]

    def usage_daily(
        self, account_id: str, since: str, until: str, tag: str
    ) -> list[tuple[str, int, int, int]]:
        with self._lock:
            return sorted(
                (day, calls, billable, overage)
                for (acc, day, t), (calls, billable, overage) in self._data.daily.items()
                if acc == account_id and t == tag and since <= day < until
            )

    def usage_by_tag(
        self, account_id: str, since: str, until: str
    ) -> list[tuple[str, int, int, int]]:
        with self._lock:
            sums: dict[str, list[int]] = {}
            for (acc, day, tag), (c, b, o) in self._data.daily.items():
                if acc == account_id and tag and since <= day < until:
                    total = sums.setdefault(tag, [0, 0, 0])
                    total[0] += c
                    total[1] += b
                    total[2] += o
            return sorted((t, c, b, o) for t, (c, b, o) in sums.items())

    def idempotency_get(self, account_id: str, key: str) -> tuple[str, str] | None:
        with self._lock:
            return self._data.idempotency.get((account_id, key))

    def outbox_since(self, position: int, limit: int) -> list[tuple[int, str, str, int, str]]:
        with self._lock:
            return self._data.outbox[position : position + limit]

    def _check(self, batch: WriteBatch) -> None:
        data = self._data
        claimed: dict[tuple[str, str], _DocKey] = {}
        for w in batch.documents:
            current = data.docs.get((w.kind, w.account_id, w.key))
            held = None if current is None else current.version
            if held != w.expected_version:
                raise ConcurrencyConflict(w.name, w.expected_version or 0, held)
            if w.reference is not None:
                doc = (w.kind, w.account_id, w.key)
                ref = (w.kind, w.reference)
                owner = claimed.get(ref) or data.by_reference.get(ref)
                if owner is not None and owner != doc:
                    raise ConcurrencyConflict(f"{w.kind} reference {w.reference}", 0, None)
                claimed[ref] = doc
        seen: set[tuple[str, str]] = set()
        for row in batch.usage:
            call = (row.account_id, row.call_id)
            if call in data.usage or call in seen:
                raise IdempotencyConflict(row.call_id, "call already settled")
            seen.add(call)
        keys: set[tuple[str, str]] = set()
        for account_id, key, _, _ in batch.idempotency:
            if (account_id, key) in data.idempotency or (account_id, key) in keys:
                raise IdempotencyConflict(key)
            keys.add((account_id, key))

    def write(self, batch: WriteBatch) -> None:
        if self._closed:
            raise MinutebillError("transaction already finished")
        with self._lock:
            self._check(batch)
            data = self._data
            for w in batch.documents:
                data.docs[(w.kind, w.account_id, w.key)] = _Doc(
                    w.version, w.due_micros, w.reference, w.state
                )
                if w.reference is not None:
                    data.by_reference[(w.kind, w.reference)] = (w.kind, w.account_id, w.key)
            for row in batch.usage:
                data.usage[(row.account_id, row.call_id)] = row
                bisect.insort(data.usage_order[row.account_id], (row.settled_micros, row.call_id))
                for tag in row.totalled_under:
                    totals = data.daily.setdefault((row.account_id, row.local_day, tag), [0, 0, 0])
                    totals[0] += 1
                    totals[1] += row.billable_seconds
                    totals[2] += row.overage_seconds
            for account_id, key, fingerprint, response in batch.idempotency:
                data.idempotency[(account_id, key)] = (fingerprint, response)
            for event in batch.outbox:
                position = len(data.outbox) + 1
                data.outbox.append(
                    (position, event.account_id, event.name, event.occurred_micros, event.payload)
                )

    def close(self) -> None:
        self._closed = True


def memory_uow_factory() -> Callable[[], DocumentUnitOfWork]:
    """A fresh store's unit-of-work factory, for tests that want one in a line."""
    return MemoryStore().unit_of_work
