"""Due work: renewals, pre-debit notices, holds, releases, expiries, stale payments, refunds.

`run_due(now)` walks every kind of aggregate whose scheduled work is due, in pages, each page
in one unit of work (so 10,000 renewals are a few dozen commits, not 10,000). If anything in a
page fails, the page is rolled back and its items are retried one unit of work each, so one
bad item is reported without holding up the others. Every step is idempotent per (item,
period): running due work twice for the same instant charges nothing twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any

from attrs import define, field, frozen

from minutebill._unit_of_work import UnitOfWork
from minutebill.domain.ledger import MinuteLedger
from minutebill.domain.money import Money
from minutebill.domain.number_status import NumberStatus
from minutebill.domain.numbers import NumberSubscription
from minutebill.domain.payments import Payment
from minutebill.domain.subscriptions import (
    PaymentOutcome,
    RenewalResult,
    Subscription,
    SubscriptionStatus,
)
from minutebill.domain.wallet import Wallet
from minutebill.errors import MinutebillError, ValidationError
from minutebill.service._mandates import MandateCharge
from minutebill.service._numbers import NumbersMixin

__all__ = ["DueReport", "DueWorkMixin"]

Progress = Callable[[str, int], None]
"""Called with a kind (``"numbers"``) and how many of it were handled so far."""


@define
class _Tally:
    """What one attempt at a page decided: counted and kept only once its unit of work commits.

    A page re-run after a concurrency conflict (or item by item after a failure) must not count
    twice, nor send a mandate charge that a rolled-back attempt decided.
    """

    counts: Counter[str] = field(factory=Counter)
    charges: list[MandateCharge] = field(factory=list)

    def merge_into(self, total: _Tally) -> None:
        total.counts.update(self.counts)
        total.charges.extend(self.charges)


Handler = Callable[[UnitOfWork, Any, _Tally], None]

_IDENTITIES: dict[str, Callable[[Any], tuple[str, str]]] = {
    "subscriptions": lambda subscription: (subscription.account_id, ""),
    "ledgers": lambda ledger: (ledger.account_id, ""),
    "numbers": lambda number: (number.account_id, number.number_e164),
}
"""How the repository of each kind `run_due` walks identifies an item: ``(account_id, key)``."""


@frozen(kw_only=True)
class DueReport:
    """What one `run_due` did.

    Attributes:
        at: The instant the work was due by.
        counts: How many of each action were taken (``"numbers_renewed"``, ``"refunds_sent"``,
            ...).
        failures: Items that could not be handled, with the reason; the rest went ahead.
    """

    at: datetime
    counts: dict[str, int] = field(factory=dict)
    failures: tuple[tuple[str, str], ...] = ()

    def __getitem__(self, action: str) -> int:
        return self.counts.get(action, 0)


class DueWorkMixin(NumbersMixin):
    """The scheduled-work use case."""

    def run_due(
        self,
        now: datetime | None = None,
        *,
        batch_size: int = 500,
        progress: Progress | None = None,
    ) -> DueReport:
        """Do all work due by `now` (default: the clock's time).

        Plans are renewed from the wallet (PAST_DUE within grace when it cannot pay, EXPIRED
        after); numbers get their pre-debit notices, renewals (wallet first, then mandate),
        holds and releases; expired holds and grants give their minutes back or expire them;
        open payments are reconciled with the gateway and failed at their deadline; refunds
        decided but not yet taken by the gateway are sent again, with their first idempotency
        key (``"refunds_sent"`` counts those the gateway took). A refund the gateway cannot
        take now is reported in `DueReport.failures` and tried again by the next run; one it
        refuses for good (`GatewayRejected`) is reported once and recorded as failed
        (`RefundFailed` in the outbox), never sent again. A number whose mandate debit failed
        — declined now, refused for good (a revoked mandate: reported once in
        `DueReport.failures`), failed by reconciliation or expiry, or found failed from
        earlier — goes On Hold.

        Raises:
            ValidationError: for a `now` that is not an aware datetime, or a batch size that
                is not an int of at least 1.
        """
        at = self._now() if now is None else now
        if not isinstance(at, datetime) or at.tzinfo is None:
            raise ValidationError("now", now, "a timezone-aware datetime")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValidationError("batch_size", batch_size, "an int, at least 1")
        total = _Tally()
        failures: list[tuple[str, str]] = []
        # Subscriptions before ledgers: a renewal carries the ended period's unused plan
        # minutes over (rollover) before the ledger's own due work expires them.
        kinds: list[tuple[str, Handler]] = [
            ("subscriptions", lambda uow, x, t: self._due_subscription(uow, x, at, t.counts)),
            ("ledgers", lambda _, x, t: self._due_ledger(x, at, t.counts)),
            ("numbers", lambda uow, x, t: self._due_number(uow, x, at, t.counts, t.charges)),
        ]
        for kind, handle in kinds:
            self._walk(kind, at, batch_size, handle, total, failures, progress)
        counts, charges = total.counts, total.charges
        counts["mandate_charges"] += 0  # always in the report, even when none was due
        for charge in charges:  # one at a time: a gateway failure holds up no other number
            try:
                self._send_mandate_charges([charge])
            except MinutebillError as exc:
                failures.append((f"numbers {charge.account_id}:{charge.number_e164}", str(exc)))
            else:
                counts["mandate_charges"] += 1
        self._due_payments(at, batch_size, counts, failures, progress)
        return DueReport(at=at, counts=dict(counts), failures=tuple(failures))

    # --- walking pages ----------------------------------------------------------------------

    def _walk(
        self,
        kind: str,
        at: datetime,
        batch_size: int,
        handle: Handler,
        total: _Tally,
        failures: list[tuple[str, str]],
        progress: Progress | None,
    ) -> None:
        cursor: str | None = None
        done = 0
        while True:

            def page(uow: UnitOfWork, after: str | None = cursor) -> tuple[str | None, int, _Tally]:
                tally = _Tally()
                items = getattr(uow, kind).due_page(at, batch_size, after=after)
                for aggregate, _ in items:
                    handle(uow, aggregate, tally)
                return (items[-1][1] if items else None), len(items), tally

            try:
                cursor_next, size, tally = self._run(page)
                tally.merge_into(total)
            except MinutebillError:
                cursor_next, size = self._one_by_one(
                    kind, at, batch_size, cursor, handle, total, failures
                )
            if cursor_next is None:
                return
            cursor = cursor_next
            done += size
            if progress is not None:
                progress(kind, done)

    def _one_by_one(
        self,
        kind: str,
        at: datetime,
        batch_size: int,
        cursor: str | None,
        handle: Handler,
        total: _Tally,
        failures: list[tuple[str, str]],
    ) -> tuple[str | None, int]:
        """Handle the page after `cursor` one unit of work per item, reporting each failure.

        Each unit of work loads the item it read by its identity: asking again for "the next
        due after the previous one" would handle, in its place, a row that became due in that
        gap meanwhile, and skip (unreported) the one meant. An item no longer due is handed to
        its handler all the same, which does only what is due at `at`: nothing.
        """
        identity = _IDENTITIES[kind]
        keys = self._read(
            lambda uow: [
                (c, identity(x))
                for x, c in getattr(uow, kind).due_page(at, batch_size, after=cursor)
            ]
        )
        for key, (account_id, item_key) in keys:

            def one(
                uow: UnitOfWork, account_id: str = account_id, item_key: str = item_key
            ) -> _Tally:
                tally = _Tally()
                aggregate = getattr(uow, kind).find(account_id, item_key)
                if aggregate is not None:
                    handle(uow, aggregate, tally)
                return tally

            try:
                self._run(one).merge_into(total)
            except MinutebillError as exc:
                failures.append((f"{kind} {key}", str(exc)))
        return (keys[-1][0] if keys else None), len(keys)

    # --- each kind --------------------------------------------------------------------------

    @staticmethod
    def _due_ledger(ledger: MinuteLedger, at: datetime, counts: Counter[str]) -> None:
        counts["holds_expired"] += len(ledger.expire_holds(at))
        if ledger.expire(at):
            counts["grants_expired"] += 1

    def _due_subscription(
        self, uow: UnitOfWork, subscription: Subscription, at: datetime, counts: Counter[str]
    ) -> None:
        account_id = subscription.account_id
        if self._lapse(uow, subscription, at):
            counts["plans_expired"] += 1
            return
        ledger = self._ledger(uow, account_id)
        wallet = self._wallet(uow, account_id)
        while subscription.renewal_due(at):
            if self._renew_from_wallet(subscription, ledger, wallet, at):
                counts["plans_renewed"] += 1
            else:
                if subscription.status is SubscriptionStatus.ACTIVE:
                    # Run after the grace period already ended, a failed renewal expires
                    # the plan at once: report what happened, not what was attempted.
                    result = subscription.renew(at, PaymentOutcome.FAILED, ledger)
                    if result is RenewalResult.EXPIRED:
                        self._bill_arrears_of_ended(uow, subscription, at)
                        counts["plans_expired"] += 1
                    else:
                        counts["plans_past_due"] += 1
                return

    def _renew_from_wallet(
        self, subscription: Subscription, ledger: MinuteLedger, wallet: Wallet, at: datetime
    ) -> bool:
        """Pay the due renewal from the wallet and renew, if it covers it; whether it did."""
        amount = self._renewal_amount(subscription, ledger, at)
        if not wallet.can_cover(amount):
            return False
        if amount.amount > 0:
            wallet.debit(amount, subscription.renewal_key, at, reason="plan renewal")
        self._renew_paid(subscription, ledger, wallet, at)
        return True

    def _renewal_amount(
        self, subscription: Subscription, ledger: MinuteLedger, at: datetime
    ) -> Money:
        """The next period's price plus the overage billed in arrears for this one, taxed.

        See `_renewal_charge` for what the arrears are.
        """
        price, arrears = self._renewal_charge(subscription, ledger, at)
        return self._gross(price + arrears)

    def _due_number(
        self,
        uow: UnitOfWork,
        number: NumberSubscription,
        at: datetime,
        counts: Counter[str],
        charges: list[MandateCharge],
    ) -> None:
        before = (number.status, number.paid_periods, number.notice)
        charge = self._carry_out(uow, number, at)
        if charge is not None:
            charges.append(charge)
            return
        status, paid, notice = before
        if number.status is NumberStatus.RELEASED and status is not NumberStatus.RELEASED:
            counts["numbers_released"] += 1
        elif number.paid_periods > paid:
            counts["numbers_renewed"] += 1
        elif number.status is NumberStatus.ON_HOLD and status is not NumberStatus.ON_HOLD:
            counts["numbers_put_on_hold"] += 1
        elif number.notice is not None and notice is None:
            counts["pre_debit_notices"] += 1

    def _due_payments(
        self,
        at: datetime,
        batch_size: int,
        counts: Counter[str],
        failures: list[tuple[str, str]],
        progress: Progress | None,
    ) -> None:
        # Page by cursor: a payment still open after reconciling stays due, and must not keep
        # the ones after it from being looked at.
        cursor: str | None = None
        done = 0
        while True:
            due: list[tuple[Payment, str]] = self._read(
                partial(_due_payments_page, at=at, limit=batch_size, after=cursor)
            )
            if not due:
                return
            for payment, _ in due:
                name = f"payment {payment.payment_id}"
                try:
                    if payment.refunds_owed:
                        refunds = self._send_refunds(payment.payment_id)
                        counts["refunds_sent"] += refunds.sent
                        failures.extend((f"{name} refund {r}", why) for r, why in refunds.failures)
                    if payment.status.is_open:
                        self._due_open_payment(payment, at, counts)
                except MinutebillError as exc:
                    failures.append((name, str(exc)))
                done += 1
                if progress is not None:
                    progress("payments", done)
            cursor = due[-1][1]

    def _due_open_payment(self, payment: Payment, at: datetime, counts: Counter[str]) -> None:
        """Reconcile an open payment, then fail it if its deadline has passed.

        The deadline counts even when the gateway cannot be asked (an outage, an id it does
        not know): a success it reports later, dated within the window, still wins. The
        reconciliation's error is raised after that, for the report.
        """
        failure: MinutebillError | None = None
        # A checkout payment whose answer was lost is asked for again (see `reconcile_payment`).
        if payment.gateway_payment_id is not None or payment.method is not None:
            try:
                self.reconcile_payment(payment.payment_id)
            except MinutebillError as exc:
                failure = exc
            else:
                counts["payments_reconciled"] += 1
        expire = partial(self._expire_payment, payment_id=payment.payment_id, at=at)
        if self._run(expire):
            counts["payments_expired"] += 1
        if failure is not None:
            raise failure

    def _expire_payment(self, uow: UnitOfWork, *, payment_id: str, at: datetime) -> bool:
        payment = self._payment(uow, payment_id)
        if not payment.expire(at):
            return False
        self._on_payment_unpaid(uow, payment, at)
        return True

    def _catch_up_plan(self, uow: UnitOfWork, subscription: Subscription, at: datetime) -> None:
        """Renew (or lapse) the plan now if `run_due(at)` would: a call needs its minutes."""
        if subscription.renewal_due(at):
            self._due_subscription(uow, subscription, at, Counter())

    # --- money arrived: retry what was waiting for it ---------------------------------------

    def _on_wallet_credited(self, uow: UnitOfWork, account_id: str, at: datetime) -> None:
        """Pay a past-due plan and then held numbers from the wallet, now that it has money.

        The plan first, as the due work does: every call needs it. A held number with
        Auto-Pay is then paid every period it owes, one by one, as far as the wallet goes
        (`WalletRenewalsMixin._pay_owed_from_wallet`).
        """
        wallet: Wallet = self._wallet(uow, account_id)
        subscription: Subscription | None = uow.subscriptions.find(account_id)
        if subscription is not None and subscription.status is SubscriptionStatus.PAST_DUE:
            self._renew_from_wallet(subscription, self._ledger(uow, account_id), wallet, at)
        for number in uow.numbers.for_account(account_id):
            if number.status is NumberStatus.ON_HOLD and number.auto_pay:
                self._pay_owed_from_wallet(wallet, number, at)


def _due_payments_page(
    uow: UnitOfWork, *, at: datetime, limit: int, after: str | None
) -> list[tuple[Payment, str]]:
    page: list[tuple[Payment, str]] = uow.payments.due_page(at, limit, after=after)
    return page
