"""Minute grants: the buckets of seconds an account may use, and the order they are used in.

A grant is one source of minutes — the plan allowance of a period, an add-on bundle, minutes
rolled over from the last period, or promotional/manual credit — with its own validity window.
Seconds are always integers. The ledger keeps the counters of a grant; `MinuteGrant` is the
immutable picture of one grant at one moment, safe to hand to views and events.

Consumption order (`consumption_key`), first used first:

1. higher `priority` first (a host can pin a grant to be used before all others);
2. earliest `expires_at` (grants that never expire come last), so nothing expires unused
   that could have been used;
3. promotional credit before paid minutes (free minutes are given to be used);
4. oldest `effective_at`, then `grant_id`, so the order is total and deterministic.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from attrs import frozen

from minutebill.domain.state import (
    State,
    instant_from_state,
    instant_to_state,
    optional_instant_from_state,
    optional_instant_to_state,
)

if TYPE_CHECKING:
    from minutebill.domain.ledger_books import GrantBook

__all__ = ["GrantSource", "MinuteGrant", "consumption_key", "grant_state"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
# A stand-in for "never expires" in sort keys, later than any datetime can be.
_NEVER = 1 << 62


def _micros(at: datetime) -> int:
    return (at - _EPOCH) // _MICROSECOND


class GrantSource(enum.Enum):
    """Where a grant's minutes came from."""

    PLAN = "plan"
    """The plan's included minutes for one period."""
    BUNDLE = "bundle"
    """An add-on minute bundle that was bought."""
    ROLLOVER = "rollover"
    """Unused plan minutes carried into the next period (grows as held ones come back)."""
    PROMOTIONAL = "promotional"
    """Promotional or manual credit, given for free."""


@frozen(kw_only=True)
class MinuteGrant:
    """One grant of minutes, as it stands at one moment.

    ``granted == remaining + held + consumed + expired`` always holds for a grant.

    Attributes:
        grant_id: The caller's id for the grant; granting the same id again is idempotent.
        source: Where the minutes came from.
        granted: Seconds granted (> 0).
        remaining: Seconds still free to be held or used (``0 <= remaining <= granted``).
        effective_at: From when the seconds may be used (inclusive).
        expires_at: Until when they may be used (exclusive); None for never.
        priority: Higher is used first (see the module docstring for the whole order).
        reference: The caller's reference (an order or payment id), for reconciliation.
        held: Seconds held for calls in progress.
        consumed: Seconds used by settled calls.
        expired: Seconds that expired unused (including seconds carried into a rollover).
    """

    grant_id: str
    source: GrantSource
    granted: int
    remaining: int
    effective_at: datetime
    expires_at: datetime | None
    priority: int = 0
    reference: str | None = None
    held: int = 0
    consumed: int = 0
    expired: int = 0

    def usable_at(self, at: datetime) -> bool:
        """Whether the grant's window contains `at` (``effective_at <= at < expires_at``)."""
        return self.effective_at <= at and (self.expires_at is None or at < self.expires_at)

    def to_state(self) -> State:
        """The grant as JSON-compatible data."""
        return grant_state(
            self, instant_to_state(self.effective_at), optional_instant_to_state(self.expires_at)
        )

    @classmethod
    def from_state(cls, state: State) -> MinuteGrant:
        """The grant that `to_state` encoded."""
        return cls(
            grant_id=state["grant_id"],
            source=GrantSource(state["source"]),
            granted=state["granted"],
            remaining=state["remaining"],
            effective_at=instant_from_state(state["effective_at"]),
            expires_at=optional_instant_from_state(state["expires_at"]),
            priority=state["priority"],
            reference=state["reference"],
            held=state["held"],
            consumed=state["consumed"],
            expired=state["expired"],
        )


def grant_state(grant: MinuteGrant | GrantBook, effective_at: str, expires_at: str | None) -> State:
    """The state of a grant (`MinuteGrant.to_state`) with its instants already encoded.

    The ledger keeps the texts of its grants' instants, which never change, and writes its
    grants at every settlement: one layout for both keeps their documents the same.
    """
    return {
        "grant_id": grant.grant_id,
        "source": grant.source._value_,  # the value, without the `value` property's call
        "granted": grant.granted,
        "remaining": grant.remaining,
        "effective_at": effective_at,
        "expires_at": expires_at,
        "priority": grant.priority,
        "reference": grant.reference,
        "held": grant.held,
        "consumed": grant.consumed,
        "expired": grant.expired,
    }


def consumption_key(
    *,
    priority: int,
    expires_at: datetime | None,
    source: GrantSource,
    effective_at: datetime,
    grant_id: str,
) -> tuple[int, int, int, int, str]:
    """The sort key of the consumption order: smaller keys are used first.

    Depends only on a grant's fixed terms, never on its balance, so a ledger sorts its grants
    once when the set of grants changes, not on every call.
    """
    return (
        -priority,
        _NEVER if expires_at is None else _micros(expires_at),
        0 if source is GrantSource.PROMOTIONAL else 1,
        _micros(effective_at),
        grant_id,
    )
