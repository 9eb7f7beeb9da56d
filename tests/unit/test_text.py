"""Text the domain is given must be a non-blank string that every store can keep."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minutebill import ValidationError
from minutebill.domain.text import MAX_KEY_LENGTH, require_key, require_text

# Text with lone surrogates mixed in (Hypothesis leaves them out of text by default).
texts = st.text(st.characters() | st.sampled_from(["\x00", "\ud800", "\udbff", "\udc00", "\udfff"]))


@given(texts.filter(str.strip))
def test_any_non_blank_text_is_taken_as_it_is_when_every_store_can_keep_it(value: str) -> None:
    try:
        value.encode()
    except UnicodeEncodeError:
        storable = False
    else:
        storable = "\x00" not in value
    if storable:
        assert require_text("call_id", value) is value
    else:
        with pytest.raises(ValidationError, match=r"NUL|UTF-8"):
            require_text("call_id", value)


@pytest.mark.parametrize(
    "value",
    [None, 7, b"c1", "", " ", "\t\n", "\u2003", "c\ud800", "\udfff", "c\x00", "\x00", ["c1"]],
)
def test_what_is_not_storable_text_is_refused_by_name(value: object) -> None:
    with pytest.raises(ValidationError) as refused:
        require_text("call_id", value)

    assert refused.value.field == "call_id"
    assert refused.value.value is value


@pytest.mark.parametrize("value", ["c1", "call-₹-५", "+919800000001", "  padded  "])
def test_storable_text_is_returned_unchanged(value: str) -> None:
    assert require_text("call_id", value) is value


@given(texts.filter(str.strip), st.integers(1, 300))
def test_a_key_is_storable_text_of_at_most_255_characters(value: str, length: int) -> None:
    key = (value * length)[:length]  # the text, repeated or cut to `length` characters
    try:
        expected = require_text("call_id", key)
    except ValidationError:
        with pytest.raises(ValidationError):
            require_key("call_id", key)
        return
    if len(key) <= MAX_KEY_LENGTH:
        assert require_key("call_id", key) is expected
    else:
        with pytest.raises(ValidationError, match="at most 255 characters"):
            require_key("call_id", key)


def test_the_longest_key_fits_and_one_more_character_does_not() -> None:
    assert require_key("tags", "ऩ" * 255) == "ऩ" * 255
    with pytest.raises(ValidationError) as refused:
        require_key("tags", "a" * 256)
    assert refused.value.field == "tags"
