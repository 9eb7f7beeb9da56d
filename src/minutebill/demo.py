"""The demo: one account on the *Pro* plan, run end to end on a real store.

``python -m minutebill demo [--db PATH | --postgres DSN]`` subscribes an account, buys two
phone numbers (one with Auto-Pay, one without), tops up the wallet, lets a month and a grace
period pass so renewals run — the number without Auto-Pay goes On Hold and is released —
places a few hundred calls of a campaign, buys a *Nexus* bundle through the fake gateway (its
webhook delivered twice), and prints what the billing page shows.

Time is simulated with a `FixedClock`. Running the demo again on the same store continues the
same account from where the last run stopped: the run number and the clock are kept in the
store's idempotency table, with a mark at each step, so a run that was interrupted is left
behind and the next one starts after the latest instant it reached.
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
    """This run's number and where its clock starts: a day after the last run's latest instant.

    A run that was interrupted (Ctrl-C, a crash) has a start mark but no end mark. Its
    number is not used again (its call ids and keys are taken), and the next run starts a
    day after the latest instant it reached: its last mark or its newest settled call.
    """
    with uow_factory() as uow:
        run, start = 1, FIRST_START
        while True:
            ended = uow.idempotency.get(ACCOUNT, _mark_key(run, "ended"))
            if ended is not None:
                start = _instant(ended) + timedelta(days=1)
            elif uow.idempotency.get(ACCOUNT, _mark_key(run, "started")) is not None:
                start = _interrupted_at(uow, run) + timedelta(days=1)
            else:
                return run, start
            run += 1


_STEPS = ("started", "due", "grace")
"""The marks a run leaves as its clock moves on; ``ended`` last, once it has printed."""


def _mark_key(run: int, step: str) -> str:
    # "demo:run:<n>" is the end mark, as demo files of earlier versions have it.
    return f"demo:run:{run}" if step == "ended" else f"demo:run:{run}:{step}"


def _instant(stored: StoredResponse) -> datetime:
    response = stored.response
    return datetime.fromisoformat(str(response.get("at", response.get("ended_at"))))


def _interrupted_at(uow: UnitOfWork, run: int) -> datetime:
    """The latest instant an interrupted run reached: its marks and its newest call."""
    marks = [uow.idempotency.get(ACCOUNT, _mark_key(run, step)) for step in _STEPS]
    latest = max(_instant(mark) for mark in marks if mark is not None)
    newest = uow.usage.page(ACCOUNT, limit=1).records
    if newest:
        latest = max(latest, newest[0].settled_at)
    return latest


def _mark(uow_factory: Callable[[], UnitOfWork], run: int, step: str, at: datetime) -> None:
    """Record that `run` reached `step` at `at`."""
    with uow_factory() as uow:
        uow.idempotency.put(
            ACCOUNT, _mark_key(run, step), StoredResponse("", {"at": at.isoformat()})
        )
        uow.commit()


def _let_time_pass(
    billing: Billing, clock: FixedClock, numbers: list[str], mark: Callable[[str], None]
) -> dict[str, int]:
    """A month, then the grace period: what the due work did, by action.

    The plan and this run's numbers renew, and the number without Auto-Pay is held and then
    released. From the second run on the numbers were bought in the middle of a plan period,
    so the month ends at the later of the plan's and the numbers' next renewal.
    """
    due = [billing.overview(ACCOUNT).period_end]
    due += [n.paid_through for n in billing.numbers(ACCOUNT) if n.number_e164 in numbers]
    clock.set(max(due) + timedelta(hours=1))
    mark("due")
    first = billing.run_due()
    clock.advance(billing.number_policy.grace_period + timedelta(hours=1))
    mark("grace")
    second = billing.run_due()
    return {k: first[k] + second[k] for k in {*first.counts, *second.counts}}


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
    _mark(uow_factory, run, "started", start)
    clock = FixedClock(start)
    gateway = FakePaymentGateway(secret=b"demo-webhook-secret", clock=clock)
    currency = catalog.plan("pro").price.currency
    # India's GST for the reference (INR) catalog; a catalog in another currency, no tax.
    tax = (
        TaxPolicy.india_gst("0.18", supplier_state="KA", customer_state="KA")
        if currency == "INR"
        else TaxPolicy.none()
    )
    billing = Billing(uow_factory, gateway, catalog, clock, tax=tax)
    rng = random.Random(run)  # noqa: S311 - simulated call lengths, not secrets
    upi, card = Upi("demo@okaxis"), Card("visa", "4242", CardFunding.CREDIT)

    billing.subscribe(ACCOUNT, "pro", timezone=TIMEZONE)
    # Enough for the plan's renewal and the Auto-Pay number's, with their GST.
    top_up = Money(12000, currency).rounded()  # in the catalog's currency
    billing.top_up(ACCOUNT, top_up, card, idempotency_key=f"run{run}:top-up")
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

    done = _let_time_pass(
        billing, clock, numbers, lambda step: _mark(uow_factory, run, step, clock.now())
    )

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
    _mark(uow_factory, run, "ended", clock.now())

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
