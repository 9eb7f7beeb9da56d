"""Number renewals paid from the wallet, and the rule that settles a number after each step.

`renew` returns one decision at a time. After the service has carried one out for a number —
in the due work, when money reaches the wallet, when the customer turns Auto-Pay on, when a
mandate debit fails — it asks again at the same instant and pays what the wallet now pays,
period by period, so the number ends in the state the rules give for that instant: an
`HeldFee.ACCRUE` number that owes three periods is paid all three by one top-up, and a number
held because its mandate was declined is paid at once by a wallet that covers the fee.

Only wallet debits are carried out this way: a mandate charge goes to the gateway after the
unit of work commits, one per number per run, and anything else waits for its own time. Each
debit carries its period's key (`NumberSubscription.renewal_key`) and a paid period is never
asked for again, so no two paths can pay one period twice.
"""

from __future__ import annotations

from datetime import datetime

from minutebill._unit_of_work import UnitOfWork
from minutebill.domain.money import Money
from minutebill.domain.number_renewal import DebitWallet, RenewalDecision, renew
from minutebill.domain.number_status import NumberStatus
from minutebill.domain.numbers import NumberSubscription
from minutebill.domain.wallet import Wallet
from minutebill.service._purchases import PurchasesMixin

__all__ = ["WalletRenewalsMixin"]


class WalletRenewalsMixin(PurchasesMixin):
    """Deciding a number's renewal, and paying it from the wallet."""

    def _renewal_decision(
        self,
        number: NumberSubscription,
        wallet: Wallet,
        at: datetime,
        *,
        customer_present: bool = False,
    ) -> RenewalDecision:
        """`renew` for `number` at `at`, with what the wallet may spend and the taxed debit."""
        gross = self._gross(number.recurring_fee)
        has_mandate = number.has_mandate
        return renew(
            number,
            self._spendable(wallet, gross),
            at,
            has_mandate=has_mandate,
            customer_present=customer_present,
            # What a mandate debit takes; a number without a mandate has none to check.
            debit_amount=gross if has_mandate else None,
        )

    def _pay_owed_from_wallet(
        self,
        wallet: Wallet,
        number: NumberSubscription,
        at: datetime,
        *,
        customer_present: bool = False,
    ) -> None:
        """Pay, one period at a time, every period the rules have the wallet pay at `at`.

        Stops at the first decision that is not a wallet debit, or one that changed nothing,
        and after at most the periods owed by `at`. A number paid up by `at` costs no
        decision at all (the plain renewal in the due work).
        """
        for _ in range(self._periods_owed(number, at)):
            decision = self._renewal_decision(number, wallet, at, customer_present=customer_present)
            if not isinstance(decision, DebitWallet):
                return
            paid = number.paid_periods
            self._pay_from_wallet(wallet, number, decision, at)
            if number.paid_periods == paid:  # pragma: no cover - renew() asks only unpaid ones
                return

    def _on_renewal_paid(self, uow: UnitOfWork, number: NumberSubscription, at: datetime) -> None:
        """After a payment (a mandate debit) paid one period, the wallet pays what else is owed.

        A held `HeldFee.ACCRUE` number that owes more periods than the debit paid is paid the
        others from a wallet that covers them, instead of staying On Hold, to be released with
        the money still in the wallet.
        """
        self._pay_owed_from_wallet(self._wallet(uow, number.account_id), number, at)

    @staticmethod
    def _periods_owed(number: NumberSubscription, at: datetime) -> int:
        """How many periods the number may still be paid for at `at` (0: none)."""
        if number.status is NumberStatus.RELEASED:
            return 0
        if number.status is NumberStatus.ACTIVE and number.paid_through > at:
            return 0
        # Paying through the period that holds `at` leaves nothing owed (a frozen number
        # on hold pays only that period).
        return max(number.cycle.index_at(at) + 1 - number.paid_periods, 1)

    @staticmethod
    def _spendable(wallet: Wallet, gross: Money) -> Money:
        """The balance the renewal decision may count on.

        All of it if it covers `gross`, the fee with its tax, else nothing: the decision
        compares the balance with the net fee.
        """
        if wallet.can_cover(gross):
            return wallet.balance
        return Money.zero(wallet.currency)

    def _pay_from_wallet(
        self, wallet: Wallet, number: NumberSubscription, decision: DebitWallet, at: datetime
    ) -> None:
        gross = self._gross(decision.amount)
        wallet.debit(
            gross,
            decision.idempotency_key,
            at,
            reason="number renewal",
            reference=number.number_e164,
        )
        number.record_renewal_paid(decision.period_index, at, paid=gross)
