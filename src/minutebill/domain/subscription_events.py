"""Events a plan `Subscription` records: one for every change of plan, period or status.

Each carries `account_id` and `occurred_at` (the `at` passed to the subscription call) from
`DomainEvent`.
"""

from __future__ import annotations

from datetime import datetime

from attrs import frozen

from minutebill.domain.events import DomainEvent
from minutebill.domain.money import Money

__all__ = [
    "PlanChangeScheduled",
    "PlanChanged",
    "ScheduledPlanChangeCanceled",
    "SubscriptionCanceled",
    "SubscriptionExpired",
    "SubscriptionPastDue",
    "SubscriptionRenewed",
    "SubscriptionResumed",
    "SubscriptionStarted",
]


@frozen(kw_only=True)
class SubscriptionStarted(DomainEvent):
    """A plan subscription began and its first period's minutes were granted.

    Attributes:
        plan_code: The plan subscribed to.
        period_start: The first period's start (the anchor).
        period_end: The first period's end (the first renewal).
        granted_seconds: Plan seconds granted for the first period.
    """

    plan_code: str
    period_start: datetime
    period_end: datetime
    granted_seconds: int


@frozen(kw_only=True)
class SubscriptionRenewed(DomainEvent):
    """A renewal was paid and a new period opened with a fresh plan grant.

    Attributes:
        plan_code: The plan of the new period (a scheduled downgrade applies here).
        period_index: The new period's number (0 is the first).
        period_start: Its start.
        period_end: Its end.
        granted_seconds: Plan seconds granted for it.
        rolled_over_seconds: Unused seconds carried over from the last period.
    """

    plan_code: str
    period_index: int
    period_start: datetime
    period_end: datetime
    granted_seconds: int
    rolled_over_seconds: int


@frozen(kw_only=True)
class PlanChanged(DomainEvent):
    """The plan changed: an upgrade at once, or a scheduled downgrade at renewal.

    Attributes:
        from_plan_code: The plan before.
        to_plan_code: The plan after.
        kind: ``"upgrade"`` or ``"downgrade"``.
        charge: What the change charges (the quote's amount; zero for a downgrade).
        granted_seconds: Extra plan seconds granted for the rest of the period.
        quote_id: The quote applied.
    """

    from_plan_code: str
    to_plan_code: str
    kind: str
    charge: Money
    granted_seconds: int
    quote_id: str


@frozen(kw_only=True)
class PlanChangeScheduled(DomainEvent):
    """A downgrade was scheduled for the end of the current period.

    Attributes:
        from_plan_code: The plan until then.
        to_plan_code: The plan from then on.
        effective_at: When it takes effect (the period end).
        quote_id: The quote applied.
    """

    from_plan_code: str
    to_plan_code: str
    effective_at: datetime
    quote_id: str


@frozen(kw_only=True)
class ScheduledPlanChangeCanceled(DomainEvent):
    """A scheduled downgrade was called off; the plan stays as it is.

    Attributes:
        plan_code: The plan that stays.
        canceled_plan_code: The plan that would have applied.
    """

    plan_code: str
    canceled_plan_code: str


@frozen(kw_only=True)
class SubscriptionPastDue(DomainEvent):
    """The renewal payment failed; service continues until the grace period ends.

    Attributes:
        due_at: When the renewal was due (the period end).
        grace_until: When the subscription expires unless a payment succeeds.
    """

    due_at: datetime
    grace_until: datetime


@frozen(kw_only=True)
class SubscriptionExpired(DomainEvent):
    """The subscription ended for good: no more periods, calls are refused.

    Attributes:
        reason: ``"canceled"`` (ran to the end of a canceled period) or ``"payment_failed"``
            (the grace period ended unpaid).
        ended_at: When service ended.
    """

    reason: str
    ended_at: datetime


@frozen(kw_only=True)
class SubscriptionCanceled(DomainEvent):
    """Auto-renew was turned off; the plan runs to `ends_at` and then expires.

    Attributes:
        ends_at: The end of the paid period.
    """

    ends_at: datetime


@frozen(kw_only=True)
class SubscriptionResumed(DomainEvent):
    """A canceled subscription was resumed before its period ended; auto-renew is on again.

    Attributes:
        next_billing_at: When the next renewal is due.
    """

    next_billing_at: datetime
