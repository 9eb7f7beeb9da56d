"""Billing intervals, periods and the anchor that generates them.

Every period is computed from the **anchor**, never from the previous period:
``boundary(n) = anchor + n × interval`` in the account's local time (`dateutil.relativedelta`
clamps the day to the month's length). An anchor on Jan 31 gives Feb 28/29, Mar 31, Apr 30 —
no drift, no gap, no overlap, across DST changes. Periods are half-open ``[start, end)`` and
every instant is timezone-aware and returned in UTC.
"""

from __future__ import annotations

from calendar import monthrange
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from attrs import field, frozen
from dateutil.relativedelta import relativedelta

from minutebill.errors import ValidationError

__all__ = [
    "BillingCycle",
    "BillingInterval",
    "BillingPeriod",
    "require_aware",
    "require_day",
    "to_utc",
    "zone",
]


def require_aware(value: datetime, field: str = "at") -> datetime:
    """Return `value` if it is a timezone-aware datetime; refuse naive ones.

    Raises:
        ValidationError: for a naive datetime or a non-datetime.
    """
    if not isinstance(value, datetime):
        raise ValidationError(field, value, "expected a timezone-aware datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(field, value, "naive datetimes are refused; attach a time zone")
    return value


def require_day(value: date, field: str) -> date:
    """Return `value` if it is a calendar day: a `date`, and not a `datetime`.

    A `datetime` is a `date` too, but not a day: which day an instant falls on depends on
    the time zone, and taking its date silently would pick UTC's. It is refused instead;
    pass the day (``instant.astimezone(tz).date()``).

    Raises:
        ValidationError: naming `field`, for a datetime or anything that is not a date.
    """
    if not isinstance(value, date) or isinstance(value, datetime):
        raise ValidationError(field, value, "expected a day (a datetime.date, not a datetime)")
    return value


def to_utc(value: datetime, field: str = "at") -> datetime:
    """`value` (aware) converted to UTC.

    Raises:
        ValidationError: for a naive datetime, a non-datetime, or one whose instant lies
            outside the years 1 to 9999 in UTC (``9999-12-31T23:00-14:00``).
    """
    if type(value) is datetime and value.tzinfo is UTC:  # already UTC: the common case
        return value
    try:
        return require_aware(value, field).astimezone(UTC)
    except OverflowError:
        raise ValidationError(field, value, "outside the years 1 to 9999 in UTC") from None


def zone(name: str) -> ZoneInfo:
    """The IANA time zone `name`.

    Raises:
        ValidationError: if the zone is unknown.
    """
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValidationError("timezone", name, "not an IANA time zone") from None


@frozen
class BillingInterval:
    """How long one billing period lasts, in whole calendar months.

    Use `monthly()`, `yearly()` or `every_months(n)`.
    """

    months: int

    def __attrs_post_init__(self) -> None:
        if isinstance(self.months, bool) or not isinstance(self.months, int) or self.months < 1:
            raise ValidationError("months", self.months, "an interval is a whole number >= 1")

    @classmethod
    def monthly(cls) -> BillingInterval:
        """One calendar month."""
        return cls(1)

    @classmethod
    def yearly(cls) -> BillingInterval:
        """Twelve calendar months."""
        return cls(12)

    @classmethod
    def every_months(cls, months: int) -> BillingInterval:
        """Every `months` calendar months (3 for quarterly)."""
        return cls(months)

    def times(self, n: int) -> relativedelta:
        """The calendar offset of `n` intervals."""
        return relativedelta(months=self.months * n)


@frozen
class BillingPeriod:
    """A half-open span of time ``[start, end)``, both aware and in UTC.

    Raises:
        ValidationError: for naive datetimes or an end not after the start.
    """

    start: datetime
    end: datetime

    def __attrs_post_init__(self) -> None:
        start = to_utc(self.start, "start")
        end = to_utc(self.end, "end")
        if end <= start:
            raise ValidationError("end", self.end, f"must be after start {self.start}")
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)

    def __contains__(self, at: datetime) -> bool:
        return self.start <= require_aware(at) < self.end

    @property
    def duration(self) -> timedelta:
        """The length of the period."""
        return self.end - self.start

    def remaining_fraction(self, at: datetime) -> tuple[int, int]:
        """The part of the period left at `at`, as exact (numerator, denominator) seconds.

        Before the start the whole period remains; at or after the end nothing does.
        """
        at = to_utc(at)
        total = _whole_seconds(self.duration)
        left = _whole_seconds(self.end - min(max(at, self.start), self.end))
        return left, total


_BOUNDARIES_KEPT = 64


def _period_between(start: datetime, end: datetime) -> BillingPeriod:
    """The period between two UTC instants already known to be in order (no checks)."""
    period = object.__new__(BillingPeriod)
    object.__setattr__(period, "start", start)
    object.__setattr__(period, "end", end)
    return period


def _whole_seconds(delta: timedelta) -> int:
    return delta.days * 86_400 + delta.seconds


@frozen
class BillingCycle:
    """The sequence of periods generated by an anchor, an interval and a time zone.

    Boundaries are remembered per cycle once computed (a cycle is immutable, so they never
    change): aggregates ask for the same few boundaries many times while deciding.

    Attributes:
        anchor: The first period's start (aware). Its local wall-clock time in `timezone` is
            kept for every boundary; its day of month is clamped to shorter months.
        interval: The length of each period.
        timezone: The account's IANA time zone, in which boundaries are computed.
    """

    anchor: datetime
    interval: BillingInterval
    timezone: str = "UTC"
    _zone: ZoneInfo = field(init=False, eq=False, repr=False)
    # The anchor's local wall-clock time as (year, month, day, hour, minute, second, µs).
    _local: tuple[int, int, int, int, int, int, int] = field(init=False, eq=False, repr=False)
    _boundaries: dict[int, datetime] = field(init=False, eq=False, repr=False, factory=dict)

    def __attrs_post_init__(self) -> None:
        anchor = to_utc(self.anchor, "anchor")
        tz = zone(self.timezone)
        local = anchor.astimezone(tz)
        object.__setattr__(self, "anchor", anchor)
        object.__setattr__(self, "_zone", tz)
        object.__setattr__(
            self,
            "_local",
            (
                local.year,
                local.month,
                local.day,
                local.hour,
                local.minute,
                local.second,
                local.microsecond,
            ),
        )

    def _wall_clock(self, n: int, tzinfo: ZoneInfo | None) -> datetime:
        """Period `n`'s local start: the anchor's wall-clock time `n` intervals on.

        Whole calendar months, the day clamped to the month's length: what adding
        ``relativedelta(months=...)`` gives, without building one.
        """
        year, month, day, hour, minute, second, micro = self._local
        total = month - 1 + self.interval.months * n
        year, month = year + total // 12, total % 12 + 1
        if day > 28:  # every month has 28 days
            day = min(day, monthrange(year, month)[1])
        return datetime(year, month, day, hour, minute, second, micro, tzinfo)

    def wall_clock_boundary(self, n: int) -> datetime:
        """The local wall-clock time (naive) at which period `n` starts."""
        return self._wall_clock(n, None)

    def boundary(self, n: int) -> datetime:
        """The instant (UTC) at which period `n` starts and period ``n - 1`` ends.

        A wall-clock time that falls in a DST gap resolves with the offset in force before
        the gap (it moves forward by the gap's length), and one that occurs twice (in a DST
        fold) resolves to its first occurrence, so boundaries stay strictly increasing.
        Boundary 0 is the anchor itself, even when the anchor is a second occurrence.
        """
        found = self._boundaries.get(n)
        if found is not None and type(n) is int:
            return found
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValidationError("n", n, "periods are numbered from 0 at the anchor")
        if n == 0:
            return self.anchor
        found = self._wall_clock(n, self._zone).astimezone(UTC)
        if len(self._boundaries) >= _BOUNDARIES_KEPT:  # bounded: a cycle may live for years
            self._boundaries.clear()
        self._boundaries[n] = found
        return found

    def period(self, n: int) -> BillingPeriod:
        """Period `n` (0 is the one starting at the anchor)."""
        # Boundaries are UTC and strictly increasing: nothing for BillingPeriod to check.
        return _period_between(self.boundary(n), self.boundary(n + 1))

    def index_at(self, at: datetime) -> int:
        """The number of the period that contains `at`.

        Raises:
            ValidationError: if `at` is naive or before the anchor.
        """
        at = to_utc(at)
        if at < self.anchor:
            raise ValidationError("at", at, f"before the first period starts at {self.anchor}")
        local = at.astimezone(self._zone)
        year, month = self._local[:2]
        months = (local.year - year) * 12 + (local.month - month)
        n = max(months // self.interval.months, 0)
        while n > 0 and self.boundary(n) > at:
            n -= 1
        while self.boundary(n + 1) <= at:
            n += 1
        return n

    def period_containing(self, at: datetime) -> BillingPeriod:
        """The period that contains `at` (half-open: a boundary belongs to the later period)."""
        return self.period(self.index_at(at))
