"""Call admission: may this call start now, wait in line, or not at all?

`admit` decides from the plan subscription (is it in service?), the plan's `concurrent_calls`
(the ledger's active calls hold the slots), the platform's shared capacity if it has one, the
minute ledger (a hold for the call's maximum length, or the policy's initial hold) and the
`CallQueue`. It returns one of three values, never raises for an ordinary refusal:

* `Admitted(reservation)` — the call may start; its minutes are held and its slot taken.
* `Queued(position, call)` — it waits in line (boosted by the plan's `queue_priority`).
* `Rejected(reason)` — it may not start; `reason.message` is text a host can show.

When a call ends, is abandoned or times out, its slot frees: the host then asks the queue for
`next_admittable` calls and admits them, before admitting new arrivals, so no waiting call is
passed by one ranked below it that could have taken the same slot.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import NoReturn, cast

from attrs import frozen

from minutebill.domain.call_queue import CallQueue, WaitingCall
from minutebill.domain.ledger import MinuteLedger, Reservation
from minutebill.domain.overage_funds import OverageFunds
from minutebill.domain.periods import to_utc
from minutebill.domain.subscriptions import Subscription, SubscriptionStatus
from minutebill.domain.text import require_key
from minutebill.domain.usage import trusted_constructor
from minutebill.errors import (
    IdempotencyConflict,
    InsufficientMinutes,
    LimitExceeded,
    ValidationError,
)

__all__ = [
    "AdmissionDecision",
    "AdmissionPolicy",
    "Admitted",
    "CallRequest",
    "Queued",
    "Rejected",
    "RejectionReason",
    "abandon_call",
    "admit",
    "free_slots",
]


def _require_seconds(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(name, value, "a whole number of seconds >= 1")


class RejectionReason(enum.Enum):
    """Why a call may not start. The value is a stable code; `message` is text to show."""

    NO_MINUTES = "no_minutes"
    QUEUE_FULL = "queue_full"
    SUBSCRIPTION_EXPIRED = "subscription_expired"
    SUBSCRIPTION_PAST_DUE = "subscription_past_due"
    SUBSCRIPTION_INACTIVE = "subscription_inactive"
    TIMED_OUT = "timed_out"

    @property
    def message(self) -> str:
        """A sentence a host can show the customer (English; translate by `value`)."""
        return _MESSAGES[self]


_MESSAGES = {
    RejectionReason.NO_MINUTES: (
        "No minutes left on this plan. Buy add-on minutes or top up the wallet to place calls."
    ),
    RejectionReason.QUEUE_FULL: (
        "All call slots are busy and the waiting line is full. Please try again shortly."
    ),
    RejectionReason.SUBSCRIPTION_EXPIRED: (
        "Your plan has expired. Renew or choose a plan to place calls."
    ),
    RejectionReason.SUBSCRIPTION_PAST_DUE: (
        "Your plan's renewal payment failed. Update your payment method to place calls."
    ),
    RejectionReason.SUBSCRIPTION_INACTIVE: "Your plan has not started yet.",
    RejectionReason.TIMED_OUT: "The call waited too long for a free line and was dropped.",
}


@frozen
class AdmissionPolicy:
    """How admission holds minutes and treats a past-due plan.

    Attributes:
        initial_hold_seconds: Seconds held for a call that states no maximum length (the
            hold caps how long the call may run on the account's minutes).
        admit_past_due: Whether calls may start while a failed renewal is within its grace
            period (True: grace means service continues).
    """

    initial_hold_seconds: int = 300
    admit_past_due: bool = True

    def __attrs_post_init__(self) -> None:
        _require_seconds("initial_hold_seconds", self.initial_hold_seconds)


@frozen
class CallRequest:
    """A call asking to start.

    Attributes:
        call_id: The host's id of the call; unique per account.
        account_id: The account that pays for it.
        max_seconds: The call's maximum length, held in full; None for the policy's initial
            hold.
    """

    call_id: str
    account_id: str
    max_seconds: int | None = None

    def __attrs_post_init__(self) -> None:
        for name in ("call_id", "account_id"):
            value = getattr(self, name)
            require_key(name, value)
        if self.max_seconds is not None:
            _require_seconds("max_seconds", self.max_seconds)


@frozen
class Admitted:
    """The call may start: its slot is taken and its minutes held.

    Attributes:
        reservation: The hold (possibly partial: see `Reservation.partial`).
    """

    reservation: Reservation


@frozen
class Queued:
    """The call waits for a slot.

    Attributes:
        position: Its 1-based place in line (across accounts, boosted tiers first).
        call: The waiting call (its `expires_at` says when it times out).
    """

    position: int
    call: WaitingCall


@frozen
class Rejected:
    """The call may not start.

    Attributes:
        reason: Why; `reason.message` is text a host can show.
    """

    reason: RejectionReason

    @property
    def message(self) -> str:
        """The reason's text."""
        return self.reason.message


AdmissionDecision = Admitted | Queued | Rejected
"""What `admit` returns."""

DEFAULT_POLICY = AdmissionPolicy()
_ACTIVE = SubscriptionStatus.ACTIVE  # an enum member read through its class costs ~0.1 µs
_new_admitted = trusted_constructor(Admitted, "reservation")


def free_slots(subscription: Subscription, ledger: MinuteLedger) -> int:
    """Concurrent-call slots the account has free (the plan's limit minus active calls)."""
    return max(subscription.plan.features.concurrent_calls - ledger.active_count(), 0)


def admit(  # noqa: PLR0912 - the hot path keeps its checks in line, not in calls
    call: CallRequest | WaitingCall,
    at: datetime,
    *,
    subscription: Subscription,
    ledger: MinuteLedger,
    queue: CallQueue,
    policy: AdmissionPolicy = DEFAULT_POLICY,
    free_capacity: int | None = None,
    overage_funded: bool = True,
    overage_funds: OverageFunds | None = None,
) -> AdmissionDecision:
    """Decide whether `call` may start at `at`; hold its minutes if so.

    A new arrival (`CallRequest`) starts when the subscription is in service, the account has
    a free slot and none of its calls is already waiting, the platform has capacity and the
    ledger can hold minutes; otherwise it joins the queue at the plan's `queue_priority`.
    A call taken from the queue (`WaitingCall`, from `CallQueue.next_admittable`) starts or,
    if it still cannot, goes back to its old place.

    Asking again for a call that was admitted returns its hold; for one that is waiting, its
    place. A waiting call is the account's own: call ids are unique per account, so another
    account's call of the same id, waiting or not, changes nothing here. Nothing changes on a
    rejection. A call id the ledger knows ended (settled, released or hold-expired: see
    `MinuteLedger.refuse_ended`) is refused, whether or not a slot is free; a call id settled
    before the ledger was loaded is known only to the store's usage records, which
    `Billing.start_call` asks first.

    Args:
        call: The call.
        at: Now.
        subscription: The account's plan subscription.
        ledger: The account's minute ledger.
        queue: The waiting line (shared by the accounts of one routing process).
        policy: Hold size and past-due rule.
        free_capacity: Free slots in the platform's shared pool (trunk channels, agent
            workers); None when the platform sets no shared limit.
        overage_funded: Whether the account can pay for overage now. False (under
            charge-the-wallet, a wallet that cannot pay the first charge a call on overage
            incurs, `OveragePolicy.first_charge`):
            with no minutes left the call is rejected (`NO_MINUTES`), as under a blocking
            overage policy, rather than run on overage nobody pays for.
        overage_funds: Under charge-the-wallet, the wallet money a call without minutes
            enough may run on: its hold is capped at what that pays for and keeps it
            (`MinuteLedger.reserve`); None runs such a call on its minutes alone.

    Raises:
        ValidationError: for a bad time or capacity, or aggregates of another account.
        IdempotencyConflict: if a call taken from the queue is also still waiting (the same
            account's call of the same id).
        InvalidTransition: if the call id ended on the ledger before (settled, released or
            hold-expired): call ids are not reused. Nothing changes.
    """
    if at.__class__ is not datetime or at.tzinfo is not UTC:  # the common case costs nothing
        at = to_utc(at)
    account_id = call.account_id
    if subscription.account_id != account_id or ledger.account_id != account_id:
        _refuse_other_account(account_id, subscription, ledger)
    if free_capacity is not None and (
        isinstance(free_capacity, bool) or not isinstance(free_capacity, int) or free_capacity < 0
    ):
        raise ValidationError("free_capacity", free_capacity, "an int >= 0, or None")
    call_id = call.call_id
    if isinstance(call, WaitingCall):
        from_queue, requested = True, call.hold_seconds
    else:
        from_queue, requested = False, call.max_seconds
    # The queue is mostly empty: asking its dict whether anyone waits is the cheapest check.
    waiting_calls = queue.by_key
    if waiting_calls and (waiting := waiting_calls.get((account_id, call_id))) is not None:
        return _still_waiting(call, waiting, ledger, queue)
    if subscription.status is not _ACTIVE or at < subscription.cycle.anchor or not overage_funded:
        refusal = _service_refusal(subscription, at, policy) or _unpaid_refusal(
            ledger, at, overage_funded=overage_funded
        )
        if refusal is not None:
            return _refused(ledger, call_id, refusal)
    if (
        ledger.active_count() < subscription.plan.features.concurrent_calls
        and (free_capacity is None or free_capacity > 0)
        and (from_queue or not waiting_calls or not queue.waiting_for(account_id))
    ):
        # `reserve` returns the hold of a call asked about again (the same seconds) itself.
        # A `CallRequest` checked its call id and seconds, and `at` is UTC: no second check.
        seconds = requested or policy.initial_hold_seconds
        try:
            if from_queue:
                reservation = ledger.reserve(call_id, seconds, at, funds=overage_funds)
            else:
                reservation = ledger._reserve(call_id, seconds, at, overage_funds)  # noqa: SLF001
        except InsufficientMinutes:
            return Rejected(RejectionReason.NO_MINUTES)
        except IdempotencyConflict:  # held already, for other seconds: that hold stands
            return Admitted(cast("Reservation", ledger.reservation(call_id)))
        return _new_admitted(reservation)  # `Admitted(reservation)`, built fast: the hot path
    return _if_held(ledger, call_id) or _wait(call, at, subscription, ledger, queue)


def _refuse_other_account(
    account_id: str, subscription: Subscription, ledger: MinuteLedger
) -> NoReturn:
    """Raise for the aggregate that is not of `account_id` (the subscription first)."""
    if subscription.account_id != account_id:
        raise ValidationError("subscription", subscription.account_id, f"not of {account_id}")
    raise ValidationError("ledger", ledger.account_id, f"not of {account_id}")


def _if_held(ledger: MinuteLedger, call_id: str) -> Admitted | None:
    """`Admitted` with the call's hold if it holds minutes already.

    Asking again about an admitted call returns its hold whatever changed since (its slot
    is taken, its minutes held): the hot path learns that from `reserve`, the others here.
    """
    held = ledger.reservation(call_id)
    return None if held is None else Admitted(held)


def _refused(ledger: MinuteLedger, call_id: str, reason: RejectionReason) -> AdmissionDecision:
    """`Rejected(reason)`, unless the call holds minutes already or ended (then refused)."""
    held = _if_held(ledger, call_id)
    if held is not None:
        return held
    ledger.refuse_ended(call_id, "start")
    return Rejected(reason)


def _still_waiting(
    call: CallRequest | WaitingCall, waiting: WaitingCall, ledger: MinuteLedger, queue: CallQueue
) -> AdmissionDecision:
    """A call that is in line already: its place, or a conflict if it was taken from the line."""
    admitted = _if_held(ledger, call.call_id)
    if admitted is not None:  # admitted before and also in line: never both, but the hold wins
        return admitted
    if isinstance(call, WaitingCall):
        raise IdempotencyConflict(call.call_id, "the call is still waiting in the queue")
    return Queued(queue.position(call.call_id, call.account_id), waiting)


def _wait(
    call: CallRequest | WaitingCall,
    at: datetime,
    subscription: Subscription,
    ledger: MinuteLedger,
    queue: CallQueue,
) -> AdmissionDecision:
    """No slot now: the call joins the line (or goes back to its place), unless it is hopeless.

    A call id that ended on the ledger never waits: it could never be admitted. Nor does one
    under a blocking overage policy with fewer seconds free than the shortest call is billed
    (`BillingIncrement.billed_within`: 30 s on 60/6 hold nothing), whatever slot frees.
    """
    ledger.refuse_ended(call.call_id, "start")
    policy = ledger.policy
    if policy.overage.blocks and (
        ledger.available_seconds(at) < policy.rating.shortest_billed_seconds
    ):
        return Rejected(RejectionReason.NO_MINUTES)
    if isinstance(call, WaitingCall):
        queue.requeue(call)
        return Queued(queue.position(call.call_id, call.account_id), call)
    try:
        position = queue.push(
            call.call_id,
            call.account_id,
            subscription.plan.features.queue_priority,
            at,
            hold_seconds=call.max_seconds,
        )
    except LimitExceeded:
        return Rejected(RejectionReason.QUEUE_FULL)
    return Queued(position, cast("WaitingCall", queue.get(call.call_id, call.account_id)))


def abandon_call(call_id: str, at: datetime, *, ledger: MinuteLedger, queue: CallQueue) -> bool:
    """Free the place or slot of a call that hung up before it connected, exactly once.

    The call is `ledger`'s account's call `call_id`: a waiting call leaves the line (another
    account's call of the same id keeps its place); an admitted call's hold is released.
    Returns True the first time and False after (or for an unknown call), so a slot is never
    freed twice. A call that connected ends with `MinuteLedger.settle` instead.
    """
    at = to_utc(at)
    if queue.abandon(call_id, ledger.account_id) is not None:
        return True
    if ledger.reservation(call_id) is None:
        return False
    ledger.release(call_id, at)
    return True


def _unpaid_refusal(
    ledger: MinuteLedger, at: datetime, *, overage_funded: bool
) -> RejectionReason | None:
    """`NO_MINUTES` when the call could only run on overage that nobody can pay for.

    Seconds fewer than the shortest call is billed hold nothing (`MinuteLedger.reserve`).
    """
    if overage_funded:
        return None
    if ledger.available_seconds(at) >= ledger.policy.rating.shortest_billed_seconds:
        return None
    return RejectionReason.NO_MINUTES


def _service_refusal(
    subscription: Subscription, at: datetime, policy: AdmissionPolicy
) -> RejectionReason | None:
    if subscription.is_in_service(at):
        if subscription.status is SubscriptionStatus.PAST_DUE and not policy.admit_past_due:
            return RejectionReason.SUBSCRIPTION_PAST_DUE
        return None
    if subscription.status is SubscriptionStatus.ACTIVE:
        return RejectionReason.SUBSCRIPTION_INACTIVE  # before its first period
    return RejectionReason.SUBSCRIPTION_EXPIRED
