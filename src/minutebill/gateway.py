"""The payment-gateway port: `PaymentGateway` and the values that cross it.

Re-exported from `minutebill.ports`. Amounts cross the port in **minor units** (paise, cents),
the form every gateway API uses, so no decimal ever travels over the wire. Every call that
moves money carries our reference and an idempotency key: sending the same request again
with the same key must never move money twice.

An adapter translates its gateway's statuses into `PaymentStatus`, its webhooks into
`PaymentEvent`s, and its failures into the `GatewayError` tree (`GatewayTimeout` and
`GatewayUnavailable` are retryable with the same key; `GatewayRejected` is not). The shared
suite `minutebill.testing.contracts.PaymentGatewayContract` checks exactly what is promised
here.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

from attrs import field, frozen

from minutebill.domain.money import Money, currency_exponent
from minutebill.domain.payment_events import PaymentEvent, PaymentEventKind
from minutebill.domain.payment_methods import Card, PaymentMethod, Upi
from minutebill.domain.payment_status import PaymentStatus
from minutebill.domain.payments import Payment
from minutebill.domain.periods import to_utc
from minutebill.domain.text import require_text
from minutebill.errors import ValidationError

__all__ = [
    "GatewayPayment",
    "GatewayRefund",
    "MandateChargeRequest",
    "PaymentGateway",
    "PaymentRequest",
    "RefundRequest",
    "RefundStatus",
]


def _minor(name: str, value: object, *, positive: bool = True) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < (1 if positive else 0):
        raise ValidationError(name, value, "an int count of minor units, > 0")


def _currency(value: object) -> None:
    if not isinstance(value, str):
        raise ValidationError("currency", value, "an ISO 4217 code")
    currency_exponent(value)


def _aware(value: datetime) -> datetime:
    return to_utc(value, "updated_at")


def _optional_aware(value: datetime | None) -> datetime | None:
    return None if value is None else to_utc(value, "captured_at")


@frozen(kw_only=True)
class PaymentRequest:
    """Ask the gateway to collect a payment (hosted checkout, UPI collect or intent, card).

    Attributes:
        reference: Our payment id; the gateway echoes it in responses and webhooks.
        idempotency_key: The same key with the same request returns the same payment.
        amount_minor: The amount in minor units (15000 is ₹150.00).
        currency: ISO 4217 code.
        customer_id: Our account id.
        description: What the customer sees.
        method: The method chosen in our checkout, if any (the UPI address to collect from).
        return_url: Where a hosted page sends the customer back.
    """

    reference: str
    idempotency_key: str
    amount_minor: int
    currency: str
    customer_id: str
    description: str
    method: PaymentMethod | None = None
    return_url: str | None = None

    def __attrs_post_init__(self) -> None:
        for name in ("reference", "idempotency_key", "customer_id", "description"):
            require_text(name, getattr(self, name))
        _minor("amount_minor", self.amount_minor)
        _currency(self.currency)
        if self.method is not None and not isinstance(self.method, Upi | Card):
            raise ValidationError("method", self.method, "expected Upi or Card")

    @classmethod
    def for_payment(
        cls, payment: Payment, *, description: str, return_url: str | None = None
    ) -> PaymentRequest:
        """The request that collects `payment`, under its id and idempotency key."""
        return cls(
            reference=payment.payment_id,
            idempotency_key=payment.idempotency_key,
            amount_minor=payment.amount.minor_units,
            currency=payment.amount.currency,
            customer_id=payment.account_id,
            description=description,
            method=payment.method,
            return_url=return_url,
        )

    @property
    def amount(self) -> Money:
        """The amount as `Money`."""
        return Money.from_minor_units(self.amount_minor, self.currency)


@frozen(kw_only=True)
class MandateChargeRequest:
    """Charge a saved mandate off-session (UPI AutoPay, card e-mandate) for a renewal.

    Attributes:
        reference: Our payment id.
        idempotency_key: As for `PaymentRequest`.
        amount_minor: The amount in minor units.
        currency: ISO 4217 code.
        customer_id: Our account id.
        mandate_id: The gateway's id of the customer's mandate.
        description: What the customer's statement shows.
        pre_debit_notified_at: When the customer was told of this debit (RBI: at least 24 h
            before), if we sent the notice; None if the gateway sends it.
    """

    reference: str
    idempotency_key: str
    amount_minor: int
    currency: str
    customer_id: str
    mandate_id: str
    description: str
    pre_debit_notified_at: datetime | None = None

    def __attrs_post_init__(self) -> None:
        for name in ("reference", "idempotency_key", "customer_id", "mandate_id", "description"):
            require_text(name, getattr(self, name))
        _minor("amount_minor", self.amount_minor)
        _currency(self.currency)
        if self.pre_debit_notified_at is not None:
            to_utc(self.pre_debit_notified_at, "pre_debit_notified_at")

    @classmethod
    def for_payment(
        cls,
        payment: Payment,
        *,
        mandate_id: str,
        description: str,
        pre_debit_notified_at: datetime | None = None,
    ) -> MandateChargeRequest:
        """The off-session charge that collects `payment` from `mandate_id`."""
        return cls(
            reference=payment.payment_id,
            idempotency_key=payment.idempotency_key,
            amount_minor=payment.amount.minor_units,
            currency=payment.amount.currency,
            customer_id=payment.account_id,
            mandate_id=mandate_id,
            description=description,
            pre_debit_notified_at=pre_debit_notified_at,
        )

    @property
    def amount(self) -> Money:
        """The amount as `Money`."""
        return Money.from_minor_units(self.amount_minor, self.currency)


@frozen(kw_only=True)
class RefundRequest:
    """Return (part of) a captured payment.

    Attributes:
        gateway_payment_id: The gateway's id of the payment.
        payment_reference: Our payment id.
        refund_reference: Our id for this refund; the gateway echoes it in refund events.
        idempotency_key: The same key with the same request refunds once.
        amount_minor: The amount to refund, in minor units.
        currency: ISO 4217 code.
        reason: Why, for the gateway's records.
    """

    gateway_payment_id: str
    payment_reference: str
    refund_reference: str
    idempotency_key: str
    amount_minor: int
    currency: str
    reason: str | None = None

    def __attrs_post_init__(self) -> None:
        for name in ("gateway_payment_id", "payment_reference", "refund_reference"):
            require_text(name, getattr(self, name))
        require_text("idempotency_key", self.idempotency_key)
        _minor("amount_minor", self.amount_minor)
        _currency(self.currency)

    @classmethod
    def for_refund(
        cls, payment: Payment, *, refund_id: str, amount: Money, reason: str | None = None
    ) -> RefundRequest:
        """The request for a refund reserved with `Payment.request_refund`.

        Raises:
            ValidationError: if the payment has no gateway id yet.
        """
        if payment.gateway_payment_id is None:
            raise ValidationError("payment", payment.payment_id, "not known to the gateway yet")
        return cls(
            gateway_payment_id=payment.gateway_payment_id,
            payment_reference=payment.payment_id,
            refund_reference=refund_id,
            idempotency_key=refund_id,
            amount_minor=amount.minor_units,
            currency=amount.currency,
            reason=reason,
        )

    @property
    def amount(self) -> Money:
        """The amount as `Money`."""
        return Money.from_minor_units(self.amount_minor, self.currency)


_STATUS_EVENTS = {
    PaymentStatus.PENDING: PaymentEventKind.PENDING,
    PaymentStatus.ACTION_REQUIRED: PaymentEventKind.ACTION_REQUIRED,
    PaymentStatus.AUTHORIZED: PaymentEventKind.AUTHORIZED,
    PaymentStatus.SUCCEEDED: PaymentEventKind.SUCCEEDED,
    PaymentStatus.FAILED: PaymentEventKind.FAILED,
    PaymentStatus.CANCELED: PaymentEventKind.CANCELED,
    PaymentStatus.PARTIALLY_REFUNDED: PaymentEventKind.SUCCEEDED,
    PaymentStatus.REFUNDED: PaymentEventKind.SUCCEEDED,
}


@frozen(kw_only=True)
class GatewayPayment:
    """A payment as the gateway reports it, its status mapped to ours.

    Attributes:
        gateway_payment_id: The gateway's id.
        reference: Our payment id, echoed.
        status: The gateway's status in minutebill's terms.
        amount_minor: The amount in minor units.
        currency: ISO 4217 code.
        updated_at: When the gateway's status last changed (UTC).
        next_action_url: Where the customer completes an ACTION_REQUIRED step.
        failure_reason: The gateway's reason for FAILED.
        captured_at: When the gateway captured the money, for a captured payment (UTC). Fill it
            in: every report of one capture must carry the same instant.
    """

    gateway_payment_id: str
    reference: str
    status: PaymentStatus
    amount_minor: int
    currency: str
    updated_at: datetime = field(converter=_aware)
    next_action_url: str | None = None
    failure_reason: str | None = None
    captured_at: datetime | None = field(default=None, converter=_optional_aware)

    def __attrs_post_init__(self) -> None:
        require_text("gateway_payment_id", self.gateway_payment_id)
        require_text("reference", self.reference)
        if not isinstance(self.status, PaymentStatus):
            raise ValidationError("status", self.status, "expected a PaymentStatus")
        _minor("amount_minor", self.amount_minor)
        _currency(self.currency)

    @property
    def amount(self) -> Money:
        """The amount as `Money`."""
        return Money.from_minor_units(self.amount_minor, self.currency)

    def to_event(self) -> PaymentEvent | None:
        """This observation as a `PaymentEvent` for `Payment.apply` (None for CREATED).

        The event id is derived from the gateway id, the status and its instant, so seeing the
        same response twice (a retried create, a repeated poll) is one event. A captured
        payment is reported as its success at `captured_at` (for SUCCEEDED without it,
        `updated_at`); refunds arrive as their own events.
        """
        kind = _STATUS_EVENTS.get(self.status)
        at = self.updated_at
        if kind is PaymentEventKind.SUCCEEDED:
            if self.captured_at is None and self.status is not PaymentStatus.SUCCEEDED:
                return None  # refunded since: updated_at is not the capture instant
            at = self.captured_at or self.updated_at
        if kind is None:
            return None
        return PaymentEvent(
            event_id=f"observed:{self.gateway_payment_id}:{kind.value}:{at.isoformat()}",
            kind=kind,
            payment_reference=self.reference,
            gateway_payment_id=self.gateway_payment_id,
            occurred_at=at,
            amount=self.amount if kind is PaymentEventKind.SUCCEEDED else None,
            reason=self.failure_reason if kind is PaymentEventKind.FAILED else None,
        )


class RefundStatus(enum.Enum):
    """Where a refund stands at the gateway."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@frozen(kw_only=True)
class GatewayRefund:
    """A refund as the gateway reports it.

    Attributes:
        refund_id: The gateway's id of the refund.
        refund_reference: Our refund id, echoed.
        gateway_payment_id: The payment refunded.
        payment_reference: Our payment id.
        amount_minor: The amount in minor units.
        currency: ISO 4217 code.
        status: Pending, succeeded or failed.
        updated_at: When its status last changed (UTC).
    """

    refund_id: str
    refund_reference: str
    gateway_payment_id: str
    payment_reference: str
    amount_minor: int
    currency: str
    status: RefundStatus
    updated_at: datetime = field(converter=_aware)

    def __attrs_post_init__(self) -> None:
        for name in ("refund_id", "refund_reference", "gateway_payment_id", "payment_reference"):
            require_text(name, getattr(self, name))
        _minor("amount_minor", self.amount_minor)
        _currency(self.currency)
        if not isinstance(self.status, RefundStatus):
            raise ValidationError("status", self.status, "expected a RefundStatus")

    @property
    def amount(self) -> Money:
        """The amount as `Money`."""
        return Money.from_minor_units(self.amount_minor, self.currency)

    def to_event(self) -> PaymentEvent | None:
        """This observation as a `PaymentEvent` (None while pending)."""
        if self.status is RefundStatus.PENDING:
            return None
        kind = (
            PaymentEventKind.REFUND_SUCCEEDED
            if self.status is RefundStatus.SUCCEEDED
            else PaymentEventKind.REFUND_FAILED
        )
        return PaymentEvent(
            event_id=f"observed:{self.refund_id}:{kind.value}",
            kind=kind,
            payment_reference=self.payment_reference,
            gateway_payment_id=self.gateway_payment_id,
            occurred_at=self.updated_at,
            amount=self.amount,
            refund_id=self.refund_reference,
        )


class PaymentGateway(Protocol):
    """A payment gateway (Razorpay, Stripe, PayU, Cashfree, ...) as minutebill needs it.

    Every method may raise `GatewayTimeout` or `GatewayUnavailable` (retryable: send the same
    request with the same idempotency key again) or `GatewayRejected` (not retryable).
    """

    def create_payment(self, request: PaymentRequest) -> GatewayPayment:
        """Start collecting a payment.

        A declined payment is not an error: it comes back with status FAILED.

        Postconditions: the result echoes ``request.reference``, amount and currency. The
        same idempotency key with the same request returns the same gateway payment, without
        collecting twice, however often it is sent.

        Raises:
            IdempotencyConflict: if the key was used for a different request.
            GatewayRejected: for a request the gateway refuses (bad UPI address, ...).
        """
        ...

    def get_payment(self, gateway_payment_id: str) -> GatewayPayment:
        """The payment's current state, for reconciliation when webhooks are late or lost.

        Raises:
            NotFound: for an id the gateway does not know.
        """
        ...

    def charge_mandate(self, request: MandateChargeRequest) -> GatewayPayment:
        """Charge a saved mandate off-session (auto-pay).

        An amount above the no-authentication limit (INR 15,000 for Indian e-mandates) comes
        back as ACTION_REQUIRED: the customer must approve it.

        Raises:
            IdempotencyConflict: if the key was used for a different request.
            GatewayRejected: for an unknown or revoked mandate.
        """
        ...

    def refund(self, request: RefundRequest) -> GatewayRefund:
        """Refund (part of) a captured payment.

        Postconditions: refunds of one payment never total more than was captured; the same
        idempotency key with the same request refunds once.

        Raises:
            GatewayRejected: if the payment captured nothing or the amount exceeds what is
                left to refund.
            IdempotencyConflict: if the key was used for a different request.
            NotFound: for an unknown payment.
        """
        ...

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> PaymentEvent:
        """Verify a webhook's signature over the **raw** body bytes, then parse it.

        Verify before parsing, in constant time (`hmac.compare_digest`); never re-serialise
        the body. Header names are matched case-insensitively.

        Raises:
            WebhookVerificationError: for a missing or wrong signature (a changed byte, a
                re-serialised body, another secret).
            ValidationError: for a verified body that is not a payment event.
        """
        ...
