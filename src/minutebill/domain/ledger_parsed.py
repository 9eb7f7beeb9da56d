"""The parts of ledger documents that rarely change, parsed once (`ParsedLedgerValues`).

A store loads an account's ledger document for each settlement that it did not commit itself
(another process settled a call of the same account meanwhile, say). Between two loads most
of the document stays the same: the policy, the period, and each grant's terms. Parsing them
(validation, instants, money) was most of what loading a ledger cost, so a store keeps one of
these and passes it to every `MinuteLedger.from_state`. Each distinct part is parsed by the
public constructors the first time it is seen, with all their checks; later loads reuse the
result. The values are immutable, so sharing them between ledgers (and threads) is safe.
"""

from __future__ import annotations

from collections.abc import Hashable

from minutebill.domain.grants import MinuteGrant
from minutebill.domain.ledger_books import GrantBook
from minutebill.domain.ledger_checks import Rater
from minutebill.domain.ledger_policy import LedgerPolicy
from minutebill.domain.memo import remember
from minutebill.domain.periods import BillingPeriod
from minutebill.domain.state import State, instant_from_state, instant_to_state

__all__ = ["ParsedLedgerValues"]


class ParsedLedgerValues:
    """Policies, periods and grant terms already parsed from ledger documents.

    Keys hold every value a parsed part is built from, and the types of its numbers (so
    ``1``, ``1.0`` and ``True`` stay apart); a part that cannot be keyed (malformed) is
    parsed every time, so the parser says what is wrong. Past `limit` distinct values of a
    kind the cache starts afresh.

    Attributes:
        limit: How many distinct values of each kind to remember.
    """

    __slots__ = ("_books", "_grants", "_periods", "_policies", "limit")

    def __init__(self, limit: int = 256) -> None:
        self.limit = limit
        self._policies: dict[Hashable, tuple[LedgerPolicy, Rater]] = {}
        self._periods: dict[Hashable, tuple[BillingPeriod, str, str]] = {}
        self._books: dict[Hashable, GrantBook] = {}
        self._grants: dict[Hashable, MinuteGrant] = {}

    # The lookups below build their keys in line (no helper, no closure): they run for every
    # part of every ledger loaded, and a key costs less than a call would.

    def policy(self, state: State) -> tuple[LedgerPolicy, Rater]:
        """The `LedgerPolicy` that `LedgerPolicy.to_state` encoded as `state`, and its rater.

        The rater remembers rated lengths; ledgers with the same policy share it, as copies
        of one ledger do.
        """
        try:
            rate, thresholds, ttl = state["overage_rate"], state["thresholds"], state["hold_ttl_us"]
            key = (
                state["rating"],
                state["overage"],
                None if rate is None else (rate["amount"], rate["currency"]),
                ttl,
                ttl.__class__,
                *thresholds,
                *map(type, thresholds),
            )
            found = self._policies.get(key)
        except (KeyError, TypeError):  # malformed: let the parser say what is wrong
            policy = LedgerPolicy.from_state(state)
            return policy, Rater(policy.rating, hold_ttl=policy.hold_ttl)
        if found is None:
            policy = LedgerPolicy.from_state(state)
            found = remember(
                self._policies,
                key,
                (policy, Rater(policy.rating, hold_ttl=policy.hold_ttl)),
                self.limit,
            )
        return found

    def period(self, texts: list[str]) -> tuple[BillingPeriod, str, str]:
        """The period whose bounds `texts` hold, and their texts as `instant_to_state` gives."""
        try:
            key = tuple(texts)
            found = self._periods.get(key)
        except TypeError:  # malformed: let the parser say what is wrong
            found, key = None, None
        if found is None:
            period = BillingPeriod(instant_from_state(texts[0]), instant_from_state(texts[1]))
            found = (period, instant_to_state(period.start), instant_to_state(period.end))
            if key is not None:
                remember(self._periods, key, found, self.limit)
        return found

    def book(self, state: State) -> GrantBook:
        """A new `GrantBook` that `GrantBook.to_state` encoded as `state`.

        Its terms (and the texts of its instants) come from the first book parsed with the
        same terms; its counters from `state`.
        """
        try:
            granted, priority = state["granted"], state["priority"]
            key = (
                state["grant_id"],
                state["source"],
                granted,
                granted.__class__,
                state["effective_at"],
                state["expires_at"],
                priority,
                priority.__class__,
                state["reference"],
            )
            terms = self._books.get(key)
        except (KeyError, TypeError):  # malformed: let the parser say what is wrong
            return GrantBook.from_state(state)
        if terms is None:
            terms = GrantBook.from_state(state)
            terms.to_state()  # encodes the texts of its instants once, for every copy
            remember(self._books, key, terms, self.limit)
        book = terms.copy()
        # The counters change at every settlement; the terms above never do.
        book.remaining = state["remaining"]
        book.held = state["held"]
        book.consumed = state["consumed"]
        book.expired = state["expired"]
        book.base_consumed = state["base_consumed"]
        book.base_expired = state["base_expired"]
        book.covered = state.get("covered", 0)  # absent from older documents and most grants
        return book

    def grant(self, state: State) -> MinuteGrant:
        """The `MinuteGrant` that `MinuteGrant.to_state` encoded as `state` (a pruned grant)."""
        try:
            values = tuple(state[name] for name in _GRANT_FIELDS)
            key = (*values, *map(type, values))
            found = self._grants.get(key)
        except (KeyError, TypeError):  # malformed: let the parser say what is wrong
            return MinuteGrant.from_state(state)
        if found is None:
            found = remember(self._grants, key, MinuteGrant.from_state(state), self.limit)
        return found


_GRANT_FIELDS = (
    "grant_id",
    "source",
    "granted",
    "effective_at",
    "expires_at",
    "priority",
    "reference",
    "remaining",
    "held",
    "consumed",
    "expired",
)
