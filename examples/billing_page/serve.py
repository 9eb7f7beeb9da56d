"""Serve the demo account's billing page with nothing but the standard library.

    python examples/billing_page/serve.py [--port 8000] [--db PATH] [--locale en_IN]

It opens (or creates) a SQLite database — ``--db PATH``, or a fresh one in a temporary
directory — and, unless the demo account is already there (``python -m minutebill demo --db
PATH`` makes one too), builds it by calling minutebill's service with the fake payment gateway
and a simulated clock. Then it prints the page's URL and serves, from minutebill's views:
the plan overview with its usage chart, add-on bundles with their checkout breakdown, phone
numbers with their status, Auto-Pay and Release, and the usage history. The buttons work:
they call the service and the page shows the result. ``--port 0`` picks a free port.

Tests import `build_app` and `render_page` to render the page without a socket.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import tempfile
import threading
from datetime import datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from attrs import frozen
from babel import Locale, UnknownLocaleError
from billing_demo import ACCOUNT, CARD, SIGNED_UP, UPI, build_demo
from billing_html import BundleOffer, PageData
from billing_html import render_page as render_html

from minutebill import (
    AddOnBundle,
    Billing,
    BundleLine,
    Capability,
    Catalog,
    CheckoutResult,
    MinutebillError,
    NotFound,
    NumberLine,
    Order,
    SqliteStore,
    TaxPolicy,
    ValidityKind,
)
from minutebill.domain.periods import zone
from minutebill.testing.fakes import FakePaymentGateway, FixedClock
from minutebill.view_schemas import view_to_json, views_json_schema
from minutebill.views import CheckoutView, UsageSummary

HERE = Path(__file__).resolve().parent
CATALOG = HERE.parent / "catalog.toml"
DEFAULT_LOCALE = "en_IN"
GST = TaxPolicy.india_gst("0.18", supplier_state="KA", customer_state="KA")


@frozen
class Response:
    """What the app answers: a status, a content type and a body (or a redirect)."""

    status: int
    content_type: str = "text/html; charset=utf-8"
    body: bytes = b""
    location: str | None = None


class BillingPageApp:
    """The billing page of one account: reads views from `Billing`, renders them, handles forms."""

    def __init__(
        self,
        billing: Billing,
        clock: FixedClock,
        *,
        account: str = ACCOUNT,
        locale: str = DEFAULT_LOCALE,
        purchases: list[CheckoutResult] | None = None,
    ) -> None:
        self.billing = billing
        self.clock = clock
        self.account = account
        self.locale = locale
        self.purchases = list(purchases or [])
        self.notice: str | None = None
        self._lock = threading.Lock()

    # --- reading -----------------------------------------------------------------------------

    def page_data(self) -> PageData:
        """Every view the page shows, read from the service now."""
        billing, account = self.billing, self.account
        overview = billing.overview(account)
        tz = overview.timezone
        local = zone(tz)
        since = overview.period_start.astimezone(local).date()
        until = overview.as_of.astimezone(local).date() + timedelta(days=1)
        history = billing.usage_history(account, limit=8)
        usage = UsageSummary.build(
            account,
            timezone=tz,
            since=since,
            until=until,
            by_day=billing.usage_by_day(account, since, until),
            by_tag=billing.usage_by_tag(account, since, until),
            as_of=overview.as_of,
            recent=history.records,
            next_cursor=history.next_cursor,
        )
        now = self.clock.now()
        currency = overview.wallet_balance.currency
        bundles = [
            BundleOffer(
                code=b.code,
                name=b.name,
                minutes=b.minutes,
                validity=_validity(b),
                checkout=CheckoutView.preview(
                    Order([BundleLine(bundle=b)], currency).quote(
                        quote_id=f"preview-{b.code}", account_id=account, at=now, tax=billing.tax
                    ),
                    timezone=tz,
                ),
            )
            for b in billing.catalog.bundles
            if b.price.currency == currency
        ]
        number_checkout = None
        offers = [o for o in billing.catalog.number_offers if o.monthly_fee.currency == currency]
        if offers:
            order = Order(
                [NumberLine(offer=offers[0], number_e164="+910000000000")],
                currency,
                frozenset({Capability.VOICE, Capability.SMS}) & offers[0].capabilities,
            )
            quote = order.quote(
                quote_id="preview-number", account_id=account, at=now, tax=billing.tax
            )
            number_checkout = CheckoutView.preview(quote, timezone=tz)
        return PageData(
            overview=overview,
            numbers=billing.numbers(account),
            usage=usage,
            bundles=bundles,
            number_checkout=number_checkout,
            purchases=[CheckoutView.build(p, timezone=tz) for p in reversed(self.purchases)][:4],
            form_key=secrets.token_urlsafe(12),
            notice=self.notice,
        )

    def render(self, locale: str | None = None) -> str:
        """The page as HTML in `locale` (the app's default if None or unknown).

        A notice about the last button pressed is shown once.
        """
        page = render_html(self.page_data(), self._locale(locale))
        self.notice = None
        return page

    def api(self, locale: str | None = None) -> dict[str, object]:
        """The page's views as JSON documents (see `minutebill.view_schemas`)."""
        data, loc = self.page_data(), self._locale(locale)
        tz = data.overview.timezone
        return {
            "overview": view_to_json(data.overview, locale=loc),
            "numbers": [view_to_json(n, locale=loc, timezone=tz) for n in data.numbers],
            "usage": view_to_json(data.usage, locale=loc),
            "purchases": [view_to_json(p, locale=loc) for p in data.purchases],
        }

    def _locale(self, requested: str | None) -> str:
        if requested:
            try:
                Locale.parse(requested)
            except (UnknownLocaleError, ValueError, TypeError):
                return self.locale
            return requested
        return self.locale

    # --- HTTP --------------------------------------------------------------------------------

    def handle(self, method: str, target: str, form: dict[str, str] | None = None) -> Response:
        """Answer one request: ``GET /``, the JSON endpoints, or one of the page's forms."""
        url = urlsplit(target)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        path = unquote(url.path)
        with self._lock:
            if method == "GET":
                return self._get(path, query.get("locale"))
            if method == "POST":
                return self._post(path, form or {})
        return Response(HTTPStatus.METHOD_NOT_ALLOWED, "text/plain", b"method not allowed")

    def _get(self, path: str, locale: str | None) -> Response:
        if path in ("/", "/index.html"):
            return Response(HTTPStatus.OK, body=self.render(locale).encode())
        if path == "/api/billing.json":
            return _json(self.api(locale))
        if path == "/api/schema.json":
            return _json(views_json_schema())
        return Response(HTTPStatus.NOT_FOUND, "text/plain", b"not found")

    def _post(self, path: str, form: dict[str, str]) -> Response:
        parts = [p for p in path.split("/") if p]
        try:
            if len(parts) == 3 and parts[0] == "bundles" and parts[2] == "buy":
                method = CARD if form.get("mode") == "card" else UPI
                key = form.get("key") or secrets.token_urlsafe(12)
                result = self.billing.checkout_bundle(
                    self.account, parts[1], method, idempotency_key=f"page:{key}:{parts[1]}"
                )
                if all(p.quote.quote_id != result.quote.quote_id for p in self.purchases):
                    self.purchases.append(result)
                self.notice = f"{result.quote.lines[0].description}: {result.status.value}"
                return _redirect("/#purchases")
            if len(parts) == 3 and parts[0] == "numbers" and parts[2] == "auto-pay":
                view = self.billing.set_auto_pay(self.account, parts[1], form.get("on") == "1")
                self.notice = f"Auto-Pay {'on' if view.auto_pay else 'off'} for {parts[1]}"
                return _redirect("/#numbers")
            if len(parts) == 3 and parts[0] == "numbers" and parts[2] == "release":
                self.billing.release_number(self.account, parts[1])
                self.notice = f"{parts[1]} released"
                return _redirect("/#numbers")
        except MinutebillError as exc:
            self.notice = f"Not done: {exc}"
            return _redirect("/")
        return Response(HTTPStatus.NOT_FOUND, "text/plain", b"not found")


def _validity(bundle: AddOnBundle) -> str:
    if bundle.validity.kind is ValidityKind.DAYS:
        return f"for {bundle.validity.days} days"
    if bundle.validity.kind is ValidityKind.NEVER:
        return "until used"
    return "until the plan period ends"


def _json(document: object) -> Response:
    body = json.dumps(document, ensure_ascii=False, indent=2).encode()
    return Response(HTTPStatus.OK, "application/json; charset=utf-8", body)


def _redirect(location: str) -> Response:
    return Response(HTTPStatus.SEE_OTHER, "text/plain", b"", location)


# --- building the app ------------------------------------------------------------------------


def build_app(db: str | Path | None = None, *, locale: str = DEFAULT_LOCALE) -> BillingPageApp:
    """The billing page app on the SQLite database `db` (a new temporary one if None).

    The demo account is built unless the database has it already; the page's clock stands at
    the account's latest call, so the page shows the account as it was left.
    """
    path = Path(db) if db is not None else Path(tempfile.mkdtemp(prefix="minutebill-")) / "demo.db"
    clock = FixedClock(SIGNED_UP)
    billing = Billing(
        SqliteStore(path).unit_of_work,
        FakePaymentGateway(secret=b"whsec_billing_page", clock=clock),
        Catalog.from_file(CATALOG),
        clock,
        tax=GST,
    )
    purchases: list[CheckoutResult] = []
    try:
        billing.usage_history(ACCOUNT, limit=1)
    except NotFound:
        purchases = build_demo(billing, clock)
    clock.set(_last_activity(billing) or clock.now())
    return BillingPageApp(billing, clock, locale=locale, purchases=purchases)


def _last_activity(billing: Billing) -> datetime | None:
    """When the account's latest call ended: the instant the page shows it at."""
    records = billing.usage_history(ACCOUNT, limit=1).records
    return records[0].settled_at if records else None


def render_page(app: BillingPageApp | None = None, locale: str = DEFAULT_LOCALE) -> str:
    """The billing page as HTML, without a server (a new demo app if `app` is None)."""
    return (app or build_app()).render(locale)


def make_server(
    app: BillingPageApp, host: str = "127.0.0.1", port: int = 8000, *, quiet: bool = False
) -> ThreadingHTTPServer:
    """An HTTP server for `app` (not started: call ``serve_forever``). Port 0 picks a free one."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._answer(app.handle("GET", self.path))

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode() if length else ""
            form = {k: v[-1] for k, v in parse_qs(raw).items()}
            self._answer(app.handle("POST", self.path, form))

        def _answer(self, response: Response) -> None:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            self.send_header("Cache-Control", "no-store")
            if response.location is not None:
                self.send_header("Location", response.location)
            self.end_headers()
            self.wfile.write(response.body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
            if not quiet:
                super().log_message(format, *args)

    return ThreadingHTTPServer((host, port), Handler)


def main(argv: list[str] | None = None) -> int:
    """Build the app, print the page's URL, and serve until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    parser.add_argument("--db", help="SQLite file (default: a new one in a temporary directory)")
    parser.add_argument("--locale", default=DEFAULT_LOCALE, help="e.g. en_IN, hi_IN, de_DE")
    args = parser.parse_args(argv)
    app = build_app(args.db, locale=args.locale)
    server = make_server(app, args.host, args.port)
    port = server.server_address[1]
    print(f"Billing page of {app.account}: http://{args.host}:{port}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
