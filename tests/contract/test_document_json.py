"""Documents are encoded by orjson, or by the standard library where orjson refuses.

They are read back by orjson too, except the texts the standard library wrote (marked with a
leading space): orjson would read an integer beyond 64 bits as a float.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from attrs import frozen
from hypothesis import given
from hypothesis import strategies as st

from minutebill.adapters._document_json import dumps, loads, loads_joined
from minutebill.adapters.memory import MemoryStore
from minutebill.domain.events import DomainEvent

scalars = (
    st.none()
    | st.booleans()
    | st.integers()  # beyond 64 bits too
    | st.text(st.characters() | st.sampled_from(["\ud800", "\udfff"]))  # lone surrogates too
)
json_like = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def as_read_back(data: Any) -> Any:
    """What any JSON encoder's text of `data` decodes to (keys become strings)."""
    if isinstance(data, dict):
        return {str(k): as_read_back(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [as_read_back(v) for v in data]
    return data


@given(json_like)
def test_any_document_reads_back_exactly_and_encodes_to_the_text_it_was_read_from(
    data: Any,
) -> None:
    text = dumps(data)

    assert json.loads(text) == as_read_back(data)
    assert loads(text) == as_read_back(data)
    assert dumps(data) == text
    assert dumps(loads(text)) == text  # what the change check at commit relies on


def fits_64_bits(data: Any) -> bool:
    if isinstance(data, dict):
        return all(fits_64_bits(v) for v in data.values())
    if isinstance(data, list | tuple):
        return all(fits_64_bits(v) for v in data)
    return not isinstance(data, int) or isinstance(data, bool) or -(2**63) <= data < 2**64


@given(json_like.filter(fits_64_bits))
def test_texts_without_the_mark_read_back_exactly_however_they_were_written(data: Any) -> None:
    # Documents stored before the mark existed, or written by another tool: escaped or not,
    # spaced or compact, they read back as the standard library reads them.
    for text in (json.dumps(data), json.dumps(data, separators=(",", ":"), ensure_ascii=False)):
        assert loads(text) == json.loads(text)
        assert loads_joined([text, text]) == [json.loads(text)] * 2


@given(st.lists(json_like, max_size=5))
def test_documents_read_together_read_back_exactly(items: list[Any]) -> None:
    texts = [dumps(item) for item in items]

    assert loads_joined(texts) == [as_read_back(item) for item in items]


@pytest.mark.parametrize(
    ("data", "text"),
    [
        ({"seconds": 2**70 + 1}, ' {"seconds":1180591620717411303425}'),  # orjson: 64 bits at most
        ({"name": "\ud800"}, ' {"name":"\\ud800"}'),  # a lone surrogate is not UTF-8
        ({1: "one"}, ' {"1":"one"}'),  # keys that are not strings
        ({"seconds": 2**64 - 1}, '{"seconds":18446744073709551615}'),  # orjson's largest
        ({"city": "Bengaluru ₹"}, '{"city":"Bengaluru ₹"}'),  # orjson keeps UTF-8 as it is
    ],
)
def test_what_orjson_refuses_is_encoded_by_the_standard_library(data: Any, text: str) -> None:
    assert dumps(data) == text
    assert loads(dumps(data)) == as_read_back(data)
    assert loads_joined([dumps(data), dumps({"n": 1})]) == [as_read_back(data), {"n": 1}]


@pytest.mark.parametrize(
    ("text", "data"),
    [
        ('{"n": NaN}', {"n": float("nan")}),
        ('{"name":"\\ud800"}', {"name": "\ud800"}),
    ],
)
def test_texts_orjson_cannot_read_are_read_by_the_standard_library(text: str, data: Any) -> None:
    assert repr(loads(text)) == repr(data)
    assert repr(loads_joined([text])) == repr([data])


def test_what_neither_encoder_takes_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        dumps({"amount": Decimal("1.00")})


@pytest.mark.parametrize("embedded_text", ['{"seconds":60}', ' {"seconds":1180591620717411303425}'])
@pytest.mark.parametrize("rest", [60, 2**70 + 1])
def test_an_event_payload_embedding_encoded_values_reads_back_exactly(
    embedded_text: str, rest: int
) -> None:
    # A payload embeds the text a value was stored as; if that text, or the rest of the
    # payload, is the standard library's, the payload must be read back by it as well.
    with MemoryStore().unit_of_work() as uow:
        record = object()
        uow.encoded[id(record)] = (record, embedded_text)
        at = datetime(2026, 1, 1, tzinfo=UTC)
        event = _Embedding(account_id="a", occurred_at=at, record=record, seconds=rest)

        payload = uow._payload(event)

    assert loads(payload) == {"record": json.loads(embedded_text), "seconds": rest}


@frozen(kw_only=True)
class _Embedding(DomainEvent):
    record: object
    seconds: int
