"""Babel formatting shared by the command line and the views. The locale is always an argument.

Every function takes the locale (``"en_IN"``, ``"de_DE"``, ...) and, for instants, the time zone
to show them in: nothing here reads a process-wide locale, the system time zone or the clock.
Relative times ("in 3 days") are measured from an instant the caller passes (a view's
``as_of``), so the same view formats the same way today and next year.

Babel's number formatting reads the ambient `decimal` context (to normalise and round), so
every call to it runs inside `isolated()`: no precision, rounding mode or trap a host sets
changes a figure on the page. Amounts are shown rounded half-up, as `Money.rounded` rounds.

Words Babel has no data for (status names such as *On Hold*, *Auto-Pay*) are English labels;
a host that translates its page keys its own catalog on the raw values instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Literal

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_interval, format_time, format_timedelta
from babel.lists import format_list
from babel.numbers import format_currency, format_decimal, format_percent, parse_pattern
from babel.units import format_compound_unit, format_unit

from minutebill.domain.catalog import Capability
from minutebill.domain.decimals import EXACT, isolated
from minutebill.domain.ledger_policy import hundredths
from minutebill.domain.money import Money
from minutebill.domain.periods import zone
from minutebill.errors import ValidationError

__all__ = [
    "capability_label",
    "format_billed_minutes",
    "format_capabilities",
    "format_clock_duration",
    "format_count",
    "format_day",
    "format_local_date",
    "format_minutes",
    "format_moment",
    "format_money",
    "format_per_interval",
    "format_period",
    "format_rate",
    "format_relative",
    "format_used_percent",
    "label",
    "locale_id",
]


def locale_id(value: object) -> str:
    """`value` as the CLDR locale identifier Babel reads: ``"en_IN"``, also from ``"en-IN"``.

    A view's ``format`` takes the locale from the host, often as a BCP 47 language tag
    (``Accept-Language: hi-IN``); Babel reads only underscores and raises its own errors.

    Raises:
        ValidationError: for anything that is not a locale Babel has data for.
    """
    if isinstance(value, str) and value:
        try:
            return str(Locale.parse(value.replace("-", "_")))
        except (UnknownLocaleError, ValueError, TypeError):
            pass
    raise ValidationError("locale", value, "a CLDR locale such as 'en_IN' (or 'en-IN')")


_DAY = timedelta(days=1)
_MOST_OF_AN_HOUR = timedelta(minutes=51)  # where Babel's default threshold (0.85) says "1 hour"

_LABELS: dict[str, str] = {
    # plan subscription
    "active": "Active",
    "past_due": "Past due",
    "canceled": "Canceled",
    "expired": "Expired",
    # numbers
    "on_hold": "On Hold",
    "released": "Released",
    # hold reasons
    "insufficient_credit": "Insufficient credit",
    "payment_failed": "Payment failed",
    "auto_pay_off": "Auto-Pay off",
    "customer_action_required": "Customer action required",
    # payment statuses
    "created": "Created",
    "pending": "Pending",
    "action_required": "Action required",
    "authorized": "Authorized",
    "succeeded": "Paid",
    "failed": "Failed",
    "refunded": "Refunded",
    "partially_refunded": "Partially refunded",
    # payment modes and number kinds
    "upi": "UPI",
    "card": "Credit or debit card",
    "local": "Local",
    "mobile": "Mobile",
    "toll_free": "Toll-free",
    "national": "National",
}

_CAPABILITY_LABELS = {Capability.VOICE: "Voice", Capability.SMS: "SMS", Capability.MMS: "MMS"}


def label(value: str) -> str:
    """The English label of a status, reason or kind (``on_hold`` → *On Hold*).

    Unknown values are shown with underscores as spaces and a capital first letter.
    """
    known = _LABELS.get(value)
    if known is not None:
        return known
    text = value.replace("_", " ").replace("-", " ").strip()
    return text[:1].upper() + text[1:]


def capability_label(capability: Capability) -> str:
    """*Voice*, *SMS* or *MMS*."""
    return _CAPABILITY_LABELS[capability]


def format_capabilities(capabilities: Iterable[Capability], locale: str) -> str:
    """``SMS, Voice``: the capabilities in alphabetical order as a short locale list."""
    names = sorted(capability_label(c) for c in capabilities)
    return format_list(names, style="unit-short", locale=locale) if names else ""


def format_money(money: Money, locale: str) -> str:
    """`money` in `locale`'s currency format: ``₹1,50,000.00`` for INR 150000 in ``en_IN``."""
    with isolated():
        return format_currency(money.amount, money.currency, locale=locale)


def format_count(value: int, locale: str) -> str:
    """A whole number with the locale's grouping: ``1,00,000`` in ``en_IN``."""
    with isolated():
        return format_decimal(value, locale=locale)


def format_minutes(minutes: Decimal, locale: str) -> str:
    """A minute figure in the locale's decimal pattern, with at most two decimals.

    ``150000`` gives ``1,50,000`` in ``en_IN`` and ``150.000`` in ``de_DE``, the grouping
    `format_count` and the money use; ``12.50`` gives ``12.5``. The ledger's minutes are
    already hundredths, so the two decimals never round a figure.
    """
    loc = Locale.parse(locale)
    pattern = parse_pattern(loc.decimal_formats[None].pattern)
    pattern.frac_prec = (0, 2)
    with isolated():
        return str(pattern.apply(minutes, loc))


def format_used_percent(percent: Decimal, locale: str) -> str:
    """Percentage points with exactly two decimals in the locale's pattern.

    ``26.06`` gives ``26.06%`` in ``en_IN`` and ``26,06 %`` in ``de_DE``. The value is already
    rounded by the ledger (half up); it is shown as is, never rounded a second time.
    """
    loc = Locale.parse(locale)
    pattern = parse_pattern(loc.percent_formats[None].pattern)
    pattern.frac_prec = (2, 2)
    with isolated():
        return str(pattern.apply(percent.scaleb(-2, EXACT), loc))


def format_rate(rate: Decimal, locale: str) -> str:
    """A tax rate given as a fraction: ``0.09`` gives ``9%``, ``0.025`` gives ``2.5%``."""
    with isolated():
        return format_percent(rate, locale=locale, decimal_quantization=False)


def format_day(at: datetime, timezone: str, locale: str) -> str:
    """The local calendar date of `at` in `timezone`: ``10 Jun 2024`` in ``en_IN``."""
    return format_date(at.astimezone(zone(timezone)), format="medium", locale=locale)


def format_local_date(day: date, locale: str) -> str:
    """A calendar date that is already local (a usage day): ``10 Jun 2024``."""
    return format_date(day, format="medium", locale=locale)


def format_moment(at: datetime, timezone: str, locale: str) -> str:
    """Date and time of `at` in `timezone`: ``10 Jun 2024, 9:00 AM`` in ``en_IN``."""
    loc = Locale.parse(locale)
    date_part = format_date(at.astimezone(zone(timezone)), format="medium", locale=loc)
    time_part = format_time(at, format="short", tzinfo=zone(timezone), locale=loc)
    glue = str(loc.datetime_formats["medium"])  # CLDR's "{1}, {0}": date, then time
    return glue.replace("{1}", date_part).replace("{0}", time_part)


def format_period(start: datetime, end: datetime, timezone: str, locale: str) -> str:
    """A billing period as a date range in `timezone`: ``10 May – 10 Jun 2024``."""
    return format_interval(start, end, skeleton="yMMMd", tzinfo=zone(timezone), locale=locale)


def format_relative(target: datetime, as_of: datetime, timezone: str, locale: str) -> str:
    """How far `target` is from `as_of`: ``in 3 days``, ``2 days ago``, ``in 5 hours``.

    Whole days count local calendar days in `timezone` (a renewal tomorrow morning is "in 1
    day" even 14 hours ahead), so the text agrees with the date shown next to it. Within the
    same local day the text is in hours, minutes or seconds, never days: 00:30 to 22:00 is
    "in 21 hours", and a 25-hour day (daylight saving ends) can say "in 25 hours". Below an
    hour Babel's own rounding applies (from 51 minutes it says "in 1 hour").
    """
    tz = zone(timezone)
    days = (target.astimezone(tz).date() - as_of.astimezone(tz).date()).days
    if days:
        return _in_units(timedelta(days=days), "day", locale)
    delta = target - as_of
    # Babel's default would round anything from 0.85 of a day (20.4 hours) up to "1 day".
    if abs(delta) >= _MOST_OF_AN_HOUR:
        return _in_units(delta, "hour", locale)
    return format_timedelta(delta, add_direction=True, locale=locale)


def _in_units(delta: timedelta, unit: Literal["day", "hour"], locale: str) -> str:
    """`delta` counted in `unit` alone (rounded to the nearest), with its direction."""
    return format_timedelta(
        delta, granularity=unit, threshold=float("inf"), add_direction=True, locale=locale
    )


def format_per_interval(money: Money, months: int, locale: str) -> str:
    """A recurring fee: ``₹500.00 per month``, ``₹1,500.00 per 3 months``."""
    fee = format_money(money, locale)
    with isolated():
        per = format_compound_unit(
            fee, None, months, "duration-month", length="long", locale=locale
        )
    return per or f"{fee} / {months}"


def format_clock_duration(seconds: int) -> str:
    """A call length as a clock: ``4:07`` or ``1:02:03`` (digits, no locale words)."""
    hours, rest = divmod(max(seconds, 0), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def format_billed_minutes(seconds: int, locale: str) -> str:
    """Billed seconds as minutes with the locale's short unit: ``5 mins``, ``4.5 mins``."""
    minutes = hundredths(seconds, 60)
    value = (
        minutes.normalize(EXACT) if minutes == minutes.to_integral_value(context=EXACT) else minutes
    )
    with isolated():
        return format_unit(value, "duration-minute", length="short", locale=locale)
