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

from collections.abc import Callable, Hashable
from typing import TypeVar

from minutebill.domain.grants import MinuteGrant
from minutebill.domain.ledger_books import GrantBook
from minutebill.domain.ledger_checks import Rater
from minutebill.domain.ledger_policy import LedgerPolicy
from minutebill.domain.periods import BillingPeriod
from minutebill.domain.state import State, instant_from_state, instant_to_state

__all__ = ["ParsedLedgerValues"]

V = TypeVar("V")


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

    def _get(
        self, cache: dict[Hashable, V], key: Callable[[], Hashable], parse: Callable[[], V]
    ) -> V:
        """The value cached under ``key()``, parsed by `parse` the first time."""
        try:
            k = key()
            found = cache.get(k)
        except (KeyError, TypeError):  # malformed: let the parser say what is wrong
            return parse()
        if found is None:
            found = parse()
            if len(cache) >= self.limit:
                cache.clear()
            cache[k] = found
        return found

    def policy(self, state: State) -> tuple[LedgerPolicy, Rater]:
        """The `LedgerPolicy` that `LedgerPolicy.to_state` encoded as `state`, and its rater.

        The rater remembers rated lengths; ledgers with the same policy share it, as copies
        of one ledger do.
        """

        def key() -> Hashable:
            rate = state["overage_rate"]
            ttl = state["hold_ttl_us"]
            return (
                state["rating"],
                state["overage"],
                None if rate is None else (rate["amount"], rate["currency"]),
                tuple(state["thresholds"]),
                tuple(map(type, state["thresholds"])),
                ttl,
                type(ttl),
            )

        def parse() -> tuple[LedgerPolicy, Rater]:
            policy = LedgerPolicy.from_state(state)
            return policy, Rater(policy.rating)

        return self._get(self._policies, key, parse)

    def period(self, texts: list[str]) -> tuple[BillingPeriod, str, str]:
        """The period whose bounds `texts` hold, and their texts as `instant_to_state` gives."""

        def parse() -> tuple[BillingPeriod, str, str]:
            period = BillingPeriod(instant_from_state(texts[0]), instant_from_state(texts[1]))
            return period, instant_to_state(period.start), instant_to_state(period.end)

        return self._get(self._periods, lambda: (*texts, *map(type, texts)), parse)

    def book(self, state: State) -> GrantBook:
        """A new `GrantBook` that `GrantBook.to_state` encoded as `state`.

        Its terms (and the texts of its instants) come from the first book parsed with the
        same terms; its counters from `state`.
        """

        def key() -> Hashable:
            granted, priority = state["granted"], state["priority"]
            return (
                state["grant_id"],
                state["source"],
                granted,
                type(granted),
                state["effective_at"],
                state["expires_at"],
                priority,
                type(priority),
                state["reference"],
            )

        def parse() -> GrantBook:
            book = GrantBook.from_state(state)
            book.to_state()  # encodes the texts of its instants once, for every copy
            return book

        book = self._get(self._books, key, parse).copy()
        # The counters change at every settlement; the terms above never do.
        book.remaining, book.held, book.consumed, book.expired = (
            state["remaining"],
            state["held"],
            state["consumed"],
            state["expired"],
        )
        book.base_consumed, book.base_expired = state["base_consumed"], state["base_expired"]
        return book

    def grant(self, state: State) -> MinuteGrant:
        """The `MinuteGrant` that `MinuteGrant.to_state` encoded as `state` (a pruned grant)."""

        def key() -> Hashable:
            values = tuple(state[name] for name in _GRANT_FIELDS)
            return (*values, *map(type, values))

        return self._get(self._grants, key, lambda: MinuteGrant.from_state(state))


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
