"""The stakeholder map drawn as one self-contained SVG document.

Pure: people and lines in (``analysis.Person``, ``analysis.Line``), SVG text out. No
external references (no fonts, images, style sheets or scripts), no ``<style>``
element (pages send a Content-Security-Policy), only presentation attributes — so
the same drawing shows inline on the page, downloads from the API, prints, and
embeds in a review deck. Labels come in translated from the caller.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from xml.sax.saxutils import escape, quoteattr

from keyplan.relationships.analysis import Line, MapLayout, Person, map_layout

SVG_NS = "http://www.w3.org/2000/svg"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Noto Sans', 'Vazirmatn', 'Noto Sans Arabic', 'Noto Sans CJK SC', sans-serif"
MARGIN = 16
INK, MUTED, LINE = "#1f2937", "#6b7280", "#94a3b8"

# Fill and border by sentiment; border width and name weight by decision power.
SENTIMENT_COLOURS = {
    "supporter": ("#dcfce7", "#15803d"),
    "neutral": ("#f1f5f9", "#64748b"),
    "critic": ("#fee2e2", "#b91c1c"),
}
POWER_STROKE = {"high": 3.5, "medium": 2.0, "low": 1.0}
POWER_PIPS = {"high": 3, "medium": 2, "low": 1}
POWER_WEIGHT = {"high": "700", "medium": "600", "low": "400"}
POLARITY_COLOURS = {"positive": "#15803d", "negative": "#dc2626"}
LINE_WIDTH = {"weak": 1.25, "medium": 2.0, "strong": 3.0}
KEY_COLOUR = "#f59e0b"

DEFAULT_LABELS = {
    "title": "Stakeholder map",
    "legend": "Legend",
    "supporter": "Supporter",
    "neutral": "Neutral",
    "critic": "Critic",
    "high_power": "High decision power",
    "low_power": "Low decision power",
    "key_contact": "Key contact point",
    "reports_to": "Reports to",
    "positive": "Positive influence",
    "negative": "Negative influence",
    "externals": "External parties",
    "empty": "No stakeholders yet.",
    "power": "Decision power",
    "contact": "Contact",
    "owner": "Owner",
    "nobody": "nobody",
}


# ---------------------------------------------------------------- text helpers


def _char_width(ch: str, size: float) -> float:
    if unicodedata.east_asian_width(ch) in ("W", "F"):
        return size
    if ch in "il.,:;|!'’ ":
        return size * 0.3
    if ch.isupper() or ch in "mwMW@%":
        return size * 0.72
    return size * 0.56


def text_width(text: str, size: float) -> float:
    return sum(_char_width(ch, size) for ch in text)


def fit(text: str, max_width: float, size: float) -> str:
    """``text`` shortened with an ellipsis so that it fits ``max_width`` at font ``size``."""
    text = " ".join(text.split())
    if text_width(text, size) <= max_width:
        return text
    out, width = "", text_width("…", size)
    for ch in text:
        width += _char_width(ch, size)
        if width > max_width:
            break
        out += ch
    return out.rstrip() + "…"


def _n(value: float) -> str:
    """Numbers as short as they can be in the SVG."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _attrs(**attrs) -> str:
    parts = []
    for name, value in attrs.items():
        if value is None or value is False:
            continue
        name = name.rstrip("_").replace("_", "-")
        parts.append(f" {name}={quoteattr(str(_n(value) if isinstance(value, float) else value))}")
    return "".join(parts)


def _el(tag: str, content: str | None = None, **attrs) -> str:
    if content is None:
        return f"<{tag}{_attrs(**attrs)}/>"
    return f"<{tag}{_attrs(**attrs)}>{content}</{tag}>"


def _text(x: float, y: float, text: str, **attrs) -> str:
    return _el("text", escape(text), x=float(x), y=float(y), **attrs)


def _star(cx: float, cy: float, r: float) -> str:
    points = []
    for i in range(10):
        radius = r if i % 2 == 0 else r * 0.45
        angle = -math.pi / 2 + i * math.pi / 5
        points.append(f"{_n(cx + radius * math.cos(angle))},{_n(cy + radius * math.sin(angle))}")
    return " ".join(points)


# ---------------------------------------------------------------- pieces


def _defs() -> str:
    markers = []
    for polarity, colour in POLARITY_COLOURS.items():
        markers.append(
            f'<marker id="kp-arrow-{polarity}" class="arrow {polarity}" viewBox="0 0 10 10" refX="9" refY="5" '
            f'markerWidth="9" markerHeight="9" markerUnits="userSpaceOnUse" orient="auto">'
            f'<path d="M0,1 L10,5 L0,9 z" fill="{colour}"/></marker>'
        )
    return "<defs>" + "".join(markers) + "</defs>"


def _legend(labels: Mapping[str, str], width: float) -> tuple[str, float]:
    """The legend as a wrapped row of items; returns (svg, height)."""
    size = 11.0
    items: list[tuple[str, str]] = []
    for sentiment in ("supporter", "neutral", "critic"):
        fill, stroke = SENTIMENT_COLOURS[sentiment]
        swatch = _el("rect", x=0.0, y=-9.0, width=22.0, height=14.0, rx=3, fill=fill, stroke=stroke, stroke_width=1.5)
        items.append((swatch, labels["supporter" if sentiment == "supporter" else sentiment]))
    for power in ("high", "low"):
        swatch = _el("rect", x=0.0, y=-9.0, width=22.0, height=14.0, rx=3, fill="#ffffff", stroke=INK, stroke_width=POWER_STROKE[power])
        items.append((swatch, labels[f"{power}_power"]))
    items.append((_el("polygon", points=_star(11, -2, 7), fill=KEY_COLOUR, stroke="#ffffff", stroke_width=0.8), labels["key_contact"]))
    items.append((_el("path", d="M0,-2 H22", stroke=LINE, stroke_width=1.5, fill="none"), labels["reports_to"]))
    for polarity in ("positive", "negative"):
        items.append((
            _el("path", d="M0,-2 H20", stroke=POLARITY_COLOURS[polarity], stroke_width=2.0, stroke_dasharray="1 4",
                stroke_linecap="round", fill="none", marker_end=f"url(#kp-arrow-{polarity})"),
            labels[polarity],
        ))
    parts, x, y = [], 0.0, 14.0
    for swatch, label in items:
        item_w = 30 + text_width(label, size) + 18
        if x > 0 and x + item_w > width:
            x, y = 0.0, y + 20
        parts.append(f'<g class="legend-item" transform="translate({_n(x)},{_n(y)})">{swatch}'
                     f'{_text(28, 2, label, font_size=size, fill=INK)}</g>')
        x += item_w
    return f'<g class="legend" aria-label={quoteattr(labels["legend"])}>' + "".join(parts) + "</g>", y + 12


def _node(person: Person, x: float, y: float, layout: MapLayout, labels: Mapping[str, str],
          role_labels: Mapping[str, str], href: str | None, selected: bool) -> str:
    w, h = layout.node_w, layout.node_h
    fill, stroke = SENTIMENT_COLOURS.get(person.sentiment, SENTIMENT_COLOURS["neutral"])
    stroke_width = POWER_STROKE.get(person.power, 2.0)
    role = role_labels.get(person.buying_role, "") if person.buying_role else ""
    detail = " · ".join(part for part in (role, person.department if not person.external else "") if part)
    tooltip = " · ".join(part for part in (
        person.name, person.title, person.department, person.organisation, role,
        labels.get(person.sentiment, person.sentiment),
        f"{labels['power']}: {labels.get(person.power + '_power_short', person.power)}",
        f"{labels['contact']}: {labels.get('contact_' + person.contact, person.contact)}",
        f"{labels['owner']}: {person.owner or labels['nobody']}",
    ) if part)
    body = [
        _el("title", escape(tooltip)),
        _el("rect", class_="box", width=float(w), height=float(h), rx=8, fill=fill, stroke=stroke, stroke_width=stroke_width),
        _el("rect", class_="stripe", x=0.0, y=0.0, width=6.0, height=float(h), rx=3, fill=stroke),
    ]
    name_weight = POWER_WEIGHT.get(person.power, "600")
    if layout.node.compact:
        # Two lines: the name, then the title and the role.
        body.append(_text(13, 18, fit(person.name, w - 36, 12), font_size=12, font_weight=name_weight, fill=INK, class_="name"))
        second = " · ".join(part for part in (person.title, role) if part)
        if second:
            body.append(_text(13, 35, fit(second, w - 50, 10), font_size=10, fill=MUTED, class_="detail"))
        pip_y = h - 10
    else:
        body.append(_text(14, 20, fit(person.name, w - 40, 13), font_size=13, font_weight=name_weight, fill=INK, class_="name"))
        if person.title:
            body.append(_text(14, 37, fit(person.title, w - 22, 11), font_size=11, fill=INK, class_="title"))
        if detail:
            body.append(_text(14, 53, fit(detail, w - 52, 10), font_size=10, fill=MUTED, class_="detail"))
        pip_y = h - 10
    pips = POWER_PIPS.get(person.power, 2)
    for i in range(3):
        body.append(_el("circle", class_="pip", cx=float(w - 30 + i * 9), cy=float(pip_y), r=3.0,
                        fill=stroke if i < pips else "none", stroke=stroke, stroke_width=1.0))
    if person.key_contact:
        body.append(f'<g class="key-contact"><title>{escape(labels["key_contact"])}</title>'
                    + _el("polygon", points=_star(w - 14, 14, 9), fill=KEY_COLOUR, stroke="#ffffff", stroke_width=1.0) + "</g>")
    if selected:
        body.append(_el("rect", class_="selected", x=-5.0, y=-5.0, width=float(w + 10), height=float(h + 10), rx=11,
                        fill="none", stroke="#1d4ed8", stroke_width=2.0, stroke_dasharray="6 3"))
    classes = f"node sentiment-{person.sentiment} power-{person.power}" + (" key-contact-point" if person.key_contact else "") + (" external" if person.external else "")
    group = (f'<g class="{classes}" id="kp-stakeholder-{person.id}" data-stakeholder="{person.id}" '
             f'data-sentiment="{escape(person.sentiment)}" data-power="{escape(person.power)}" '
             f'transform="translate({_n(x)},{_n(y)})">' + "".join(body) + "</g>")
    if href:
        return f'<a href={quoteattr(href)} class="node-link" aria-label={quoteattr(person.name)}>{group}</a>'
    return group


def _border_point(cx: float, cy: float, hw: float, hh: float, tx: float, ty: float, gap: float = 3.0) -> tuple[float, float]:
    """Where the ray from the box centre towards (tx, ty) leaves the box (plus a small gap)."""
    dx, dy = tx - cx, ty - cy
    if dx == 0 and dy == 0:
        return cx, cy
    scale = min(hw / abs(dx) if dx else math.inf, hh / abs(dy) if dy else math.inf)
    length = math.hypot(dx, dy)
    return cx + dx * scale + dx / length * gap, cy + dy * scale + dy / length * gap


def _influence(line: Line, layout: MapLayout, people: Mapping[int, Person], labels: Mapping[str, str],
               strength_labels: Mapping[str, str]) -> str:
    (sx, sy), (tx, ty) = layout.center(line.source), layout.center(line.target)
    dx, dy = tx - sx, ty - sy
    distance = math.hypot(dx, dy) or 1.0
    bend = min(60.0, 0.15 * distance) + 10
    # Bow to the left of the direction of travel: A→B and B→A curve apart instead of overlapping.
    cx, cy = (sx + tx) / 2 - dy / distance * bend, (sy + ty) / 2 + dx / distance * bend
    hw, hh = layout.node_w / 2, layout.node_h / 2
    x0, y0 = _border_point(sx, sy, hw, hh, cx, cy)
    x2, y2 = _border_point(tx, ty, hw, hh, cx, cy, gap=2.0)
    colour = POLARITY_COLOURS.get(line.polarity, LINE)
    label = f"{people[line.source].name} → {people[line.target].name}: {labels[line.polarity]}, {strength_labels.get(line.strength, line.strength)}"
    if line.note:
        label += f". {line.note}"
    return (
        f'<g class="influence {escape(line.polarity)}" data-source="{line.source}" data-target="{line.target}" '
        f'data-polarity="{escape(line.polarity)}" data-strength="{escape(line.strength)}">'
        + _el("title", escape(label))
        + _el("path", d=f"M{_n(x0)},{_n(y0)} Q{_n(cx)},{_n(cy)} {_n(x2)},{_n(y2)}", fill="none", stroke=colour,
              stroke_width=LINE_WIDTH.get(line.strength, 2.0), stroke_dasharray="1 5", stroke_linecap="round",
              marker_end=f"url(#kp-arrow-{escape(line.polarity)})")
        + "</g>"
    )


# ---------------------------------------------------------------- the map


def render_map(
    people: Sequence[Person],
    lines: Sequence[Line],
    *,
    title: str = "",
    subtitle: str = "",
    labels: Mapping[str, str] | None = None,
    role_labels: Mapping[str, str] | None = None,
    strength_labels: Mapping[str, str] | None = None,
    link: Callable[[int], str] | None = None,
    selected: int | None = None,
) -> str:
    """The map as an SVG document (a string starting with ``<svg``).

    ``link`` gives each node's address (the page makes nodes clickable); without it
    the SVG has no links at all, as a file for a deck should be.
    """
    labels = {**DEFAULT_LABELS, **(labels or {})}
    role_labels = role_labels or {}
    strength_labels = strength_labels or {}
    layout = map_layout(people)
    by_id = {p.id: p for p in people}
    chart_w = max(layout.width, 720.0)
    head = []
    y = MARGIN
    if title:
        head.append(_text(MARGIN, y + 16, title, font_size=18, font_weight="700", fill=INK, class_="map-title"))
        y += 24
    if subtitle:
        head.append(_text(MARGIN, y + 12, subtitle, font_size=11, fill=MUTED, class_="map-subtitle"))
        y += 18
    legend, legend_h = _legend(labels, chart_w)
    head.append(f'<g transform="translate({MARGIN},{_n(y + 4)})">{legend}</g>')
    y += legend_h + 16
    width = chart_w + 2 * MARGIN
    height = y + max(layout.height, 40) + MARGIN

    chart = [f'<g class="chart" transform="translate({MARGIN},{_n(y)})">']
    for panel in layout.panels:
        if panel.kind == "externals":
            chart.append('<g class="externals-panel">'
                         + _el("rect", x=panel.x - 12, y=panel.y - 6, width=panel.width + 24, height=panel.height + 12, rx=10,
                               fill="#f8fafc", stroke="#cbd5e1", stroke_dasharray="4 3")
                         + _text(panel.x, panel.y + 14, labels["externals"], font_size=12, font_weight="700", fill=MUTED)
                         + "</g>")
        else:
            chart.append('<g class="organisation">'
                         + _el("rect", x=panel.x, y=panel.y, width=panel.width, height=panel.height, rx=8, fill="#eef2ff", stroke="#c7d2fe")
                         + _text(panel.x + 10, panel.y + 17, fit(panel.title, panel.width - 20, 11), font_size=11, font_weight="600", fill="#3730a3")
                         + "</g>")
    if layout.reporting:
        paths = "".join(_el("path", d="M" + " L".join(f"{_n(px)},{_n(py)}" for px, py in line)) for line in layout.reporting)
        chart.append(f'<g class="reporting-lines" fill="none" stroke="{LINE}" stroke-width="1.5">{paths}</g>')
    drawn = [line for line in lines if line.source in layout.boxes and line.target in layout.boxes and line.source != line.target]
    if drawn:
        chart.append('<g class="influence-lines">'
                     + "".join(_influence(line, layout, by_id, labels, strength_labels) for line in drawn) + "</g>")
    nodes = [
        _node(by_id[pid], x, y_, layout, labels, role_labels, link(pid) if link else None, pid == selected)
        for pid, (x, y_) in sorted(layout.boxes.items(), key=lambda item: (item[1][1], item[1][0]))
    ]
    chart.append('<g class="nodes">' + "".join(nodes) + "</g>")
    if not people:
        chart.append(_text(0, 24, labels["empty"], font_size=13, fill=MUTED, class_="empty"))
    chart.append("</g>")

    accessible_title = " · ".join(part for part in (labels["title"], title) if part)
    return (
        f'<svg xmlns="{SVG_NS}" version="1.1" class="stakeholder-map" role="img" aria-labelledby="kp-map-title" '
        f'width="{_n(width)}" height="{_n(height)}" viewBox="0 0 {_n(width)} {_n(height)}" '
        # Left to right whatever the page's direction: the chart's geometry is fixed (text starts inside its box).
        f'font-family={quoteattr(FONT)} direction="ltr" data-stakeholders="{len(people)}">'
        f'<title id="kp-map-title">{escape(accessible_title)}</title>'
        + _defs()
        + _el("rect", class_="background", x=0.0, y=0.0, width=float(width), height=float(height), fill="#ffffff")
        + "".join(head)
        + "".join(chart)
        + "</svg>"
    )
