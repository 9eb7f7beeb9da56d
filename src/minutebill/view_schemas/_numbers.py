"""The JSON form of a row of the phone-numbers table."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime

from minutebill.schemas import MoneySchema
from minutebill.view_schemas._base import CapabilityName, ViewModel, money_schema
from minutebill.views import NumberView

__all__ = ["NumberTextSchema", "NumberViewSchema"]


class NumberTextSchema(ViewModel):
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


class NumberViewSchema(ViewModel):
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
    next_action_url: str | None = None
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
            recurring_fee=money_schema(view.recurring_fee),
            interval_months=view.interval_months,
            paid_through=view.paid_through,
            hold_reason=view.hold_reason,
            release_after=view.release_after,
            can_release=view.can_release,
            as_of=view.as_of,
            next_action_url=view.next_action_url,
            formatted=None
            if locale is None
            else NumberTextSchema(**view.format(locale, timezone=timezone)),
        )
