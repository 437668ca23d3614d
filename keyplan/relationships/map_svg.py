"""The stakeholder map drawn as one self-contained SVG document.

Pure: people and lines in (``analysis.Person``, ``analysis.Line``), SVG text out. No
external references (no fonts, images, style sheets or scripts), no ``<style>``
element (pages send a Content-Security-Policy), only presentation attributes — so
the same drawing shows inline on the page, downloads from the API, prints, and
embeds in a review deck. Labels come in translated from the caller.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from xml.sax.saxutils import escape, quoteattr

from keyplan.core.bidi import isolate
from keyplan.relationships.analysis import COMPACT, COMPACT_FROM, ORG_HEAD, REGULAR, Line, MapLayout, NodeSize, Person, map_layout

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
# Positive influence dotted, negative dashed: told apart in black and white too.
POLARITY_DASH = {"positive": "1 5", "negative": "6 3"}
LINE_WIDTH = {"weak": 1.5, "medium": 2.0, "strong": 3.0}
# A node's detail line wraps onto more lines when it does not fit: the node grows by this much a line.
WRAP_EXTRA = 13
MAX_DETAIL_LINES = 3
KEY_COLOUR = "#f59e0b"

DEFAULT_LABELS = {
    "title": "Stakeholder map",
    "legend": "Legend",
    "supporter": "Supporter",
    "neutral": "Neutral",
    "critic": "Critic",
    "high_power": "High decision power",
    "medium_power": "Medium decision power",
    "low_power": "Low decision power",
    "sentiment_legend": "Sentiment (fill, border and stripe):",
    "power_legend": "Decision power (dots and border):",
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


_WIDE = "\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef"
_TOKENS = re.compile(f"[{_WIDE}]|[^\\s{_WIDE}]+\\s?|\\s")


def wrap(text: str, widths: Sequence[float], size: float) -> list[str]:
    """``text`` broken into at most ``len(widths)`` lines, line i no wider than ``widths[i]``.

    Lines break between words, and between characters in Chinese (which has no spaces);
    a word wider than a whole line is broken where it must. Only what does not fit on the
    last line is cut, with an ellipsis.
    """
    text = " ".join(text.split())
    if not text or not widths:
        return []
    tokens: list[str] = []
    for token in _TOKENS.findall(text):
        tokens += list(token) if text_width(token.rstrip(), size) > min(widths) else [token]
    lines: list[str] = []
    current = ""
    for token in tokens:
        limit = widths[min(len(lines), len(widths) - 1)]
        if not current.strip() or text_width((current + token).rstrip(), size) <= limit:
            current += token
        else:
            lines.append(current.rstrip())
            current = token.lstrip()
    if current.strip():
        lines.append(current.rstrip())
    if len(lines) > len(widths):
        rest = " ".join(lines[len(widths) - 1:]) if " " in text else "".join(lines[len(widths) - 1:])
        lines = lines[: len(widths) - 1] + [rest]
    return [fit(line, widths[i], size) for i, line in enumerate(lines)]


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
    # The text's own first letter sets its reading order (Persian right to left, punctuation at its end),
    # while it still starts at x like every other text on the map.
    return _el("text", escape(text), x=float(x), y=float(y), unicode_bidi="plaintext", **attrs)


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


def _mini_card(fill: str, stroke: str, stroke_width: float, pips: int | None = None, pip_colour: str = INK) -> str:
    """A small box as the map draws a person: border, stripe, and (with ``pips``) the decision-power dots."""
    parts = [
        _el("rect", x=0.0, y=-10.0, width=34.0, height=16.0, rx=3, fill=fill, stroke=stroke, stroke_width=stroke_width),
        _el("rect", x=0.0, y=-10.0, width=4.0, height=16.0, rx=2, fill=stroke),
    ]
    if pips is not None:
        for i in range(3):
            parts.append(_el("circle", cx=float(14 + i * 7), cy=-2.0, r=2.4, fill=pip_colour if i < pips else "none",
                             stroke=pip_colour, stroke_width=0.9))
    return "".join(parts)


def _legend(labels: Mapping[str, str], width: float) -> tuple[str, float]:
    """The legend: one row per kind of mark, each row wrapping when the map is narrow; returns (svg, height).

    Every mark on a person's box is explained: fill, border and stripe colour (sentiment),
    the three dots and the border width (decision power), the star (key contact point);
    and every kind of line.
    """
    size = 11.0
    sentiments = [(_mini_card(*SENTIMENT_COLOURS[s], 1.5), labels[s]) for s in ("supporter", "neutral", "critic")]
    powers = [
        (_mini_card("#ffffff", INK, POWER_STROKE[p], POWER_PIPS[p]), labels[f"{p}_power"])
        for p in ("high", "medium", "low")
    ]
    marks = [
        (_el("polygon", points=_star(12, -2, 8), fill=KEY_COLOUR, stroke="#ffffff", stroke_width=0.8), labels["key_contact"]),
        (_el("path", d="M0,-2 H30", stroke=LINE, stroke_width=1.5, fill="none"), labels["reports_to"]),
    ]
    for polarity in ("positive", "negative"):
        marks.append((
            _el("path", d="M0,-2 H28", stroke=POLARITY_COLOURS[polarity], stroke_width=2.0,
                stroke_dasharray=POLARITY_DASH[polarity], stroke_linecap="round", fill="none",
                marker_end=f"url(#kp-arrow-{polarity})"),
            labels[polarity],
        ))
    parts, y = [], 14.0
    for heading, items in ((labels["sentiment_legend"], sentiments), (labels["power_legend"], powers), ("", marks)):
        x = 0.0
        if heading:
            parts.append(_text(0, y + 2, heading, font_size=size, font_weight="600", fill=MUTED, class_="legend-heading"))
            x = text_width(heading, size) * 1.12 + 16  # semibold runs wider than the estimate
        for swatch, label in items:
            item_w = 42 + text_width(label, size) + 16
            if x > 0 and x + item_w > width:
                x, y = 0.0, y + 22
            parts.append(f'<g class="legend-item" transform="translate({_n(x)},{_n(y)})">{swatch}'
                         f'{_text(40, 2, label, font_size=size, fill=INK)}</g>')
            x += item_w
        y += 22
    return f'<g class="legend" aria-label={quoteattr(labels["legend"])}>' + "".join(parts) + "</g>", y - 8


def _detail(person: Person, role_labels: Mapping[str, str], compact: bool) -> str:
    """The small line under a person's name: title and role on compact maps; role and department otherwise."""
    role = role_labels.get(person.buying_role, "") if person.buying_role else ""
    if compact:
        return " · ".join(part for part in (person.title, role) if part)
    return " · ".join(part for part in (role, person.department if not person.external else "") if part)


def _detail_widths(node: NodeSize) -> list[float]:
    """The room for the detail text: full lines, the last one beside the decision-power dots."""
    base = COMPACT if node.compact else REGULAR
    lines = 1 + max(0, round((node.height - base.height) / WRAP_EXTRA))
    return [node.width - 22] * (lines - 1) + [node.width - (50 if node.compact else 52)]


def node_size(people: Sequence[Person], role_labels: Mapping[str, str]) -> NodeSize:
    """The boxes' size: compact from COMPACT_FROM people on, and as tall as the longest detail text needs.

    Every box of a map has the same size; it grows a line at a time (up to MAX_DETAIL_LINES
    lines of detail) until every person's role and department fit without being cut.
    """
    base = COMPACT if len(people) >= COMPACT_FROM else REGULAR
    details = [d for d in (_detail(p, role_labels, base.compact) for p in people) if d]
    node = base
    for extra in range(MAX_DETAIL_LINES):
        node = NodeSize(base.width, base.height + extra * WRAP_EXTRA, base.compact)
        widths = _detail_widths(node)
        if all("…" not in "".join(wrap(d, widths, 10)) or "…" in d for d in details):
            break
    return node


def _node(person: Person, x: float, y: float, layout: MapLayout, labels: Mapping[str, str],
          role_labels: Mapping[str, str], href: str | None, selected: bool) -> str:
    w, h = layout.node_w, layout.node_h
    fill, stroke = SENTIMENT_COLOURS.get(person.sentiment, SENTIMENT_COLOURS["neutral"])
    stroke_width = POWER_STROKE.get(person.power, 2.0)
    role = role_labels.get(person.buying_role, "") if person.buying_role else ""
    # The people's own words are isolated: a Latin name or title keeps its order in a Persian tooltip.
    tooltip = " · ".join(part for part in (
        isolate(person.name), isolate(person.title), isolate(person.department), isolate(person.organisation), role,
        labels.get(person.sentiment, person.sentiment),
        f"{labels['power']}: {labels.get(person.power + '_power_short', person.power)}",
        f"{labels['contact']}: {labels.get('contact_' + person.contact, person.contact)}",
        f"{labels['owner']}: {isolate(person.owner) if person.owner else labels['nobody']}",
    ) if part)
    body = [
        _el("title", escape(tooltip)),
        _el("rect", class_="box", width=float(w), height=float(h), rx=8, fill=fill, stroke=stroke, stroke_width=stroke_width),
        _el("rect", class_="stripe", x=0.0, y=0.0, width=6.0, height=float(h), rx=3, fill=stroke),
    ]
    name_weight = POWER_WEIGHT.get(person.power, "600")
    detail_lines = wrap(_detail(person, role_labels, layout.node.compact), _detail_widths(layout.node), 10)
    single = len(_detail_widths(layout.node)) == 1
    if layout.node.compact:
        body.append(_text(13, 18, fit(person.name, w - 36, 12), font_size=12, font_weight=name_weight, fill=INK, class_="name"))
        first_detail = 35 if single else 33
    else:
        body.append(_text(14, 20, fit(person.name, w - 40, 13), font_size=13, font_weight=name_weight, fill=INK, class_="name"))
        if person.title:
            body.append(_text(14, 37, fit(person.title, w - 22, 11), font_size=11, font_weight="400", fill=INK, class_="title"))
        first_detail = 53 if single else 52
    for i, line in enumerate(detail_lines):
        x0 = 13 if layout.node.compact else 14
        body.append(_text(x0, first_detail + i * WRAP_EXTRA, line, font_size=10, font_weight="400", fill=MUTED,
                          class_="detail"))
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


def _influence(line: Line, route: tuple[str, list[tuple[float, float]]], people: Mapping[int, Person],
               labels: Mapping[str, str], strength_labels: Mapping[str, str]) -> str:
    kind, points = route
    if kind == "Q":
        (x0, y0), (cx, cy), (x2, y2) = points
        d = f"M{_n(x0)},{_n(y0)} Q{_n(cx)},{_n(cy)} {_n(x2)},{_n(y2)}"
    else:
        d = "M" + " L".join(f"{_n(x)},{_n(y)}" for x, y in points)
    colour = POLARITY_COLOURS.get(line.polarity, LINE)
    label = f"{people[line.source].name} → {people[line.target].name}: {labels[line.polarity]}, {strength_labels.get(line.strength, line.strength)}"
    if line.note:
        label += f". {line.note}"
    return (
        f'<g class="influence {escape(line.polarity)}" data-source="{line.source}" data-target="{line.target}" '
        f'data-polarity="{escape(line.polarity)}" data-strength="{escape(line.strength)}">'
        + _el("title", escape(label))
        + _el("path", d=d, fill="none", stroke=colour, stroke_width=LINE_WIDTH.get(line.strength, 2.0),
              stroke_dasharray=POLARITY_DASH.get(line.polarity, "1 5"), stroke_linecap="round", stroke_linejoin="round",
              marker_end=f"url(#kp-arrow-{escape(line.polarity)})")
        + "</g>"
    )


# ---------------------------------------------------------------- routing influence lines around boxes and headings

ROUTE_STEP = 8.0  # distance between the points at which a route is checked
MIN_VISIBLE = 28.0  # a line shorter than this would be hidden by its own arrow head
CELL = 96.0


class _Obstacles:
    """The boxes and headings a line must not cross, bucketed on a coarse grid for fast point queries."""

    def __init__(self, rects: Sequence[tuple[float, float, float, float]]):
        self.rects = list(rects)
        self.grid: dict[tuple[int, int], list[int]] = defaultdict(list)
        for i, (x0, y0, x1, y1) in enumerate(self.rects):
            for gx in range(int(x0 // CELL), int(x1 // CELL) + 1):
                for gy in range(int(y0 // CELL), int(y1 // CELL) + 1):
                    self.grid[gx, gy].append(i)

    def hits(self, points: Sequence[tuple[float, float]], *, first: bool = False) -> set[int]:
        """The obstacles the points fall into (with ``first``, stop at the first one)."""
        found: set[int] = set()
        for x, y in points:
            for i in self.grid.get((int(x // CELL), int(y // CELL)), ()):
                x0, y0, x1, y1 = self.rects[i]
                if x0 < x < x1 and y0 < y < y1:
                    found.add(i)
                    if first:
                        return found
        return found


def map_obstacles(layout: MapLayout) -> list[tuple[float, float, float, float]]:
    """Rectangles an influence line keeps out of: every box (with its texts) and every group heading."""
    w, h = layout.node_w, layout.node_h
    rects = [(x - 1, y - 1, x + w + 1, y + h + 1) for x, y in layout.boxes.values()]
    for panel in layout.panels:
        if panel.kind == "externals":
            rects.append((panel.x - 2, panel.y - 2, panel.x + panel.width, panel.y + 20))
        else:
            rects.append((panel.x, panel.y + 2, panel.x + panel.width, panel.y + ORG_HEAD - 4))
    return rects


def _bezier_points(p0, c, p2) -> list[tuple[float, float]]:
    length = math.dist(p0, c) + math.dist(c, p2)
    n = max(4, int(length / ROUTE_STEP))
    return [((1 - t) ** 2 * p0[0] + 2 * (1 - t) * t * c[0] + t * t * p2[0],
             (1 - t) ** 2 * p0[1] + 2 * (1 - t) * t * c[1] + t * t * p2[1]) for t in (i / n for i in range(n + 1))]


def _polyline_points(points) -> list[tuple[float, float]]:
    out = [points[0]]
    for a, b in zip(points, points[1:]):
        n = max(1, int(math.dist(a, b) / ROUTE_STEP))
        out += [(a[0] + (b[0] - a[0]) * i / n, a[1] + (b[1] - a[1]) * i / n) for i in range(1, n + 1)]
    return out


def _length(points) -> float:
    return sum(math.dist(a, b) for a, b in zip(points, points[1:]))


def route_influence(source: int, target: int, layout: MapLayout, obstacles: _Obstacles,
                    used: dict[tuple[str, int], int] | None = None) -> tuple[str, list[tuple[float, float]]]:
    """The route of one influence line: ("Q", [start, control, end]) for a curve, ("L", points) for a polyline.

    The usual gentle curve when it crosses no other box and no heading; otherwise the
    shortest route along the gaps between boxes (out of a side, along a gap or round the
    outside of the map, into the target) that crosses nothing; failing that, of the
    shortest few, the one that crosses least (it then runs under the boxes it crosses,
    which are drawn on top, so it never crosses a label). A line between two neighbours
    goes round the outside, so that it is long enough to be seen. ``used`` counts the lines
    already routed along each gap: the next one runs beside them instead of on top.
    """
    used = used if used is not None else {}
    w, h = layout.node_w, layout.node_h
    (sx, sy), (tx, ty) = layout.center(source), layout.center(target)
    s_box, t_box = layout.boxes[source], layout.boxes[target]
    dx, dy = tx - sx, ty - sy
    distance = math.hypot(dx, dy) or 1.0
    bend0 = min(60.0, 0.15 * distance) + 10

    def curve(bend: float) -> list[tuple[float, float]]:
        # Bow to the left of the direction of travel: A→B and B→A curve apart instead of overlapping.
        c = ((sx + tx) / 2 - dy / distance * bend, (sy + ty) / 2 + dx / distance * bend)
        return [_border_point(sx, sy, w / 2, h / 2, *c), c, _border_point(tx, ty, w / 2, h / 2, *c, gap=2.0)]

    def clear(points: list[tuple[float, float]]) -> bool:
        return _length(points) >= MIN_VISIBLE and not obstacles.hits(points, first=True)

    for bend in (bend0, -bend0):
        route = curve(bend)
        if clear(_bezier_points(*route)):
            return ("Q", route)

    def y_exit(cx: float, box, c: float, gap: float):
        if c < box[1]:
            return (cx, box[1] - gap)
        if c > box[1] + h:
            return (cx, box[1] + h + gap)
        return None

    def x_exit(cy: float, box, c: float, gap: float):
        if c < box[0]:
            return (box[0] - gap, cy)
        if c > box[0] + w:
            return (box[0] + w + gap, cy)
        return None

    bases: dict[tuple[str, int], int] = {}

    def lane(axis: str, c: float, away: float) -> float:
        # Each line already in this gap moves the next one over by 4 units (away from the nearest box).
        shifted = c + away * 4 * used.get((axis, round(c)), 0)
        bases[axis, round(shifted)] = round(c)
        return shifted

    # Gaps beside the two boxes, and the outside of the whole map.
    ys = sorted({lane("y", s_box[1] - 5, -0.5), lane("y", s_box[1] + h + 5, 0.5), lane("y", t_box[1] - 5, -0.5),
                 lane("y", t_box[1] + h + 5, 0.5), lane("y", -10.0, -1), lane("y", layout.height + 10, 1)})
    xs = sorted({lane("x", s_box[0] - 14, 1), lane("x", s_box[0] + w + 10, 1), lane("x", t_box[0] - 14, 1),
                 lane("x", t_box[0] + w + 10, 1), lane("x", -14.0, -1), lane("x", layout.width + 14, 1)})
    candidates: list[tuple[float, str, list[tuple[float, float]]]] = []

    def add(kind: str, points: list, preference: float) -> None:
        candidates.append((_length(points) * preference, kind, points))

    for c in ys:  # out of the top or bottom, along a horizontal gap, into the top or bottom
        a, b = y_exit(sx, s_box, c, 3.0), y_exit(tx, t_box, c, 2.0)
        if a and b:
            add("L", [a, (sx, c), (tx, c), b], 1.15)
    for c in xs:  # out of a side, along a vertical gap, into a side
        a, b = x_exit(sy, s_box, c, 3.0), x_exit(ty, t_box, c, 2.0)
        if a and b:
            add("L", [a, (c, sy), (c, ty), b], 1.15)
    for c1 in ys:
        for c2 in xs:
            a, b = y_exit(sx, s_box, c1, 3.0), x_exit(ty, t_box, c2, 2.0)
            if a and b:
                add("L", [a, (sx, c1), (c2, c1), (c2, ty), b], 1.25)
            a, b = x_exit(sy, s_box, c2, 3.0), y_exit(tx, t_box, c1, 2.0)
            if a and b:
                add("L", [a, (c2, sy), (c2, c1), (tx, c1), b], 1.25)
    for k in (2.5, -2.5, 5.0, -5.0):
        add("Q", curve(bend0 * k), 1.0)
    candidates.sort(key=lambda c: c[0])

    def sample(kind: str, points: list) -> list[tuple[float, float]]:
        return _bezier_points(*points) if kind == "Q" else _polyline_points(points)

    chosen = None
    for _cost, kind, points in candidates:
        if clear(sample(kind, points)):
            chosen = (kind, points)
            break
    if chosen is None:
        # Nothing is clear: of the default curve and the shortest few, the one that crosses fewest boxes.
        fallback = [(0.0, "Q", curve(bend0))] + [c for c in candidates if _length(c[2]) >= MIN_VISIBLE][:6]
        best = min(fallback, key=lambda c: (len(obstacles.hits(sample(c[1], c[2]))), c[0]))
        chosen = (best[1], best[2])
    if chosen[0] == "L":
        for a, b in zip(chosen[1][1:-1], chosen[1][2:-1]):
            axis, c = ("y", a[1]) if a[1] == b[1] else ("x", a[0])
            key = (axis, bases.get((axis, round(c)), round(c)))
            used[key] = used.get(key, 0) + 1
    return chosen


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
    layout = map_layout(people, node=node_size(people, role_labels))
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
        obstacles, used = _Obstacles(map_obstacles(layout)), {}
        chart.append('<g class="influence-lines">' + "".join(
            _influence(line, route_influence(line.source, line.target, layout, obstacles, used), by_id, labels, strength_labels)
            for line in drawn) + "</g>")
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
