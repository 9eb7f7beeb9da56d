"""Phone numbers: Auto-Pay, Release, and carrying out renewal decisions.

The domain decides (`minutebill.domain.number_renewal.renew`); this module carries the
decision out: a wallet debit and the paid period in one unit of work; a mandate charge as a
`Payment` for a renewal quote (`minutebill.service._mandates`), sent to the gateway after the
unit of work commits and fulfilled like any other payment. Both are priced with the
checkout's tax, and the pre-debit notice announces the taxed amount the mandate will be
debited.
"""

from __future__ import annotations

from datetime import datetime

from attrs import evolve

from minutebill._unit_of_work import UnitOfWork
from minutebill.domain.number_renewal import (
    ChargeMandate,
    DebitWallet,
    NothingDue,
    PutOnHold,
    ReleaseNumber,
    SendPreDebitNotice,
)
from minutebill.domain.number_status import NumberStatus, ReleaseReason
from minutebill.domain.numbers import NumberSubscription
from minutebill.domain.payment_status import PaymentStatus
from minutebill.domain.wallet import Wallet
from minutebill.service._mandates import MandateCharge, MandatesMixin
from minutebill.views import NumberView

__all__ = ["NumbersMixin"]


class NumbersMixin(MandatesMixin):
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
        """Turn Auto-Pay on or off; setting it on for a held number tries the charge at once.

        The customer who sets Auto-Pay on for a held number is present, so the charge is
        tried whether Auto-Pay was off or already on (a number held after a declined mandate
        debit, or one waiting for their authentication, still has it on): this is how they
        try again, with a new mandate if they like.

        The immediate charge pays the missed period from the wallet if it covers the fee with
        its tax, else from the mandate, on-session; the wallet then pays every other period
        the number owes (under `HeldFee.ACCRUE`) as far as it goes. A mandate debit that
        failed before (or waits for the customer's authentication) is not sent again: this
        starts a new attempt under a new payment id and gateway key, while an attempt still
        in flight (pending at the gateway) is asked about again, not repeated.

        Args:
            account_id: The account.
            number_e164: The number.
            on: The new setting.
            mandate_id: A saved payment method renewals may charge (kept if None: to drop
                it, `remove_mandate`).

        Returns:
            The number's row; when the gateway asks the customer to authenticate the debit
            (above the mandate's no-authentication limit), its `next_action_url` says where.

        Raises:
            NotFound: for an unknown account or number.
            InvalidTransition: for a released number (nothing changes).
        """
        at = self._now()

        def work(uow: UnitOfWork) -> MandateCharge | None:
            number: NumberSubscription = uow.numbers.get(account_id, number_e164)
            number.set_auto_pay(on, at)
            if mandate_id is not None:
                number.attach_mandate(mandate_id)
            if on and number.status is NumberStatus.ON_HOLD:  # the customer is here to pay
                return self._carry_out(uow, number, at, customer_present=True)
            return None

        answers = self._send_mandate_charges([c for c in [self._run(work)] if c is not None])
        view = self._number_view(account_id, number_e164)
        for answer in answers:  # the customer is here: send them to authenticate the debit
            if answer.status is PaymentStatus.ACTION_REQUIRED and answer.next_action_url:
                return evolve(view, next_action_url=answer.next_action_url)
        return view

    def remove_mandate(self, account_id: str, number_e164: str) -> NumberView:
        """Forget the number's saved mandate (revoked by the customer, or replaced by none).

        `set_auto_pay` keeps the saved mandate when it is given none; this drops it, so
        renewals stop announcing and sending debits the gateway would refuse: they pay from
        the wallet alone, and a number the wallet cannot renew goes On Hold for credit.
        Auto-Pay stays as it was; `set_auto_pay(..., mandate_id=...)` saves a new mandate.
        A pre-debit notice already given is dropped with the mandate. A mandate debit already
        sent is not called back: its outcome is handled when it arrives. Removing it again
        changes nothing.

        Raises:
            NotFound: for an unknown account or number.
            InvalidTransition: for a released number (nothing changes).
        """

        def work(uow: UnitOfWork) -> None:
            number: NumberSubscription = uow.numbers.get(account_id, number_e164)
            number.attach_mandate(None)

        self._run(work)
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
        # Each unused period is given back what it was charged: its fee with its tax.
        released = number.release(
            at, reason=reason, refund_per_period=self._gross(number.recurring_fee)
        )
        if released.refund_due.amount > 0:
            self._credit(
                uow,
                number.account_id,
                released.refund_due,
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
        """Decide about `number` now and do it; a mandate charge is returned to send later.

        After a wallet debit or a hold (a mandate attempt found ended holds the number too),
        the wallet then pays whatever else the rules have it pay at `at`: every owed period
        of an `HeldFee.ACCRUE` number, or the period of a number just held with a wallet that
        covers it. A number the wallet leaves unpaid is then held, and one held past its grace
        period released (`_hold_or_release_unpaid`).
        """
        wallet = self._wallet(uow, number.account_id)
        decision = self._renewal_decision(number, wallet, at, customer_present=customer_present)
        if isinstance(decision, NothingDue):
            return None
        if isinstance(decision, ChargeMandate):
            charge = self._mandate_payment(uow, number, decision, at)
            if charge is not None:
                return charge
        elif isinstance(decision, DebitWallet):
            self._pay_from_wallet(wallet, number, decision, at)
        elif isinstance(decision, PutOnHold):
            number.put_on_hold(decision.reason, at)
        elif isinstance(decision, SendPreDebitNotice):
            number.record_pre_debit_notice(decision.period_index, at, amount=decision.amount)
            return None
        elif isinstance(decision, ReleaseNumber):
            self._release(uow, number, at, decision.reason)
            return None
        self._pay_owed_from_wallet(wallet, number, at, customer_present=customer_present)
        self._hold_or_release_unpaid(uow, wallet, number, at, customer_present=customer_present)
        return None

    def _hold_or_release_unpaid(
        self,
        uow: UnitOfWork,
        wallet: Wallet,
        number: NumberSubscription,
        at: datetime,
        *,
        customer_present: bool,
    ) -> None:
        """Hold a number the wallet left unpaid at `at`; release one held past its grace.

        What `renew` decides next once the wallet has paid what it could, done now: the due
        work looks at a number again in the same run only when its new due time comes after
        the last one of its page, so a number it reaches late would otherwise stay Active with
        periods unpaid, or On Hold past its release date, until the next run.
        """
        if number.hold is None and number.paid_through > at:
            return  # paid up: nothing to hold or release
        decision = self._renewal_decision(number, wallet, at, customer_present=customer_present)
        if isinstance(decision, PutOnHold):
            number.put_on_hold(decision.reason, at)
            decision = self._renewal_decision(number, wallet, at, customer_present=customer_present)
        if isinstance(decision, ReleaseNumber):
            self._release(uow, number, at, decision.reason)
