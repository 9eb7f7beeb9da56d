"""The ports minutebill's service layer depends on, as `typing.Protocol`s.

Adapter authors implement these; the service never imports an adapter.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from minutebill.domain.events import DomainEvent

__all__ = ["Clock", "EventPublisher"]


class Clock(Protocol):
    """Where the service reads the time. The domain never does; time is passed in."""

    def now(self) -> datetime:
        """The current instant: timezone-aware, in UTC."""
        ...


class EventPublisher(Protocol):
    """Receives domain events after the unit of work that recorded them has committed."""

    def publish(self, events: Sequence[DomainEvent]) -> None:
        """Deliver `events` in order. Called at least once per committed event."""
        ...
