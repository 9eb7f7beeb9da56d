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
from minutebill.views import CheckoutView, OverviewText, PlanOverview, UsageSummary

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
    # Enough for the plan's renewal and the Auto-Pay number's, with their GST.
    billing.top_up(ACCOUNT, Money("12000.00", "INR"), card, idempotency_key=f"run{run}:top-up")
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

    text = overview.format(locale)
    when = text["as_of"]
    out.write(f"minutebill demo — run {run} on {store_name}, account {ACCOUNT} ({when})\n\n")
    _print_overview(text, out)
    checkout = CheckoutView.build(bundle, timezone=TIMEZONE).format(locale)
    out.write("\nCheckout: Nexus add-on (300 minutes)\n")
    rows = [
        ("Amount", checkout["amount"]),
        ("Up front fees", checkout["upfront_fees"]),
        *[(line["name"], line["amount"]) for line in checkout["tax_lines"]],
        ("Total amount", checkout["total"]),
        ("Paid by", f"UPI {upi.vpa}: {bundle.status.value}"),
    ]
    out.writelines(f"  {label:<16} {value}\n" for label, value in rows)
    out.write("\nPhone numbers\n")
    for view in billing.numbers(ACCOUNT):
        paid = view.format(locale, timezone=TIMEZONE)["paid_through"]
        auto = "Auto-Pay on " if view.auto_pay else "Auto-Pay off"
        out.write(f"  {view.number_e164}  {view.status:<9} {auto}  paid through {paid}\n")
    done = {k: due_first[k] + due_second[k] for k in {*due_first.counts, *due_second.counts}}
    out.write("\nDue work this run: ")
    out.write(", ".join(f"{k.replace('_', ' ')} {v}" for k, v in sorted(done.items()) if v))
    out.write("\n\nLast calls (Usage)\n")
    for call in _usage(billing, overview).format(locale)["recent"]:
        out.write(f"  {call['call_id']}  {call['started_at']}  {call['duration']}")
        out.write(f" -> {call['billed']} billed\n")
    return overview


def _usage(billing: Billing, overview: PlanOverview) -> UsageSummary:
    """The *Usage* tab of the current period, with its five latest calls."""
    local = zone(overview.timezone)
    since = overview.period_start.astimezone(local).date()
    until = overview.as_of.astimezone(local).date() + timedelta(days=1)
    history = billing.usage_history(ACCOUNT, limit=5)
    return UsageSummary.build(
        ACCOUNT,
        timezone=overview.timezone,
        since=since,
        until=until,
        by_day=billing.usage_by_day(ACCOUNT, since, until),
        by_tag=billing.usage_by_tag(ACCOUNT, since, until),
        as_of=overview.as_of,
        recent=history.records,
        next_cursor=history.next_cursor,
    )


def _print_overview(text: OverviewText, out: TextIO) -> None:
    rows = [
        ("Current plan", text["plan"]),
        ("Total minutes", text["total_minutes"]),
        ("Remaining", text["remaining_minutes"]),
        ("Usage", text["used_label"]),
        ("Next billing", text["next_billing"]),
        ("Plan expiry", text["plan_expiry"]),
        ("Wallet", text["wallet_balance"]),
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
