"""Quickstart: from nothing to a plan overview, in memory, with no setup.

Run it from the repository root: ``python examples/quickstart.py``.
"""

from datetime import UTC, datetime, timedelta

from minutebill import Billing, Catalog, MemoryStore
from minutebill.testing.fakes import FakePaymentGateway, FixedClock

clock = FixedClock(datetime(2025, 5, 1, 9, 0, tzinfo=UTC))
billing = Billing(
    MemoryStore().unit_of_work,
    FakePaymentGateway(secret=b"whsec_demo", clock=clock),
    Catalog.from_file("examples/catalog.toml"),
    clock,
)
billing.subscribe("acme", "pro", timezone="Asia/Kolkata")
for n in range(60):  # a campaign of calls, each held when it starts and billed when it ends
    billing.start_call("acme", f"call-{n}")
    billing.end_call("acme", f"call-{n}", timedelta(minutes=21, seconds=43), tags=["launch"])
page = billing.overview("acme").format("en_IN")
print(f"{page['plan']}: {page['remaining_minutes']} of {page['total_minutes']} minutes left")
print(f"{page['used_label']} · {page['renewal_note']} ({page['next_billing']})")
