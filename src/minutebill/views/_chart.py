"""The usage chart: the used share of the period's minutes as an accessible SVG donut."""

from __future__ import annotations

import hashlib
import html
import re
from decimal import Decimal

from minutebill.domain.decimals import EXACT, divide, quantize
from minutebill.views._overview import PlanOverview
from minutebill.views._units import CENT

__all__ = ["usage_chart_svg"]

_RADIUS = "15.91549430918954"  # circumference 100: dash lengths are percentages
_COLOURS = {"used": "#4f46e5", "held": "#a5b4fc", "track": "#e5e7eb", "warn": "#d97706"}
_FULL = "#dc2626"
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def usage_chart_svg(overview: PlanOverview, *, locale: str = "en", size: int = 160) -> str:
    """A small, accessible SVG donut of used (and held) versus remaining minutes.

    The ring is the period's total; the filled arc is `PlanOverview.used_percent`, starting at
    twelve o'clock, amber from 80 % and red at 100 %; minutes held for live calls follow in a
    lighter shade. The percentage and *Used* are written in the middle. Screen readers get
    the ``<title>`` (``Minutes used: 26.06%``) and the ``<desc>`` (used, held and remaining
    minutes) through ``role="img"`` and ``aria-labelledby``. The markup is self-contained
    (no scripts, styles or external references) and its ids are unique per account.

    Args:
        overview: The overview to draw.
        locale: How the numbers in the title, description and centre are written.
        size: Width and height in CSS pixels.
    """
    text = overview.format(locale)
    total = overview.total_minutes
    used = _clamp(overview.used_percent)
    held = Decimal(0)
    if total > 0:
        share = quantize(divide(EXACT.multiply(overview.held_minutes, 100), total), CENT)
        held = min(_clamp(share), EXACT.subtract(100, used))
    used_colour = _COLOURS["used"]
    if overview.used_percent >= 100:
        used_colour = _FULL
    elif overview.used_percent >= 80:
        used_colour = _COLOURS["warn"]
    ident = _chart_id(overview.account_id)
    title = f"Minutes used: {text['used_percent']}"
    held_note = f", {text['held_minutes']} held for live calls" if overview.held_minutes else ""
    desc = (
        f"{text['used_minutes']} of {text['total_minutes']} minutes used{held_note}, "
        f"{text['remaining_minutes']} remaining in the {overview.plan_name} plan period "
        f"{text['period']}."
    )
    e = html.escape
    arcs = [_arc(used, Decimal(0), used_colour)]
    if held:
        arcs.append(_arc(held, used, _COLOURS["held"]))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 42 42" width="{int(size)}" '
        f'height="{int(size)}" role="img" aria-labelledby="{ident}-title {ident}-desc" '
        f'class="minutebill-usage-chart">'
        f'<title id="{ident}-title">{e(title)}</title>'
        f'<desc id="{ident}-desc">{e(desc)}</desc>'
        f'<circle cx="21" cy="21" r="{_RADIUS}" fill="none" stroke="{_COLOURS["track"]}" '
        f'stroke-width="5"/>'
        f"{''.join(arcs)}"
        f'<text x="21" y="21" text-anchor="middle" font-family="sans-serif" font-size="5.5" '
        f'font-weight="bold" fill="#111827">{e(text["used_percent"])}</text>'
        f'<text x="21" y="26.5" text-anchor="middle" font-family="sans-serif" font-size="3.6" '
        f'fill="#4b5563">Used</text>'
        "</svg>"
    )


def _chart_id(account_id: str) -> str:
    """An HTML id for the account's chart: readable, and distinct for distinct accounts."""
    safe = _ID_UNSAFE.sub("-", account_id)
    if safe != account_id:  # "a b" and "a-b" must not share an id
        safe += "-" + hashlib.sha256(account_id.encode()).hexdigest()[:8]
    return f"minutebill-usage-{safe}"


def _clamp(percent: Decimal) -> Decimal:
    return min(max(percent, Decimal(0)), Decimal(100))


def _arc(length: Decimal, start: Decimal, colour: str) -> str:
    """A stroke of `length` percent beginning `start` percent clockwise from twelve o'clock."""
    if length <= 0:
        return ""
    offset = EXACT.subtract(25, start)  # the stroke starts at three o'clock; 25 moves it to twelve
    return (
        f'<circle cx="21" cy="21" r="{_RADIUS}" fill="none" stroke="{colour}" stroke-width="5" '
        f'stroke-dasharray="{length} {EXACT.subtract(100, length)}" stroke-dashoffset="{offset}"/>'
    )
