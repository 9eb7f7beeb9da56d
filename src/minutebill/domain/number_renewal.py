"""Renewal as a pure decision: what to do about one number, now.

`renew` looks at a subscription, the wallet balance, whether a saved payment method (a UPI
AutoPay or card mandate) exists, and the time, and returns exactly one action. It changes
nothing. The service carries the action out and reports the outcome back to the subscription:

| decision | the service does | then reports |
|---|---|---|
| `DebitWallet` | ``wallet.debit(amount, idempotency_key, at)`` | `record_renewal_paid` |
| `ChargeMandate` | ``gateway.charge_mandate(...)`` with the key | see below |
| `SendPreDebitNotice` | nothing else | `record_pre_debit_notice` |
| `PutOnHold` | nothing else | `put_on_hold(reason)` |
| `ReleaseNumber` | return the number to the provider | `release(at, reason=GRACE_ELAPSED)` |
| `NothingDue` | schedule the next look at `next_check_at` | — |

A mandate charge that succeeds is reported with `record_renewal_paid`; one that fails with
``put_on_hold(HoldReason.PAYMENT_FAILED)``; one that needs the customer with
``put_on_hold(HoldReason.CUSTOMER_ACTION_REQUIRED)``; a pending one not at all (the next decision
repeats the charge with the same key, which the gateway deduplicates) until its outcome is
known, and then like the others: a debit that fails later puts the number on hold too.

Each charge names one period and carries that period's idempotency key, so running the due work
twice (or a crash between the charge and the report) never charges a period twice.

A mandate debit takes `debit_amount` when the caller gives one (the fee with its tax, say: what
the gateway will actually be asked for), else the fee; the pre-debit notice announces exactly
that amount, and the no-authentication limit is checked against it.
"""

from __future__ import annotations

from datetime import datetime
from typing import TypeAlias

from attrs import frozen

from minutebill.domain.money import Money
from minutebill.domain.number_policy import PaymentOrder
from minutebill.domain.number_status import HoldReason, NumberStatus, ReleaseReason
from minutebill.domain.numbers import NumberSubscription
from minutebill.domain.periods import BillingPeriod, to_utc
from minutebill.domain.usage import trusted_constructor
from minutebill.errors import CurrencyMismatch, ValidationError

__all__ = [
    "ChargeMandate",
    "DebitWallet",
    "NothingDue",
    "PutOnHold",
    "ReleaseNumber",
    "RenewalDecision",
    "SendPreDebitNotice",
    "renew",
]


@frozen(kw_only=True)
class NothingDue:
    """Nothing to do now.

    Attributes:
        next_check_at: When something may next be due (a notice, a renewal, a release);
            None for a released number.
    """

    next_check_at: datetime | None


@frozen(kw_only=True)
class DebitWallet:
    """Pay a period from the prepaid wallet.

    Attributes:
        period_index: The period paid.
        period: Its span.
        amount: The fee, rounded.
        idempotency_key: The key to debit the wallet with.
    """

    period_index: int
    period: BillingPeriod
    amount: Money
    idempotency_key: str


@frozen(kw_only=True)
class ChargeMandate:
    """Charge the saved payment method (mandate) for a period.

    Attributes:
        period_index: The period paid.
        period: Its span.
        amount: What the debit takes: the `debit_amount` given to `renew` (default: the fee).
        idempotency_key: The key to send to the gateway.
        on_session: True when the customer is present (an immediate charge they asked for):
            no pre-debit notice, and the gateway may authenticate them.
    """

    period_index: int
    period: BillingPeriod
    amount: Money
    idempotency_key: str
    on_session: bool


@frozen(kw_only=True)
class SendPreDebitNotice:
    """Tell the customer now about the mandate debit of a period.

    Attributes:
        period_index: The period the debit will pay.
        period: Its span.
        amount: The amount to announce: what the debit will take.
        debit_at: The earliest instant of the debit, at least the policy's lead from now.
    """

    period_index: int
    period: BillingPeriod
    amount: Money
    debit_at: datetime


@frozen(kw_only=True)
class PutOnHold:
    """The due period cannot be paid automatically: hold the number.

    Attributes:
        reason: Why.
        period_index: The period that was not paid.
    """

    reason: HoldReason
    period_index: int


@frozen(kw_only=True)
class ReleaseNumber:
    """The grace period is over: release the number to the provider.

    Attributes:
        reason: Always `ReleaseReason.GRACE_ELAPSED`.
    """

    reason: ReleaseReason = ReleaseReason.GRACE_ELAPSED


RenewalDecision: TypeAlias = (
    NothingDue | DebitWallet | ChargeMandate | SendPreDebitNotice | PutOnHold | ReleaseNumber
)
"""One action for the service to carry out."""

_new_debit = trusted_constructor(DebitWallet, "period_index", "period", "amount", "idempotency_key")


def renew(
    subscription: NumberSubscription,
    wallet_balance: Money,
    at: datetime,
    *,
    has_mandate: bool,
    customer_present: bool = False,
    debit_amount: Money | None = None,
) -> RenewalDecision:
    """Decide what to do about `subscription` at `at`. Pure: nothing is changed.

    Args:
        subscription: The number.
        wallet_balance: The account's wallet balance now, in the fee's currency.
        at: Now (aware).
        has_mandate: Whether a saved payment method may be charged off-session.
        customer_present: The customer asked for the charge now (Auto-Pay just turned on for
            a held number, a "pay now" button): a mandate is charged on-session, without a
            notice, even on hold.
        debit_amount: What a mandate debit of one period takes, if not the fee: the fee with
            its tax. Notices announce it, charges carry it, the mandate limit applies to it;
            a notice that announced another amount is given again.

    Returns:
        A single `RenewalDecision`. On hold, the grace period's end wins over any payment at
        the same instant (periods are half-open); a held number with Auto-Pay on is paid from
        the wallet as soon as the wallet covers the fee, so a top-up during the grace period
        reactivates it; the mandate is not retried on hold unless the customer is present.

    Raises:
        ValidationError: for a naive time, a time before the anchor, or a debit amount that
            is not positive Money in whole minor units.
        CurrencyMismatch: for a wallet balance or debit amount in another currency than the fee.
    """
    at = to_utc(at)
    if not isinstance(wallet_balance, Money):
        raise ValidationError("wallet_balance", wallet_balance, "must be Money")
    fee = subscription.recurring_fee  # read once, passed to the helpers below
    if wallet_balance.currency != fee.currency:
        raise CurrencyMismatch(fee.currency, wallet_balance.currency)
    debit = fee if debit_amount is None else _checked_debit(debit_amount, fee)
    if at < subscription.anchor:
        raise ValidationError("at", at, f"before the number's anchor {subscription.anchor}")
    if subscription.status is NumberStatus.RELEASED:
        return NothingDue(next_check_at=None)
    if subscription.status is NumberStatus.ON_HOLD:
        return _renew_held(
            subscription, wallet_balance, at, has_mandate, customer_present, fee, debit
        )
    index = subscription.paid_periods
    due_at = subscription.paid_through
    if at < due_at:
        return _before_due(subscription, wallet_balance, at, has_mandate, fee, debit)
    if not subscription.auto_pay and not customer_present:
        return PutOnHold(reason=HoldReason.AUTO_PAY_OFF, period_index=index)
    return _charge(
        subscription,
        index,
        wallet_balance=wallet_balance,
        at=at,
        has_mandate=has_mandate,
        on_session=customer_present,
        fee=fee,
        debit=debit,
    )


def _checked_debit(debit_amount: object, fee: Money) -> Money:
    if not isinstance(debit_amount, Money) or not debit_amount.is_rounded():
        raise ValidationError("debit_amount", debit_amount, "Money in whole minor units")
    if debit_amount.currency != fee.currency:
        raise CurrencyMismatch(fee.currency, debit_amount.currency)
    if debit_amount.amount <= 0:
        raise ValidationError("debit_amount", debit_amount, "more than zero")
    return debit_amount


def _renew_held(
    subscription: NumberSubscription,
    wallet_balance: Money,
    at: datetime,
    has_mandate: bool,
    customer_present: bool,
    fee: Money,
    debit: Money,
) -> RenewalDecision:
    hold = subscription.hold
    assert hold is not None  # noqa: S101 - guaranteed by the subscription's invariant
    if at >= hold.release_after:
        return ReleaseNumber()
    index = subscription.chargeable_period(at)
    if customer_present:
        return _charge(
            subscription,
            index,
            wallet_balance=wallet_balance,
            at=at,
            has_mandate=has_mandate,
            on_session=True,
            fee=fee,
            debit=debit,
        )
    if subscription.auto_pay and wallet_balance >= fee:
        return _debit_wallet(subscription, index, fee)
    return NothingDue(next_check_at=hold.release_after)


def _before_due(
    subscription: NumberSubscription,
    wallet_balance: Money,
    at: datetime,
    has_mandate: bool,
    fee: Money,
    debit: Money,
) -> RenewalDecision:
    due_at = subscription.paid_through
    policy = subscription.policy
    index = subscription.paid_periods
    notice = subscription.notice
    notice_wanted = (
        subscription.auto_pay
        and has_mandate
        and policy.notice_required
        and not policy.needs_authentication(debit)
        and (notice is None or notice.amount != debit)
        and (policy.payment_order is PaymentOrder.METHOD_FIRST or wallet_balance < fee)
    )
    if not notice_wanted:
        return NothingDue(next_check_at=due_at)
    notice_from = due_at - policy.pre_debit_notice_lead
    if at < notice_from:
        return NothingDue(next_check_at=notice_from)
    return SendPreDebitNotice(
        period_index=index,
        period=subscription.period(index),
        amount=debit,
        debit_at=max(due_at, at + policy.pre_debit_notice_lead),
    )


def _charge(
    subscription: NumberSubscription,
    index: int,
    *,
    wallet_balance: Money,
    at: datetime,
    has_mandate: bool,
    on_session: bool,
    fee: Money,
    debit: Money,
) -> RenewalDecision:
    policy = subscription.policy
    wallet_first = policy.payment_order is PaymentOrder.WALLET_FIRST
    needs_customer = False
    for source in ("wallet", "mandate") if wallet_first else ("mandate", "wallet"):
        if source == "wallet":
            if wallet_balance >= fee:
                return _debit_wallet(subscription, index, fee)
            continue
        if not has_mandate:
            continue
        if not on_session:
            if policy.needs_authentication(debit):
                needs_customer = True
                continue
            if policy.notice_required:
                notice = subscription.notice
                if notice is None or notice.period_index != index or notice.amount != debit:
                    return SendPreDebitNotice(
                        period_index=index,
                        period=subscription.period(index),
                        amount=debit,
                        debit_at=at + policy.pre_debit_notice_lead,
                    )
                if at < notice.debit_at:
                    return NothingDue(next_check_at=notice.debit_at)
        return ChargeMandate(
            period_index=index,
            period=subscription.period(index),
            amount=debit,
            idempotency_key=subscription.renewal_key(index),
            on_session=on_session,
        )
    reason = (
        HoldReason.CUSTOMER_ACTION_REQUIRED if needs_customer else HoldReason.INSUFFICIENT_CREDIT
    )
    return PutOnHold(reason=reason, period_index=index)


def _debit_wallet(subscription: NumberSubscription, index: int, fee: Money) -> DebitWallet:
    # Built by a trusted constructor: the decision of every renewal the wallet pays.
    return _new_debit(index, subscription.period(index), fee, subscription.renewal_key(index))
