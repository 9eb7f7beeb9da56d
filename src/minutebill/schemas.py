"""The edge where outside data meets minutebill: the only module that uses pydantic.

`CatalogSchema` validates catalog files (TOML or JSON) before they become domain values.
Prices are decimal strings or integers — never floats, which cannot hold a price exactly.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from minutebill.domain.catalog import (
    AddOnBundle,
    BundleValidity,
    Capability,
    NumberOffer,
    OverageMode,
    OveragePolicy,
    Plan,
    PlanFeatures,
    ValidityKind,
)
from minutebill.domain.checkout import FeeBreakdown, Quote
from minutebill.domain.decimals import parse
from minutebill.domain.money import Money, known_currencies
from minutebill.domain.payment_events import PaymentEvent, PaymentEventKind
from minutebill.domain.payment_methods import Card, PaymentMethod
from minutebill.domain.payments import Payment
from minutebill.domain.periods import BillingInterval
from minutebill.domain.rating import BillingIncrement
from minutebill.domain.tax import TaxLine
from minutebill.errors import ValidationError

__all__ = [
    "BundleSchema",
    "CatalogSchema",
    "NumberOfferSchema",
    "OverageSchema",
    "PlanSchema",
]


def _exact_amount(value: object) -> Decimal:
    """Accept a decimal string or an int; refuse floats and everything else."""
    if isinstance(value, bool | float):
        msg = "use a decimal string like '999.00' (floats are inexact)"
        raise ValueError(msg)  # noqa: TRY004 - pydantic turns ValueError into a field error
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, str):
        amount = parse(value.strip())
        if amount is None:
            msg = "not a decimal number"
            raise ValueError(msg)
        if amount.is_finite():
            return amount
        msg = "must be finite"
        raise ValueError(msg)
    msg = "use a decimal string like '999.00'"
    raise ValueError(msg)


Amount = Annotated[Decimal, BeforeValidator(_exact_amount), Field(ge=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OverageSchema(_Strict):
    """``{ mode = "block" }`` or ``{ mode = "charge_wallet", rate_per_minute = "1.20" }``."""

    mode: Literal["block", "charge_wallet", "bill_in_arrears"] = "block"
    rate_per_minute: Amount | None = None


class PlanSchema(_Strict):
    """One ``[[plans]]`` entry."""

    code: str = Field(min_length=1)
    name: str = Field(min_length=1)
    price: Amount
    interval_months: int = Field(default=1, ge=1, strict=True)
    included_minutes: int = Field(ge=0, strict=True)
    concurrent_calls: int = Field(ge=1, strict=True)
    phone_numbers: int = Field(ge=0, strict=True)
    queue_priority: int = Field(default=0, ge=0, strict=True)
    rating: str = "60/60"
    overage: OverageSchema = OverageSchema()

    @field_validator("rating")
    @classmethod
    def _rating(cls, value: str) -> str:
        BillingIncrement.parse(value)
        return value


class BundleSchema(_Strict):
    """One ``[[bundles]]`` entry; `validity` is ``"plan_period"``, ``"never"`` or a day count."""

    code: str = Field(min_length=1)
    name: str = Field(min_length=1)
    minutes: int = Field(gt=0, strict=True)
    price: Amount
    validity: Literal["plan_period", "never"] | Annotated[int, Field(gt=0, strict=True)] = (
        "plan_period"
    )


class NumberOfferSchema(_Strict):
    """One ``[[number_offers]]`` entry."""

    code: str = Field(min_length=1)
    country: str = Field(pattern=r"^[A-Z]{2}$")
    kind: str = Field(min_length=1)
    capabilities: list[Literal["voice", "sms", "mms"]] = Field(min_length=1)
    monthly_fee: Amount
    upfront_fee: Amount
    interval_months: int = Field(default=1, ge=1, strict=True)


class CatalogSchema(_Strict):
    """A whole catalog file: one currency, plans, bundles and number offers."""

    currency: str
    plans: list[PlanSchema] = Field(default_factory=list)
    bundles: list[BundleSchema] = Field(default_factory=list)
    number_offers: list[NumberOfferSchema] = Field(default_factory=list)

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        if value not in known_currencies():
            msg = f"{value!r} is not an ISO 4217 code known to Babel"
            raise ValueError(msg)
        return value

    def to_domain(self) -> tuple[list[Plan], list[AddOnBundle], list[NumberOffer]]:
        """Build the domain values this schema describes.

        Raises:
            ValidationError: for a value of the right type that the domain refuses (a price
                finer than the currency's minor unit, a rate under ``mode = "block"``); its
                `field` is the path in the file, like ``plans[0].price``.
        """
        cur = self.currency
        plans: list[Plan] = []
        for i, p in enumerate(self.plans):
            with _located(f"plans[{i}].overage"):
                rate = p.overage.rate_per_minute
                overage = OveragePolicy(
                    OverageMode(p.overage.mode),
                    None if rate is None else _money(rate, cur, "rate_per_minute"),
                )
            with _located(f"plans[{i}]"):
                features = PlanFeatures(
                    concurrent_calls=p.concurrent_calls,
                    phone_numbers=p.phone_numbers,
                    queue_priority=p.queue_priority,
                    overage=overage,
                    rating=BillingIncrement.parse(p.rating),
                )
                plans.append(
                    Plan(
                        code=p.code,
                        name=p.name,
                        price=_money(p.price, cur, "price"),
                        interval=BillingInterval(p.interval_months),
                        included_minutes=p.included_minutes,
                        features=features,
                    )
                )
        bundles: list[AddOnBundle] = []
        for i, b in enumerate(self.bundles):
            with _located(f"bundles[{i}]"):
                validity = (
                    BundleValidity.for_days(b.validity)
                    if isinstance(b.validity, int)
                    else BundleValidity(ValidityKind(b.validity))
                )
                bundles.append(
                    AddOnBundle(
                        code=b.code,
                        name=b.name,
                        minutes=b.minutes,
                        price=_money(b.price, cur, "price"),
                        validity=validity,
                    )
                )
        offers: list[NumberOffer] = []
        for i, o in enumerate(self.number_offers):
            with _located(f"number_offers[{i}]"):
                offers.append(
                    NumberOffer(
                        code=o.code,
                        country=o.country,
                        kind=o.kind,
                        capabilities=frozenset(Capability(c) for c in o.capabilities),
                        monthly_fee=_money(o.monthly_fee, cur, "monthly_fee"),
                        upfront_fee=_money(o.upfront_fee, cur, "upfront_fee"),
                        interval=BillingInterval(o.interval_months),
                    )
                )
        return plans, bundles, offers


def _money(amount: Decimal, currency: str, name: str) -> Money:
    """`Money` for the field `name`; a refused amount (out of range) names that field."""
    try:
        return Money(amount, currency)
    except ValidationError as exc:
        raise ValidationError(name, amount, exc.reason) from None


@contextmanager
def _located(where: str) -> Iterator[None]:
    """Prefix the field of a domain `ValidationError` with its path in the file."""
    try:
        yield
    except ValidationError as exc:
        raise ValidationError(f"{where}.{exc.field}", exc.value, exc.reason) from None


# Bare type tags pydantic puts in a location for union members. Tags with a bracket or a hyphen
# (``function-before[...]``, ``literal[...]``, ``constrained-int``) are recognised by shape;
# field names never contain either.
_TYPE_TAGS = frozenset({"bool", "decimal", "dict", "float", "int", "list", "none", "str"})


def error_location(loc: tuple[int | str, ...]) -> str:
    """A pydantic error location as a readable path: ``plans[0].price``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif "[" in part or "-" in part or part in _TYPE_TAGS:
            continue  # a pydantic validator or union-member tag, not a field name
        else:
            out += f".{part}" if out else part
    return out or "<root>"


def first_error(errors: list[Any]) -> tuple[str, object, str]:
    """(field path, value, message) of the first pydantic error.

    A union field fails once per member at the same path (``validity`` is neither
    ``"plan_period"``/``"never"`` nor a positive int): those messages are joined. A missing
    field has no value (None).
    """
    err = errors[0]
    where = error_location(tuple(err["loc"]))
    messages: list[str] = []
    for other in errors:
        if error_location(tuple(other["loc"])) == where:
            message = str(other["msg"]).removeprefix("Value error, ")
            if message not in messages:
                messages.append(message)
    value = None if err["type"] == "missing" else err.get("input")
    return where, value, "; or ".join(messages)


# --- Payments: webhook payloads, and the JSON form of quotes and payments ---------------------

__all__ += [
    "FeeBreakdownSchema",
    "MoneySchema",
    "PaymentMethodSchema",
    "PaymentSchema",
    "QuoteLineSchema",
    "QuoteSchema",
    "TaxLineSchema",
    "WebhookData",
    "WebhookPayload",
]

_WEBHOOK_TYPES: dict[str, PaymentEventKind] = {
    "payment.pending": PaymentEventKind.PENDING,
    "payment.action_required": PaymentEventKind.ACTION_REQUIRED,
    "payment.authorized": PaymentEventKind.AUTHORIZED,
    "payment.succeeded": PaymentEventKind.SUCCEEDED,
    "payment.failed": PaymentEventKind.FAILED,
    "payment.canceled": PaymentEventKind.CANCELED,
    "refund.succeeded": PaymentEventKind.REFUND_SUCCEEDED,
    "refund.failed": PaymentEventKind.REFUND_FAILED,
}

WebhookType = Literal[
    "payment.pending",
    "payment.action_required",
    "payment.authorized",
    "payment.succeeded",
    "payment.failed",
    "payment.canceled",
    "refund.succeeded",
    "refund.failed",
]


class _Lenient(BaseModel):
    """Incoming payloads: unknown fields are ignored, so a sender may add some."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class WebhookData(_Lenient):
    """The ``data`` object of a webhook: which payment, how much, which refund, why."""

    payment_id: str = Field(min_length=1)
    reference: str = Field(min_length=1)
    amount_minor: int | None = Field(default=None, gt=0, strict=True)
    currency: str | None = None
    refund_id: str | None = None
    reason: str | None = None


class WebhookPayload(_Lenient):
    """minutebill's webhook envelope, as `FakePaymentGateway` sends it.

    ``{"id": "evt_1", "type": "payment.succeeded", "created_at": "2024-05-01T10:00:00+00:00",
    "data": {"payment_id": "pay_1", "reference": "p-1", "amount_minor": 15000,
    "currency": "INR"}}``. Hosts that relay gateway events between services can use it too.
    """

    id: str = Field(min_length=1)
    type: WebhookType
    created_at: AwareDatetime
    data: WebhookData

    def to_event(self) -> PaymentEvent:
        """The `PaymentEvent` this payload describes.

        Raises:
            ValidationError: if the payload's values do not make a valid event.
        """
        d = self.data
        amount = None
        if d.amount_minor is not None:
            if d.currency is None:
                raise ValidationError("data.currency", None, "an amount needs its currency")
            amount = Money.from_minor_units(d.amount_minor, d.currency)
        return PaymentEvent(
            event_id=self.id,
            kind=_WEBHOOK_TYPES[self.type],
            payment_reference=d.reference,
            gateway_payment_id=d.payment_id,
            occurred_at=self.created_at,
            amount=amount,
            refund_id=d.refund_id,
            reason=d.reason,
        )

    @classmethod
    def from_event(cls, event: PaymentEvent) -> WebhookPayload:
        """The payload that describes `event` (what a gateway, or the fake, sends)."""
        kind_names = {kind: name for name, kind in _WEBHOOK_TYPES.items()}
        amount = event.amount
        return cls(
            id=event.event_id,
            type=kind_names[event.kind],  # type: ignore[arg-type]
            created_at=event.occurred_at,
            data=WebhookData(
                payment_id=event.gateway_payment_id,
                reference=event.payment_reference,
                amount_minor=None if amount is None else amount.minor_units,
                currency=None if amount is None else amount.currency,
                refund_id=event.refund_id,
                reason=event.reason,
            ),
        )


class _View(BaseModel):
    """Outgoing JSON views: exactly these fields, immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class MoneySchema(_View):
    """Money in JSON: a decimal string, the currency, and the minor units for gateways."""

    amount: str
    currency: str
    minor_units: int

    @classmethod
    def from_domain(cls, money: Money) -> MoneySchema:
        """The JSON form of a rounded `money`, written with the currency's places.

        ``Money("0", "INR")`` (as wallets saved before zeros were rounded hold) becomes
        ``"0.00"``, the same figure a freshly made zero gives.

        Raises:
            ValidationError: if `money` is not a whole number of minor units.
        """
        units = money.minor_units  # refuses an unrounded amount before anything is written
        return cls(amount=str(money.rounded().amount), currency=money.currency, minor_units=units)


class TaxLineSchema(_View):
    """A tax component: ``{"name": "CGST", "rate": "0.09", "amount": {...}}``."""

    name: str
    rate: str
    amount: MoneySchema

    @classmethod
    def from_domain(cls, line: TaxLine) -> TaxLineSchema:
        """The JSON form of `line`."""
        return cls(name=line.name, rate=str(line.rate), amount=MoneySchema.from_domain(line.amount))


class FeeBreakdownSchema(_View):
    """Amount, Up Front Fees, tax (with its lines) and Total Amount."""

    amount: MoneySchema
    upfront_fees: MoneySchema
    tax: MoneySchema
    total: MoneySchema
    tax_lines: list[TaxLineSchema]
    tax_included: bool

    @classmethod
    def from_domain(cls, breakdown: FeeBreakdown) -> FeeBreakdownSchema:
        """The JSON form of `breakdown`."""
        m = MoneySchema.from_domain
        return cls(
            amount=m(breakdown.amount),
            upfront_fees=m(breakdown.upfront_fees),
            tax=m(breakdown.tax),
            total=m(breakdown.total),
            tax_lines=[TaxLineSchema.from_domain(t) for t in breakdown.tax_lines],
            tax_included=breakdown.tax_included,
        )


class QuoteLineSchema(_View):
    """One line of a quote as the checkout lists it."""

    kind: str
    description: str
    target: str
    amount: MoneySchema
    upfront_fee: MoneySchema
    taxable: bool
    capabilities: list[str]


class QuoteSchema(_View):
    """A quote in JSON: its lines, the breakdown, the capabilities confirmed, its validity."""

    quote_id: str
    account_id: str
    currency: str
    lines: list[QuoteLineSchema]
    breakdown: FeeBreakdownSchema
    capabilities: list[str]
    priced_at: AwareDatetime
    valid_until: AwareDatetime

    @classmethod
    def from_domain(cls, quote: Quote) -> QuoteSchema:
        """The JSON form of `quote`."""
        m = MoneySchema.from_domain
        return cls(
            quote_id=quote.quote_id,
            account_id=quote.account_id,
            currency=quote.currency,
            lines=[
                QuoteLineSchema(
                    kind=line.kind.value,
                    description=line.description,
                    target=line.target,
                    amount=m(line.amount),
                    upfront_fee=m(line.upfront_fee),
                    taxable=line.taxable,
                    capabilities=sorted(c.value for c in line.capabilities),
                )
                for line in quote.lines
            ],
            breakdown=FeeBreakdownSchema.from_domain(quote.breakdown),
            capabilities=sorted(c.value for c in quote.capabilities),
            priced_at=quote.priced_at,
            valid_until=quote.valid_until,
        )


class PaymentMethodSchema(_View):
    """``{"type": "upi", "vpa": "asha@okaxis"}`` or a card's brand, last 4 and funding."""

    type: Literal["upi", "card"]
    vpa: str | None = None
    brand: str | None = None
    last4: str | None = None
    funding: str | None = None

    @classmethod
    def from_domain(cls, method: PaymentMethod) -> PaymentMethodSchema:
        """The JSON form of `method`."""
        if isinstance(method, Card):
            return cls(
                type="card", brand=method.brand, last4=method.last4, funding=method.funding.value
            )
        return cls(type="upi", vpa=method.vpa)


class PaymentSchema(_View):
    """A payment in JSON, for a host's API or a status page."""

    payment_id: str
    account_id: str
    quote_id: str
    amount: MoneySchema
    status: str
    method: PaymentMethodSchema | None
    gateway_payment_id: str | None
    created_at: AwareDatetime
    captured: MoneySchema
    refunded: MoneySchema
    refundable: MoneySchema
    late_capture: bool
    fulfilled: bool

    @classmethod
    def from_domain(cls, payment: Payment) -> PaymentSchema:
        """The JSON form of `payment`."""
        m = MoneySchema.from_domain
        return cls(
            payment_id=payment.payment_id,
            account_id=payment.account_id,
            quote_id=payment.quote_id,
            amount=m(payment.amount),
            status=payment.status.value,
            method=None
            if payment.method is None
            else PaymentMethodSchema.from_domain(payment.method),
            gateway_payment_id=payment.gateway_payment_id,
            created_at=payment.created_at,
            captured=m(payment.captured),
            refunded=m(payment.refunded.rounded()),
            refundable=m(payment.refundable.rounded()),
            late_capture=payment.late_capture,
            fulfilled=payment.fulfilled,
        )
