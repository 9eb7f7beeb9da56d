"""The checkout's JSON form."""

from __future__ import annotations

from pydantic import AwareDatetime

from minutebill.schemas import MoneySchema, TaxLineSchema
from minutebill.view_schemas._base import CapabilityName, ViewModel, money_schema
from minutebill.views import CheckoutView

__all__ = [
    "CheckoutLineSchema",
    "CheckoutTextSchema",
    "CheckoutViewSchema",
    "TaxLineTextSchema",
]


class CheckoutLineSchema(ViewModel):
    """One line of the order."""

    kind: str
    description: str
    amount: MoneySchema
    upfront_fee: MoneySchema


class TaxLineTextSchema(ViewModel):
    """A tax component as display text."""

    name: str
    rate: str
    amount: str
    label: str


class CheckoutTextSchema(ViewModel):
    """`CheckoutView.format` in JSON; `rows` are ``[label, value]`` pairs in display order."""

    lines: list[tuple[str, str]]
    amount: str
    upfront_fees: str
    tax: str
    tax_lines: list[TaxLineTextSchema]
    total: str
    rows: list[tuple[str, str]]
    capabilities: str
    capabilities_note: str
    payment_modes: list[str]
    status: str
    valid_until: str


class CheckoutViewSchema(ViewModel):
    """The checkout: Amount, Up Front Fees, tax lines, Total, capabilities, payment modes."""

    quote_id: str
    account_id: str
    lines: list[CheckoutLineSchema]
    amount: MoneySchema
    upfront_fees: MoneySchema
    tax: MoneySchema
    tax_lines: list[TaxLineSchema]
    tax_included: bool
    total: MoneySchema
    capabilities: list[CapabilityName]
    payment_modes: list[str]
    status: str | None
    next_action_url: str | None
    priced_at: AwareDatetime
    valid_until: AwareDatetime
    timezone: str
    formatted: CheckoutTextSchema | None = None

    @classmethod
    def from_view(cls, view: CheckoutView, *, locale: str | None = None) -> CheckoutViewSchema:
        """The JSON form of `view`."""
        return cls(
            quote_id=view.quote_id,
            account_id=view.account_id,
            lines=[
                CheckoutLineSchema(
                    kind=line.kind,
                    description=line.description,
                    amount=money_schema(line.amount),
                    upfront_fee=money_schema(line.upfront_fee),
                )
                for line in view.lines
            ],
            amount=money_schema(view.amount),
            upfront_fees=money_schema(view.upfront_fees),
            tax=money_schema(view.tax),
            tax_lines=[TaxLineSchema.from_domain(t) for t in view.tax_lines],
            tax_included=view.tax_included,
            total=money_schema(view.total),
            capabilities=sorted(c.value for c in view.capabilities),
            payment_modes=list(view.payment_modes),
            status=view.status,
            next_action_url=view.next_action_url,
            priced_at=view.priced_at,
            valid_until=view.valid_until,
            timezone=view.timezone,
            formatted=None
            if locale is None
            else CheckoutTextSchema.model_validate(view.format(locale)),
        )
