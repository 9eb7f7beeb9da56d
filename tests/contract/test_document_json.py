"""Documents are encoded by orjson, or by the standard library where orjson refuses."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minutebill.adapters._documents import dumps

scalars = (
    st.none()
    | st.booleans()
    | st.integers()  # beyond 64 bits too
    | st.text()  # lone surrogates too
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
    assert dumps(data) == text
    assert dumps(json.loads(text)) == text  # what the change check at commit relies on


@pytest.mark.parametrize(
    ("data", "text"),
    [
        ({"seconds": 2**70}, '{"seconds":1180591620717411303424}'),  # orjson: 64 bits at most
        ({"name": "\ud800"}, '{"name":"\\ud800"}'),  # a lone surrogate is not UTF-8
        ({1: "one"}, '{"1":"one"}'),  # keys that are not strings
        ({"city": "Bengaluru ₹"}, '{"city":"Bengaluru ₹"}'),  # orjson keeps UTF-8 as it is
    ],
)
def test_what_orjson_refuses_is_encoded_by_the_standard_library(data: Any, text: str) -> None:
    assert dumps(data) == text
    assert json.loads(dumps(data)) == as_read_back(data)


def test_what_neither_encoder_takes_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        dumps({"amount": Decimal("1.00")})
