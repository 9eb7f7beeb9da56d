"""One entry point for every view: its JSON document, and the published JSON Schema."""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import models_json_schema

from minutebill.view_schemas._base import ViewModel
from minutebill.view_schemas._checkout import CheckoutViewSchema
from minutebill.view_schemas._numbers import NumberViewSchema
from minutebill.view_schemas._overview import PlanOverviewSchema
from minutebill.view_schemas._usage import UsageSummarySchema
from minutebill.views import CheckoutView, NumberView, PlanOverview, UsageSummary

__all__ = ["JSON_SCHEMA_DIALECT", "View", "view_to_json", "views_json_schema"]

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

View = PlanOverview | NumberView | CheckoutView | UsageSummary

_TOP_LEVEL: tuple[type[ViewModel], ...] = (
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
    model: ViewModel
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
