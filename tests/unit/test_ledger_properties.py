"""Properties of the minute ledger for any set of grants."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from random import Random

import pytest
from attrs import evolve
from hypothesis import given
from hypothesis import strategies as st

from minutebill.domain.catalog import OverageMode, OveragePolicy
from minutebill.domain.ledger import (
    GrantDebit,
    GrantSource,
    LedgerPolicy,
    MinuteLedger,
    MinutesExhausted,
    MinutesLow,
    UsageRecord,
)
from minutebill.domain.ledger_checks import Rater
from minutebill.domain.money import Money
from minutebill.domain.periods import BillingPeriod
from minutebill.domain.rating import MAX_CALL_DURATION, MAX_CALL_SECONDS, BillingIncrement
from minutebill.errors import InsufficientMinutes, ValidationError
from minutebill.testing.ledger_strategies import (
    GrantTerms,
    grant_sets,
    ledger_policies,
    whole_call_seconds,
)

AT = datetime(2025, 3, 10, 12, tzinfo=UTC)
FAR_FUTURE = datetime.max.replace(tzinfo=UTC)
PER_SECOND_ARREARS = LedgerPolicy(
    rating=BillingIncrement.PER_SECOND,
    overage=OveragePolicy.bill_in_arrears(Money("1.00", "INR")),
)


def ledger_with(terms: list[GrantTerms], policy: LedgerPolicy = PER_SECOND_ARREARS) -> MinuteLedger:
    ledger = MinuteLedger("acct-1", policy)
    for term in terms:
        term.apply(ledger, AT)
    return ledger


def expected_debits(terms: list[GrantTerms], seconds: int, at: datetime) -> list[GrantDebit]:
    """The consumption order, written out plainly: which grants `seconds` come from."""
    usable = [
        t
        for t in terms
        if t.effective_at(AT) <= at and (t.expires_at(AT) is None or at < t.expires_at(AT))  # type: ignore[operator]
    ]

    def rank(t: GrantTerms) -> tuple[int, datetime, bool, datetime, str]:
        expiry = t.expires_at(AT)
        return (
            -t.priority,
            FAR_FUTURE if expiry is None else expiry,
            t.source is not GrantSource.PROMOTIONAL,
            t.effective_at(AT),
            t.grant_id,
        )

    debits = []
    for term in sorted(usable, key=rank):
        if seconds == 0:
            break
        take = min(seconds, term.seconds)
        debits.append(GrantDebit(term.grant_id, take))
        seconds -= take
    return debits


offsets = st.integers(-48, 24 * 41).map(lambda h: timedelta(hours=h))


@given(grant_sets(max_size=7), whole_call_seconds(8 * 3600), offsets)
def test_a_call_uses_grants_in_consumption_order(
    terms: list[GrantTerms], seconds: int, offset: timedelta
) -> None:
    ledger = ledger_with(terms)
    settle_at = AT + max(offset, timedelta(0))

    record = ledger.settle("call-1", timedelta(seconds=seconds), settle_at)

    assert list(record.debits) == expected_debits(terms, seconds, settle_at)
    assert record.billable_seconds == seconds
    assert record.billable_seconds == record.debited_seconds + record.overage_seconds


@given(grant_sets(max_size=7), st.integers(1, 8 * 3600))
def test_a_hold_takes_grants_in_consumption_order(terms: list[GrantTerms], seconds: int) -> None:
    ledger = ledger_with(terms)

    hold = ledger.reserve("call-1", seconds, AT)

    assert list(hold.debits) == expected_debits(terms, seconds, AT)
    assert hold.seconds == sum(d.seconds for d in hold.debits) <= seconds
    assert hold.partial == (hold.seconds < seconds)


@given(grant_sets(max_size=7), ledger_policies(), st.integers(1, 4 * 3600), st.data())
def test_a_call_that_keeps_to_its_hold_is_paid_from_it(
    terms: list[GrantTerms], policy: LedgerPolicy, seconds: int, data: st.DataObject
) -> None:
    """A hold takes what a call of its length is billed; a call within its cap needs no more."""
    ledger = ledger_with(terms, policy)
    billed = policy.rating.billable_for_seconds(seconds)
    free = ledger.available_seconds(AT)
    rating = policy.rating
    low, high = 0, seconds  # the longest call within `seconds` that `free` pays in full
    while low < high:
        middle = (low + high + 1) // 2
        if rating.billable_for_seconds(middle) <= free:
            low = middle
        else:
            high = middle - 1
    expected = rating.billable_for_seconds(low)
    if not expected and policy.overage.blocks:
        with pytest.raises(InsufficientMinutes):
            ledger.reserve("call-1", seconds, AT)
        assert ledger.available_seconds(AT) == free
        return
    hold = ledger.reserve("call-1", seconds, AT)
    assert hold.seconds == expected  # a partial hold keeps only what a call that fits is billed
    on_minutes = min(seconds, hold.seconds)  # how long the call runs on its seconds alone
    if hold.partial and policy.overage.mode is OverageMode.BILL_IN_ARREARS:
        assert (hold.max_seconds, hold.funds) == (seconds, None)  # the rest: billed later
    else:  # blocked, or charged to a wallet this ledger was told nothing of
        assert (hold.max_seconds, hold.cap, hold.funds) == (on_minutes, None, None)
    length = data.draw(st.integers(0, on_minutes), label="length")

    record = ledger.settle("call-1", timedelta(seconds=length), AT + timedelta(seconds=length))

    if hold.seconds == billed:  # held in full: the call is paid from its own hold
        assert record.overage_seconds == 0
        assert {d.grant_id for d in record.debits} <= {d.grant_id for d in hold.debits}
        assert ledger.available_seconds(AT) == free - record.debited_seconds


@given(
    grant_sets(max_size=5),
    ledger_policies(),
    st.lists(whole_call_seconds(3 * 3600), min_size=1, max_size=6),
    st.randoms(use_true_random=False),
)
def test_independent_calls_give_the_same_totals_in_any_order(
    terms: list[GrantTerms],
    policy: LedgerPolicy,
    durations: list[int],
    random: Random,
) -> None:
    calls = [(f"call-{i}", timedelta(seconds=s)) for i, s in enumerate(durations)]
    shuffled = list(calls)
    random.shuffle(shuffled)
    one, other = ledger_with(terms, policy), ledger_with(terms, policy)

    for call_id, duration in calls:
        one.settle(call_id, duration, AT)
    for call_id, duration in shuffled:
        other.settle(call_id, duration, AT)

    assert one.totals() == other.totals()
    assert one.snapshot(AT) == other.snapshot(AT)
    assert [(g.grant_id, g.remaining) for g in one.grants()] == [
        (g.grant_id, g.remaining) for g in other.grants()
    ]


@given(
    grant_sets(max_size=4, allow_future=False),
    st.lists(st.tuples(st.integers(1, 1800), whole_call_seconds(1800)), min_size=1, max_size=5),
    st.randoms(use_true_random=False),
)
def test_held_calls_with_minutes_for_all_give_the_same_totals_in_any_order(
    terms: list[GrantTerms], calls: list[tuple[int, int]], random: Random
) -> None:
    needed = sum(max(requested, seconds) for requested, seconds in calls)
    terms = [*terms, GrantTerms("cover", GrantSource.BUNDLE, needed, timedelta(0), None)]
    steps = [(kind, i) for i in range(len(calls)) for kind in ("reserve", "settle")]
    # Any interleaving that keeps each call's reserve before its settle.
    pending = {i: ["reserve", "settle"] for i in range(len(calls))}
    interleaved = []
    while pending:
        i = random.choice(sorted(pending))
        interleaved.append((pending[i].pop(0), i))
        if not pending[i]:
            del pending[i]

    def run(order: list[tuple[str, int]]) -> MinuteLedger:
        ledger = ledger_with(terms)
        for kind, i in order:
            requested, seconds = calls[i]
            if kind == "reserve":
                ledger.reserve(f"call-{i}", requested, AT)
            else:
                ledger.settle(f"call-{i}", timedelta(seconds=seconds), AT)
        return ledger

    one, other = run(steps), run(interleaved)

    assert one.totals() == other.totals()
    assert one.totals().overage == 0
    assert one.snapshot(AT) == other.snapshot(AT)


def calls_held_and_settled(ledger: MinuteLedger, durations: list[int]) -> list[UsageRecord]:
    """Alternately settle a call and hold one (when the policy allows); the settled records."""
    settled = []
    for i, seconds in enumerate(durations):
        if i % 2:
            shortest = ledger.policy.rating.billable_for_seconds(1)  # less holds nothing
            if ledger.available_seconds(AT) >= shortest or not ledger.policy.overage.blocks:
                ledger.reserve(f"call-{i}", max(seconds, 1), AT)
        else:
            settled.append(ledger.settle(f"call-{i}", timedelta(seconds=seconds), AT))
    return settled


@given(grant_sets(max_size=6), ledger_policies(), st.lists(whole_call_seconds(3600), max_size=4))
def test_the_state_round_trips_and_behaves_the_same(
    terms: list[GrantTerms], policy: LedgerPolicy, durations: list[int]
) -> None:
    ledger = ledger_with(terms, policy)
    calls_held_and_settled(ledger, durations)

    state = ledger.to_state()
    copy = MinuteLedger.from_state(json.loads(json.dumps(state)))

    assert copy.to_state() == state
    later = AT + timedelta(hours=1)
    assert copy.snapshot(later) == ledger.snapshot(later)
    for call_id in sorted(ledger.active_calls()):
        duration = timedelta(seconds=97)
        assert copy.settle(call_id, duration, later) == ledger.settle(call_id, duration, later)
    assert copy.expire(later + timedelta(days=60)) == ledger.expire(later + timedelta(days=60))
    assert copy.to_state() == ledger.to_state()


@given(
    grant_sets(max_size=6),
    ledger_policies(),
    st.lists(whole_call_seconds(3600), max_size=4),
    st.integers(0, 10**6),
)
def test_a_copy_is_the_stored_ledger_and_independent_of_the_original(
    terms: list[GrantTerms], policy: LedgerPolicy, durations: list[int], version: int
) -> None:
    ledger = ledger_with(terms, policy)
    ledger.version = version
    settled = calls_held_and_settled(ledger, durations)
    state = ledger.to_state()
    rebuilt = MinuteLedger.from_state(json.loads(json.dumps(state)))

    copy = ledger.copy()

    assert copy is not ledger
    assert copy.to_state() == state
    assert copy.version == version
    assert copy.pull_events() == []  # the original's pending events stay with it
    assert ledger.pull_events() or not terms
    # It behaves as the ledger a store would load, which remembers no settled calls ...
    later = AT + timedelta(hours=1)
    for record in settled:
        again = timedelta(seconds=7)
        assert copy.settle(record.call_id, again, later) == rebuilt.settle(
            record.call_id, again, later
        )
    for call_id in sorted(ledger.active_calls()):
        duration = timedelta(seconds=97)
        assert copy.settle(call_id, duration, later) == rebuilt.settle(call_id, duration, later)
    assert copy.expire(later + timedelta(days=60)) == rebuilt.expire(later + timedelta(days=60))
    assert copy.to_state() == rebuilt.to_state()
    assert copy.pull_events() == rebuilt.pull_events()
    # ... and shares nothing mutable with the original, either way round.
    assert ledger.to_state() == state
    changed = copy.to_state()
    ledger.grant("late-bonus", GrantSource.PROMOTIONAL, 60, AT)
    for call_id in sorted(ledger.active_calls()):
        ledger.release(call_id, later)
    assert copy.to_state() == changed


@given(grant_sets(max_size=6), st.lists(whole_call_seconds(3600), max_size=5), offsets)
def test_the_snapshot_adds_up(
    terms: list[GrantTerms], durations: list[int], offset: timedelta
) -> None:
    ledger = ledger_with(terms)
    for i, seconds in enumerate(durations):
        ledger.settle(f"call-{i}", timedelta(seconds=seconds), AT)
    ledger.reserve("live", 600, AT) if ledger.available_seconds(AT) else None

    snapshot = ledger.snapshot(AT + abs(offset))

    assert snapshot.total_seconds == (
        snapshot.remaining_seconds
        + snapshot.used_seconds
        + snapshot.held_seconds
        + snapshot.expired_seconds
    )
    assert 0 <= snapshot.used_percent <= 100
    totals = ledger.totals()
    assert totals.granted == totals.remaining + totals.held + totals.consumed + totals.expired


@given(
    st.sampled_from(
        [BillingIncrement.PER_MINUTE, BillingIncrement.SIXTY_SIX, BillingIncrement(30, 6, 45)]
    ),
    st.lists(
        st.one_of(
            st.integers(-(10**7), 10**10),
            st.integers(-5, 5).map(lambda us: MAX_CALL_DURATION // timedelta(microseconds=1) + us),
        ).map(lambda us: timedelta(microseconds=us)),
        max_size=8,
    ),
)
def test_the_ledger_rates_exactly_as_the_billing_increment(
    rating: BillingIncrement, durations: list[timedelta]
) -> None:
    rater = Rater(rating, hold_ttl=timedelta(hours=4))
    for duration in durations * 2:  # the second time from what it remembered
        if not timedelta(0) <= duration <= MAX_CALL_DURATION:
            with pytest.raises(ValidationError) as caught:
                rater.billable(duration)
            assert caught.value.field == "duration"
            with pytest.raises(ValidationError):
                rating.billable_seconds(duration)
        else:
            assert rater.billable(duration) == rating.billable_seconds(duration)


@st.composite
def exhausting_calls(draw: st.DrawFn) -> tuple[int, list[int]]:
    """A period's seconds and call lengths that come near them: within rounding of 100 %."""
    total = draw(st.integers(1, MAX_CALL_SECONDS))
    near = draw(st.integers(max(1, total - total // 5_000 - 2), total))
    first = draw(st.one_of(st.just(near), st.integers(1, total)))
    rest = draw(st.lists(st.integers(1, 3), max_size=4))
    return total, [first, *rest]


@given(exhausting_calls(), st.booleans())
def test_exhausted_shows_and_fires_exactly_when_every_second_is_used(
    case: tuple[int, list[int]], reload: bool
) -> None:
    total, calls = case
    period = BillingPeriod(AT, AT + timedelta(days=30))
    ledger = MinuteLedger("acct-1", evolve(PER_SECOND_ARREARS, thresholds=(1, 99, 100)))
    ledger.open_period(period, AT)
    ledger.grant("plan", GrantSource.PLAN, total, AT, expires_at=period.end)
    ledger.pull_events()
    used = 0
    for n, seconds in enumerate(calls):
        if reload:  # the watch kept in the document must not skip the last second either
            ledger = MinuteLedger.from_state(json.loads(json.dumps(ledger.to_state())))
        was_exhausted = used == total
        ledger.settle(f"call-{n}", timedelta(seconds=seconds), AT)
        used = min(total, used + seconds)
        events = ledger.pull_events()
        exhausted = [e for e in events if isinstance(e, MinutesExhausted)]
        snapshot = ledger.snapshot(AT)
        assert snapshot.used_seconds == used
        assert (snapshot.used_percent == 100) == (used == total)
        assert snapshot.used_percent <= 100
        if used == total and not was_exhausted:
            assert [(e.level, e.used_percent, e.remaining_seconds) for e in exhausted] == [
                (100, Decimal(100), 0)
            ]
        else:
            assert exhausted == []
        lows = [e for e in events if isinstance(e, MinutesLow)]
        assert all(e.level < 100 and (e.used_percent < 100 or used == total) for e in lows)


@given(
    plan=st.integers(1, 10_000),
    used=st.integers(0, 10_000),
    bundle=st.integers(1, 10_000),
    lapses_after=st.integers(1, 28 * 24),  # with `expire_after`, within the period
    expire_after=st.integers(0, 24),
)
def test_expiry_says_the_minutes_ran_out_exactly_when_it_leaves_nothing(
    plan: int, used: int, bundle: int, lapses_after: int, expire_after: int
) -> None:
    # A bundle used after the plan (lower priority) lapses within the period: the host hears
    # `MinutesExhausted` from the expiry if, and only if, the plan's seconds were all used.
    used = min(used, plan)
    period = BillingPeriod(AT, AT + timedelta(days=30))
    ledger = MinuteLedger("acct-1", PER_SECOND_ARREARS)
    ledger.open_period(period, AT)
    ledger.grant("plan", GrantSource.PLAN, plan, AT, expires_at=period.end)
    lapse = AT + timedelta(hours=lapses_after)
    ledger.grant("bundle", GrantSource.BUNDLE, bundle, AT, expires_at=lapse, priority=-1)
    if used:
        ledger.settle("call", timedelta(seconds=used), AT)
    assert not any(isinstance(e, MinutesExhausted) for e in ledger.pull_events())

    assert ledger.expire(lapse + timedelta(hours=expire_after)) == bundle

    exhausted = [e for e in ledger.pull_events() if isinstance(e, MinutesExhausted)]
    if used == plan:
        assert [(e.level, e.remaining_seconds) for e in exhausted] == [(100, 0)]
    else:
        assert exhausted == []


@given(
    rating=st.sampled_from(
        [
            BillingIncrement(60, 60, minimum_seconds=90),  # a minimum off the grid
            BillingIncrement(30, 6, minimum_seconds=45),
            BillingIncrement(1, 1, minimum_seconds=30),
            BillingIncrement(60, 6),
        ]
    ),
    free=st.integers(1, 600),
    requested=st.integers(1, 900),
)
def test_a_partial_hold_lets_its_call_run_exactly_as_long_as_it_pays_for(
    rating: BillingIncrement, free: int, requested: int
) -> None:
    """Under a minimum off the grid the held seconds pay for a shorter call than their count.

    60/60 with a 90-second minimum and 100 s free holds 90 s, what a call of up to 60 s is
    billed: a 90-second call would be billed 120.
    """
    period = BillingPeriod(AT, AT + timedelta(days=30))
    ledger = MinuteLedger("acct-1", LedgerPolicy(rating=rating))  # overage blocks
    ledger.open_period(period, AT)
    ledger.grant("plan", GrantSource.PLAN, free, AT, expires_at=period.end)
    longest = max(
        (n for n in range(requested + 1) if rating.billable_for_seconds(n) <= free), default=0
    )
    if longest == 0:
        with pytest.raises(InsufficientMinutes):
            ledger.reserve("call", requested, AT)
        return

    hold = ledger.reserve("call", requested, AT)

    assert hold.max_seconds == longest  # the longest call the free seconds pay for in full
    record = ledger.settle("call", timedelta(seconds=hold.max_seconds), AT)
    assert record.overage_seconds == 0
