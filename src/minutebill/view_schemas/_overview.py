"""The plan overview's JSON form."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime

from minutebill.schemas import MoneySchema
from minutebill.view_schemas._base import DecimalText, ViewModel, money_schema
from minutebill.views import PlanOverview

__all__ = ["OverviewTextSchema", "PlanOverviewSchema"]


class OverviewTextSchema(ViewModel):
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


class PlanOverviewSchema(ViewModel):
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
            wallet_balance=money_schema(view.wallet_balance),
            concurrent_calls=view.concurrent_calls,
            phone_numbers=view.phone_numbers,
            queue_priority=view.queue_priority,
            as_of=view.as_of,
            formatted=None if locale is None else OverviewTextSchema(**view.format(locale)),
        )
