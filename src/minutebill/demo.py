"""The demo: one account on the *Pro* plan, run end to end on a real store.

``python -m minutebill demo [--db PATH | --postgres DSN]`` subscribes an account, buys two
phone numbers (one with Auto-Pay, one without), tops up the wallet, lets a month and a grace
period pass so renewals run — the number without Auto-Pay goes On Hold and is released —
places a few hundred calls of a campaign, buys a *Nexus* bundle through the fake gateway (its
webhook delivered twice), and prints what the billing page shows.

Time is simulated with a `FixedClock`. Running the demo again on the same store continues the
same account from where the last run stopped: the run number and the clock are kept in the
store's idempotency table.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal

from minutebill._formatting import format_money
from minutebill._unit_of_work import StoredResponse, UnitOfWork
from minutebill.catalog import Catalog
from minutebill.domain.admission import Admitted
from minutebill.domain.money import Money
from minutebill.domain.payment_methods import Card, CardFunding, Upi
from minutebill.domain.periods import zone
from minutebill.domain.tax import TaxPolicy
from minutebill.errors import LimitExceeded
from minutebill.service import Billing
from minutebill.testing.fakes import FakePaymentGateway, FixedClock
from minutebill.views import PlanOverview

__all__ = ["ACCOUNT", "run_demo"]

ACCOUNT = "demo-account"
TIMEZONE = "Asia/Kolkata"
FIRST_START = datetime(2026, 11, 1, 3, 30, tzinfo=UTC)  # 09:00 in Kolkata
CAMPAIGN = "campaign:diwali-outreach"


def _run_number(uow_factory: Callable[[], UnitOfWork]) -> tuple[int, datetime]:
    """This run's number and where its clock starts (a day after the last run ended)."""
    with uow_factory() as uow:
        run, start = 1, FIRST_START
        while (stored := uow.idempotency.get(ACCOUNT, f"demo:run:{run}")) is not None:
            start = datetime.fromisoformat(stored.response["ended_at"]) + timedelta(days=1)
            run += 1
    return run, start


def _remember_run(uow_factory: Callable[[], UnitOfWork], run: int, ended_at: datetime) -> None:
    with uow_factory() as uow:
        uow.idempotency.put(
            ACCOUNT, f"demo:run:{run}", StoredResponse("", {"ended_at": ended_at.isoformat()})
        )
        uow.commit()


def _deliver_webhooks(billing: Billing, gateway: FakePaymentGateway) -> int:
    """Deliver every due webhook twice (gateways do), returning how many were new."""
    hooks = gateway.take_webhooks()
    for hook in hooks + hooks:
        billing.handle_gateway_event(hook.body, hook.headers)
    return len(hooks)


def run_demo(
    uow_factory: Callable[[], UnitOfWork],
    catalog: Catalog,
    out: TextIO,
    *,
    store_name: str,
    locale: str = "en_IN",
    calls: int = 300,
) -> PlanOverview:
    """Run the demo on the store behind `uow_factory`, printing the billing page to `out`.

    Returns:
        The overview printed last.
    """
    run, start = _run_number(uow_factory)
    clock = FixedClock(start)
    gateway = FakePaymentGateway(secret=b"demo-webhook-secret", clock=clock)
    tax = TaxPolicy.india_gst("0.18", supplier_state="KA", customer_state="KA")
    billing = Billing(uow_factory, gateway, catalog, clock, tax=tax)
    rng = random.Random(run)  # noqa: S311 - simulated call lengths, not secrets
    upi, card = Upi("demo@okaxis"), Card("visa", "4242", CardFunding.CREDIT)

    billing.subscribe(ACCOUNT, "pro", timezone=TIMEZONE)
    billing.top_up(ACCOUNT, Money("10000.00", "INR"), card, idempotency_key=f"run{run}:top-up")
    numbers = [f"+9180400{run:04d}{n}" for n in (1, 2)]
    for number, auto_pay in zip(numbers, (True, False), strict=True):
        try:
            billing.acquire_number(
                ACCOUNT,
                "in-local",
                number,
                upi,
                auto_pay=auto_pay,
                idempotency_key=f"run{run}:number:{number}",
            )
        except LimitExceeded as exc:
            out.write(f"(skipped buying {number}: {exc})\n")
    _deliver_webhooks(billing, gateway)

    # A month passes: the plan and the numbers renew; the number without Auto-Pay is held.
    clock.set(billing.overview(ACCOUNT).period_end + timedelta(hours=1))
    due_first = billing.run_due()
    # The grace period passes: the held number goes back to the provider.
    clock.advance(billing.number_policy.grace_period + timedelta(hours=1))
    due_second = billing.run_due()

    for n in range(calls):
        call_id = f"run{run}-call{n:04d}"
        decision = billing.start_call(ACCOUNT, call_id, max_seconds=600)
        seconds = rng.randint(15, 240)
        clock.advance(timedelta(seconds=seconds + rng.randint(5, 60)))
        if isinstance(decision, Admitted):
            billing.end_call(ACCOUNT, call_id, timedelta(seconds=seconds), tags=[CAMPAIGN])

    bundle = billing.checkout_bundle(ACCOUNT, "nexus", upi, idempotency_key=f"run{run}:nexus")
    _deliver_webhooks(billing, gateway)
    overview = billing.overview(ACCOUNT)
    _remember_run(uow_factory, run, clock.now())

    tz = zone(TIMEZONE)
    when = format_datetime(clock.now().astimezone(tz), "d MMM y, HH:mm", locale=locale)
    out.write(f"minutebill demo — run {run} on {store_name}, account {ACCOUNT} ({when})\n\n")
    _print_overview(overview, locale, out)
    breakdown = bundle.quote.breakdown
    out.write("\nCheckout: Nexus add-on (300 minutes)\n")
    rows = [
        ("Amount", format_money(breakdown.amount, locale)),
        ("Up front fees", format_money(breakdown.upfront_fees, locale)),
        *[(line.name, format_money(line.amount, locale)) for line in breakdown.tax_lines],
        ("Total amount", format_money(breakdown.total, locale)),
        ("Paid by", f"UPI {upi.vpa}: {bundle.status.value}"),
    ]
    out.writelines(f"  {label:<16} {value}\n" for label, value in rows)
    out.write("\nPhone numbers\n")
    for view in billing.numbers(ACCOUNT):
        paid = format_date(view.paid_through.astimezone(tz), "d MMM y", locale=locale)
        auto = "Auto-Pay on " if view.auto_pay else "Auto-Pay off"
        out.write(f"  {view.number_e164}  {view.status:<9} {auto}  paid through {paid}\n")
    done = {k: due_first[k] + due_second[k] for k in {*due_first.counts, *due_second.counts}}
    out.write("\nDue work this run: ")
    out.write(", ".join(f"{k.replace('_', ' ')} {v}" for k, v in sorted(done.items()) if v))
    out.write("\n\nLast calls (Usage)\n")
    for record in billing.usage_history(ACCOUNT, limit=5).records:
        at = format_datetime(record.settled_at.astimezone(tz), "d MMM, HH:mm", locale=locale)
        out.write(
            f"  {record.call_id}  {at}  {int(record.duration.total_seconds())} s"
            f" -> {record.billable_seconds} s billed\n"
        )
    return overview


def _print_overview(overview: PlanOverview, locale: str, out: TextIO) -> None:
    tz = zone(overview.timezone)

    def day(at: datetime | None) -> str:
        return "—" if at is None else format_date(at.astimezone(tz), "d MMM y", locale=locale)

    rows = [
        ("Current plan", overview.plan_name),
        ("Total minutes", format_decimal(overview.total_minutes, locale=locale)),
        ("Remaining", format_decimal(overview.remaining_minutes, locale=locale)),
        ("Usage", f"{overview.used_percent}% Used"),
        ("Next billing", day(overview.next_billing_at)),
        ("Plan expiry", day(overview.expires_at)),
        ("Wallet", format_money(overview.wallet_balance, locale)),
    ]
    out.write("Plan overview\n")
    out.writelines(f"  {label:<16} {value}\n" for label, value in rows)


def default_catalog_path() -> Path:
    """The example catalog, found from the working directory or the source checkout."""
    for base in (Path.cwd(), Path(__file__).resolve().parents[2]):
        candidate = base / "examples" / "catalog.toml"
        if candidate.exists():
            return candidate
    return Path("examples/catalog.toml")
