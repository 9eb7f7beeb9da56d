"""What happens to a phone-number subscription, as domain events.

A `NumberSubscription` records these; the unit of work publishes them after commit. Hosts listen
to `PreDebitNoticeDue` to tell the customer about an upcoming mandate debit, and to
`NumberPutOnHold` / `NumberReleased` to warn them before a number is lost.
"""

from __future__ import annotations

from datetime import datetime

from attrs import frozen

from minutebill.domain.events import DomainEvent
from minutebill.domain.money import Money

__all__ = [
    "NumberActivated",
    "NumberAutoPayChanged",
    "NumberPutOnHold",
    "NumberReactivated",
    "NumberReleased",
    "NumberRenewed",
    "PreDebitNoticeDue",
]


@frozen(kw_only=True)
class NumberActivated(DomainEvent):
    """A number's order was paid: it is Active and paid through its first period.

    Attributes:
        number: The E.164 number.
        offer_code: The offer it was bought under.
        anchor: The instant every period is computed from.
        paid_through: The end of the first period.
        upfront_fee: The one-time fee the order charged.
        recurring_fee: The fee of each later period.
    """

    number: str
    offer_code: str
    anchor: datetime
    paid_through: datetime
    upfront_fee: Money
    recurring_fee: Money


@frozen(kw_only=True)
class NumberRenewed(DomainEvent):
    """A period of a number was paid.

    Attributes:
        number: The E.164 number.
        period_index: The period paid (0 is the first, paid by the order).
        paid_through: The new end of the paid time.
        amount: The fee for the period, before tax (the offer's recurring fee).
        paid: What the customer paid for it, its tax included (`PreDebitNoticeDue.amount`
            and `NumberReleased.refund_due` are such amounts too).
    """

    number: str
    period_index: int
    paid_through: datetime
    amount: Money
    paid: Money


@frozen(kw_only=True)
class PreDebitNoticeDue(DomainEvent):
    """The customer must now be told about an upcoming mandate debit.

    Attributes:
        number: The E.164 number.
        period_index: The period the debit pays for.
        amount: The amount that will be debited.
        debit_at: The earliest instant of the debit, at least the policy's lead after now.
    """

    number: str
    period_index: int
    amount: Money
    debit_at: datetime


@frozen(kw_only=True)
class NumberPutOnHold(DomainEvent):
    """A number went on hold (or its hold reason changed).

    Attributes:
        number: The E.164 number.
        reason: Why, as a `HoldReason` value (``"insufficient_credit"``, ...).
        since: When the hold started.
        release_after: When the number is released to the provider unless paid.
    """

    number: str
    reason: str
    since: datetime
    release_after: datetime


@frozen(kw_only=True)
class NumberReactivated(DomainEvent):
    """A held number was paid up and is Active again, on its original anchor.

    Attributes:
        number: The E.164 number.
        period_index: The last period paid.
        paid_through: The new end of the paid time.
        amount: The fee for that period, before tax.
        paid: What the customer paid for it, its tax included.
    """

    number: str
    period_index: int
    paid_through: datetime
    amount: Money
    paid: Money


@frozen(kw_only=True)
class NumberReleased(DomainEvent):
    """A number was released: no further charges, and it goes back to the provider.

    Attributes:
        number: The E.164 number.
        reason: A `ReleaseReason` value (``"requested"`` or ``"grace_elapsed"``).
        unused_periods: Paid periods that start at or after the release (normally none).
        refund_due: What those periods were charged, to refund or credit: `Billing` credits
            it to the wallet as it is, each period's fee with the tax it was charged with.
    """

    number: str
    reason: str
    unused_periods: tuple[int, ...]
    refund_due: Money


@frozen(kw_only=True)
class NumberAutoPayChanged(DomainEvent):
    """The customer turned Auto-Pay on or off.

    Attributes:
        number: The E.164 number.
        auto_pay: The new setting.
    """

    number: str
    auto_pay: bool
