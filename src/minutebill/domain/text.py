"""The one check of the text values the domain is given: ids, keys, references, labels.

Every store keeps text as UTF-8, and a Python string may hold what UTF-8 cannot encode (a
lone surrogate, as a careless decoder leaves behind); PostgreSQL text cannot hold a NUL
character either. Ids, keys and tags are also parts of index keys, and PostgreSQL refuses an
index entry beyond about 2.7 kB. Refusing such text where it comes in names the bad value and
changes nothing, whatever the store; letting it through would fail only at commit, in one
store's driver (a `UnicodeEncodeError` from SQLite's, an index error from PostgreSQL), and be
kept by another.
"""

from __future__ import annotations

from minutebill.errors import ValidationError

__all__ = ["MAX_KEY_LENGTH", "require_key", "require_text"]

MAX_KEY_LENGTH = 255
"""The most characters an id, key or tag may have: two of them (up to 4 bytes a character in
UTF-8) fit in one index entry of every store, with room to spare."""


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


def require_key(name: str, value: object) -> str:
    """`value` if it is text a store can keep, of at most `MAX_KEY_LENGTH` characters.

    For what stores index: account ids, call ids, tags, idempotency keys, payment ids.

    Raises:
        ValidationError: naming `name` and the value, for anything else.
    """
    text = require_text(name, value)
    if len(text) > MAX_KEY_LENGTH:
        raise ValidationError(name, value, f"must be at most {MAX_KEY_LENGTH} characters")
    return text
