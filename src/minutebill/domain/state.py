"""Plain-data encodings shared by every aggregate's ``to_state()`` / ``from_state()``.

Aggregates turn themselves into JSON-compatible dicts (str, int, bool, None, list, dict) so any
store can keep them; these helpers keep the encodings of the value types identical everywhere:
money as ``{"amount": "12.50", "currency": "INR"}``, instants as ISO 8601 UTC strings,
decimals as strings.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from minutebill.domain.money import Money

__all__ = [
    "State",
    "decimal_from_state",
    "instant_from_state",
    "instant_to_state",
    "money_from_state",
    "money_to_state",
    "optional_instant_from_state",
    "optional_instant_to_state",
]

State = dict[str, Any]
"""A JSON-compatible mapping an aggregate saves itself as."""


def money_to_state(money: Money) -> State:
    """``Money`` as a plain dict."""
    return {"amount": str(money.amount), "currency": money.currency}


def money_from_state(state: State) -> Money:
    """The ``Money`` that `money_to_state` encoded."""
    return Money(Decimal(state["amount"]), state["currency"])


_WHOLE_SECONDS = "%04d-%02d-%02dT%02d:%02d:%02d+00:00"
_WITH_MICROSECONDS = "%04d-%02d-%02dT%02d:%02d:%02d.%06d+00:00"


def instant_to_state(at: datetime) -> str:
    """An aware datetime as an ISO 8601 string in UTC: ``at.astimezone(UTC).isoformat()``.

    Built from the fields: ``isoformat`` of an aware datetime asks its zone for the offset
    and formats that, which takes about twice as long, and every document holds instants.
    """
    if at.tzinfo is not UTC:
        at = at.astimezone(UTC)
    if at.microsecond:
        return _WITH_MICROSECONDS % (
            at.year,
            at.month,
            at.day,
            at.hour,
            at.minute,
            at.second,
            at.microsecond,
        )
    return _WHOLE_SECONDS % (at.year, at.month, at.day, at.hour, at.minute, at.second)


def instant_from_state(text: str) -> datetime:
    """The aware UTC datetime that `instant_to_state` encoded."""
    return datetime.fromisoformat(text).astimezone(UTC)


def optional_instant_to_state(at: datetime | None) -> str | None:
    """Like `instant_to_state`, passing None through."""
    return None if at is None else instant_to_state(at)


def optional_instant_from_state(text: str | None) -> datetime | None:
    """Like `instant_from_state`, passing None through."""
    return None if text is None else instant_from_state(text)


def decimal_from_state(text: str) -> Decimal:
    """A Decimal stored as a string."""
    return Decimal(text)
