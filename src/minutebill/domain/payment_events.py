"""Events about payments: what gateways report, and what a payment records.

`PaymentEvent` is one fact a payment gateway reported about one payment. The domain events
(`PaymentCreated`, `PaymentStatusChanged`, `PaymentCaptured`, `RefundRequested`,
`RefundFailed`, `FulfilmentDecided`) are what a `Payment` records for the outbox once they are
folded in.

Gateway adapters turn webhooks (`PaymentGateway.parse_webhook`) and API responses
(`GatewayPayment.to_event`) into these; `Payment.apply` folds them into the payment. Events
arrive duplicated, late and out of order, so each carries the gateway's own id (a duplicate is
recognised by it) and the instant the gateway says it happened (the order that counts).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

from attrs import field, frozen

from minutebill.domain.events import DomainEvent
from minutebill.domain.money import Money
from minutebill.domain.periods import to_utc
from minutebill.domain.state import (
    State,
    instant_from_state,
    instant_to_state,
    money_from_state,
    money_to_state,
)
from minutebill.domain.text import require_key
from minutebill.errors import ValidationError

if TYPE_CHECKING:  # payment_status imports this module; the annotation is all we need
    from minutebill.domain.payment_status import PaymentStatus

__all__ = [
    "FulfilmentDecided",
    "PaymentCaptured",
    "PaymentCreated",
    "PaymentEvent",
    "PaymentEventKind",
    "PaymentStatusChanged",
    "RefundFailed",
    "RefundRequested",
]


class PaymentEventKind(enum.Enum):
    """What the gateway reported."""

    PENDING = "pending"
    ACTION_REQUIRED = "action_required"
    AUTHORIZED = "authorized"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    REFUND_SUCCEEDED = "refund_succeeded"
    REFUND_FAILED = "refund_failed"

    @property
    def is_refund(self) -> bool:
        """Whether this kind reports on a refund rather than on the payment."""
        return self in (PaymentEventKind.REFUND_SUCCEEDED, PaymentEventKind.REFUND_FAILED)


def _event_id(value: object) -> str:
    return require_key("event_id", value)


def _reference(value: object) -> str:
    return require_key("payment_reference", value)


def _gateway_id(value: object) -> str:
    return require_key("gateway_payment_id", value)


def _occurred_at(value: datetime) -> datetime:
    return to_utc(value, "occurred_at")


@frozen(kw_only=True)
class PaymentEvent:
    """A gateway's report on one payment (or one of its refunds).

    Attributes:
        event_id: The gateway's id for this event; the same id twice is one event.
        kind: What happened.
        payment_reference: Our reference for the payment (the gateway echoes it back).
        gateway_payment_id: The gateway's id for the payment.
        occurred_at: When the gateway says it happened (UTC).
        amount: The amount concerned: captured or authorised, or refunded. Required for
            refunds; optional otherwise (checked against the payment when given).
        refund_id: For refunds: our refund reference if the gateway echoes it, else the
            gateway's refund id. `Payment` matches either to our request (the gateway's once
            `Payment.record_refund_sent` noted it). Absent for other kinds.
        reason: The gateway's failure reason, if any.
    """

    event_id: str = field(converter=_event_id)
    kind: PaymentEventKind
    payment_reference: str = field(converter=_reference)
    gateway_payment_id: str = field(converter=_gateway_id)
    occurred_at: datetime = field(converter=_occurred_at)
    amount: Money | None = None
    refund_id: str | None = None
    reason: str | None = None

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.kind, PaymentEventKind):
            raise ValidationError("kind", self.kind, "expected a PaymentEventKind")
        if self.amount is not None and (
            not isinstance(self.amount, Money)
            or not self.amount.is_rounded()
            or self.amount.amount <= 0
        ):
            raise ValidationError("amount", self.amount, "positive Money in whole minor units")
        if self.kind.is_refund:
            require_key("refund_id", self.refund_id)
            if self.amount is None:
                raise ValidationError("amount", None, "a refund event states its amount")
        elif self.refund_id is not None:
            raise ValidationError("refund_id", self.refund_id, f"{self.kind.value} has no refund")

    def to_state(self) -> State:
        """This event as a JSON-compatible dict."""
        return {
            "event_id": self.event_id,
            "kind": self.kind.value,
            "payment_reference": self.payment_reference,
            "gateway_payment_id": self.gateway_payment_id,
            "occurred_at": instant_to_state(self.occurred_at),
            "amount": None if self.amount is None else money_to_state(self.amount),
            "refund_id": self.refund_id,
            "reason": self.reason,
        }

    @classmethod
    def from_state(cls, state: State) -> PaymentEvent:
        """The event that `to_state` encoded."""
        amount = state["amount"]
        return cls(
            event_id=state["event_id"],
            kind=PaymentEventKind(state["kind"]),
            payment_reference=state["payment_reference"],
            gateway_payment_id=state["gateway_payment_id"],
            occurred_at=instant_from_state(state["occurred_at"]),
            amount=None if amount is None else money_from_state(amount),
            refund_id=state["refund_id"],
            reason=state["reason"],
        )


@frozen(kw_only=True)
class PaymentCreated(DomainEvent):
    """A payment was started for a quote."""

    payment_id: str
    quote_id: str
    amount: Money


@frozen(kw_only=True)
class PaymentStatusChanged(DomainEvent):
    """A gateway event moved a payment's status."""

    payment_id: str
    previous: PaymentStatus
    status: PaymentStatus


@frozen(kw_only=True)
class PaymentCaptured(DomainEvent):
    """The gateway captured the money; `late` if after the authorisation window."""

    payment_id: str
    amount: Money
    late: bool


@frozen(kw_only=True)
class CaptureMismatched(DomainEvent):
    """The gateway captured another amount than the payment's.

    Nothing is delivered for such a payment: all that was captured is refunded (see
    `Unfulfillable.CAPTURE_MISMATCH`). Worth an alert: a gateway or integration fault.

    Attributes:
        amount: What the payment asked for.
        captured: What the gateway reports it captured.
    """

    payment_id: str
    amount: Money
    captured: Money


@frozen(kw_only=True)
class RefundRequested(DomainEvent):
    """A refund was reserved against the captured amount, to be sent to the gateway."""

    payment_id: str
    refund_id: str
    amount: Money


@frozen(kw_only=True)
class RefundFailed(DomainEvent):
    """A refund will not happen: the gateway reported it failed, or refused to take it.

    The money it reserved is refundable again; what to do with it (ask the customer for
    other details, credit the wallet) is the host's decision.
    """

    payment_id: str
    refund_id: str
    amount: Money
    reason: str | None


@frozen(kw_only=True)
class FulfilmentDecided(DomainEvent):
    """What a payment buys was decided (once)."""

    payment_id: str
    quote_id: str
    remedy_amount: Money
    complete: bool
