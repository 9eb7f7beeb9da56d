"""The *Usage* tab's JSON form."""

from __future__ import annotations

from datetime import date

from pydantic import AwareDatetime

from minutebill.view_schemas._base import ViewModel
from minutebill.views import CallUsage, DailyUsage, TagUsage, UsageSummary

__all__ = [
    "CallTextSchema",
    "CallUsageSchema",
    "DailyUsageSchema",
    "DayTextSchema",
    "TagTextSchema",
    "TagUsageSchema",
    "UsageSummarySchema",
    "UsageTextSchema",
]


class DailyUsageSchema(ViewModel):
    """Usage on one local day."""

    day: date
    calls: int
    billable_seconds: int
    overage_seconds: int

    @classmethod
    def from_view(cls, row: DailyUsage) -> DailyUsageSchema:
        """The JSON form of `row`."""
        return cls(
            day=row.day,
            calls=row.calls,
            billable_seconds=row.billable_seconds,
            overage_seconds=row.overage_seconds,
        )


class TagUsageSchema(ViewModel):
    """Usage of one tag."""

    tag: str
    calls: int
    billable_seconds: int
    overage_seconds: int

    @classmethod
    def from_view(cls, row: TagUsage) -> TagUsageSchema:
        """The JSON form of `row`."""
        return cls(
            tag=row.tag,
            calls=row.calls,
            billable_seconds=row.billable_seconds,
            overage_seconds=row.overage_seconds,
        )


class CallUsageSchema(ViewModel):
    """One settled call."""

    call_id: str
    started_at: AwareDatetime
    duration_seconds: int
    billable_seconds: int
    overage_seconds: int
    tags: list[str]

    @classmethod
    def from_view(cls, row: CallUsage) -> CallUsageSchema:
        """The JSON form of `row`."""
        return cls(
            call_id=row.call_id,
            started_at=row.started_at,
            duration_seconds=row.duration_seconds,
            billable_seconds=row.billable_seconds,
            overage_seconds=row.overage_seconds,
            tags=list(row.tags),
        )


class DayTextSchema(ViewModel):
    """One day as display text."""

    day: str
    calls: str
    billed: str
    overage: str


class TagTextSchema(ViewModel):
    """One tag as display text."""

    tag: str
    calls: str
    billed: str
    overage: str


class CallTextSchema(ViewModel):
    """One call as display text."""

    call_id: str
    started_at: str
    duration: str
    billed: str
    overage: str
    tags: str


class UsageTextSchema(ViewModel):
    """`UsageSummary.format` in JSON."""

    range: str
    calls: str
    billed: str
    overage: str
    days: list[DayTextSchema]
    tags: list[TagTextSchema]
    recent: list[CallTextSchema]


class UsageSummarySchema(ViewModel):
    """The Usage tab: per day, per tag, the latest calls, and the totals."""

    account_id: str
    timezone: str
    since: date
    until: date
    days: list[DailyUsageSchema]
    tags: list[TagUsageSchema]
    recent: list[CallUsageSchema]
    next_cursor: str | None
    calls: int
    billable_seconds: int
    overage_seconds: int
    as_of: AwareDatetime
    formatted: UsageTextSchema | None = None

    @classmethod
    def from_view(cls, view: UsageSummary, *, locale: str | None = None) -> UsageSummarySchema:
        """The JSON form of `view`."""
        return cls(
            account_id=view.account_id,
            timezone=view.timezone,
            since=view.since,
            until=view.until,
            days=[DailyUsageSchema.from_view(d) for d in view.days],
            tags=[TagUsageSchema.from_view(t) for t in view.tags],
            recent=[CallUsageSchema.from_view(c) for c in view.recent],
            next_cursor=view.next_cursor,
            calls=view.calls,
            billable_seconds=view.billable_seconds,
            overage_seconds=view.overage_seconds,
            as_of=view.as_of,
            formatted=None
            if locale is None
            else UsageTextSchema.model_validate(view.format(locale)),
        )
