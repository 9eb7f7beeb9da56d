"""Billing periods: boundaries from the anchor, in the account's time zone, across DST."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from attrs import frozen
from dateutil.relativedelta import relativedelta
from hypothesis import given
from hypothesis import strategies as st

from minutebill import BillingCycle, BillingInterval, BillingPeriod, ValidationError
from minutebill.domain.periods import require_aware, to_utc, zone

IST = ZoneInfo("Asia/Kolkata")
NEW_YORK = ZoneInfo("America/New_York")

# --- strategies -------------------------------------------------------------------------------


@frozen
class Case:
    """A cycle and the period number a property looks at (n and n + 1 stay within 1200 months)."""

    cycle: BillingCycle
    n: int

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.cycle.timezone)

    @property
    def local_anchor(self) -> datetime:
        return self.cycle.anchor.astimezone(self.tz)


@st.composite
def anchors(draw: st.DrawFn, key: str) -> datetime:
    """Aware anchors in zone `key`, often on days 28-31, at any wall-clock time and fold."""
    year = draw(st.integers(1970, 2100))
    month = draw(st.integers(1, 12))
    day = min(draw(st.integers(28, 31) | st.integers(1, 31)), calendar.monthrange(year, month)[1])
    hour = draw(st.sampled_from([0, 1, 2, 3]) | st.integers(0, 23))
    wall = datetime(  # noqa: DTZ001 - the zone is attached below
        year,
        month,
        day,
        hour,
        draw(st.sampled_from([0, 30]) | st.integers(0, 59)),
        draw(st.integers(0, 59)),
        draw(st.sampled_from([0]) | st.integers(0, 999_999)),
    )
    return wall.replace(tzinfo=ZoneInfo(key), fold=draw(st.integers(0, 1)))


@st.composite
def cases(draw: st.DrawFn) -> Case:
    """Any zone Hypothesis knows, any anchor, an interval and a period number up to 1200 months."""
    key = draw(st.sampled_from(["America/New_York", "Asia/Kolkata", "UTC"]) | st.timezone_keys())
    months = draw(st.sampled_from([1, 1, 1, 3, 12]) | st.integers(1, 24))
    cycle = BillingCycle(draw(anchors(key)), BillingInterval(months), key)
    last = 1200 // months - 1
    n = draw(st.sampled_from([0, 1, last]) | st.integers(0, last))
    return Case(cycle, n)


def wall_time_is_unambiguous(wall: datetime, tz: ZoneInfo) -> bool:
    """Neither in a DST gap (no such local time) nor in a fold (the local time occurs twice)."""
    return (
        wall.replace(tzinfo=tz, fold=0).utcoffset() == wall.replace(tzinfo=tz, fold=1).utcoffset()
    )


def add_months(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1


def test_an_interval_times_n_is_n_times_its_months() -> None:
    assert BillingInterval.every_months(3).times(4) == relativedelta(months=12)
    assert BillingInterval.yearly().times(0) == relativedelta()
    anchor = datetime(2024, 1, 31, tzinfo=UTC)
    assert anchor + BillingInterval.monthly().times(1) == datetime(2024, 2, 29, tzinfo=UTC)


# --- properties -------------------------------------------------------------------------------


@given(cases())
def test_period_n_ends_exactly_where_period_n_plus_1_starts(case: Case) -> None:
    cycle, n = case.cycle, case.n
    this, following = cycle.period(n), cycle.period(n + 1)
    assert this.end == following.start
    assert this.start == cycle.boundary(n)
    assert this.end == cycle.boundary(n + 1)
    assert cycle.boundary(n) < cycle.boundary(n + 1) < cycle.boundary(n + 2)
    assert this.start.tzinfo is UTC
    assert this.end.tzinfo is UTC


@given(cases())
def test_the_local_day_is_the_anchor_day_clamped_to_the_month(case: Case) -> None:
    cycle, n, anchor = case.cycle, case.n, case.local_anchor
    wall = cycle.wall_clock_boundary(n)
    year, month = add_months(anchor.year, anchor.month, n * cycle.interval.months)
    assert (wall.year, wall.month) == (year, month)
    assert wall.day == min(anchor.day, calendar.monthrange(year, month)[1])
    assert wall.time() == anchor.time()
    assert wall.tzinfo is None
    if n == 0:
        assert cycle.boundary(0) == cycle.anchor
    elif wall_time_is_unambiguous(wall, case.tz):
        assert cycle.boundary(n).astimezone(case.tz).replace(tzinfo=None) == wall
    else:
        # In a gap the wall time moves forward by the gap; in a fold it is the first occurrence.
        assert cycle.boundary(n) == wall.replace(tzinfo=case.tz, fold=0).astimezone(UTC)


@given(cases(), st.lists(st.integers(0, 100), max_size=5))
def test_remembered_boundaries_are_the_ones_a_new_cycle_computes(
    case: Case, asked_before: list[int]
) -> None:
    cycle = case.cycle
    for n in asked_before:  # questions that fill the cycle's memory of boundaries
        cycle.period(n)
    fresh = BillingCycle(cycle.anchor, cycle.interval, cycle.timezone)
    assert cycle.boundary(case.n) == fresh.boundary(case.n)
    assert cycle.boundary(case.n) == cycle.boundary(case.n)  # asked again: the same answer
    assert cycle == fresh  # the memory is not part of the value


@given(cases(), st.data())
def test_period_containing_agrees_with_the_sequence(case: Case, data: st.DataObject) -> None:
    cycle, k = case.cycle, case.n
    period = cycle.period(k)
    span = (period.end - period.start) // timedelta(microseconds=1)
    offset = data.draw(st.sampled_from([0, span - 1]) | st.integers(0, span - 1))
    at = period.start + timedelta(microseconds=offset)
    viewer = ZoneInfo(data.draw(st.timezone_keys()))
    for instant in (at, at.astimezone(viewer)):
        assert cycle.index_at(instant) == k
        assert cycle.period_containing(instant) == period
        assert instant in period
    # A boundary belongs to the later period.
    assert cycle.index_at(period.start) == k
    assert cycle.index_at(period.end) == k + 1
    assert cycle.period_containing(period.end) == cycle.period(k + 1)
    assert period.end not in period


@given(cases())
def test_instants_before_the_anchor_are_refused(case: Case) -> None:
    with pytest.raises(ValidationError) as caught:
        case.cycle.index_at(case.cycle.anchor - timedelta(microseconds=1))
    assert caught.value.field == "at"


@given(cases(), st.data())
def test_remaining_fraction_shrinks_from_whole_to_nothing(case: Case, data: st.DataObject) -> None:
    period = case.cycle.period(case.n)
    total = int((period.end - period.start).total_seconds())
    seconds = st.integers(-86_400, total + 86_400)
    early, late = sorted(data.draw(st.tuples(seconds, seconds)))
    left_early, whole = period.remaining_fraction(period.start + timedelta(seconds=early))
    left_late, _ = period.remaining_fraction(period.start + timedelta(seconds=late))
    assert whole == total
    assert 0 <= left_late <= left_early <= whole
    if 0 <= early <= total:
        assert left_early == total - early


# --- named examples ---------------------------------------------------------------------------


def local_dates(cycle: BillingCycle, count: int, tz: ZoneInfo) -> list[date]:
    return [cycle.boundary(n).astimezone(tz).date() for n in range(count)]


def test_a_jan_31_anchor_gives_feb_28_mar_31_apr_30() -> None:
    cycle = BillingCycle(
        datetime(2023, 1, 31, tzinfo=IST), BillingInterval.monthly(), "Asia/Kolkata"
    )
    assert local_dates(cycle, 5, IST) == [
        date(2023, 1, 31),
        date(2023, 2, 28),
        date(2023, 3, 31),
        date(2023, 4, 30),
        date(2023, 5, 31),
    ]
    assert all(cycle.boundary(n).astimezone(IST).hour == 0 for n in range(5))


def test_in_a_leap_year_the_jan_31_anchor_gives_feb_29() -> None:
    cycle = BillingCycle(datetime(2024, 1, 31, tzinfo=UTC), BillingInterval.monthly())
    assert local_dates(cycle, 4, ZoneInfo("UTC")) == [
        date(2024, 1, 31),
        date(2024, 2, 29),
        date(2024, 3, 31),
        date(2024, 4, 30),
    ]


def test_a_yearly_feb_29_anchor_comes_back_in_leap_years() -> None:
    cycle = BillingCycle(datetime(2024, 2, 29, 9, 30, tzinfo=UTC), BillingInterval.yearly())
    assert local_dates(cycle, 5, ZoneInfo("UTC")) == [
        date(2024, 2, 29),
        date(2025, 2, 28),
        date(2026, 2, 28),
        date(2027, 2, 28),
        date(2028, 2, 29),
    ]


def test_quarterly_periods() -> None:
    cycle = BillingCycle(
        datetime(2025, 1, 15, tzinfo=IST), BillingInterval.every_months(3), "Asia/Kolkata"
    )
    assert local_dates(cycle, 4, IST) == [
        date(2025, 1, 15),
        date(2025, 4, 15),
        date(2025, 7, 15),
        date(2025, 10, 15),
    ]


def test_the_period_containing_a_date_starts_at_local_midnight() -> None:
    cycle = BillingCycle(
        datetime(2025, 1, 1, tzinfo=IST), BillingInterval.monthly(), "Asia/Kolkata"
    )
    period = cycle.period_containing(datetime(2025, 3, 15, 18, 0, tzinfo=IST))
    assert period == BillingPeriod(
        datetime(2025, 3, 1, tzinfo=IST), datetime(2025, 4, 1, tzinfo=IST)
    )
    assert period.start == datetime(2025, 2, 28, 18, 30, tzinfo=UTC)
    assert cycle.index_at(datetime(2025, 3, 31, 23, 59, 59, tzinfo=IST)) == 2
    assert cycle.index_at(datetime(2025, 4, 1, tzinfo=IST)) == 3


def test_a_boundary_in_the_spring_forward_gap_moves_forward_by_the_gap() -> None:
    # 2024-03-10 02:30 does not exist in New York: clocks jump from 02:00 EST to 03:00 EDT.
    cycle = BillingCycle(
        datetime(2024, 1, 10, 2, 30, tzinfo=NEW_YORK), BillingInterval.monthly(), "America/New_York"
    )
    assert cycle.wall_clock_boundary(2) == datetime(2024, 3, 10, 2, 30)  # noqa: DTZ001
    assert cycle.boundary(2) == datetime(2024, 3, 10, 7, 30, tzinfo=UTC)
    assert cycle.boundary(2).astimezone(NEW_YORK).time().isoformat() == "03:30:00"
    assert cycle.boundary(3) == datetime(2024, 4, 10, 6, 30, tzinfo=UTC)  # 02:30 EDT again
    assert cycle.period(1).duration == timedelta(days=29)
    assert cycle.period(2).duration == timedelta(days=31, hours=-1)
    assert cycle.period(1).end == cycle.period(2).start


def test_a_boundary_in_the_fall_back_fold_is_the_first_occurrence() -> None:
    # 2024-11-03 01:30 happens twice in New York (EDT, then EST).
    cycle = BillingCycle(
        datetime(2024, 10, 3, 1, 30, tzinfo=NEW_YORK), BillingInterval.monthly(), "America/New_York"
    )
    assert cycle.boundary(1) == datetime(2024, 11, 3, 5, 30, tzinfo=UTC)


def test_an_anchor_at_the_second_occurrence_of_a_wall_time_starts_period_0() -> None:
    second = datetime(2024, 11, 3, 1, 30, tzinfo=NEW_YORK, fold=1)
    assert second.utcoffset() == timedelta(hours=-5)
    # (An aware datetime in a fold never compares equal across zones, so compare in UTC.)
    instant = second.astimezone(UTC)
    cycle = BillingCycle(second, BillingInterval.monthly(), "America/New_York")
    assert cycle.boundary(0) == instant
    assert cycle.period(0).start == instant
    assert cycle.index_at(instant) == 0
    assert cycle.boundary(1) == datetime(2024, 12, 3, 6, 30, tzinfo=UTC)


def test_an_anchor_in_another_zone_is_read_in_the_account_zone() -> None:
    # 2025-01-31 20:00 in New York is Feb 1, 06:30 in Kolkata: the account day is the 1st.
    cycle = BillingCycle(
        datetime(2025, 1, 31, 20, 0, tzinfo=NEW_YORK), BillingInterval.monthly(), "Asia/Kolkata"
    )
    assert cycle.wall_clock_boundary(1) == datetime(2025, 3, 1, 6, 30)  # noqa: DTZ001
    assert cycle.anchor.tzinfo is UTC


def test_periods_are_half_open_and_stored_in_utc() -> None:
    period = BillingPeriod(datetime(2025, 3, 1, tzinfo=IST), datetime(2025, 4, 1, tzinfo=IST))
    assert period.start.tzinfo is UTC
    assert period.duration == timedelta(days=31)
    assert datetime(2025, 3, 1, tzinfo=IST) in period
    assert datetime(2025, 4, 1, tzinfo=IST) not in period
    assert datetime(2025, 2, 28, 23, 59, tzinfo=IST) not in period
    assert period == BillingPeriod(period.start, period.end)


def test_remaining_fraction_of_a_period() -> None:
    period = BillingPeriod(datetime(2025, 4, 1, tzinfo=UTC), datetime(2025, 5, 1, tzinfo=UTC))
    whole = 30 * 86_400
    assert period.remaining_fraction(datetime(2025, 3, 1, tzinfo=UTC)) == (whole, whole)
    assert period.remaining_fraction(period.start) == (whole, whole)
    assert period.remaining_fraction(datetime(2025, 4, 16, tzinfo=UTC)) == (15 * 86_400, whole)
    assert period.remaining_fraction(period.end) == (0, whole)
    assert period.remaining_fraction(datetime(2026, 1, 1, tzinfo=UTC)) == (0, whole)


def test_intervals() -> None:
    assert BillingInterval.monthly().months == 1
    assert BillingInterval.yearly().months == 12
    assert BillingInterval.every_months(3) == BillingInterval(3)


# --- refused input ----------------------------------------------------------------------------

NAIVE = datetime(2025, 1, 1)  # noqa: DTZ001 - refused on purpose


def test_naive_datetimes_are_refused_everywhere() -> None:
    aware = datetime(2025, 1, 1, tzinfo=UTC)
    cycle = BillingCycle(aware, BillingInterval.monthly())
    with pytest.raises(ValidationError) as caught:
        BillingCycle(NAIVE, BillingInterval.monthly())
    assert caught.value.field == "anchor"
    with pytest.raises(ValidationError) as caught:
        cycle.index_at(NAIVE)
    assert caught.value.field == "at"
    with pytest.raises(ValidationError):
        cycle.period_containing(NAIVE)
    with pytest.raises(ValidationError) as caught:
        BillingPeriod(NAIVE, aware + timedelta(days=1))
    assert caught.value.field == "start"
    with pytest.raises(ValidationError) as caught:
        BillingPeriod(aware, NAIVE + timedelta(days=1))
    assert caught.value.field == "end"
    with pytest.raises(ValidationError):
        NAIVE in BillingPeriod(aware, aware + timedelta(days=1))  # noqa: B015
    with pytest.raises(ValidationError):
        BillingPeriod(aware, aware + timedelta(days=1)).remaining_fraction(NAIVE)
    assert "naive" in str(caught.value)


@pytest.mark.parametrize("value", [NAIVE, date(2025, 1, 1), "2025-01-01T00:00:00Z", None], ids=repr)
def test_require_aware_refuses_naive_and_non_datetimes(value: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        require_aware(value, "when")
    assert caught.value.field == "when"
    assert caught.value.value is value


@pytest.mark.parametrize(
    "edge",
    [
        datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-14))),
        datetime(1, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=5, minutes=30))),
    ],
)
def test_an_aware_datetime_that_has_no_utc_instant_is_refused_by_name(edge: datetime) -> None:
    with pytest.raises(ValidationError, match="occurred_at"):
        to_utc(edge, "occurred_at")


def test_to_utc_converts_aware_datetimes() -> None:
    assert to_utc(datetime(2025, 1, 1, 5, 30, tzinfo=IST)) == datetime(2025, 1, 1, tzinfo=UTC)
    assert to_utc(datetime(2025, 1, 1, 5, 30, tzinfo=IST)).tzinfo is UTC


@pytest.mark.parametrize("delta", [timedelta(0), timedelta(seconds=-1)], ids=str)
def test_a_period_must_end_after_it_starts(delta: timedelta) -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    with pytest.raises(ValidationError) as caught:
        BillingPeriod(start, start + delta)
    assert caught.value.field == "end"


@pytest.mark.parametrize("months", [0, -1, True, 1.5, "1", None], ids=repr)
def test_an_interval_is_a_whole_number_of_months(months: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        BillingInterval(months)
    assert caught.value.field == "months"


@pytest.mark.parametrize("n", [-1, True, 1.0], ids=repr)
def test_periods_are_numbered_from_zero(n: Any) -> None:
    cycle = BillingCycle(datetime(2025, 1, 1, tzinfo=UTC), BillingInterval.monthly())
    with pytest.raises(ValidationError) as caught:
        cycle.boundary(n)
    assert caught.value.field == "n"
    with pytest.raises(ValidationError):
        cycle.period(n)


@pytest.mark.parametrize("name", ["Mars/Olympus", "", "../etc/passwd", 5, None], ids=repr)
def test_unknown_time_zones_are_refused(name: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        zone(name)
    assert caught.value.field == "timezone"
    with pytest.raises(ValidationError):
        BillingCycle(datetime(2025, 1, 1, tzinfo=UTC), BillingInterval.monthly(), name)
