"""Properties of the views' formatting: exact figures survive, in every locale and time zone."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel.numbers import format_decimal, parse_decimal
from hypothesis import given
from hypothesis import strategies as st

from minutebill import Money, UsageTotals
from minutebill._formatting import (
    format_minutes,
    format_money,
    format_relative,
    format_used_percent,
)
from minutebill.testing.strategies import aware_datetimes
from minutebill.views import UsageSummary
from tests.unit.test_views import overview

LOCALES = ["en_IN", "en_US", "hi_IN", "de_DE", "fr_FR", "ja_JP", "ta_IN", "ar_EG"]
ZONES = ["Asia/Kolkata", "UTC", "America/New_York", "Pacific/Chatham", "Asia/Kathmandu"]
percents = st.decimals(min_value=0, max_value=999, places=2)


@given(percents)
def test_the_used_percent_is_shown_exactly_with_two_decimals(percent: Decimal) -> None:
    text = format_used_percent(percent, "en_IN")
    assert text.endswith("%")
    number = text.removesuffix("%")
    assert len(number.split(".")[1]) == 2
    assert parse_decimal(number, locale="en_IN") == percent


@given(st.decimals(min_value=0, max_value=10**9, places=2))
def test_rupees_round_trip_through_indian_grouping(amount: Decimal) -> None:
    text = format_money(Money(amount, "INR"), "en_IN")
    assert text.startswith("₹")
    assert parse_decimal(text.removeprefix("₹"), locale="en_IN", strict=True) == amount


@given(
    as_of=aware_datetimes(min_year=2000, max_year=2090),
    days=st.integers(min_value=-1000, max_value=1000).filter(bool),
    tz=st.sampled_from(ZONES),
)
def test_relative_days_count_local_calendar_days(as_of: datetime, days: int, tz: str) -> None:
    local = as_of.astimezone(ZoneInfo(tz))
    noon = datetime(local.year, local.month, local.day, 12, tzinfo=ZoneInfo(tz))
    target = noon + timedelta(days=days)
    unit = "day" if abs(days) == 1 else "days"
    expected = f"in {days} {unit}" if days > 0 else f"{-days} {unit} ago"
    assert format_relative(target, as_of, tz, "en") == expected


@given(
    minutes=st.integers(min_value=0, max_value=10**15),
    hundredths=st.integers(min_value=0, max_value=99),
    locale=st.sampled_from(LOCALES),
)
def test_minutes_are_the_locales_own_decimal_format(
    minutes: int, hundredths: int, locale: str
) -> None:
    assert format_minutes(Decimal(minutes), locale) == format_decimal(minutes, locale=locale)
    fractional = Decimal(minutes) + Decimal(hundredths).scaleb(-2)
    assert format_minutes(fractional, locale) == format_decimal(fractional, locale=locale)


SAME_DAY_TEXT = re.compile(r"^(in \d+ (hour|minute|second)s?|\d+ (hour|minute|second)s? ago)$")


@given(
    as_of=aware_datetimes(min_year=2000, max_year=2090),
    offset=st.integers(min_value=0, max_value=10**12),
    tz=st.sampled_from([*ZONES, "America/Los_Angeles", "Australia/Lord_Howe"]),
)
def test_two_instants_on_the_same_local_day_are_never_days_apart(
    as_of: datetime, offset: int, tz: str
) -> None:
    zone = ZoneInfo(tz)
    local = as_of.astimezone(zone)
    start = datetime(local.year, local.month, local.day, tzinfo=zone).astimezone(UTC)
    end = (
        datetime(local.year, local.month, local.day, tzinfo=zone) + timedelta(days=1)
    ).astimezone(UTC)
    length = (end - start) // timedelta(microseconds=1)
    target = start + timedelta(microseconds=offset % length)  # anywhere in as_of's local day
    assert target.astimezone(zone).date() == local.date()
    for a, b in ((target, as_of), (as_of, target)):
        assert SAME_DAY_TEXT.match(format_relative(a, b, tz, "en")), format_relative(a, b, tz, "en")


@given(
    as_of=aware_datetimes(min_year=2000, max_year=2090),
    locale=st.sampled_from(LOCALES),
    tz=st.sampled_from(ZONES),
    percent=percents,
)
def test_every_locale_and_zone_formats_the_whole_overview(
    as_of: datetime, locale: str, tz: str, percent: Decimal
) -> None:
    view = overview(as_of=as_of, timezone=tz, used_percent=percent)
    text = view.format(locale)
    assert all(isinstance(value, str) for value in text.values())
    assert text["used_label"] == f"{text['used_percent']} Used"
    assert text["plan"] == "Pro"


totals = st.builds(
    UsageTotals,
    calls=st.integers(min_value=1, max_value=10_000),
    billable_seconds=st.integers(min_value=0, max_value=10**7),
    overage_seconds=st.integers(min_value=0, max_value=10**6),
)


@given(
    by_day=st.dictionaries(st.dates(date(2024, 1, 1), date(2024, 12, 31)), totals, max_size=40),
    by_tag=st.dictionaries(st.text(min_size=1, max_size=12), totals, max_size=20),
)
def test_summary_totals_are_the_days_sums_in_order(
    by_day: dict[date, UsageTotals], by_tag: dict[str, UsageTotals]
) -> None:
    summary = UsageSummary.build(
        "acme",
        timezone="Asia/Kolkata",
        since=date(2024, 1, 1),
        until=date(2025, 1, 1),
        by_day=list(by_day.items()),
        by_tag=by_tag,
        as_of=datetime.fromisoformat("2025-01-01T00:00:00+00:00"),
    )
    assert summary.calls == sum(t.calls for t in by_day.values())
    assert summary.billable_seconds == sum(t.billable_seconds for t in by_day.values())
    assert summary.overage_seconds == sum(t.overage_seconds for t in by_day.values())
    assert [d.day for d in summary.days] == sorted(by_day)
    keys = [(-t.billable_seconds, t.tag) for t in summary.tags]
    assert keys == sorted(keys)
    assert {t.tag for t in summary.tags} == set(by_tag)
    assert len(summary.format("en_IN")["days"]) == len(by_day)
