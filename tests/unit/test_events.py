"""`EventBuffer`: what an aggregate recorded, collected once, in order."""

from __future__ import annotations

import copy
import pickle
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from minutebill.domain.events import DomainEvent, EventBuffer

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def event(n: int) -> DomainEvent:
    return DomainEvent(account_id=f"acct-{n}", occurred_at=T0)


@given(st.lists(st.lists(st.integers(0, 9), max_size=4), max_size=5))
def test_each_pull_returns_what_was_recorded_since_the_last_in_order(
    rounds: list[list[int]],
) -> None:
    buffer = EventBuffer()
    for numbers in rounds:
        for n in numbers:
            buffer.record(event(n))
        assert buffer.peek() == tuple(event(n) for n in numbers)
        assert buffer.pull() == [event(n) for n in numbers]
        assert buffer.pull() == []


def test_a_pulled_list_is_the_caller_s_and_recording_goes_on() -> None:
    buffer = EventBuffer()
    buffer.record(event(1))
    pulled = buffer.pull()
    buffer.record(event(2))
    assert pulled == [event(1)]  # not changed by later records
    assert buffer.pull() == [event(2)]


def test_buffers_compare_by_their_events_and_copies_record_into_themselves() -> None:
    first, second = EventBuffer(), EventBuffer()
    first.record(event(1))
    assert first != second
    second.record(event(1))
    assert first == second
    for duplicate in (copy.deepcopy(first), pickle.loads(pickle.dumps(first))):  # noqa: S301
        duplicate.record(event(2))
        assert duplicate.pull() == [event(1), event(2)]
        assert first.peek() == (event(1),)
