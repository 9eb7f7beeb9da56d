"""Payments: gateway events in, fulfilment exactly once, refunds out.

Every path that learns something about a payment — the create response, a webhook, a
reconciliation poll — folds it into the `Payment` aggregate and then asks it for its
fulfilment decision, inside one unit of work. The decision is made once per payment (the
aggregate keeps it) and carried out in the same unit of work, so it happens exactly once
however often and in whatever order the gateway reports. Network calls to the gateway are
never made inside a unit of work.

A refund the decision calls for is reserved on the payment in that same unit of work, and sent
after the commit. Until the gateway answers for it, the payment owes it (`Payment.refunds_owed`)
and is due work: the next observation of the payment (a webhook, `reconcile_payment`) or
`run_due` sends it again, always with the same idempotency key, so the gateway refunds once
however often it is sent. An answer that sending again cannot change (`GatewayRejected`) is
recorded as the refund's failure (`RefundFailed` in the outbox) instead of being retried.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import partial

from attrs import frozen

from minutebill._unit_of_work import StoredResponse, UnitOfWork
from minutebill.domain.checkout import Quote
from minutebill.domain.fulfilment import Remedy
from minutebill.domain.money import Money, sum_money
from minutebill.domain.payment_events import PaymentEvent
from minutebill.domain.payment_status import PaymentStatus
from minutebill.domain.payments import Payment
from minutebill.domain.text import require_key
from minutebill.errors import GatewayError, MinutebillError, NotFound
from minutebill.gateway import (
    GatewayPayment,
    GatewayRefund,
    PaymentGateway,
    PaymentRequest,
    RefundRequest,
)
from minutebill.service._fulfilment import FulfilmentMixin

__all__ = ["PaymentResult", "PaymentsMixin"]


@frozen(kw_only=True)
class PaymentResult:
    """Where a payment stands after minutebill learned something about it.

    Attributes:
        payment_id: Our payment id.
        account_id: The paying account.
        status: Its status.
        fulfilled: Whether its fulfilment has been decided and carried out.
        complete: Whether everything paid for was delivered (False: a remedy was due).
        remedy: The refund or wallet credit for what could not be delivered, if any.
        remedy_amount: How much that remedy is.
        refund_owed: Refunds decided but not yet taken by the gateway (it was unavailable,
            say), or None. They are sent again by the next `run_due` (or observation of the
            payment) until the gateway answers for them.
    """

    payment_id: str
    account_id: str
    status: PaymentStatus
    fulfilled: bool
    complete: bool
    remedy: Remedy | None
    remedy_amount: Money | None
    refund_owed: Money | None = None

    @classmethod
    def of(cls, payment: Payment) -> PaymentResult:
        """The result for `payment` as it is now."""
        decision = payment.fulfilment
        return cls(
            payment_id=payment.payment_id,
            account_id=payment.account_id,
            status=payment.status,
            fulfilled=decision is not None,
            complete=decision is not None and decision.complete,
            remedy=None if decision is None else decision.remedy,
            remedy_amount=None if decision is None else decision.remedy_amount,
            refund_owed=_owed(payment),
        )


def _owed(payment: Payment) -> Money | None:
    owed = payment.refunds_owed
    if not owed:
        return None
    return sum_money((amount for _, amount in owed), payment.amount.currency)


@frozen
class _RefundsSent:
    """What one attempt at sending a payment's owed refunds did.

    Attributes:
        sent: How many the gateway took (its call returned).
        failures: ``(refund_id, reason)`` for each it did not take. Those it may take later
            (`GatewayError.retryable`) stay owed; the others were recorded as failed.
    """

    sent: int = 0
    failures: tuple[tuple[str, str], ...] = ()


_REFUND_REASON = "undeliverable"
"""The reason minutebill gives the gateway for a remedy refund (the same on every re-send)."""


def checkout_request(payment: Payment, quote: Quote) -> PaymentRequest:
    """The gateway request that collects a checkout payment: the same on every send."""
    description = "; ".join(line.description for line in quote.lines)
    return PaymentRequest.for_payment(payment, description=description)


def _unanswered_key(payment_id: str) -> str:
    return f"checkout-unanswered:{payment_id}"


def note_unanswered(uow: UnitOfWork, payment: Payment) -> None:
    """Remember that the gateway's answer to `payment`'s request was lost (a timeout).

    Only such a payment is asked for again when reconciled: one the gateway never received
    (`GatewayUnavailable`) is not sent again behind the customer's back.
    """
    key = _unanswered_key(payment.payment_id)
    if uow.idempotency.get(payment.account_id, key) is None:
        uow.idempotency.put(payment.account_id, key, StoredResponse("", {}))


class PaymentsMixin(FulfilmentMixin):
    """Use cases that move payments forward."""

    gateway: PaymentGateway

    # --- what the gateway says --------------------------------------------------------------

    def handle_gateway_event(self, body: bytes, headers: Mapping[str, str]) -> PaymentResult:
        """Take a webhook from the gateway: verify it, apply it, fulfil once.

        Safe to call with the same webhook any number of times, concurrently, and in any
        order relative to the other webhooks of the payment and to the create response.
        Refunds the payment owes are sent after the commit; if the gateway cannot take them
        now, they stay owed (`PaymentResult.refund_owed`) and `run_due` sends them again. A
        failed number renewal puts the number On Hold (see `set_auto_pay` for retrying it).

        Raises:
            WebhookVerificationError: if the signature does not verify over the raw body.
            NotFound: for a payment minutebill did not start.
        """
        event = self.gateway.parse_webhook(body, headers)
        return self._observe(event)

    def reconcile_payment(self, payment_id: str) -> PaymentResult:
        """Ask the gateway where a payment stands (when a webhook is late or lost) and apply it.

        Refunds the payment still owes are sent again (see `PaymentResult.refund_owed`). A
        checkout payment whose gateway answer was lost to a timeout (so its gateway id is
        unknown) is asked for again with the same request and idempotency key,
        as the gateway port prescribes: the gateway answers with the payment it made, or
        makes it now, and collects once however often it is asked.

        Raises:
            NotFound: for an unknown payment.
        """
        require_key("payment_id", payment_id)

        def find(uow: UnitOfWork) -> Payment:
            payment: Payment | None = uow.payments.by_reference(payment_id)
            if payment is None:
                raise NotFound("payment", payment_id)
            return payment

        payment = self._read(find)
        if payment.gateway_payment_id is not None:
            return self._observe_gateway(self.gateway.get_payment(payment.gateway_payment_id))
        if not payment.status.is_open:
            return PaymentResult.of(payment)
        # The gateway's answer to the checkout was lost (a timeout): ask again with the same
        # request and key, which the gateway answers with the payment it made, collecting once.
        quote = self._read(partial(_unanswered_quote, payment=payment))
        if quote is None:  # never sent, or not a checkout (the due work re-sends mandate debits)
            return PaymentResult.of(payment)
        return self._observe_gateway(self.gateway.create_payment(checkout_request(payment, quote)))

    def _observe_gateway(
        self, reported: GatewayPayment, *, at: datetime | None = None
    ) -> PaymentResult:
        """Apply what the gateway reported, at `at` (default now: the due work passes its own)."""
        event = reported.to_event()
        at = self._now() if at is None else at

        def work(uow: UnitOfWork) -> PaymentResult:
            payment = self._payment(uow, reported.reference)
            payment.link_gateway(reported.gateway_payment_id)
            if event is not None:
                payment.apply(event)
            return self._after_news(uow, payment, at)

        return self._after(self._run(work))

    def _observe(self, event: PaymentEvent) -> PaymentResult:
        at = self._now()

        def work(uow: UnitOfWork) -> PaymentResult:
            payment = self._payment(uow, event.payment_reference)
            payment.apply(event)
            return self._after_news(uow, payment, at)

        return self._after(self._run(work))

    def _after_news(self, uow: UnitOfWork, payment: Payment, at: datetime) -> PaymentResult:
        """In `uow`, after news about `payment` was applied: what it means, and the result.

        A capture of another amount pays nothing either (it is refunded whole).
        """
        if not payment.captured or payment.capture_mismatch:
            self._on_payment_unpaid(uow, payment, at)
        self._fulfil(uow, payment, at)
        return PaymentResult.of(payment)

    def _on_payment_unpaid(self, uow: UnitOfWork, payment: Payment, at: datetime) -> None:
        """Called in `uow` once news about `payment` left it without its amount captured.

        Also when the gateway captured another amount (that is refunded whole). What a failed
        payment means beyond itself (a renewal not paid) belongs to whoever started it: the
        numbers override this.
        """

    def _after(self, result: PaymentResult) -> PaymentResult:
        """Send the refunds the committed payment owes; the payment as it is then."""
        if result.refund_owed is None:
            return result
        self._send_refunds(result.payment_id)
        return self._read(lambda uow: PaymentResult.of(self._payment(uow, result.payment_id)))

    @staticmethod
    def _payment(uow: UnitOfWork, payment_id: str) -> Payment:
        payment: Payment | None = uow.payments.by_reference(payment_id)
        if payment is None:
            raise NotFound("payment", payment_id)
        return payment

    # --- refunds ----------------------------------------------------------------------------

    def _send_refunds(self, payment_id: str) -> _RefundsSent:
        """Send each refund `payment_id` owes, with its own idempotency key, and record the answer.

        Never inside a unit of work. Retryable gateway errors leave the refund owed; any other
        error from the gateway is recorded as the refund's failure (`Payment.reject_refund`).
        """
        payment = self._read(lambda uow: self._payment(uow, payment_id))
        sent = 0
        failures: list[tuple[str, str]] = []
        for refund_id, amount in payment.refunds_owed:
            request = RefundRequest.for_refund(
                payment, refund_id=refund_id, amount=amount, reason=_REFUND_REASON
            )
            try:
                reported = self.gateway.refund(request)
            except MinutebillError as exc:  # a gateway error, IdempotencyConflict, NotFound
                failures.append((refund_id, str(exc)))
                if not (isinstance(exc, GatewayError) and exc.retryable):  # a final answer
                    self._reject_refund(payment_id, refund_id, str(exc))
                continue
            taken = partial(
                self._refund_taken, payment_id=payment_id, refund_id=refund_id, reported=reported
            )
            self._run(taken)
            sent += 1
        return _RefundsSent(sent, tuple(failures))

    def _refund_taken(
        self, uow: UnitOfWork, *, payment_id: str, refund_id: str, reported: GatewayRefund
    ) -> None:
        payment = self._payment(uow, payment_id)
        payment.record_refund_sent(refund_id, reported.refund_id)
        event = reported.to_event()
        if event is not None:
            payment.apply(event)

    def _reject_refund(self, payment_id: str, refund_id: str, reason: str) -> None:
        at = self._now()

        def work(uow: UnitOfWork) -> None:
            self._payment(uow, payment_id).reject_refund(refund_id, reason, at=at)

        self._run(work)


def _unanswered_quote(uow: UnitOfWork, *, payment: Payment) -> Quote | None:
    """The quote of a checkout payment whose gateway answer was lost; None for any other."""
    if uow.idempotency.get(payment.account_id, _unanswered_key(payment.payment_id)) is None:
        return None
    quote: Quote = uow.orders.get(payment.account_id, payment.quote_id)
    return quote
