"""A row of the phone-numbers table: status, Auto-Pay, fees and dates."""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict

from attrs import frozen
from babel import Locale

from minutebill._formatting import (
    format_capabilities,
    format_day,
    format_per_interval,
    format_relative,
    label,
    locale_id,
)
from minutebill.domain.catalog import Capability
from minutebill.domain.money import Money
from minutebill.domain.numbers import NumberSubscription

__all__ = ["NumberText", "NumberView"]


class NumberText(TypedDict):
    """`NumberView.format`: one row of the numbers table as display text."""

    number: str
    country: str
    kind: str
    capabilities: str
    status: str
    status_note: str
    auto_pay: str
    recurring_fee: str
    paid_through: str
    paid_through_relative: str
    hold_reason: str
    release_after: str
    release_after_relative: str


@frozen(kw_only=True)
class NumberView:
    """One row of the numbers table: status, Auto-Pay, fees and dates.

    Attributes:
        number_e164: The number.
        country: Its country (ISO 3166 alpha-2).
        kind: Local, mobile, toll-free, ...
        capabilities: What it can do (Voice, SMS).
        status: ``active``, ``on_hold`` or ``released``.
        auto_pay: Whether renewals are charged automatically.
        has_mandate: Whether a saved payment method backs Auto-Pay.
        recurring_fee: What each interval costs.
        paid_through: Until when it is paid.
        hold_reason: Why it is on hold (``insufficient_credit``, ...), if it is.
        release_after: When a held number goes back to the provider, if it is on hold.
        as_of: The instant the row is for.
        interval_months: How many months the recurring fee pays for.
        next_action_url: Where the customer authenticates the renewal charged as they turned
            Auto-Pay on (a mandate debit above the no-authentication limit), when the
            gateway asks for that; only `Billing.set_auto_pay`'s answer carries it.
    """

    number_e164: str
    country: str
    kind: str
    capabilities: frozenset[Capability]
    status: str
    auto_pay: bool
    has_mandate: bool
    recurring_fee: Money
    paid_through: datetime
    hold_reason: str | None
    release_after: datetime | None
    as_of: datetime
    interval_months: int = 1
    next_action_url: str | None = None

    @classmethod
    def build(cls, number: NumberSubscription, at: datetime) -> NumberView:
        """The row of `number` at `at`."""
        hold = number.hold
        return cls(
            number_e164=number.number_e164,
            country=number.offer.country,
            kind=number.offer.kind,
            capabilities=number.offer.capabilities,
            status=number.status.value,
            auto_pay=number.auto_pay,
            has_mandate=number.has_mandate,
            recurring_fee=number.recurring_fee,
            paid_through=number.paid_through,
            hold_reason=None if hold is None else hold.reason.value,
            release_after=None if hold is None else hold.release_after,
            as_of=at,
            interval_months=number.offer.interval.months,
        )

    @property
    def can_release(self) -> bool:
        """Whether the page offers the *Release* button (not for a released number)."""
        return self.status != "released"

    def format(self, locale: str, timezone: str = "UTC") -> NumberText:
        """The row as `locale` writes it, dates in `timezone` (pass the account's)."""
        locale = locale_id(locale)
        at = self.as_of
        paid = format_day(self.paid_through, timezone, locale)
        paid_rel = format_relative(self.paid_through, at, timezone, locale)
        release = self.release_after
        release_day = "" if release is None else format_day(release, timezone, locale)
        release_rel = "" if release is None else format_relative(release, at, timezone, locale)
        reason = "" if self.hold_reason is None else label(self.hold_reason)
        if self.status == "on_hold":
            note = f"{reason}; released {release_rel}" if release_rel else reason
        elif self.status == "released":
            note = "Returned to the provider"
        else:
            note = f"paid through {paid}"
        return NumberText(
            number=self.number_e164,
            country=Locale.parse(locale).territories.get(self.country, self.country),
            kind=label(self.kind),
            capabilities=format_capabilities(self.capabilities, locale),
            status=label(self.status),
            status_note=note,
            auto_pay="Active" if self.auto_pay else "Off",
            recurring_fee=format_per_interval(self.recurring_fee, self.interval_months, locale),
            paid_through=paid,
            paid_through_relative=paid_rel,
            hold_reason=reason,
            release_after=release_day,
            release_after_relative=release_rel,
        )
