"""The rules a platform chooses for its number subscriptions, with safe defaults.

Telephony providers differ (Twilio keeps billing a suspended number and reclaims it after 60
days, Exotel returns numbers after 10 days, Plivo bills on the 1st), so what happens when a
renewal cannot be paid is a policy, not a constant. The defaults keep a customer's number for a
week, pay from the prepaid wallet before touching a card or UPI mandate, give the 24-hour
pre-debit notice that Indian e-mandates require, and never debit a mandate above the INR 15,000
no-authentication limit without the customer.
"""

from __future__ import annotations

import enum
from datetime import timedelta

from attrs import field, frozen

from minutebill.domain.money import Money
from minutebill.domain.state import State, money_from_state, money_to_state
from minutebill.errors import ValidationError

__all__ = ["HeldFee", "NumberPolicy", "PaymentOrder", "default_mandate_limit"]


def default_mandate_limit() -> Money:
    """INR 15,000: RBI's limit for e-mandate debits without additional authentication."""
    return Money(15000, "INR")


class HeldFee(enum.Enum):
    """Whether a number on hold keeps costing its recurring fee."""

    ACCRUE = "accrue"
    """Every period that passes on hold is owed; reactivation pays them all (Twilio-like)."""
    FREEZE = "freeze"
    """Periods that pass entirely on hold are not billed; reactivation pays the current one."""


class PaymentOrder(enum.Enum):
    """Where an automatic renewal takes the money from first."""

    WALLET_FIRST = "wallet_first"
    """The prepaid wallet if it covers the fee, else the saved payment method (mandate)."""
    METHOD_FIRST = "method_first"
    """The saved payment method if there is one, else the wallet."""


_NO_TIME = timedelta(0)


def _whole_seconds(name: str, value: object) -> None:
    if not isinstance(value, timedelta) or value < _NO_TIME or value.microseconds:
        raise ValidationError(name, value, "a non-negative timedelta of whole seconds")


def _mandate_limit(value: object) -> None:
    if value is None:
        return
    if not isinstance(value, Money) or value.amount <= 0 or not value.is_rounded():
        raise ValidationError("mandate_limit", value, "positive Money in whole minor units")


@frozen(kw_only=True)
class NumberPolicy:
    """How renewals, holds and releases of phone numbers work.

    Attributes:
        grace_period: How long a number stays on hold before it is released to the provider.
        held_fee: Whether a held number accrues its fee or is frozen.
        payment_order: Wallet first or saved payment method first.
        pre_debit_notice_lead: How long before an off-session mandate debit the customer must
            be told (UPI AutoPay and card e-mandates in India: 24 hours).
        gateway_sends_notice: True when the payment gateway sends the pre-debit notice itself,
            so minutebill schedules none.
        mandate_limit: The largest mandate debit that needs no customer authentication; above
            it a renewal puts the number on hold with "customer action required". It applies to
            debits in its own currency only; None means no limit.
    """

    grace_period: timedelta = timedelta(days=7)
    held_fee: HeldFee = HeldFee.ACCRUE
    payment_order: PaymentOrder = PaymentOrder.WALLET_FIRST
    pre_debit_notice_lead: timedelta = timedelta(hours=24)
    gateway_sends_notice: bool = False
    mandate_limit: Money | None = field(factory=default_mandate_limit)

    def __attrs_post_init__(self) -> None:
        _whole_seconds("grace_period", self.grace_period)
        _whole_seconds("pre_debit_notice_lead", self.pre_debit_notice_lead)
        if not isinstance(self.held_fee, HeldFee):
            raise ValidationError("held_fee", self.held_fee, "a HeldFee")
        if not isinstance(self.payment_order, PaymentOrder):
            raise ValidationError("payment_order", self.payment_order, "a PaymentOrder")
        if not isinstance(self.gateway_sends_notice, bool):
            raise ValidationError("gateway_sends_notice", self.gateway_sends_notice, "a bool")
        _mandate_limit(self.mandate_limit)

    @property
    def notice_required(self) -> bool:
        """Whether minutebill must schedule a pre-debit notice before an off-session debit."""
        return not self.gateway_sends_notice and self.pre_debit_notice_lead > _NO_TIME

    def needs_authentication(self, amount: Money) -> bool:
        """Whether a mandate debit of `amount` is above the no-authentication limit.

        A limit in another currency does not apply (the RBI limit governs INR debits).
        """
        limit = self.mandate_limit
        return limit is not None and limit.currency == amount.currency and amount > limit

    def to_state(self) -> State:
        """The policy as a JSON-compatible dict (durations in whole seconds)."""
        return {
            "grace_period_seconds": int(self.grace_period.total_seconds()),
            "held_fee": self.held_fee.value,
            "payment_order": self.payment_order.value,
            "pre_debit_notice_lead_seconds": int(self.pre_debit_notice_lead.total_seconds()),
            "gateway_sends_notice": self.gateway_sends_notice,
            "mandate_limit": None
            if self.mandate_limit is None
            else money_to_state(self.mandate_limit),
        }

    @classmethod
    def from_state(cls, state: State) -> NumberPolicy:
        """The policy that `to_state` encoded."""
        limit = state["mandate_limit"]
        return cls(
            grace_period=timedelta(seconds=state["grace_period_seconds"]),
            held_fee=HeldFee(state["held_fee"]),
            payment_order=PaymentOrder(state["payment_order"]),
            pre_debit_notice_lead=timedelta(seconds=state["pre_debit_notice_lead_seconds"]),
            gateway_sends_notice=state["gateway_sends_notice"],
            mandate_limit=None if limit is None else money_from_state(limit),
        )
