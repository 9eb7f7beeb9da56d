"""Fulfilment, exactly once: what a captured payment bought is delivered, or remedied.

The payment decides once (`Payment.fulfil`), in the unit of work that learned of its
capture; this mixin carries the decision out in that same unit of work: it grants the bundle,
credits the wallet, activates or renews the number, renews the plan, and credits or reserves
the refund of what can no longer be delivered.
"""

from __future__ import annotations

from datetime import datetime

from minutebill._unit_of_work import StoredResponse, UnitOfWork
from minutebill.domain.catalog import ValidityKind
from minutebill.domain.checkout import BundleLine, NumberLine, PlanAction, PlanLine, Quote
from minutebill.domain.fulfilment import Fulfilment, Remedy, StepKind
from minutebill.domain.grants import GrantSource
from minutebill.domain.money import Money
from minutebill.domain.number_policy import NumberPolicy
from minutebill.domain.number_status import NumberStatus, PaymentDisposition
from minutebill.domain.numbers import NumberSubscription, check_number_limit
from minutebill.domain.payments import Payment
from minutebill.errors import LimitExceeded
from minutebill.service._base import ServiceBase

__all__ = ["FulfilmentMixin", "options_key", "renewed_period"]


def options_key(quote_id: str) -> str:
    """Where the idempotency store keeps a purchase's options (Auto-Pay, the mandate)."""
    return f"checkout-options:{quote_id}"


def renewed_period(number: NumberSubscription | None, quote_id: str) -> int | None:
    """The period of `number` that the renewal quote `quote_id` pays, if it is still payable.

    A renewal quote's id is the number's renewal key, ``number:<e164>:<anchor>:<period>``.
    None for a number that is gone or released, and for a quote of an earlier subscription
    of the same number (released and bought again: another anchor), whose money must not pay
    a period of the new one.
    """
    if number is None or number.status is NumberStatus.RELEASED:
        return None
    period = int(quote_id.rsplit(":", 1)[1])
    return period if number.renewal_key(period) == quote_id else None


def _paid_key(quote_id: str) -> str:
    return f"quote-fulfilled:{quote_id}"


class FulfilmentMixin(ServiceBase):
    """Carrying out a payment's fulfilment decision."""

    number_policy: NumberPolicy
    remedy: Remedy

    def _on_renewal_paid(self, uow: UnitOfWork, number: NumberSubscription, at: datetime) -> None:
        """Called in `uow` once a payment paid a period of `number` (the numbers override it)."""

    # --- fulfilment, exactly once -----------------------------------------------------------

    def _fulfil(self, uow: UnitOfWork, payment: Payment, at: datetime) -> None:
        """Decide and deliver what `payment` bought, if it was captured and not yet decided.

        A refund it calls for is reserved on the payment here, in the same unit of work: from
        the commit on, the payment owes it until the gateway takes it.
        """
        if payment.fulfilment is not None or not payment.captured:
            return
        quote: Quote = uow.orders.get(payment.account_id, payment.quote_id)
        paid_by = uow.idempotency.get(payment.account_id, _paid_key(quote.quote_id))
        decision = payment.fulfil(
            quote,
            at=at,
            unavailable=self._unavailable(uow, quote, at),
            repriced_total=quote.order.breakdown(quote.tax_policy).total,
            already_fulfilled_by=None if paid_by is None else paid_by.response["payment_id"],
            remedy=self.remedy,
        )
        if decision is None:
            return
        if paid_by is None and decision.steps:
            uow.idempotency.put(
                payment.account_id,
                _paid_key(quote.quote_id),
                StoredResponse(payment.payment_id, {"payment_id": payment.payment_id}),
            )
        self._deliver(uow, payment, quote, decision, at)
        self._remedy(uow, payment, decision, at)

    def _unavailable(self, uow: UnitOfWork, quote: Quote, at: datetime) -> set[str]:
        gone: set[str] = set()
        account_id = quote.account_id
        new_numbers = 0
        for line in quote.lines:
            if isinstance(line, BundleLine):
                if not self._bundle_deliverable(uow, account_id, line, at):
                    gone.add(line.target)
                continue
            if isinstance(line, PlanLine) and line.action is PlanAction.RENEW:
                # A plan that ended meanwhile (its grace ran out, canceled) is not renewed.
                if not self._subscription(uow, account_id).is_in_service(at):
                    gone.add(line.target)
                continue
            if not isinstance(line, NumberLine):
                continue
            held: NumberSubscription | None = uow.numbers.find(account_id, line.number_e164)
            if line.renewal:
                if renewed_period(held, quote.quote_id) is None:
                    gone.add(line.number_e164)
            elif held is not None and held.status is not NumberStatus.RELEASED:
                gone.add(line.number_e164)
            else:
                new_numbers += 1
        if new_numbers:
            limit = self._subscription(uow, account_id).phone_numbers_limit
            try:
                check_number_limit(uow.numbers.for_account(account_id), limit, adding=new_numbers)
            except LimitExceeded:
                gone |= {
                    line.number_e164
                    for line in quote.lines
                    if isinstance(line, NumberLine) and not line.renewal
                }
        return gone

    def _deliver(
        self, uow: UnitOfWork, payment: Payment, quote: Quote, decision: Fulfilment, at: datetime
    ) -> None:
        account_id = payment.account_id
        credited = renews_plan = False
        shares = quote.line_totals()  # what each line cost, tax included
        for step in decision.steps:
            line = quote.lines[step.line_index]
            key = f"{payment.payment_id}:{step.line_index}"
            paid = shares[step.line_index]
            if step.kind is StepKind.GRANT_BUNDLE and isinstance(line, BundleLine):
                self._grant_bundle(uow, account_id, line, step.quantity, key, at)
            elif step.kind is StepKind.ACTIVATE_NUMBER and isinstance(line, NumberLine):
                self._activate_number(uow, account_id, line, quote.quote_id, at)
            elif step.kind is StepKind.RENEW_NUMBER and isinstance(line, NumberLine):
                credited |= self._renew_number(uow, account_id, line, quote.quote_id, paid, key, at)
            elif step.kind is StepKind.RENEW_PLAN:
                # The renewal's price and arrears go to the wallet, which pays the renewal
                # below exactly as the due work would: whatever it bills by now (arrears
                # included, late usage covered), once, keyed by the renewal. Paid meanwhile,
                # the money stays in the wallet.
                credited |= self._credit(
                    uow, account_id, paid, key, at, "plan payment", retry=False
                )
                renews_plan = True
            else:  # a top-up, or a plan line bought through checkout: credited to the wallet
                credited |= self._credit(
                    uow, account_id, step.amount, key, at, "top-up", retry=False
                )
        if renews_plan:  # a renewal due but not yet run: the due work, with this money
            self._catch_up_plan(uow, self._subscription(uow, account_id), at)
        if credited:  # a past-due plan first, then held numbers
            self._on_wallet_credited(uow, account_id, at)

    def _remedy(
        self, uow: UnitOfWork, payment: Payment, decision: Fulfilment, at: datetime
    ) -> None:
        """Return what the decision owes, less what the gateway already refunded.

        A refund reported before the capture (made in the gateway's dashboard, say) has
        returned that money already: it is neither refunded nor credited a second time.
        """
        if decision.remedy is None:
            return
        amount = min(decision.remedy_amount, payment.refundable)
        if not amount:
            return
        if decision.remedy is Remedy.CREDIT_WALLET:
            self._credit(uow, payment.account_id, amount, decision.remedy_key, at, "refund")
            return
        payment.request_refund(amount, refund_id=decision.remedy_key, at=at)

    def _credit(
        self,
        uow: UnitOfWork,
        account_id: str,
        amount: Money,
        key: str,
        at: datetime,
        reason: str,
        *,
        retry: bool = True,
    ) -> bool:
        """Credit the wallet, then retry what was waiting for money (held numbers, the plan).

        Whatever brought the money — a top-up, a refund credited instead of sent, an unused
        period given back on a release — a held number with Auto-Pay is paid from it at once.
        `retry=False` leaves the retry to the caller (fulfilment retries once, after every
        line is delivered).

        Returns:
            Whether anything was credited.
        """
        if amount.amount <= 0:
            return False
        self._wallet(uow, account_id).credit(amount, key, at, reason=reason, reference=key)
        if retry:
            self._on_wallet_credited(uow, account_id, at)
        return True

    def _bundle_deliverable(
        self, uow: UnitOfWork, account_id: str, line: BundleLine, at: datetime
    ) -> bool:
        """Whether `line`'s minutes can still be granted at `at`.

        Minutes valid for the plan period need a plan in service: once it has expired (or a
        canceled one has ended) there is no period for them to last. After the period end
        the plan's due work is done first, as `run_due(at)` would do it: a plan left unpaid
        past its grace has ended even if the due work has not said so yet.
        """
        if line.bundle.validity.kind is not ValidityKind.PLAN_PERIOD:
            return True
        subscription = self._subscription(uow, account_id)
        self._catch_up_plan(uow, subscription, at)
        return subscription.is_in_service(at)

    def _grant_bundle(
        self,
        uow: UnitOfWork,
        account_id: str,
        line: BundleLine,
        quantity: int,
        key: str,
        at: datetime,
    ) -> None:
        bundle = line.bundle
        validity = bundle.validity
        if validity.kind is ValidityKind.PLAN_PERIOD:
            # The period `at` falls in: after a period's end its renewal may not have run yet
            # (or failed, within grace), and the ended period cannot hold new minutes.
            cycle = self._subscription(uow, account_id).cycle
            expires_at: datetime | None = cycle.period_containing(at).end
        elif validity.kind is ValidityKind.DAYS and validity.duration is not None:
            expires_at = at + validity.duration
        else:
            expires_at = None
        self._ledger(uow, account_id).grant(
            f"bundle:{key}",
            GrantSource.BUNDLE,
            bundle.seconds * quantity,
            at,
            expires_at=expires_at,
            reference=key,
        )

    def _activate_number(
        self, uow: UnitOfWork, account_id: str, line: NumberLine, quote_id: str, at: datetime
    ) -> None:
        options = uow.idempotency.get(account_id, options_key(quote_id))
        chosen = {} if options is None else options.response
        number = NumberSubscription.activate(
            line.number_e164,
            account_id,
            line.offer,
            at,
            auto_pay=bool(chosen.get("auto_pay", True)),
            policy=self.number_policy,
            timezone=self._timezone(uow, account_id),
        )
        mandate_id = chosen.get("mandate_id")
        if isinstance(mandate_id, str):
            number.attach_mandate(mandate_id)
        if uow.numbers.find(account_id, line.number_e164) is None:
            uow.numbers.add(number)
        else:  # a released number bought again
            uow.numbers.replace(number)

    def _renew_number(
        self,
        uow: UnitOfWork,
        account_id: str,
        line: NumberLine,
        quote_id: str,
        amount: Money,
        key: str,
        at: datetime,
    ) -> bool:
        """Pay the period the renewal quote names; whether the money went to the wallet.

        A period paid meanwhile gets back `amount`: all the line cost, its tax included.
        """
        number: NumberSubscription = uow.numbers.get(account_id, line.number_e164)
        period_index = int(quote_id.rsplit(":", 1)[1])
        if number.payment_disposition(period_index, at) is PaymentDisposition.APPLY:
            number.record_renewal_paid(period_index, at, paid=amount)
            self._on_renewal_paid(uow, number, at)
            return False
        # Paid meanwhile (a top-up got there first): the money is not lost.
        return self._credit(uow, account_id, amount, key, at, "renewal paid twice", retry=False)
