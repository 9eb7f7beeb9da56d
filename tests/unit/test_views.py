"""The billing page's views: the overview, number rows and usage, as a locale writes them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from attrs import evolve

from minutebill import Capability, Money, UsageRecord, UsageTotals, ValidationError
from minutebill._formatting import format_relative
from minutebill.views import (
    CallText,
    DayText,
    NumberText,
    NumberView,
    OverviewText,
    PlanOverview,
    TagText,
    UsageSummary,
    UsageText,
    usage_chart_svg,
)

AS_OF = datetime(2024, 5, 28, 6, 30, tzinfo=UTC)  # 12:00 in Kolkata


def overview(**changes: Any) -> PlanOverview:
    """The spec's example account: Pro, 1,381 of 5,300 minutes used."""
    base = PlanOverview(
        account_id="acme",
        plan_code="pro",
        plan_name="Pro",
        status="active",
        timezone="Asia/Kolkata",
        total_minutes=Decimal("5300.00"),
        remaining_minutes=Decimal("3919.00"),
        used_minutes=Decimal("1381.00"),
        held_minutes=Decimal("0.00"),
        used_percent=Decimal("26.06"),
        overage_minutes=Decimal("0.00"),
        period_start=datetime(2024, 5, 1, 3, 30, tzinfo=UTC),
        period_end=datetime(2024, 6, 1, 3, 30, tzinfo=UTC),
        next_billing_at=datetime(2024, 6, 1, 3, 30, tzinfo=UTC),
        expires_at=datetime(2024, 6, 1, 3, 30, tzinfo=UTC),
        wallet_balance=Money("150000.00", "INR"),
        concurrent_calls=10,
        phone_numbers=5,
        queue_priority=5,
        as_of=AS_OF,
    )
    return evolve(base, **changes)


def number(**changes: Any) -> NumberView:
    base = NumberView(
        number_e164="+918040001234",
        country="IN",
        kind="local",
        capabilities=frozenset({Capability.VOICE, Capability.SMS}),
        status="active",
        auto_pay=True,
        has_mandate=False,
        recurring_fee=Money("500.00", "INR"),
        paid_through=datetime(2024, 6, 10, 3, 30, tzinfo=UTC),
        hold_reason=None,
        release_after=None,
        as_of=AS_OF,
    )
    return evolve(base, **changes)


# --- the plan overview -----------------------------------------------------------------------


def test_the_overview_reads_like_the_billing_page() -> None:
    text = overview().format("en_IN")
    assert text["plan"] == "Pro"
    assert text["status"] == "Active"
    assert text["total_minutes"] == "5,300"
    assert text["remaining_minutes"] == "3,919"
    assert text["used_percent"] == "26.06%"
    assert text["used_label"] == "26.06% Used"
    assert text["next_billing"] == "1 Jun 2024"
    assert text["plan_expiry"] == "1 Jun 2024"
    assert text["renewal_note"] == "renews in 4 days"
    assert text["concurrent_calls"] == "10"


def test_money_uses_indian_grouping_in_en_in() -> None:
    assert overview().format("en_IN")["wallet_balance"] == "₹1,50,000.00"
    assert overview().format("en_US")["wallet_balance"] == "₹150,000.00"


def test_other_locales_write_numbers_their_own_way() -> None:
    text = overview().format("de_DE")
    assert text["used_percent"] == "26,06\xa0%"
    assert text["total_minutes"] == "5.300"
    assert text["wallet_balance"] == "150.000,00\xa0₹"
    assert text["next_billing"] == "01.06.2024"
    assert text["renewal_note"] == "renews in 4 Tagen"


BIG = {
    "total_minutes": Decimal("150000.00"),
    "used_minutes": Decimal("120000.00"),
    "remaining_minutes": Decimal("30000.00"),
}


@pytest.mark.parametrize(
    ("locale", "total", "used"),
    [
        ("en_IN", "1,50,000", "1,20,000"),
        ("hi_IN", "1,50,000", "1,20,000"),
        ("en_US", "150,000", "120,000"),
        ("de_DE", "150.000", "120.000"),
    ],
)
def test_minute_figures_use_the_locales_own_grouping(locale: str, total: str, used: str) -> None:
    text = overview(**BIG).format(locale)
    assert (text["total_minutes"], text["used_minutes"]) == (total, used)


def test_fractional_minutes_keep_up_to_two_decimals_in_the_locales_grouping() -> None:
    view = overview(used_minutes=Decimal("100000.25"), remaining_minutes=Decimal("12.50"))
    assert view.format("en_IN")["used_minutes"] == "1,00,000.25"
    assert view.format("en_IN")["remaining_minutes"] == "12.5"
    assert view.format("de_DE")["used_minutes"] == "100.000,25"


def test_the_used_percent_always_has_two_decimals() -> None:
    assert overview(used_percent=Decimal("7.00")).format("en_IN")["used_percent"] == "7.00%"
    assert overview(used_percent=Decimal("100.00")).format("en_IN")["used_percent"] == "100.00%"


def test_dates_are_shown_in_the_accounts_time_zone() -> None:
    late_utc = datetime(2024, 5, 31, 20, 0, tzinfo=UTC)  # 1 June in Kolkata, 31 May in New York
    kolkata = overview(next_billing_at=late_utc)
    new_york = overview(next_billing_at=late_utc, timezone="America/New_York")
    assert kolkata.format("en_IN")["next_billing"] == "1 Jun 2024"
    assert new_york.format("en_IN")["next_billing"] == "31 May 2024"
    assert kolkata.format("en_IN")["as_of"].startswith("28 May 2024, 12:00")  # CLDR: pm or PM


def test_relative_times_count_from_as_of_never_from_the_clock() -> None:
    renewal = datetime(2024, 6, 1, 3, 30, tzinfo=UTC)
    three_days_before = overview(as_of=renewal - timedelta(days=3))
    assert three_days_before.format("en_IN")["renewal_note"] == "renews in 3 days"
    assert three_days_before.format("en_IN")["next_billing_relative"] == "in 3 days"
    a_year_before = overview(as_of=renewal - timedelta(days=366))
    assert a_year_before.format("en_IN")["renewal_note"] == "renews in 366 days"


def test_relative_days_are_calendar_days_in_the_accounts_zone() -> None:
    renewal = datetime(2024, 6, 1, 3, 30, tzinfo=UTC)  # 09:00 on 1 June in Kolkata
    evening_before = overview(as_of=datetime(2024, 5, 31, 16, 0, tzinfo=UTC))  # 21:30, 31 May
    same_morning = overview(as_of=renewal - timedelta(hours=3))
    assert evening_before.format("en_IN")["next_billing_relative"] == "in 1 day"
    assert same_morning.format("en_IN")["next_billing_relative"] == "in 3 hours"


# 2 Dec 2026 in Kolkata runs from 1 Dec 18:30 to 2 Dec 18:30 UTC.
KOLKATA_MIDNIGHT = datetime(2026, 12, 1, 18, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("locale", "ahead", "behind"),
    [
        ("en_IN", "in 22 hours", "22 hours ago"),
        ("hi_IN", "22 घंटे में", "22 घंटे पहले"),
        ("de_DE", "in 22 Stunden", "vor 22 Stunden"),
    ],
)
def test_later_the_same_local_day_is_hours_away_not_a_day(
    locale: str, ahead: str, behind: str
) -> None:
    # 00:30 to 22:00 is 21½ hours, which Babel rounds to the nearest hour, as it always does.
    half_past_midnight = KOLKATA_MIDNIGHT + timedelta(minutes=30)
    ten_at_night = KOLKATA_MIDNIGHT + timedelta(hours=22)
    assert format_relative(ten_at_night, half_past_midnight, "Asia/Kolkata", locale) == ahead
    assert format_relative(half_past_midnight, ten_at_night, "Asia/Kolkata", locale) == behind
    nine_at_night = KOLKATA_MIDNIGHT + timedelta(hours=21)
    assert format_relative(nine_at_night, KOLKATA_MIDNIGHT, "Asia/Kolkata", "en_IN") == (
        "in 21 hours"
    )


def test_local_midnight_starts_the_next_day() -> None:
    tz = "Asia/Kolkata"
    last_minute = KOLKATA_MIDNIGHT + timedelta(days=1, minutes=-1)  # 23:59 on 2 Dec
    assert format_relative(last_minute, KOLKATA_MIDNIGHT, tz, "en_IN") == "in 24 hours"
    next_midnight = KOLKATA_MIDNIGHT + timedelta(days=1)
    assert format_relative(next_midnight, KOLKATA_MIDNIGHT, tz, "en_IN") == "in 1 day"
    assert format_relative(next_midnight, last_minute, tz, "en_IN") == "in 1 day"
    assert format_relative(KOLKATA_MIDNIGHT, last_minute, tz, "en_IN") == "24 hours ago"


def test_a_25_hour_local_day_is_still_told_in_hours() -> None:
    # New York leaves daylight saving on 1 Nov 2026: that local day lasts 25 hours.
    just_after_midnight = datetime(2026, 11, 1, 4, 5, tzinfo=UTC)  # 00:05 EDT
    just_before_midnight = datetime(2026, 11, 2, 4, 55, tzinfo=UTC)  # 23:55 EST
    text = format_relative(just_before_midnight, just_after_midnight, "America/New_York", "en")
    assert text == "in 25 hours"


def test_within_the_hour_minutes_and_seconds_are_used() -> None:
    tz = "Asia/Kolkata"
    start = KOLKATA_MIDNIGHT + timedelta(hours=9)
    assert format_relative(start + timedelta(minutes=45), start, tz, "en") == "in 45 minutes"
    assert format_relative(start + timedelta(minutes=59, seconds=40), start, tz, "en") == (
        "in 1 hour"
    )
    assert format_relative(start - timedelta(seconds=20), start, tz, "en") == "20 seconds ago"


@pytest.mark.parametrize(
    ("status", "note"),
    [
        ("canceled", "ends in 4 days"),
        ("past_due", "payment due; service ends in 4 days"),
        ("active", "renews in 4 days"),
    ],
)
def test_the_renewal_note_says_what_happens_next(status: str, note: str) -> None:
    assert overview(status=status).format("en_IN")["renewal_note"] == note


def test_dates_in_the_past_are_told_in_the_past_tense() -> None:
    later = AS_OF + timedelta(days=6)  # the renewal on 1 June has not been run yet
    assert overview(as_of=later).format("en_IN")["renewal_note"] == "renewal due 2 days ago"
    ended = overview(status="canceled", as_of=later).format("en_IN")
    assert ended["renewal_note"] == "ended 2 days ago"


def test_an_expired_plan_says_how_long_ago() -> None:
    ended = overview(
        status="expired",
        next_billing_at=None,
        expires_at=AS_OF - timedelta(days=2),
    ).format("en_IN")
    assert ended["renewal_note"] == "expired 2 days ago"
    assert ended["next_billing"] == "—"
    assert ended["next_billing_relative"] == ""
    assert ended["status"] == "Expired"


def test_the_formatted_overview_has_every_documented_key() -> None:
    assert set(overview().format("en_IN")) == set(OverviewText.__annotations__)


@pytest.mark.parametrize("tag", ["en-IN", "hi-IN", "en-US", "de-DE"])
def test_a_bcp_47_language_tag_formats_as_its_cldr_locale(tag: str) -> None:
    """``en-IN`` (as browsers and ``Accept-Language`` write it) used to raise a bare
    `ValueError` from Babel; it reads as ``en_IN``."""
    cldr = tag.replace("-", "_")
    assert overview().format(tag) == overview().format(cldr)
    assert number().format(tag, "Asia/Kolkata") == number().format(cldr, "Asia/Kolkata")
    assert usage().format(tag) == usage().format(cldr)
    assert usage_chart_svg(overview(), locale=tag) == usage_chart_svg(overview(), locale=cldr)


@pytest.mark.parametrize("bad", ["xx_YY", "", "en_", None, 42, "../en"])
def test_an_unknown_locale_is_refused_with_a_validation_error_naming_it(bad: Any) -> None:
    """Babel's own `UnknownLocaleError`, `ValueError` or `TypeError` used to escape."""
    formats: list[Callable[[], object]] = [
        lambda: overview().format(bad),
        lambda: number().format(bad, "Asia/Kolkata"),
        lambda: usage().format(bad),
        lambda: usage_chart_svg(overview(), locale=bad),
    ]
    for call in formats:
        with pytest.raises(ValidationError) as refused:
            call()
        assert (refused.value.field, refused.value.value) == ("locale", bad)


def test_formatting_is_repeatable() -> None:
    view = overview()
    assert view.format("en_IN") == view.format("en_IN")
    assert view.format("hi_IN")["next_billing_relative"] == "4 दिन में"


# --- numbers ---------------------------------------------------------------------------------


def test_an_active_number_row() -> None:
    text = number().format("en_IN", timezone="Asia/Kolkata")
    assert text == NumberText(
        number="+918040001234",
        country="India",
        kind="Local",
        capabilities="SMS, Voice",
        status="Active",
        status_note="paid through 10 Jun 2024",
        auto_pay="Active",
        recurring_fee="₹500.00 per month",
        paid_through="10 Jun 2024",
        paid_through_relative="in 13 days",
        hold_reason="",
        release_after="",
        release_after_relative="",
    )
    assert number().can_release


def test_a_held_number_says_why_and_when_it_goes_back() -> None:
    held = number(
        status="on_hold",
        auto_pay=False,
        hold_reason="insufficient_credit",
        paid_through=AS_OF - timedelta(days=2),
        release_after=AS_OF + timedelta(days=5),
    )
    text = held.format("en_IN", timezone="Asia/Kolkata")
    assert text["status"] == "On Hold"
    assert text["auto_pay"] == "Off"
    assert text["hold_reason"] == "Insufficient credit"
    assert text["status_note"] == "Insufficient credit; released in 5 days"
    assert text["release_after"] == "2 Jun 2024"
    assert text["paid_through_relative"] == "2 days ago"


def test_a_released_number_offers_no_release_button() -> None:
    released = number(status="released", auto_pay=False)
    assert not released.can_release
    assert released.format("en_IN")["status"] == "Released"
    assert released.format("en_IN")["status_note"] == "Returned to the provider"


def test_a_quarterly_fee_says_so_in_the_locale() -> None:
    quarterly = number(recurring_fee=Money("1500.00", "INR"), interval_months=3)
    assert quarterly.format("en_IN")["recurring_fee"] == "₹1,500.00 per 3 months"
    assert number().format("de_DE")["recurring_fee"] == "500,00\xa0₹ pro Monat"


# --- usage -----------------------------------------------------------------------------------


def totals(calls: int, billable: int, overage: int = 0) -> UsageTotals:
    return UsageTotals(calls=calls, billable_seconds=billable, overage_seconds=overage)


def record(call_id: str, started: datetime, seconds: float, billable: int) -> UsageRecord:
    return UsageRecord(
        account_id="acme",
        call_id=call_id,
        started_at=started,
        settled_at=started + timedelta(seconds=seconds),
        duration=timedelta(seconds=seconds),
        billable_seconds=billable,
        debits=(),
        overage_seconds=billable,
        overage_charge=None,
        tags=frozenset({"summer-sale", "agent-7"}),
    )


def usage() -> UsageSummary:
    return UsageSummary.build(
        "acme",
        timezone="Asia/Kolkata",
        since=date(2024, 5, 1),
        until=date(2024, 5, 4),
        by_day=[(date(2024, 5, 3), totals(2, 600, 60)), (date(2024, 5, 1), totals(1, 300))],
        by_tag={"renewals": totals(1, 300), "summer-sale": totals(2, 600, 60), "b": totals(1, 300)},
        as_of=AS_OF,
        recent=[record("c-2", datetime(2024, 5, 3, 4, 30, tzinfo=UTC), 247.2, 300)],
        next_cursor="cursor-1",
    )


def test_usage_days_come_oldest_first_and_tags_most_billed_first() -> None:
    summary = usage()
    assert [d.day for d in summary.days] == [date(2024, 5, 1), date(2024, 5, 3)]
    assert [t.tag for t in summary.tags] == ["summer-sale", "b", "renewals"]
    assert (summary.calls, summary.billable_seconds, summary.overage_seconds) == (3, 900, 60)
    assert summary.days[1].billable_minutes == Decimal("10.00")
    assert [t.billable_minutes for t in summary.tags] == [Decimal("10.00"), Decimal(5), Decimal(5)]


def test_a_call_length_rounds_up_to_whole_seconds_and_tags_are_sorted() -> None:
    (call,) = usage().recent
    assert call.duration_seconds == 248
    assert call.tags == ("agent-7", "summer-sale")


def test_the_usage_tab_as_text() -> None:
    text = usage().format("en_IN")
    assert text["range"] == "1 May 2024 – 3 May 2024"
    assert (text["calls"], text["billed"], text["overage"]) == ("3", "15 mins", "1 min")
    assert text["days"][0] == DayText(
        day="1 May 2024", calls="1", billed="5 mins", overage="0 mins"
    )
    assert text["tags"][0] == TagText(
        tag="summer-sale", calls="2", billed="10 mins", overage="1 min"
    )
    started = text["recent"][0]["started_at"]
    assert started.startswith("3 May 2024, 10:00")  # 04:30 UTC is 10:00 in Kolkata
    assert text["recent"] == [
        CallText(
            call_id="c-2",
            started_at=started,
            duration="4:08",
            billed="5 mins",
            overage="5 mins",
            tags="agent-7, summer-sale",
        )
    ]
    assert set(text) == set(UsageText.__annotations__)


def test_billed_minutes_keep_seconds_under_per_second_rating() -> None:
    summary = evolve(usage(), days=(), tags=(), recent=())
    one = UsageSummary.build(
        "acme",
        timezone="UTC",
        since=date(2024, 5, 1),
        until=date(2024, 5, 2),
        by_day=[(date(2024, 5, 1), totals(1, 90))],
        by_tag={},
        as_of=AS_OF,
    )
    assert one.format("en_IN")["billed"] == "1.5 mins"
    assert summary.format("en_IN")["days"] == []
