"""Checkout: add-on bundles, wallet top-ups, phone numbers and past-due plans, by UPI or card.

A purchase is two steps with the network call between them, never inside a transaction:

1. one unit of work prices the order into a `Quote`, starts a `Payment` for exactly its total,
   and remembers the idempotency key;
2. the gateway is asked to collect; what it answers is applied (and fulfilled, if already
   captured) in a second unit of work — as is every later webhook.

Calling again with the same idempotency key continues the same purchase: the same quote, the
same payment, the same gateway request (which the gateway deduplicates by the same key).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from functools import partial
from typing import cast

from attrs import frozen

from minutebill._unit_of_work import StoredResponse, UnitOfWork
from minutebill.domain.catalog import Capability
from minutebill.domain.checkout import (
    BundleLine,
    LineItem,
    NumberLine,
    Order,
    PlanAction,
    PlanLine,
    Quote,
    TopUpLine,
)
from minutebill.domain.money import Money
from minutebill.domain.number_status import NumberStatus, validate_e164
from minutebill.domain.numbers import NumberSubscription, check_number_limit
from minutebill.domain.payment_status import PaymentStatus
from minutebill.domain.payments import Payment, PaymentMethod
from minutebill.domain.subscriptions import SubscriptionStatus
from minutebill.domain.tax import TaxPolicy
from minutebill.domain.text import require_key
from minutebill.errors import (
    GatewayTimeout,
    IdempotencyConflict,
    InvalidTransition,
    ValidationError,
)
from minutebill.service._fulfilment import options_key
from minutebill.service._payments import (
    PaymentResult,
    PaymentsMixin,
    checkout_request,
    note_unanswered,
)

__all__ = ["CheckoutResult", "PurchasesMixin"]


@frozen
class _PricedLines:
    """Lines priced from the account's state when a purchase starts (a renewal's).

    Attributes:
        purchase: What is bought, for the idempotency key's fingerprint (with the method).
        price: ``(uow, at) -> lines``, in the unit of work that starts the purchase.
    """

    purchase: str
    price: Callable[[UnitOfWork, datetime], list[LineItem]]


@frozen(kw_only=True)
class CheckoutResult:
    """A purchase as the checkout shows it.

    Attributes:
        quote: What the customer was shown: lines, Amount, Up Front Fees, tax, Total.
        payment: Where its payment stands (status, fulfilment).
        capabilities: What the numbers bought include (the checkout confirms SMS and Voice).
        next_action_url: Where the customer completes an extra step (UPI approval, 3-D
            Secure), when the gateway asks for one.
    """

    quote: Quote
    payment: PaymentResult
    capabilities: frozenset[Capability]
    next_action_url: str | None = None

    @property
    def status(self) -> PaymentStatus:
        """The payment's status."""
        return self.payment.status


def _capability_set(value: object) -> frozenset[Capability]:
    """`value` as a set, for `Order` to check its members; not a string, nor a non-iterable."""
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise ValidationError("requires", value, "expected Capability values")
    return frozenset(value)


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:24]


class PurchasesMixin(PaymentsMixin):
    """Use cases of the checkout."""

    tax: TaxPolicy
    quote_validity: timedelta

    def checkout_bundle(
        self,
        account_id: str,
        bundle_code: str,
        method: PaymentMethod,
        *,
        idempotency_key: str,
        quantity: int = 1,
    ) -> CheckoutResult:
        """Buy add-on minutes (*Nexus*, *Pro*, *Elite*).

        They are granted when the payment succeeds, valid as the bundle says. Minutes valid
        for the plan period last until the end of the period the payment falls in (also when
        that period's renewal has not run yet, or failed and is within its grace period).

        Raises:
            NotFound: for an unknown account or bundle.
            ValidationError: for a bad quantity or key.
            InvalidTransition: for minutes valid for the plan period, when the plan is not in
                service (expired, canceled and ended, or left unrenewed past its grace before
                the due work ran); nothing is charged.
            IdempotencyConflict: for a key used before with another purchase.
            GatewayError: if the gateway could not be reached (call again with the same key).
        """
        line = BundleLine(bundle=self.catalog.bundle(bundle_code), quantity=quantity)
        return self._checkout(account_id, [line], method, idempotency_key)

    def top_up(
        self, account_id: str, amount: Money, method: PaymentMethod, *, idempotency_key: str
    ) -> CheckoutResult:
        """Add money to the prepaid wallet; it is credited only once the payment succeeds.

        Raises:
            NotFound: for an unknown account.
            ValidationError: for an amount that is not positive or not in whole minor units.
            CurrencyMismatch: for an amount in another currency than the account's.
            IdempotencyConflict: for a key used before with another purchase.
            GatewayError: if the gateway could not be reached (call again with the same key).
        """
        return self._checkout(account_id, [TopUpLine(amount=amount)], method, idempotency_key)

    def acquire_number(
        self,
        account_id: str,
        offer_code: str,
        number_e164: str,
        method: PaymentMethod,
        *,
        idempotency_key: str,
        auto_pay: bool = True,
        mandate_id: str | None = None,
        requires: Iterable[Capability] = (Capability.VOICE, Capability.SMS),
    ) -> CheckoutResult:
        """Buy a phone number: the up-front fee plus its first interval's fee.

        The number becomes Active when the payment succeeds. With Auto-Pay on, renewals are
        paid from the wallet first and then from `mandate_id` (a UPI AutoPay or card
        e-mandate saved with the gateway), as the number policy says.

        Raises:
            NotFound: for an unknown account or offer.
            ValidationError: for a number that is not E.164, `requires` that are not
                `Capability` values, an `auto_pay` that is not a bool, or a blank mandate id.
            MissingCapability: if the offer lacks a required capability (SMS, Voice).
            LimitExceeded: if the plan's phone-number limit is reached (while a downgrade is
                scheduled, the smaller of the two plans' limits).
            InvalidTransition: if the account already holds the number.
            IdempotencyConflict: for a key used before with another purchase (another
                number, offer, method, Auto-Pay setting or mandate).
        """
        validate_e164(number_e164)
        if not isinstance(auto_pay, bool):  # "no" from a form would turn Auto-Pay on
            raise ValidationError("auto_pay", auto_pay, "a bool")
        if mandate_id is not None:  # checked now: fulfilment, after the charge, is too late
            require_key("mandate_id", mandate_id)
        line = NumberLine(offer=self.catalog.number_offer(offer_code), number_e164=number_e164)
        options = {"auto_pay": auto_pay, "mandate_id": mandate_id}
        return self._checkout(
            account_id, [line], method, idempotency_key, requires=requires, options=options
        )

    def checkout_plan_renewal(
        self, account_id: str, method: PaymentMethod, *, idempotency_key: str
    ) -> CheckoutResult:
        """Pay a past-due plan by UPI or card: the renewal and the ended period's arrears.

        The quote bills what the due work would take from the wallet for the renewal now: a
        line for the renewal plan's price and, when the ended period left overage billed in
        arrears, a line for those arrears (less those of the late usage the new period's plan
        minutes will cover), taxed as the other lines. When the payment succeeds its money is
        credited to the wallet, which pays the renewal at once exactly as the due work does:
        the arrears are billed once, with the renewal, and the late usage is covered. Money
        for a renewal paid meanwhile (a top-up got there first) stays in the wallet, and so
        does money short of a renewal that bills more by then (calls settled since the quote)
        until the wallet covers the rest; a plan that ended meanwhile is refunded (the
        service's remedy).

        Raises:
            NotFound: for an unknown account.
            InvalidTransition: unless the plan is past due once its due work is done (the
                wallet renews a due plan it can pay; a plan in its period owes nothing; an
                expired one is subscribed to again). Nothing changes.
            IdempotencyConflict: for a key used before with another purchase.
            GatewayError: if the gateway could not be reached (call again with the same key).
        """
        renewal = _PricedLines("plan renewal", partial(self._renewal_lines, account_id=account_id))
        return self._checkout(account_id, renewal, method, idempotency_key)

    def _renewal_lines(self, uow: UnitOfWork, at: datetime, *, account_id: str) -> list[LineItem]:
        """The lines of a past-due plan's renewal at `at`, after the plan's due work."""
        subscription = self._subscription(uow, account_id)
        self._catch_up_plan(uow, subscription, at)  # the wallet first, as `run_due(at)` would
        if subscription.status is not SubscriptionStatus.PAST_DUE:
            status = subscription.status.value
            raise InvalidTransition(f"plan of {account_id}", status, "pay the renewal of")
        plan = subscription.renewal_plan
        price, arrears = self._renewal_charge(subscription, self._ledger(uow, account_id), at)
        lines: list[LineItem] = [
            PlanLine(
                plan_code=plan.code,
                description=f"{plan.name} plan renewal",
                amount=price,
                action=PlanAction.RENEW,
            )
        ]
        if arrears.amount > 0:
            lines.append(
                PlanLine(
                    plan_code=plan.code,
                    description=f"{plan.name} overage billed in arrears",
                    amount=arrears,
                    action=PlanAction.RENEW,
                )
            )
        return lines

    # --- the two steps ----------------------------------------------------------------------

    def _checkout(
        self,
        account_id: str,
        lines: list[LineItem] | _PricedLines,
        method: PaymentMethod,
        idempotency_key: str,
        *,
        requires: Iterable[Capability] = (),
        options: Mapping[str, object] | None = None,
    ) -> CheckoutResult:
        """Start (or continue) a purchase of `lines` and ask the gateway to collect.

        `lines` priced from the account (a renewal's) are priced in the unit of work that
        starts the purchase, and only then: the key stands for that kind of purchase and the
        method, and calling again with it continues the purchase as it was quoted.
        """
        require_key("account_id", account_id)
        require_key("idempotency_key", idempotency_key)
        required = _capability_set(requires)  # read once: the unit of work may run again
        at = self._now()
        payment_id = f"pay_{_digest(account_id, idempotency_key)}"
        quote_id = f"quote_{_digest(account_id, idempotency_key)}"

        def start(uow: UnitOfWork) -> tuple[Quote, Payment]:
            wallet = self._wallet(uow, account_id)
            if isinstance(lines, _PricedLines):  # priced below, for a new purchase only
                order = None
                fingerprint = _digest(lines.purchase, repr(method))
            else:
                order = Order(lines, wallet.currency, required)
                fingerprint = _digest(repr(order.to_state()), repr(method))
            stored = uow.idempotency.get(account_id, f"checkout:{idempotency_key}")
            if stored is not None:
                # Auto-Pay and the mandate are kept apart from the order: part of the purchase.
                chosen = uow.idempotency.get(account_id, options_key(quote_id))
                same_options = (chosen.response if chosen else {}) == dict(options or {})
                if stored.fingerprint != fingerprint or not same_options:
                    raise IdempotencyConflict(idempotency_key, "another purchase")
                return uow.orders.get(account_id, quote_id), self._payment(uow, payment_id)
            if order is None:
                priced = cast("_PricedLines", lines)
                order = Order(priced.price(uow, at), wallet.currency, required)
            self._check_numbers(uow, account_id, list(order.lines))
            self._check_bundles(uow, account_id, list(order.lines), at)
            quote = order.quote(
                quote_id=quote_id,
                account_id=account_id,
                at=at,
                tax=self.tax,
                valid_for=self.quote_validity,
            )
            # The host's key is unique per account; a gateway's keys are unique per merchant.
            # The payment id (a digest of both) is unique across accounts and the same on
            # every retry, so it is the key the gateway sees.
            payment = Payment.for_quote(
                quote, payment_id=payment_id, idempotency_key=payment_id, at=at, method=method
            )
            uow.orders.add(quote)
            uow.payments.add(payment)
            uow.idempotency.put(
                account_id,
                f"checkout:{idempotency_key}",
                StoredResponse(fingerprint, {"payment_id": payment_id, "quote_id": quote_id}),
            )
            if options is not None:
                uow.idempotency.put(
                    account_id, options_key(quote_id), StoredResponse("", dict(options))
                )
            return quote, payment

        quote, payment = self._run(start)
        if payment.fulfilment is not None or not payment.status.is_open:
            return CheckoutResult(
                quote=quote, payment=PaymentResult.of(payment), capabilities=quote.capabilities
            )
        try:
            reported = self.gateway.create_payment(checkout_request(payment, quote))
        except GatewayTimeout:  # it may have taken effect: reconciling will ask again
            self._run(lambda uow: note_unanswered(uow, payment))
            raise
        result = self._observe_gateway(reported)
        return CheckoutResult(
            quote=quote,
            payment=result,
            capabilities=quote.capabilities,
            next_action_url=reported.next_action_url,
        )

    def _check_bundles(
        self, uow: UnitOfWork, account_id: str, lines: list[LineItem], at: datetime
    ) -> None:
        """Refuse, before any charge, minutes that would have no plan period to last."""
        for line in lines:
            if isinstance(line, BundleLine) and not self._bundle_deliverable(
                uow, account_id, line, at
            ):
                status = self._subscription(uow, account_id).status.value
                raise InvalidTransition(f"plan of {account_id}", status, f"add {line.target} to")

    def _check_numbers(self, uow: UnitOfWork, account_id: str, lines: list[LineItem]) -> None:
        numbers = [line for line in lines if isinstance(line, NumberLine) and not line.renewal]
        if not numbers:
            return
        held: list[NumberSubscription] = uow.numbers.for_account(account_id)
        for line in numbers:
            for number in held:
                if (
                    number.number_e164 == line.number_e164
                    and number.status is not NumberStatus.RELEASED
                ):
                    raise InvalidTransition(
                        f"number {line.number_e164}", number.status.value, "buy again"
                    )
        limit = self._subscription(uow, account_id).phone_numbers_limit
        check_number_limit(held, limit, adding=len(numbers))
        if len({line.number_e164 for line in numbers}) != len(numbers):  # pragma: no cover
            raise ValidationError("lines", numbers, "a number appears twice")
