"""The ledger's private book-keeping: the grants it holds and their counters.

Kept apart from `minutebill.domain.ledger` so the aggregate reads as rules, not arithmetic.
A `GrantBook` is the ledger's own record of one grant; a `GrantPool` holds the books in
consumption order, works out which grants a number of seconds would come from, and keeps the
lifetime totals exact when old grants are pruned. Both are mutated only by `MinuteLedger`
methods, after every check passed, and shown to the world as immutable `MinuteGrant`s.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import attrs

from minutebill.domain.grants import GrantSource, MinuteGrant, consumption_key, grant_state
from minutebill.domain.ledger_rollover import PendingRollover
from minutebill.domain.periods import BillingPeriod
from minutebill.domain.state import State, instant_to_state, optional_instant_to_state
from minutebill.domain.usage import GrantDebit

if TYPE_CHECKING:
    from minutebill.domain.ledger_parsed import ParsedLedgerValues

__all__ = ["GrantBook", "GrantPool", "PeriodFigures", "in_period", "period_figures"]

_new = object.__new__
_DEBITS_KEPT = 512
PRUNED_GRANTS_KEPT = 64
"""How many pruned grants a pool remembers, so that replaying their `grant` stays a no-op."""


class GrantBook:
    """One grant's terms and counters (``granted == remaining + held + consumed + expired``).

    ``covered`` is the part of ``consumed`` that covered late usage rather than a call's debit
    (`MinuteLedger.cover_late_usage`).
    ``base_consumed`` and ``base_expired`` are the counters when the current period opened:
    the period's figures count only what happened since, so a bundle that lasts several
    periods shows in each period with what it had left at the period's start.
    """

    __slots__ = (
        "base_consumed",
        "base_expired",
        "consumed",
        "covered",
        "debits",
        "effective_at",
        "expired",
        "expires_at",
        "grant_id",
        "granted",
        "held",
        "key",
        "priority",
        "reference",
        "remaining",
        "sole",
        "source",
        "texts",
    )

    def __init__(
        self,
        grant: MinuteGrant,
        base_consumed: int = 0,
        base_expired: int = 0,
        covered: int = 0,
    ) -> None:
        self.grant_id = grant.grant_id
        self.source = grant.source
        self.granted = grant.granted
        self.remaining = grant.remaining
        self.held = grant.held
        self.consumed = grant.consumed
        self.expired = grant.expired
        self.effective_at = grant.effective_at
        self.expires_at = grant.expires_at
        self.priority = grant.priority
        self.reference = grant.reference
        self.base_consumed = base_consumed
        self.base_expired = base_expired
        self.covered = covered
        self.key = consumption_key(
            priority=grant.priority,
            expires_at=grant.expires_at,
            source=grant.source,
            effective_at=grant.effective_at,
            grant_id=grant.grant_id,
        )
        self.debits: dict[int, GrantDebit] = {}  # immutable debits of this grant, reused
        self.sole: dict[int, tuple[tuple[GrantDebit, ...], int]] = {}  # see `sole_hold`
        self.texts: tuple[str, str | None] | None = None  # see `to_state`

    def debit(self, seconds: int) -> GrantDebit:
        """A `GrantDebit` of `seconds` from this grant (shared: values are immutable).

        Calls are rated in pulses, so the same few debits recur; reusing them keeps the
        settle hot path from building a new object for every call. The cache is bounded.
        """
        debit = self.debits.get(seconds)
        if debit is None:
            if len(self.debits) >= _DEBITS_KEPT:
                self.debits.clear()
            debit = self.debits[seconds] = GrantDebit(self.grant_id, seconds)
        return debit

    def sole_hold(self, seconds: int) -> tuple[tuple[GrantDebit, ...], int]:
        """``((debit,), seconds)``: the debits and sum of a hold this grant covers alone.

        Shared and bounded like `debit`: holds are mostly of the same few lengths, so the
        reserve hot path builds nothing for them.
        """
        pair = self.sole.get(seconds)
        if pair is None:
            if len(self.sole) >= _DEBITS_KEPT:
                self.sole.clear()
            pair = self.sole[seconds] = ((self.debit(seconds),), seconds)
        return pair

    def copy(self) -> GrantBook:
        """An independent book with these terms and counters.

        The debit memos (seconds to immutable debits of this very grant) and the texts of
        the grant's instants are shared: sharing them changes no answer and saves building
        them again.
        """
        book = _new(GrantBook)
        book.grant_id = self.grant_id
        book.source = self.source
        book.granted = self.granted
        book.remaining = self.remaining
        book.held = self.held
        book.consumed = self.consumed
        book.expired = self.expired
        book.effective_at = self.effective_at
        book.expires_at = self.expires_at
        book.priority = self.priority
        book.reference = self.reference
        book.base_consumed = self.base_consumed
        book.base_expired = self.base_expired
        book.covered = self.covered
        book.key = self.key
        book.debits = self.debits
        book.sole = self.sole
        book.texts = self.texts
        return book

    def view(self) -> MinuteGrant:
        """The grant as it stands now."""
        return MinuteGrant(
            grant_id=self.grant_id,
            source=self.source,
            granted=self.granted,
            remaining=self.remaining,
            effective_at=self.effective_at,
            expires_at=self.expires_at,
            priority=self.priority,
            reference=self.reference,
            held=self.held,
            consumed=self.consumed,
            expired=self.expired,
        )

    def usable_at(self, at: datetime) -> bool:
        """Whether seconds of this grant may be held or used at `at`."""
        expires_at = self.expires_at
        return self.effective_at <= at and (expires_at is None or at < expires_at)

    def same_terms(
        self,
        *,
        source: GrantSource,
        seconds: int,
        effective_at: datetime | None,
        expires_at: datetime | None,
        priority: int,
        reference: str | None,
    ) -> bool:
        """Whether a repeated `grant` call asks for this very grant.

        An `effective_at` left out of the repeat matches (it defaults to the call's time).
        """
        return (
            self.source is source
            and self.granted == seconds
            and (effective_at is None or effective_at == self.effective_at)
            and self.expires_at == expires_at
            and self.priority == priority
            and self.reference == reference
        )

    def to_state(self) -> State:
        """The book as JSON-compatible data."""
        # A grant's window never changes: its instants are encoded once, not at every save.
        texts = self.texts
        if texts is None:
            texts = (
                instant_to_state(self.effective_at),
                optional_instant_to_state(self.expires_at),
            )
            self.texts = texts
        state = grant_state(self, *texts)
        state["base_consumed"] = self.base_consumed
        state["base_expired"] = self.base_expired
        if self.covered:  # only a grant that covered late usage: the rest stay as they were
            state["covered"] = self.covered
        return state

    @classmethod
    def from_state(cls, state: State) -> GrantBook:
        """The book that `to_state` encoded."""
        return cls(
            MinuteGrant.from_state(state),
            state["base_consumed"],
            state["base_expired"],
            state.get("covered", 0),  # absent from older documents and most grants
        )


class PeriodFigures:
    """The raw second counts of a snapshot (see `MinuteSnapshot`)."""

    __slots__ = ("expired", "held", "lasting", "remaining", "total", "used")

    def __init__(self) -> None:
        self.total = 0
        self.remaining = 0
        self.used = 0
        self.held = 0
        self.expired = 0
        # Remaining and held seconds of grants that last the period out: only a debit takes
        # them away (what the other grants hold or keep may expire at any time).
        self.lasting = 0


def in_period(book: GrantBook, period: BillingPeriod | None, at: datetime) -> bool:
    """Whether `book` counts towards the figures of `period` at `at`.

    A grant counts once it is effective, unless it ended before the period started (it
    belongs to an earlier period). A grant effective after the period's end counts too: while
    the renewal is unpaid the ledger still counts the ended period, and minutes bought
    meanwhile are what there is to use (once counted, a grant stays in the total, expired or
    not, so the total never shrinks within a period).
    """
    if book.effective_at > at:
        return False
    return period is None or book.expires_at is None or book.expires_at > period.start


def period_figures(
    books: list[GrantBook], period: BillingPeriod | None, at: datetime
) -> PeriodFigures:
    """Sum the period's figures over `books`: time proportional to the live grants only.

    A grant past its expiry whose seconds `MinuteLedger.expire` has not moved yet shows them
    as expired already, so the figures never depend on when expiry last ran.
    """
    figures = PeriodFigures()
    for book in books:
        if not in_period(book, period, at):
            continue
        consumed = book.consumed - book.base_consumed
        expired = book.expired - book.base_expired
        figures.total += book.remaining + book.held + consumed + expired
        figures.used += consumed
        figures.held += book.held
        if book.expires_at is not None and book.expires_at <= at:
            figures.expired += expired + book.remaining
        else:
            figures.expired += expired
            figures.remaining += book.remaining
            if book.expires_at is None or (period is not None and book.expires_at >= period.end):
                figures.lasting += book.remaining + book.held
    return figures


Plan = list[tuple[GrantBook, int]]
"""Seconds to take from each grant, in consumption order."""


def _ended_plan(book: GrantBook, since: datetime | None, at: datetime) -> bool:
    """Whether `book` is a plan grant that ended in ``(since, at]``."""
    expires_at = book.expires_at
    return (
        book.source is GrantSource.PLAN
        and expires_at is not None
        and expires_at <= at
        and (since is None or expires_at > since)
    )


class GrantPool:
    """The grants of one ledger, in consumption order, with the totals of pruned ones."""

    __slots__ = ("books", "order", "pending", "pruned", "tombstones")

    def __init__(self) -> None:
        self.books: dict[str, GrantBook] = {}
        self.order: list[GrantBook] | None = None  # sorted books; None until `ordered` sorts
        self.pruned = [0, 0, 0]  # granted, consumed, expired of grants no longer kept
        self.tombstones: dict[str, MinuteGrant] = {}
        self.pending: PendingRollover | None = None  # see `await_held`

    def ordered(self) -> list[GrantBook]:
        """The books in consumption order (sorted once per change of the set of grants)."""
        order = self.order
        if order is None:
            order = self.order = sorted(self.books.values(), key=lambda b: b.key)
        return order

    def copy(self) -> GrantPool:
        """An independent pool: copies of the books, in the same order."""
        pool = _new(GrantPool)
        books = pool.books = {grant_id: book.copy() for grant_id, book in self.books.items()}
        order = self.order
        pool.order = None if order is None else [books[book.grant_id] for book in order]
        pool.pruned = self.pruned.copy()
        pool.tombstones = self.tombstones.copy()  # immutable grants
        pool.pending = self.pending  # immutable
        return pool

    def known(self, grant_id: str) -> GrantBook | None:
        """The book of `grant_id`, or a stand-in for a pruned grant that is remembered."""
        book = self.books.get(grant_id)
        if book is None and grant_id in self.tombstones:
            book = GrantBook(self.tombstones[grant_id])
        return book

    def add(self, grant: MinuteGrant) -> None:
        """Keep a new grant."""
        self.books[grant.grant_id] = GrantBook(grant)
        self.order = None

    def plan(self, seconds: int, at: datetime) -> Plan:
        """Which usable grants `seconds` would come from at `at`, without taking them."""
        plan: Plan = []
        need = seconds
        for book in self.order or self.ordered():
            remaining = book.remaining
            # `book.usable_at(at)`, in line: the hot path of every call start.
            if (
                remaining
                and book.effective_at <= at
                and ((expires_at := book.expires_at) is None or at < expires_at)
            ):
                take = min(need, remaining)
                plan.append((book, take))
                need -= take
                if not need:
                    break
        return plan

    def hold(self, seconds: int, at: datetime) -> tuple[tuple[GrantDebit, ...], int]:
        """Move up to `seconds` from remaining to held, from grants usable at `at`.

        One pass in consumption order; when nothing is usable it changes nothing and returns
        no debits. The first usable grant mostly covers the whole hold: that hold's debits
        are shared values (`GrantBook.sole_hold`), so a call start builds none.

        Returns:
            The debits (shared values, see `GrantBook.debit`) and their sum.
        """
        debits: list[GrantDebit] = []
        need = seconds
        for book in self.order or self.ordered():
            remaining = book.remaining
            # `book.usable_at(at)`, in line: the hot path of every call start.
            if (
                remaining
                and book.effective_at <= at
                and ((expires_at := book.expires_at) is None or at < expires_at)
            ):
                take = need if need < remaining else remaining  # noqa: FURB136 - hot path
                book.remaining = remaining - take
                book.held += take
                if take == seconds:  # one grant covers it all
                    return book.sole.get(seconds) or book.sole_hold(seconds)
                debits.append(book.debit(take))
                need -= take
                if not need:
                    break
        return tuple(debits), seconds - need

    def give_back(self, debits: tuple[GrantDebit, ...]) -> None:
        """Return held seconds to the grants they came from."""
        books = self.books
        for debit in debits:
            book = books[debit.grant_id]
            book.held -= debit.seconds
            book.remaining += debit.seconds

    def consume(
        self, held: tuple[GrantDebit, ...], seconds: int, at: datetime
    ) -> tuple[tuple[GrantDebit, ...], int]:
        """Use `seconds`: the `held` debits first, then grants usable at `at`.

        Held seconds beyond `seconds` go back to their grants.

        Returns:
            The debits, one per grant in the order used, and the seconds nothing covered.
        """
        if not held:  # the common case of a call without a hold: one pass, nothing to merge
            debits: list[GrantDebit] = []
            need = seconds
            if need:
                for book in self.order or self.ordered():
                    remaining = book.remaining
                    if remaining and book.effective_at <= at:
                        expires_at = book.expires_at
                        if expires_at is None or at < expires_at:
                            take = need if need < remaining else remaining  # noqa: FURB136 - hot path
                            book.remaining = remaining - take
                            book.consumed += take
                            debit = book.debits.get(take)
                            debits.append(book.debit(take) if debit is None else debit)
                            need -= take
                            if not need:
                                break
            return tuple(debits), need
        books = self.books
        debits = []
        need = seconds
        for debit in held:
            book = books[debit.grant_id]
            take = min(debit.seconds, need)
            book.held -= debit.seconds
            book.remaining += debit.seconds - take
            if take:
                book.consumed += take
                debits.append(debit if take == debit.seconds else GrantDebit(debit.grant_id, take))
                need -= take
        if need:  # the hold is used up: further grants, merged into the hold's debits
            index = {d.grant_id: i for i, d in enumerate(debits)}
            for book, take in self.plan(need, at):
                book.remaining -= take
                book.consumed += take
                need -= take
                i = index.get(book.grant_id)
                if i is None:
                    debits.append(GrantDebit(book.grant_id, take))
                else:
                    debits[i] = GrantDebit(book.grant_id, debits[i].seconds + take)
        return tuple(debits), need

    def expire_due(self, at: datetime) -> list[tuple[str, int]]:
        """Move the remaining seconds of grants past their expiry to expired.

        Returns:
            ``(grant_id, seconds)`` for every grant that had seconds to expire.
        """
        expired: list[tuple[str, int]] = []
        for book in self.ordered():
            if book.remaining and book.expires_at is not None and book.expires_at <= at:
                expired.append((book.grant_id, book.remaining))
                book.expired += book.remaining
                book.remaining = 0
        return expired

    def carry_over(
        self, at: datetime, cap: int, *, since: datetime | None = None, lapsed: bool = False
    ) -> tuple[int, tuple[str, ...]]:
        """Take up to `cap` unused seconds of plan grants that ended by `at`, as expired.

        Only grants that ended after `since` count (the ending period's start: a grant of an
        earlier period had its own boundary). With `lapsed`, seconds such a grant already
        expired in the current period count as unused too (a renewal paid late, after
        `expire` ran at the period end): they are expired already, so only the rollover
        grant is new.

        Returns:
            The seconds taken and the grants they came from (earliest expiring first).
        """
        left = cap
        sources: list[str] = []
        for book in self.ordered():
            if not left:
                break
            if not _ended_plan(book, since, at):
                continue
            spare = book.remaining + (book.expired - book.base_expired if lapsed else 0)
            if spare:
                take = min(spare, left)
                moved = min(book.remaining, take)  # the rest was expired already
                book.remaining -= moved
                book.expired += moved
                sources.append(book.grant_id)
                left -= take
        return cap - left, tuple(sources)

    def await_held(
        self,
        grant_id: str,
        at: datetime,
        expires_at: datetime | None,
        room: int,
        *,
        since: datetime | None = None,
    ) -> None:
        """After a rollover at `at`: carry seconds that live calls give back later, up to `room`.

        Plan grants that ended by `at` (and after `since`, as for `carry_over`) and hold
        seconds for live calls become the sources of a `PendingRollover` into `grant_id`
        (see `carry_given_back`); without such grants, or without room left under the cap,
        nothing is pending.
        """
        sources = tuple(
            book.grant_id for book in self.ordered() if book.held and _ended_plan(book, since, at)
        )
        held = sum(self.books[grant_id].held for grant_id in sources)
        room = min(room, held)
        self.pending = (
            PendingRollover(
                grant_id=grant_id,
                effective_at=at,
                expires_at=expires_at,
                room=room,
                sources=sources,
            )
            if room
            else None
        )

    def carry_given_back(
        self, at: datetime
    ) -> tuple[str, int, tuple[str, ...], MinuteGrant | None]:
        """Carry what the pending rollover's sources got back from holds into its grant.

        A source plan grant gave all its free seconds to the rollover at the boundary, so
        what it has remaining now came back from a hold: up to the room left, it counts as
        expired there and is added to the rollover grant (granted, if it did not exist). The
        pending rollover ends once its room is used, its sources hold nothing, or at `at` its
        grant has expired (what comes back then expires with its plan grant).

        Returns:
            The rollover grant's id, the seconds carried into it, the grants they came from,
            and the rollover grant if this granted it.
        """
        pending = self.pending
        if pending is None:
            return "", 0, (), None
        books = self.books
        room = start = pending.room if pending.open_at(at) else 0
        carried: list[str] = []
        holding = False
        for grant_id in pending.sources:
            book = books.get(grant_id)
            if book is None:
                continue
            if room and book.remaining:
                take = min(room, book.remaining)
                book.remaining -= take
                book.expired += take
                room -= take
                carried.append(grant_id)
            holding = holding or book.held > 0
        seconds = start - room
        self.pending = attrs.evolve(pending, room=room) if room and holding else None
        if not seconds:
            return pending.grant_id, 0, (), None
        target = books.get(pending.grant_id)
        if target is not None:
            target.granted += seconds
            target.remaining += seconds
            return pending.grant_id, seconds, tuple(carried), None
        grant = MinuteGrant(
            grant_id=pending.grant_id,
            source=GrantSource.ROLLOVER,
            granted=seconds,
            remaining=seconds,
            effective_at=pending.effective_at,
            expires_at=pending.expires_at,
        )
        self.add(grant)
        return pending.grant_id, seconds, tuple(carried), grant

    def rolled_over_after(self, at: datetime) -> bool:
        """Whether a rollover grant effective at or after `at` exists (a boundary rolled)."""
        pending = self.pending
        return (pending is not None and pending.effective_at >= at) or any(
            book.source is GrantSource.ROLLOVER and book.effective_at >= at
            for book in self.books.values()
        )

    def start_period(self) -> list[str]:
        """Prune grants with nothing left and rebase the others; return the pruned ids."""
        pruned: list[str] = []
        pending = self.pending
        waiting = None if pending is None else pending.grant_id  # may still grow: kept
        for grant_id, book in list(self.books.items()):
            if book.remaining == 0 and book.held == 0 and grant_id != waiting:
                pruned.append(grant_id)
                del self.books[grant_id]
                self.pruned[0] += book.granted
                self.pruned[1] += book.consumed
                self.pruned[2] += book.expired
                self.tombstones[grant_id] = book.view()
            else:
                book.base_consumed = book.consumed
                book.base_expired = book.expired
        while len(self.tombstones) > PRUNED_GRANTS_KEPT:
            del self.tombstones[next(iter(self.tombstones))]
        if pruned:
            self.order = None
        return pruned

    def totals(self) -> tuple[int, int, int, int, int]:
        """Lifetime granted, remaining, held, consumed and expired seconds (pruned included)."""
        books = self.books.values()
        granted, consumed, expired = self.pruned
        return (
            granted + sum(b.granted for b in books),
            sum(b.remaining for b in books),
            sum(b.held for b in books),
            consumed + sum(b.consumed for b in books),
            expired + sum(b.expired for b in books),
        )

    def to_state(self) -> State:
        """The pool as JSON-compatible data."""
        tombstones = self.tombstones
        state: State = {
            "grants": [book.to_state() for book in self.books.values()],
            "pruned": list(self.pruned),
            "pruned_grants": [g.to_state() for g in tombstones.values()] if tombstones else [],
        }
        if self.pending is not None:  # only while calls hold ended plan seconds
            state["pending_rollover"] = self.pending.to_state()
        return state

    @classmethod
    def from_state(cls, state: State, *, parsed: ParsedLedgerValues | None = None) -> GrantPool:
        """The pool that `to_state` encoded (with grant terms parsed before, if `parsed`)."""
        book_of = GrantBook.from_state if parsed is None else parsed.book
        grant_of = MinuteGrant.from_state if parsed is None else parsed.grant
        pool = cls()
        for item in state["grants"]:
            book = book_of(item)
            pool.books[book.grant_id] = book
        pool.pruned = list(state["pruned"])
        for item in state["pruned_grants"]:
            grant = grant_of(item)
            pool.tombstones[grant.grant_id] = grant
        pool.pending = PendingRollover.from_state(state.get("pending_rollover"))
        return pool
