"""The minute ledger, in examples that read like the product."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from minutebill.domain.catalog import OverageMode, OveragePolicy
from minutebill.domain.ledger import (
    CallSettled,
    GrantDebit,
    GrantSource,
    LedgerPolicy,
    MinuteLedger,
    MinutesExhausted,
    MinutesExpired,
    MinutesGranted,
    MinutesLow,
    MinutesReserved,
    MinutesRolledOver,
    OverageIncurred,
    ReservationExpired,
    ReservationReleased,
    UsageRecord,
)
from minutebill.domain.ledger_books import PRUNED_GRANTS_KEPT
from minutebill.domain.ledger_calls import CLOSED_CALLS_KEPT
from minutebill.domain.money import Money
from minutebill.domain.periods import BillingPeriod
from minutebill.domain.rating import BillingIncrement
from minutebill.errors import IdempotencyConflict, InsufficientMinutes, InvalidTransition

T0 = datetime(2025, 1, 1, tzinfo=UTC)
JANUARY = BillingPeriod(T0, datetime(2025, 2, 1, tzinfo=UTC))
FEBRUARY = BillingPeriod(JANUARY.end, datetime(2025, 3, 1, tzinfo=UTC))
MINUTE = 60


def at(days: float = 0, minutes: float = 0, seconds: float = 0) -> datetime:
    return T0 + timedelta(days=days, minutes=minutes, seconds=seconds)


def pro_ledger(policy: LedgerPolicy | None = None, plan_minutes: int = 5000) -> MinuteLedger:
    """A Pro account in January: the plan allowance, expiring at the end of the period."""
    ledger = MinuteLedger("acct-pro", policy or LedgerPolicy())
    ledger.open_period(JANUARY, T0)
    ledger.grant(
        "plan:2025-01", GrantSource.PLAN, plan_minutes * MINUTE, T0, expires_at=JANUARY.end
    )
    ledger.pull_events()
    return ledger


def remaining(ledger: MinuteLedger) -> dict[str, int]:
    return {g.grant_id: g.remaining for g in ledger.grants()}


def test_a_grant_is_usable_from_its_start_until_just_before_its_expiry() -> None:
    ledger = pro_ledger()
    ledger.grant("later", GrantSource.BUNDLE, MINUTE, at(3))
    plan, later = ledger.grants()
    assert [plan.usable_at(t) for t in (T0, at(30), JANUARY.end)] == [True, True, False]
    assert plan.usable_at(T0 - timedelta(microseconds=1)) is False
    assert [later.usable_at(t) for t in (at(2), at(3), at(3650))] == [False, True, True]


# --- consumption order ---------------------------------------------------------------------


def test_plan_allowance_is_used_before_an_add_on_bundle() -> None:
    ledger = pro_ledger()
    ledger.grant("nexus", GrantSource.BUNDLE, 300 * MINUTE, at(3), expires_at=JANUARY.end)

    record = ledger.settle("call-1", timedelta(minutes=10), at(4))

    assert record.debits == (GrantDebit("plan:2025-01", 600),)
    assert remaining(ledger)["nexus"] == 300 * MINUTE


def test_a_bundle_expiring_earlier_is_used_before_one_expiring_later() -> None:
    ledger = MinuteLedger("acct-1", LedgerPolicy())
    ledger.grant("elite-30d", GrantSource.BUNDLE, 100 * MINUTE, T0, expires_at=at(30))
    ledger.grant("pro-7d", GrantSource.BUNDLE, 150 * MINUTE, at(1), expires_at=at(8))

    record = ledger.settle("call-1", timedelta(minutes=151), at(2))

    assert record.debits == (GrantDebit("pro-7d", 150 * MINUTE), GrantDebit("elite-30d", 60))


def test_never_expiring_minutes_are_used_last() -> None:
    ledger = MinuteLedger("acct-1", LedgerPolicy())
    ledger.grant("forever", GrantSource.BUNDLE, 600, T0)
    ledger.grant("month", GrantSource.BUNDLE, 600, at(1), expires_at=at(30))

    record = ledger.settle("call-1", timedelta(minutes=1), at(2))

    assert record.debits == (GrantDebit("month", 60),)


def test_promotional_credit_is_used_before_paid_minutes_that_expire_together() -> None:
    ledger = pro_ledger()
    ledger.grant("welcome", GrantSource.PROMOTIONAL, 120, at(1), expires_at=JANUARY.end)

    record = ledger.settle("call-1", timedelta(minutes=3), at(2))

    assert record.debits == (GrantDebit("welcome", 120), GrantDebit("plan:2025-01", 60))


def test_a_higher_priority_grant_is_used_first() -> None:
    ledger = pro_ledger()
    ledger.grant("pinned", GrantSource.BUNDLE, 600, at(1), priority=10)

    record = ledger.settle("call-1", timedelta(minutes=1), at(2))

    assert record.debits == (GrantDebit("pinned", 60),)


def test_a_grant_is_usable_only_inside_its_window() -> None:
    ledger = MinuteLedger("acct-1", LedgerPolicy(overage=OveragePolicy.bill_in_arrears(inr(1))))
    ledger.grant("later", GrantSource.BUNDLE, 600, T0, effective_at=at(2), expires_at=at(3))

    assert ledger.settle("early", timedelta(minutes=1), at(1)).overage_seconds == 60
    assert ledger.settle("inside", timedelta(minutes=1), at(2)).debits == (GrantDebit("later", 60),)
    assert ledger.settle("late", timedelta(minutes=1), at(3)).overage_seconds == 60


# --- two-phase use ---------------------------------------------------------------------------


def test_a_call_is_held_then_settled_and_unused_held_seconds_go_back() -> None:
    ledger = pro_ledger()
    hold = ledger.reserve("call-1", 10 * MINUTE, at(1))
    assert hold.seconds == 600
    assert not hold.partial
    assert ledger.snapshot(at(1)).held_seconds == 600
    assert ledger.active_calls() == {"call-1"}

    record = ledger.settle("call-1", timedelta(minutes=2, seconds=5), at(1, minutes=3))

    assert record.billable_seconds == 180  # three started minutes
    assert record.debits == (GrantDebit("plan:2025-01", 180),)
    assert record.held_seconds == 600
    assert record.started_at == at(1)
    snapshot = ledger.snapshot(at(1, minutes=3))
    assert (snapshot.held_seconds, snapshot.used_seconds) == (0, 180)
    assert snapshot.remaining_seconds == 5000 * MINUTE - 180
    assert ledger.active_calls() == frozenset()
    names = [type(e) for e in ledger.pull_events()]
    assert names == [MinutesReserved, CallSettled]


def test_a_call_that_runs_past_its_hold_takes_further_grants_then_overage() -> None:
    rate = OveragePolicy.charge_wallet(inr(2))
    ledger = pro_ledger(LedgerPolicy(overage=rate), plan_minutes=5)
    ledger.grant("elite", GrantSource.BUNDLE, 2 * MINUTE, at(1), expires_at=JANUARY.end)
    hold = ledger.reserve("call-1", 3 * MINUTE, at(2))
    assert hold.debits == (GrantDebit("plan:2025-01", 180),)

    record = ledger.settle("call-1", timedelta(minutes=9, seconds=30), at(2, minutes=10))

    assert record.billable_seconds == 600
    assert record.debits == (GrantDebit("plan:2025-01", 300), GrantDebit("elite", 120))
    assert record.overage_seconds == 180
    assert record.overage_charge == inr("6.00")
    assert record.billable_seconds == record.debited_seconds + record.overage_seconds
    overage = [e for e in ledger.pull_events() if isinstance(e, OverageIncurred)]
    assert [(e.seconds, e.charge, e.mode) for e in overage] == [
        (180, inr("6.00"), OverageMode.CHARGE_WALLET)
    ]
    assert ledger.snapshot(at(2, minutes=10)).overage_seconds == 180
    assert ledger.period_overage_charges == (inr("6.00"),)


def test_only_overage_priced_in_arrears_is_left_to_bill_whatever_the_rule_becomes() -> None:
    arrears = LedgerPolicy(overage=OveragePolicy.bill_in_arrears(inr(1)))
    wallet = LedgerPolicy(overage=OveragePolicy.charge_wallet(inr(2)))
    ledger = pro_ledger(wallet, plan_minutes=1)
    ledger.settle("paid-now", timedelta(minutes=3), at(1))  # 2 minutes over, ₹4 from the wallet
    assert (ledger.period_overage_charges, ledger.period_arrears) == ((inr("4.00"),), ())
    ledger.set_policy(arrears, at=at(2))
    ledger.settle("billed-later", timedelta(minutes=5), at(3))  # 5 more over, ₹5 in arrears
    assert ledger.period_arrears == (inr("5.00"),)
    ledger.set_policy(wallet, at=at(4))  # switching back drops nothing left to bill
    assert ledger.period_overage_charges == (inr("9.00"),)
    again = MinuteLedger.from_state(json.loads(json.dumps(ledger.to_state())))
    assert again.period_arrears == (inr("5.00"),)
    ledger.open_period(FEBRUARY, at(5))
    assert not ledger.period_arrears  # a new period starts with nothing to bill


@pytest.mark.parametrize(
    ("mode", "expected"),
    [("bill_in_arrears", ("6.00",)), ("charge_wallet", ())],
)
def test_a_document_from_before_arrears_were_counted_apart_reads_them_from_its_rule(
    mode: str, expected: tuple[str, ...]
) -> None:
    rule = (
        OveragePolicy.bill_in_arrears if mode == "bill_in_arrears" else OveragePolicy.charge_wallet
    )
    ledger = pro_ledger(LedgerPolicy(overage=rule(inr(2))), plan_minutes=1)
    ledger.settle("c", timedelta(minutes=4), at(1))
    state = ledger.to_state()
    del state["period_arrears"]
    again = MinuteLedger.from_state(state)
    assert again.period_arrears == tuple(inr(a) for a in expected)


def test_overage_under_block_is_recorded_but_not_priced() -> None:
    ledger = pro_ledger(plan_minutes=1)
    ledger.reserve("call-1", 60, at(1))

    record = ledger.settle("call-1", timedelta(minutes=2), at(1, minutes=2))

    assert (record.overage_seconds, record.overage_charge) == (60, None)
    assert ledger.totals().overage == 60


def test_a_partial_hold_says_so() -> None:
    ledger = pro_ledger(plan_minutes=2)

    hold = ledger.reserve("call-1", 10 * MINUTE, at(1))

    assert (hold.seconds, hold.requested, hold.partial) == (120, 600, True)


def test_a_hold_holds_what_a_call_of_its_length_is_billed() -> None:
    """60/60 bills a 10-second call a minute: the hold takes the minute, capped at 10 s."""
    ledger = pro_ledger(plan_minutes=2)

    short = ledger.reserve("call-1", 10, at(1))
    longer = ledger.reserve("call-2", 90, at(1))  # one minute is left of the two

    assert (short.seconds, short.requested, short.max_seconds, short.partial) == (60, 10, 10, False)
    assert (longer.seconds, longer.requested, longer.max_seconds, longer.partial) == (
        60,
        90,
        60,
        True,
    )
    assert ledger.available_seconds(at(1)) == 0
    record = ledger.settle("call-1", timedelta(seconds=short.max_seconds), at(1, minutes=1))
    assert (record.debits, record.overage_seconds) == ((GrantDebit("plan:2025-01", 60),), 0)


def test_a_hold_on_a_per_second_plan_holds_what_was_asked() -> None:
    ledger = pro_ledger(LedgerPolicy(rating=BillingIncrement.PER_SECOND))
    hold = ledger.reserve("call-1", 10, at(1))
    assert (hold.seconds, hold.max_seconds) == (10, 10)


def test_no_minutes_and_a_blocking_plan_refuse_the_call() -> None:
    ledger = pro_ledger(plan_minutes=1)
    ledger.reserve("call-1", 60, at(1))
    ledger.pull_events()
    before = ledger.to_state()

    with pytest.raises(InsufficientMinutes) as caught:
        ledger.reserve("call-2", 60, at(1))

    assert (caught.value.needed, caught.value.available) == (60, 0)
    assert caught.value.account_id == "acct-pro"
    assert ledger.to_state() == before
    assert ledger.pull_events() == []


def test_a_plan_that_charges_overage_admits_a_call_with_a_zero_hold() -> None:
    ledger = MinuteLedger("acct-1", LedgerPolicy(overage=OveragePolicy.charge_wallet(inr(1))))

    hold = ledger.reserve("call-1", 300, at(1))
    record = ledger.settle("call-1", timedelta(seconds=61), at(1, minutes=2))

    assert (hold.seconds, hold.debits, hold.partial) == (0, (), True)
    assert (record.overage_seconds, record.overage_charge) == (120, inr("2.00"))


def test_reserving_the_same_call_again_returns_its_hold() -> None:
    ledger = pro_ledger()
    first = ledger.reserve("call-1", 600, at(1))
    state = ledger.to_state()

    assert ledger.reserve("call-1", 600, at(1, minutes=1)) == first
    assert ledger.to_state() == state


def test_a_call_that_never_connected_gives_its_hold_back() -> None:
    ledger = pro_ledger()
    ledger.reserve("call-1", 600, at(1))

    ledger.release("call-1", at(1, minutes=1))
    ledger.release("call-1", at(1, minutes=2))  # a repeated release does nothing more

    assert ledger.snapshot(at(2)).remaining_seconds == 5000 * MINUTE
    events = ledger.pull_events()
    assert [type(e) for e in events] == [MinutesReserved, ReservationReleased]
    with pytest.raises(InvalidTransition):
        ledger.settle("call-1", timedelta(minutes=1), at(2))


def test_a_hold_past_its_time_to_live_expires_and_the_call_can_still_settle() -> None:
    ledger = pro_ledger(LedgerPolicy(hold_ttl=timedelta(hours=1)))
    ledger.reserve("call-1", 600, at(1))
    ledger.reserve("call-2", 600, at(1, minutes=30))

    assert ledger.expire_holds(at(1, minutes=59)) == []
    assert ledger.expire_holds(at(1, minutes=60)) == ["call-1"]
    assert ledger.active_calls() == {"call-2"}
    assert ledger.snapshot(at(1, minutes=60)).held_seconds == 600

    record = ledger.settle("call-1", timedelta(minutes=70), at(1, minutes=75))

    assert record.held_seconds == 0
    assert record.debited_seconds == 70 * MINUTE
    assert record.started_at == at(1, minutes=5)  # settled_at - duration
    assert ReservationExpired in [type(e) for e in ledger.pull_events()]


def test_a_hold_longer_than_its_time_to_live_lasts_as_long_as_its_call_may_run() -> None:
    """The time-to-live catches missed hang-ups, not calls still within their stated length.

    A 3-hour conference call under a 1-hour time-to-live: expiring its hold after an hour
    would free its slot and hand its held minutes to other calls while it still runs.
    """
    ledger = pro_ledger(LedgerPolicy(hold_ttl=timedelta(hours=1)))
    hold = ledger.reserve("conference", 3 * 3600, at(1))
    assert hold.expires_at == at(1, minutes=180)
    assert ledger.expire_holds(at(1, minutes=179)) == []
    assert ledger.active_calls() == {"conference"}
    assert ledger.snapshot(at(1, minutes=179)).held_seconds == 3 * 3600
    assert ledger.due_at() == at(1, minutes=180)
    assert ledger.expire_holds(at(1, minutes=180)) == ["conference"]
    short = ledger.reserve("short", 600, at(2))
    assert short.expires_at == at(2, minutes=60)  # shorter calls keep the time-to-live


def test_call_detail_records_settle_without_a_hold() -> None:
    ledger = pro_ledger(LedgerPolicy(rating=BillingIncrement.PER_SECOND))

    record = ledger.settle(
        "cdr-1",
        timedelta(seconds=42, microseconds=1),
        at(3),
        started_at=at(2),
        tags=["campaign:spring", "outbound"],
    )

    assert record.billable_seconds == 43
    assert record.started_at == at(2)
    assert record.tags == {"campaign:spring", "outbound"}


def test_a_zero_length_call_bills_nothing() -> None:
    ledger = pro_ledger()
    ledger.reserve("call-1", 600, at(1))

    record = ledger.settle("call-1", timedelta(0), at(1))

    assert (record.billable_seconds, record.debits, record.overage_seconds) == (0, (), 0)
    assert ledger.snapshot(at(1)).remaining_seconds == 5000 * MINUTE


# --- idempotency -----------------------------------------------------------------------------


def test_settling_the_same_call_again_returns_the_original_record() -> None:
    ledger = pro_ledger()
    ledger.reserve("call-1", 600, at(1))
    first = ledger.settle("call-1", timedelta(minutes=3), at(1, minutes=3), tags=["a"])
    state = ledger.to_state()
    ledger.pull_events()

    again = ledger.settle("call-1", timedelta(minutes=3), at(1, minutes=9), tags=["a"])

    assert again is first
    assert ledger.to_state() == state
    assert ledger.pull_events() == []


def test_a_reloaded_ledger_recognises_a_replay_through_the_stored_record() -> None:
    ledger = pro_ledger()
    stored = ledger.settle("call-1", timedelta(minutes=3), at(1))
    reloaded = MinuteLedger.from_state(json.loads(json.dumps(ledger.to_state())))
    state = reloaded.to_state()

    again = reloaded.settle("call-1", timedelta(minutes=3), at(2), previous=stored)

    assert again == stored
    assert reloaded.to_state() == state
    with pytest.raises(IdempotencyConflict):
        reloaded.settle("call-1", timedelta(minutes=4), at(2), previous=stored)
    assert reloaded.to_state() == state


@pytest.mark.parametrize(
    "change",
    [
        {"duration": timedelta(minutes=4)},
        {"tags": ["other"]},
        {"started_at": at(1, minutes=-1)},
    ],
    ids=["duration", "tags", "started_at"],
)
def test_settling_the_same_call_with_other_input_is_a_conflict(change: dict[str, object]) -> None:
    ledger = pro_ledger()
    ledger.settle("call-1", timedelta(minutes=3), at(1), started_at=at(1, minutes=-3), tags=["a"])
    state = ledger.to_state()
    arguments: dict[str, object] = {
        "duration": timedelta(minutes=3),
        "started_at": at(1, minutes=-3),
        "tags": ["a"],
        **change,
    }

    with pytest.raises(IdempotencyConflict):
        ledger.settle("call-1", at=at(2), **arguments)  # type: ignore[arg-type]

    assert ledger.to_state() == state


def test_granting_the_same_grant_again_changes_nothing() -> None:
    ledger = pro_ledger()
    first = ledger.grant("nexus", GrantSource.BUNDLE, 18000, at(1), expires_at=JANUARY.end)
    state = ledger.to_state()
    ledger.pull_events()

    again = ledger.grant("nexus", GrantSource.BUNDLE, 18000, at(2), expires_at=JANUARY.end)

    assert again == first
    assert ledger.to_state() == state
    assert ledger.pull_events() == []
    with pytest.raises(IdempotencyConflict):
        ledger.grant("nexus", GrantSource.BUNDLE, 9000, at(2), expires_at=JANUARY.end)
    assert ledger.to_state() == state


# --- the overview ----------------------------------------------------------------------------


def test_1303_minutes_used_of_5000_is_26_06_percent() -> None:
    ledger = pro_ledger()
    ledger.settle("call-1", timedelta(minutes=1303), at(5))

    snapshot = ledger.snapshot(at(5))

    assert snapshot.total_minutes == Decimal("5000.00")
    assert snapshot.used_minutes == Decimal(1303)
    assert snapshot.remaining_minutes == Decimal(3697)
    assert snapshot.used_percent == Decimal("26.06")
    assert str(snapshot.used_percent) == "26.06"
    assert snapshot.period == JANUARY


def test_used_percent_rounds_half_up() -> None:
    ledger = pro_ledger(LedgerPolicy(rating=BillingIncrement.PER_SECOND), plan_minutes=1)
    ledger.grant("x", GrantSource.BUNDLE, 7940, at(1))  # 8000 seconds in all

    ledger.settle("call-1", timedelta(seconds=1), at(2))  # 0.0125 %

    assert ledger.snapshot(at(2)).used_percent == Decimal("0.01")
    ledger.settle("call-2", timedelta(seconds=2), at(2))  # 0.0375 %
    assert ledger.snapshot(at(2)).used_percent == Decimal("0.04")


def test_thresholds_fire_once_per_level_per_period() -> None:
    ledger = pro_ledger(plan_minutes=100)
    ledger.settle("call-1", timedelta(minutes=79), at(1))
    assert not any(isinstance(e, MinutesLow) for e in ledger.pull_events())

    ledger.settle("call-2", timedelta(minutes=1), at(2))
    ledger.settle("call-3", timedelta(minutes=5), at(3))
    low = [e for e in ledger.pull_events() if isinstance(e, MinutesLow)]
    assert [(e.level, e.used_percent, e.remaining_seconds) for e in low] == [
        (80, Decimal("80.00"), 20 * MINUTE)
    ]

    ledger.settle("call-4", timedelta(minutes=30), at(4))
    events = ledger.pull_events()
    exhausted = [e for e in events if isinstance(e, MinutesExhausted)]
    assert [(e.level, e.remaining_seconds) for e in exhausted] == [(100, 0)]
    assert not any(isinstance(e, MinutesLow) for e in events)

    ledger.settle("call-5", timedelta(minutes=30), at(5))
    assert not any(isinstance(e, MinutesLow | MinutesExhausted) for e in ledger.pull_events())

    # The next period re-arms them.
    ledger.open_period(FEBRUARY, FEBRUARY.start)
    ledger.grant("plan:2025-02", GrantSource.PLAN, 6000, FEBRUARY.start, expires_at=FEBRUARY.end)
    ledger.settle("call-6", timedelta(minutes=100), FEBRUARY.start + timedelta(days=1))
    crossed = [e for e in ledger.pull_events() if isinstance(e, MinutesLow | MinutesExhausted)]
    assert [e.level for e in crossed] == [80, 100]


def test_minutes_exhausted_waits_for_the_last_second() -> None:
    # 60,000 s billed per second: one second short is 99.998 %, which rounds half up to 100.
    ledger = pro_ledger(LedgerPolicy(rating=BillingIncrement.PER_SECOND), plan_minutes=1000)
    ledger.settle("call-1", timedelta(seconds=59_999), at(1))

    events = ledger.pull_events()
    assert not any(isinstance(e, MinutesExhausted) for e in events)
    assert [e.level for e in events if isinstance(e, MinutesLow)] == [80]
    snapshot = ledger.snapshot(at(1))
    assert (snapshot.remaining_seconds, snapshot.used_percent) == (1, Decimal("99.99"))

    ledger.settle("call-2", timedelta(seconds=1), at(2))

    exhausted = [e for e in ledger.pull_events() if isinstance(e, MinutesExhausted)]
    assert [(e.level, e.used_percent, e.remaining_seconds) for e in exhausted] == [
        (100, Decimal("100.00"), 0)
    ]
    assert ledger.snapshot(at(2)).used_percent == Decimal("100.00")


def test_minutes_exhausted_fires_when_nothing_is_left_though_some_expired() -> None:
    # 100 plan minutes and a 100-minute bundle that expires on day 5 with 90 unused: used can
    # reach only 55 % of the period's 200 minutes, yet the next call finds nothing left.
    ledger = pro_ledger(plan_minutes=100)
    ledger.grant("pro-4d", GrantSource.BUNDLE, 100 * MINUTE, T0, expires_at=at(5))
    ledger.settle("call-1", timedelta(minutes=10), at(1))  # checked: the watch is set
    ledger.pull_events()

    ledger.settle("call-2", timedelta(minutes=100), at(10))  # the bundle expired meanwhile

    crossed = [e for e in ledger.pull_events() if isinstance(e, MinutesLow | MinutesExhausted)]
    assert [(type(e), e.level, e.used_percent, e.remaining_seconds) for e in crossed] == [
        (MinutesLow, 80, Decimal("55.00"), 0),  # every second is gone: used or expired
        (MinutesExhausted, 100, Decimal("55.00"), 0),
    ]
    ledger.settle("call-3", timedelta(minutes=1), at(11))  # overage: no second warning
    assert not any(isinstance(e, MinutesExhausted) for e in ledger.pull_events())


def test_minutes_exhausted_fires_when_the_last_minutes_expire_unused() -> None:
    # The plan's 100 minutes are used first (the bundle has the lower priority); the bundle
    # then expires unused on day 5, and nothing is left: campaigns would stop with no warning
    # but this one.
    ledger = pro_ledger(plan_minutes=100)
    ledger.grant("pro-4d", GrantSource.BUNDLE, 100 * MINUTE, T0, expires_at=at(5), priority=-1)
    ledger.settle("call-1", timedelta(minutes=100), at(1))
    assert not any(isinstance(e, MinutesExhausted) for e in ledger.pull_events())

    ledger.expire(at(6))

    crossed = [e for e in ledger.pull_events() if isinstance(e, MinutesLow | MinutesExhausted)]
    assert [(type(e), e.level, e.used_percent, e.remaining_seconds) for e in crossed] == [
        (MinutesLow, 80, Decimal("50.00"), 0),
        (MinutesExhausted, 100, Decimal("50.00"), 0),
    ]
    ledger.expire(at(7))
    assert ledger.pull_events() == []


def test_minutes_that_expire_with_the_period_do_not_say_it_ran_out() -> None:
    ledger = pro_ledger(plan_minutes=100)
    ledger.settle("call-1", timedelta(minutes=40), at(1))
    ledger.pull_events()

    assert ledger.expire(JANUARY.end) == 60 * MINUTE

    assert not any(isinstance(e, MinutesLow | MinutesExhausted) for e in ledger.pull_events())


def test_expiry_that_leaves_minutes_or_holds_warns_but_does_not_say_they_ran_out() -> None:
    ledger = pro_ledger(plan_minutes=100)
    ledger.grant("pro-4d", GrantSource.BUNDLE, 100 * MINUTE, T0, expires_at=at(5), priority=-1)
    ledger.settle("call-1", timedelta(minutes=99), at(1))  # 49.5 % used: no warning yet
    ledger.reserve("live", MINUTE, at(4))  # the plan's last minute, held
    assert not any(isinstance(e, MinutesLow | MinutesExhausted) for e in ledger.pull_events())

    ledger.expire(at(6))  # 199 of 200 minutes gone: the last one is held

    crossed = [e for e in ledger.pull_events() if isinstance(e, MinutesLow | MinutesExhausted)]
    assert [(type(e), e.level, e.remaining_seconds) for e in crossed] == [(MinutesLow, 80, 0)]


def test_the_low_warning_counts_expired_minutes_so_it_comes_before_they_run_out() -> None:
    # 100 plan minutes and a 100-minute bundle that lapses on day 5 with 90 unused: 80 % of
    # 200 minutes can never be *used* now, yet the account runs out all the same. The warning
    # counts what is gone, used or expired: 90 expired and 70 used are 80 %.
    ledger = pro_ledger(plan_minutes=100)
    ledger.grant("pro-4d", GrantSource.BUNDLE, 100 * MINUTE, T0, expires_at=at(5))
    ledger.settle("call-1", timedelta(minutes=10), at(1))  # the bundle's first 10 minutes
    ledger.pull_events()

    ledger.settle("call-2", timedelta(minutes=59), at(10))  # 159 of 200 gone: 79.5 %
    assert not any(isinstance(e, MinutesLow) for e in ledger.pull_events())
    ledger.settle("call-3", timedelta(minutes=1), at(11))  # 160 of 200: 80 %

    (low,) = [e for e in ledger.pull_events() if isinstance(e, MinutesLow)]
    assert (low.level, low.used_percent, low.remaining_seconds) == (
        80,
        Decimal("35.00"),
        40 * MINUTE,
    )


def test_minutes_exhausted_waits_for_held_seconds_though_some_expired() -> None:
    ledger = pro_ledger(plan_minutes=100)
    ledger.grant("pro-4d", GrantSource.BUNDLE, 100 * MINUTE, at(1), expires_at=at(5))
    ledger.reserve("live", 10 * MINUTE, at(10))
    ledger.settle("call-1", timedelta(minutes=90), at(10))

    assert not any(isinstance(e, MinutesExhausted) for e in ledger.pull_events())

    ledger.settle("live", timedelta(minutes=10), at(10, minutes=10))

    assert [type(e) for e in ledger.pull_events()][-1] is MinutesExhausted


def test_a_reloaded_ledger_waits_for_the_last_second_too() -> None:
    ledger = pro_ledger(LedgerPolicy(rating=BillingIncrement.PER_SECOND), plan_minutes=1000)
    ledger.settle("call-1", timedelta(seconds=59_990), at(1))  # checked: the watch is set
    for n in range(9):  # a second at a time, each time from the stored document
        ledger = MinuteLedger.from_state(json.loads(json.dumps(ledger.to_state())))
        ledger.settle(f"call-{n + 2}", timedelta(seconds=1), at(2))
        assert not any(isinstance(e, MinutesExhausted) for e in ledger.pull_events())
    ledger.settle("last", timedelta(seconds=1), at(3))
    assert [type(e) for e in ledger.pull_events()][-1] is MinutesExhausted


@pytest.mark.parametrize("stored_watch", [True, False])
def test_a_reloaded_ledger_fires_a_threshold_exactly_when_the_live_one_would(
    stored_watch: bool,
) -> None:
    live = pro_ledger(plan_minutes=100)
    live.settle("call-1", timedelta(minutes=70), at(1))  # checked: the watch is set
    state = json.loads(json.dumps(live.to_state()))
    if not stored_watch:  # a document written before the watch was kept
        del state["threshold_room"]
    for minutes, fires in [(9, False), (1, True)]:
        reloaded = MinuteLedger.from_state(state)
        reloaded.settle(f"call-{minutes}", timedelta(minutes=minutes), at(2))
        levels = [e.level for e in reloaded.pull_events() if isinstance(e, MinutesLow)]
        assert levels == ([80] if fires else [])
        state = json.loads(json.dumps(reloaded.to_state()))


def test_a_bundle_that_outlives_the_period_counts_with_what_it_had_left() -> None:
    ledger = pro_ledger(plan_minutes=10)
    ledger.grant("forever", GrantSource.BUNDLE, 100 * MINUTE, at(1))
    ledger.settle("call-1", timedelta(minutes=40), at(2))  # 10 plan + 30 bundle

    ledger.open_period(FEBRUARY, FEBRUARY.start)
    ledger.grant("plan:2025-02", GrantSource.PLAN, 600, FEBRUARY.start, expires_at=FEBRUARY.end)
    snapshot = ledger.snapshot(FEBRUARY.start)

    assert snapshot.total_seconds == 600 + 70 * MINUTE
    assert snapshot.used_seconds == 0
    assert snapshot.remaining_seconds == snapshot.total_seconds


def test_an_unexpired_grant_past_its_expiry_shows_as_expired() -> None:
    ledger = pro_ledger()
    ledger.grant("week", GrantSource.BUNDLE, 600, at(1), expires_at=at(8))

    snapshot = ledger.snapshot(at(9))

    assert snapshot.expired_seconds == 600
    assert snapshot.remaining_seconds == 5000 * MINUTE
    assert ledger.expire(at(9)) == 600
    assert ledger.snapshot(at(9)) == snapshot
    assert [e.seconds for e in ledger.pull_events() if isinstance(e, MinutesExpired)] == [600]


# --- periods, expiry and rollover ------------------------------------------------------------


def test_renewal_with_a_capped_rollover() -> None:
    ledger = pro_ledger(plan_minutes=100)
    ledger.settle("call-1", timedelta(minutes=30), at(10))
    boundary = JANUARY.end

    carried = ledger.rollover(
        boundary, cap_seconds=50 * MINUTE, expires_at=FEBRUARY.end, grant_id="rollover:2025-02"
    )
    expired = ledger.expire(boundary)
    ledger.open_period(FEBRUARY, boundary)
    ledger.grant("plan:2025-02", GrantSource.PLAN, 6000, boundary, expires_at=FEBRUARY.end)

    assert carried is not None
    assert (carried.source, carried.granted, carried.effective_at) == (
        GrantSource.ROLLOVER,
        3000,
        boundary,
    )
    assert expired == 20 * MINUTE
    snapshot = ledger.snapshot(boundary)
    assert snapshot.total_seconds == 6000 + 3000
    assert [g.grant_id for g in ledger.grants()] == ["plan:2025-02", "rollover:2025-02"]
    totals = ledger.totals()
    assert totals.granted == 6000 + 6000 + 3000
    assert totals.granted == totals.remaining + totals.held + totals.consumed + totals.expired
    events = ledger.pull_events()
    assert any(isinstance(e, MinutesRolledOver) and e.seconds == 3000 for e in events)
    # Repeating the renewal changes nothing.
    state = ledger.to_state()
    again = ledger.rollover(
        boundary, cap_seconds=50 * MINUTE, expires_at=FEBRUARY.end, grant_id="rollover:2025-02"
    )
    assert again is not None
    assert again.granted == 3000
    ledger.open_period(FEBRUARY, boundary)
    assert ledger.to_state() == state


def test_a_rollover_after_the_period_s_minutes_expired_carries_them_once() -> None:
    """A renewal paid late: the due work expired the unused plan seconds at the period end."""
    ledger = pro_ledger(plan_minutes=100)
    ledger.settle("call-1", timedelta(minutes=30), at(10))
    assert ledger.expire(JANUARY.end) == 70 * MINUTE
    late = JANUARY.end + timedelta(days=1)
    before = ledger.totals()

    carried = ledger.rollover(
        late, cap_seconds=50 * MINUTE, expires_at=FEBRUARY.end, grant_id="rollover:2025-02"
    )

    assert carried is not None
    assert (carried.granted, carried.effective_at) == (50 * MINUTE, late)
    totals = ledger.totals()  # the plan grant's expiry stands; only the rollover is new
    assert (totals.granted, totals.expired) == (before.granted + 50 * MINUTE, before.expired)
    assert totals.granted == totals.remaining + totals.held + totals.consumed + totals.expired
    # Once per boundary: another rollover id carries nothing more.
    again = ledger.rollover(late, cap_seconds=50 * MINUTE, expires_at=FEBRUARY.end, grant_id="r2")
    assert again is None


def renew_with_a_live_call(cap_minutes: int, *, used: int, held: int) -> MinuteLedger:
    """100 plan minutes, `used` of them used, a call holding `held` across the boundary.

    The renewal runs as `Subscription.renew` does: rollover, expire, open, grant.
    """
    ledger = pro_ledger(plan_minutes=100)
    if used:
        ledger.settle("call-1", timedelta(minutes=used), at(10))
    ledger.reserve("live", held * MINUTE, JANUARY.end - timedelta(minutes=5))
    boundary = JANUARY.end + timedelta(minutes=1)
    ledger.rollover(
        boundary,
        cap_seconds=cap_minutes * MINUTE,
        expires_at=FEBRUARY.end,
        grant_id="rollover:2025-02",
    )
    ledger.expire(boundary)
    ledger.open_period(FEBRUARY, boundary)
    ledger.grant("plan:2025-02", GrantSource.PLAN, 100 * MINUTE, boundary, expires_at=FEBRUARY.end)
    ledger.pull_events()
    return ledger


def rolled_over(ledger: MinuteLedger) -> int:
    return sum(g.granted for g in ledger.grants() if g.source is GrantSource.ROLLOVER)


def assert_totals_add_up(ledger: MinuteLedger) -> None:
    totals = ledger.totals()
    assert totals.granted == totals.remaining + totals.held + totals.consumed + totals.expired
    for grant in ledger.grants():
        assert grant.granted == grant.remaining + grant.held + grant.consumed + grant.expired


def test_seconds_a_live_call_held_at_the_boundary_roll_over_when_it_gives_them_back() -> None:
    """50 free and 50 held at the boundary; the call uses 10: 90 unused minutes roll over."""
    ledger = renew_with_a_live_call(500, used=0, held=50)
    assert rolled_over(ledger) == 50 * MINUTE
    after = JANUARY.end + timedelta(minutes=20)

    record = ledger.settle("live", timedelta(minutes=10), after)

    assert record.debits == (GrantDebit("plan:2025-01", 10 * MINUTE),)  # its own period's
    assert rolled_over(ledger) == 90 * MINUTE
    carried = next(g for g in ledger.grants() if g.source is GrantSource.ROLLOVER)
    assert carried.remaining == 90 * MINUTE
    old = next(g for g in ledger.grants() if g.grant_id == "plan:2025-01")
    assert (old.remaining, old.held, old.consumed, old.expired) == (0, 0, 600, 90 * MINUTE)
    assert ledger.snapshot(after).total_seconds == (100 + 90) * MINUTE
    assert_totals_add_up(ledger)
    events = [e for e in ledger.pull_events() if isinstance(e, MinutesRolledOver)]
    assert [(e.grant_id, e.seconds, e.from_grants) for e in events] == [
        ("rollover:2025-02", 40 * MINUTE, ("plan:2025-01",))
    ]
    # Once: nothing is pending any more, and a reload keeps it so.
    assert "pending_rollover" not in ledger.to_state()
    assert ledger.expire(after + timedelta(days=1)) == 0


def test_held_seconds_roll_over_within_what_the_cap_left() -> None:
    ledger = renew_with_a_live_call(60, used=0, held=50)  # 50 free, cap 60: room for 10
    ledger.release("live", JANUARY.end + timedelta(minutes=2))
    assert rolled_over(ledger) == 60 * MINUTE
    assert ledger.expire(JANUARY.end + timedelta(minutes=3)) == 40 * MINUTE
    assert_totals_add_up(ledger)


def test_held_seconds_a_call_used_do_not_roll_over() -> None:
    ledger = renew_with_a_live_call(60, used=0, held=50)
    ledger.settle("live", timedelta(minutes=45), JANUARY.end + timedelta(minutes=2))
    assert rolled_over(ledger) == 55 * MINUTE  # 50 free + the 5 it did not use
    assert_totals_add_up(ledger)


def test_a_rollover_grant_is_granted_when_all_unused_seconds_were_held() -> None:
    ledger = renew_with_a_live_call(500, used=50, held=50)
    assert rolled_over(ledger) == 0
    assert "pending_rollover" in ledger.to_state()
    # The pending rollover survives a reload and a copy.
    ledger = MinuteLedger.from_state(json.loads(json.dumps(ledger.to_state()))).copy()
    assert (
        ledger.rollover(
            JANUARY.end + timedelta(minutes=1),
            cap_seconds=500 * MINUTE,
            expires_at=FEBRUARY.end,
            grant_id="rollover:2025-02",
        )
        is None
    )  # a repeat of the renewal's rollover carries nothing now

    after = JANUARY.end + timedelta(days=1)  # past the hold's time-to-live
    assert ledger.expire_holds(after) == ["live"]

    carried = next(g for g in ledger.grants() if g.source is GrantSource.ROLLOVER)
    assert (carried.grant_id, carried.granted, carried.expires_at) == (
        "rollover:2025-02",
        50 * MINUTE,
        FEBRUARY.end,
    )
    assert carried.effective_at == JANUARY.end + timedelta(minutes=1)  # the boundary's
    events = ledger.pull_events()
    assert [type(e) for e in events if not isinstance(e, ReservationExpired)] == [
        MinutesRolledOver,
        MinutesGranted,
    ]
    assert_totals_add_up(ledger)


def test_seconds_given_back_after_the_rollover_grant_expired_expire() -> None:
    ledger = renew_with_a_live_call(500, used=50, held=50)
    late = FEBRUARY.end + timedelta(minutes=1)
    ledger.settle("live", timedelta(minutes=10), late)
    assert rolled_over(ledger) == 0
    assert "pending_rollover" not in ledger.to_state()
    assert ledger.expire(late) == (40 + 100) * MINUTE  # with February's plan minutes
    assert_totals_add_up(ledger)


def test_a_rollover_carries_only_the_ending_period_s_plan_seconds() -> None:
    """January's seconds a call gave back in February had their boundary: March's is not it."""
    ledger = renew_with_a_live_call(50, used=0, held=50)  # the cap is reached at the boundary
    ledger.release("live", JANUARY.end + timedelta(minutes=2))  # 50 back to January's grant
    march = BillingPeriod(FEBRUARY.end, datetime(2025, 4, 1, tzinfo=UTC))

    carried = ledger.rollover(
        FEBRUARY.end, cap_seconds=500 * MINUTE, expires_at=march.end, grant_id="rollover:2025-03"
    )

    assert carried is not None
    assert carried.granted == 100 * MINUTE  # February's plan seconds, not January's
    assert_totals_add_up(ledger)


def test_no_rollover_policy_carries_nothing() -> None:
    ledger = pro_ledger()
    state = ledger.to_state()

    assert ledger.rollover(JANUARY.end, cap_seconds=None, expires_at=None, grant_id="r") is None
    assert ledger.to_state() == state


def test_an_exhausted_grant_is_pruned_when_the_period_ends_and_totals_stay_exact() -> None:
    ledger = pro_ledger(plan_minutes=1)
    ledger.settle("call-1", timedelta(minutes=2), at(1))
    before = ledger.totals()

    ledger.open_period(FEBRUARY, FEBRUARY.start)

    assert ledger.grants() == ()
    assert ledger.totals() == before
    # A late replay of the pruned grant is still recognised.
    state = ledger.to_state()
    again = ledger.grant("plan:2025-01", GrantSource.PLAN, 60, T0, expires_at=JANUARY.end)
    assert (again.remaining, again.consumed) == (0, 60)
    assert ledger.to_state() == state


def test_events_carry_the_account_and_the_time_of_the_call() -> None:
    ledger = MinuteLedger("acct-7", LedgerPolicy())
    ledger.grant("g", GrantSource.PROMOTIONAL, 60, at(1))

    (event,) = ledger.pull_events()

    assert isinstance(event, MinutesGranted)
    assert (event.account_id, event.occurred_at, event.name) == ("acct-7", at(1), "MinutesGranted")
    assert event.grant.granted == 60


def test_usage_records_round_trip_through_plain_data() -> None:
    ledger = pro_ledger(LedgerPolicy(overage=OveragePolicy.bill_in_arrears(inr("1.5"))), 1)
    record = ledger.settle("call-1", timedelta(seconds=100, microseconds=7), at(1), tags={"x", "y"})

    state = json.loads(json.dumps(record.to_state()))

    assert UsageRecord.from_state(state) == record


def test_the_ledger_round_trips_through_json_mid_call() -> None:
    ledger = pro_ledger(LedgerPolicy(overage=OveragePolicy.charge_wallet(inr(3))), 2)
    ledger.grant("promo", GrantSource.PROMOTIONAL, 90, at(1), effective_at=at(2))
    ledger.reserve("call-1", 600, at(2))
    ledger.reserve("call-2", 30, at(3))
    ledger.release("call-2", at(3))
    ledger.settle("call-3", timedelta(minutes=1), at(3))

    state = ledger.to_state()
    copy = MinuteLedger.from_state(json.loads(json.dumps(state)))

    assert copy.to_state() == state
    assert copy.snapshot(at(4)) == ledger.snapshot(at(4))
    assert copy.settle("call-1", timedelta(minutes=5), at(4)) == ledger.settle(
        "call-1", timedelta(minutes=5), at(4)
    )
    assert copy.to_state() == ledger.to_state()


def inr(amount: str | int) -> Money:
    return Money(Decimal(amount), "INR")


def test_a_call_whose_hold_expired_can_be_released_or_settled_but_not_both() -> None:
    ledger = pro_ledger(LedgerPolicy(hold_ttl=timedelta(hours=1)))
    ledger.reserve("never-connected", 600, at(1))
    ledger.reserve("connected", 600, at(1))
    ledger.expire_holds(at(1, minutes=60))

    ledger.release("never-connected", at(1, minutes=61))
    ledger.settle("connected", timedelta(minutes=2), at(1, minutes=61))

    with pytest.raises(InvalidTransition):
        ledger.settle("never-connected", timedelta(minutes=2), at(1, minutes=62))
    with pytest.raises(InvalidTransition):
        ledger.release("connected", at(1, minutes=62))
    released = [e for e in ledger.pull_events() if isinstance(e, ReservationReleased)]
    assert [(e.call_id, e.seconds) for e in released] == [("never-connected", 0)]


def test_what_the_ledger_remembers_of_ended_calls_and_grants_is_bounded() -> None:
    ledger = pro_ledger(plan_minutes=1)
    for i in range(CLOSED_CALLS_KEPT + 10):
        ledger.reserve(f"call-{i}", 1, at(1))
        ledger.release(f"call-{i}", at(1))
    for i in range(PRUNED_GRANTS_KEPT + 5):
        ledger.grant(f"promo-{i}", GrantSource.PROMOTIONAL, 60, at(2), expires_at=at(3))
    ledger.expire(JANUARY.end)
    ledger.open_period(FEBRUARY, FEBRUARY.start)

    state = ledger.to_state()

    assert len(state["closed_calls"]) == CLOSED_CALLS_KEPT
    assert state["closed_calls"][-1] == [f"call-{CLOSED_CALLS_KEPT + 9}", "released"]
    assert len(state["pruned_grants"]) == PRUNED_GRANTS_KEPT
    assert state["grants"] == []
    totals = ledger.totals()
    assert totals.granted == 60 + 60 * (PRUNED_GRANTS_KEPT + 5)
    assert totals.granted == totals.consumed + totals.expired
