"""The JSON form of the billing-page views, and the JSON Schema minutebill publishes for it.

A host's API returns these documents to its front end (or a mobile app) instead of rendering
HTML itself. Exact figures travel as decimal strings (``"26.06"``) and money as
``{"amount": "449.00", "currency": "INR", "minor_units": 44900}``, never as floats; instants
are ISO 8601 with their offset. Pass a locale to include ``formatted``: the same strings
``view.format(locale)`` gives, so a front end shows ``₹1,50,000.00`` without a formatting
library of its own.

```python
doc = view_to_json(overview, locale="en_IN")
schema = views_json_schema()  # {"$schema": ..., "$defs": {"PlanOverviewSchema": ...}}
```
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema

from minutebill.schemas import MoneySchema, TaxLineSchema
from minutebill.views import (
    CallUsage,
    CheckoutView,
    DailyUsage,
    NumberView,
    PlanOverview,
    TagUsage,
    UsageSummary,
)

__all__ = [
    "CallTextSchema",
    "CallUsageSchema",
    "CheckoutLineSchema",
    "CheckoutTextSchema",
    "CheckoutViewSchema",
    "DailyUsageSchema",
    "DayTextSchema",
    "NumberTextSchema",
    "NumberViewSchema",
    "OverviewTextSchema",
    "PlanOverviewSchema",
    "TagTextSchema",
    "TagUsageSchema",
    "TaxLineTextSchema",
    "UsageSummarySchema",
    "UsageTextSchema",
    "view_to_json",
    "views_json_schema",
]

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

DecimalText = Annotated[str, Field(pattern=r"^-?[0-9]+(\.[0-9]+)?$", examples=["26.06"])]
"""An exact decimal as a string: ``"5300.00"``."""

CapabilityName = Literal["voice", "sms", "mms"]


class _ViewModel(BaseModel):
    """Outgoing JSON: exactly these fields, immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _money(value: Any) -> MoneySchema:
    return MoneySchema.from_domain(value)


# --- plan overview ---------------------------------------------------------------------------


class OverviewTextSchema(_ViewModel):
    """`PlanOverview.format` in JSON: display strings in the requested locale."""

    account_id: str
    plan: str
    plan_code: str
    status: str
    total_minutes: str
    remaining_minutes: str
    used_minutes: str
    held_minutes: str
    overage_minutes: str
    used_percent: str
    used_label: str
    period: str
    next_billing: str
    next_billing_relative: str
    plan_expiry: str
    plan_expiry_relative: str
    renewal_note: str
    wallet_balance: str
    concurrent_calls: str
    phone_numbers: str
    queue_priority: str
    as_of: str


class PlanOverviewSchema(_ViewModel):
    """The plan overview: plan, Total / Remaining / Used minutes, Used %, the dates."""

    account_id: str
    plan_code: str
    plan_name: str
    status: Literal["active", "past_due", "canceled", "expired"]
    timezone: str
    total_minutes: DecimalText
    remaining_minutes: DecimalText
    used_minutes: DecimalText
    held_minutes: DecimalText
    used_percent: DecimalText
    overage_minutes: DecimalText
    period_start: AwareDatetime
    period_end: AwareDatetime
    next_billing_at: AwareDatetime | None
    expires_at: AwareDatetime | None
    wallet_balance: MoneySchema
    concurrent_calls: int
    phone_numbers: int
    queue_priority: int
    as_of: AwareDatetime
    formatted: OverviewTextSchema | None = None

    @classmethod
    def from_view(cls, view: PlanOverview, *, locale: str | None = None) -> PlanOverviewSchema:
        """The JSON form of `view`, with its display strings in `locale` if one is given."""
        return cls(
            account_id=view.account_id,
            plan_code=view.plan_code,
            plan_name=view.plan_name,
            status=view.status,  # type: ignore[arg-type]
            timezone=view.timezone,
            total_minutes=str(view.total_minutes),
            remaining_minutes=str(view.remaining_minutes),
            used_minutes=str(view.used_minutes),
            held_minutes=str(view.held_minutes),
            used_percent=str(view.used_percent),
            overage_minutes=str(view.overage_minutes),
            period_start=view.period_start,
            period_end=view.period_end,
            next_billing_at=view.next_billing_at,
            expires_at=view.expires_at,
            wallet_balance=_money(view.wallet_balance),
            concurrent_calls=view.concurrent_calls,
            phone_numbers=view.phone_numbers,
            queue_priority=view.queue_priority,
            as_of=view.as_of,
            formatted=None if locale is None else OverviewTextSchema(**view.format(locale)),
        )


# --- numbers ---------------------------------------------------------------------------------


class NumberTextSchema(_ViewModel):
    """`NumberView.format` in JSON."""

    number: str
    country: str
    kind: str
    capabilities: str
    status: str
    status_note: str
    auto_pay: str
    recurring_fee: str
    paid_through: str
    paid_through_relative: str
    hold_reason: str
    release_after: str
    release_after_relative: str


class NumberViewSchema(_ViewModel):
    """A row of the numbers table: status, Auto-Pay, fee and dates."""

    number_e164: str
    country: str
    kind: str
    capabilities: list[CapabilityName]
    status: Literal["active", "on_hold", "released"]
    auto_pay: bool
    has_mandate: bool
    recurring_fee: MoneySchema
    interval_months: int
    paid_through: AwareDatetime
    hold_reason: str | None
    release_after: AwareDatetime | None
    can_release: bool
    as_of: AwareDatetime
    formatted: NumberTextSchema | None = None

    @classmethod
    def from_view(
        cls, view: NumberView, *, locale: str | None = None, timezone: str = "UTC"
    ) -> NumberViewSchema:
        """The JSON form of `view`; `timezone` is where its formatted dates are shown."""
        return cls(
            number_e164=view.number_e164,
            country=view.country,
            kind=view.kind,
            capabilities=sorted(c.value for c in view.capabilities),
            status=view.status,  # type: ignore[arg-type]
            auto_pay=view.auto_pay,
            has_mandate=view.has_mandate,
            recurring_fee=_money(view.recurring_fee),
            interval_months=view.interval_months,
            paid_through=view.paid_through,
            hold_reason=view.hold_reason,
            release_after=view.release_after,
            can_release=view.can_release,
            as_of=view.as_of,
            formatted=None
            if locale is None
            else NumberTextSchema(**view.format(locale, timezone=timezone)),
        )


# --- checkout --------------------------------------------------------------------------------


class CheckoutLineSchema(_ViewModel):
    """One line of the order."""

    kind: str
    description: str
    amount: MoneySchema
    upfront_fee: MoneySchema


class TaxLineTextSchema(_ViewModel):
    """A tax component as display text."""

    name: str
    rate: str
    amount: str
    label: str


class CheckoutTextSchema(_ViewModel):
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


class CheckoutViewSchema(_ViewModel):
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
                    amount=_money(line.amount),
                    upfront_fee=_money(line.upfront_fee),
                )
                for line in view.lines
            ],
            amount=_money(view.amount),
            upfront_fees=_money(view.upfront_fees),
            tax=_money(view.tax),
            tax_lines=[TaxLineSchema.from_domain(t) for t in view.tax_lines],
            tax_included=view.tax_included,
            total=_money(view.total),
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


# --- usage -----------------------------------------------------------------------------------


class DailyUsageSchema(_ViewModel):
    """Usage on one local day."""

    day: date
    calls: int
    billable_seconds: int
    overage_seconds: int

    @classmethod
    def from_view(cls, row: DailyUsage) -> DailyUsageSchema:
        """The JSON form of `row`."""
        return cls(
            day=row.day,
            calls=row.calls,
            billable_seconds=row.billable_seconds,
            overage_seconds=row.overage_seconds,
        )


class TagUsageSchema(_ViewModel):
    """Usage of one tag."""

    tag: str
    calls: int
    billable_seconds: int
    overage_seconds: int

    @classmethod
    def from_view(cls, row: TagUsage) -> TagUsageSchema:
        """The JSON form of `row`."""
        return cls(
            tag=row.tag,
            calls=row.calls,
            billable_seconds=row.billable_seconds,
            overage_seconds=row.overage_seconds,
        )


class CallUsageSchema(_ViewModel):
    """One settled call."""

    call_id: str
    started_at: AwareDatetime
    duration_seconds: int
    billable_seconds: int
    overage_seconds: int
    tags: list[str]

    @classmethod
    def from_view(cls, row: CallUsage) -> CallUsageSchema:
        """The JSON form of `row`."""
        return cls(
            call_id=row.call_id,
            started_at=row.started_at,
            duration_seconds=row.duration_seconds,
            billable_seconds=row.billable_seconds,
            overage_seconds=row.overage_seconds,
            tags=list(row.tags),
        )


class DayTextSchema(_ViewModel):
    """One day as display text."""

    day: str
    calls: str
    billed: str
    overage: str


class TagTextSchema(_ViewModel):
    """One tag as display text."""

    tag: str
    calls: str
    billed: str
    overage: str


class CallTextSchema(_ViewModel):
    """One call as display text."""

    call_id: str
    started_at: str
    duration: str
    billed: str
    overage: str
    tags: str


class UsageTextSchema(_ViewModel):
    """`UsageSummary.format` in JSON."""

    range: str
    calls: str
    billed: str
    overage: str
    days: list[DayTextSchema]
    tags: list[TagTextSchema]
    recent: list[CallTextSchema]


class UsageSummarySchema(_ViewModel):
    """The Usage tab: per day, per tag, the latest calls, and the totals."""

    account_id: str
    timezone: str
    since: date
    until: date
    days: list[DailyUsageSchema]
    tags: list[TagUsageSchema]
    recent: list[CallUsageSchema]
    next_cursor: str | None
    calls: int
    billable_seconds: int
    overage_seconds: int
    as_of: AwareDatetime
    formatted: UsageTextSchema | None = None

    @classmethod
    def from_view(cls, view: UsageSummary, *, locale: str | None = None) -> UsageSummarySchema:
        """The JSON form of `view`."""
        return cls(
            account_id=view.account_id,
            timezone=view.timezone,
            since=view.since,
            until=view.until,
            days=[DailyUsageSchema.from_view(d) for d in view.days],
            tags=[TagUsageSchema.from_view(t) for t in view.tags],
            recent=[CallUsageSchema.from_view(c) for c in view.recent],
            next_cursor=view.next_cursor,
            calls=view.calls,
            billable_seconds=view.billable_seconds,
            overage_seconds=view.overage_seconds,
            as_of=view.as_of,
            formatted=None
            if locale is None
            else UsageTextSchema.model_validate(view.format(locale)),
        )


# --- one entry point -------------------------------------------------------------------------

View = PlanOverview | NumberView | CheckoutView | UsageSummary

_TOP_LEVEL: tuple[type[_ViewModel], ...] = (
    PlanOverviewSchema,
    NumberViewSchema,
    CheckoutViewSchema,
    UsageSummarySchema,
)


def view_to_json(view: View, *, locale: str | None = None, timezone: str = "UTC") -> dict[str, Any]:
    """The JSON-compatible form of any view (ready for `json.dumps`).

    Args:
        view: A `PlanOverview`, `NumberView`, `CheckoutView` or `UsageSummary`.
        locale: Include the display strings in this locale under ``formatted``.
        timezone: For a `NumberView`, the time zone its formatted dates are shown in (the
            other views carry their own).
    """
    model: _ViewModel
    if isinstance(view, PlanOverview):
        model = PlanOverviewSchema.from_view(view, locale=locale)
    elif isinstance(view, NumberView):
        model = NumberViewSchema.from_view(view, locale=locale, timezone=timezone)
    elif isinstance(view, CheckoutView):
        model = CheckoutViewSchema.from_view(view, locale=locale)
    else:
        model = UsageSummarySchema.from_view(view, locale=locale)
    return model.model_dump(mode="json")


def views_json_schema() -> dict[str, Any]:
    """The published JSON Schema (draft 2020-12) of every view's JSON form.

    Each top-level view is a definition under ``$defs`` (``PlanOverviewSchema``,
    ``NumberViewSchema``, ``CheckoutViewSchema``, ``UsageSummarySchema``), as `view_to_json`
    writes it.
    """
    _, schema = models_json_schema(
        [(model, "serialization") for model in _TOP_LEVEL],
        title="minutebill billing-page views",
        description="The JSON form of minutebill's billing-page views (minutebill.view_schemas).",
    )
    return {"$schema": JSON_SCHEMA_DIALECT, **schema}
