"""Checkout: an `Order` of lines, priced into a `Quote` with a transparent `FeeBreakdown`.

The checkout screen shows *Amount*, *Up Front Fees*, the tax (when a `TaxPolicy` applies) and
*Total Amount*, and the capabilities the purchase includes (SMS, Voice). A quote is priced at
an instant and valid until an expiry; paying it charges exactly the total it showed.

Guarantees: every figure is in whole minor units; ``total == amount + upfront_fees + tax``
exactly; the tax lines sum exactly to the tax. See `minutebill.domain.tax` for the rounding
rule (tax computed once on the precise taxable sum, rounded once).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from attrs import field, frozen

from minutebill.domain.catalog import Capability
from minutebill.domain.line_items import (
    LINE_TYPES,
    BundleLine,
    LineItem,
    LineKind,
    NumberLine,
    PlanAction,
    PlanLine,
    TopUpLine,
    line_from_state,
)
from minutebill.domain.money import Money, sum_money
from minutebill.domain.periods import to_utc
from minutebill.domain.state import (
    State,
    instant_from_state,
    instant_to_state,
    money_from_state,
    money_to_state,
)
from minutebill.domain.tax import TaxLine, TaxPolicy
from minutebill.domain.text import require_key
from minutebill.errors import (
    CurrencyMismatch,
    InvalidTransition,
    MissingCapability,
    ValidationError,
)

__all__ = [
    "DEFAULT_QUOTE_VALIDITY",
    "BundleLine",
    "FeeBreakdown",
    "LineItem",
    "LineKind",
    "NumberLine",
    "Order",
    "PlanAction",
    "PlanLine",
    "Quote",
    "TaxLine",
    "TaxPolicy",
    "TopUpLine",
]

DEFAULT_QUOTE_VALIDITY = timedelta(minutes=30)
"""How long a quote stays payable unless the caller says otherwise."""


def _items(name: str, value: object, kind: type | None, reason: str) -> tuple[Any, ...]:
    """The values of the collection `value` (text is not one), each a `kind` if one is given.

    Raises:
        ValidationError: naming `name` and the whole `value`, with `reason`.
    """
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise ValidationError(name, value, reason)
    items = tuple(value)
    if kind is not None and not all(isinstance(item, kind) for item in items):
        raise ValidationError(name, value, reason)
    return items


def _lines(value: Iterable[Any]) -> tuple[LineItem, ...]:
    # Each line's type is checked with the order, which names the line that is not one.
    return _items("lines", value, None, "expected an iterable of line items")


def _capabilities(value: Iterable[Any]) -> frozenset[Capability]:
    return frozenset(_items("requires", value, Capability, "expected Capability values"))


@frozen
class Order:
    """What the customer is buying: lines in one currency, and the capabilities they need.

    Attributes:
        lines: Bundles, top-ups, numbers and plan charges (at least one).
        currency: The currency every line is priced in.
        requires: Capabilities every number line must include (e.g. SMS and Voice).

    Raises:
        ValidationError: for no lines, a non-line, or the same number twice.
        CurrencyMismatch: for a line in another currency.
        MissingCapability: if a number line lacks a required capability (or the order has
            requirements but no number).
    """

    lines: tuple[LineItem, ...] = field(converter=_lines)
    currency: str
    requires: frozenset[Capability] = field(default=frozenset(), converter=_capabilities)

    def __attrs_post_init__(self) -> None:
        Money.zero(self.currency)  # validates the currency code
        if not self.lines:
            raise ValidationError("lines", self.lines, "an order needs at least one line")
        for line in self.lines:
            if not isinstance(line, LINE_TYPES):
                raise ValidationError("lines", line, "not a line item")
            if line.currency != self.currency:
                raise CurrencyMismatch(self.currency, line.currency)
        numbers = [line for line in self.lines if isinstance(line, NumberLine)]
        targets = [n.number_e164 for n in numbers]
        if len(set(targets)) != len(targets):
            raise ValidationError("lines", targets, "the same number appears twice")
        if self.requires:
            missing = set(self.requires) if not numbers else set()
            for number in numbers:
                missing |= self.requires - number.capabilities
            if missing:
                raise MissingCapability(missing)

    @property
    def capabilities(self) -> frozenset[Capability]:
        """Everything the order's numbers include; the checkout confirms these."""
        caps: frozenset[Capability] = frozenset()
        for line in self.lines:
            caps |= line.capabilities
        return caps

    def breakdown(self, tax: TaxPolicy | None = None) -> FeeBreakdown:
        """Price the order under `tax` (none by default). Pure; the same input, the same output."""
        return FeeBreakdown.price(self.lines, self.currency, tax or TaxPolicy.none())

    def quote(
        self,
        *,
        quote_id: str,
        account_id: str,
        at: datetime,
        tax: TaxPolicy | None = None,
        valid_for: timedelta = DEFAULT_QUOTE_VALIDITY,
    ) -> Quote:
        """Price the order at `at` into a `Quote` valid for `valid_for`.

        Raises:
            ValidationError: for a naive `at`, empty ids or a non-positive validity.
        """
        if not isinstance(valid_for, timedelta) or valid_for <= timedelta(0):
            raise ValidationError("valid_for", valid_for, "must be a positive timedelta")
        policy = tax or TaxPolicy.none()
        priced_at = to_utc(at)
        return Quote(
            quote_id=quote_id,
            account_id=account_id,
            order=self,
            tax_policy=policy,
            breakdown=self.breakdown(policy),
            priced_at=priced_at,
            valid_until=priced_at + valid_for,
        )

    def to_state(self) -> State:
        """This order as a JSON-compatible dict."""
        return {
            "currency": self.currency,
            "lines": [line.to_state() for line in self.lines],
            "requires": sorted(c.value for c in self.requires),
        }

    @classmethod
    def from_state(cls, state: State) -> Order:
        """The order that `to_state` encoded."""
        return cls(
            [line_from_state(s) for s in state["lines"]],
            state["currency"],
            frozenset(Capability(c) for c in state["requires"]),
        )


def _rounded(name: str, value: object) -> Money:
    if not isinstance(value, Money) or not value.is_rounded() or value.amount < 0:
        raise ValidationError(name, value, "must be non-negative Money in whole minor units")
    return value


def _tax_lines(value: Iterable[Any]) -> tuple[TaxLine, ...]:
    return _items("tax_lines", value, TaxLine, "expected TaxLine values")


@frozen
class FeeBreakdown:
    """The figures a checkout shows. Immutable; the totals always add up exactly.

    Attributes:
        amount: What the lines cost before up-front fees (net of tax when prices include it).
        upfront_fees: One-time fees, such as a number's set-up fee (net of tax likewise).
        tax: The tax, rounded once; zero without a tax policy.
        total: ``amount + upfront_fees + tax``, exactly: what the customer pays.
        tax_lines: The tax's components (CGST and SGST, or IGST); they sum to `tax`.
        tax_included: Whether the listed prices already included the tax.
    """

    amount: Money
    upfront_fees: Money
    tax: Money
    total: Money
    tax_lines: tuple[TaxLine, ...] = field(default=(), converter=_tax_lines)
    tax_included: bool = False

    def __attrs_post_init__(self) -> None:
        for name in ("amount", "upfront_fees", "tax", "total"):
            _rounded(name, getattr(self, name))
        currency = self.total.currency
        if self.amount + self.upfront_fees + self.tax != self.total:
            raise ValidationError("total", self.total, "must equal amount + upfront_fees + tax")
        if sum_money((line.amount for line in self.tax_lines), currency) != self.tax:
            raise ValidationError("tax_lines", self.tax_lines, "must sum exactly to the tax")

    @classmethod
    def price(cls, lines: Iterable[LineItem], currency: str, tax: TaxPolicy) -> FeeBreakdown:
        """Price `lines` under `tax`, applying the rounding rule of `minutebill.domain.tax`."""
        lines = tuple(lines)
        listed = sum_money((line.amount for line in lines), currency)
        upfront = sum_money((line.upfront_fee for line in lines), currency)
        taxed = [line for line in lines if line.taxable]
        taxed_amount = sum_money((line.amount for line in taxed), currency)
        taxed_upfront = sum_money((line.upfront_fee for line in taxed), currency)
        tax_amount = tax.tax_on(taxed_amount + taxed_upfront)
        if tax.inclusive_prices and tax_amount:
            in_amount, in_upfront = tax_amount.allocate([taxed_amount.amount, taxed_upfront.amount])
            listed, upfront = listed - in_amount, upfront - in_upfront
        return cls(
            amount=listed,
            upfront_fees=upfront,
            tax=tax_amount,
            total=listed + upfront + tax_amount,
            tax_lines=tax.lines(tax_amount),
            tax_included=tax.inclusive_prices,
        )

    @property
    def currency(self) -> str:
        """The currency of every figure."""
        return self.total.currency

    def to_state(self) -> State:
        """This breakdown as a JSON-compatible dict."""
        return {
            "amount": money_to_state(self.amount),
            "upfront_fees": money_to_state(self.upfront_fees),
            "tax": money_to_state(self.tax),
            "total": money_to_state(self.total),
            "tax_lines": [line.to_state() for line in self.tax_lines],
            "tax_included": self.tax_included,
        }

    @classmethod
    def from_state(cls, state: State) -> FeeBreakdown:
        """The breakdown that `to_state` encoded."""
        return cls(
            amount=money_from_state(state["amount"]),
            upfront_fees=money_from_state(state["upfront_fees"]),
            tax=money_from_state(state["tax"]),
            total=money_from_state(state["total"]),
            tax_lines=tuple(TaxLine.from_state(s) for s in state["tax_lines"]),
            tax_included=state["tax_included"],
        )


def _quote_id(value: object) -> str:
    return require_key("quote_id", value)


def _account_id(value: object) -> str:
    return require_key("account_id", value)


def _priced_at(value: datetime) -> datetime:
    return to_utc(value, "priced_at")


def _valid_until(value: datetime) -> datetime:
    return to_utc(value, "valid_until")


@frozen(kw_only=True)
class Quote:
    """A priced order: what the customer saw and may pay until `valid_until`.

    A quote never changes once priced, so it is stored once and never updated; a payment
    names it by `quote_id`. Build one with `Order.quote`.

    Attributes:
        quote_id: Unique id, chosen by the caller.
        account_id: The paying account.
        order: What is bought.
        tax_policy: The tax policy it was priced under.
        breakdown: The figures shown.
        priced_at: When it was priced (UTC).
        valid_until: When it stops being payable (UTC, exclusive).
    """

    quote_id: str = field(converter=_quote_id)
    account_id: str = field(converter=_account_id)
    order: Order
    tax_policy: TaxPolicy
    breakdown: FeeBreakdown
    priced_at: datetime = field(converter=_priced_at)
    valid_until: datetime = field(converter=_valid_until)

    def __attrs_post_init__(self) -> None:
        if self.valid_until <= self.priced_at:
            raise ValidationError("valid_until", self.valid_until, "must be after priced_at")
        if self.breakdown.currency != self.order.currency:
            raise CurrencyMismatch(self.order.currency, self.breakdown.currency)

    @property
    def total(self) -> Money:
        """What paying this quote charges."""
        return self.breakdown.total

    @property
    def currency(self) -> str:
        """The quote's currency."""
        return self.order.currency

    @property
    def lines(self) -> tuple[LineItem, ...]:
        """The order's lines."""
        return self.order.lines

    @property
    def capabilities(self) -> frozenset[Capability]:
        """The capabilities the purchase includes (the checkout's confirmation)."""
        return self.order.capabilities

    def is_valid_at(self, at: datetime) -> bool:
        """Whether the quote may still be paid at `at`."""
        return to_utc(at) < self.valid_until

    def ensure_payable(self, at: datetime) -> None:
        """Check that a payment for this quote may be started at `at`.

        Raises:
            InvalidTransition: if the quote has expired, or is free (nothing to pay).
        """
        if not self.is_valid_at(at):
            raise InvalidTransition(f"quote {self.quote_id}", "expired", "pay")
        if not self.total:
            raise InvalidTransition(f"quote {self.quote_id}", "free", "pay")

    def line_totals(self) -> tuple[Money, ...]:
        """Each line's share of the total, tax included; they sum exactly to `total`.

        Used to credit or refund the part of a payment whose line cannot be fulfilled. An
        exclusive tax is shared among the taxable lines by largest remainder.
        """
        gross = [line.amount + line.upfront_fee for line in self.lines]
        if self.breakdown.tax_included or not self.breakdown.tax:
            return tuple(gross)
        weights = [
            g.amount if line.taxable else 0 for g, line in zip(gross, self.lines, strict=True)
        ]
        shares = self.breakdown.tax.allocate(weights)
        return tuple(g + s for g, s in zip(gross, shares, strict=True))

    def to_state(self) -> State:
        """This quote as a JSON-compatible dict."""
        return {
            "quote_id": self.quote_id,
            "account_id": self.account_id,
            "order": self.order.to_state(),
            "tax_policy": self.tax_policy.to_state(),
            "breakdown": self.breakdown.to_state(),
            "priced_at": instant_to_state(self.priced_at),
            "valid_until": instant_to_state(self.valid_until),
        }

    @classmethod
    def from_state(cls, state: State) -> Quote:
        """The quote that `to_state` encoded (the stored breakdown is kept, not recomputed)."""
        return cls(
            quote_id=state["quote_id"],
            account_id=state["account_id"],
            order=Order.from_state(state["order"]),
            tax_policy=TaxPolicy.from_state(state["tax_policy"]),
            breakdown=FeeBreakdown.from_state(state["breakdown"]),
            priced_at=instant_from_state(state["priced_at"]),
            valid_until=instant_from_state(state["valid_until"]),
        )
