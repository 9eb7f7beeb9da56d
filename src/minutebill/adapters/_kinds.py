"""The aggregate kinds minutebill's own stores keep, and how each is identified and indexed."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial

from minutebill.adapters._documents import AggregateKind, Kinds
from minutebill.domain.checkout import Quote
from minutebill.domain.ledger import MinuteLedger, ParsedLedgerValues, UsageRecord
from minutebill.domain.number_status import NumberStatus
from minutebill.domain.numbers import NumberSubscription, ParsedValues
from minutebill.domain.payments import Payment
from minutebill.domain.subscriptions import Subscription, SubscriptionStatus
from minutebill.domain.wallet import Wallet

__all__ = ["RECONCILE_AFTER", "Kinds", "default_kinds"]

RECONCILE_AFTER = timedelta(minutes=15)
"""How long an open payment waits for its webhook before `run_due` asks the gateway."""


def _subscription_due(subscription: Subscription) -> datetime | None:
    """Renewal at the period end; expiry at the end of grace or of a canceled period."""
    if subscription.status is SubscriptionStatus.EXPIRED:
        return None
    return subscription.next_billing_at or subscription.expires_at


def _number_due(number: NumberSubscription) -> datetime | None:
    """When the renewal job must look at a number next.

    A held number is released at the end of its grace period (money reaching the wallet
    pays it sooner, when it arrives). An active number is looked at one notice lead before
    its renewal (for the pre-debit notice), then when the renewal is due.
    """
    if number.status is NumberStatus.RELEASED:
        return None
    if number.hold is not None:
        return number.hold.release_after
    due = number.paid_through
    if number.notice is not None:
        return max(due, number.notice.debit_at)
    if number.auto_pay and number.policy.notice_required:
        return due - number.policy.pre_debit_notice_lead
    return due


def _payment_due(payment: Payment) -> datetime | None:
    """An open payment is reconciled with the gateway, and failed at its deadline.

    A payment that owes a refund the gateway has not taken yet is due at once (from its
    capture): `run_due` sends the refund again until the gateway answers for it. Payments
    that owe nothing and are settled are not in the index, so they cost due work nothing.
    """
    due = None
    if payment.status.is_open:
        due = min(payment.created_at + RECONCILE_AFTER, payment.deadline)
    if payment.refunds_owed:
        owed_since = payment.captured_at or payment.created_at
        due = owed_since if due is None else min(due, owed_since)
    return due


def default_kinds() -> Kinds:
    """The aggregates of minutebill: ledgers, wallets, subscriptions, numbers, orders, payments.

    Each call makes new kinds; numbers loaded through them share one `ParsedValues`, and
    ledgers one `ParsedLedgerValues`, so a store parses each distinct offer, policy, period
    and grant's terms once.
    """
    return Kinds(
        ledgers=AggregateKind(
            "ledger",
            partial(MinuteLedger.from_state, parsed=ParsedLedgerValues()),
            lambda x: (x.account_id, ""),
            due_at=MinuteLedger.due_at,
            copy=MinuteLedger.copy,
        ),
        wallets=AggregateKind(
            "wallet",
            Wallet.from_state,
            lambda x: (x.account_id, ""),
            copy=Wallet.copy,
            # Encoded at once: the entries' dicts it shares need no copies.
            document=partial(Wallet.to_state, shared=True),
        ),
        subscriptions=AggregateKind(
            "subscription",
            Subscription.from_state,
            lambda x: (x.account_id, ""),
            due_at=_subscription_due,
        ),
        numbers=AggregateKind(
            "number",
            partial(NumberSubscription.from_state, parsed=ParsedValues()),
            lambda x: (x.account_id, x.number_e164),
            due_at=_number_due,
            # Encoded at once: the offer and policy dicts it shares need no copies.
            document=partial(NumberSubscription.to_state, shared=True),
        ),
        orders=AggregateKind("quote", Quote.from_state, lambda x: (x.account_id, x.quote_id)),
        payments=AggregateKind(
            "payment",
            Payment.from_state,
            lambda x: (x.account_id, x.payment_id),
            due_at=_payment_due,
            reference=lambda x: x.payment_id,
        ),
        usage_record=UsageRecord.from_state,
    )
