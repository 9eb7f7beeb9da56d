"""The checkout screen: the order's breakdown, its capabilities and the payment modes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol, TypedDict

from attrs import evolve, frozen

from minutebill._formatting import (
    format_capabilities,
    format_moment,
    format_money,
    format_rate,
    label,
    locale_id,
)
from minutebill.domain.catalog import Capability
from minutebill.domain.checkout import Quote
from minutebill.domain.money import Money
from minutebill.domain.payment_status import PaymentStatus
from minutebill.domain.tax import TaxLine

__all__ = [
    "PAYMENT_MODES",
    "CheckoutLine",
    "CheckoutOutcome",
    "CheckoutText",
    "CheckoutView",
    "TaxLineText",
]

PAYMENT_MODES: tuple[str, ...] = ("upi", "card")
"""The checkout's payment modes: UPI for instant mobile payments, credit and debit cards."""


class CheckoutOutcome(Protocol):
    """What `CheckoutView.build` reads from a purchase: `minutebill.service.CheckoutResult`."""

    @property
    def quote(self) -> Quote:
        """The quote the customer was shown."""
        ...

    @property
    def capabilities(self) -> frozenset[Capability]:
        """The capabilities the purchase includes."""
        ...

    @property
    def status(self) -> PaymentStatus:
        """Where its payment stands."""
        ...

    @property
    def next_action_url(self) -> str | None:
        """Where the customer completes an extra step, if the gateway asked for one."""
        ...


@frozen(kw_only=True)
class CheckoutLine:
    """One line of the order.

    Attributes:
        kind: ``bundle``, ``top_up``, ``number`` or ``plan``.
        description: What it is (``Nexus add-on, 300 min``).
        amount: Its price now.
        upfront_fee: Its one-time fee.
    """

    kind: str
    description: str
    amount: Money
    upfront_fee: Money


class TaxLineText(TypedDict):
    """One tax component as display text."""

    name: str
    rate: str
    amount: str
    label: str


class CheckoutText(TypedDict):
    """`CheckoutView.format`: the checkout breakdown as display text.

    ``rows`` is the breakdown in order, as (label, value) pairs: *Amount*, *Up Front Fees*,
    each tax line that is not zero (``CGST 9%``), *Total Amount*. ``tax_lines`` lists every
    tax line, zero or not.
    """

    lines: list[tuple[str, str]]
    amount: str
    upfront_fees: str
    tax: str
    tax_lines: list[TaxLineText]
    total: str
    rows: list[tuple[str, str]]
    capabilities: str
    capabilities_note: str
    payment_modes: list[str]
    status: str
    valid_until: str


@frozen(kw_only=True)
class CheckoutView:
    """The checkout screen of a purchase: breakdown, capabilities and payment modes.

    Attributes:
        quote_id: The quote shown.
        account_id: The paying account.
        lines: What is bought.
        amount: *Amount*: the price of the lines.
        upfront_fees: *Up Front Fees*: one-time fees (a number's activation).
        tax: The tax on the order (0 without a tax policy).
        tax_lines: Its components (CGST and SGST, or IGST), summing exactly to `tax`.
        tax_included: Whether the prices already include the tax.
        total: *Total Amount*: what paying charges.
        capabilities: What the purchase includes (*SMS*, *Voice*), confirmed at checkout.
        payment_modes: The modes offered, from `PAYMENT_MODES`.
        status: The payment's status; None for a preview not yet paid.
        next_action_url: Where the customer completes a UPI approval or 3-D Secure step.
        priced_at: When the quote was priced.
        valid_until: Until when it may be paid.
        timezone: The time zone its dates are shown in.
    """

    quote_id: str
    account_id: str
    lines: tuple[CheckoutLine, ...]
    amount: Money
    upfront_fees: Money
    tax: Money
    tax_lines: tuple[TaxLine, ...]
    tax_included: bool
    total: Money
    capabilities: frozenset[Capability]
    payment_modes: tuple[str, ...]
    status: str | None
    next_action_url: str | None
    priced_at: datetime
    valid_until: datetime
    timezone: str = "UTC"

    @classmethod
    def build(
        cls,
        result: CheckoutOutcome,
        *,
        timezone: str = "UTC",
        payment_modes: Sequence[str] = PAYMENT_MODES,
    ) -> CheckoutView:
        """The checkout of a purchase (`Billing.checkout_bundle`, `top_up`, `acquire_number`)."""
        view = cls.preview(result.quote, timezone=timezone, payment_modes=payment_modes)
        return _evolve_paid(view, result)

    @classmethod
    def preview(
        cls, quote: Quote, *, timezone: str = "UTC", payment_modes: Sequence[str] = PAYMENT_MODES
    ) -> CheckoutView:
        """The checkout of a priced but unpaid quote (what the page shows before *Pay*)."""
        b = quote.breakdown
        return cls(
            quote_id=quote.quote_id,
            account_id=quote.account_id,
            lines=tuple(
                CheckoutLine(
                    kind=line.kind.value,
                    description=line.description,
                    amount=line.amount,
                    upfront_fee=line.upfront_fee,
                )
                for line in quote.lines
            ),
            amount=b.amount,
            upfront_fees=b.upfront_fees,
            tax=b.tax,
            tax_lines=b.tax_lines,
            tax_included=b.tax_included,
            total=b.total,
            capabilities=quote.capabilities,
            payment_modes=tuple(payment_modes),
            status=None,
            next_action_url=None,
            priced_at=quote.priced_at,
            valid_until=quote.valid_until,
            timezone=timezone,
        )

    def format(self, locale: str) -> CheckoutText:
        """The breakdown as `locale` writes it: ``Amount ₹449.00``, ``CGST 9% ₹40.41``, ..."""
        locale = locale_id(locale)
        money = format_money
        taxes = [
            TaxLineText(
                name=t.name,
                rate=format_rate(t.rate, locale),
                amount=money(t.amount, locale),
                label=f"{t.name} {format_rate(t.rate, locale)}",
            )
            for t in self.tax_lines
        ]
        included = " (included)" if self.tax_included else ""
        rows = [
            ("Amount", money(self.amount, locale)),
            ("Up Front Fees", money(self.upfront_fees, locale)),
            *[
                (t["label"] + included, t["amount"])
                for t, line in zip(taxes, self.tax_lines, strict=True)
                if line.amount.amount
            ],
            ("Total Amount", money(self.total, locale)),
        ]
        caps = format_capabilities(self.capabilities, locale)
        return CheckoutText(
            lines=[
                (line.description, money(line.amount + line.upfront_fee, locale))
                for line in self.lines
            ],
            amount=money(self.amount, locale),
            upfront_fees=money(self.upfront_fees, locale),
            tax=money(self.tax, locale),
            tax_lines=taxes,
            total=money(self.total, locale),
            rows=rows,
            capabilities=caps,
            capabilities_note=f"Includes {caps} capabilities" if caps else "",
            payment_modes=[label(mode) for mode in self.payment_modes],
            status="" if self.status is None else label(self.status),
            valid_until=format_moment(self.valid_until, self.timezone, locale),
        )


def _evolve_paid(view: CheckoutView, result: CheckoutOutcome) -> CheckoutView:
    return evolve(
        view,
        capabilities=result.capabilities,
        status=result.status.value,
        next_action_url=result.next_action_url,
    )
