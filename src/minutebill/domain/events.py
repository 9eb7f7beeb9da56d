"""Domain events: facts that happened, recorded on an aggregate and published after commit.

Concrete events live next to the aggregate that records them (ledger events in
`domain.ledger`, number events in `domain.numbers`, ...). Each is a frozen, keyword-only attrs
class deriving from `DomainEvent`, named in the past tense (`NumberPutOnHold`).
"""

from __future__ import annotations

from datetime import datetime

from attrs import define, field, frozen

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


@define
class EventBuffer:
    """Events an aggregate recorded and nobody has collected yet.

    A rejected operation records nothing: aggregates record only after every check passed.
    """

    _items: list[DomainEvent] = field(factory=list)

    def record(self, event: DomainEvent) -> None:
        """Add `event`."""
        self._items.append(event)

    def pull(self) -> list[DomainEvent]:
        """Return the recorded events and forget them (the unit of work publishes them)."""
        items, self._items = self._items, []
        return items

    def peek(self) -> tuple[DomainEvent, ...]:
        """The recorded events, without forgetting them."""
        return tuple(self._items)
