"""Every example runs: the quickstart, the custom gateway (and its contract), the billing page."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from minutebill.adapters.sqlite import SqliteStore
from minutebill.catalog import Catalog
from minutebill.demo import default_catalog_path, run_demo
from minutebill.domain.number_status import NumberStatus
from minutebill.service import Billing
from minutebill.testing.contracts import GatewayHarness, PaymentGatewayContract
from minutebill.testing.fakes import FixedClock
from minutebill.view_schemas import PlanOverviewSchema, UsageSummarySchema, views_json_schema
from tests.examples import EXAMPLES, ROOT, billing_page, load_example

ACCOUNT = "demo-account"
TIMEOUT = 120

# What each script in examples/ prints; a new script needs its line here.
EXPECTED_OUTPUT = {
    "quickstart.py": ["Pro: 3,680 of 5,000 minutes left", "26.40% Used · renews in 31 days"],
    "custom_gateway.py": ["Nexus through PayLite: succeeded; 5,300 minutes now"],
}


@pytest.mark.parametrize("script", sorted(EXAMPLES.glob("*.py")), ids=lambda p: p.name)
def test_every_example_script_runs(script: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert script.name in EXPECTED_OUTPUT, f"say what {script.name} prints in EXPECTED_OUTPUT"
    for line in EXPECTED_OUTPUT[script.name]:
        assert line in result.stdout


# --- the custom gateway passes the contract suite --------------------------------------------

PAYLITE = load_example(EXAMPLES / "custom_gateway.py")


class TestPayLiteGateway(PaymentGatewayContract):
    """`examples/custom_gateway.py` keeps every promise of the `PaymentGateway` port."""

    unsupported_outcomes = PAYLITE.PayLiteDriver.UNSUPPORTED

    @pytest.fixture
    def harness(self) -> GatewayHarness:
        clock = FixedClock(datetime(2025, 5, 1, 9, 0, tzinfo=UTC))
        sandbox = PAYLITE.PayLiteSandbox(webhook_secret=b"whsec_contract", clock=clock)
        return GatewayHarness(
            gateway=PAYLITE.PayLiteGateway(sandbox, webhook_secret=b"whsec_contract"),
            driver=PAYLITE.PayLiteDriver(sandbox),
        )


# --- the billing page ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def serve() -> ModuleType:
    return billing_page()


@pytest.fixture(scope="module")
def shown(serve: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A demo app that tests only read from."""
    return serve.build_app(tmp_path_factory.mktemp("page") / "demo.db")


@pytest.fixture
def app(serve: ModuleType, tmp_path: Path) -> Any:
    """A demo app of its own, for tests that press buttons."""
    return serve.build_app(tmp_path / "demo.db")


class Page(HTMLParser):
    """The page's text, its forms, and a check that every element that opens also closes."""

    VOID = frozenset({"meta", "input", "br", "link", "img", "hr", "circle"})

    def __init__(self, markup: str) -> None:
        super().__init__()
        self.open: list[str] = []
        self.text: list[str] = []
        self.forms: list[str] = []
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "form":
            self.forms.append(dict(attrs).get("action") or "")
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Self-closing SVG elements open and close at once."""

    def handle_endtag(self, tag: str) -> None:
        assert self.open, f"</{tag}> closes nothing"
        assert self.open.pop() == tag, f"</{tag}> closes the wrong element"

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.text.append(" ".join(data.split()))

    @property
    def words(self) -> str:
        return " | ".join(self.text)


def test_the_page_shows_the_plan_overview_and_its_chart(shown: Any) -> None:
    overview = shown.billing.overview(ACCOUNT)
    text = overview.format("en_IN")
    assert text["used_label"] == "26.06% Used"
    markup = shown.render()
    page = Page(markup)
    assert page.open == []
    for label, value in [
        ("Current Plan", "Pro"),
        ("Total Minutes", "5,300"),
        ("Remaining Minutes", "3,919"),
        ("Next Billing", text["next_billing"]),
        ("Plan Expiry", text["plan_expiry"]),
        ("Wallet", "₹9,971.18"),  # ₹20,000 less the Pro plan and a number renewed with 18% GST
    ]:
        assert f"{label} | {value}" in page.words
    assert "26.06% Used" in page.words
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in markup
    assert ">Minutes used: 26.06%</title>" in markup


def test_the_page_offers_bundles_with_their_checkout_breakdown(shown: Any) -> None:
    words = Page(shown.render()).words
    for name, minutes, total in [
        ("Nexus", "300", "₹529.82"),
        ("Pro", "150", "₹282.02"),
        ("Elite", "100", "₹199.42"),
    ]:
        assert f"{name} | {minutes} minutes" in words
        assert f"Total Amount | {total}" in words
    assert "Amount | ₹449.00 | Up Front Fees | ₹0.00 | CGST 9% | ₹40.41 | SGST 9% | ₹40.41" in words
    assert "UPI" in words
    assert "Credit or debit card" in words
    assert "✓ Includes SMS, Voice capabilities" in words  # the new-number checkout


def test_the_page_lists_numbers_with_status_auto_pay_and_release(shown: Any) -> None:
    page = Page(shown.render())
    assert "+912240005678 | India · Local · SMS, Voice | On Hold" in page.words
    assert "Auto-Pay off; released in 4 days" in page.words
    assert "+918040001234 | India · Local · SMS, Voice | Active" in page.words
    assert "/numbers/+912240005678/release" in page.forms
    assert "/numbers/+918040001234/auto-pay" in page.forms
    assert "Auto-Pay: Active" in page.words
    assert "Auto-Pay: Off" in page.words


def test_the_usage_tab_has_days_campaigns_and_calls(shown: Any) -> None:
    words = Page(shown.render()).words
    assert "10 May 2025 – 15 May 2025: 93 calls, 1,381 mins billed, 0 mins overage." in words
    for campaign in ("summer-sale", "payment-reminders", "feedback-survey"):
        assert f"{campaign} | 31 |" in words
    assert "m2b-032 | 15 May 2025" in words


def test_the_page_speaks_the_requested_locale(shown: Any) -> None:
    assert "26,06 % Used" in Page(shown.render("de_DE")).words
    assert "26.06% Used" in Page(shown.render("xx_NOPE")).words  # unknown: the default


def test_recent_purchases_show_what_the_demo_bought(shown: Any) -> None:
    words = Page(shown.render()).words
    assert "Recent Purchases" in words
    assert "Nexus add-on, 300 min | Amount | ₹449.00" in words
    assert "Payment: Paid" in words


def test_release_stops_a_number(app: Any) -> None:
    response = app.handle("POST", "/numbers/+918040001234/release")
    assert (response.status, response.location) == (303, "/#numbers")
    (released,) = [n for n in app.billing.numbers(ACCOUNT) if n.number_e164 == "+918040001234"]
    assert released.status == "released"
    page = Page(app.render())
    assert "+918040001234 released" in page.words
    assert "/numbers/+918040001234/release" not in page.forms


def test_turning_auto_pay_on_pays_a_held_number_from_the_wallet(app: Any) -> None:
    wallet = app.billing.overview(ACCOUNT).wallet_balance
    app.handle("POST", "/numbers/+912240005678/auto-pay", {"on": "1"})
    (number,) = [n for n in app.billing.numbers(ACCOUNT) if n.number_e164 == "+912240005678"]
    assert (number.status, number.auto_pay) == ("active", True)
    assert app.billing.overview(ACCOUNT).wallet_balance < wallet


def test_buying_a_bundle_twice_with_one_form_charges_once(app: Any) -> None:
    form = {"mode": "card", "key": "form-1"}
    first = app.handle("POST", "/bundles/elite/buy", form)
    again = app.handle("POST", "/bundles/elite/buy", form)
    assert first.status == again.status == 303
    overview = app.billing.overview(ACCOUNT)
    assert overview.total_minutes == 5400
    assert len(app.purchases) == 5
    assert "Elite add-on, 100 min: succeeded" in Page(app.render()).words


def test_a_refused_action_is_shown_not_raised(app: Any) -> None:
    app.handle("POST", "/numbers/+918040001234/release")
    app.handle("POST", "/numbers/+918040001234/release")
    words = Page(app.render()).words
    assert "Not done:" in words
    assert "Not done:" not in Page(app.render()).words  # shown once


def test_the_json_endpoints_follow_the_published_schema(shown: Any) -> None:
    response = shown.handle("GET", "/api/billing.json?locale=en_IN")
    assert response.status == 200
    document = json.loads(response.body)
    overview = PlanOverviewSchema.model_validate(document["overview"])
    assert overview.formatted is not None
    assert overview.formatted.used_label == "26.06% Used"
    UsageSummarySchema.model_validate(document["usage"])
    schema = shown.handle("GET", "/api/schema.json")
    assert json.loads(schema.body) == views_json_schema()
    assert shown.handle("GET", "/nowhere").status == 404
    assert shown.handle("PUT", "/").status == 405


def test_the_demo_is_built_once_per_database(serve: ModuleType, tmp_path: Path) -> None:
    first = serve.build_app(tmp_path / "demo.db")
    first.handle("POST", "/numbers/+918040001234/release")
    second = serve.build_app(tmp_path / "demo.db")
    assert second.purchases == []
    assert second.clock.now() == first.clock.now()
    assert second.billing.overview(ACCOUNT) == first.billing.overview(ACCOUNT)
    statuses = {n.number_e164: n.status for n in second.billing.numbers(ACCOUNT)}
    assert statuses["+918040001234"] == "released"


def test_the_page_shows_an_account_made_by_the_demo_command(
    serve: ModuleType, tmp_path: Path
) -> None:
    db = tmp_path / "cli.sqlite3"
    subprocess.run(
        [sys.executable, "-m", "minutebill", "demo", "--db", str(db), "--calls", "40"],
        cwd=ROOT,
        capture_output=True,
        check=True,
        timeout=TIMEOUT,
    )
    app = serve.build_app(db)
    label = app.billing.overview(ACCOUNT).format("en_IN")["used_label"]
    assert label in Page(app.render()).words
    assert app.purchases == []


@pytest.fixture
def server(app: Any, serve: ModuleType) -> Iterator[str]:
    httpd = serve.make_server(app, "127.0.0.1", 0, quiet=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


def test_the_forms_work_over_http(server: str) -> None:
    body = urllib.parse.urlencode({"on": "0"}).encode()
    target = server + "numbers/%2B918040001234/auto-pay"
    with urllib.request.urlopen(target, data=body, timeout=30) as response:  # noqa: S310
        page = response.read().decode()  # the 303 is followed back to the page
    assert "Auto-Pay off for +918040001234" in Page(page).words
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(server + "missing", timeout=30)  # noqa: S310
    missing.value.close()
    assert missing.value.code == 404


def test_serve_prints_its_url_and_serves_the_page(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            str(EXAMPLES / "billing_page" / "serve.py"),
            "--port",
            "0",
            "--db",
            str(tmp_path / "served.db"),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    watchdog = threading.Timer(TIMEOUT, process.kill)
    watchdog.start()
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("Billing page of demo-account: http://127.0.0.1:")
        url = line.split(": ", 1)[1].strip()
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310
            assert "26.06% Used" in response.read().decode()
    finally:
        watchdog.cancel()
        process.terminate()
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()


def test_the_demo_renews_the_auto_pay_number_and_releases_the_other(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "demo.sqlite3")
    catalog = Catalog.from_file(default_catalog_path())
    out = io.StringIO()
    try:
        for _ in range(2):  # a second run continues the account with numbers of its own
            run_demo(store.unit_of_work, catalog, out, store_name="SQLite", calls=20)
        with store.unit_of_work(read_only=True) as uow:
            numbers = {n.number_e164: n for n in uow.numbers.for_account(ACCOUNT)}
    finally:
        store.close()
    renewed, dropped = numbers["+918040000011"], numbers["+918040000012"]
    assert (renewed.status, renewed.auto_pay, renewed.paid_periods) == (
        NumberStatus.ACTIVE,
        True,
        3,  # bought, then renewed from the wallet in each run
    )
    assert (dropped.status, dropped.auto_pay) == (NumberStatus.RELEASED, False)
    first_run = out.getvalue().split("Due work this run:")[1].splitlines()[0]
    assert "numbers renewed 1" in first_run
    assert "numbers released 1" in first_run


def due_work_lines(text: str) -> list[str]:
    return [part.splitlines()[0] for part in text.split("Due work this run:")[1:]]


def test_every_run_of_the_demo_holds_and_releases_a_number_of_its_own(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "demo.sqlite3")
    catalog = Catalog.from_file(default_catalog_path())
    out = io.StringIO()
    try:
        for _ in range(3):
            run_demo(store.unit_of_work, catalog, out, store_name="SQLite", calls=10)
    finally:
        store.close()
    lines = due_work_lines(out.getvalue())
    assert len(lines) == 3
    for line in lines:
        assert "numbers put on hold 1" in line
        assert "numbers released 1" in line


class Interrupted(BaseException):
    """Stands for Ctrl-C in the middle of a run."""


def test_a_demo_run_interrupted_halfway_is_left_behind_and_the_next_one_continues(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SqliteStore(tmp_path / "demo.sqlite3")
    catalog = Catalog.from_file(default_catalog_path())
    ended: list[str] = []
    original = Billing.end_call

    def end_call(self: Billing, *args: Any, **kwargs: Any) -> Any:
        if len(ended) == 5:
            raise Interrupted
        ended.append(args[1])
        return original(self, *args, **kwargs)

    try:
        monkeypatch.setattr(Billing, "end_call", end_call)
        with pytest.raises(Interrupted):
            run_demo(store.unit_of_work, catalog, io.StringIO(), store_name="SQLite", calls=20)
        monkeypatch.undo()
        out = io.StringIO()
        for _ in range(2):
            run_demo(store.unit_of_work, catalog, out, store_name="SQLite", calls=10)
    finally:
        store.close()
    text = out.getvalue()
    assert "run 2 on SQLite" in text
    assert "run 3 on SQLite" in text
    assert all("numbers released 1" in line for line in due_work_lines(text))


def test_the_demo_runs_on_a_catalog_in_another_currency(tmp_path: Path) -> None:
    text = default_catalog_path().read_text(encoding="utf-8")
    assert text.count('currency = "INR"') == 1
    usd = tmp_path / "usd.toml"
    usd.write_text(text.replace('currency = "INR"', 'currency = "USD"'), encoding="utf-8")
    store = SqliteStore(tmp_path / "demo.sqlite3")
    out = io.StringIO()
    try:
        overview = run_demo(
            store.unit_of_work, Catalog.from_file(usd), out, store_name="SQLite", calls=10
        )
    finally:
        store.close()
    assert overview.wallet_balance.currency == "USD"
    assert "$" in out.getvalue()
    assert "numbers released 1" in due_work_lines(out.getvalue())[0]
