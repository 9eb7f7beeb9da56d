"""The values that describe where a phone number stands: status, hold, notice, dispositions.

`TRANSITIONS` is DESIGN.md's transition table as data; `NumberSubscription` in
`minutebill.domain.numbers` moves only along it.
"""

from __future__ import annotations

import enum
import re
from datetime import datetime

from attrs import frozen

from minutebill.domain.catalog import Capability, NumberOffer
from minutebill.domain.money import Money
from minutebill.domain.periods import BillingInterval
from minutebill.domain.state import (
    State,
    instant_from_state,
    instant_to_state,
    money_from_state,
    money_to_state,
)
from minutebill.errors import ValidationError

__all__ = [
    "TRANSITIONS",
    "Hold",
    "HoldReason",
    "NumberStatus",
    "PaymentDisposition",
    "PreDebitNotice",
    "ReleaseReason",
    "offer_from_state",
    "offer_to_state",
    "validate_e164",
]

_E164 = re.compile(r"\+[1-9][0-9]{7,14}")


def validate_e164(number: str) -> str:
    """Return `number` if it is E.164: ``+``, then 8 to 15 digits, the first not 0.

    Raises:
        ValidationError: otherwise.
    """
    if not isinstance(number, str) or not _E164.fullmatch(number):
        raise ValidationError("number_e164", number, "E.164: '+' then 8 to 15 digits")
    return number


class NumberStatus(enum.Enum):
    """Where a number subscription stands."""

    ACTIVE = "active"
    """Paid (or its renewal is being collected); the number works."""
    ON_HOLD = "on_hold"
    """A renewal was not paid; released to the provider when the grace period ends."""
    RELEASED = "released"
    """Given back: no further charges, no way back."""


TRANSITIONS: frozenset[tuple[NumberStatus, NumberStatus]] = frozenset(
    {
        (NumberStatus.ACTIVE, NumberStatus.ACTIVE),
        (NumberStatus.ACTIVE, NumberStatus.ON_HOLD),
        (NumberStatus.ON_HOLD, NumberStatus.ON_HOLD),
        (NumberStatus.ON_HOLD, NumberStatus.ACTIVE),
        (NumberStatus.ON_HOLD, NumberStatus.RELEASED),
        (NumberStatus.ACTIVE, NumberStatus.RELEASED),
    }
)
"""Every (from, to) status change a subscription can make; RELEASED leads nowhere."""


class HoldReason(enum.Enum):
    """Why a number is on hold."""

    INSUFFICIENT_CREDIT = "insufficient_credit"
    """Not enough in the wallet and no saved payment method to charge."""
    PAYMENT_FAILED = "payment_failed"
    """The saved payment method was charged and the charge failed."""
    AUTO_PAY_OFF = "auto_pay_off"
    """The renewal fell due with Auto-Pay off."""
    CUSTOMER_ACTION_REQUIRED = "customer_action_required"
    """The debit needs the customer (above the mandate limit, or authentication asked for)."""


class ReleaseReason(enum.Enum):
    """Why a number was released."""

    REQUESTED = "requested"
    """The customer (or the platform) released it."""
    GRACE_ELAPSED = "grace_elapsed"
    """It stayed on hold past its grace period."""


class PaymentDisposition(enum.Enum):
    """What a payment for a number period should do."""

    APPLY = "apply"
    """It pays the period that is due: record it."""
    DUPLICATE = "duplicate"
    """The period needs no payment any more: if this is a second payment, refund or credit it."""
    REFUND_OR_CREDIT = "refund_or_credit"
    """Nothing can be bought with it (the number is released, or the period was frozen)."""


@frozen(kw_only=True)
class Hold:
    """Why and since when a number is on hold, and when it will be released.

    Attributes:
        reason: Why it is on hold.
        since: When the hold started (aware, UTC).
        release_after: ``since`` plus the policy's grace period.
    """

    reason: HoldReason
    since: datetime
    release_after: datetime

    def to_state(self) -> State:
        """The hold as a JSON-compatible dict."""
        return {
            "reason": self.reason.value,
            "since": instant_to_state(self.since),
            "release_after": instant_to_state(self.release_after),
        }

    @classmethod
    def from_state(cls, state: State) -> Hold:
        """The hold that `to_state` encoded."""
        return cls(
            reason=HoldReason(state["reason"]),
            since=instant_from_state(state["since"]),
            release_after=instant_from_state(state["release_after"]),
        )


@frozen(kw_only=True)
class PreDebitNotice:
    """A notice given to the customer about an upcoming mandate debit.

    Attributes:
        period_index: The period the debit pays for.
        amount: The amount announced.
        sent_at: When the notice became due (and was handed to the host to send).
        debit_at: The earliest instant the debit may happen: at least the lead after
            ``sent_at`` and never before the period starts.
    """

    period_index: int
    amount: Money
    sent_at: datetime
    debit_at: datetime

    def to_state(self) -> State:
        """The notice as a JSON-compatible dict."""
        return {
            "period_index": self.period_index,
            "amount": money_to_state(self.amount),
            "sent_at": instant_to_state(self.sent_at),
            "debit_at": instant_to_state(self.debit_at),
        }

    @classmethod
    def from_state(cls, state: State) -> PreDebitNotice:
        """The notice that `to_state` encoded."""
        return cls(
            period_index=state["period_index"],
            amount=money_from_state(state["amount"]),
            sent_at=instant_from_state(state["sent_at"]),
            debit_at=instant_from_state(state["debit_at"]),
        )


def offer_to_state(offer: NumberOffer) -> State:
    """A `NumberOffer` as a JSON-compatible dict (kept inside each subscription)."""
    return {
        "code": offer.code,
        "country": offer.country,
        "kind": offer.kind,
        "capabilities": sorted(c.value for c in offer.capabilities),
        "monthly_fee": money_to_state(offer.monthly_fee),
        "upfront_fee": money_to_state(offer.upfront_fee),
        "interval_months": offer.interval.months,
    }


def offer_from_state(state: State) -> NumberOffer:
    """The `NumberOffer` that `offer_to_state` encoded."""
    return NumberOffer(
        code=state["code"],
        country=state["country"],
        kind=state["kind"],
        capabilities=frozenset(Capability(c) for c in state["capabilities"]),
        monthly_fee=money_from_state(state["monthly_fee"]),
        upfront_fee=money_from_state(state["upfront_fee"]),
        interval=BillingInterval(state["interval_months"]),
    )
