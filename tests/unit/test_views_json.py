"""The JSON form of the views and the published JSON Schema (minutebill.view_schemas)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel
from pydantic import ValidationError as PydanticError

from minutebill import BundleLine, Catalog, Money, Order, TaxPolicy
from minutebill.view_schemas import (
    CheckoutTextSchema,
    CheckoutViewSchema,
    NumberTextSchema,
    NumberViewSchema,
    OverviewTextSchema,
    PlanOverviewSchema,
    UsageSummarySchema,
    UsageTextSchema,
    view_to_json,
    views_json_schema,
)
from minutebill.views import (
    CheckoutText,
    CheckoutView,
    NumberText,
    OverviewText,
    UsageSummary,
    UsageText,
)
from tests.unit.test_views import AS_OF, number, overview, usage
from tests.unit.test_views_checkout import CATALOG

GST = TaxPolicy.india_gst("0.18", supplier_state="KA", customer_state="KA")


def checkout() -> CheckoutView:
    bundle = Catalog.from_file(CATALOG).bundle("nexus")
    quote = Order([BundleLine(bundle=bundle)], "INR").quote(
        quote_id="q-1", account_id="acme", at=AS_OF, tax=GST
    )
    return CheckoutView.preview(quote, timezone="Asia/Kolkata")


VIEWS: list[tuple[Any, type[BaseModel]]] = [
    (overview(), PlanOverviewSchema),
    (number(), NumberViewSchema),
    (checkout(), CheckoutViewSchema),
    (usage(), UsageSummarySchema),
]


@pytest.mark.parametrize(("view", "model"), VIEWS, ids=lambda v: type(v).__name__)
@pytest.mark.parametrize("locale", [None, "en_IN", "de_DE"])
def test_every_view_becomes_json_that_its_schema_accepts(
    view: Any, model: type[BaseModel], locale: str | None
) -> None:
    document = view_to_json(view, locale=locale)
    wire = json.loads(json.dumps(document))
    assert wire == document
    again = model.model_validate(wire)
    assert again.model_dump(mode="json") == document
    assert (document["formatted"] is None) == (locale is None)


def test_figures_travel_as_exact_decimal_strings() -> None:
    document = view_to_json(overview(), locale="en_IN")
    assert document["used_percent"] == "26.06"
    assert document["total_minutes"] == "5300.00"
    assert document["wallet_balance"] == {
        "amount": "150000.00",
        "currency": "INR",
        "minor_units": 15000000,
    }
    assert document["next_billing_at"] == "2024-06-01T03:30:00Z"
    assert document["formatted"]["used_label"] == "26.06% Used"


def test_zero_amounts_travel_with_the_currencys_places() -> None:
    document = view_to_json(checkout())
    assert document["upfront_fees"] == {"amount": "0.00", "currency": "INR", "minor_units": 0}
    assert document["lines"][0]["upfront_fee"]["amount"] == "0.00"
    # A wallet saved before zeros were rounded still holds Money("0"): shown as 0.00 too.
    old_wallet = view_to_json(overview(wallet_balance=Money("0", "INR")))
    assert old_wallet["wallet_balance"]["amount"] == "0.00"
    assert view_to_json(overview(wallet_balance=Money("-0.00", "INR")))["wallet_balance"] == {
        "amount": "0.00",
        "currency": "INR",
        "minor_units": 0,
    }


def test_a_number_row_carries_its_release_button_and_sorted_capabilities() -> None:
    document = view_to_json(number(), locale="en_IN", timezone="Asia/Kolkata")
    assert document["capabilities"] == ["sms", "voice"]
    assert document["can_release"] is True
    assert document["formatted"]["paid_through"] == "10 Jun 2024"


def test_the_checkout_json_keeps_its_tax_lines_and_rows() -> None:
    document = view_to_json(checkout(), locale="en_IN")
    assert [t["name"] for t in document["tax_lines"]] == ["CGST", "SGST"]
    assert document["total"]["minor_units"] == 52982
    assert document["formatted"]["rows"][-1] == ["Total Amount", "₹529.82"]
    assert document["payment_modes"] == ["upi", "card"]


def test_usage_json_has_days_tags_calls_and_totals() -> None:
    document = view_to_json(usage(), locale="en_IN")
    assert document["days"][0] == {
        "day": "2024-05-01",
        "calls": 1,
        "billable_seconds": 300,
        "overage_seconds": 0,
    }
    assert document["calls"] == 3
    assert document["recent"][0]["duration_seconds"] == 248
    assert document["next_cursor"] == "cursor-1"


@pytest.mark.parametrize(
    ("text", "model"),
    [
        (OverviewText, OverviewTextSchema),
        (NumberText, NumberTextSchema),
        (CheckoutText, CheckoutTextSchema),
        (UsageText, UsageTextSchema),
    ],
    ids=lambda t: t.__name__,
)
def test_the_json_text_models_match_the_views_text(text: type, model: type[BaseModel]) -> None:
    assert set(model.model_fields) == set(text.__annotations__)


def test_the_schemas_refuse_floats_for_figures_and_unknown_fields() -> None:
    document = view_to_json(overview())
    with pytest.raises(PydanticError):
        PlanOverviewSchema.model_validate({**document, "used_percent": 26.06})
    with pytest.raises(PydanticError):
        PlanOverviewSchema.model_validate({**document, "surprise": 1})
    with pytest.raises(PydanticError):
        PlanOverviewSchema.model_validate({**document, "as_of": "2024-05-28T06:30:00"})  # naive


def test_the_published_schema_describes_every_view() -> None:
    schema = views_json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    defs = schema["$defs"]
    for name in ("PlanOverviewSchema", "NumberViewSchema", "CheckoutViewSchema"):
        assert name in defs
    assert "UsageSummarySchema" in defs
    overview_def = defs["PlanOverviewSchema"]
    assert "used_percent" in overview_def["required"]
    assert overview_def["properties"]["used_percent"]["pattern"] == r"^-?[0-9]+(\.[0-9]+)?$"
    assert overview_def["additionalProperties"] is False
    assert json.loads(json.dumps(schema)) == schema


def test_an_empty_usage_summary_is_valid_json_too() -> None:
    empty = UsageSummary.build(
        "acme",
        timezone="UTC",
        since=date(2024, 5, 1),
        until=date(2024, 5, 1),
        by_day=[],
        by_tag={},
        as_of=datetime(2024, 5, 1, tzinfo=UTC),
    )
    document = view_to_json(empty, locale="en_IN")
    assert (document["days"], document["tags"], document["recent"]) == ([], [], [])
    assert document["formatted"]["range"] == "1 May 2024 – 1 May 2024"


def test_minutes_with_hundredths_stay_exact() -> None:
    view = overview(used_minutes=Decimal("1380.50"), remaining_minutes=Decimal("3919.50"))
    assert view_to_json(view)["used_minutes"] == "1380.50"
