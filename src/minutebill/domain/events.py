"""Domain events: facts that happened, recorded on an aggregate and published after commit.

Concrete events live next to the aggregate that records them (ledger events in
`domain.ledger`, number events in `domain.numbers`, ...). Each is a frozen, keyword-only attrs
class deriving from `DomainEvent`, named in the past tense (`NumberPutOnHold`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from attrs import frozen

__all__ = ["DomainEvent", "EventBuffer"]


@frozen(kw_only=True)
class DomainEvent:
    """Base of every event.

    Attributes:
        account_id: The account the event belongs to.
        occurred_at: When it happened (aware, UTC) — the time passed into the domain call.
    """

    account_id: str
    occurred_at: datetime

    @property
    def name(self) -> str:
        """The event's type name, for outboxes and logs."""
        return type(self).__name__


class EventBuffer:
    """Events an aggregate recorded and nobody has collected yet.

    A rejected operation records nothing: aggregates record only after every check passed.
    Buffers compare by their events; copies and pickles record into themselves.

    Attributes:
        record: Adds an event. It is the list's own ``append`` (the list is kept for the
            buffer's life and emptied in place), so recording on the hot paths of call
            starts and ends costs no Python call.
    """

    __slots__ = ("_items", "record")

    def __init__(self) -> None:
        self._items: list[DomainEvent] = []
        self.record: Callable[[DomainEvent], None] = self._items.append

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EventBuffer):
            return NotImplemented
        return self._items == other._items

    __hash__ = None  # type: ignore[assignment]  # mutable: like any list, not hashable

    def __repr__(self) -> str:
        return f"EventBuffer({self._items!r})"

    def __getstate__(self) -> list[DomainEvent]:
        return self._items

    def __setstate__(self, items: list[DomainEvent]) -> None:
        self._items = items
        self.record = items.append  # bound to this copy's list, not the original's

    def pull(self) -> list[DomainEvent]:
        """Return the recorded events and forget them (the unit of work publishes them)."""
        items = self._items[:]
        self._items.clear()  # in place: `record` appends to this list
        return items

    def peek(self) -> tuple[DomainEvent, ...]:
        """The recorded events, without forgetting them."""
        return tuple(self._items)
