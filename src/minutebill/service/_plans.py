"""Plans: subscribing, the overview at the top of the billing page, and plan changes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from minutebill._unit_of_work import UnitOfWork
from minutebill.domain.catalog import Plan
from minutebill.domain.ledger import MinuteLedger
from minutebill.domain.ledger_policy import LedgerPolicy
from minutebill.domain.numbers import count_held_numbers
from minutebill.domain.periods import zone
from minutebill.domain.proration import PlanChangeQuote, ProrationPolicy
from minutebill.domain.subscriptions import RolloverPolicy, Subscription, SubscriptionStatus
from minutebill.domain.text import require_key
from minutebill.domain.wallet import Wallet
from minutebill.errors import InvalidTransition, MinutebillError, ValidationError
from minutebill.service._base import ServiceBase
from minutebill.views import PlanOverview

__all__ = ["PlansMixin"]


class PlansMixin(ServiceBase):
    """Use cases of the plan subscription."""

    proration: ProrationPolicy

    def subscribe(
        self,
        account_id: str,
        plan_code: str,
        *,
        timezone: str | None = None,
        rollover: RolloverPolicy | None = None,
    ) -> PlanOverview:
        """Open an account on a plan: its subscription, minute ledger and wallet.

        The first period starts now (the anchor) with the plan's minutes; the first period's
        price is the host's signup payment (or a trial); renewals are charged by `run_due`.
        Subscribing again while the plan is in force returns the account as it is (a renewal
        due since the period end done first, as `run_due` would do it).

        An account whose plan has ended (EXPIRED, canceled or past due with its time up, or
        left unrenewed with an empty wallet past its grace before the due work ran)
        subscribes again to any plan in its wallet's currency: a new subscription starts now,
        with a new anchor (so new Next Billing and Plan Expiry dates), a fresh grant of the
        plan's minutes and nothing to pay here (as for a new account, the host takes the
        payment). It replaces the old one; the account keeps its wallet balance, its usage
        history, its numbers and any add-on or promotional minutes still valid, while the old
        plan's minutes stay expired with the periods they were granted for.

        Args:
            account_id: The account.
            plan_code: A plan of the catalog.
            timezone: The account's IANA time zone, fixed when it first subscribes; None
                means UTC for a new account and the account's own zone otherwise.
            rollover: How many unused plan minutes a renewal carries into the next period
                (`RolloverPolicy`); None: none for a new subscription, and the old one's rule
                for an account subscribing again. Ignored while the plan is in force.

        Raises:
            NotFound: for an unknown plan code.
            ValidationError: for a bad account id, time zone or rollover policy, a time zone
                other than the
                account's, or (subscribing again) a plan priced in another currency than the
                account's wallet.
            InvalidTransition: if the account is on another plan in force (use
                `change_plan`).
        """
        require_key("account_id", account_id)
        plan = self.catalog.plan(plan_code)
        if timezone is not None:
            zone(timezone)
        if rollover is not None and not isinstance(rollover, RolloverPolicy):
            raise ValidationError("rollover", rollover, "a RolloverPolicy")
        at = self._now()

        def work(uow: UnitOfWork) -> PlanOverview:
            existing: Subscription | None = uow.subscriptions.find(account_id)
            if existing is None:
                return self._open_account(uow, account_id, plan, at, timezone or "UTC", rollover)
            if timezone is not None and timezone != existing.cycle.timezone:
                raise ValidationError(
                    "timezone", timezone, f"account {account_id!r} is in {existing.cycle.timezone}"
                )
            ledger = self._ledger(uow, account_id)
            wallet = self._wallet(uow, account_id)
            # A plan whose time is up ends now, and a due renewal is done, as `run_due` would.
            self._catch_up_plan(uow, existing, at)
            self._lapse(uow, existing, at)
            if existing.status is SubscriptionStatus.EXPIRED:
                if plan.price.currency != wallet.currency:
                    raise ValidationError(
                        "plan_code", plan.code, f"not priced in the wallet's {wallet.currency}"
                    )
                renewed = existing.start_again(plan, at, ledger=ledger, rollover=rollover)
                uow.subscriptions.replace(renewed)
                return PlanOverview.build(renewed, ledger, wallet, at)
            if existing.plan.code != plan.code:
                raise InvalidTransition(
                    f"account {account_id!r}", f"on plan {existing.plan.code!r}", "subscribe"
                )
            return PlanOverview.build(existing, ledger, wallet, at)

        return self._run(work)

    @staticmethod
    def _open_account(
        uow: UnitOfWork,
        account_id: str,
        plan: Plan,
        at: datetime,
        timezone: str,
        rollover: RolloverPolicy | None,
    ) -> PlanOverview:
        """A new account on `plan`: its ledger, wallet and first subscription."""
        ledger = MinuteLedger(account_id, LedgerPolicy.for_plan(plan))
        wallet = Wallet(account_id, plan.price.currency)
        subscription = Subscription.start(
            account_id, plan, at, ledger=ledger, timezone=timezone, rollover=rollover
        )
        uow.ledgers.add(ledger)
        uow.wallets.add(wallet)
        uow.subscriptions.add(subscription)
        return PlanOverview.build(subscription, ledger, wallet, at)

    def overview(self, account_id: str) -> PlanOverview:
        """The plan, Total / Remaining Minutes, Used %, Next Billing and Plan Expiry, now.

        After the period end, before the due work has renewed the plan, the overview shows
        the plan as that work will leave it (the renewal paid from the wallet, else past
        due), as `start_call` and `quote_plan_change` see it; the due work is done on this
        read's own copies and nothing is saved.

        Raises:
            NotFound: for an unknown account.
        """
        at = self._now()

        def work(uow: UnitOfWork) -> PlanOverview:
            subscription = self._subscription(uow, account_id)
            # A read: the due work changes this unit's copies only, never the store.
            self._catch_up_plan(uow, subscription, at)
            return PlanOverview.build(
                subscription, self._ledger(uow, account_id), self._wallet(uow, account_id), at
            )

        return self._read(work)

    def quote_plan_change(self, account_id: str, plan_code: str) -> PlanChangeQuote:
        """Price a change to another plan now; changes nothing.

        An upgrade takes effect at once: the quote states the prorated charge, its tax under
        the service's tax policy, the `total` the wallet will pay, and the extra minutes for
        the rest of the period. A downgrade is scheduled for the period end and charges
        nothing. Show the quote, then pass it to `change_plan`.

        A plan that allows fewer phone numbers than the account holds (Active or On Hold) is
        refused: the customer releases numbers first; minutebill never picks which to drop.

        After the period end, before the due work has renewed the plan, the change is priced
        as it will be once that work is done (the renewal paid from the wallet, else past
        due), as `start_call` does; the due work is done on this read's own copies and
        nothing is saved (`change_plan` does it for good before applying the quote).

        Raises:
            NotFound: for an unknown account or plan.
            ValidationError: for the plan the account is already on.
            InvalidTransition: unless the subscription is active in its period (an expired
                plan is not changed: `subscribe` again).
            LimitExceeded: if the plan's ``phone_numbers`` is below the account's
                non-released numbers, naming the limit and the count.
        """
        plan = self.catalog.plan(plan_code)
        at = self._now()

        def work(uow: UnitOfWork) -> PlanChangeQuote:
            subscription = self._subscription(uow, account_id)
            # A read: the due work changes this unit's copies only, never the store.
            self._catch_up_plan(uow, subscription, at)
            return subscription.change_plan(
                plan,
                at,
                policy=self.proration,
                tax=self.tax,
                numbers_held=count_held_numbers(uow.numbers.for_account(account_id)),
            )

        return self._read(work)

    def change_plan(self, account_id: str, quote: PlanChangeQuote) -> PlanOverview:
        """Apply a quote from `quote_plan_change`: take exactly its `total`, from the wallet.

        The total is the prorated charge with its tax, as for a renewal paid from the wallet:
        top-ups are untaxed stored value, so tax is due when the wallet pays for the plan.
        Applying the same quote twice charges once. The account's numbers are counted again:
        a plan that no longer has room for them is refused, as when it was quoted.

        Raises:
            NotFound: for an unknown account.
            ValidationError: for an expired quote, one for another account, period or plan,
                or one that is not exactly what this service quotes for that change at the
                instant it was priced (altered, or priced under another catalog, proration or
                tax policy): checked before the wallet is; ask for a new quote.
            InsufficientFunds: if the wallet cannot pay the upgrade's total (nothing changes;
                top up and apply the same quote again while it is valid).
            LimitExceeded: if the new plan's ``phone_numbers`` is below the account's
                non-released numbers (bought since the quote, say): nothing changes; release
                numbers and ask for a new quote.
        """
        if not isinstance(quote, PlanChangeQuote):
            raise ValidationError("quote", quote, "expected a PlanChangeQuote")
        at = self._now()

        def work(uow: UnitOfWork) -> PlanOverview:
            subscription = self._subscription(uow, account_id)
            self._catch_up_plan(uow, subscription, at)  # the period the quote was priced in
            ledger = self._ledger(uow, account_id)
            wallet = self._wallet(uow, account_id)
            paid_before = subscription.last_quote_id == quote.quote_id
            priced = None if paid_before else self._priced_again(subscription, quote)
            # The domain checks the quote (account, expiry, period, plan) first, so a quote
            # that is not applicable says so rather than "insufficient funds"; if the wallet
            # then cannot pay, nothing of this unit of work is committed.
            held = count_held_numbers(uow.numbers.for_account(account_id))
            subscription.apply_plan_change(quote, at, ledger, numbers_held=held)
            if not paid_before and priced != quote:
                raise ValidationError(
                    "quote",
                    quote.quote_id,
                    "not what this plan change costs under the catalog, the proration and the"
                    " tax policy; ask for a new one",
                )
            if not paid_before and quote.total.amount > 0:
                wallet.debit(
                    quote.total,
                    f"plan-change:{quote.quote_id}",
                    at,
                    reason="plan upgrade",
                    reference=quote.quote_id,
                )
            return PlanOverview.build(subscription, ledger, wallet, at)

        return self._run(work)

    def _priced_again(
        self, subscription: Subscription, quote: PlanChangeQuote
    ) -> PlanChangeQuote | None:
        """`quote` as this service prices it again, at the instant it was priced (None: cannot).

        A quote is a plain value that the host may have kept, serialised or received back
        from a client: it is applied only if it is exactly the quote this service gives for
        the same change at the same instant (catalog plan, proration, tax, validity).
        """
        try:
            plan = self.catalog.plan(quote.to_plan.code)
            return subscription.change_plan(
                plan, quote.priced_at, policy=self.proration, tax=self.tax
            )
        except MinutebillError:
            return None

    def cancel(self, account_id: str) -> PlanOverview:
        """Stop renewing: the plan ends at the period end (resume before then to keep it).

        A past-due plan has no paid time left and ends at once; overage it left to bill in
        arrears is taken from the wallet then, with its tax, as far as the balance goes (as
        when its grace period runs out). After the period end, before the due work has run,
        that work is done first (the renewal paid from the wallet, else past due), so the
        plan ends where it would had the scheduler been on time.

        Raises:
            NotFound: for an unknown account.
            InvalidTransition: if the subscription has expired.
        """
        return self._change_renewal(account_id, self._cancel)

    def _cancel(self, uow: UnitOfWork, subscription: Subscription, at: datetime) -> None:
        """`Subscription.cancel`; a past-due plan ends at once, its arrears billed."""
        if subscription.cancel(at) and subscription.status is SubscriptionStatus.EXPIRED:
            self._bill_arrears_of_ended(uow, subscription, at)

    def cancel_scheduled_change(self, account_id: str) -> PlanOverview:
        """Call off a downgrade scheduled for the period end; the plan renews as it is.

        Nothing changes when none is scheduled. The quote that scheduled it may be applied
        again while it is valid.

        Raises:
            NotFound: for an unknown account.
        """
        return self._change_renewal(
            account_id, lambda _, subscription, at: subscription.cancel_scheduled_change(at)
        )

    def resume(self, account_id: str) -> PlanOverview:
        """Undo `cancel` before the period ends.

        Raises:
            NotFound: for an unknown account.
            InvalidTransition: if the subscription has ended (`subscribe` again instead).
        """
        return self._change_renewal(account_id, lambda _, subscription, at: subscription.resume(at))

    def _change_renewal(
        self, account_id: str, change: Callable[[UnitOfWork, Subscription, datetime], object]
    ) -> PlanOverview:
        """Apply `change` (cancel or resume) now, in one unit of work; the plan as it stands.

        After the period end the due work is done first, as `run_due(at)` would do it, so the
        change applies to the plan as the scheduler leaves it, whatever its lag.
        """
        at = self._now()

        def work(uow: UnitOfWork) -> PlanOverview:
            subscription = self._subscription(uow, account_id)
            self._catch_up_plan(uow, subscription, at)
            change(uow, subscription, at)
            return PlanOverview.build(
                subscription, self._ledger(uow, account_id), self._wallet(uow, account_id), at
            )

        return self._run(work)
