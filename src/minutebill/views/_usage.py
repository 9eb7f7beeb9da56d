"""The *Usage* tab: totals per local day and per tag, and the latest settled calls."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import TypedDict

from attrs import frozen

from minutebill._formatting import (
    format_billed_minutes,
    format_clock_duration,
    format_count,
    format_local_date,
    format_moment,
    locale_id,
)
from minutebill._unit_of_work import UsageTotals
from minutebill.domain.usage import UsageRecord
from minutebill.views._units import to_minutes

__all__ = [
    "CallText",
    "CallUsage",
    "DailyUsage",
    "DayText",
    "TagText",
    "TagUsage",
    "UsageSummary",
    "UsageText",
]


@frozen(kw_only=True)
class DailyUsage:
    """Usage on one local day of the account.

    Attributes:
        day: The day in the account's time zone.
        calls: Calls settled that day.
        billable_seconds: Seconds billed for them.
        overage_seconds: Of those, seconds no grant covered.
    """

    day: date
    calls: int
    billable_seconds: int
    overage_seconds: int

    @property
    def billable_minutes(self) -> Decimal:
        """Billed minutes, two places."""
        return to_minutes(self.billable_seconds)


@frozen(kw_only=True)
class TagUsage:
    """Usage of one tag (a campaign, an agent) over the summary's days.

    Attributes:
        tag: The tag the host put on its calls.
        calls: Calls carrying it.
        billable_seconds: Seconds billed for them.
        overage_seconds: Of those, seconds no grant covered.
    """

    tag: str
    calls: int
    billable_seconds: int
    overage_seconds: int

    @property
    def billable_minutes(self) -> Decimal:
        """Billed minutes, two places."""
        return to_minutes(self.billable_seconds)


@frozen(kw_only=True)
class CallUsage:
    """One settled call of the *Usage* tab's history.

    Attributes:
        call_id: The host's id of the call.
        started_at: When it started.
        duration_seconds: How long it lasted (whole seconds, rounded up).
        billable_seconds: What it was billed after rating.
        overage_seconds: Of those, seconds no grant covered.
        tags: Its tags, sorted.
    """

    call_id: str
    started_at: datetime
    duration_seconds: int
    billable_seconds: int
    overage_seconds: int
    tags: tuple[str, ...]

    @classmethod
    def build(cls, record: UsageRecord) -> CallUsage:
        """The history row of a settled call."""
        whole, fraction = divmod(record.duration.total_seconds(), 1)
        return cls(
            call_id=record.call_id,
            started_at=record.started_at,
            duration_seconds=int(whole) + (1 if fraction else 0),
            billable_seconds=record.billable_seconds,
            overage_seconds=record.overage_seconds,
            tags=tuple(sorted(record.tags)),
        )


class DayText(TypedDict):
    """One day of `UsageText`."""

    day: str
    calls: str
    billed: str
    overage: str


class TagText(TypedDict):
    """One tag of `UsageText`."""

    tag: str
    calls: str
    billed: str
    overage: str


class CallText(TypedDict):
    """One call of `UsageText`."""

    call_id: str
    started_at: str
    duration: str
    billed: str
    overage: str
    tags: str


class UsageText(TypedDict):
    """`UsageSummary.format`: the *Usage* tab as display text."""

    range: str
    calls: str
    billed: str
    overage: str
    days: list[DayText]
    tags: list[TagText]
    recent: list[CallText]


@frozen(kw_only=True)
class UsageSummary:
    """The *Usage* tab: totals per local day and per tag, and the latest calls.

    A call with several tags counts under each, and calls without tags under none, so the tag
    totals need not add up to the day totals; the day totals are the account's.

    Attributes:
        account_id: The account.
        timezone: The account's time zone, which the days are in.
        since: The first day covered.
        until: The day after the last one covered.
        days: Days with calls, oldest first (days without calls are left out).
        tags: Tags with calls, most billed first.
        recent: The latest settled calls, newest first (may be empty).
        next_cursor: Where the history continues (`Billing.usage_history`), if it does.
        as_of: The instant the summary is for.
    """

    account_id: str
    timezone: str
    since: date
    until: date
    days: tuple[DailyUsage, ...]
    tags: tuple[TagUsage, ...]
    recent: tuple[CallUsage, ...] = ()
    next_cursor: str | None = None
    as_of: datetime

    @classmethod
    def build(
        cls,
        account_id: str,
        *,
        timezone: str,
        since: date,
        until: date,
        by_day: Iterable[tuple[date, UsageTotals]],
        by_tag: Mapping[str, UsageTotals],
        as_of: datetime,
        recent: Iterable[UsageRecord] = (),
        next_cursor: str | None = None,
    ) -> UsageSummary:
        """The summary from `Billing.usage_by_day`, `usage_by_tag` and `usage_history`."""
        days = sorted(
            (
                DailyUsage(
                    day=day,
                    calls=t.calls,
                    billable_seconds=t.billable_seconds,
                    overage_seconds=t.overage_seconds,
                )
                for day, t in by_day
            ),
            key=lambda d: d.day,
        )
        tags = sorted(
            (
                TagUsage(
                    tag=tag,
                    calls=t.calls,
                    billable_seconds=t.billable_seconds,
                    overage_seconds=t.overage_seconds,
                )
                for tag, t in by_tag.items()
            ),
            key=lambda t: (-t.billable_seconds, t.tag),
        )
        return cls(
            account_id=account_id,
            timezone=timezone,
            since=since,
            until=until,
            days=tuple(days),
            tags=tuple(tags),
            recent=tuple(CallUsage.build(r) for r in recent),
            next_cursor=next_cursor,
            as_of=as_of,
        )

    @property
    def calls(self) -> int:
        """Calls over all days."""
        return sum(d.calls for d in self.days)

    @property
    def billable_seconds(self) -> int:
        """Seconds billed over all days."""
        return sum(d.billable_seconds for d in self.days)

    @property
    def overage_seconds(self) -> int:
        """Overage seconds over all days."""
        return sum(d.overage_seconds for d in self.days)

    def format(self, locale: str) -> UsageText:
        """The tab as `locale` writes it; call times in the account's time zone."""
        locale = locale_id(locale)
        billed = format_billed_minutes

        def row(calls: int, billable: int, overage: int) -> tuple[str, str, str]:
            return format_count(calls, locale), billed(billable, locale), billed(overage, locale)

        days: list[DayText] = []
        for d in self.days:
            calls, bill, over = row(d.calls, d.billable_seconds, d.overage_seconds)
            days.append(
                DayText(
                    day=format_local_date(d.day, locale), calls=calls, billed=bill, overage=over
                )
            )
        tags: list[TagText] = []
        for t in self.tags:
            calls, bill, over = row(t.calls, t.billable_seconds, t.overage_seconds)
            tags.append(TagText(tag=t.tag, calls=calls, billed=bill, overage=over))
        recent = [
            CallText(
                call_id=c.call_id,
                started_at=format_moment(c.started_at, self.timezone, locale),
                duration=format_clock_duration(c.duration_seconds),
                billed=billed(c.billable_seconds, locale),
                overage=billed(c.overage_seconds, locale),
                tags=", ".join(c.tags),
            )
            for c in self.recent
        ]
        last = date.fromordinal(max(self.until.toordinal() - 1, self.since.toordinal()))
        calls, bill, over = row(self.calls, self.billable_seconds, self.overage_seconds)
        return UsageText(
            range=f"{format_local_date(self.since, locale)} – {format_local_date(last, locale)}",
            calls=calls,
            billed=bill,
            overage=over,
            days=days,
            tags=tags,
            recent=recent,
        )
