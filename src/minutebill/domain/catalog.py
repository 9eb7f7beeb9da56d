"""What a platform sells: plans, add-on minute bundles and phone-number offers.

These are immutable values. Reading them from a file is the edge's job (`minutebill.Catalog`
and `minutebill.schemas`), so the domain never touches a file or pydantic.
"""

from __future__ import annotations

import enum
from datetime import timedelta

from attrs import field, frozen

from minutebill.domain.counts import require_int
from minutebill.domain.money import Money
from minutebill.domain.periods import BillingInterval
from minutebill.domain.rating import MAX_CALL_SECONDS, BillingIncrement
from minutebill.domain.text import require_text
from minutebill.errors import ValidationError

__all__ = [
    "AddOnBundle",
    "BundleValidity",
    "Capability",
    "NumberOffer",
    "OverageMode",
    "OveragePolicy",
    "Plan",
    "PlanFeatures",
    "ValidityKind",
]


def _require_price(name: str, value: object) -> None:
    if not isinstance(value, Money):
        raise ValidationError(name, value, "must be Money")
    if value.amount < 0 or not value.is_rounded():
        raise ValidationError(name, value, "a price is non-negative and in whole minor units")


def _require_interval(interval: object) -> None:
    if not isinstance(interval, BillingInterval):
        raise ValidationError("interval", interval, "expected a BillingInterval")


class Capability(enum.Enum):
    """What a phone number can do."""

    VOICE = "voice"
    SMS = "sms"
    MMS = "mms"


class OverageMode(enum.Enum):
    """What happens to seconds that no grant covers."""

    BLOCK = "block"
    """No call may start without minutes; a running call's excess is recorded as overage."""
    CHARGE_WALLET = "charge_wallet"
    """The excess is charged to the prepaid wallet at a per-minute rate."""
    BILL_IN_ARREARS = "bill_in_arrears"
    """The excess is invoiced at the next renewal at a per-minute rate."""


@frozen
class OveragePolicy:
    """The plan's rule for seconds that no grant covers. Overage is never silently dropped.

    Use `block()`, `charge_wallet(rate)` or `bill_in_arrears(rate)`.
    """

    mode: OverageMode = OverageMode.BLOCK
    rate_per_minute: Money | None = None

    def __attrs_post_init__(self) -> None:
        if self.mode is OverageMode.BLOCK:
            if self.rate_per_minute is not None:
                raise ValidationError("rate_per_minute", self.rate_per_minute, "block has no rate")
        else:
            if self.rate_per_minute is None:
                raise ValidationError("rate_per_minute", None, f"{self.mode.value} needs a rate")
            _require_price("rate_per_minute", self.rate_per_minute)

    @classmethod
    def block(cls) -> OveragePolicy:
        """Refuse calls without minutes."""
        return cls(OverageMode.BLOCK)

    @classmethod
    def charge_wallet(cls, rate_per_minute: Money) -> OveragePolicy:
        """Charge the wallet `rate_per_minute` for each minute of overage (pro rata by second)."""
        return cls(OverageMode.CHARGE_WALLET, rate_per_minute)

    @classmethod
    def bill_in_arrears(cls, rate_per_minute: Money) -> OveragePolicy:
        """Invoice overage at the next renewal."""
        return cls(OverageMode.BILL_IN_ARREARS, rate_per_minute)

    @property
    def blocks(self) -> bool:
        """Whether calls are refused when no minutes are left."""
        return self.mode is OverageMode.BLOCK

    def charge_for(self, seconds: int) -> Money | None:
        """The (rounded) charge for `seconds` of overage; None under `block`."""
        if self.rate_per_minute is None:
            return None
        return (self.rate_per_minute * seconds / 60).rounded()

    def first_charge(self, rating: BillingIncrement) -> Money | None:
        """The charge of the shortest call `rating` bills that costs anything on overage.

        What a prepaid wallet must hold before a call may run on overage. The first billed
        increment alone may price to nothing (JPY 3 a minute, per second: one second is
        JPY 0.05, rounded to JPY 0), yet a longer call costs money: this is the charge of the
        shortest billed length priced at one minor unit or more (there, 10 s for JPY 1).

        Returns:
            That charge; None under `block`, or if no call up to `MAX_CALL_DURATION` costs
            anything (a rate of zero).
        """

        def charge(seconds: int) -> Money | None:  # None: costs nothing (or under block)
            priced = self.charge_for(rating.billable_for_seconds(seconds))
            return priced or None

        first = charge(1)
        if first is not None:  # mostly: the first billed increment costs something
            return first
        low, high = 2, MAX_CALL_SECONDS
        if charge(high) is None:
            return None
        while low < high:  # charges grow with the length: find the shortest that costs
            middle = (low + high) // 2
            if charge(middle) is None:
                low = middle + 1
            else:
                high = middle
        return charge(low)

    def require_priceable(self, rating: BillingIncrement) -> None:
        """Refuse a rate at which the longest call that `rating` rates could not be priced.

        Settling prices a call's overage after taking its seconds, so pricing must not fail
        there: the charge for a call of `MAX_CALL_DURATION` is checked once, here.

        Raises:
            ValidationError: naming the rate, if that charge is beyond any amount.
        """
        if self.rate_per_minute is None:
            return
        longest = rating.billable_for_seconds(MAX_CALL_SECONDS)
        try:
            self.charge_for(longest)
        except ValidationError:
            raise ValidationError(
                "rate_per_minute",
                self.rate_per_minute,
                f"a call rated {rating} of {longest:,} s would cost more than an amount holds",
            ) from None


@frozen
class PlanFeatures:
    """What a tier unlocks.

    Attributes:
        concurrent_calls: Calls that may run at once.
        phone_numbers: Numbers the account may hold (not released).
        queue_priority: Higher waits less: boosted queueing orders waiting calls by it.
        overage: What happens when minutes run out.
        rating: How call durations are rated.
    """

    concurrent_calls: int
    phone_numbers: int
    queue_priority: int = 0
    overage: OveragePolicy = field(factory=OveragePolicy.block)
    rating: BillingIncrement = BillingIncrement.PER_MINUTE

    def __attrs_post_init__(self) -> None:
        require_int("concurrent_calls", self.concurrent_calls, 1)
        require_int("phone_numbers", self.phone_numbers, 0)
        require_int("queue_priority", self.queue_priority, 0)
        if not isinstance(self.overage, OveragePolicy):
            raise ValidationError("overage", self.overage, "expected an OveragePolicy")
        if not isinstance(self.rating, BillingIncrement):
            raise ValidationError("rating", self.rating, "expected a BillingIncrement")
        self.overage.require_priceable(self.rating)


@frozen
class Plan:
    """A subscription tier: a price per interval and the minutes and features it includes."""

    code: str
    name: str
    price: Money
    interval: BillingInterval
    included_minutes: int
    features: PlanFeatures

    def __attrs_post_init__(self) -> None:
        require_text("code", self.code)
        require_text("name", self.name)
        _require_price("price", self.price)
        _require_interval(self.interval)
        require_int("included_minutes", self.included_minutes, 0)
        if not isinstance(self.features, PlanFeatures):
            raise ValidationError("features", self.features, "expected PlanFeatures")

    @property
    def included_seconds(self) -> int:
        """The plan allowance in seconds."""
        return self.included_minutes * 60


class ValidityKind(enum.Enum):
    """How long add-on minutes last."""

    PLAN_PERIOD = "plan_period"
    DAYS = "days"
    NEVER = "never"


@frozen
class BundleValidity:
    """How long a bundle's minutes stay usable.

    To the end of the current plan period (the default), a number of days from purchase, or
    forever.
    """

    kind: ValidityKind = ValidityKind.PLAN_PERIOD
    days: int | None = None

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.kind, ValidityKind):
            raise ValidationError("kind", self.kind, "expected a ValidityKind")
        if self.kind is ValidityKind.DAYS:
            require_int("days", self.days, 1)
        elif self.days is not None:
            raise ValidationError("days", self.days, f"{self.kind.value} takes no days")

    @classmethod
    def plan_period(cls) -> BundleValidity:
        """Until the current plan period ends."""
        return cls(ValidityKind.PLAN_PERIOD)

    @classmethod
    def for_days(cls, days: int) -> BundleValidity:
        """For `days` days from purchase."""
        return cls(ValidityKind.DAYS, days)

    @classmethod
    def never_expires(cls) -> BundleValidity:
        """Forever."""
        return cls(ValidityKind.NEVER)

    @property
    def duration(self) -> timedelta | None:
        """The fixed validity for `DAYS`; None otherwise."""
        return timedelta(days=self.days) if self.days is not None else None


@frozen
class AddOnBundle:
    """Extra minutes sold on top of a plan (*Nexus* 300 min, *Pro* 150, *Elite* 100)."""

    code: str
    name: str
    minutes: int
    price: Money
    validity: BundleValidity = field(factory=BundleValidity.plan_period)

    def __attrs_post_init__(self) -> None:
        require_text("code", self.code)
        require_text("name", self.name)
        require_int("minutes", self.minutes, 1)
        _require_price("price", self.price)
        if not isinstance(self.validity, BundleValidity):
            raise ValidationError("validity", self.validity, "expected a BundleValidity")

    @property
    def seconds(self) -> int:
        """The bundle's minutes in seconds."""
        return self.minutes * 60


@frozen
class NumberOffer:
    """A phone number product: a one-time up-front fee plus a recurring fee."""

    code: str
    country: str
    kind: str
    capabilities: frozenset[Capability]
    monthly_fee: Money
    upfront_fee: Money
    interval: BillingInterval = field(factory=BillingInterval.monthly)

    def __attrs_post_init__(self) -> None:
        require_text("code", self.code)
        if (
            not isinstance(self.country, str)
            or len(self.country) != 2
            or not self.country.isupper()
        ):
            raise ValidationError("country", self.country, "an ISO 3166 alpha-2 code like 'IN'")
        require_text("kind", self.kind)
        if not self.capabilities or not all(isinstance(c, Capability) for c in self.capabilities):
            raise ValidationError("capabilities", self.capabilities, "at least one Capability")
        object.__setattr__(self, "capabilities", frozenset(self.capabilities))
        _require_price("monthly_fee", self.monthly_fee)
        _require_price("upfront_fee", self.upfront_fee)
        if self.monthly_fee.currency != self.upfront_fee.currency:
            raise ValidationError("upfront_fee", self.upfront_fee, "same currency as monthly_fee")
        _require_interval(self.interval)

    @property
    def period_fee(self) -> Money:
        """The recurring fee of one interval: the monthly fee times the months in it, rounded.

        What a checkout line, a renewal (from the wallet or a mandate) and a refund of an
        unused period all count, so a quarterly number costs three monthly fees a quarter.
        """
        return (self.monthly_fee * self.interval.months).rounded()
