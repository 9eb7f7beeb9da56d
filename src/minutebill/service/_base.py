"""What every part of `Billing` shares: its collaborators and small lookups."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import Any, TypeVar

from minutebill._unit_of_work import AggregateRepository, UnitOfWork
from minutebill.catalog import Catalog
from minutebill.domain.admission import AdmissionPolicy
from minutebill.domain.call_queue import CallQueue
from minutebill.domain.ledger import LateUsageCovered, MinuteLedger
from minutebill.domain.memo import remember
from minutebill.domain.money import Money, sum_money
from minutebill.domain.periods import zone
from minutebill.domain.subscriptions import PaymentOutcome, RenewalResult, Subscription
from minutebill.domain.tax import TaxPolicy
from minutebill.domain.text import require_key
from minutebill.domain.wallet import Wallet
from minutebill.errors import NotFound
from minutebill.ports import Clock
from minutebill.service._runner import Runner

__all__ = ["ServiceBase"]

T = TypeVar("T")
A = TypeVar("A")

_ZONES_KEPT = 65_536
"""Accounts whose time zone a `Billing` remembers before it starts afresh."""


class ServiceBase:
    """Collaborators and lookups shared by the use cases."""

    catalog: Catalog
    clock: Clock
    gateway: Any
    tax: TaxPolicy
    admission: AdmissionPolicy
    queue: CallQueue
    _runner: Runner
    _zones: dict[str, str]
    _grosses: dict[tuple[str, str], tuple[TaxPolicy, Money]]
    _last_gross: tuple[Money, TaxPolicy, Money] | None

    def _now(self) -> datetime:
        return self.clock.now()

    def _run(self, work: Callable[[UnitOfWork], T], *, undo: Callable[[], None] | None = None) -> T:
        return self._runner.run(work, undo=undo)

    def _read(self, work: Callable[[UnitOfWork], T]) -> T:
        return self._runner.read(work)

    @staticmethod
    def _account_part(repository: AggregateRepository[A], account_id: str) -> A:
        """The account's aggregate in `repository`; an unknown account is `NotFound`."""
        found = repository.find(require_key("account_id", account_id))
        if found is None:
            raise NotFound("account", account_id)
        return found

    def _subscription(self, uow: UnitOfWork, account_id: str) -> Subscription:
        found: Subscription = self._account_part(uow.subscriptions, account_id)
        return found

    def _ledger(self, uow: UnitOfWork, account_id: str) -> MinuteLedger:
        found: MinuteLedger = self._account_part(uow.ledgers, account_id)
        return found

    @staticmethod
    def _require_account(uow: UnitOfWork, account_id: str) -> None:
        """Refuse an unknown account, without loading any of its aggregates.

        Raises:
            NotFound: if the account has no ledger (every account gets one when it subscribes).
        """
        if not uow.ledgers.exists(require_key("account_id", account_id)):
            raise NotFound("account", account_id)

    def _wallet(self, uow: UnitOfWork, account_id: str) -> Wallet:
        found: Wallet = self._account_part(uow.wallets, account_id)
        return found

    def _timezone(self, uow: UnitOfWork, account_id: str) -> str:
        """The account's time zone (cached: it is fixed when the account subscribes).

        At most `_ZONES_KEPT` accounts at once (the cache starts afresh when full): a
        long-running process serving millions of accounts must not keep one entry each.
        """
        cached = self._zones.get(account_id)
        if cached is None:
            cached = self._subscription(uow, account_id).cycle.timezone
            remember(self._zones, account_id, cached, _ZONES_KEPT)
        return cached

    def _gross(self, net: Money) -> Money:
        """What paying `net` from the wallet costs: with the tax of the checkout's policy.

        Wallet top-ups are untaxed stored value, so tax is due when the wallet pays for a
        service (a renewal); under inclusive pricing the price already holds it.
        """
        tax = self.tax
        # Renewals ask for the same few fees thousands of times in one run of due work, most
        # often as the very Money object an offer parsed once (`ParsedValues`): asked again
        # for that object, the last answer is given without reading the amount.
        last = self._last_gross
        if last is not None and last[0] is net and last[1] is tax:
            return last[2]
        if tax.inclusive_prices or not net.amount:
            return net
        key = (str(net.amount), net.currency)  # not net: 1.0 == 1.00, the result may not be
        cached = self._grosses.get(key)
        if cached is not None and cached[0] is tax:
            gross = cached[1]
        else:
            gross = net + tax.tax_on(net)
            remember(self._grosses, key, (tax, gross), 1024)
        self._last_gross = (net, tax, gross)
        return gross

    @staticmethod
    def _arrears(ledger: MinuteLedger, currency: str) -> Money:
        """The overage left to bill in arrears for the ledger's period, in `currency`."""
        return _in_currency(ledger.period_arrears, currency)

    @staticmethod
    def _late_arrears_covered(
        subscription: Subscription, ledger: MinuteLedger, at: datetime
    ) -> Money:
        """The arrears of late usage that renewing `subscription` at `at` would not bill.

        Calls settled after the period end, while the renewal was unpaid, fall inside the
        period the renewal opens: its plan minutes cover them (`_renew_paid`), so the
        renewal's charge leaves out the arrears of the part they cover.
        """
        plan = subscription.renewal_plan
        currency = plan.price.currency
        period = subscription.cycle.period(subscription.period_index + 1)
        seconds = plan.included_seconds if at < period.end else 0  # no grant: nothing covered
        return _in_currency(ledger.late_arrears_covered(seconds), currency)

    def _renewal_charge(
        self, subscription: Subscription, ledger: MinuteLedger, at: datetime
    ) -> tuple[Money, Money]:
        """What renewing `subscription` at `at` bills, before tax: the price and the arrears.

        The arrears are what was priced to be billed in arrears, whatever the overage rule is
        now: a plan change during the period neither bills twice what the wallet already paid
        nor drops what was left to bill. Late usage the next period's plan minutes will cover
        is left out (see `_renew_paid`). The due work takes both from the wallet, taxed, in
        one debit; a renewal checkout shows them as two lines, taxed the same.
        """
        price = subscription.renewal_plan.price
        arrears = self._arrears(ledger, price.currency)
        arrears -= self._late_arrears_covered(subscription, ledger, at)
        return price, arrears

    def _renew_paid(
        self,
        subscription: Subscription,
        ledger: MinuteLedger,
        wallet: Wallet,
        at: datetime,
    ) -> RenewalResult:
        """`Subscription.renew` with its charge paid, then cover the late usage it owes.

        The new period's plan minutes cover the overage of calls settled after the old
        period's end (`MinuteLedger.cover_late_usage`); what the wallet paid for the covered
        part goes back to it, once (keyed by the renewal).
        """
        key = subscription.renewal_key
        result = subscription.renew(at, PaymentOutcome.SUCCEEDED, ledger)
        if result is RenewalResult.RENEWED:
            covered = ledger.cover_late_usage(at)
            if covered is not None:
                self._give_back_covered(wallet, covered, f"late-usage:{key}", at)
        return result

    def _give_back_covered(
        self, wallet: Wallet, covered: LateUsageCovered, key: str, at: datetime
    ) -> None:
        """Credit what the wallet paid for late usage beyond the uncovered part, with tax."""
        currency = wallet.currency
        paid = _in_currency(covered.paid, currency)
        kept = _in_currency(covered.charges_kept, currency)
        refund = paid - min(paid, self._gross(kept))
        if refund.amount > 0:
            wallet.credit(refund, key, at, reason="overage covered by the paid period")

    def _lapse(self, uow: UnitOfWork, subscription: Subscription, at: datetime) -> bool:
        """`Subscription.lapse`, then bill the ended plan's arrears from the wallet.

        Overage billed in arrears is collected with the renewal; a plan that ends instead
        (canceled, or past due beyond its grace) leaves no renewal to carry it, so the wallet
        pays it now, with its tax, as far as the balance goes, once (keyed by the period).

        Returns:
            Whether the subscription expired now.
        """
        if not subscription.lapse(at):
            return False
        self._bill_arrears_of_ended(uow, subscription, at)
        return True

    def _bill_arrears_of_ended(
        self, uow: UnitOfWork, subscription: Subscription, at: datetime
    ) -> None:
        """Bill the arrears of a plan that just ended, whatever ended it (see `_lapse`)."""
        ledger = self._ledger(uow, subscription.account_id)
        wallet = self._wallet(uow, subscription.account_id)
        payable = min(self._gross(self._arrears(ledger, wallet.currency)), wallet.balance)
        if payable.amount > 0:
            wallet.debit(
                payable, f"arrears:{subscription.renewal_key}", at, reason="overage in arrears"
            )

    def _on_wallet_credited(self, uow: UnitOfWork, account_id: str, at: datetime) -> None:
        """Called after money reached the wallet in `uow` (overridden by the due work)."""

    def _catch_up_plan(self, uow: UnitOfWork, subscription: Subscription, at: datetime) -> None:
        """Do the plan's due work now, as `run_due(at)` would (overridden by the due work).

        Called before a call is admitted or rated after the period end, so that the call
        uses the renewed period's minutes whatever the scheduler's lag.
        """

    def _local_day(self, uow: UnitOfWork, account_id: str, at: datetime) -> date:
        return at.astimezone(zone(self._timezone(uow, account_id))).date()


def _in_currency(amounts: Iterable[Money], currency: str) -> Money:
    """The sum of the `amounts` in `currency` (amounts per currency, as a ledger reports them)."""
    return sum_money((m for m in amounts if m.currency == currency), currency)
