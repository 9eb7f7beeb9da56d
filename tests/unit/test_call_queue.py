"""CallQueue: boosted queueing by plan priority, then arrival; bounded; timed out; O(log n)."""

from __future__ import annotations

import contextlib
import sys
import threading
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
    gone = queue.abandon("a", "acme")
    assert gone is not None
    assert gone.call_id == "a"
    assert queue.abandon("a", "acme") is None
    assert queue.waiting_for("acme") == 1
    assert queue.position("b", "acme") == 1


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
    queue.abandon("b", "acme")
    peeked = queue.peek(T0)
    assert peeked is not None
    assert peeked.call_id == "a"
    assert len(queue) == 1
    assert ("acme", "a") in queue
    assert queue.get("a", "acme") == peeked


def test_position_of_a_call_not_waiting_is_not_found() -> None:
    with pytest.raises(NotFound):
        _queue().position("nobody", "acme")


# --- call ids are unique per account, not across accounts -----------------------------------


def _shared_id_line() -> CallQueue:
    """acme's and globex's call "c-1" both waiting, acme's first, then globex's "c-2"."""
    queue = _queue()
    assert queue.push("c-1", "acme", 0, T0) == 1
    assert queue.push("c-1", "globex", 0, T0) == 2
    assert queue.push("c-2", "globex", 0, T0) == 3
    return queue


def _keys(calls: tuple[WaitingCall, ...] | list[WaitingCall]) -> list[tuple[str, str]]:
    return [c.key for c in calls]


def test_two_accounts_may_have_a_call_of_the_same_id_waiting() -> None:
    queue = _shared_id_line()
    assert len(queue) == 3
    acme, globex = queue.get("c-1", "acme"), queue.get("c-1", "globex")
    assert acme is not None
    assert globex is not None
    assert (acme.account_id, globex.account_id) == ("acme", "globex")
    assert (queue.position("c-1", "acme"), queue.position("c-1", "globex")) == (1, 2)
    assert queue.get("c-1", "initech") is None
    assert (queue.waiting_for("acme"), queue.waiting_for("globex")) == (1, 2)
    assert queue.by_key == {c.key: c for c in queue.waiting()}
    assert acme.key == ("acme", "c-1")
    assert ("globex", "c-1") in queue
    assert ("initech", "c-1") not in queue


def test_a_call_id_is_refused_twice_for_one_account_only() -> None:
    queue = _shared_id_line()
    before = _picture(queue)
    with pytest.raises(IdempotencyConflict, match="globex"):
        queue.push("c-1", "globex", 0, T0)
    assert _picture(queue) == before
    assert queue.push("c-1", "initech", 0, T0) == 4


def test_abandoning_one_account_s_call_leaves_the_other_account_s_call_of_that_id() -> None:
    queue = _shared_id_line()
    gone = queue.abandon("c-1", "globex")
    assert gone is not None
    assert gone.key == ("globex", "c-1")
    assert queue.abandon("c-1", "globex") is None
    assert queue.abandon("c-1", "initech") is None
    assert _keys(queue.waiting()) == [("acme", "c-1"), ("globex", "c-2")]
    assert queue.position("c-1", "acme") == 1
    with pytest.raises(NotFound, match="globex"):
        queue.position("c-1", "globex")


def test_next_admittable_and_requeue_tell_accounts_apart() -> None:
    queue = _shared_id_line()
    taken = queue.next_admittable(T0, lambda account: account == "globex")
    assert taken is not None
    assert taken.key == ("globex", "c-1")
    assert _keys(queue.waiting()) == [("acme", "c-1"), ("globex", "c-2")]
    queue.requeue(taken)  # acme's "c-1" waits: globex's goes back all the same
    assert _keys(queue.waiting()) == [("acme", "c-1"), ("globex", "c-1"), ("globex", "c-2")]
    with pytest.raises(IdempotencyConflict):
        queue.requeue(taken)
    first = queue.pop(T0)
    assert first is not None
    assert first.key == ("acme", "c-1")
    assert queue.get("c-1", "globex") == taken


def test_calls_of_the_same_id_time_out_on_their_own() -> None:
    queue = _queue(ttl=timedelta(seconds=30))
    queue.push("c-1", "acme", 0, T0, ttl=timedelta(seconds=10))
    queue.push("c-1", "globex", 0, T0)
    assert _keys(queue.expire(T0 + timedelta(seconds=10))) == [("acme", "c-1")]
    assert _keys(queue.waiting()) == [("globex", "c-1")]
    queue.push("c-1", "acme", 0, T0 + timedelta(seconds=10))  # its old entry is gone for good
    assert _keys(queue.expire(T0 + timedelta(seconds=30))) == [("globex", "c-1")]
    assert _keys(queue.waiting()) == [("acme", "c-1")]


def test_membership_is_asked_by_key_not_by_a_bare_call_id() -> None:
    queue = _shared_id_line()
    with pytest.raises(TypeError, match="account_id, call_id"):
        _ = "c-1" in queue


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"call_id": ""}, "call_id"),
        ({"account_id": ""}, "account_id"),
        ({"priority": -1}, "priority"),
        ({"priority": True}, "priority"),
        ({"ttl": timedelta(0)}, "ttl"),
        ({"ttl": timedelta(days=999_999_999)}, "ttl"),  # it would time out after year 9999
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


def test_a_call_that_would_time_out_after_year_9999_is_refused_and_changes_nothing() -> None:
    queue = CallQueue(10, timedelta(days=999_999_999))
    queue.push("kept", "acme", 0, T0, ttl=timedelta(minutes=2))
    before = _picture(queue)
    with pytest.raises(ValidationError) as error:
        queue.push("x", "acme", 0, T0)
    assert (error.value.field, error.value.value) == ("ttl", timedelta(days=999_999_999))
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
        assert place == queue.position(f"c{i}", "acme")
        assert place == _ids(queue.waiting()).index(f"c{i}") + 1


# A naive model: a list of (priority, seq, id, expires, account) kept in arrival order. Call
# ids come from a small pool, so calls of different accounts often share one, and a call that
# left the line (popped, abandoned, timed out) may come back under its id.
call_ids = st.integers(0, 3)
account_numbers = st.integers(0, 2)
ops = st.lists(
    st.one_of(
        st.tuples(st.just("push"), priorities, st.integers(1, 30), call_ids, account_numbers),
        st.tuples(st.just("pop"), st.just(0), st.just(0), st.just(0), st.just(0)),
        st.tuples(st.just("abandon"), st.just(0), st.just(0), call_ids, account_numbers),
        st.tuples(st.just("tick"), st.integers(1, 20), st.just(0), st.just(0), st.just(0)),
        st.tuples(st.just("take"), st.just(0), st.just(0), st.just(0), account_numbers),
    ),
    max_size=80,
)
Entry = tuple[int, int, str, datetime, str]


@given(ops)
def test_the_queue_behaves_like_a_sorted_list(
    operations: list[tuple[str, int, int, int, int]],
) -> None:
    depth = 8
    queue = _queue(depth=depth)
    model: list[Entry] = []
    timed_out: list[tuple[str, str]] = []
    reported: list[tuple[str, str]] = []
    now = T0
    pushed = 0

    def sweep() -> None:
        for entry in [e for e in model if e[3] <= now]:
            model.remove(entry)
            timed_out.append((entry[4], entry[2]))

    def best(allowed: set[str] | None = None) -> Entry | None:
        live = sorted((e for e in model if allowed is None or e[4] in allowed), key=lambda e: e[:2])
        return live[0] if live else None

    def key_of(entry: Entry | None) -> tuple[str, str] | None:
        return None if entry is None else (entry[4], entry[2])

    def key_of_call(call: WaitingCall | None) -> tuple[str, str] | None:
        return None if call is None else call.key

    for op, a, b, number, account_number in operations:
        call_id, account = f"c{number}", f"acct{account_number}"
        if op == "push":
            pushed += 1
            sweep()
            waits = any(key_of(e) == (account, call_id) for e in model)
            refusal = IdempotencyConflict if waits else LimitExceeded
            if waits or len(model) >= depth:
                with pytest.raises(refusal):
                    queue.push(call_id, account, a, now, ttl=timedelta(seconds=b))
                continue
            place = queue.push(call_id, account, a, now, ttl=timedelta(seconds=b))
            model.append((-a, pushed, call_id, now + timedelta(seconds=b), account))
            assert place == sorted(model, key=lambda e: e[:2]).index(model[-1]) + 1
            assert place == queue.position(call_id, account)
        elif op == "pop":
            sweep()
            got = queue.pop(now)
            want = best()
            assert key_of_call(got) == key_of(want)
            if want:
                model.remove(want)
        elif op == "abandon":
            sweep()
            reported.extend(c.key for c in queue.expire(now))
            got_back = queue.abandon(call_id, account)
            entry = next((e for e in model if key_of(e) == (account, call_id)), None)
            assert key_of_call(got_back) == key_of(entry)
            if entry:
                model.remove(entry)
        elif op == "tick":
            now += timedelta(seconds=a)
        else:
            sweep()
            got = queue.next_admittable(now, {account}.__contains__)
            want = best({account})
            assert key_of_call(got) == key_of(want)
            if want:
                model.remove(want)
        assert len(queue) <= depth
    sweep()
    reported.extend(c.key for c in queue.expire(now))
    assert sorted(reported) == sorted(timed_out)
    assert _keys(queue.waiting()) == [key_of(e) for e in sorted(model, key=lambda e: e[:2])]
    waiting = {key_of(e) for e in model}
    for account in ("acct0", "acct1", "acct2"):
        assert queue.waiting_for(account) == sum(1 for e in model if e[4] == account)
        for key in [(account, f"c{number}") for number in range(4)]:
            found = key_of_call(queue.get(key[1], account))
            assert found == (key if key in waiting else None)


# --- threads -----------------------------------------------------------------------------------


def test_one_line_shared_by_threads_stays_consistent() -> None:
    """Four threads (a `Billing` shared by an app server's threads) push, pop and abandon.

    The interpreter switches threads as often as it can, so unguarded steps interleave.
    """
    queue = CallQueue(10_000, timedelta(minutes=2))
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def work(account: str) -> None:
        start.wait()
        try:
            for n in range(1500):
                queue.push(f"c{n}", account, n % 3, T0)
                if n % 3 == 0:
                    queue.abandon(f"c{n}", account)
                if n % 5 == 0:
                    queue.pop(T0)
                with contextlib.suppress(NotFound):  # another thread may have popped it
                    queue.position(f"c{n}", account)
        except BaseException as exc:  # noqa: BLE001 - any error of any thread fails the test
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(f"acct-{i}",)) for i in range(4)]
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(previous)
    assert errors == []
    waiting = queue.waiting()
    assert len(queue) == len(waiting)
    assert sum(queue.waiting_for(f"acct-{i}") for i in range(4)) == len(waiting)
    assert len({c.seq for c in waiting}) == len(waiting)  # every call its own arrival number
    drained = [queue.pop(T0) for _ in range(len(waiting))]
    assert drained == list(waiting)
    assert queue.pop(T0) is None
