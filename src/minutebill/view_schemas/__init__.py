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

from minutebill.view_schemas._base import CapabilityName as CapabilityName
from minutebill.view_schemas._base import DecimalText as DecimalText
from minutebill.view_schemas._checkout import (
    CheckoutLineSchema,
    CheckoutTextSchema,
    CheckoutViewSchema,
    TaxLineTextSchema,
)
from minutebill.view_schemas._json import JSON_SCHEMA_DIALECT as JSON_SCHEMA_DIALECT
from minutebill.view_schemas._json import View as View
from minutebill.view_schemas._json import view_to_json, views_json_schema
from minutebill.view_schemas._numbers import NumberTextSchema, NumberViewSchema
from minutebill.view_schemas._overview import OverviewTextSchema, PlanOverviewSchema
from minutebill.view_schemas._usage import (
    CallTextSchema,
    CallUsageSchema,
    DailyUsageSchema,
    DayTextSchema,
    TagTextSchema,
    TagUsageSchema,
    UsageSummarySchema,
    UsageTextSchema,
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
