"""Hypothesis strategies for minute ledgers: grant terms, grant sets, policies, call lengths.

Each is a noun function returning a ``SearchStrategy``; its docstring says what it shrinks
towards. Times are given relative to an ``at`` the caller chooses, so the values fit the
caller's scenario (a period, a clock).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from attrs import frozen
from hypothesis import strategies as st

from minutebill.domain.catalog import OveragePolicy
from minutebill.domain.grants import GrantSource, MinuteGrant
from minutebill.domain.ledger import LedgerPolicy, MinuteLedger
from minutebill.domain.money import Money
from minutebill.domain.rating import BillingIncrement

__all__ = [
    "GrantTerms",
    "grant_sets",
    "grant_sources",
    "grant_terms",
    "ledger_policies",
    "ledgers",
    "overage_policies",
    "whole_call_seconds",
]


@frozen
class GrantTerms:
    """The terms of one grant, relative to a reference time.

    Attributes:
        grant_id: The grant's id.
        source: Where the minutes come from.
        seconds: Seconds granted.
        starts_after: Offset of `effective_at` from the reference time (zero or negative
            means already effective).
        lasts: How long after `effective_at` the grant expires; None for never.
        priority: Higher is used first.
    """

    grant_id: str
    source: GrantSource
    seconds: int
    starts_after: timedelta
    lasts: timedelta | None
    priority: int = 0

    def effective_at(self, at: datetime) -> datetime:
        """The grant's start for reference time `at`."""
        return at + self.starts_after

    def expires_at(self, at: datetime) -> datetime | None:
        """The grant's expiry for reference time `at`."""
        return None if self.lasts is None else self.effective_at(at) + self.lasts

    def apply(self, ledger: MinuteLedger, at: datetime) -> MinuteGrant:
        """Grant these terms on `ledger`, made at the earlier of `at` and the start."""
        start = self.effective_at(at)
        return ledger.grant(
            self.grant_id,
            self.source,
            self.seconds,
            min(at, start),
            effective_at=start,
            expires_at=self.expires_at(at),
            priority=self.priority,
        )


def grant_sources() -> st.SearchStrategy[GrantSource]:
    """Any source; shrinks towards `GrantSource.PLAN`."""
    return st.sampled_from(list(GrantSource))


def grant_terms(
    grant_id: str,
    *,
    max_seconds: int = 6 * 3600,
    priorities: tuple[int, ...] = (0, 0, 0, 1, 5),
    allow_future: bool = True,
) -> st.SearchStrategy[GrantTerms]:
    """Terms of a grant called `grant_id`, valid at the reference time or starting later.

    Starts and expiries are drawn from a few common offsets (an hour, a day, a week, a
    month, or any whole hour up to 40 days), so that ties between grants — the same expiry,
    the same start, different sources — are common and the whole consumption order is
    exercised. Shrinks towards a small plan grant, effective now, expiring in an hour.
    """
    hour = timedelta(hours=1)
    common = [hour, 24 * hour, 7 * 24 * hour, 30 * 24 * hour]
    start_offsets = [0, -1, -48, 1, 24] if allow_future else [0, -1, -48]
    starts = st.sampled_from(start_offsets).map(lambda h: h * hour)
    ends = st.one_of(
        st.sampled_from(common), st.none(), st.integers(1, 24 * 40).map(lambda h: h * hour)
    )

    def build(
        source: GrantSource, seconds: int, start: timedelta, end: timedelta | None, priority: int
    ) -> GrantTerms:
        # Never expired at the reference time, and never expiring before it starts.
        lasts = None if end is None else max(end, start + hour) - start
        return GrantTerms(grant_id, source, seconds, start, lasts, priority)

    return st.builds(
        build,
        grant_sources(),
        st.integers(1, max_seconds),
        starts,
        ends,
        st.sampled_from(priorities),
    )


def grant_sets(
    *, min_size: int = 1, max_size: int = 6, allow_future: bool = True
) -> st.SearchStrategy[list[GrantTerms]]:
    """Lists of grant terms with distinct ids ``g0``, ``g1``, ...; shrinks towards one grant.

    Every grant is still valid (or not yet effective) at the reference time.
    """
    return st.integers(min_size, max_size).flatmap(
        lambda n: st.tuples(
            *(grant_terms(f"g{i}", allow_future=allow_future) for i in range(n))
        ).map(list)
    )


def overage_policies(currency: str = "INR") -> st.SearchStrategy[OveragePolicy]:
    """Block, charge the wallet, or bill in arrears (0.01 to 99.99 a minute); shrinks to block."""
    rates = st.integers(1, 9999).map(lambda units: Money.from_minor_units(units, currency))
    return st.one_of(
        st.just(OveragePolicy.block()),
        rates.map(OveragePolicy.charge_wallet),
        rates.map(OveragePolicy.bill_in_arrears),
    )


def ledger_policies(currency: str = "INR") -> st.SearchStrategy[LedgerPolicy]:
    """Ledger policies with common ratings; shrinks towards per-minute rating and block."""
    ratings = st.sampled_from(
        [
            BillingIncrement.PER_MINUTE,
            BillingIncrement.PER_SECOND,
            BillingIncrement.SIXTY_SIX,
            BillingIncrement.SIX_SIX,
        ]
    )
    return st.builds(
        lambda rating, overage: LedgerPolicy(rating=rating, overage=overage),
        ratings,
        overage_policies(currency),
    )


def ledgers(
    at: datetime, *, account_id: str = "acct-1", max_grants: int = 6
) -> st.SearchStrategy[MinuteLedger]:
    """Ledgers holding a set of grants made around `at`; shrinks towards one plan grant."""
    return st.builds(
        _ledger_with,
        st.just(account_id),
        ledger_policies(),
        grant_sets(max_size=max_grants),
        st.just(at),
    )


def _ledger_with(
    account_id: str, policy: LedgerPolicy, terms: list[GrantTerms], at: datetime
) -> MinuteLedger:
    ledger = MinuteLedger(account_id, policy)
    for term in terms:
        term.apply(ledger, at)
    ledger.pull_events()
    return ledger


def whole_call_seconds(max_seconds: int = 4 * 3600) -> st.SearchStrategy[int]:
    """Call lengths in whole seconds, zero to `max_seconds`; shrinks towards zero."""
    return st.integers(0, max_seconds)
