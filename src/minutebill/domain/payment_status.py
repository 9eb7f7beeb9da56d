"""`PaymentStatus`, and how a payment's status follows from the set of events it has seen.

Gateways deliver events twice, late, before the API response, and out of order. So the status
is a function of the **set** of events (never of their arrival order), built so that adding an
event only ever moves the status forward, with one exception — late authorisation:

- A success counts if the gateway reports it at or before the payment's *deadline*
  (``created_at + authorization_window``): the payment delivers what it bought. It wins over
  everything else: money moved.
  Refunds turn it into PARTIALLY_REFUNDED, then REFUNDED.
- A success reported after the deadline is a *late capture*: it buys nothing, and the money
  is returned (see `minutebill.domain.fulfilment`). Money moved all the same, so it too wins
  over every failure and cancel: SUCCEEDED (`Payment.late_capture` says it is owed back),
  then PARTIALLY_REFUNDED and REFUNDED as the refunds come back; never FAILED.
- Otherwise CANCELED wins; otherwise, between FAILED and AUTHORIZED, the one the gateway
  reported last (by its own instant) wins, counting only authorisations up to the deadline.
  This is the late-authorisation exception: FAILED → AUTHORIZED.
- Otherwise the furthest of CREATED < PENDING < ACTION_REQUIRED.

The deadline is anchored at the payment's creation, not at a failure, so whether a success
counts never depends on which other events have arrived: the same success is decided the same
way in every order, and fulfilment happens at most once, the same way.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from datetime import datetime

from attrs import frozen

from minutebill.domain.money import Money, sum_money
from minutebill.domain.payment_events import PaymentEvent, PaymentEventKind

__all__ = ["PaymentStatus", "StatusSummary", "summarise"]


class PaymentStatus(enum.Enum):
    """Where a payment stands.

    `rank` orders them; transitions only go up, except late authorisation (FAILED →
    AUTHORIZED).
    """

    CREATED = "created"
    PENDING = "pending"
    ACTION_REQUIRED = "action_required"
    AUTHORIZED = "authorized"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    REFUNDED = "refunded"
    PARTIALLY_REFUNDED = "partially_refunded"

    @property
    def rank(self) -> int:
        """Position in the forward order: CREATED 0 … REFUNDED 8."""
        return _ORDER.index(self)

    def may_become(self, other: PaymentStatus) -> bool:
        """Whether moving from this status to `other` is allowed (forward, or late auth)."""
        late_authorisation = self is PaymentStatus.FAILED and other in (
            PaymentStatus.AUTHORIZED,
            PaymentStatus.SUCCEEDED,
        )
        return other.rank >= self.rank or late_authorisation

    @property
    def is_open(self) -> bool:
        """Whether the payment may still succeed in the normal course (no outcome yet)."""
        return self in _OPEN


_ORDER = (
    PaymentStatus.CREATED,
    PaymentStatus.PENDING,
    PaymentStatus.ACTION_REQUIRED,
    PaymentStatus.AUTHORIZED,
    PaymentStatus.FAILED,
    PaymentStatus.CANCELED,
    PaymentStatus.SUCCEEDED,
    PaymentStatus.PARTIALLY_REFUNDED,
    PaymentStatus.REFUNDED,
)
_OPEN = frozenset(
    {
        PaymentStatus.CREATED,
        PaymentStatus.PENDING,
        PaymentStatus.ACTION_REQUIRED,
        PaymentStatus.AUTHORIZED,
    }
)


@frozen
class StatusSummary:
    """What a set of events says about a payment.

    Attributes:
        status: The status.
        captured_at: The earliest success the gateway reported, if any (money moved then).
        accepted: Whether a success was reported by the deadline (False: late capture).
        refunded: The sum of refunds that succeeded.
        refunds: Each refund seen in events, with its amount and whether it succeeded, under
            our refund id if the event's id is ours or a known gateway id for one of ours,
            else under the id the event carries.
        captured: What the gateway captured once a success was reported: the amount the
            successes state (the payment's when none states one), else None.
    """

    status: PaymentStatus
    captured_at: datetime | None
    accepted: bool
    refunded: Money
    refunds: tuple[tuple[str, Money, bool], ...]
    captured: Money | None = None


def summarise(
    events: Iterable[PaymentEvent],
    *,
    amount: Money,
    deadline: datetime,
    refund_ids: Mapping[str, str] | None = None,
) -> StatusSummary:
    """Fold a set of events (order and duplicates irrelevant) into a `StatusSummary`.

    Args:
        events: The events seen.
        amount: The payment's amount.
        deadline: The last instant at which a success counts.
        refund_ids: Our refund id for each gateway refund id we know: a refund event may carry
            either, and both name one refund, counted once.
    """
    ours = refund_ids or {}
    by_kind: dict[PaymentEventKind, list[datetime]] = {k: [] for k in PaymentEventKind}
    refunds: dict[str, tuple[Money, bool]] = {}
    stated: list[Money] = []  # the amounts the successes state
    for event in events:
        by_kind[event.kind].append(event.occurred_at)
        if event.kind is PaymentEventKind.SUCCEEDED and event.amount is not None:
            stated.append(event.amount)
        if event.kind.is_refund and event.refund_id is not None and event.amount is not None:
            refund_id = ours.get(event.refund_id, event.refund_id)
            succeeded = event.kind is PaymentEventKind.REFUND_SUCCEEDED
            known = refunds.get(refund_id)
            refunds[refund_id] = (event.amount, succeeded or bool(known and known[1]))
    refunded = sum_money((m for m, ok in refunds.values() if ok), amount.currency)
    successes = by_kind[PaymentEventKind.SUCCEEDED]
    captured_at = min(successes) if successes else None
    captured = (
        None if captured_at is None else min(stated, default=amount)  # one amount: see apply
    )
    accepted = any(at <= deadline for at in successes)
    status = _status(
        by_kind,
        captured=captured_at is not None,
        refunded=refunded,
        amount=amount if captured is None else captured,
        deadline=deadline,
    )
    table = tuple(sorted((rid, money, ok) for rid, (money, ok) in refunds.items()))
    return StatusSummary(status, captured_at, accepted, refunded, table, captured)


def _status(
    by_kind: dict[PaymentEventKind, list[datetime]],
    *,
    captured: bool,
    refunded: Money,
    amount: Money,
    deadline: datetime,
) -> PaymentStatus:
    if captured:  # in time or late: money moved, and what came back of it is the story
        if refunded >= amount:
            return PaymentStatus.REFUNDED
        return PaymentStatus.PARTIALLY_REFUNDED if refunded else PaymentStatus.SUCCEEDED
    if by_kind[PaymentEventKind.CANCELED]:
        return PaymentStatus.CANCELED
    failures = by_kind[PaymentEventKind.FAILED]
    authorisations = [at for at in by_kind[PaymentEventKind.AUTHORIZED] if at <= deadline]
    if authorisations and (not failures or max(authorisations) > max(failures)):
        return PaymentStatus.AUTHORIZED
    if failures:
        return PaymentStatus.FAILED
    return _progress(by_kind)


def _progress(by_kind: dict[PaymentEventKind, list[datetime]]) -> PaymentStatus:
    if by_kind[PaymentEventKind.ACTION_REQUIRED]:
        return PaymentStatus.ACTION_REQUIRED
    if by_kind[PaymentEventKind.PENDING]:
        return PaymentStatus.PENDING
    return PaymentStatus.CREATED
