"""The terms a plan subscription moves by: its statuses, renewal outcomes and rollover rule."""

from __future__ import annotations

import enum
from datetime import datetime, timedelta

from attrs import frozen

from minutebill.domain.catalog import Plan
from minutebill.errors import ValidationError

__all__ = [
    "DEFAULT_GRACE_PERIOD",
    "PaymentOutcome",
    "RenewalResult",
    "RolloverPolicy",
    "ScheduledChange",
    "SubscriptionStatus",
]

DEFAULT_GRACE_PERIOD = timedelta(days=7)
"""How long a subscription stays PAST_DUE (in service) after a failed renewal payment."""


class SubscriptionStatus(enum.Enum):
    """Where a plan subscription stands."""

    ACTIVE = "active"
    """Paid for the current period; renews at its end."""
    PAST_DUE = "past_due"
    """The renewal payment failed; in service until the grace period ends."""
    EXPIRED = "expired"
    """Ended for good; calls are refused. Subscribe again to continue: that starts a new
    subscription (`Subscription.start_again`), anchored when it starts."""
    CANCELED = "canceled"
    """Auto-renew is off; in service until the end of the paid period, then EXPIRED."""


class PaymentOutcome(enum.Enum):
    """What happened to the renewal charge the host attempted."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"


class RenewalResult(enum.Enum):
    """What `Subscription.renew` did."""

    RENEWED = "renewed"
    """A new period was opened and its minutes granted."""
    PAST_DUE = "past_due"
    """The payment failed; the subscription is (still) past due, within its grace period."""
    EXPIRED = "expired"
    """The payment failed after the grace period; the subscription expired."""
    NOT_DUE = "not_due"
    """Nothing to do: the period containing `at` is already paid (a repeated renewal)."""


@frozen
class RolloverPolicy:
    """What happens to unused plan minutes at renewal: expire (default) or carry up to a cap.

    Rolled-over seconds become a ROLLOVER grant that lasts one period.

    Attributes:
        cap_seconds: At most this many unused seconds are carried; 0 carries none.
    """

    cap_seconds: int = 0

    def __attrs_post_init__(self) -> None:
        value = self.cap_seconds
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValidationError("cap_seconds", value, "an int >= 0")

    @classmethod
    def none(cls) -> RolloverPolicy:
        """Unused plan minutes expire at the period end."""
        return cls(0)

    @classmethod
    def capped(cls, minutes: int) -> RolloverPolicy:
        """Carry at most `minutes` unused plan minutes into the next period."""
        if isinstance(minutes, bool) or not isinstance(minutes, int) or minutes < 0:
            raise ValidationError("minutes", minutes, "an int >= 0")
        return cls(minutes * 60)


@frozen(kw_only=True)
class ScheduledChange:
    """A downgrade waiting for the period end.

    Attributes:
        plan: The plan from the next period on.
        effective_at: The period end, when it applies.
        quote_id: The quote that scheduled it.
    """

    plan: Plan
    effective_at: datetime
    quote_id: str
