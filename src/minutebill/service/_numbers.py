"""Phone numbers: Auto-Pay, Release, and carrying out renewal decisions.

The domain decides (`minutebill.domain.number_renewal.renew`); this module carries the
decision out: a wallet debit and the paid period in one unit of work; a mandate charge as a
`Payment` for a renewal quote, sent to the gateway after the unit of work commits and
fulfilled like any other payment.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from functools import partial

from attrs import frozen

from minutebill._unit_of_work import UnitOfWork
from minutebill.domain.checkout import NumberLine, Order
from minutebill.domain.money import Money
from minutebill.domain.number_renewal import (
    ChargeMandate,
    DebitWallet,
    NothingDue,
    PutOnHold,
    ReleaseNumber,
    RenewalDecision,
    SendPreDebitNotice,
    renew,
)
from minutebill.domain.number_status import HoldReason, NumberStatus, ReleaseReason
from minutebill.domain.numbers import NumberSubscription
from minutebill.domain.payment_status import PaymentStatus
from minutebill.domain.payments import Payment
from minutebill.domain.wallet import Wallet
from minutebill.errors import InvalidTransition
from minutebill.gateway import MandateChargeRequest
from minutebill.service._purchases import PurchasesMixin
from minutebill.views import NumberView

__all__ = ["MandateCharge", "NumbersMixin"]


@frozen
class MandateCharge:
    """A mandate debit decided inside a unit of work, to send once it has committed."""

    account_id: str
    number_e164: str
    payment_id: str
    mandate_id: str
    notified_at: datetime | None


_HOLD_FOR = {
    PaymentStatus.FAILED: HoldReason.PAYMENT_FAILED,
    PaymentStatus.CANCELED: HoldReason.PAYMENT_FAILED,
    PaymentStatus.ACTION_REQUIRED: HoldReason.CUSTOMER_ACTION_REQUIRED,
}


def _find_payment(uow: UnitOfWork, *, payment_id: str) -> Payment:
    return PurchasesMixin._payment(uow, payment_id)  # noqa: SLF001 - a static lookup


class NumbersMixin(PurchasesMixin):
    """Use cases of phone-number subscriptions."""

    def numbers(self, account_id: str) -> list[NumberView]:
        """The account's numbers with status, Auto-Pay and paid-through date.

        Raises:
            NotFound: for an unknown account.
        """
        at = self._now()

        def work(uow: UnitOfWork) -> list[NumberView]:
            self._wallet(uow, account_id)
            return [NumberView.build(n, at) for n in uow.numbers.for_account(account_id)]

        return self._read(work)

    def set_auto_pay(
        self, account_id: str, number_e164: str, on: bool, *, mandate_id: str | None = None
    ) -> NumberView:
        """Turn Auto-Pay on or off; turning it on for a held number tries the charge at once.

        Args:
            account_id: The account.
            number_e164: The number.
            on: The new setting.
            mandate_id: A saved payment method renewals may charge (kept if None).

        Raises:
            NotFound: for an unknown account or number.
            InvalidTransition: for a released number (nothing changes).
        """
        at = self._now()

        def work(uow: UnitOfWork) -> MandateCharge | None:
            number: NumberSubscription = uow.numbers.get(account_id, number_e164)
            charge_now = number.set_auto_pay(on, at)
            if mandate_id is not None:
                number.attach_mandate(mandate_id)
            if charge_now:
                return self._carry_out(uow, number, at, customer_present=True)
            return None

        self._send_mandate_charges([c for c in [self._run(work)] if c is not None])
        return self._number_view(account_id, number_e164)

    def release_number(self, account_id: str, number_e164: str) -> NumberView:
        """Release a number: recurring charges stop and it goes back to the provider.

        A paid period that had not started yet is credited to the wallet: its fee with the
        tax it was charged with (under the checkout's tax policy).

        Raises:
            NotFound: for an unknown account or number.
            InvalidTransition: if it is already released (nothing changes).
        """
        at = self._now()

        def work(uow: UnitOfWork) -> None:
            number: NumberSubscription = uow.numbers.get(account_id, number_e164)
            self._release(uow, number, at, ReleaseReason.REQUESTED)

        self._run(work)
        return self._number_view(account_id, number_e164)

    def _number_view(self, account_id: str, number_e164: str) -> NumberView:
        at = self._now()
        return self._read(
            lambda uow: NumberView.build(uow.numbers.get(account_id, number_e164), at)
        )

    def _release(
        self, uow: UnitOfWork, number: NumberSubscription, at: datetime, reason: ReleaseReason
    ) -> None:
        released = number.release(at, reason=reason)
        if released.refund_due.amount > 0:
            self._credit(
                uow,
                number.account_id,
                self._gross(released.refund_due),  # what the period cost, its tax included
                f"release:{number.renewal_key(number.paid_periods)}",
                at,
                "unused number period",
            )

    # --- renewals ---------------------------------------------------------------------------

    def _carry_out(
        self,
        uow: UnitOfWork,
        number: NumberSubscription,
        at: datetime,
        *,
        customer_present: bool = False,
    ) -> MandateCharge | None:
        """Decide about `number` now and do it; a mandate charge is returned to send later."""
        wallet = self._wallet(uow, number.account_id)
        decision: RenewalDecision = renew(
            number,
            self._spendable(wallet, number),
            at,
            has_mandate=number.has_mandate,
            customer_present=customer_present,
        )
        if isinstance(decision, NothingDue):
            return None
        if isinstance(decision, DebitWallet):
            self._pay_from_wallet(wallet, number, decision, at)
        elif isinstance(decision, SendPreDebitNotice):
            number.record_pre_debit_notice(decision.period_index, at)
        elif isinstance(decision, PutOnHold):
            number.put_on_hold(decision.reason, at)
        elif isinstance(decision, ReleaseNumber):
            self._release(uow, number, at, decision.reason)
        elif isinstance(decision, ChargeMandate):
            return self._mandate_payment(uow, number, decision, at)
        return None

    def _spendable(self, wallet: Wallet, number: NumberSubscription) -> Money:
        """The balance the renewal decision may count on.

        All of it if it covers the fee with its tax, else nothing: the decision compares the
        balance with the net fee.
        """
        if wallet.can_cover(self._gross(number.recurring_fee)):
            return wallet.balance
        return Money.zero(wallet.currency)

    def _pay_from_wallet(
        self, wallet: Wallet, number: NumberSubscription, decision: DebitWallet, at: datetime
    ) -> None:
        wallet.debit(
            self._gross(decision.amount),
            decision.idempotency_key,
            at,
            reason="number renewal",
            reference=number.number_e164,
        )
        number.record_renewal_paid(decision.period_index, at)

    def _mandate_payment(
        self, uow: UnitOfWork, number: NumberSubscription, decision: ChargeMandate, at: datetime
    ) -> MandateCharge | None:
        if number.mandate_id is None:  # pragma: no cover - renew() asks only with a mandate
            return None
        key = decision.idempotency_key
        quote_id = key  # ends in ":<period index>", which fulfilment reads back
        # Payment ids (and the gateway's idempotency keys) are unique across accounts; the
        # renewal key is only unique per number, so the account is part of the digest.
        scoped = f"{number.account_id}\x00{key}"
        payment_id = "pay_" + hashlib.sha256(scoped.encode()).hexdigest()[:24]
        existing: Payment | None = uow.payments.by_reference(payment_id)
        if existing is None:
            order = Order(
                [NumberLine(offer=number.offer, number_e164=number.number_e164, renewal=True)],
                number.offer.monthly_fee.currency,
            )
            quote = order.quote(quote_id=quote_id, account_id=number.account_id, at=at)
            uow.orders.add(quote)
            uow.payments.add(
                Payment.for_quote(quote, payment_id=payment_id, idempotency_key=payment_id, at=at)
            )
        elif not existing.status.is_open:
            return None
        notice = number.notice
        return MandateCharge(
            number.account_id,
            number.number_e164,
            payment_id,
            number.mandate_id,
            None if decision.on_session or notice is None else notice.sent_at,
        )

    def _send_mandate_charges(self, charges: list[MandateCharge]) -> None:
        for charge in charges:
            payment = self._read(partial(_find_payment, payment_id=charge.payment_id))
            reported = self.gateway.charge_mandate(
                MandateChargeRequest.for_payment(
                    payment,
                    mandate_id=charge.mandate_id,
                    description=f"Number {charge.number_e164} renewal",
                    pre_debit_notified_at=charge.notified_at,
                )
            )
            result = self._observe_gateway(reported)
            reason = _HOLD_FOR.get(result.status)
            if reason is not None:
                self._hold_after_failed_charge(charge, reason)

    def _hold_after_failed_charge(self, charge: MandateCharge, reason: HoldReason) -> None:
        at = self._now()

        def work(uow: UnitOfWork) -> None:
            number: NumberSubscription = uow.numbers.get(charge.account_id, charge.number_e164)
            if number.status is NumberStatus.RELEASED:
                return
            try:
                number.put_on_hold(reason, at)
            except InvalidTransition:
                return  # not due any more (paid meanwhile)

        self._run(work)
