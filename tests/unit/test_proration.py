"""Proration and plan-change quotes: one exact fraction for money and minutes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from attrs import evolve
from hypothesis import assume, given
from hypothesis import strategies as st

from minutebill import (
    BillingCycle,
    BillingIncrement,
    BillingInterval,
    BillingPeriod,
    Money,
    OveragePolicy,
    Plan,
    PlanFeatures,
    TaxPolicy,
)
from minutebill.domain.proration import (
    PlanChangeKind,
    PlanChangeQuote,
    Proration,
    ProrationPolicy,
    plan_from_state,
    plan_to_state,
    quote_plan_change,
)
from minutebill.errors import ValidationError
from minutebill.testing.strategies import aware_datetimes, billing_increments

ZONES = ["UTC", "Asia/Kolkata", "America/New_York", "Europe/London", "Australia/Lord_Howe"]


def plan(
    code: str,
    price: str,
    minutes: int,
    *,
    currency: str = "INR",
    concurrent: int = 2,
    priority: int = 0,
    months: int = 1,
) -> Plan:
    return Plan(
        code=code,
        name=code.title(),
        price=Money(price, currency),
        interval=BillingInterval(months),
        included_minutes=minutes,
        features=PlanFeatures(
            concurrent_calls=concurrent, phone_numbers=1, queue_priority=priority
        ),
    )


STARTER = plan("starter", "1999.00", 1000)
PRO = plan("pro", "7999.00", 5000, concurrent=10, priority=5)
FEB = BillingPeriod(datetime(2025, 2, 1, tzinfo=UTC), datetime(2025, 3, 1, tzinfo=UTC))


def quote(current: Plan, new: Plan, at: datetime, **kwargs: object) -> PlanChangeQuote:
    args: dict[str, object] = {
        "account_id": "acme",
        "period_index": 0,
        "period": FEB,
        "current": current,
        "new": new,
        "at": at,
        "policy": ProrationPolicy.BY_SECOND,
    }
    args.update(kwargs)
    return quote_plan_change(**args)  # type: ignore[arg-type]


# --- worked numbers -------------------------------------------------------------------------


def test_an_upgrade_halfway_through_february_charges_half_the_difference() -> None:
    q = quote(STARTER, PRO, datetime(2025, 2, 15, tzinfo=UTC))
    assert q.kind is PlanChangeKind.UPGRADE
    assert q.proration == Proration(14 * 86_400, 28 * 86_400)
    assert q.price_difference == Money("6000.00", "INR")  # a whole period's
    assert q.charge == Money("3000.00", "INR")  # (7999 - 1999) × 14/28
    assert q.granted_seconds == 4000 * 60 // 2  # 4,000 extra minutes × 14/28
    assert q.effective_at == q.priced_at
    assert q.valid_until == q.priced_at + timedelta(minutes=30)


GST = TaxPolicy.india_gst("0.18", supplier_state="KA", customer_state="KA")
GST_INCLUDED = TaxPolicy.india_gst("0.18", supplier_state="KA", customer_state="KA", inclusive=True)


@pytest.mark.parametrize(
    ("tax", "shown_tax", "total"),
    [
        (None, "0.00", "3000.00"),
        (TaxPolicy.none(), "0.00", "3000.00"),
        (GST, "540.00", "3540.00"),  # added on top of the charge
        (GST_INCLUDED, "457.63", "3000.00"),  # 3,000 × 0.18 / 1.18, inside the charge
    ],
)
def test_a_quote_states_the_tax_on_its_charge_and_the_total_it_takes(
    tax: TaxPolicy | None, shown_tax: str, total: str
) -> None:
    q = quote(STARTER, PRO, datetime(2025, 2, 15, tzinfo=UTC), tax=tax)
    assert q.charge == Money("3000.00", "INR")
    assert q.tax == Money(shown_tax, "INR")
    assert q.total == Money(total, "INR")
    assert q.tax_included is (tax is GST_INCLUDED)


def test_a_downgrade_under_a_tax_policy_takes_nothing() -> None:
    q = quote(PRO, STARTER, datetime(2025, 2, 15, tzinfo=UTC), tax=GST)
    assert q.charge == q.tax == q.total == Money("0.00", "INR")


def test_a_quote_stored_before_quotes_carried_tax_reads_back_without_tax() -> None:
    state = quote(STARTER, PRO, datetime(2025, 2, 15, tzinfo=UTC), tax=GST).to_state()
    del state["tax"], state["tax_included"]
    old = PlanChangeQuote.from_state(state)
    assert old.tax == Money("0.00", "INR")
    assert old.total == old.charge == Money("3000.00", "INR")


def test_a_quote_refuses_a_tax_in_another_currency_or_above_an_inclusive_charge() -> None:
    q = quote(STARTER, PRO, datetime(2025, 2, 15, tzinfo=UTC), tax=GST_INCLUDED)
    with pytest.raises(ValidationError, match="USD"):
        evolve(q, tax=Money("1.00", "USD"))
    with pytest.raises(ValidationError, match="out of range"):
        evolve(q, tax=Money("3000.01", "INR"))
    with pytest.raises(ValidationError, match="TaxPolicy"):
        quote(STARTER, PRO, datetime(2025, 2, 15, tzinfo=UTC), tax="gst")


def test_by_day_counts_the_day_of_the_change_as_left() -> None:
    at = datetime(2025, 2, 15, 18, 30, tzinfo=UTC)
    q = quote(STARTER, PRO, at, policy=ProrationPolicy.BY_DAY)
    assert q.proration == Proration(14, 28, ProrationPolicy.BY_DAY)
    assert q.charge == Money("3000.00", "INR")
    by_second = quote(STARTER, PRO, at)
    assert by_second.charge < q.charge


def test_no_proration_switches_features_now_and_prices_from_the_next_period() -> None:
    q = quote(STARTER, PRO, datetime(2025, 2, 10, tzinfo=UTC), policy=ProrationPolicy.NONE)
    assert q.kind is PlanChangeKind.UPGRADE
    assert q.charge == Money("0.00", "INR")
    assert q.granted_seconds == 0


def test_a_downgrade_charges_nothing_and_waits_for_the_period_end() -> None:
    q = quote(PRO, STARTER, datetime(2025, 2, 10, tzinfo=UTC))
    assert q.kind is PlanChangeKind.DOWNGRADE
    assert q.charge == Money("0.00", "INR")
    assert q.granted_seconds == 0
    assert q.effective_at == FEB.end


def test_an_upgrade_in_the_last_second_of_a_period_costs_a_rounding_error() -> None:
    last = FEB.end - timedelta(seconds=1)
    q = quote(STARTER, PRO, last)
    assert q.proration == Proration(1, 28 * 86_400)
    assert q.charge == Money("0.00", "INR")  # 6000 / 2,419,200 = 0.0025 rounds to 0.00
    assert q.granted_seconds == 0  # 240,000 s / 2,419,200 = 0.099 s
    assert q.valid_until == FEB.end
    assert quote(STARTER, PRO, last, policy=ProrationPolicy.BY_DAY).charge == Money(
        "214.29", "INR"
    )  # the last day counts: 6000 / 28


def test_the_same_price_with_more_minutes_is_an_upgrade_and_fewer_a_downgrade() -> None:
    more = plan("more", "1999.00", 1500)
    fewer = plan("fewer", "1999.00", 500)
    at = datetime(2025, 2, 15, tzinfo=UTC)
    assert quote(STARTER, more, at).kind is PlanChangeKind.UPGRADE
    assert quote(STARTER, more, at).charge == Money("0.00", "INR")
    assert quote(STARTER, more, at).granted_seconds == 500 * 60 // 2
    assert quote(STARTER, fewer, at).kind is PlanChangeKind.DOWNGRADE


def test_money_is_rounded_half_up_once_from_minor_units() -> None:
    assert Proration(1, 6).money(Money("100.00", "INR")) == Money("16.67", "INR")
    assert Proration(1, 2).money(Money("0.05", "INR")) == Money("0.03", "INR")
    assert Proration(1, 2).money(Money("0.03", "INR")) == Money("0.02", "INR")
    assert Proration(1, 3).money(Money("1000", "JPY")) == Money("333", "JPY")
    assert Proration(1, 2).money(Money("-0.05", "INR")) == Money("-0.03", "INR")
    assert Proration(1, 2).seconds(3) == 2
    assert Proration(1, 3).seconds(1) == 0


def test_days_are_counted_on_the_local_wall_clock_across_a_dst_change() -> None:
    new_york = ZoneInfo("America/New_York")
    cycle = BillingCycle(
        datetime(2025, 3, 1, tzinfo=new_york), BillingInterval.monthly(), "America/New_York"
    )
    march = cycle.period(0)  # 31 days, one of them 23 hours long
    assert march.duration == timedelta(days=31) - timedelta(hours=1)
    at = datetime(2025, 3, 10, 12, tzinfo=new_york)  # the day after the change
    fraction = Proration.of(march, at, policy=ProrationPolicy.BY_DAY, timezone="America/New_York")
    assert fraction == Proration(22, 31, ProrationPolicy.BY_DAY)


IST = ZoneInfo("Asia/Kolkata")
# Anchored at 22:00 local: the period runs Feb 1 22:00 to Mar 1 22:00 and touches 29 dates.
LATE_FEB = BillingCycle(
    datetime(2025, 2, 1, 22, tzinfo=IST), BillingInterval.monthly(), "Asia/Kolkata"
).period(0)


def by_day(period: BillingPeriod, at: datetime, timezone: str = "Asia/Kolkata") -> Proration:
    return Proration.of(period, at, policy=ProrationPolicy.BY_DAY, timezone=timezone)


@pytest.mark.parametrize(
    ("at", "left"),
    [
        (datetime(2025, 2, 1, 22, 0, tzinfo=IST), 29),  # the start: the whole period
        (datetime(2025, 2, 1, 23, 59, tzinfo=IST), 29),  # the first date counts as left
        (datetime(2025, 2, 2, 0, 0, tzinfo=IST), 28),
        (datetime(2025, 2, 15, 0, 0, tzinfo=IST), 15),
        (datetime(2025, 2, 15, 8, 0, tzinfo=IST), 15),  # before the anchor's time of day
        (datetime(2025, 2, 15, 23, 0, tzinfo=IST), 15),  # after it: the same day, the same
        (datetime(2025, 2, 28, 23, 59, 59, tzinfo=IST), 2),
        (datetime(2025, 3, 1, 0, 0, tzinfo=IST), 1),  # the last date of the period
        (datetime(2025, 3, 1, 21, 59, 59, tzinfo=IST), 1),
        (datetime(2025, 3, 1, 22, 0, tzinfo=IST), 0),  # the end
    ],
)
def test_by_day_counts_local_dates_when_the_anchor_is_not_at_midnight(
    at: datetime, left: int
) -> None:
    assert by_day(LATE_FEB, at) == Proration(left, 29, ProrationPolicy.BY_DAY)


def test_by_day_leaves_one_day_all_through_the_last_day_of_the_period() -> None:
    last_day = [datetime(2025, 2, 28, h, m, tzinfo=UTC) for h, m in [(0, 0), (12, 0), (23, 59)]]
    assert {Proration.of(FEB, at, policy=ProrationPolicy.BY_DAY) for at in last_day} == {
        Proration(1, 28, ProrationPolicy.BY_DAY)
    }


def test_by_day_gives_the_day_of_a_dst_change_one_fraction_all_day() -> None:
    new_york = ZoneInfo("America/New_York")
    cycle = BillingCycle(
        datetime(2025, 2, 20, 22, tzinfo=new_york), BillingInterval.monthly(), "America/New_York"
    )
    period = cycle.period(0)  # Feb 20 22:00 to Mar 20 22:00, across the change on Mar 9
    change_day = [
        datetime(2025, 3, 9, 0, 30, tzinfo=new_york),
        datetime(2025, 3, 9, 3, 30, tzinfo=new_york),  # just after the clocks went forward
        datetime(2025, 3, 9, 23, 30, tzinfo=new_york),
    ]
    fractions = {by_day(period, at, "America/New_York") for at in change_day}
    assert fractions == {Proration(12, 29, ProrationPolicy.BY_DAY)}  # Mar 9 to Mar 20


@pytest.mark.parametrize(
    ("new", "kwargs", "field"),
    [
        (STARTER, {}, "new_plan"),
        (plan("usd", "99.00", 5000, currency="USD"), {}, "new_plan"),
        (plan("yearly", "79999.00", 60000, months=12), {}, "new_plan"),
        (PRO, {"at": FEB.start - timedelta(seconds=1)}, "at"),
        (PRO, {"at": FEB.end + timedelta(seconds=1)}, "at"),
        (PRO, {"valid_for": timedelta(0)}, "valid_for"),
    ],
)
def test_a_quote_is_refused_for_bad_input(new: Plan, kwargs: dict[str, object], field: str) -> None:
    at = kwargs.pop("at", datetime(2025, 2, 15, tzinfo=UTC))
    with pytest.raises(ValidationError) as error:
        quote(STARTER, new, at, **kwargs)  # type: ignore[arg-type]
    assert error.value.field == field


@pytest.mark.parametrize(("remaining", "total"), [(2, 1), (-1, 5), (0, 0), (True, 2)])
def test_a_fraction_stays_within_the_period(remaining: int, total: int) -> None:
    with pytest.raises(ValidationError):
        Proration(remaining, total)


# --- properties -----------------------------------------------------------------------------

# Any character a store can keep in text: not NUL, not a lone surrogate.
storable_characters = st.characters(codec="utf-8", exclude_characters="\x00")


def plans(currency: str = "INR") -> st.SearchStrategy[Plan]:
    """Plans priced in `currency` (monthly); shrinks towards a free plan without minutes."""
    overage = st.one_of(
        st.just(OveragePolicy.block()),
        st.integers(1, 10_000).map(
            lambda units: OveragePolicy.charge_wallet(Money.from_minor_units(units, currency))
        ),
    )
    return st.builds(
        Plan,
        code=st.text("abcdefghij", min_size=1, max_size=6),
        name=st.text(storable_characters, min_size=1, max_size=12).filter(str.strip),
        price=st.integers(0, 10**8).map(lambda u: Money.from_minor_units(u, currency)),
        interval=st.just(BillingInterval.monthly()),
        included_minutes=st.integers(0, 100_000),
        features=st.builds(
            PlanFeatures,
            concurrent_calls=st.integers(1, 50),
            phone_numbers=st.integers(0, 50),
            queue_priority=st.integers(0, 10),
            overage=overage,
            rating=billing_increments(),
        ),
    )


@st.composite
def periods_and_instants(draw: st.DrawFn) -> tuple[BillingPeriod, datetime, str]:
    tz = draw(st.sampled_from(ZONES))
    cycle = BillingCycle(draw(aware_datetimes(2000, 2090)), BillingInterval.monthly(), tz)
    period = cycle.period(draw(st.integers(0, 40)))
    offset = draw(st.integers(0, int(period.duration.total_seconds())))
    return period, period.start + timedelta(seconds=offset), tz


policies = st.sampled_from(list(ProrationPolicy))


@given(periods_and_instants(), policies)
def test_a_fraction_is_whole_at_the_start_and_empty_at_the_end(
    where: tuple[BillingPeriod, datetime, str], policy: ProrationPolicy
) -> None:
    period, at, tz = where
    fraction = Proration.of(period, at, policy=policy, timezone=tz)
    assert 0 <= fraction.remaining <= fraction.total
    assert Proration.of(period, period.end, policy=policy, timezone=tz).remaining == 0
    start = Proration.of(period, period.start, policy=policy, timezone=tz)
    assert start.is_whole == (policy is not ProrationPolicy.NONE)
    later = Proration.of(period, at + timedelta(hours=7), policy=policy, timezone=tz)
    assert later.remaining * fraction.total <= fraction.remaining * later.total  # never grows


@given(periods_and_instants(), st.integers(0, 24 * 3600 - 1))
def test_by_day_gives_every_instant_of_a_local_day_the_same_fraction(
    where: tuple[BillingPeriod, datetime, str], second_of_day: int
) -> None:
    period, at, tz = where
    local = at.astimezone(ZoneInfo(tz))
    midnight = datetime.combine(local.date(), datetime.min.time(), tzinfo=ZoneInfo(tz))
    other = (midnight + timedelta(seconds=second_of_day)).astimezone(UTC)
    # Wall-clock arithmetic, then back to UTC: on a DST day it may land on the next date.
    assume(other.astimezone(ZoneInfo(tz)).date() == local.date())
    assume(period.start < at < period.end and period.start < other < period.end)
    fraction = by_day(period, at, tz)
    assert by_day(period, other, tz) == fraction
    assert 1 <= fraction.remaining <= fraction.total


@given(plans(), plans(), periods_and_instants(), policies)
def test_an_upgrade_charges_between_zero_and_the_difference_with_one_fraction(
    a: Plan, b: Plan, where: tuple[BillingPeriod, datetime, str], policy: ProrationPolicy
) -> None:
    period, at, tz = where
    current, new = (a, b) if a.price <= b.price else (b, a)
    new = Plan(
        new.code + "x", new.name, new.price, new.interval, new.included_minutes, new.features
    )
    q = quote(current, new, at, period=period, policy=policy, timezone=tz)
    if q.kind is PlanChangeKind.DOWNGRADE:
        return  # same price, fewer minutes
    difference = new.price - current.price
    extra = max(new.included_seconds - current.included_seconds, 0)
    assert Money.zero("INR") <= q.charge <= difference
    assert q.charge.is_rounded()
    # The same fraction for money and minutes, each rounded half up once.
    f = q.proration
    assert q.charge == f.money(difference)
    assert q.granted_seconds == f.seconds(extra)
    exact = Decimal(f.remaining) / Decimal(f.total)
    assert abs(q.charge.amount - difference.amount * exact) <= Decimal("0.005")
    assert abs(Decimal(q.granted_seconds) - extra * exact) <= Decimal("0.5")
    at_end = quote(current, new, period.end, period=period, policy=policy, timezone=tz)
    assert at_end.charge == Money.zero("INR")
    assert at_end.granted_seconds == 0


@given(plans(), plans(), periods_and_instants())
def test_a_downgrade_never_touches_the_current_period(
    a: Plan, b: Plan, where: tuple[BillingPeriod, datetime, str]
) -> None:
    period, at, tz = where
    current, new = (a, b) if a.price > b.price else (b, a)
    new = Plan(
        new.code + "x", new.name, new.price, new.interval, new.included_minutes, new.features
    )
    q = quote(current, new, at, period=period, timezone=tz)
    if q.kind is PlanChangeKind.UPGRADE:
        return  # same price, at least as many minutes
    assert q.charge == Money.zero("INR")
    assert q.granted_seconds == 0
    assert q.effective_at == period.end


@given(plans())
def test_a_plan_round_trips_through_its_state(p: Plan) -> None:
    state = plan_to_state(p)
    assert json.loads(json.dumps(state)) == state
    assert plan_from_state(state) == p


@given(
    plans(),
    plans(),
    periods_and_instants(),
    policies,
    st.sampled_from([None, TaxPolicy.none(), GST, GST_INCLUDED]),
)
def test_a_quote_round_trips_through_its_state(
    a: Plan,
    b: Plan,
    where: tuple[BillingPeriod, datetime, str],
    policy: ProrationPolicy,
    tax: TaxPolicy | None,
) -> None:
    period, at, tz = where
    b = Plan(b.code + "x", b.name, b.price, b.interval, b.included_minutes, b.features)
    q = quote(a, b, at, period=period, policy=policy, timezone=tz, tax=tax)
    state = q.to_state()
    assert json.loads(json.dumps(state)) == state
    assert PlanChangeQuote.from_state(state) == q


def test_the_rating_survives_the_plan_codec() -> None:
    p = Plan(
        "x",
        "X",
        Money("1.00", "INR"),
        BillingInterval.monthly(),
        1,
        PlanFeatures(1, 0, rating=BillingIncrement(60, 6, 30)),
    )
    assert plan_from_state(plan_to_state(p)).features.rating == BillingIncrement(60, 6, 30)
