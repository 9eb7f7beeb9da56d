"""Plain-data (JSON-compatible) forms of domain events, for outboxes and webhooks out.

Events are attrs classes; their fields are turned into JSON values with one rule per type,
the same encodings `minutebill.domain.state` uses for aggregates. Every committed event goes
through here, so the common types are looked up by exact type first and each event class's
field names are read once; the events every renewal records (`NumberRenewed`,
`WalletDebited` and their siblings) are encoded by a function of their own, which gives what
the generic rules give.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs

from minutebill.domain.events import DomainEvent
from minutebill.domain.money import Money
from minutebill.domain.number_events import NumberReactivated, NumberRenewed
from minutebill.domain.state import instant_to_state, money_to_state
from minutebill.domain.wallet_entries import WalletCredited, WalletDebited

__all__ = ["event_payload", "payload_fields", "plain"]


def _timedelta(value: timedelta) -> int | float:
    return value.total_seconds() if value.microseconds else int(value.total_seconds())


_PASS_THROUGH = frozenset({str, int, bool, type(None)})
_BY_TYPE: dict[type, Callable[[Any], Any]] = {
    Money: money_to_state,
    datetime: instant_to_state,
    date: date.isoformat,
    timedelta: _timedelta,
    Decimal: str,
}


def plain(value: Any) -> Any:
    """`value` as JSON-compatible data (recursing into attrs classes and containers)."""
    kind = type(value)
    if kind in _PASS_THROUGH:
        return value
    encode = _BY_TYPE.get(kind)
    if encode is not None:
        return encode(value)
    return _plain_other(value)


def _plain_other(value: Any) -> Any:  # noqa: PLR0911 - one branch per value type
    """`plain` for values whose exact type is not a common one (subclasses included)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Money):
        return money_to_state(value)
    if isinstance(value, datetime):
        return instant_to_state(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return _timedelta(value)
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


_FIELDS: dict[type, tuple[str, ...]] = {}  # per event class, filled on first use


def payload_fields(event_type: type[DomainEvent]) -> tuple[str, ...]:
    """The names of the fields `event_payload` takes from events of `event_type`, in order."""
    names = _FIELDS.get(event_type)
    if names is None:
        names = tuple(
            f.name for f in attrs.fields(event_type) if f.name not in ("account_id", "occurred_at")
        )
        _FIELDS[event_type] = names
    return names


def _number_paid(event: NumberRenewed | NumberReactivated) -> dict[str, Any]:
    return {
        "number": event.number,
        "period_index": event.period_index,
        "paid_through": instant_to_state(event.paid_through),
        "amount": money_to_state(event.amount),
        "paid": money_to_state(event.paid),
    }


def _wallet_entry(event: WalletCredited | WalletDebited) -> dict[str, Any]:
    return {
        "entry_key": event.entry_key,
        "amount": money_to_state(event.amount),
        "balance": money_to_state(event.balance),
        "reason": event.reason,
        "reference": event.reference,
        "reverses": event.reverses,
    }


# The payloads of the events every renewal records, field by field: a quarter of the cost of
# walking their fields through `plain` (and equal to it, which a property test checks).
_DIRECT: dict[type, Callable[[Any], dict[str, Any]]] = {
    NumberRenewed: _number_paid,
    NumberReactivated: _number_paid,
    WalletCredited: _wallet_entry,
    WalletDebited: _wallet_entry,
}


def event_payload(event: DomainEvent) -> dict[str, Any]:
    """The event's fields as plain data.

    `account_id` and `occurred_at` are left out: the outbox keeps them in columns of their own.
    """
    direct = _DIRECT.get(type(event))
    if direct is not None:
        return direct(event)
    return {name: plain(getattr(event, name)) for name in payload_fields(type(event))}
