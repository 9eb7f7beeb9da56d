"""Proration: what part of a period is left, and what a plan change costs and grants.

One exact fraction (`Proration`, integer numerator and denominator) prices the money *and* the
minutes of an upgrade, so the two can never disagree. It is measured by the second, by the local
calendar day, or not at all (`ProrationPolicy`). Money is rounded half up once, from integer
minor units, never through the ambient `decimal` context.

`PlanChangeQuote` states exactly what a plan change will charge and grant; applying it
(`Subscription.apply_plan_change`) charges what it showed. The plan codec (`plan_to_state`,
`plan_from_state`) lives here because a quote is the first value that must store a whole plan.
"""

from __future__ import annotations

import enum
from datetime import datetime, timedelta

from attrs import frozen

from minutebill.domain.catalog import OverageMode, OveragePolicy, Plan, PlanFeatures
from minutebill.domain.money import Money
from minutebill.domain.periods import BillingInterval, BillingPeriod, to_utc, zone
from minutebill.domain.rating import BillingIncrement
from minutebill.domain.state import (
    State,
    instant_from_state,
    instant_to_state,
    money_from_state,
    money_to_state,
)
from minutebill.domain.tax import TaxPolicy
from minutebill.errors import ValidationError

__all__ = [
    "PlanChangeKind",
    "PlanChangeQuote",
    "Proration",
    "ProrationPolicy",
    "plan_from_state",
    "plan_to_state",
    "quote_plan_change",
]

_MICROSECOND = timedelta(microseconds=1)
DEFAULT_QUOTE_VALIDITY = timedelta(minutes=30)
"""How long a plan-change quote may be applied after it was priced (capped at the period end)."""


class ProrationPolicy(enum.Enum):
    """How the unused part of a period is measured when a plan is upgraded."""

    BY_SECOND = "by_second"
    """Exact: seconds left over seconds in the period."""
    BY_DAY = "by_day"
    """Local calendar days left (the day of the change counts as left) over the local calendar
    days the period touches; the same fraction all day long, whatever the anchor's time."""
    NONE = "none"
    """No proration: the new features apply at once, nothing is charged or granted now, and
    the new price and allowance start at the next renewal."""


def _half_up(value: int, numerator: int, denominator: int) -> int:
    """``value × numerator / denominator`` rounded half up (away from zero), exactly."""
    magnitude = (2 * abs(value) * numerator + denominator) // (2 * denominator)
    return -magnitude if value < 0 else magnitude


@frozen
class Proration:
    """The part of a period left: ``remaining / total`` in units of the policy.

    Attributes:
        remaining: Units (seconds or days) left; ``0 <= remaining <= total``.
        total: Units in the whole period (> 0).
        policy: How the units were measured.
    """

    remaining: int
    total: int
    policy: ProrationPolicy = ProrationPolicy.BY_SECOND

    def __attrs_post_init__(self) -> None:
        for name in ("remaining", "total"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValidationError(name, value, "must be an int")
        if self.total < 1 or not 0 <= self.remaining <= self.total:
            raise ValidationError("remaining", self.remaining, f"must be in 0..{self.total}")

    @classmethod
    def of(
        cls,
        period: BillingPeriod,
        at: datetime,
        *,
        policy: ProrationPolicy,
        timezone: str = "UTC",
    ) -> Proration:
        """The part of `period` left at `at`.

        Before the period the whole of it is left; at or after its end nothing is. By day, the
        units are the local calendar dates of `timezone` that the period touches: the total
        counts every date from the one it starts on to the one it ends in (a period that
        starts and ends at 22:00 touches one date more than one that starts at midnight),
        and what is left counts the dates from the date of `at` to the last one, both
        included. So every instant of one local date gets the same fraction, the last date
        of the period leaves one day, and a day with a daylight-saving change is one day.
        """
        at = to_utc(at)
        if policy is ProrationPolicy.NONE:
            return cls(0, 1, policy)
        if policy is ProrationPolicy.BY_SECOND:
            left, total = period.remaining_fraction(at)
            return cls(left, total, policy)
        tz = zone(timezone)
        first = period.start.astimezone(tz).date()
        last = (period.end - _MICROSECOND).astimezone(tz).date()  # the end is not in it
        total = (last - first).days + 1
        if at >= period.end:
            return cls(0, total, policy)
        if at <= period.start:
            return cls(total, total, policy)
        return cls((last - at.astimezone(tz).date()).days + 1, total, policy)

    @property
    def is_whole(self) -> bool:
        """Whether the whole period is left."""
        return self.remaining == self.total

    def money(self, amount: Money) -> Money:
        """`amount` × this fraction, rounded half up to the currency's minor unit, once.

        Raises:
            ValidationError: if `amount` is not in whole minor units.
        """
        units = _half_up(amount.minor_units, self.remaining, self.total)
        return Money.from_minor_units(units, amount.currency)

    def seconds(self, seconds: int) -> int:
        """`seconds` × this fraction, rounded half up to a whole second."""
        return _half_up(seconds, self.remaining, self.total)

    def to_state(self) -> State:
        """As JSON-compatible data."""
        return {"remaining": self.remaining, "total": self.total, "policy": self.policy.value}

    @classmethod
    def from_state(cls, state: State) -> Proration:
        """The fraction that `to_state` encoded."""
        return cls(state["remaining"], state["total"], ProrationPolicy(state["policy"]))


class PlanChangeKind(enum.Enum):
    """Whether a plan change takes effect at once or at the end of the period."""

    UPGRADE = "upgrade"
    """A dearer plan (or as dear with at least as many minutes): at once, prorated."""
    DOWNGRADE = "downgrade"
    """A cheaper plan (or as dear with fewer minutes): scheduled for the period end."""


@frozen(kw_only=True)
class PlanChangeQuote:
    """Exactly what a plan change will charge and grant, priced at one instant.

    Applying the quote before `valid_until` takes `total` (the prorated `charge` with its
    `tax`) and grants `granted_seconds`, whatever the time of applying: the customer pays what
    they were shown. Show `charge`, `tax` and `total` on the confirmation screen.

    Attributes:
        quote_id: A deterministic id (account, period, plans, instant), for idempotency.
        account_id: The subscriber.
        period_index: The period the quote was priced in.
        period: That period.
        from_plan: The plan at pricing time.
        to_plan: The plan asked for.
        kind: Upgrade (at once) or downgrade (at `effective_at`, the period end).
        proration: The fraction of the period left, used for money and minutes alike.
        charge: The prorated price difference charged now, at the plans' listed prices
            (rounded; zero for a downgrade).
        tax: The tax on `charge` under the tax policy it was priced with, rounded once:
            added on top of it, or, when `tax_included`, the part of it that is tax. Zero
            without a tax policy and for a downgrade.
        tax_included: Whether the listed prices, and so `charge`, already include `tax`.
        granted_seconds: Extra plan seconds granted now, until the period end.
        priced_at: When the quote was priced.
        valid_until: Until when it may be applied (exclusive); at most the period end.
        effective_at: When the new plan takes effect.
    """

    quote_id: str
    account_id: str
    period_index: int
    period: BillingPeriod
    from_plan: Plan
    to_plan: Plan
    kind: PlanChangeKind
    proration: Proration
    charge: Money
    tax: Money
    tax_included: bool = False
    granted_seconds: int
    priced_at: datetime
    valid_until: datetime
    effective_at: datetime

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.tax, Money) or self.tax.currency != self.charge.currency:
            raise ValidationError("tax", self.tax, f"expected Money in {self.charge.currency}")
        if self.tax.amount < 0 or (self.tax_included and self.tax > self.charge):
            raise ValidationError("tax", self.tax, f"out of range for a charge of {self.charge}")

    @property
    def total(self) -> Money:
        """What applying the quote takes: `charge` plus `tax`, unless `charge` includes it.

        `Billing.change_plan` debits exactly this from the wallet, as a renewal paid from
        the wallet is debited with its tax.
        """
        return self.charge if self.tax_included else self.charge + self.tax

    @property
    def price_difference(self) -> Money:
        """The difference between the two plans' prices for a whole period."""
        return self.to_plan.price - self.from_plan.price

    def to_state(self) -> State:
        """The quote as JSON-compatible data (hosts keep it between preview and confirm)."""
        return {
            "quote_id": self.quote_id,
            "account_id": self.account_id,
            "period_index": self.period_index,
            "period": [instant_to_state(self.period.start), instant_to_state(self.period.end)],
            "from_plan": plan_to_state(self.from_plan),
            "to_plan": plan_to_state(self.to_plan),
            "kind": self.kind.value,
            "proration": self.proration.to_state(),
            "charge": money_to_state(self.charge),
            "tax": money_to_state(self.tax),
            "tax_included": self.tax_included,
            "granted_seconds": self.granted_seconds,
            "priced_at": instant_to_state(self.priced_at),
            "valid_until": instant_to_state(self.valid_until),
            "effective_at": instant_to_state(self.effective_at),
        }

    @classmethod
    def from_state(cls, state: State) -> PlanChangeQuote:
        """The quote that `to_state` encoded.

        A quote stored before quotes carried their tax reads back with no tax.
        """
        start, end = state["period"]
        charge = money_from_state(state["charge"])
        tax = state.get("tax")
        return cls(
            quote_id=state["quote_id"],
            account_id=state["account_id"],
            period_index=state["period_index"],
            period=BillingPeriod(instant_from_state(start), instant_from_state(end)),
            from_plan=plan_from_state(state["from_plan"]),
            to_plan=plan_from_state(state["to_plan"]),
            kind=PlanChangeKind(state["kind"]),
            proration=Proration.from_state(state["proration"]),
            charge=charge,
            tax=Money.zero(charge.currency).rounded() if tax is None else money_from_state(tax),
            tax_included=state.get("tax_included", False),
            granted_seconds=state["granted_seconds"],
            priced_at=instant_from_state(state["priced_at"]),
            valid_until=instant_from_state(state["valid_until"]),
            effective_at=instant_from_state(state["effective_at"]),
        )


def change_kind(current: Plan, new: Plan) -> PlanChangeKind:
    """Upgrade if `new` costs more, or the same with at least as many minutes; else downgrade."""
    if new.price != current.price:
        return PlanChangeKind.UPGRADE if new.price > current.price else PlanChangeKind.DOWNGRADE
    if new.included_minutes >= current.included_minutes:
        return PlanChangeKind.UPGRADE
    return PlanChangeKind.DOWNGRADE


def quote_plan_change(
    *,
    account_id: str,
    period_index: int,
    period: BillingPeriod,
    current: Plan,
    new: Plan,
    at: datetime,
    policy: ProrationPolicy,
    timezone: str = "UTC",
    valid_for: timedelta = DEFAULT_QUOTE_VALIDITY,
    tax: TaxPolicy | None = None,
) -> PlanChangeQuote:
    """Price a change from `current` to `new` at `at`, within `period`.

    An upgrade charges the price difference × the part of the period left and grants the
    extra included seconds × the same fraction, both rounded half up once; under `tax` the
    quote also states the tax on that charge (rounded once, as at a checkout). A downgrade
    charges and grants nothing and takes effect at the period end.

    Raises:
        ValidationError: for the same plan, another currency or interval, `at` outside
            ``[period.start, period.end]`` or a non-positive `valid_for`.
    """
    at = to_utc(at)
    if new.code == current.code:
        raise ValidationError("new_plan", new.code, "the subscription is already on this plan")
    if new.price.currency != current.price.currency:
        raise ValidationError("new_plan", new.code, f"priced in {current.price.currency} only")
    if new.interval != current.interval:
        raise ValidationError(
            "new_plan", new.code, "a different billing interval needs a new subscription"
        )
    if not period.start <= at <= period.end:
        raise ValidationError("at", at, f"outside the period {period.start}..{period.end}")
    if not isinstance(valid_for, timedelta) or valid_for <= timedelta(0):
        raise ValidationError("valid_for", valid_for, "a positive timedelta")
    if tax is None:
        tax = TaxPolicy.none()
    elif not isinstance(tax, TaxPolicy):
        raise ValidationError("tax", tax, "expected a TaxPolicy")
    kind = change_kind(current, new)
    if kind is PlanChangeKind.UPGRADE:
        fraction = Proration.of(period, at, policy=policy, timezone=timezone)
        charge = fraction.money(new.price - current.price)
        extra = max(new.included_seconds - current.included_seconds, 0)
        granted = fraction.seconds(extra)
        effective_at = at
    else:
        fraction = Proration(0, 1, policy)
        charge = Money.zero(current.price.currency).rounded()
        granted = 0
        effective_at = period.end
    return PlanChangeQuote(
        quote_id=f"{account_id}:{period_index}:{current.code}>{new.code}@{instant_to_state(at)}",
        account_id=account_id,
        period_index=period_index,
        period=period,
        from_plan=current,
        to_plan=new,
        kind=kind,
        proration=fraction,
        charge=charge,
        tax=tax.tax_on(charge),
        tax_included=tax.inclusive_prices,
        granted_seconds=granted,
        priced_at=at,
        valid_until=min(at + valid_for, period.end),
        effective_at=effective_at,
    )


# --- the plan codec ---------------------------------------------------------------------------


def plan_to_state(plan: Plan) -> State:
    """A `Plan` as JSON-compatible data, complete enough to rebuild it exactly."""
    features = plan.features
    rate = features.overage.rate_per_minute
    return {
        "code": plan.code,
        "name": plan.name,
        "price": money_to_state(plan.price),
        "interval_months": plan.interval.months,
        "included_minutes": plan.included_minutes,
        "concurrent_calls": features.concurrent_calls,
        "phone_numbers": features.phone_numbers,
        "queue_priority": features.queue_priority,
        "overage": features.overage.mode.value,
        "overage_rate": None if rate is None else money_to_state(rate),
        "rating": [
            features.rating.initial_seconds,
            features.rating.increment_seconds,
            features.rating.minimum_seconds,
        ],
    }


def plan_from_state(state: State) -> Plan:
    """The `Plan` that `plan_to_state` encoded."""
    rate = state["overage_rate"]
    initial, increment, minimum = state["rating"]
    return Plan(
        code=state["code"],
        name=state["name"],
        price=money_from_state(state["price"]),
        interval=BillingInterval(state["interval_months"]),
        included_minutes=state["included_minutes"],
        features=PlanFeatures(
            concurrent_calls=state["concurrent_calls"],
            phone_numbers=state["phone_numbers"],
            queue_priority=state["queue_priority"],
            overage=OveragePolicy(
                OverageMode(state["overage"]), None if rate is None else money_from_state(rate)
            ),
            rating=BillingIncrement(initial, increment, minimum),
        ),
    )
