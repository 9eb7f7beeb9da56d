"""The cursors a store hands out to continue a listing, and the one check of those handed back.

A cursor is opaque to the caller, but it comes back as whatever string the caller kept, edited
or made up. Each is parsed here, before any store sees it, and anything that is not a cursor
this module wrote is refused with a `ValidationError` naming it. So every store answers alike:
without the check, ``int()`` would raise a bare `ValueError` for ``"²"`` (a digit to
`str.isdigit`, not to `int`), and an instant beyond what a datetime can hold would page
everything in memory but overflow SQLite's and PostgreSQL's 64-bit integers.

- A usage cursor is ``"{micros}:{call_id}"``: the call id is the rest of the text, colons and
  all.
- A due cursor is ``"{micros}:{len(account_id)}:{account_id}:{key}"``: ids may contain colons,
  so the account id's length says where it ends.

``micros`` is the instant in integer microseconds since the Unix epoch (see `to_micros`),
within the range of an aware `datetime`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from minutebill.domain.text import MAX_KEY_LENGTH, require_key
from minutebill.errors import ValidationError

__all__ = ["due_cursor", "parse_due_cursor", "parse_usage_cursor", "usage_cursor"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MIN_MICROS = (datetime.min.replace(tzinfo=UTC) - _EPOCH) // timedelta(microseconds=1)
_MAX_MICROS = (datetime.max.replace(tzinfo=UTC) - _EPOCH) // timedelta(microseconds=1)
_MICROS_CHARACTERS = len(str(_MIN_MICROS))  # the longest text of an instant, sign included
_LENGTH_CHARACTERS = len(str(MAX_KEY_LENGTH))


def usage_cursor(micros: int, call_id: str) -> str:
    """The cursor that continues a usage listing after the call settled at `micros`."""
    return f"{micros}:{call_id}"


def parse_usage_cursor(cursor: object) -> tuple[int, str] | None:
    """``(micros, call_id)`` of a cursor `usage_cursor` wrote; None for None.

    Raises:
        ValidationError: naming ``cursor``, for anything else.
    """
    if cursor is None:
        return None
    if isinstance(cursor, str):
        text, colon, call_id = cursor.partition(":")
        micros = _micros(text)
        if colon and micros is not None and _is_key(call_id):
            return micros, call_id
    raise ValidationError("cursor", cursor, "not a cursor returned by page()")


def due_cursor(micros: int, account_id: str, key: str) -> str:
    """The cursor that continues a due listing after the document due at `micros`."""
    return f"{micros}:{len(account_id)}:{account_id}:{key}"


def parse_due_cursor(after: object) -> tuple[int, str, str] | None:
    """``(micros, account_id, key)`` of a cursor `due_cursor` wrote; None for None.

    Raises:
        ValidationError: naming ``after``, for anything else.
    """
    if after is None:
        return None
    if isinstance(after, str):
        text, _, rest = after.partition(":")
        length, colon, rest = rest.partition(":")
        micros = _micros(text)
        if micros is not None and colon and _is_length(length):
            end = int(length)
            account_id, key = rest[:end], rest[end + 1 :]
            if rest[end : end + 1] == ":" and _is_key(account_id) and (not key or _is_key(key)):
                return micros, account_id, key
    raise ValidationError("after", after, "not a cursor returned by due_page()")


def _micros(text: str) -> int | None:
    """The instant `text` writes in ASCII digits (an optional minus first), if in range."""
    digits = text.removeprefix("-")
    if len(text) > _MICROS_CHARACTERS or not (digits.isascii() and digits.isdigit()):
        return None
    micros = int(text)
    return micros if _MIN_MICROS <= micros <= _MAX_MICROS else None


def _is_length(text: str) -> bool:
    """Whether `text` writes the length of an id in ASCII digits."""
    return len(text) <= _LENGTH_CHARACTERS and text.isascii() and text.isdigit()


def _is_key(text: str) -> bool:
    """Whether `text` is an id a store can keep (see `require_key`)."""
    try:
        require_key("cursor", text)
    except ValidationError:
        return False
    return True
