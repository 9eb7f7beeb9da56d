"""The plain-data encodings every aggregate's documents are made of."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from minutebill.domain.state import (
    instant_from_state,
    instant_to_state,
    optional_instant_to_state,
)

# Aware datetimes in UTC, in fixed offsets and in IANA zones (DST folds and gaps included),
# kept a day inside datetime's range so that converting to UTC cannot overflow.
_ZONES = st.one_of(
    st.just(UTC),
    st.timezones(),
    st.builds(
        timezone, st.timedeltas(min_value=timedelta(hours=-23), max_value=timedelta(hours=23))
    ),
)
aware = st.datetimes(
    min_value=datetime(1, 1, 2),  # noqa: DTZ001 - the bounds of a strategy given zones
    max_value=datetime(9999, 12, 30),  # noqa: DTZ001
    timezones=_ZONES,
)


@given(aware)
def test_an_instant_is_written_as_its_iso_8601_text_in_utc(at: datetime) -> None:
    assert instant_to_state(at) == at.astimezone(UTC).isoformat()


@given(aware)
@example(datetime(1995, 9, 24, 3, tzinfo=ZoneInfo("Europe/Athens")))  # in a DST fold
def test_an_instant_reads_back_as_the_same_instant_in_utc(at: datetime) -> None:
    back = instant_from_state(instant_to_state(at))
    # Compared in UTC: an ambiguous local time (in a DST fold) never equals another zone's
    # datetime, even at the same instant (PEP 495).
    assert back == at.astimezone(UTC)
    assert back.tzinfo is UTC


@pytest.mark.parametrize(
    ("at", "text"),
    [
        (datetime(2026, 3, 2, 9, tzinfo=UTC), "2026-03-02T09:00:00+00:00"),
        (datetime(2026, 3, 2, 9, 0, 0, 5, tzinfo=UTC), "2026-03-02T09:00:00.000005+00:00"),
        (datetime(999, 1, 2, tzinfo=UTC), "0999-01-02T00:00:00+00:00"),
        (
            datetime(2026, 3, 2, 14, 30, tzinfo=ZoneInfo("Asia/Kolkata")),
            "2026-03-02T09:00:00+00:00",
        ),
        (
            datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=ZoneInfo("America/New_York")),
            "2026-11-01T06:30:00+00:00",
        ),
    ],
)
def test_named_instants_have_their_known_texts(at: datetime, text: str) -> None:
    assert instant_to_state(at) == text
    assert optional_instant_to_state(at) == text


def test_no_instant_is_written_as_none() -> None:
    assert optional_instant_to_state(None) is None
