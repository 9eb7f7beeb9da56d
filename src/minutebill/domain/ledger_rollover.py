"""Rollover of plan seconds that live calls held at the period boundary.

`MinuteLedger.rollover` carries the unused seconds of ended plan grants, but a call that
started before the boundary and is still running holds some of them: they are neither used nor
free yet. When the call ends (or its hold is released or expires), what it gives back was
unused plan time of the ended period, so it is carried too — into the same rollover grant,
within what the cap left, once. A `PendingRollover` remembers that room until the holds are
settled, the cap is reached or the rollover grant expires.
"""

from __future__ import annotations

from datetime import datetime

from attrs import frozen

from minutebill.domain.state import (
    State,
    instant_from_state,
    instant_to_state,
    optional_instant_from_state,
    optional_instant_to_state,
)

__all__ = ["PendingRollover"]


@frozen(kw_only=True)
class PendingRollover:
    """Room left in a rollover's cap for seconds that live calls held at the boundary.

    Attributes:
        grant_id: The rollover grant the seconds go to (granted when the first arrive, if
            nothing was free at the boundary).
        effective_at: The boundary: when the rollover grant starts.
        expires_at: When it expires (None for never); past it nothing more is carried.
        room: Seconds that may still be carried (> 0).
        sources: The ended plan grants that held seconds for live calls.
    """

    grant_id: str
    effective_at: datetime
    expires_at: datetime | None
    room: int
    sources: tuple[str, ...]

    def open_at(self, at: datetime) -> bool:
        """Whether seconds given back at `at` may still be carried (the grant is live)."""
        return self.expires_at is None or at < self.expires_at

    def to_state(self) -> State:
        """The record as JSON-compatible data."""
        return {
            "grant_id": self.grant_id,
            "effective_at": instant_to_state(self.effective_at),
            "expires_at": optional_instant_to_state(self.expires_at),
            "room": self.room,
            "sources": list(self.sources),
        }

    @classmethod
    def from_state(cls, state: State | None) -> PendingRollover | None:
        """The record that `to_state` encoded (None for none, as older documents have)."""
        if state is None:
            return None
        return cls(
            grant_id=state["grant_id"],
            effective_at=instant_from_state(state["effective_at"]),
            expires_at=optional_instant_from_state(state["expires_at"]),
            room=state["room"],
            sources=tuple(state["sources"]),
        )
