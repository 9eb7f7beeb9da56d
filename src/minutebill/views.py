"""Plain-data views of an account for a billing page, formatted with Babel on request.

Views are built by `Billing` from the aggregates at one instant and never change afterwards.
The locale is always an argument; nothing here reads a process-wide locale.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from attrs import frozen

from minutebill._formatting import format_money
from minutebill.domain.catalog import Capability
from minutebill.domain.ledger import MinuteLedger
from minutebill.domain.money import Money
from minutebill.domain.numbers import NumberSubscription
from minutebill.domain.subscriptions import Subscription
from minutebill.domain.wallet import Wallet

__all__ = ["NumberView", "PlanOverview", "format_money"]


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
        minutes = Decimal(60)
        return cls(
            account_id=subscription.account_id,
            plan_code=plan.code,
            plan_name=plan.name,
            status=subscription.status.value,
            timezone=subscription.cycle.timezone,
            total_minutes=snap.total_minutes,
            remaining_minutes=snap.remaining_minutes,
            used_minutes=snap.used_minutes,
            held_minutes=(Decimal(snap.held_seconds) / minutes).quantize(Decimal("0.01")),
            used_percent=snap.used_percent,
            overage_minutes=(Decimal(snap.overage_seconds) / minutes).quantize(Decimal("0.01")),
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
        )
