"""Plain-data views of an account for a billing page, formatted with Babel on request.

Views are built by `Billing` (or from its results) at one instant and never change afterwards.
Each has ``format(locale)``, which returns the strings a page shows: money as ``₹1,50,000.00``
in ``en_IN``, the used share as ``26.06%``, dates in the account's time zone and relative times
("renews in 3 days") measured from the view's ``as_of`` — never from the clock, so a view
formats the same way whenever it is rendered. The locale is always an argument; nothing here
reads a process-wide locale. `usage_chart_svg` draws the used share as an accessible donut.

The JSON form of every view, and its published JSON Schema, live in `minutebill.view_schemas`.
"""

from __future__ import annotations

from minutebill._formatting import format_money
from minutebill.views._chart import usage_chart_svg
from minutebill.views._checkout import (
    PAYMENT_MODES,
    CheckoutLine,
    CheckoutOutcome,
    CheckoutText,
    CheckoutView,
    TaxLineText,
)
from minutebill.views._numbers import NumberText, NumberView
from minutebill.views._overview import OverviewText, PlanOverview
from minutebill.views._usage import (
    CallText,
    CallUsage,
    DailyUsage,
    DayText,
    TagText,
    TagUsage,
    UsageSummary,
    UsageText,
)

__all__ = [
    "PAYMENT_MODES",
    "CallText",
    "CallUsage",
    "CheckoutLine",
    "CheckoutOutcome",
    "CheckoutText",
    "CheckoutView",
    "DailyUsage",
    "DayText",
    "NumberText",
    "NumberView",
    "OverviewText",
    "PlanOverview",
    "TagText",
    "TagUsage",
    "TaxLineText",
    "UsageSummary",
    "UsageText",
    "format_money",
    "usage_chart_svg",
]
