"""Renewal: fresh plan minutes each period, past due and grace, rollover, month ends and DST."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minutebill import BillingInterval, BillingPeriod, Money, Plan, PlanFeatures
from minutebill.domain.grants import GrantSource
from minutebill.domain.ledger import MinuteLedger, MinutesGranted
from minutebill.domain.subscription_events import (
    PlanChanged,
    SubscriptionExpired,
    SubscriptionPastDue,
    SubscriptionRenewed,
    SubscriptionStarted,
)
from minutebill.domain.subscriptions import (
    PaymentOutcome,
    RenewalResult,
    RolloverPolicy,
    Subscription,
    SubscriptionStatus,
)
from minutebill.errors import InvalidTransition, ValidationError
from minutebill.testing.strategies import aware_datetimes

PAID = PaymentOutcome.SUCCEEDED
FAILED = PaymentOutcome.FAILED
KOLKATA = ZoneInfo("Asia/Kolkata")
NEW_YORK = ZoneInfo("America/New_York")


def plan(code: str, price: str, minutes: int, *, months: int = 1) -> Plan:
    return Plan(
        code=code,
        name=code.title(),
        price=Money(price, "INR"),
        interval=BillingInterval(months),
        included_minutes=minutes,
        features=PlanFeatures(concurrent_calls=2, phone_numbers=1),
    )


STARTER = plan("starter", "1999.00", 1000)
PRO = plan("pro", "7999.00", 5000)


def subscribe(
    at: datetime, p: Plan = STARTER, tz: str = "Asia/Kolkata", **kwargs: object
) -> tuple[Subscription, MinuteLedger]:
    ledger = MinuteLedger("acme")
    sub = Subscription.start("acme", p, at, ledger=ledger, timezone=tz, **kwargs)  # type: ignore[arg-type]
    return sub, ledger


def status(sub: Subscription) -> SubscriptionStatus:
    return sub.status


def pictures(sub: Subscription, ledger: MinuteLedger) -> tuple[object, object]:
    return sub.to_state(), ledger.to_state()


def local_days(sub: Subscription, ledger: MinuteLedger, zone: ZoneInfo, n: int) -> list[str]:
    """Renew `n` times at each due date; the local start of every period, as text."""
    starts = [sub.current_period.start]
    for _ in range(n):
        assert sub.renew(sub.current_period.end, PAID, ledger) is RenewalResult.RENEWED
        starts.append(sub.current_period.start)
    return [s.astimezone(zone).strftime("%Y-%m-%d %H:%M") for s in starts]


# --- the ordinary renewal -------------------------------------------------------------------


def test_a_paid_renewal_opens_the_next_period_with_fresh_plan_minutes() -> None:
    sub, ledger = subscribe(datetime(2025, 1, 10, tzinfo=KOLKATA))
    ledger.reserve("call-1", 600, datetime(2025, 1, 11, tzinfo=KOLKATA))
    ledger.settle("call-1", timedelta(minutes=10), datetime(2025, 1, 11, 0, 10, tzinfo=KOLKATA))
    sub.pull_events()
    due = sub.current_period.end
    assert sub.renewal_due(due)
    assert not sub.renewal_due(due - timedelta(seconds=1))
    assert sub.renew(due, PAID, ledger) is RenewalResult.RENEWED
    assert sub.period_index == 1
    assert sub.current_period == BillingPeriod(due, datetime(2025, 3, 10, tzinfo=KOLKATA))
    snapshot = ledger.snapshot(due)
    assert snapshot.period == sub.current_period
    assert snapshot.total_seconds == snapshot.remaining_seconds == 60_000  # no carry-over
    assert "plan:acme:0" not in {g.grant_id for g in ledger.grants()}  # used up and pruned
    totals = ledger.totals()
    assert (totals.consumed, totals.expired) == (600, 60_000 - 600)
    [event] = sub.pull_events()
    assert isinstance(event, SubscriptionRenewed)
    assert event.period_index == 1
    assert event.granted_seconds == 60_000
    assert event.rolled_over_seconds == 0


def test_renewing_the_same_period_twice_changes_nothing_and_grants_nothing_twice() -> None:
    sub, ledger = subscribe(datetime(2025, 1, 10, tzinfo=KOLKATA))
    due = sub.current_period.end
    sub.renew(due, PAID, ledger)
    sub.pull_events()
    ledger.pull_events()
    before = pictures(sub, ledger)
    for at in (due, due + timedelta(days=3), sub.current_period.end - timedelta(seconds=1)):
        assert sub.renew(at, PAID, ledger) is RenewalResult.NOT_DUE
        assert sub.renew(at, FAILED, ledger) is RenewalResult.NOT_DUE
    assert pictures(sub, ledger) == before
    assert sub.pull_events() == []
    assert ledger.pull_events() == []


def test_renewal_before_the_due_date_does_nothing() -> None:
    sub, ledger = subscribe(datetime(2025, 1, 10, tzinfo=KOLKATA))
    before = pictures(sub, ledger)
    assert sub.renew(datetime(2025, 2, 9, tzinfo=KOLKATA), PAID, ledger) is RenewalResult.NOT_DUE
    assert pictures(sub, ledger) == before


# --- month ends, leap days and daylight saving ---------------------------------------------


def test_a_plan_started_on_january_31_renews_on_the_last_day_of_short_months() -> None:
    sub, ledger = subscribe(datetime(2025, 1, 31, tzinfo=KOLKATA))
    assert local_days(sub, ledger, KOLKATA, 4) == [
        "2025-01-31 00:00",
        "2025-02-28 00:00",
        "2025-03-31 00:00",
        "2025-04-30 00:00",
        "2025-05-31 00:00",
    ]
    grant = next(g for g in ledger.grants() if g.grant_id == "plan:acme:4")
    assert grant.effective_at == sub.current_period.start
    assert grant.expires_at == datetime(2025, 6, 30, tzinfo=KOLKATA)


def test_a_plan_started_on_february_29_keeps_its_day_when_the_month_allows() -> None:
    sub, ledger = subscribe(datetime(2024, 2, 29, 9, 30, tzinfo=KOLKATA))
    days = local_days(sub, ledger, KOLKATA, 12)
    assert days[1] == "2024-03-29 09:30"
    assert days[12] == "2025-02-28 09:30"
    yearly = plan("yearly", "19999.00", 12_000, months=12)
    sub, ledger = subscribe(datetime(2024, 2, 29, tzinfo=KOLKATA), yearly)
    assert local_days(sub, ledger, KOLKATA, 4) == [
        "2024-02-29 00:00",
        "2025-02-28 00:00",
        "2026-02-28 00:00",
        "2027-02-28 00:00",
        "2028-02-29 00:00",
    ]


def test_renewal_across_a_dst_change_keeps_local_midnight() -> None:
    sub, ledger = subscribe(datetime(2025, 2, 9, tzinfo=NEW_YORK), tz="America/New_York")
    assert local_days(sub, ledger, NEW_YORK, 2) == [
        "2025-02-09 00:00",
        "2025-03-09 00:00",  # the day clocks spring forward at 02:00
        "2025-04-09 00:00",
    ]
    march = sub.cycle.period(1)
    assert march.duration == timedelta(days=31) - timedelta(hours=1)
    assert march.start.utcoffset() == timedelta(0)
    assert march.start == datetime(2025, 3, 9, 5, tzinfo=UTC)  # EST
    assert march.end == datetime(2025, 4, 9, 4, tzinfo=UTC)  # EDT


def test_an_anchor_inside_the_dst_gap_renews_just_after_it() -> None:
    sub, ledger = subscribe(datetime(2025, 2, 9, 2, 30, tzinfo=NEW_YORK), tz="America/New_York")
    days = local_days(sub, ledger, NEW_YORK, 2)
    assert days == ["2025-02-09 02:30", "2025-03-09 03:30", "2025-04-09 02:30"]


# --- failed payments, grace and expiry ------------------------------------------------------


def test_a_failed_renewal_is_past_due_within_grace_and_paid_late_keeps_the_anchor() -> None:
    sub, ledger = subscribe(datetime(2025, 1, 10, tzinfo=KOLKATA))
    sub.pull_events()
    due = sub.current_period.end
    assert sub.renew(due, FAILED, ledger) is RenewalResult.PAST_DUE
    assert status(sub) is SubscriptionStatus.PAST_DUE
    assert sub.next_billing_at == due  # overdue
    assert sub.expires_at == due + timedelta(days=7)
    assert sub.is_in_service(due + timedelta(days=6))
    assert sub.renewal_due(due + timedelta(days=1))
    [event] = sub.pull_events()
    assert isinstance(event, SubscriptionPastDue)
    assert event.grace_until == due + timedelta(days=7)
    # Failing again within grace changes nothing.
    before = pictures(sub, ledger)
    assert sub.renew(due + timedelta(days=2), FAILED, ledger) is RenewalResult.PAST_DUE
    assert pictures(sub, ledger) == before
    assert sub.pull_events() == []
    # Paid on day 3: the new period still starts at the due date.
    assert sub.renew(due + timedelta(days=3), PAID, ledger) is RenewalResult.RENEWED
    assert status(sub) is SubscriptionStatus.ACTIVE
    assert sub.current_period.start == due
    assert sub.grace_until is None
    assert ledger.snapshot(due + timedelta(days=3)).remaining_seconds == 60_000


def test_a_payment_still_failing_after_grace_expires_the_subscription() -> None:
    sub, ledger = subscribe(datetime(2025, 1, 10, tzinfo=KOLKATA), grace_period=timedelta(days=3))
    due = sub.current_period.end
    sub.renew(due, FAILED, ledger)
    sub.pull_events()
    assert sub.renew(due + timedelta(days=3), FAILED, ledger) is RenewalResult.EXPIRED
    assert status(sub) is SubscriptionStatus.EXPIRED
    assert sub.expires_at == due + timedelta(days=3)
    assert sub.next_billing_at is None
    assert not sub.is_in_service(due + timedelta(days=3))
    [event] = sub.pull_events()
    assert isinstance(event, SubscriptionExpired)
    assert event.reason == "payment_failed"


def test_lapse_expires_a_past_due_subscription_when_grace_ends() -> None:
    sub, ledger = subscribe(datetime(2025, 1, 10, tzinfo=KOLKATA))
    due = sub.current_period.end
    sub.renew(due, FAILED, ledger)
    assert not sub.lapse(due + timedelta(days=7) - timedelta(seconds=1))
    assert sub.lapse(due + timedelta(days=7))
    assert status(sub) is SubscriptionStatus.EXPIRED


def test_a_first_failure_reported_after_the_grace_period_expires_at_once() -> None:
    sub, ledger = subscribe(datetime(2025, 1, 10, tzinfo=KOLKATA))
    due = sub.current_period.end
    assert sub.renew(due + timedelta(days=8), FAILED, ledger) is RenewalResult.EXPIRED
    assert sub.expires_at == due + timedelta(days=7)


def test_a_canceled_subscription_does_not_renew() -> None:
    sub, ledger = subscribe(datetime(2025, 1, 10, tzinfo=KOLKATA))
    sub.cancel(datetime(2025, 1, 12, tzinfo=KOLKATA))
    before = pictures(sub, ledger)
    with pytest.raises(InvalidTransition):
        sub.renew(sub.current_period.end, PAID, ledger)
    assert pictures(sub, ledger) == before


@pytest.mark.parametrize("bad", ["ledger", "outcome", "at"])
def test_bad_renewal_input_is_refused_and_changes_nothing(bad: str) -> None:
    sub, ledger = subscribe(datetime(2025, 1, 10, tzinfo=KOLKATA))
    other = MinuteLedger("someone-else")
    before = pictures(sub, ledger)
    at: datetime = sub.current_period.end
    outcome: object = PAID
    target = ledger
    if bad == "ledger":
        target = other
    elif bad == "outcome":
        outcome = "succeeded"
    else:
        at = at.replace(tzinfo=None)
    with pytest.raises(ValidationError):
        sub.renew(at, outcome, target)  # type: ignore[arg-type]
    assert pictures(sub, ledger) == before
    assert other.to_state() == MinuteLedger("someone-else").to_state()


# --- rollover and scheduled downgrades ------------------------------------------------------


def test_a_rollover_policy_carries_unused_plan_minutes_up_to_its_cap() -> None:
    sub, ledger = subscribe(
        datetime(2025, 1, 10, tzinfo=KOLKATA), rollover=RolloverPolicy.capped(100)
    )
    ledger.reserve("call-1", 60, datetime(2025, 1, 11, tzinfo=KOLKATA))
    ledger.settle("call-1", timedelta(minutes=950), datetime(2025, 1, 12, tzinfo=KOLKATA))
    sub.pull_events()
    due = sub.current_period.end
    sub.renew(due, PAID, ledger)
    [event] = sub.pull_events()
    assert isinstance(event, SubscriptionRenewed)
    assert event.rolled_over_seconds == 50 * 60  # 50 unused minutes, under the cap of 100
    carried = next(g for g in ledger.grants() if g.source is GrantSource.ROLLOVER)
    assert carried.granted == 3000
    assert carried.expires_at == sub.current_period.end
    assert ledger.snapshot(due).remaining_seconds == 60_000 + 3000


def test_the_rollover_cap_limits_what_is_carried() -> None:
    sub, ledger = subscribe(
        datetime(2025, 1, 10, tzinfo=KOLKATA), rollover=RolloverPolicy.capped(100)
    )
    sub.renew(sub.current_period.end, PAID, ledger)
    carried = next(g for g in ledger.grants() if g.source is GrantSource.ROLLOVER)
    assert carried.granted == 100 * 60


def test_a_scheduled_downgrade_takes_effect_at_renewal() -> None:
    sub, ledger = subscribe(datetime(2025, 1, 10, tzinfo=KOLKATA), PRO)
    at = datetime(2025, 1, 20, tzinfo=KOLKATA)
    quote = sub.change_plan(STARTER, at)
    sub.apply_plan_change(quote, at, ledger)
    assert sub.plan == PRO  # the current period is untouched
    assert sub.renewal_plan == STARTER
    sub.pull_events()
    sub.renew(sub.current_period.end, PAID, ledger)
    assert sub.plan == STARTER
    assert sub.scheduled_change is None
    changed, renewed = sub.pull_events()
    assert isinstance(changed, PlanChanged)
    assert (changed.from_plan_code, changed.to_plan_code, changed.kind) == (
        "pro",
        "starter",
        "downgrade",
    )
    assert changed.charge == Money("0.00", "INR")
    assert isinstance(renewed, SubscriptionRenewed)
    assert renewed.granted_seconds == 60_000


def test_a_renewal_paid_after_the_next_period_ended_grants_nothing_for_the_past() -> None:
    sub, ledger = subscribe(datetime(2025, 1, 10, tzinfo=KOLKATA), grace_period=timedelta(days=90))
    late = datetime(2025, 3, 15, tzinfo=KOLKATA)
    sub.renew(late, FAILED, ledger)
    assert sub.renew(late, PAID, ledger) is RenewalResult.RENEWED
    assert sub.period_index == 1
    assert "plan:acme:1" not in {g.grant_id for g in ledger.grants()}
    assert sub.renewal_due(late)
    assert sub.renew(late, PAID, ledger) is RenewalResult.RENEWED
    assert sub.current_period.start == datetime(2025, 3, 10, tzinfo=KOLKATA)
    assert ledger.snapshot(late).remaining_seconds == 60_000


# --- properties -----------------------------------------------------------------------------

renewals = st.lists(
    st.tuples(st.sampled_from([PAID, PAID, FAILED]), st.integers(0, 10 * 86_400)),
    min_size=1,
    max_size=14,
)


@given(
    aware_datetimes(2001, 2080),
    st.sampled_from(["UTC", "Asia/Kolkata", "America/New_York", "Australia/Lord_Howe"]),
    st.sampled_from([1, 3, 12]),
    renewals,
)
def test_periods_tile_time_for_any_anchor_and_any_renewals(
    anchor: datetime, tz: str, months: int, steps: list[tuple[PaymentOutcome, int]]
) -> None:
    ledger = MinuteLedger("acme")
    p = plan(f"p{months}", "100.00", 10, months=months)
    sub = Subscription.start("acme", p, anchor, ledger=ledger, timezone=tz)
    for outcome, delay in steps:
        at = sub.current_period.end + timedelta(seconds=delay)
        result = sub.renew(at, outcome, ledger)
        if result is RenewalResult.RENEWED:
            # Renewing the same period again changes nothing.
            before = (sub.to_state(), ledger.to_state())
            assert sub.renew(at, PAID, ledger) is RenewalResult.NOT_DUE
            assert (sub.to_state(), ledger.to_state()) == before
        if result is RenewalResult.EXPIRED:
            break
    periods = [
        BillingPeriod(e.period_start, e.period_end)
        for e in sub.pull_events()
        if isinstance(e, SubscriptionStarted | SubscriptionRenewed)
    ]
    grants = [
        (e.grant.effective_at, e.grant.expires_at)
        for e in ledger.pull_events()
        if isinstance(e, MinutesGranted) and e.grant.source is GrantSource.PLAN
    ]
    assert periods[0].start == sub.cycle.anchor
    for n, (earlier, later) in enumerate(itertools.pairwise(periods)):
        assert earlier.end == later.start  # no gap, no overlap
        assert later == sub.cycle.period(n + 1)
    assert len(periods) == sub.period_index + 1
    assert grants == [(q.start, q.end) for q in periods[: len(grants)]]
    assert len({start for start, _ in grants}) == len(grants)  # never granted twice
