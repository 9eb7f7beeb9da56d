"""The billing page as HTML, rendered only from minutebill's views and their ``format(locale)``.

No template engine and no JavaScript: every string comes from a view, is escaped here, and
every button is a plain HTML form that posts back to the server.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from pathlib import Path

from attrs import frozen

from minutebill.views import (
    CheckoutView,
    NumberView,
    PlanOverview,
    UsageSummary,
    usage_chart_svg,
)

STYLE = (Path(__file__).with_name("style.css")).read_text(encoding="utf-8")
LOCALES = (
    ("en_IN", "English (India)"),
    ("hi_IN", "हिन्दी"),
    ("en_US", "English (US)"),
    ("de_DE", "Deutsch"),
)


@frozen(kw_only=True)
class BundleOffer:
    """An add-on bundle with the checkout it would have now."""

    code: str
    name: str
    minutes: int
    validity: str
    checkout: CheckoutView


@frozen(kw_only=True)
class PageData:
    """Everything the page shows, as views."""

    overview: PlanOverview
    numbers: Sequence[NumberView]
    usage: UsageSummary
    bundles: Sequence[BundleOffer]
    number_checkout: CheckoutView | None
    purchases: Sequence[CheckoutView]
    form_key: str
    notice: str | None = None


def render_page(data: PageData, locale: str) -> str:
    """The whole billing page in `locale`."""
    o = data.overview.format(locale)
    sections = [
        _overview(data.overview, locale),
        _bundles(data, locale),
        _numbers(data, locale),
        _purchases(data.purchases, locale),
        _usage(data.usage, locale),
    ]
    notice = f'<p class="notice" role="status">{escape(data.notice)}</p>' if data.notice else ""
    options = "".join(
        f'<option value="{code}"{" selected" if code == locale else ""}>{escape(name)}</option>'
        for code, name in LOCALES
    )
    return f"""<!doctype html>
<html lang="{escape(locale.replace("_", "-"))}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Billing · {escape(o["plan"])} plan · minutebill demo</title>
<style>{STYLE}</style>
</head>
<body>
<header>
  <div><h1>Billing Management</h1>
  <p class="muted">Account <strong>{escape(o["account_id"])}</strong> · figures as of
  {escape(o["as_of"])}</p></div>
  <form method="get" action="/" class="locale"><label>Language
  <select name="locale">{options}</select></label> <button>Show</button></form>
</header>
<nav><a href="#overview">Plan Overview</a><a href="#add-ons">Add-on Minutes</a>
<a href="#numbers">Phone Numbers</a><a href="#usage">Usage</a></nav>
<main>
{notice}{"".join(sections)}
</main>
<footer class="muted">Rendered by <code>examples/billing_page</code> from minutebill's views.
JSON: <a href="/api/billing.json?locale={escape(locale)}">billing.json</a> ·
<a href="/api/schema.json">schema.json</a></footer>
</body>
</html>
"""


def _overview(view: PlanOverview, locale: str) -> str:
    o = view.format(locale)
    facts = [
        ("Current Plan", o["plan"], o["status"]),
        ("Total Minutes", o["total_minutes"], f"period {o['period']}"),
        ("Remaining Minutes", o["remaining_minutes"], f"{o['used_minutes']} used"),
        ("Next Billing", o["next_billing"], o["renewal_note"]),
        ("Plan Expiry", o["plan_expiry"], o["plan_expiry_relative"]),
        ("Wallet", o["wallet_balance"], "prepaid balance"),
    ]
    cards = "".join(
        f'<div class="fact"><span class="label">{escape(name)}</span>'
        f'<span class="value">{escape(value)}</span><span class="muted">{escape(note)}</span></div>'
        for name, value, note in facts
    )
    features = (
        f"<li>{escape(o['concurrent_calls'])} concurrent calls</li>"
        f"<li>{escape(o['phone_numbers'])} phone numbers</li>"
        f"<li>Queue priority {escape(o['queue_priority'])} (boosted queueing)</li>"
    )
    return f"""<section id="overview" class="card">
<h2>Plan Overview</h2>
<div class="overview">
  <div class="facts">{cards}</div>
  <figure class="chart">{usage_chart_svg(view, locale=locale, size=180)}
  <figcaption class="used-label">{escape(o["used_label"])}</figcaption></figure>
</div>
<ul class="features">{features}</ul>
</section>
"""


def _breakdown(view: CheckoutView, locale: str) -> str:
    c = view.format(locale)
    rows = "".join(
        f'<tr class="{"total" if name == "Total Amount" else "part"}"><th scope="row">'
        f"{escape(name)}</th><td>{escape(value)}</td></tr>"
        for name, value in c["rows"]
    )
    caps = (
        f'<p class="caps">✓ {escape(c["capabilities_note"])}</p>' if c["capabilities_note"] else ""
    )
    status = f'<p class="status">Payment: {escape(c["status"])}</p>' if c["status"] else ""
    return f'<table class="breakdown">{rows}</table>{caps}{status}'


def _pay_form(action: str, key: str, modes: Sequence[str], label: str) -> str:
    radios = "".join(
        f'<label><input type="radio" name="mode" value="{m}"{" checked" if i == 0 else ""}> '
        f"{escape(name)}</label>"
        for i, (m, name) in enumerate(zip(("upi", "card"), modes, strict=False))
    )
    return (
        f'<form method="post" action="{escape(action)}" class="pay">'
        f'<input type="hidden" name="key" value="{escape(key)}">'
        f"<fieldset><legend>Payment Mode</legend>{radios}</fieldset>"
        f"<button>{escape(label)}</button></form>"
    )


def _bundles(data: PageData, locale: str) -> str:
    cards = []
    for offer in data.bundles:
        c = offer.checkout.format(locale)
        cards.append(
            f'<article class="bundle"><h3>{escape(offer.name)}</h3>'
            f'<p class="minutes">{offer.minutes} minutes</p>'
            f'<p class="muted">valid {escape(offer.validity)}</p>'
            f"{_breakdown(offer.checkout, locale)}"
            f"{_pay_form(f'/bundles/{offer.code}/buy', data.form_key, c['payment_modes'], 'Buy')}"
            "</article>"
        )
    return f"""<section id="add-ons" class="card">
<h2>Add-on Minutes</h2>
<p class="muted">Out of minutes mid-campaign? Add a bundle; it is usable as soon as it is paid.</p>
<div class="bundles">{"".join(cards)}</div>
</section>
"""


def _numbers(data: PageData, locale: str) -> str:
    tz = data.overview.timezone
    rows = []
    for view in data.numbers:
        n = view.format(locale, timezone=tz)
        e164 = escape(view.number_e164)
        badge = view.status.replace("_", "-")
        toggle = (
            f'<form method="post" action="/numbers/{e164}/auto-pay">'
            f'<input type="hidden" name="on" value="{"0" if view.auto_pay else "1"}">'
            f'<button class="toggle{" on" if view.auto_pay else ""}" '
            f'aria-pressed="{"true" if view.auto_pay else "false"}">'
            f"Auto-Pay: {escape(n['auto_pay'])}</button></form>"
            if view.can_release
            else ""
        )
        release = (
            f'<form method="post" action="/numbers/{e164}/release">'
            f'<button class="danger">Release</button></form>'
            if view.can_release
            else ""
        )
        rows.append(
            f"<tr><td><strong>{e164}</strong><br><span class='muted'>{escape(n['country'])} · "
            f"{escape(n['kind'])} · {escape(n['capabilities'])}</span></td>"
            f'<td><span class="badge {badge}">{escape(n["status"])}</span><br>'
            f'<span class="muted">{escape(n["status_note"])}</span></td>'
            f"<td>{escape(n['recurring_fee'])}</td><td>{toggle}</td><td>{release}</td></tr>"
        )
    table = (
        '<table class="numbers"><thead><tr><th>Number</th><th>Status</th><th>Fee</th>'
        f"<th>Auto-Pay</th><th></th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        if rows
        else "<p>No numbers yet.</p>"
    )
    buy = ""
    if data.number_checkout is not None:
        modes = " · ".join(data.number_checkout.format(locale)["payment_modes"])
        buy = (
            '<div class="bundles"><article class="bundle new-number"><h3>New phone number</h3>'
            f"{_breakdown(data.number_checkout, locale)}"
            f'<p class="muted">Pay by {escape(modes)}</p></article></div>'
        )
    return f"""<section id="numbers" class="card">
<h2>Phone Numbers</h2>
<p class="muted">Keep Auto-Pay active for critical numbers: a number left On Hold past its grace
period is released back to the provider.</p>
{table}
{buy}
</section>
"""


def _purchases(purchases: Sequence[CheckoutView], locale: str) -> str:
    if not purchases:
        return ""
    items = "".join(
        f'<article class="bundle"><h3>{escape("; ".join(line.description for line in p.lines))}'
        f"</h3>{_breakdown(p, locale)}</article>"
        for p in purchases
    )
    return f"""<section id="purchases" class="card">
<h2>Recent Purchases</h2>
<div class="bundles">{items}</div>
</section>
"""


def _usage(view: UsageSummary, locale: str) -> str:
    u = view.format(locale)
    peak = max((d.billable_seconds for d in view.days), default=0) or 1
    days = "".join(
        f"<tr><td>{escape(t['day'])}</td><td>{escape(t['calls'])}</td>"
        f'<td class="nowrap"><span class="bar" style="width:{_bar(d.billable_seconds, peak)}px">'
        "</span>"
        f"{escape(t['billed'])}</td><td>{escape(t['overage'])}</td></tr>"
        for d, t in zip(view.days, u["days"], strict=True)
    )
    tags = "".join(
        f"<tr><td>{escape(t['tag'])}</td><td>{escape(t['calls'])}</td>"
        f"<td>{escape(t['billed'])}</td><td>{escape(t['overage'])}</td></tr>"
        for t in u["tags"]
    )
    calls = "".join(
        f"<tr><td><code>{escape(c['call_id'])}</code></td><td>{escape(c['started_at'])}</td>"
        f"<td>{escape(c['duration'])}</td><td>{escape(c['billed'])}</td>"
        f"<td>{escape(c['tags'])}</td></tr>"
        for c in u["recent"]
    )
    head = "<thead><tr><th>{}</th><th>Calls</th><th>Billed</th><th>Overage</th></tr></thead>"
    return f"""<section id="usage" class="card">
<h2>Usage</h2>
<p class="muted">{escape(u["range"])}: {escape(u["calls"])} calls, {escape(u["billed"])} billed,
{escape(u["overage"])} overage.</p>
<div class="usage">
<div><h3>Per day</h3><table>{head.format("Day")}<tbody>{days}</tbody></table></div>
<div><h3>Per campaign</h3><table>{head.format("Tag")}<tbody>{tags}</tbody></table></div>
</div>
<h3>Latest calls</h3>
<table><thead><tr><th>Call</th><th>Started</th><th>Length</th><th>Billed</th><th>Tags</th></tr>
</thead><tbody>{calls}</tbody></table>
</section>
"""


def _bar(value: int, peak: int) -> int:
    """A bar's width in pixels, 80 for the peak."""
    return round(80 * value / peak)
