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


_TWO_DIGITS = tuple(f"{n:02d}" for n in range(100))
"""``"00"`` to ``"99"``: looking a field's digits up costs a fraction of formatting them."""


def instant_to_state(at: datetime) -> str:
    """An aware datetime as an ISO 8601 string in UTC: ``at.astimezone(UTC).isoformat()``.

    Built from the fields: ``isoformat`` of an aware datetime asks its zone for the offset
    and formats that, and ``%``-formatting six numbers costs about twice what looking up
    their two-digit texts does; every document and event holds instants.
    """
    if at.tzinfo is not UTC:
        at = at.astimezone(UTC)
    two = _TWO_DIGITS
    year = at.year
    micro = at.microsecond
    # One f-string of looked-up digits: half the instructions of "%04d-%02d-..." % fields.
    return (
        f"{year if year >= 1000 else f'{year:04d}'}-{two[at.month]}-{two[at.day]}"
        f"T{two[at.hour]}:{two[at.minute]}:{two[at.second]}"
        f"{f'.{micro:06d}' if micro else ''}+00:00"
    )


def instant_from_state(text: str) -> datetime:
    """The aware UTC datetime that `instant_to_state` encoded."""
    return datetime.fromisoformat(text).astimezone(UTC)


def optional_instant_to_state(at: datetime | None) -> str | None:
    """Like `instant_to_state`, passing None through."""
    return None if at is None else instant_to_state(at)


def optional_instant_from_state(text: str | None) -> datetime | None:
    """Like `instant_from_state`, passing None through."""
    return None if text is None else instant_from_state(text)
