"""CallQueue: boosted queueing by plan priority, then arrival; bounded; timed out; O(log n)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minutebill.domain.call_queue import CallQueue, WaitingCall
from minutebill.errors import IdempotencyConflict, LimitExceeded, NotFound, ValidationError

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def _queue(depth: int = 100, ttl: timedelta = timedelta(minutes=2)) -> CallQueue:
    return CallQueue(depth, ttl)


def _ids(calls: tuple[WaitingCall, ...] | list[WaitingCall]) -> list[str]:
    return [c.call_id for c in calls]


def _picture(queue: CallQueue) -> tuple[tuple[WaitingCall, ...], int]:
    return queue.waiting(), len(queue)


# --- the product, in words ------------------------------------------------------------------


def test_a_boosted_tier_is_served_before_earlier_calls_of_lower_tiers() -> None:
    queue = _queue()
    assert queue.push("starter-1", "acme", 0, T0) == 1
    assert queue.push("starter-2", "acme", 0, T0) == 2
    assert queue.push("enterprise-1", "globex", 10, T0) == 1
    assert queue.push("pro-1", "initech", 5, T0) == 2
    order = [queue.pop(T0) for _ in range(4)]
    assert [c.call_id for c in order if c] == ["enterprise-1", "pro-1", "starter-1", "starter-2"]
    assert queue.pop(T0) is None


def test_a_full_line_refuses_the_next_call_and_changes_nothing() -> None:
    queue = _queue(depth=2)
    queue.push("a", "acme", 0, T0)
    queue.push("b", "acme", 0, T0)
    before = _picture(queue)
    assert queue.full
    with pytest.raises(LimitExceeded) as error:
        queue.push("c", "acme", 9, T0)
    assert error.value.limit == 2
    assert _picture(queue) == before


def test_a_call_already_waiting_cannot_join_twice() -> None:
    queue = _queue()
    queue.push("a", "acme", 0, T0)
    before = _picture(queue)
    with pytest.raises(IdempotencyConflict):
        queue.push("a", "acme", 3, T0)
    assert _picture(queue) == before


def test_a_waiting_call_times_out_and_is_reported_once() -> None:
    queue = _queue(ttl=timedelta(seconds=30))
    queue.push("short", "acme", 0, T0, ttl=timedelta(seconds=10))
    queue.push("long", "acme", 0, T0)
    assert queue.expire(T0 + timedelta(seconds=9)) == []
    assert _ids(queue.expire(T0 + timedelta(seconds=10))) == ["short"]
    assert queue.expire(T0 + timedelta(seconds=10)) == []
    assert _ids(queue.waiting()) == ["long"]


def test_calls_swept_while_pushing_are_still_reported_by_expire() -> None:
    queue = _queue(depth=1, ttl=timedelta(seconds=5))
    queue.push("old", "acme", 0, T0)
    assert queue.push("new", "acme", 0, T0 + timedelta(seconds=5)) == 1
    assert _ids(queue.expire(T0 + timedelta(seconds=5))) == ["old"]


def test_abandoning_frees_the_place_exactly_once() -> None:
    queue = _queue()
    queue.push("a", "acme", 0, T0)
    queue.push("b", "acme", 0, T0)
    gone = queue.abandon("a")
    assert gone is not None
    assert gone.call_id == "a"
    assert queue.abandon("a") is None
    assert queue.waiting_for("acme") == 1
    assert queue.position("b") == 1


def test_next_admittable_skips_accounts_without_a_free_slot_and_keeps_their_place() -> None:
    queue = _queue()
    queue.push("busy-1", "busy", 10, T0)
    queue.push("free-1", "free", 0, T0)
    queue.push("busy-2", "busy", 10, T0)
    found = queue.next_admittable(T0, lambda account: account == "free")
    assert found is not None
    assert found.call_id == "free-1"
    assert _ids(queue.waiting()) == ["busy-1", "busy-2"]
    assert queue.next_admittable(T0, lambda account: False) is None
    assert len(queue) == 2


def test_next_admittable_asks_about_each_account_once() -> None:
    queue = _queue()
    for i in range(5):
        queue.push(f"busy-{i}", "busy", 5, T0)
    queue.push("free-1", "free", 0, T0)
    asked: list[str] = []

    def can_take(account: str) -> bool:
        asked.append(account)
        return account == "free"

    assert queue.next_admittable(T0, can_take) is not None
    assert asked == ["busy", "free"]


def test_a_requeued_call_gets_its_old_place_back() -> None:
    queue = _queue(depth=2)
    queue.push("first", "acme", 0, T0)
    queue.push("second", "acme", 0, T0)
    first = queue.pop(T0)
    assert first is not None
    queue.push("third", "acme", 0, T0)
    queue.requeue(first)
    assert _ids(queue.waiting()) == ["first", "second", "third"]
    with pytest.raises(IdempotencyConflict):
        queue.requeue(first)


def test_peek_leaves_the_call_in_line() -> None:
    queue = _queue()
    assert queue.peek(T0) is None
    queue.push("a", "acme", 1, T0)
    queue.push("b", "acme", 2, T0)
    queue.abandon("b")
    peeked = queue.peek(T0)
    assert peeked is not None
    assert peeked.call_id == "a"
    assert len(queue) == 1
    assert "a" in queue
    assert queue.get("a") == peeked


def test_position_of_a_call_not_waiting_is_not_found() -> None:
    with pytest.raises(NotFound):
        _queue().position("nobody")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"call_id": ""}, "call_id"),
        ({"account_id": ""}, "account_id"),
        ({"priority": -1}, "priority"),
        ({"priority": True}, "priority"),
        ({"ttl": timedelta(0)}, "ttl"),
        ({"hold_seconds": 0}, "hold_seconds"),
        ({"at": datetime(2025, 1, 1)}, "at"),  # noqa: DTZ001 - the naive datetime is the point
    ],
)
def test_bad_input_is_refused_and_changes_nothing(kwargs: dict[str, object], field: str) -> None:
    queue = _queue()
    queue.push("kept", "acme", 0, T0)
    before = _picture(queue)
    args: dict[str, object] = {"call_id": "x", "account_id": "acme", "priority": 0, "at": T0}
    args.update(kwargs)
    with pytest.raises(ValidationError) as error:
        queue.push(**args)  # type: ignore[arg-type]
    assert error.value.field == field
    assert _picture(queue) == before


@pytest.mark.parametrize(("depth", "ttl"), [(0, timedelta(1)), (1, timedelta(0)), (True, None)])
def test_a_queue_needs_a_positive_depth_and_ttl(depth: int, ttl: timedelta | None) -> None:
    with pytest.raises(ValidationError):
        CallQueue(depth, ttl if ttl is not None else timedelta(1))


# --- properties -----------------------------------------------------------------------------

priorities = st.integers(0, 4)


@given(st.lists(priorities, max_size=60))
def test_pop_order_is_priority_then_arrival(prios: list[int]) -> None:
    queue = _queue(depth=100)
    for i, p in enumerate(prios):
        queue.push(f"c{i}", f"acct{i % 3}", p, T0)
    popped = []
    while (call := queue.pop(T0)) is not None:
        popped.append(call)
    expected = sorted(range(len(prios)), key=lambda i: (-prios[i], i))
    assert [c.call_id for c in popped] == [f"c{i}" for i in expected]


@given(st.lists(priorities, max_size=40))
def test_the_position_push_returns_is_the_call_s_place_in_line(prios: list[int]) -> None:
    queue = _queue(depth=100)
    for i, p in enumerate(prios):
        place = queue.push(f"c{i}", "acme", p, T0)
        assert place == queue.position(f"c{i}")
        assert place == _ids(queue.waiting()).index(f"c{i}") + 1


# A naive model: a list of (priority, seq, id, expires) kept in arrival order.
ops = st.lists(
    st.one_of(
        st.tuples(st.just("push"), priorities, st.integers(1, 30)),
        st.tuples(st.just("pop"), st.just(0), st.just(0)),
        st.tuples(st.just("abandon"), st.integers(0, 40), st.just(0)),
        st.tuples(st.just("tick"), st.integers(1, 20), st.just(0)),
        st.tuples(st.just("take"), st.integers(0, 2), st.just(0)),
    ),
    max_size=80,
)


@given(ops)
def test_the_queue_behaves_like_a_sorted_list(operations: list[tuple[str, int, int]]) -> None:
    depth = 12
    queue = _queue(depth=depth)
    model: list[tuple[int, int, str, datetime, str]] = []
    timed_out: list[str] = []
    reported: list[str] = []
    now = T0
    pushed = 0

    def sweep() -> None:
        for entry in [e for e in model if e[3] <= now]:
            model.remove(entry)
            timed_out.append(entry[2])

    def best(allowed: set[str] | None = None) -> tuple[int, int, str, datetime, str] | None:
        live = sorted((e for e in model if allowed is None or e[4] in allowed), key=lambda e: e[:2])
        return live[0] if live else None

    for op, a, b in operations:
        if op == "push":
            pushed += 1
            call_id, account = f"c{pushed}", f"acct{pushed % 3}"
            sweep()
            if len(model) >= depth:
                with pytest.raises(LimitExceeded):
                    queue.push(call_id, account, a, now, ttl=timedelta(seconds=b))
                continue
            place = queue.push(call_id, account, a, now, ttl=timedelta(seconds=b))
            model.append((-a, pushed, call_id, now + timedelta(seconds=b), account))
            assert place == sorted(model, key=lambda e: e[:2]).index(model[-1]) + 1
        elif op == "pop":
            sweep()
            got = queue.pop(now)
            want = best()
            assert (got.call_id if got else None) == (want[2] if want else None)
            if want:
                model.remove(want)
        elif op == "abandon":
            sweep()
            reported.extend(_ids(queue.expire(now)))
            target = f"c{a}"
            got_back = queue.abandon(target)
            entry = next((e for e in model if e[2] == target), None)
            assert (got_back is not None) == (entry is not None)
            if entry:
                model.remove(entry)
        elif op == "tick":
            now += timedelta(seconds=a)
        else:
            sweep()
            allowed = {f"acct{a}"}
            got = queue.next_admittable(now, allowed.__contains__)
            want = best(allowed)
            assert (got.call_id if got else None) == (want[2] if want else None)
            if want:
                model.remove(want)
        assert len(queue) <= depth
    sweep()
    reported.extend(_ids(queue.expire(now)))
    assert sorted(reported) == sorted(timed_out)
    assert _ids(queue.waiting()) == [e[2] for e in sorted(model, key=lambda e: e[:2])]
    for account in ("acct0", "acct1", "acct2"):
        assert queue.waiting_for(account) == sum(1 for e in model if e[4] == account)
