"""The ports minutebill's service layer depends on, as `typing.Protocol`s.

Adapter authors implement these; the service never imports an adapter.

- **Persistence**: `UnitOfWork` and its repositories (defined in `minutebill._unit_of_work`):
  aggregates saved as documents with optimistic versions, usage records with per-day totals,
  an idempotency store and a transactional outbox. `minutebill.testing.uow_contract` holds the
  contract suite an implementation must pass.
- **Payments**: `PaymentGateway` and the values crossing it (defined in `minutebill.gateway`).
- **Time and events**: `Clock`, `EventPublisher`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from minutebill._unit_of_work import (
    AggregateRepository,
    IdempotencyStore,
    Outbox,
    OutboxEntry,
    StoredResponse,
    UnitOfWork,
    UsagePage,
    UsageRepository,
    UsageTotals,
)
from minutebill.domain.events import DomainEvent
from minutebill.domain.payment_events import PaymentEvent, PaymentEventKind
from minutebill.gateway import (
    GatewayPayment,
    GatewayRefund,
    MandateChargeRequest,
    PaymentGateway,
    PaymentRequest,
    RefundRequest,
    RefundStatus,
)

__all__ = [
    "AggregateRepository",
    "Clock",
    "EventPublisher",
    "GatewayPayment",
    "GatewayRefund",
    "IdempotencyStore",
    "MandateChargeRequest",
    "Outbox",
    "OutboxEntry",
    "PaymentEvent",
    "PaymentEventKind",
    "PaymentGateway",
    "PaymentRequest",
    "RefundRequest",
    "RefundStatus",
    "StoredResponse",
    "UnitOfWork",
    "UsagePage",
    "UsageRepository",
    "UsageTotals",
]


class Clock(Protocol):
    """Where the service reads the time. The domain never does; time is passed in."""

    def now(self) -> datetime:
        """The current instant: timezone-aware, in UTC."""
        ...


class EventPublisher(Protocol):
    """Receives domain events after the unit of work that recorded them has committed."""

    def publish(self, events: Sequence[DomainEvent]) -> None:
        """Deliver `events` in order.

        Called once per unit of work that committed events, right after its commit, and
        never again for them: events whose publishing failed or was cut short by a crash
        are in the outbox all the same, which a host that must never miss one reads
        instead (`Outbox.since`). An exception raised here reaches the caller of the use
        case, whose commit stands (retrying it with the same idempotency key is safe).
        """
        ...


# --- Payment gateway -------------------------------------------------------------------------
# `PaymentGateway` and the values crossing it live in `minutebill.gateway` (re-exported above):
# requests carry our reference, an idempotency key and amounts in minor units; responses map
# the gateway's statuses to `PaymentStatus`; webhooks become `PaymentEvent`s.
