"""The ledger's register of calls: live holds, recently closed calls, calls settled in memory.

Kept apart from `minutebill.domain.ledger` so the aggregate reads as rules. What is kept is
bounded: holds exist only while calls run; closed (released or hold-expired) call ids are
remembered up to `CLOSED_CALLS_KEPT`, oldest forgotten first; settled records are remembered
only in memory, for the life of the loaded ledger — the store keeps the usage history, hands a
call's record back as ``previous`` when it is settled again, and is asked by the service
before a call id is started, admitted from the line or released (call ids are not reused).
"""

from __future__ import annotations

from datetime import datetime

from minutebill.domain.state import State
from minutebill.domain.usage import Reservation, UsageRecord
from minutebill.errors import InvalidTransition

__all__ = ["CLOSED_CALLS_KEPT", "HOLD_EXPIRED", "RELEASED", "CallRegister"]

CLOSED_CALLS_KEPT = 256
"""How many released or hold-expired call ids a ledger remembers (oldest forgotten first)."""
RELEASED = "released"
"""A call whose hold was released: it never connected and cannot be settled."""
HOLD_EXPIRED = "hold_expired"
"""A call whose hold outlived its time-to-live: it may still be settled, without a hold."""


class CallRegister:
    """Holds of live calls, and what the ledger remembers of calls that ended."""

    __slots__ = ("closed", "holds", "settled")

    def __init__(self) -> None:
        self.holds: dict[str, Reservation] = {}
        self.closed: dict[str, str] = {}
        self.settled: dict[str, UsageRecord] = {}

    def copy(self) -> CallRegister:
        """An independent register of the same holds and closed calls.

        It remembers no settled records, as `from_state` rebuilds it: those are the memory of
        one loaded ledger.
        """
        register = CallRegister()
        register.holds = self.holds.copy()  # immutable holds
        register.closed = self.closed.copy()
        return register

    def refuse_closed(self, call_id: str, action: str, allow: str | None = None) -> None:
        """Refuse `action` on a call that was settled or closed (unless closed as `allow`).

        Raises:
            InvalidTransition: naming the call's state.
        """
        if call_id in self.settled:
            raise InvalidTransition(f"call {call_id!r}", "settled", action)
        closed = self.closed.get(call_id)
        if closed is not None and closed != allow:
            raise InvalidTransition(f"call {call_id!r}", closed.replace("_", " "), action)

    def close(self, call_id: str, kind: str) -> None:
        """Remember that `call_id` ended as `kind`, forgetting the oldest beyond the bound."""
        closed = self.closed
        closed.pop(call_id, None)
        closed[call_id] = kind
        while len(closed) > CLOSED_CALLS_KEPT:
            del closed[next(iter(closed))]

    def due(self, at: datetime) -> list[Reservation]:
        """Holds whose time-to-live ended at or before `at`, earliest first."""
        return sorted(
            (r for r in self.holds.values() if r.expires_at <= at),
            key=lambda r: (r.expires_at, r.call_id),
        )

    def to_state(self) -> State:
        """Holds and closed calls as JSON-compatible data (settled records stay out)."""
        holds, closed = self.holds, self.closed
        # Mostly both are empty (no call live, none released): skip building the loops.
        return {
            "holds": [hold.to_state() for hold in holds.values()] if holds else [],
            "closed_calls": [[c, kind] for c, kind in closed.items()] if closed else [],
        }

    @classmethod
    def from_state(cls, state: State) -> CallRegister:
        """The register that `to_state` encoded (remembering no settled records)."""
        register = cls()
        for item in state["holds"]:
            hold = Reservation.from_state(item)
            register.holds[hold.call_id] = hold
        register.closed = {str(c): str(k) for c, k in state["closed_calls"]}
        return register
