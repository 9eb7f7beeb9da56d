"""What an order can contain: add-on bundles, wallet top-ups, phone numbers and plan charges.

Every line states the same few things, so pricing and fulfilment treat them alike: what it
costs now (`amount`), its one-time `upfront_fee`, whether it is `taxable`, the capabilities it
includes, and the `target` that fulfilment grants, credits, activates or renews. Lines carry
a snapshot of the catalog item they sell, so a saved quote never depends on today's catalog.
"""

from __future__ import annotations

import enum
import re
from typing import ClassVar

from attrs import frozen

from minutebill.domain.catalog import AddOnBundle, BundleValidity, Capability, NumberOffer
from minutebill.domain.catalog import ValidityKind as _ValidityKind
from minutebill.domain.money import Money
from minutebill.domain.periods import BillingInterval
from minutebill.domain.state import State, money_from_state, money_to_state
from minutebill.domain.text import require_text
from minutebill.errors import ValidationError

__all__ = [
    "BundleLine",
    "LineItem",
    "LineKind",
    "NumberLine",
    "PlanAction",
    "PlanLine",
    "TopUpLine",
    "line_from_state",
]

_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


class LineKind(enum.Enum):
    """The four kinds of thing a checkout sells."""

    BUNDLE = "bundle"
    TOP_UP = "top_up"
    NUMBER = "number"
    PLAN = "plan"


class PlanAction(enum.Enum):
    """What a plan line pays for; fulfilment starts, renews or changes the plan accordingly."""

    SUBSCRIBE = "subscribe"
    RENEW = "renew"
    CHANGE = "change"


def _price(name: str, value: object, *, positive: bool = False) -> Money:
    if not isinstance(value, Money):
        raise ValidationError(name, value, "must be Money")
    if not value.is_rounded() or value.amount < 0 or (positive and not value.amount):
        need = "positive" if positive else "non-negative"
        raise ValidationError(name, value, f"must be {need} and in whole minor units")
    return value


@frozen(kw_only=True)
class BundleLine:
    """Add-on minutes: `quantity` of one bundle (*Nexus* 300 min, say).

    Attributes:
        bundle: The bundle sold, as the catalog had it when the order was made.
        quantity: How many of it.
    """

    kind: ClassVar[LineKind] = LineKind.BUNDLE
    bundle: AddOnBundle
    quantity: int = 1

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.bundle, AddOnBundle):
            raise ValidationError("bundle", self.bundle, "expected an AddOnBundle")
        if isinstance(self.quantity, bool) or not isinstance(self.quantity, int):
            raise ValidationError("quantity", self.quantity, "must be an int >= 1")
        if self.quantity < 1:
            raise ValidationError("quantity", self.quantity, "must be an int >= 1")

    @property
    def amount(self) -> Money:
        """The bundle's price times the quantity."""
        return self.bundle.price * self.quantity

    @property
    def upfront_fee(self) -> Money:
        """Bundles have no up-front fee."""
        return Money.zero(self.currency)

    @property
    def currency(self) -> str:
        """The currency of the price."""
        return self.bundle.price.currency

    taxable: ClassVar[bool] = True
    capabilities: ClassVar[frozenset[Capability]] = frozenset()

    @property
    def description(self) -> str:
        """``"Nexus add-on, 300 min"`` (with ``× n`` for more than one)."""
        times = f" × {self.quantity}" if self.quantity > 1 else ""
        return f"{self.bundle.name} add-on, {self.bundle.minutes} min{times}"

    @property
    def target(self) -> str:
        """The bundle code that fulfilment grants."""
        return self.bundle.code

    def to_state(self) -> State:
        """This line as a JSON-compatible dict."""
        b = self.bundle
        return {
            "kind": self.kind.value,
            "quantity": self.quantity,
            "bundle": {
                "code": b.code,
                "name": b.name,
                "minutes": b.minutes,
                "price": money_to_state(b.price),
                "validity": b.validity.kind.value,
                "days": b.validity.days,
            },
        }


@frozen(kw_only=True)
class TopUpLine:
    """Money added to the prepaid wallet; not taxed by default (tax is due when it is spent).

    Attributes:
        amount: The amount credited once the payment succeeds.
        taxable: Whether the top-up itself carries tax (False: stored value, not a sale).
    """

    kind: ClassVar[LineKind] = LineKind.TOP_UP
    amount: Money
    taxable: bool = False

    def __attrs_post_init__(self) -> None:
        _price("amount", self.amount, positive=True)
        if not isinstance(self.taxable, bool):
            raise ValidationError("taxable", self.taxable, "must be a bool")
        # One way to write each amount (1000.00, not 1000 or 1000.000): the same top-up is
        # the same line, and so the same purchase to an idempotency key.
        object.__setattr__(self, "amount", self.amount.rounded())

    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    description: ClassVar[str] = "Wallet top-up"
    target: ClassVar[str] = "wallet"

    @property
    def upfront_fee(self) -> Money:
        """Top-ups have no up-front fee."""
        return Money.zero(self.currency)

    @property
    def currency(self) -> str:
        """The currency of the top-up."""
        return self.amount.currency

    def to_state(self) -> State:
        """This line as a JSON-compatible dict."""
        return {
            "kind": self.kind.value,
            "amount": money_to_state(self.amount),
            "taxable": self.taxable,
        }


@frozen(kw_only=True)
class NumberLine:
    """A phone number: its recurring fee for the first interval plus its one-time up-front fee.

    A renewal (paying a number's next interval, or the missed one while it is on hold) charges
    the recurring fee only.

    Attributes:
        offer: The number product, as the catalog had it when the order was made.
        number_e164: The number itself, ``+`` and up to 15 digits.
        renewal: Whether this pays an interval of a number the account already holds.
    """

    kind: ClassVar[LineKind] = LineKind.NUMBER
    offer: NumberOffer
    number_e164: str
    renewal: bool = False

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.offer, NumberOffer):
            raise ValidationError("offer", self.offer, "expected a NumberOffer")
        if not isinstance(self.number_e164, str) or not _E164.match(self.number_e164):
            raise ValidationError("number_e164", self.number_e164, "expected +<digits> (E.164)")
        if not isinstance(self.renewal, bool):
            raise ValidationError("renewal", self.renewal, "must be a bool")

    @property
    def amount(self) -> Money:
        """The recurring fee for one interval of the offer (`NumberOffer.period_fee`)."""
        return self.offer.period_fee

    @property
    def upfront_fee(self) -> Money:
        """The one-time fee; nothing for a renewal."""
        return Money.zero(self.currency) if self.renewal else self.offer.upfront_fee

    @property
    def currency(self) -> str:
        """The offer's currency."""
        return self.offer.monthly_fee.currency

    taxable: ClassVar[bool] = True

    @property
    def capabilities(self) -> frozenset[Capability]:
        """What the number can do (VOICE, SMS, MMS)."""
        return self.offer.capabilities

    @property
    def description(self) -> str:
        """``"Number +91... (IN local), renewal"``."""
        suffix = ", renewal" if self.renewal else ""
        return f"Number {self.number_e164} ({self.offer.country} {self.offer.kind}){suffix}"

    @property
    def target(self) -> str:
        """The number that fulfilment activates or renews."""
        return self.number_e164

    def to_state(self) -> State:
        """This line as a JSON-compatible dict."""
        o = self.offer
        return {
            "kind": self.kind.value,
            "number_e164": self.number_e164,
            "renewal": self.renewal,
            "offer": {
                "code": o.code,
                "country": o.country,
                "kind": o.kind,
                "capabilities": sorted(c.value for c in o.capabilities),
                "monthly_fee": money_to_state(o.monthly_fee),
                "upfront_fee": money_to_state(o.upfront_fee),
                "interval_months": o.interval.months,
            },
        }


@frozen(kw_only=True)
class PlanLine:
    """A plan charge: a subscription, a renewal or a plan change priced by the subscriptions rules.

    Attributes:
        plan_code: The plan subscribed to, renewed, or changed to.
        description: What the checkout shows (``"Upgrade to Pro, prorated"``).
        amount: The (rounded) price the subscriptions rules quoted.
        action: Whether fulfilment subscribes, renews or changes the plan.
    """

    kind: ClassVar[LineKind] = LineKind.PLAN
    plan_code: str
    description: str
    amount: Money
    action: PlanAction = PlanAction.SUBSCRIBE

    def __attrs_post_init__(self) -> None:
        require_text("plan_code", self.plan_code)
        require_text("description", self.description)
        _price("amount", self.amount)
        if not isinstance(self.action, PlanAction):
            raise ValidationError("action", self.action, "expected a PlanAction")

    taxable: ClassVar[bool] = True
    capabilities: ClassVar[frozenset[Capability]] = frozenset()

    @property
    def upfront_fee(self) -> Money:
        """Plans have no up-front fee."""
        return Money.zero(self.currency)

    @property
    def currency(self) -> str:
        """The price's currency."""
        return self.amount.currency

    @property
    def target(self) -> str:
        """The plan code that fulfilment starts, renews or changes to."""
        return self.plan_code

    def to_state(self) -> State:
        """This line as a JSON-compatible dict."""
        return {
            "kind": self.kind.value,
            "plan_code": self.plan_code,
            "description": self.description,
            "amount": money_to_state(self.amount),
            "action": self.action.value,
        }


LineItem = BundleLine | TopUpLine | NumberLine | PlanLine
"""Any line of an order."""

LINE_TYPES = (BundleLine, TopUpLine, NumberLine, PlanLine)


def line_from_state(state: State) -> LineItem:
    """The line that a line's ``to_state()`` encoded.

    Raises:
        ValidationError: for an unknown kind.
    """
    kind = state.get("kind")
    if kind == LineKind.BUNDLE.value:
        b = state["bundle"]
        validity = (
            BundleValidity.for_days(b["days"])
            if b["validity"] == _ValidityKind.DAYS.value
            else BundleValidity(_ValidityKind(b["validity"]))
        )
        bundle = AddOnBundle(
            b["code"], b["name"], b["minutes"], money_from_state(b["price"]), validity
        )
        return BundleLine(bundle=bundle, quantity=state["quantity"])
    if kind == LineKind.TOP_UP.value:
        return TopUpLine(amount=money_from_state(state["amount"]), taxable=state["taxable"])
    if kind == LineKind.NUMBER.value:
        o = state["offer"]
        offer = NumberOffer(
            code=o["code"],
            country=o["country"],
            kind=o["kind"],
            capabilities=frozenset(Capability(c) for c in o["capabilities"]),
            monthly_fee=money_from_state(o["monthly_fee"]),
            upfront_fee=money_from_state(o["upfront_fee"]),
            interval=BillingInterval(o["interval_months"]),
        )
        return NumberLine(offer=offer, number_e164=state["number_e164"], renewal=state["renewal"])
    if kind == LineKind.PLAN.value:
        return PlanLine(
            plan_code=state["plan_code"],
            description=state["description"],
            amount=money_from_state(state["amount"]),
            action=PlanAction(state["action"]),
        )
    raise ValidationError("kind", kind, "not a line kind")
