"""How stores keep documents and instants: compact JSON text and integer microseconds.

Every store writes a document's JSON text as it is given and hands back that very text, and
keeps instants as microseconds since the Unix epoch (sortable and exact).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import orjson

__all__ = ["STANDARD", "dumps", "from_micros", "loads", "loads_joined", "to_micros"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)


def to_micros(at: datetime) -> int:
    """An aware instant as integer microseconds since the Unix epoch (sortable, exact)."""
    return (at - _EPOCH) // _MICRO


def from_micros(micros: int) -> datetime:
    """The aware UTC instant `to_micros` encoded."""
    return _EPOCH + timedelta(microseconds=micros)


def _json_encoder() -> Callable[[object], str]:
    """Compact ASCII JSON of plain data by the standard library, its C encoder built once."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - CPython always has it
        return json.JSONEncoder(separators=(",", ":")).encode
    # No circular-reference check (documents are trees), so nothing is built per call but
    # the encoding itself. Arguments: markers, default, string encoder, indent, key and item
    # separators, sort_keys, skipkeys, allow_nan.
    default = json.JSONEncoder().default  # raises the usual TypeError for other objects
    encoder = json.encoder.encode_basestring_ascii
    encode = make(None, default, encoder, None, ":", ",", False, False, True)  # noqa: FBT003
    return lambda data: "".join(encode(data, 0))


_standard_json = _json_encoder()
_orjson_dumps = orjson.dumps
_orjson_loads = orjson.loads


STANDARD = " "
"""What begins a text the standard library wrote (JSON allows leading white space)."""


def dumps(data: object) -> str:
    """Compact JSON; keys in the order the dicts were built (``to_state()`` order).

    Deterministic for a given state: ``from_state`` keeps the order it read, so an aggregate
    that did not change encodes to the text it was loaded from. (Keys are not sorted: sorting
    was a third of the cost of saving, and the change check does not need it.)

    orjson encodes in a fifth of the standard library's time (documents are encoded at every
    commit, for the change check). What it refuses — integers beyond 64 bits, strings with
    lone surrogates, keys that are not strings — the standard library encodes instead, the
    same way every time, after a space that tells `loads` to read it back the same way; what
    neither can encode raises `TypeError`.
    """
    try:
        return _orjson_dumps(data).decode()
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return STANDARD + _standard_json(data)


def loads(text: str) -> Any:
    """The data of a text that `dumps` wrote.

    orjson reads in a third of the standard library's time, and exactly whatever orjson
    wrote; it would read an integer beyond 64 bits as a float, so the texts the standard
    library wrote (they begin with a space) are read by it. A text orjson refuses (NaN, a
    lone surrogate: written by hand or by another tool) is read by the standard library too.
    """
    if text[:1] == STANDARD:
        return json.loads(text)
    try:
        return _orjson_loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def loads_joined(texts: Sequence[str]) -> list[Any]:
    """``[loads(t) for t in texts]``, parsed as one JSON array: a page of records at once."""
    joined = "[" + ",".join(texts) + "]"  # begins with "[": `loads` reads it by orjson first
    standard = any(text[:1] == STANDARD for text in texts)
    return cast("list[Any]", json.loads(joined) if standard else loads(joined))
