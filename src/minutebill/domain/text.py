"""The one check of the text values the domain is given: ids, keys, references, labels.

Every store keeps text as UTF-8, and a Python string may hold what UTF-8 cannot encode (a
lone surrogate, as a careless decoder leaves behind); PostgreSQL text cannot hold a NUL
character either. Refusing such text where it comes in names the bad value and changes
nothing, whatever the store; letting it through would fail only at commit, in one store's
driver (a `UnicodeEncodeError` from SQLite's), and be kept by another.
"""

from __future__ import annotations

from minutebill.errors import ValidationError

__all__ = ["require_text"]


def require_text(name: str, value: object) -> str:
    """`value` if it is a string that is not blank, has no NUL and that UTF-8 can encode.

    Raises:
        ValidationError: naming `name` and the value, for anything else.
    """
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(name, value, "must be a non-empty string")
    if "\x00" in value:
        raise ValidationError(name, value, "must be text without NUL characters")
    if not value.isascii():  # ASCII (nearly every id) is UTF-8 already: no encoding to try
        try:
            value.encode()
        except UnicodeEncodeError:
            raise ValidationError(name, value, "must be text that UTF-8 can encode") from None
    return value
