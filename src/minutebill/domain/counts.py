"""The one check of whole-number inputs: sizes, limits, counts and positions."""

from __future__ import annotations

from minutebill.errors import ValidationError

__all__ = ["require_int"]


def require_int(name: str, value: object, minimum: int) -> None:
    """Refuse `value` unless it is an int (not a bool) of at least `minimum`.

    Raises:
        ValidationError: naming `name` and the value.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValidationError(name, value, f"must be an int >= {minimum}")
