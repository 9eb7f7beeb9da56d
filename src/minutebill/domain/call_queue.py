"""The waiting line for calls that cannot start yet: boosted queueing.

A call waits when its account has no free concurrent-call slot or the platform's shared pool
(trunk channels, voice-agent workers) is full. Waiting calls are ordered by the plan's
`queue_priority` (higher first: that is what a boosted tier buys), then by arrival. The line is
bounded, and every waiting call has a time-to-live after which it times out.

`CallQueue` is a plain in-process structure, not an aggregate: it is never saved in a store.
It lives in the process that routes calls (one per dialer or media server) and is rebuilt empty
after a restart, when callers dial again. Push, pop and removal cost O(log n): two binary heaps
(by rank and by expiry) with lazy deletion, compacted when stale entries pile up.

One line serves every thread of its process (a `Billing` is shared by an app server's
threads): each method that changes the line, or reads more than one value of it, holds the
line's lock, so threads settling calls of different accounts at once never see it half
changed. The one-value reads (`get`, `waiting_for`, `full`, `by_key`) need no lock.

Call ids are unique per account, not across accounts (the stores key calls by
``(account_id, call_id)``), so the line knows a waiting call by its `WaitingCall.key`,
``(account_id, call_id)``: two accounts may have calls of the same id waiting at once, and
looking one up, or taking it out, names both ids.
"""

from __future__ import annotations

import functools
import heapq
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Concatenate, ParamSpec, TypeVar

from attrs import define, field, frozen

from minutebill.domain.counts import require_int
from minutebill.domain.periods import to_utc as _to_utc
from minutebill.domain.text import require_key
from minutebill.errors import IdempotencyConflict, LimitExceeded, NotFound, ValidationError

__all__ = ["CallQueue", "WaitingCall"]

_K = TypeVar("_K")
_P = ParamSpec("_P")
_R = TypeVar("_R")
_CallKey = tuple[str, str]  # (account_id, call_id)


def _locked(
    method: Callable[Concatenate[CallQueue, _P], _R],
) -> Callable[Concatenate[CallQueue, _P], _R]:
    """`method`, run holding the line's lock (see the module docstring)."""

    @functools.wraps(method)
    def locked(self: CallQueue, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        with self._lock:
            return method(self, *args, **kwargs)

    return locked


def to_utc(at: datetime) -> datetime:
    """`at` in UTC; an aware UTC datetime passes straight through (the hot path)."""
    if at.__class__ is datetime and at.tzinfo is UTC:
        return at
    return _to_utc(at)


@frozen(kw_only=True)
class WaitingCall:
    """A call waiting for a slot.

    Attributes:
        call_id: The host's id of the call (unique per account).
        account_id: The account the call belongs to.
        priority: The plan's `queue_priority` when the call arrived; higher waits less.
        seq: Arrival order, assigned by the queue; breaks ties between equal priorities.
        enqueued_at: When the call joined the line.
        expires_at: When it times out if still waiting.
        hold_seconds: Seconds to hold once admitted (the call's maximum length), or None for
            the admission policy's initial hold.
    """

    call_id: str
    account_id: str
    priority: int
    seq: int
    enqueued_at: datetime
    expires_at: datetime
    hold_seconds: int | None = None

    @property
    def key(self) -> tuple[str, str]:
        """``(account_id, call_id)``: what tells waiting calls apart, as the stores' keys do."""
        return (self.account_id, self.call_id)

    @property
    def rank(self) -> tuple[int, int]:
        """The sort key: smaller is served first (higher priority, then earlier arrival)."""
        return (-self.priority, self.seq)


def _require_ttl(value: object) -> timedelta:
    if not isinstance(value, timedelta) or value <= timedelta(0):
        raise ValidationError("ttl", value, "a positive timedelta")
    return value


@define
class CallQueue:
    """Waiting calls of many accounts, best first.

    A waiting call is known by its `WaitingCall.key`, ``(account_id, call_id)``: call ids are
    unique per account only. Methods that look a call up take both ids, in `push`'s order.

    Attributes:
        max_depth: At most this many calls wait at once; `push` refuses more.
        ttl: Default time-to-live of a waiting call (a push may give its own).
        by_key: The waiting calls by ``(account_id, call_id)``, read-only: admission's hot
            path asks it whether anyone waits at all, and whether this call does, at the cost
            of reading a dict. (It replaces ``by_call_id``, which was keyed by call id alone.)
    """

    max_depth: int
    ttl: timedelta = timedelta(minutes=2)
    _by_rank: list[tuple[int, int, _CallKey]] = field(factory=list, init=False)
    _by_expiry: list[tuple[datetime, int, _CallKey]] = field(factory=list, init=False)
    _live: dict[_CallKey, WaitingCall] = field(factory=dict, init=False)
    _per_priority: dict[int, int] = field(factory=dict, init=False)
    _per_account: dict[str, int] = field(factory=dict, init=False)
    _timed_out: list[WaitingCall] = field(factory=list, init=False)
    _seq: int = field(default=0, init=False)
    by_key: Mapping[tuple[str, str], WaitingCall] = field(init=False, eq=False, repr=False)
    _lock: threading.RLock = field(factory=threading.RLock, init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        require_int("max_depth", self.max_depth, 1)
        _require_ttl(self.ttl)
        self.by_key = self._live  # the same dict, never replaced: a live view

    # --- reading ----------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._live)

    def __contains__(self, key: object) -> bool:
        """Whether the call with this ``(account_id, call_id)`` key waits.

        Raises:
            TypeError: for a bare call id, which would name no call (it is unique per
                account only) and was the key before.
        """
        if isinstance(key, str):
            raise TypeError(f"ask by (account_id, call_id), not by call id {key!r} alone")
        return key in self._live

    def get(self, call_id: str, account_id: str) -> WaitingCall | None:
        """The waiting call `call_id` of `account_id`, or None if it is not waiting."""
        return self._live.get((account_id, call_id))

    def waiting_for(self, account_id: str) -> int:
        """How many calls of `account_id` are waiting."""
        return self._per_account.get(account_id, 0)

    @property
    def full(self) -> bool:
        """Whether `push` would be refused."""
        return len(self._live) >= self.max_depth

    @_locked
    def waiting(self) -> tuple[WaitingCall, ...]:
        """Every waiting call, best first (O(n log n): for dashboards and tests)."""
        return tuple(sorted(self._live.values(), key=lambda c: c.rank))

    @_locked
    def position(self, call_id: str, account_id: str) -> int:
        """The 1-based place of `account_id`'s waiting call `call_id` in line.

        Costs O(n); `push` returns the place in O(tiers).

        Raises:
            NotFound: if the call is not waiting (its key names the account and the call).
        """
        key = (account_id, call_id)
        call = self._live.get(key)
        if call is None:
            raise NotFound("waiting call", key)
        rank = call.rank
        return 1 + sum(1 for other in self._live.values() if other.rank < rank)

    # --- changing ---------------------------------------------------------------------------

    @_locked
    def push(
        self,
        call_id: str,
        account_id: str,
        priority: int,
        at: datetime,
        *,
        ttl: timedelta | None = None,
        hold_seconds: int | None = None,
    ) -> int:
        """Put a call in line behind every call of its priority; return its 1-based place.

        Calls that timed out by `at` are swept first (collect them with `expire`).

        Another account's call of the same id may be waiting: call ids are unique per account.

        Raises:
            ValidationError: for a bad id, priority, time, ttl or hold (or a ttl that would
                time the call out after year 9999).
            IdempotencyConflict: if the call `call_id` of `account_id` is already waiting.
            LimitExceeded: if `max_depth` calls are already waiting.
        """
        require_key("call_id", call_id)
        require_key("account_id", account_id)
        if isinstance(priority, bool) or not isinstance(priority, int) or priority < 0:
            raise ValidationError("priority", priority, "an int >= 0")
        if hold_seconds is not None:
            require_int("hold_seconds", hold_seconds, 1)
        life = self.ttl if ttl is None else _require_ttl(ttl)
        at = to_utc(at)
        try:
            expires_at = at + life
        except OverflowError:
            raise ValidationError(
                "ttl", life, f"a call waiting from {at} would time out after year 9999"
            ) from None
        self._sweep(at)
        key = (account_id, call_id)
        if key in self._live:
            raise IdempotencyConflict(call_id, f"the call of {account_id!r} is already waiting")
        if len(self._live) >= self.max_depth:
            raise LimitExceeded("queue_depth", self.max_depth, len(self._live) + 1)
        ahead = 0
        for level, count in self._per_priority.items():
            if level >= priority:
                ahead += count
        self._seq += 1
        self._insert(
            key,
            WaitingCall(
                call_id=call_id,
                account_id=account_id,
                priority=priority,
                seq=self._seq,
                enqueued_at=at,
                expires_at=expires_at,
                hold_seconds=hold_seconds,
            ),
        )
        return ahead + 1

    @_locked
    def pop(self, at: datetime) -> WaitingCall | None:
        """Remove and return the best waiting call (None when nobody waits)."""
        self._sweep(to_utc(at))
        by_rank, live = self._by_rank, self._live
        while by_rank:
            _, seq, key = heapq.heappop(by_rank)
            call = live.get(key)
            if call is not None and call.seq == seq:
                self._forget(key, call)
                self._compact()
                return call
        return None

    @_locked
    def peek(self, at: datetime) -> WaitingCall | None:
        """The best waiting call, left in line."""
        self._sweep(to_utc(at))
        while self._by_rank:
            _, seq, key = self._by_rank[0]
            call = self._live.get(key)
            if call is not None and call.seq == seq:
                return call
            heapq.heappop(self._by_rank)
        return None

    @_locked
    def next_admittable(self, at: datetime, can_take: Callable[[str], bool]) -> WaitingCall | None:
        """Remove and return the best waiting call whose account `can_take` a call now.

        Called when a slot frees. Calls of accounts that cannot take one (their own limit is
        reached) are skipped and keep their place, so a call is never passed by a call ranked
        below it that could have used the same slot. Cost: O(log n) per call examined.
        """
        self._sweep(to_utc(at))
        skipped: list[tuple[int, int, _CallKey]] = []
        refused: set[str] = set()
        found: WaitingCall | None = None
        while self._by_rank:
            entry = heapq.heappop(self._by_rank)
            call = self._live.get(entry[2])
            if call is None or call.seq != entry[1]:
                continue  # stale: abandoned, admitted or timed out earlier
            if call.account_id not in refused and can_take(call.account_id):
                found = call
                self._forget(entry[2], call)
                break
            refused.add(call.account_id)
            skipped.append(entry)
        for entry in skipped:
            heapq.heappush(self._by_rank, entry)
        if found is not None:
            self._compact()
        return found

    @_locked
    def requeue(self, call: WaitingCall) -> None:
        """Put back a call taken by `next_admittable` that could not start after all.

        It keeps its original place (priority and arrival), even if the line is full now.

        Raises:
            IdempotencyConflict: if the call (its account's call of its id) is waiting.
        """
        key = call.key
        if key in self._live:
            raise IdempotencyConflict(
                call.call_id, f"the call of {call.account_id!r} is already waiting"
            )
        self._insert(key, call)

    @_locked
    def abandon(self, call_id: str, account_id: str) -> WaitingCall | None:
        """Take `account_id`'s call `call_id` out of line; None if it was not waiting.

        For a caller who hung up, or a call that ended elsewhere. Returns the call the first
        time only, so its place is given up exactly once; another account's call of the same
        id keeps its place.
        """
        key = (account_id, call_id)
        call = self._live.get(key)
        if call is None:
            return None
        self._forget(key, call)
        self._compact()
        return call

    @_locked
    def expire(self, at: datetime) -> list[WaitingCall]:
        """Remove calls whose time-to-live ran out by `at`; return every timed-out call.

        Includes calls swept earlier by `push` or `next_admittable`, each reported once,
        in the order they timed out.
        """
        self._sweep(to_utc(at))
        out, self._timed_out = self._timed_out, []
        return out

    # --- internals --------------------------------------------------------------------------

    def _insert(self, key: _CallKey, call: WaitingCall) -> None:
        """Add `call` under `key` (its `WaitingCall.key`: one tuple for the dict and heaps)."""
        self._live[key] = call
        heapq.heappush(self._by_rank, (-call.priority, call.seq, key))
        heapq.heappush(self._by_expiry, (call.expires_at, call.seq, key))
        self._per_priority[call.priority] = self._per_priority.get(call.priority, 0) + 1
        self._per_account[call.account_id] = self._per_account.get(call.account_id, 0) + 1

    def _forget(self, key: _CallKey, call: WaitingCall) -> None:
        del self._live[key]
        _decrement(self._per_priority, call.priority)
        _decrement(self._per_account, call.account_id)

    def _sweep(self, at: datetime) -> None:
        expiry = self._by_expiry
        while expiry and expiry[0][0] <= at:
            _, seq, key = heapq.heappop(expiry)
            call = self._live.get(key)
            if call is not None and call.seq == seq:
                self._forget(key, call)
                self._timed_out.append(call)

    def _compact(self) -> None:
        """Rebuild the heaps when stale entries outnumber live ones (amortised O(1))."""
        live = len(self._live)
        if len(self._by_rank) > 2 * live + 64:
            self._by_rank = [(-c.priority, c.seq, k) for k, c in self._live.items()]
            heapq.heapify(self._by_rank)
        if len(self._by_expiry) > 2 * live + 64:
            self._by_expiry = [(c.expires_at, c.seq, k) for k, c in self._live.items()]
            heapq.heapify(self._by_expiry)


def _decrement(counts: dict[_K, int], key: _K) -> None:
    n = counts[key] - 1
    if n:
        counts[key] = n
    else:
        del counts[key]
