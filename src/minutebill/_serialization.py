"""Plain-data (JSON-compatible) forms of domain events, for outboxes and webhooks out.

Events are attrs classes; their fields are turned into JSON values with one rule per type,
the same encodings `minutebill.domain.state` uses for aggregates.
"""

from __future__ import annotations

import enum
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs

from minutebill.domain.events import DomainEvent
from minutebill.domain.money import Money
from minutebill.domain.state import instant_to_state, money_to_state

__all__ = ["event_payload", "plain"]


def plain(value: Any) -> Any:  # noqa: PLR0911 - one branch per value type
    """`value` as JSON-compatible data (recursing into attrs classes and containers)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Money):
        return money_to_state(value)
    if isinstance(value, datetime):
        return instant_to_state(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds() if value.microseconds else int(value.total_seconds())
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, enum.Enum):
        return plain(value.value)
    if isinstance(value, frozenset | set):
        return sorted((plain(v) for v in value), key=str)
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    to_state = getattr(value, "to_state", None)
    if callable(to_state):
        return to_state()
    if attrs.has(type(value)):
        return {f.name: plain(getattr(value, f.name)) for f in attrs.fields(type(value))}
    return str(value)


def event_payload(event: DomainEvent) -> dict[str, Any]:
    """The event's fields as plain data.

    `account_id` and `occurred_at` are left out: the outbox keeps them in columns of their own.
    """
    return {
        f.name: plain(getattr(event, f.name))
        for f in attrs.fields(type(event))
        if f.name not in ("account_id", "occurred_at")
    }
