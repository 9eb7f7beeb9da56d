"""Number renewals charged to a saved mandate: one payment per attempt, sent after the commit.

A renewal the wallet does not pay is charged to the saved mandate (UPI AutoPay, card
e-mandate) as a `Payment` for the period's renewal quote, priced under the checkout's tax
policy like a wallet renewal. A period has one quote and a numbered series of attempts at
paying it. Attempt 0's payment id is a digest of the account and the period's renewal key;
attempt n's is that id followed by ``-n``. The payment id is also the gateway's idempotency
key, so:

- asking again for an attempt that is still open (due work run twice, a lost response) sends
  it again under the same key, which the gateway deduplicates, and as it was first sent (its
  mandate and notice are kept with it), even if the customer saved another mandate since;
- an attempt that ended without paying the period is never sent again: the due work puts the
  number On Hold, and a customer who acts (turns Auto-Pay back on) starts the next attempt;
- every attempt pays the period's one quote, and fulfilment happens once per quote: should two
  attempts both capture, the second is refunded or credited (the service's `Remedy`).

Whenever the service learns that an attempt failed, needs the customer or captured another
amount than the fee (refunded whole) — from the gateway's answer, a webhook, a reconciliation
or the payment's expiry — the number goes On Hold, if that period is still the one due, and a
wallet that covers the fee then pays it at once (whatever the payment order: the mandate was
tried and did not pay). The network call is never made
inside a unit of work.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from functools import partial

from attrs import frozen

from minutebill._unit_of_work import StoredResponse, UnitOfWork
from minutebill.domain.checkout import NumberLine, Order, Quote
from minutebill.domain.number_renewal import ChargeMandate
from minutebill.domain.number_status import HoldReason, PaymentDisposition
from minutebill.domain.numbers import NumberSubscription
from minutebill.domain.payment_status import PaymentStatus
from minutebill.domain.payments import Payment
from minutebill.domain.state import optional_instant_from_state, optional_instant_to_state
from minutebill.errors import GatewayError, InvalidTransition
from minutebill.gateway import GatewayPayment, MandateChargeRequest
from minutebill.service._fulfilment import renewed_period
from minutebill.service._purchases import PurchasesMixin
from minutebill.service._wallet_renewals import WalletRenewalsMixin

__all__ = ["MandateCharge", "MandatesMixin"]


@frozen
class MandateCharge:
    """A mandate debit decided inside a unit of work, to send once it has committed.

    Attributes:
        account_id: The account.
        number_e164: The number renewed.
        payment_id: The attempt's payment (and the gateway's idempotency key).
        mandate_id: The mandate to debit.
        notified_at: When the pre-debit notice was given; None on-session.
        at: When the debit was decided (the due work's instant, or now for a customer's
            request): a decline puts the number On Hold from then.
    """

    account_id: str
    number_e164: str
    payment_id: str
    mandate_id: str
    notified_at: datetime | None
    at: datetime


_HOLD_FOR = {
    PaymentStatus.FAILED: HoldReason.PAYMENT_FAILED,
    PaymentStatus.CANCELED: HoldReason.PAYMENT_FAILED,
    PaymentStatus.ACTION_REQUIRED: HoldReason.CUSTOMER_ACTION_REQUIRED,
}


def _superseded(status: PaymentStatus) -> bool:
    """Whether a customer who acts starts the next attempt after one in `status`.

    Any end, or waiting for them; an attempt in flight (created, pending, authorised) is
    asked about again instead.
    """
    return status is PaymentStatus.ACTION_REQUIRED or not status.is_open


def _first_attempt_id(account_id: str, renewal_key: str) -> str:
    # Payment ids (and the gateway's idempotency keys) are unique across accounts; the
    # renewal key is only unique per number, so the account is part of the digest.
    scoped = f"{account_id}\x00{renewal_key}"
    return "pay_" + hashlib.sha256(scoped.encode()).hexdigest()[:24]


def _request_key(payment_id: str) -> str:
    """Where the idempotency store keeps what an attempt was sent with (mandate, notice)."""
    return f"mandate-charge:{payment_id}"


def _attempt_id(first: str, attempt: int) -> str:
    return first if attempt == 0 else f"{first}-{attempt}"


def _next_attempt_id(payment_id: str) -> str:
    first, _, attempt = payment_id.partition("-")
    return _attempt_id(first, int(attempt or 0) + 1)


def _latest_attempt(uow: UnitOfWork, first: str) -> tuple[int, Payment | None]:
    """The period's latest attempt and its number; (0, None) before the first."""
    attempt, latest = 0, uow.payments.by_reference(first)
    while latest is not None:
        following = uow.payments.by_reference(_attempt_id(first, attempt + 1))
        if following is None:
            break
        attempt, latest = attempt + 1, following
    return attempt, latest


def _renewed_number(quote: Quote | None) -> NumberLine | None:
    """The number line of a renewal quote; None for any other quote."""
    if quote is None or len(quote.lines) != 1:
        return None
    line = quote.lines[0]
    return line if isinstance(line, NumberLine) and line.renewal else None


def _find_payment(uow: UnitOfWork, *, payment_id: str) -> Payment:
    return PurchasesMixin._payment(uow, payment_id)  # noqa: SLF001 - a static lookup


class MandatesMixin(WalletRenewalsMixin):
    """Mandate debits of number renewals, and what their failures do to the number."""

    def _mandate_payment(
        self, uow: UnitOfWork, number: NumberSubscription, decision: ChargeMandate, at: datetime
    ) -> MandateCharge | None:
        """The attempt to send for `decision`: the open one, or a new one; None to send none.

        An attempt that ended without paying the period is not sent again: off-session the
        number goes On Hold (payment failed); a customer who is present starts the next one.
        So does a customer who comes back to an attempt that waits for them (action
        required): they are present now, and the new attempt is charged on-session.
        """
        mandate_id = number.mandate_id
        if mandate_id is None:  # pragma: no cover - renew() asks only with a mandate
            return None
        key = decision.idempotency_key
        first = _first_attempt_id(number.account_id, key)
        attempt, payment = _latest_attempt(uow, first)
        if payment is not None and not payment.status.is_open and not decision.on_session:
            number.put_on_hold(HoldReason.PAYMENT_FAILED, at)
            return None
        if payment is not None and decision.on_session and _superseded(payment.status):
            attempt, payment = attempt + 1, None
        notice = number.notice
        notified_at = None if decision.on_session or notice is None else notice.sent_at
        if payment is None:
            payment_id = _attempt_id(first, attempt)
            payment = self._start_attempt(uow, number, key, attempt, payment_id, at)
            sent = {
                "mandate_id": mandate_id,
                "notified_at": optional_instant_to_state(notified_at),
            }
            uow.idempotency.put(
                number.account_id, _request_key(payment_id), StoredResponse("", sent)
            )
        else:  # asked again: exactly as it was sent, whatever the mandate or notice is now
            stored = uow.idempotency.get(number.account_id, _request_key(payment.payment_id))
            if stored is not None:
                mandate_id = stored.response["mandate_id"]
                notified_at = optional_instant_from_state(stored.response["notified_at"])
        return MandateCharge(
            number.account_id, number.number_e164, payment.payment_id, mandate_id, notified_at, at
        )

    def _start_attempt(
        self,
        uow: UnitOfWork,
        number: NumberSubscription,
        key: str,
        attempt: int,
        payment_id: str,
        at: datetime,
    ) -> Payment:
        """A new payment of the period's quote (priced now, with tax, for the first attempt).

        The quote is stored with the first attempt's payment, so only a later attempt looks
        it up.
        """
        quote: Quote | None = uow.orders.find(number.account_id, key) if attempt else None
        if quote is None:
            order = Order(
                [NumberLine(offer=number.offer, number_e164=number.number_e164, renewal=True)],
                number.offer.monthly_fee.currency,
            )
            # The quote id is the renewal key; it ends in ":<period index>", which fulfilment
            # reads back.
            quote = order.quote(quote_id=key, account_id=number.account_id, at=at, tax=self.tax)
            uow.orders.add(quote)
            payment = Payment.for_quote(
                quote, payment_id=payment_id, idempotency_key=payment_id, at=at
            )
        else:
            # A later attempt pays the same quote, for the total it showed. Its validity is a
            # checkout screen's; fulfilment prices an expired quote again, and the renewal fee
            # is the subscription's own, so the same total is accepted.
            payment = Payment.create(
                payment_id=payment_id,
                account_id=quote.account_id,
                quote_id=quote.quote_id,
                amount=quote.total,
                idempotency_key=payment_id,
                at=at,
            )
        uow.payments.add(payment)
        return payment

    def _send_mandate_charges(self, charges: list[MandateCharge]) -> list[GatewayPayment]:
        """Send each charge, and return the gateway's answers.

        A charge the gateway refuses for good fails its attempt, then raises.

        A refusal that sending again cannot change (`GatewayRejected`: a revoked or unknown
        mandate) is the attempt's failure, as a decline is: the number goes On Hold now,
        not when the open attempt expires a day later.
        """
        answers: list[GatewayPayment] = []
        for charge in charges:
            payment = self._read(partial(_find_payment, payment_id=charge.payment_id))
            try:
                reported = self.gateway.charge_mandate(
                    MandateChargeRequest.for_payment(
                        payment,
                        mandate_id=charge.mandate_id,
                        description=f"Number {charge.number_e164} renewal",
                        pre_debit_notified_at=charge.notified_at,
                    )
                )
            except GatewayError as exc:
                if not exc.retryable:
                    self._run(partial(self._refused, charge=charge, reason=str(exc)))
                raise
            self._observe_gateway(reported, at=charge.at)
            answers.append(reported)
        return answers

    def _refused(self, uow: UnitOfWork, *, charge: MandateCharge, reason: str) -> None:
        payment = self._payment(uow, charge.payment_id)
        if payment.record_refusal(reason, at=charge.at):
            self._after_news(uow, payment, charge.at)

    def _on_payment_unpaid(self, uow: UnitOfWork, payment: Payment, at: datetime) -> None:
        """Hold the number whose renewal attempt `payment` failed or needs the customer.

        A capture of another amount than the fee failed too: it is refunded, and the period
        is not paid. Only the period's latest attempt counts, and only while its period is
        the one due; a number not due yet by `at` is held by the next due work. A held number
        with Auto-Pay is then paid from the wallet if it covers the fee, like after a top-up.
        """
        if payment.capture_mismatch:
            reason: HoldReason | None = HoldReason.PAYMENT_FAILED
        else:
            reason = _HOLD_FOR.get(payment.status)
        target = None if reason is None else _renewal_target(uow, payment)
        if reason is None or target is None:
            return
        number, period = target
        if number.payment_disposition(period, at) is not PaymentDisposition.APPLY:
            return  # paid meanwhile
        try:
            number.put_on_hold(reason, at)
        except InvalidTransition:
            return  # not due yet by `at`: the next due work holds it
        self._pay_owed_from_wallet(self._wallet(uow, number.account_id), number, at)


def _renewal_target(uow: UnitOfWork, payment: Payment) -> tuple[NumberSubscription, int] | None:
    """The number and period that `payment` is the latest attempt at renewing, if still held."""
    quote: Quote | None = uow.orders.find(payment.account_id, payment.quote_id)
    line = _renewed_number(quote)
    if quote is None or line is None:
        return None
    if uow.payments.by_reference(_next_attempt_id(payment.payment_id)) is not None:
        return None  # a later attempt speaks for the period now
    number: NumberSubscription | None = uow.numbers.find(payment.account_id, line.number_e164)
    period = renewed_period(number, quote.quote_id)
    if number is None or period is None:
        return None
    return number, period
