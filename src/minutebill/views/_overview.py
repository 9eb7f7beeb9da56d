"""The plan overview: the top of the billing page, its minutes and its dates."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Protocol, TypedDict

from attrs import frozen

from minutebill._formatting import (
    format_count,
    format_day,
    format_minutes,
    format_moment,
    format_money,
    format_period,
    format_relative,
    format_used_percent,
    label,
    locale_id,
)
from minutebill.domain.ledger import MinuteLedger
from minutebill.domain.money import Money
from minutebill.domain.subscriptions import Subscription
from minutebill.domain.wallet import Wallet
from minutebill.views._units import to_minutes

__all__ = ["OverviewText", "PlanOverview"]


class OverviewText(TypedDict):
    """`PlanOverview.format`: every figure of the overview as display text."""

    account_id: str
    plan: str
    plan_code: str
    status: str
    total_minutes: str
    remaining_minutes: str
    used_minutes: str
    held_minutes: str
    overage_minutes: str
    used_percent: str
    used_label: str
    period: str
    next_billing: str
    next_billing_relative: str
    plan_expiry: str
    plan_expiry_relative: str
    renewal_note: str
    wallet_balance: str
    concurrent_calls: str
    phone_numbers: str
    queue_priority: str
    as_of: str


@frozen(kw_only=True)
class PlanOverview:
    """The top of the billing page: the plan, its minutes and its dates.

    Attributes:
        account_id: The account.
        plan_code: The current plan's code (``"pro"``).
        plan_name: Its name (*Pro*).
        status: ``active``, ``past_due``, ``canceled`` or ``expired``.
        timezone: The account's time zone; dates are shown in it.
        total_minutes: Minutes available to the current period (plan and add-ons).
        remaining_minutes: Minutes free to use now.
        used_minutes: Minutes used by calls in the period.
        held_minutes: Minutes held for calls in progress.
        used_percent: Used as a percentage of total, two places, half up (``26.06``).
        overage_minutes: Minutes no grant covered in the period.
        period_start: Start of the current period.
        period_end: End of the current period.
        next_billing_at: *Next Billing* — when the next renewal is charged (None if none).
        expires_at: *Plan Expiry* — when service ends unless paid.
        wallet_balance: The prepaid wallet's balance.
        concurrent_calls: Calls the plan allows at once.
        phone_numbers: Numbers the plan allows.
        queue_priority: The plan's boosted-queueing priority.
        as_of: The instant the figures are for.
    """

    account_id: str
    plan_code: str
    plan_name: str
    status: str
    timezone: str
    total_minutes: Decimal
    remaining_minutes: Decimal
    used_minutes: Decimal
    held_minutes: Decimal
    used_percent: Decimal
    overage_minutes: Decimal
    period_start: datetime
    period_end: datetime
    next_billing_at: datetime | None
    expires_at: datetime | None
    wallet_balance: Money
    concurrent_calls: int
    phone_numbers: int
    queue_priority: int
    as_of: datetime

    @classmethod
    def build(
        cls, subscription: Subscription, ledger: MinuteLedger, wallet: Wallet, at: datetime
    ) -> PlanOverview:
        """The overview of one account at `at`."""
        snap = ledger.snapshot(at)
        plan = subscription.plan
        period = subscription.current_period
        return cls(
            account_id=subscription.account_id,
            plan_code=plan.code,
            plan_name=plan.name,
            status=subscription.status.value,
            timezone=subscription.cycle.timezone,
            total_minutes=snap.total_minutes,
            remaining_minutes=snap.remaining_minutes,
            used_minutes=snap.used_minutes,
            held_minutes=to_minutes(snap.held_seconds),
            used_percent=snap.used_percent,
            overage_minutes=to_minutes(snap.overage_seconds),
            period_start=period.start,
            period_end=period.end,
            next_billing_at=subscription.next_billing_at,
            expires_at=subscription.expires_at,
            wallet_balance=wallet.balance,
            concurrent_calls=plan.features.concurrent_calls,
            phone_numbers=plan.features.phone_numbers,
            queue_priority=plan.features.queue_priority,
            as_of=at,
        )

    def format(self, locale: str) -> OverviewText:
        """Every figure as `locale` writes it; dates in the account's time zone.

        ``used_label`` is the chart's caption (``26.06% Used``); ``renewal_note`` says what
        happens next relative to `as_of` (``renews in 3 days``, ``ends in 5 days``).
        """
        tz, at, locale = self.timezone, self.as_of, locale_id(locale)

        def day(when: datetime | None) -> str:
            return "—" if when is None else format_day(when, tz, locale)

        def relative(when: datetime | None) -> str:
            return "" if when is None else format_relative(when, at, tz, locale)

        percent = format_used_percent(self.used_percent, locale)
        return OverviewText(
            account_id=self.account_id,
            plan=self.plan_name,
            plan_code=self.plan_code,
            status=label(self.status),
            total_minutes=format_minutes(self.total_minutes, locale),
            remaining_minutes=format_minutes(self.remaining_minutes, locale),
            used_minutes=format_minutes(self.used_minutes, locale),
            held_minutes=format_minutes(self.held_minutes, locale),
            overage_minutes=format_minutes(self.overage_minutes, locale),
            used_percent=percent,
            used_label=f"{percent} Used",
            period=format_period(self.period_start, self.period_end, tz, locale),
            next_billing=day(self.next_billing_at),
            next_billing_relative=relative(self.next_billing_at),
            plan_expiry=day(self.expires_at),
            plan_expiry_relative=relative(self.expires_at),
            renewal_note=self._renewal_note(relative),
            wallet_balance=format_money(self.wallet_balance, locale),
            concurrent_calls=format_count(self.concurrent_calls, locale),
            phone_numbers=format_count(self.phone_numbers, locale),
            queue_priority=format_count(self.queue_priority, locale),
            as_of=format_moment(at, tz, locale),
        )

    def _renewal_note(self, relative: _Relative) -> str:
        """What happens next, in the tense the dates call for (the due work may lag)."""
        if self.status == "active" and self.next_billing_at is not None:
            when = self.next_billing_at
            verb = "renews" if when > self.as_of else "renewal due"
            return f"{verb} {relative(when)}"
        if self.expires_at is None:
            return ""
        upcoming = self.expires_at > self.as_of
        verbs = {
            "canceled": ("ends", "ended"),
            "past_due": ("payment due; service ends", "payment due; service ended"),
            "expired": ("expires", "expired"),
        }
        pair = verbs.get(self.status)
        if pair is None:
            return ""
        return f"{pair[0] if upcoming else pair[1]} {relative(self.expires_at)}"


class _Relative(Protocol):
    def __call__(self, when: datetime | None) -> str: ...
