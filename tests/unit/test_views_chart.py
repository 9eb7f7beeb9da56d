"""The usage chart: an accessible SVG donut of used versus remaining minutes."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from minutebill.views import usage_chart_svg
from tests.unit.test_views import overview

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 - our own markup


def arcs(root: ET.Element) -> list[ET.Element]:
    return [c for c in root.iter(f"{SVG}circle") if c.get("stroke-dasharray")]


def test_the_chart_is_an_image_named_by_its_title_and_description() -> None:
    root = parse(usage_chart_svg(overview(), locale="en_IN"))
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    title = root.find(f"{SVG}title")
    desc = root.find(f"{SVG}desc")
    assert title is not None
    assert desc is not None
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    assert title.text == "Minutes used: 26.06%"
    assert desc.text is not None
    assert desc.text.startswith("1,381 of 5,300 minutes used, 3,919 remaining")
    assert [t.text for t in root.iter(f"{SVG}text")] == ["26.06%", "Used"]


def test_the_description_groups_minutes_as_the_locale_does() -> None:
    view = overview(
        total_minutes=Decimal("150000.00"),
        used_minutes=Decimal("120000.00"),
        remaining_minutes=Decimal("30000.00"),
    )
    desc = parse(usage_chart_svg(view, locale="en_IN")).find(f"{SVG}desc")
    assert desc is not None
    assert desc.text is not None
    assert desc.text.startswith("1,20,000 of 1,50,000 minutes used, 30,000 remaining")


def test_the_used_arc_is_the_used_percent_from_twelve_o_clock() -> None:
    (used,) = arcs(parse(usage_chart_svg(overview())))
    assert used.get("stroke-dasharray") == "26.06 73.94"
    assert used.get("stroke-dashoffset") == "25"
    assert used.get("stroke") == "#4f46e5"


def test_held_minutes_follow_the_used_arc() -> None:
    live = overview(held_minutes=Decimal("53.00"))  # 1 % of 5,300
    used, held = arcs(parse(usage_chart_svg(live)))
    assert used.get("stroke-dasharray") == "26.06 73.94"
    assert held.get("stroke-dasharray") == "1.00 99.00"
    assert held.get("stroke-dashoffset") == str(Decimal(25) - Decimal("26.06"))
    assert "53 held for live calls" in usage_chart_svg(live)


def test_the_arc_warns_from_80_percent_and_alarms_at_100() -> None:
    def colour(percent: str) -> str | None:
        (arc,) = arcs(parse(usage_chart_svg(overview(used_percent=Decimal(percent)))))
        return arc.get("stroke")

    assert colour("79.99") == "#4f46e5"
    assert colour("80.00") == "#d97706"
    assert colour("100.00") == "#dc2626"


def test_overage_fills_the_ring_but_the_text_keeps_the_real_figure() -> None:
    over = overview(used_percent=Decimal("112.50"))
    root = parse(usage_chart_svg(over))
    (arc,) = arcs(root)
    assert arc.get("stroke-dasharray") == "100 0"
    assert next(t.text for t in root.iter(f"{SVG}text")) == "112.50%"


def test_an_empty_period_draws_only_the_track() -> None:
    empty = overview(
        total_minutes=Decimal("0.00"),
        remaining_minutes=Decimal("0.00"),
        used_minutes=Decimal("0.00"),
        used_percent=Decimal("0.00"),
    )
    root = parse(usage_chart_svg(empty))
    assert arcs(root) == []
    assert len(list(root.iter(f"{SVG}circle"))) == 1


def test_account_ids_cannot_break_the_markup_or_the_ids() -> None:
    hostile = overview(account_id='a"b <c>&d', plan_name="<script>x</script>")
    svg = usage_chart_svg(hostile)
    root = parse(svg)
    assert "<script>" not in svg
    title = root.find(f"{SVG}title")
    assert title is not None
    title_id = title.get("id") or ""
    assert title_id.startswith("minutebill-usage-a-b-c-d-")
    assert title_id.endswith("-title")
    other = parse(usage_chart_svg(overview(account_id="a-b-c-d")))
    assert other.get("aria-labelledby") == (
        "minutebill-usage-a-b-c-d-title minutebill-usage-a-b-c-d-desc"
    )
    assert other.get("aria-labelledby") != root.get("aria-labelledby")
    desc = root.find(f"{SVG}desc")
    assert desc is not None
    assert desc.text is not None
    assert "<script>x</script> plan" in desc.text  # escaped in the markup, intact as text


def test_the_size_and_locale_are_the_callers() -> None:
    root = parse(usage_chart_svg(overview(), locale="de_DE", size=96))
    assert (root.get("width"), root.get("height")) == ("96", "96")
    assert next(t.text for t in root.iter(f"{SVG}text")) == "26,06\xa0%"


@given(
    used=st.decimals(min_value=0, max_value=150, places=2),
    held=st.decimals(min_value=0, max_value=6000, places=2),
)
def test_arcs_never_exceed_the_ring(used: Decimal, held: Decimal) -> None:
    view = overview(used_percent=used, held_minutes=held)
    root = parse(usage_chart_svg(view))
    lengths = []
    for arc in arcs(root):
        dash, gap = (Decimal(x) for x in (arc.get("stroke-dasharray") or "").split())
        assert dash > 0
        assert gap >= 0
        assert dash + gap == 100
        lengths.append(dash)
    assert sum(lengths) <= 100
    if used > 0:
        assert lengths[0] == min(used, Decimal(100))
