"""`Payment`: one attempt to collect a quote's total, folded from what the gateway reports.

A payment is created for a quote (`Payment.for_quote`), sent to the gateway under its id (our
reference) and an idempotency key, and then learns its fate from `PaymentEvent`s — webhooks
and API responses alike — through `apply`. The status is a function of the set of events seen
(`minutebill.domain.payment_status`): a duplicate is a no-op, any order gives the same result,
and transitions only move forward, except late authorisation within the payment's
authorisation window. Refunds, full or partial, never exceed what was captured. When money is
first captured, `fulfil` decides once what the payment buys; a second success finds the
decision already made and does nothing.

A refund is reserved (`request_refund`) in the same unit of work that decides it, before it is
sent, and stays **owed** (`refunds_owed`) until the gateway answers for it: it took it
(`record_refund_sent`), reported its outcome (a refund event), or refused it for good
(`reject_refund`). Whoever sends refunds sends the owed ones again, under the same refund id
and idempotency key, until then; the gateway refunds each key once.

A refund event names the refund by our refund id, or only by the gateway's (Razorpay and
Stripe do not always echo ours). It is matched to our request by either: the gateway's id is
the one `record_refund_sent` noted. An event under a gateway id not noted (yet) counts as a
refund of its own — a refund made in the gateway's dashboard, or ours whose answer is not
recorded yet; recording that answer later matches it, so the refund counts once either way.

The payment keeps the events it has seen (a handful per payment: progress, outcome, refunds)
because order-independence needs the whole set.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from datetime import datetime, timedelta

from attrs import define, field

from minutebill.domain.checkout import Quote
from minutebill.domain.events import DomainEvent, EventBuffer
from minutebill.domain.fulfilment import (
    Fulfilment,
    Remedy,
    capture_mismatch_fulfilment,
    decide_fulfilment,
)
from minutebill.domain.money import Money
from minutebill.domain.payment_events import (
    CaptureMismatched,
    FulfilmentDecided,
    PaymentCaptured,
    PaymentCreated,
    PaymentEvent,
    PaymentEventKind,
    PaymentStatusChanged,
    RefundFailed,
    RefundRequested,
)
from minutebill.domain.payment_methods import (
    Card,
    CardFunding,
    PaymentMethod,
    Upi,
    method_from_state,
    method_to_state,
)
from minutebill.domain.payment_status import PaymentStatus, StatusSummary, summarise
from minutebill.domain.periods import to_utc
from minutebill.domain.state import (
    State,
    instant_from_state,
    instant_to_state,
    money_from_state,
    money_to_state,
)
from minutebill.domain.text import MAX_KEY_LENGTH, require_key, require_text
from minutebill.errors import IdempotencyConflict, InvalidTransition, ValidationError

__all__ = [
    "DEFAULT_AUTHORIZATION_WINDOW",
    "CaptureMismatched",
    "Card",
    "CardFunding",
    "FulfilmentDecided",
    "Payment",
    "PaymentCaptured",
    "PaymentCreated",
    "PaymentMethod",
    "PaymentStatus",
    "PaymentStatusChanged",
    "RefundFailed",
    "RefundRequested",
    "Upi",
]

DEFAULT_AUTHORIZATION_WINDOW = timedelta(hours=24)
"""How long after creation a payment may still be authorised or captured, even after FAILED."""


def _positive(name: str, value: object, currency: str | None = None) -> Money:
    if not isinstance(value, Money) or not value.is_rounded() or value.amount <= 0:
        raise ValidationError(name, value, "must be positive Money in whole minor units")
    if currency is not None and value.currency != currency:
        raise ValidationError(name, value, f"must be in {currency}")
    return value


@define
class Payment:
    """One attempt to collect a quote's total. Change it only through its methods.

    Attributes:
        payment_id: Our reference, sent to the gateway and echoed in its events.
        account_id: The paying account.
        quote_id: The quote paid.
        amount: The quote's total: exactly what is charged.
        idempotency_key: Sent with the create (or mandate charge) call.
        created_at: When the payment was started (UTC).
        method: UPI or card, if known.
        authorization_window: How long after `created_at` a success still counts.
        gateway_payment_id: The gateway's id, learned from its response or first event.
        fulfilment: The decision about what the payment buys, once made.
        version: The stored version (the store bumps it).
    """

    payment_id: str
    account_id: str
    quote_id: str
    amount: Money
    idempotency_key: str
    created_at: datetime
    method: PaymentMethod | None = None
    authorization_window: timedelta = DEFAULT_AUTHORIZATION_WINDOW
    gateway_payment_id: str | None = None
    fulfilment: Fulfilment | None = None
    version: int = 0
    _events: dict[str, PaymentEvent] = field(factory=dict, alias="events")
    _refund_requests: dict[str, Money] = field(factory=dict, alias="refund_requests")
    _refunds_sent: dict[str, str] = field(factory=dict, alias="refunds_sent")
    _buffer: EventBuffer = field(factory=EventBuffer, init=False)
    _summary: StatusSummary = field(init=False)

    def __attrs_post_init__(self) -> None:
        self._summary = self._summarise(self._events)

    # --- creation ------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        *,
        payment_id: str,
        account_id: str,
        quote_id: str,
        amount: Money,
        idempotency_key: str,
        at: datetime,
        method: PaymentMethod | None = None,
        authorization_window: timedelta = DEFAULT_AUTHORIZATION_WINDOW,
    ) -> Payment:
        """Start a payment of `amount` (prefer `for_quote`, which takes it from a quote).

        Raises:
            ValidationError: for empty ids, a non-positive or unrounded amount, a naive `at`,
                a method that is not `Upi` or `Card`, or a window that is not a positive
                whole number of seconds.
        """
        for name, value in (
            ("payment_id", payment_id),
            ("account_id", account_id),
            ("quote_id", quote_id),
            ("idempotency_key", idempotency_key),
        ):
            require_key(name, value)
        _positive("amount", amount)
        created_at = to_utc(at)
        if method is not None and not isinstance(method, Upi | Card):
            raise ValidationError("method", method, "expected Upi or Card")
        window = authorization_window
        if not isinstance(window, timedelta) or window <= timedelta(0) or window.microseconds:
            raise ValidationError("authorization_window", window, "positive whole seconds")
        payment = cls(
            payment_id=payment_id,
            account_id=account_id,
            quote_id=quote_id,
            amount=amount,
            idempotency_key=idempotency_key,
            created_at=created_at,
            method=method,
            authorization_window=window,
        )
        payment._buffer.record(
            PaymentCreated(
                account_id=account_id,
                occurred_at=created_at,
                payment_id=payment_id,
                quote_id=quote_id,
                amount=amount,
            )
        )
        return payment

    @classmethod
    def for_quote(
        cls,
        quote: Quote,
        *,
        payment_id: str,
        idempotency_key: str,
        at: datetime,
        method: PaymentMethod | None = None,
        authorization_window: timedelta = DEFAULT_AUTHORIZATION_WINDOW,
    ) -> Payment:
        """Start paying `quote`: the amount is exactly the total it showed.

        Raises:
            InvalidTransition: if the quote has expired at `at` or is free.
            ValidationError: as for `create`.
        """
        quote.ensure_payable(at)
        return cls.create(
            payment_id=payment_id,
            account_id=quote.account_id,
            quote_id=quote.quote_id,
            amount=quote.total,
            idempotency_key=idempotency_key,
            at=at,
            method=method,
            authorization_window=authorization_window,
        )

    # --- what the events say -------------------------------------------------------------

    @property
    def status(self) -> PaymentStatus:
        """The status, as the set of events seen says."""
        return self._summary.status

    @property
    def deadline(self) -> datetime:
        """The last instant at which the gateway may report an authorisation or a success."""
        return self.created_at + self.authorization_window

    @property
    def captured(self) -> Money:
        """What the gateway captured: zero until a success was reported.

        The amount the success states, which is the payment's own unless the gateway took
        another (`capture_mismatch`); a success that states none captured the amount.
        """
        captured = self._summary.captured
        if captured is None:
            return Money.zero(self.amount.currency).rounded()
        return captured

    @property
    def capture_mismatch(self) -> bool:
        """Whether the gateway captured another amount than the payment's.

        Such a payment is accepted as the gateway reports it, delivers nothing and has all
        it captured refunded (`Unfulfillable.CAPTURE_MISMATCH`); `CaptureMismatched` says so.
        """
        captured = self._summary.captured
        return captured is not None and captured != self.amount

    @property
    def captured_at(self) -> datetime | None:
        """When the gateway says it captured the money (the earliest success reported)."""
        return self._summary.captured_at

    @property
    def late_capture(self) -> bool:
        """Whether money was captured only after the authorisation window (to be returned)."""
        return self._summary.captured_at is not None and not self._summary.accepted

    @property
    def refunded(self) -> Money:
        """Refunds the gateway confirmed."""
        return self._summary.refunded

    @property
    def refundable(self) -> Money:
        """What may still be refunded: captured less refunds confirmed or requested.

        A refund the gateway reports under an id not (yet) matched to a request counts on its
        own; until the gateway's answer for one of ours is recorded (`record_refund_sent`),
        a report about it under the gateway's id alone may thus count twice: this errs low,
        never above what is left at the gateway.
        """
        left = self.captured - self._committed_refunds(self._refund_requests)
        return max(left, Money.zero(self.amount.currency).rounded())

    @property
    def refunds_owed(self) -> tuple[tuple[str, Money], ...]:
        """Refunds requested that the gateway has not answered for yet, by refund id.

        Each is ``(refund_id, amount)``: not taken by the gateway (`record_refund_sent`),
        with no outcome reported (under our refund id, or the gateway's once recorded), not
        refused. Send them (again) with the same refund id as the idempotency key; empty when
        nothing is owed.
        """
        if not self._refund_requests:
            return ()
        answered = {rid for rid, _, _ in self._summary.refunds} | self._refunds_sent.keys()
        return tuple(
            (rid, self._refund_requests[rid])
            for rid in sorted(self._refund_requests)
            if rid not in answered
        )

    @property
    def fulfilled(self) -> bool:
        """Whether what the payment buys has been decided (a second success does nothing)."""
        return self.fulfilment is not None

    @property
    def events(self) -> tuple[PaymentEvent, ...]:
        """The gateway events seen, by id."""
        return tuple(self._events[k] for k in sorted(self._events))

    # --- applying gateway events ---------------------------------------------------------

    def link_gateway(self, gateway_payment_id: str) -> None:
        """Record the gateway's id from its create response (a no-op if already known).

        Raises:
            ValidationError: if the payment already has another gateway id.
        """
        require_key("gateway_payment_id", gateway_payment_id)
        self._check_gateway_id(gateway_payment_id)
        self.gateway_payment_id = gateway_payment_id

    def apply(self, event: PaymentEvent) -> bool:
        """Fold a gateway event into the payment.

        A refund event is matched to our request by our refund id or by the gateway's refund
        id recorded for it (`record_refund_sent`); one under neither counts as a refund of its
        own until an answer recorded later matches it.

        Returns:
            True if the event was new; False for a duplicate (which changes nothing).

        Raises:
            ValidationError: for an event about another payment, another gateway payment,
                another currency, an authorisation of an amount other than the payment's,
                refunds that would exceed what was captured, or a success reported at another
                instant or of another amount than an earlier report of the capture (a payment
                is captured once, at one instant, of one amount). A first success of another
                amount than the payment's is accepted: see `capture_mismatch`. A refund
                reported under both ids before its gateway id was recorded may thus be
                refused for now; delivered again once the id is recorded, it is accepted.
            IdempotencyConflict: for an event id (or refund id) seen before with other data.
        """
        if not isinstance(event, PaymentEvent):
            raise ValidationError("event", event, "expected a PaymentEvent")
        if event.payment_reference != self.payment_id:
            raise ValidationError(
                "payment_reference", event.payment_reference, f"this is {self.payment_id}"
            )
        self._check_gateway_id(event.gateway_payment_id)
        return self._fold(event, adopt_gateway_id=True)

    def expire(self, at: datetime) -> bool:
        """Fail a payment still open once its authorisation window has passed.

        Records a FAILED event dated at the deadline, so the result does not depend on when
        this runs: also on a payment the gateway failed already, where it changes nothing
        now but keeps an authorisation reported later (from before the deadline) from
        reopening it. Returns whether the status changed.
        """
        expired = f"{self.payment_id}:expired"
        status = self.status
        if to_utc(at) < self.deadline or expired in self._events:
            return False
        if not (status.is_open or status is PaymentStatus.FAILED):
            return False
        self._fold(self._failure(expired, self.deadline, _EXPIRED), adopt_gateway_id=False)
        return status.is_open

    def record_refusal(self, reason: str, *, at: datetime) -> bool:
        """Fail a payment still open that the gateway refused to start, for good.

        For an answer that sending the same request again cannot change (`GatewayRejected`:
        a revoked mandate, say): a FAILED event dated `at`. A success reported later still
        wins, as for any failure. Returns whether anything changed.

        Raises:
            ValidationError: for an empty reason or a naive `at`.
        """
        at, reason = to_utc(at), require_text("reason", reason)
        return self._fail(_rejection_id(self.payment_id), at, reason)

    def _fail(self, event_id: str, at: datetime, reason: str) -> bool:
        """Fold a FAILED event that minutebill records itself, once, while the payment is open."""
        if not self.status.is_open or event_id in self._events:
            return False
        return self._fold(self._failure(event_id, at, reason), adopt_gateway_id=False)

    def _failure(self, event_id: str, at: datetime, reason: str) -> PaymentEvent:
        return PaymentEvent(
            event_id=event_id,
            kind=PaymentEventKind.FAILED,
            payment_reference=self.payment_id,
            gateway_payment_id=self.gateway_payment_id or "-",
            occurred_at=at,
            reason=reason,
        )

    # --- refunds -------------------------------------------------------------------------

    def request_refund(self, amount: Money, *, refund_id: str, at: datetime) -> bool:
        """Reserve a refund of `amount` before sending it to the gateway under `refund_id`.

        Returns:
            True if reserved; False if the same refund was already requested (a retry).

        Raises:
            ValidationError: for a bad amount, or one above `refundable`.
            InvalidTransition: if nothing was captured.
            IdempotencyConflict: if `refund_id` was used for another amount, or is the
                gateway's id of another refund.
        """
        _positive("amount", amount, self.amount.currency)
        require_key("refund_id", refund_id)
        when = to_utc(at)
        owner = _by_gateway_id(self._refunds_sent).get(refund_id)
        if owner not in (None, refund_id):
            raise IdempotencyConflict(refund_id, f"the gateway's id of refund {owner}")
        known = self._refund_requests.get(refund_id) or self._event_refund_amount(refund_id)
        if known is not None:
            if known == amount:
                return False
            raise IdempotencyConflict(refund_id, f"requested {known}, now {amount}")
        if not self.captured:
            raise InvalidTransition(f"payment {self.payment_id}", self.status.value, "refund")
        if amount > self.refundable:
            raise ValidationError("amount", amount, f"exceeds the refundable {self.refundable}")
        self._refund_requests = {**self._refund_requests, refund_id: amount}
        self._buffer.record(
            RefundRequested(
                account_id=self.account_id,
                occurred_at=when,
                payment_id=self.payment_id,
                refund_id=refund_id,
                amount=amount,
            )
        )
        return True

    def record_refund_sent(self, refund_id: str, gateway_refund_id: str) -> bool:
        """Note that the gateway took the requested refund `refund_id`, as `gateway_refund_id`.

        Call it when the gateway's refund call returns (whatever the refund's status): the
        refund is no longer owed, and its outcome arrives as a refund event, under our refund
        id or `gateway_refund_id`. Events already seen under `gateway_refund_id` (a webhook
        that beat the answer) are matched to the request now: the refund counts once, and if
        they report it failed, its reservation is released and `RefundFailed` recorded.

        Returns:
            True if noted now; False if it already was (a re-sent request's answer).

        Raises:
            ValidationError: for empty ids, or a refund id never requested.
            IdempotencyConflict: if the gateway took it before under another id, if
                `gateway_refund_id` already names another refund (ours, or the gateway's id
                of another of ours), or if the gateway reported another amount under it.
        """
        require_key("refund_id", refund_id)
        require_key("gateway_refund_id", gateway_refund_id)
        if refund_id not in self._refund_requests:
            raise ValidationError("refund_id", refund_id, "no refund was requested under it")
        known = self._refunds_sent.get(refund_id)
        if known is not None:
            if known == gateway_refund_id:
                return False
            raise IdempotencyConflict(refund_id, f"sent as {known}, now {gateway_refund_id}")
        owner = _by_gateway_id(self._refunds_sent).get(gateway_refund_id)
        if owner is None and gateway_refund_id in self._refund_requests:
            owner = gateway_refund_id  # our id of another refund
        if owner not in (None, refund_id):
            raise IdempotencyConflict(gateway_refund_id, f"names refund {owner}")
        amount = self._refund_requests[refund_id]
        reported = self._event_refund_amount(gateway_refund_id)
        if reported is not None and reported != amount:
            raise IdempotencyConflict(gateway_refund_id, f"refund of {reported}, not {amount}")
        sent = {**self._refunds_sent, refund_id: gateway_refund_id}
        before, after = self._summary, self._summarise(self._events, sent)
        self._refunds_sent, self._summary = sent, after
        matched = [e.occurred_at for e in self._events.values() if e.refund_id == gateway_refund_id]
        if matched:
            self._record_changes(before, after, max(matched))
        return True

    def reject_refund(self, refund_id: str, reason: str, *, at: datetime) -> bool:
        """Record that the gateway refused the requested refund `refund_id` for good.

        For an answer that sending again cannot change (`GatewayRejected`, say). It is
        recorded as the refund's failure, dated `at`: the refund is no longer owed, its
        reservation is released (the amount is `refundable` again) and `RefundFailed` is
        recorded for the host to act on. A refund whose outcome is known is left alone.

        Returns:
            Whether anything changed.

        Raises:
            ValidationError: for a refund id never requested, an empty reason or a naive `at`.
        """
        require_key("refund_id", refund_id)
        amount = self._refund_requests.get(refund_id)
        if amount is None:
            raise ValidationError("refund_id", refund_id, "no refund was requested under it")
        if self._event_refund_amount(refund_id) is not None:
            return False
        event = PaymentEvent(
            event_id=_rejection_id(refund_id),
            kind=PaymentEventKind.REFUND_FAILED,
            payment_reference=self.payment_id,
            gateway_payment_id=self.gateway_payment_id or "-",
            occurred_at=to_utc(at),
            amount=amount,
            refund_id=refund_id,
            reason=require_text("reason", reason),
        )
        return self._fold(event, adopt_gateway_id=False)

    # --- fulfilment ----------------------------------------------------------------------

    def fulfil(
        self,
        quote: Quote,
        *,
        at: datetime,
        unavailable: Collection[str] = (),
        repriced_total: Money | None = None,
        already_fulfilled_by: str | None = None,
        remedy: Remedy = Remedy.REFUND,
    ) -> Fulfilment | None:
        """Decide, once, what this payment buys; None if not captured yet or already decided.

        Call it after every `apply`: it returns a decision exactly once per payment, the first
        time money is captured. See `decide_fulfilment` for the arguments. A capture of
        another amount than the quote's total delivers nothing and refunds all of it
        (`capture_mismatch_fulfilment`), whatever `remedy` says.

        Raises:
            ValidationError: for another quote, or an expired quote without `repriced_total`.
        """
        if self.fulfilment is not None or self._summary.captured_at is None:
            return None
        if not isinstance(quote, Quote) or quote.quote_id != self.quote_id:
            raise ValidationError("quote", getattr(quote, "quote_id", quote), "not this payment's")
        captured = self.captured
        if captured != quote.total:
            decision = capture_mismatch_fulfilment(
                quote, payment_id=self.payment_id, captured=captured, at=at
            )
        else:
            decision = decide_fulfilment(
                quote,
                payment_id=self.payment_id,
                captured=captured,
                captured_at=self._summary.captured_at,
                accepted=self._summary.accepted,
                at=at,
                unavailable=unavailable,
                repriced_total=repriced_total,
                already_fulfilled_by=already_fulfilled_by,
                remedy=remedy,
            )
        self.fulfilment = decision
        self._buffer.record(
            FulfilmentDecided(
                account_id=self.account_id,
                occurred_at=decision.decided_at,
                payment_id=self.payment_id,
                quote_id=self.quote_id,
                remedy_amount=decision.remedy_amount,
                complete=decision.complete,
            )
        )
        return decision

    def pull_events(self) -> list[DomainEvent]:
        """The domain events recorded since the last pull."""
        return self._buffer.pull()

    # --- internals -----------------------------------------------------------------------

    def _summarise(
        self, events: dict[str, PaymentEvent], sent: dict[str, str] | None = None
    ) -> StatusSummary:
        return summarise(
            events.values(),
            amount=self.amount,
            deadline=self.deadline,
            refund_ids=_by_gateway_id(self._refunds_sent if sent is None else sent),
        )

    def _check_gateway_id(self, gateway_payment_id: str) -> None:
        if self.gateway_payment_id not in (None, gateway_payment_id):
            raise ValidationError(
                "gateway_payment_id",
                gateway_payment_id,
                f"payment {self.payment_id} is {self.gateway_payment_id} at the gateway",
            )

    def _event_refund_amount(self, refund_id: str) -> Money | None:
        for rid, money, _ in self._summary.refunds:
            if rid == refund_id:
                return money
        return None

    def _committed_refunds(self, requests: dict[str, Money]) -> Money:
        """Refunds confirmed, plus requests the gateway has not reported as failed."""
        total = self._summary.refunded
        outcome = {rid: ok for rid, _, ok in self._summary.refunds}
        for rid, money in requests.items():
            if rid not in outcome:
                total += money
        return total

    def _check_event(self, event: PaymentEvent) -> None:
        if event.amount is not None and event.amount.currency != self.amount.currency:
            raise ValidationError("amount", event.amount, f"must be in {self.amount.currency}")
        captured_at = self._summary.captured_at
        if event.kind is PaymentEventKind.SUCCEEDED and captured_at not in (
            None,
            event.occurred_at,
        ):
            raise ValidationError(
                "occurred_at",
                event.occurred_at,
                f"the gateway reported the capture at {captured_at}",
            )
        authorised = event.kind is PaymentEventKind.AUTHORIZED
        if authorised and event.amount not in (None, self.amount):
            raise ValidationError("amount", event.amount, f"the payment is {self.amount}")
        # Once the money taken is known, every report of the capture must agree with it.
        captured = self._summary.captured
        succeeded = event.kind is PaymentEventKind.SUCCEEDED
        if succeeded and captured is not None and event.amount not in (None, captured):
            raise ValidationError(
                "amount", event.amount, f"the gateway reported it captured {captured}"
            )
        if event.kind.is_refund and event.refund_id is not None and event.amount is not None:
            refund_id = _by_gateway_id(self._refunds_sent).get(event.refund_id, event.refund_id)
            known = self._refund_requests.get(refund_id) or self._event_refund_amount(refund_id)
            if known is not None and known != event.amount:
                raise IdempotencyConflict(event.refund_id, f"refund of {known}, now {event.amount}")

    def _fold(self, event: PaymentEvent, *, adopt_gateway_id: bool) -> bool:
        seen = self._events.get(event.event_id)
        if seen is not None:
            if seen == event:
                return False
            raise IdempotencyConflict(event.event_id, "another event had this id")
        self._check_event(event)
        events = {**self._events, event.event_id: event}
        after = self._summarise(events)
        ceiling = self.amount if after.captured is None else after.captured
        if after.refunded > ceiling:
            raise ValidationError("amount", event.amount, f"refunds would exceed {ceiling}")
        before = self._summary
        self._events = events
        self._summary = after
        if adopt_gateway_id:
            self.gateway_payment_id = event.gateway_payment_id
        self._record_changes(before, after, event.occurred_at)
        if before.captured is None and after.captured is not None:
            self._record_capture(after)
        return True

    def _record_capture(self, after: StatusSummary) -> None:
        """Record the first capture: `PaymentCaptured`, and `CaptureMismatched` if it is off."""
        captured, at = after.captured, after.captured_at
        if captured is None or at is None:  # pragma: no cover - only called once captured
            return
        self._buffer.record(
            PaymentCaptured(
                account_id=self.account_id,
                occurred_at=at,
                payment_id=self.payment_id,
                amount=captured,
                late=not after.accepted,
            )
        )
        if captured != self.amount:
            self._buffer.record(
                CaptureMismatched(
                    account_id=self.account_id,
                    occurred_at=at,
                    payment_id=self.payment_id,
                    amount=self.amount,
                    captured=captured,
                )
            )

    def _record_changes(self, before: StatusSummary, after: StatusSummary, at: datetime) -> None:
        """Record a change of status, and each refund of ours that is now known to have failed.

        A refund fails once: `RefundFailed` names our refund id, and is recorded when the first
        outcome matched to the request is a failure. A refund we never requested reserved
        nothing, so its failure is not recorded.
        """
        if before.status is not after.status:
            self._buffer.record(
                PaymentStatusChanged(
                    account_id=self.account_id,
                    occurred_at=at,
                    payment_id=self.payment_id,
                    previous=before.status,
                    status=after.status,
                )
            )
        known = {rid for rid, _, _ in before.refunds}
        ours = _by_gateway_id(self._refunds_sent)
        for rid, money, ok in after.refunds:
            if ok or rid in known or rid not in self._refund_requests:
                continue
            failure = min(
                (
                    e
                    for e in self._events.values()
                    if e.kind is PaymentEventKind.REFUND_FAILED
                    and e.refund_id is not None
                    and ours.get(e.refund_id, e.refund_id) == rid
                ),
                key=lambda e: (e.occurred_at, e.event_id),
            )
            self._buffer.record(
                RefundFailed(
                    account_id=self.account_id,
                    occurred_at=failure.occurred_at,
                    payment_id=self.payment_id,
                    refund_id=rid,
                    amount=money,
                    reason=failure.reason,
                )
            )

    # --- persistence ---------------------------------------------------------------------

    def to_state(self) -> State:
        """The payment as a JSON-compatible dict (``status`` is derived, kept for queries)."""
        return {
            "payment_id": self.payment_id,
            "account_id": self.account_id,
            "quote_id": self.quote_id,
            "amount": money_to_state(self.amount),
            "idempotency_key": self.idempotency_key,
            "created_at": instant_to_state(self.created_at),
            "method": method_to_state(self.method),
            "authorization_window_seconds": int(self.authorization_window.total_seconds()),
            "gateway_payment_id": self.gateway_payment_id,
            "version": self.version,
            "status": self.status.value,
            "events": [e.to_state() for e in self.events],
            "refund_requests": [
                {
                    "refund_id": rid,
                    "amount": money_to_state(self._refund_requests[rid]),
                    "gateway_refund_id": self._refunds_sent.get(rid),
                }
                for rid in sorted(self._refund_requests)
            ],
            "fulfilment": None if self.fulfilment is None else self.fulfilment.to_state(),
        }

    @classmethod
    def from_state(cls, state: State) -> Payment:
        """The payment that `to_state` encoded (its status is recomputed from the events).

        Documents written before refunds were marked as taken by the gateway have no
        ``gateway_refund_id``: their refunds without an outcome load as owed, and are sent
        again under their idempotency key, which the gateway answers without refunding twice.
        """
        events = (PaymentEvent.from_state(s) for s in state["events"])
        fulfilment = state["fulfilment"]
        requests = state["refund_requests"]
        return cls(
            payment_id=state["payment_id"],
            account_id=state["account_id"],
            quote_id=state["quote_id"],
            amount=money_from_state(state["amount"]),
            idempotency_key=state["idempotency_key"],
            created_at=instant_from_state(state["created_at"]),
            method=method_from_state(state["method"]),
            authorization_window=timedelta(seconds=state["authorization_window_seconds"]),
            gateway_payment_id=state["gateway_payment_id"],
            fulfilment=None if fulfilment is None else Fulfilment.from_state(fulfilment),
            version=state["version"],
            events={e.event_id: e for e in events},
            refund_requests={r["refund_id"]: money_from_state(r["amount"]) for r in requests},
            refunds_sent={
                r["refund_id"]: r["gateway_refund_id"]
                for r in requests
                if r.get("gateway_refund_id") is not None
            },
        )


def _by_gateway_id(sent: dict[str, str]) -> dict[str, str]:
    """Our refund id for each gateway refund id recorded (`record_refund_sent`)."""
    return {theirs: ours for ours, theirs in sent.items()}


_EXPIRED = "authorisation window elapsed"


def _rejection_id(refund_id: str) -> str:
    """The id of the failure event that records a refused refund (a digest if too long)."""
    event_id = f"{refund_id}:rejected"
    if len(event_id) <= MAX_KEY_LENGTH:
        return event_id
    return "rejected:" + hashlib.sha256(refund_id.encode()).hexdigest()
