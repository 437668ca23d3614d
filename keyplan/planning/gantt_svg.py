"""Goals and actions on a timeline, drawn as one self-contained SVG document (a Gantt chart).

Pure: rows in (``Group``, ``Bar``), SVG text out, drawn the way the stakeholder map is
(relationships/map_svg.py): no external references, no ``<style>`` or scripts, only
presentation attributes, every text escaped — so the same drawing shows inline on the
page, downloads from the API, prints, and goes into a deck. Labels and month names come
in translated from the caller. ``rtl`` mirrors the chart: time runs right to left and the
labels stand on the right, as a Persian reader expects.
"""

from __future__ import annotations

import datetime
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

from keyplan.core.bidi import isolate
from keyplan.relationships.map_svg import FONT, SVG_NS, fit

MARGIN = 16
LABEL_W = 280.0
CHART_W = 880.0
ROW_H = 26.0
GROUP_H = 28.0
BAR_H = 14.0
INK, MUTED, GRID = "#1f2937", "#6b7280", "#e5e7eb"
OVERDUE = ("#fecaca", "#b91c1c")
STATUS_COLOURS = {  # fill, border
    "not_started": ("#dbeafe", "#1d4ed8"),
    "in_progress": ("#93c5fd", "#1d4ed8"),
    "blocked": ("#fed7aa", "#c2410c"),
    "done": ("#bbf7d0", "#15803d"),
    "dropped": ("#f3f4f6", "#9ca3af"),
}
TODAY = "#7c3aed"
ARROW = "#475569"
MAX_ROWS = 600

DEFAULT_LABELS = {
    "title": "Timeline", "legend": "Legend", "today": "today", "overdue": "overdue", "milestone": "milestone",
    "dependency": "depends on", "goal_due": "goal due", "no_dates": "no dates", "empty": "No goals or actions yet.",
    "not_started": "Not started", "in_progress": "In progress", "blocked": "Blocked", "done": "Done", "dropped": "Dropped",
    "more": "{n} more rows not shown.",
}


@dataclass(frozen=True)
class Bar:
    id: int
    label: str
    status: str
    start: datetime.date | None = None
    due: datetime.date | None = None
    milestone: bool = False
    overdue: bool = False
    depends_on: tuple[int, ...] = ()
    owner: str = ""
    href: str | None = None


@dataclass(frozen=True)
class Group:
    """A goal with its actions; ``heading`` (an account's name) starts a new block on the portfolio chart."""

    label: str
    due: datetime.date | None = None
    overdue: bool = False
    bars: tuple[Bar, ...] = ()
    heading: str = ""
    href: str | None = None


@dataclass
class _Scale:
    start: datetime.date
    end: datetime.date
    left: float
    width: float
    rtl: bool
    total: float = field(init=False)

    def __post_init__(self):
        self.total = max((self.end - self.start).days, 1)

    def x(self, day: datetime.date) -> float:
        offset = (day - self.start).days / self.total * self.width
        return self.left + (self.width - offset if self.rtl else offset)


def _n(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _el(tag: str, content: str | None = None, **attrs) -> str:
    parts = "".join(
        f" {name.rstrip('_').replace('_', '-')}={quoteattr(_n(v) if isinstance(v, float) else str(v))}"
        for name, v in attrs.items() if v is not None and v is not False
    )
    return f"<{tag}{parts}/>" if content is None else f"<{tag}{parts}>{content}</{tag}>"


def _text(x: float, y: float, text: str, **attrs) -> str:
    return _el("text", escape(text), x=float(x), y=float(y), **attrs)


def _direction(text: str) -> str | None:
    """The direction of the first strong character of ``text`` ("ltr", "rtl"), None when it has none."""
    for ch in text:
        kind = unicodedata.bidirectional(ch)
        if kind == "L":
            return "ltr"
        if kind in ("R", "AL"):
            return "rtl"
    return None


def _label(x: float, y: float, text: str, rtl: bool, **attrs) -> str:
    """A label that starts at ``x`` on the chart's reading side, whatever the direction of its own text:
    English on a Persian chart keeps its full stop at its end and still lines up on the right."""
    own = _direction(text)
    if own is not None and own != ("rtl" if rtl else "ltr"):
        attrs.update(direction=own, text_anchor="end")
    return _text(x, y, text, **attrs)


def _month_starts(start: datetime.date, end: datetime.date) -> list[datetime.date]:
    month = start.replace(day=1)
    if month < start:
        month = (month + datetime.timedelta(days=32)).replace(day=1)
    months = []
    while month <= end:
        months.append(month)
        month = (month + datetime.timedelta(days=32)).replace(day=1)
    return months


def _range(groups: Sequence[Group], today: datetime.date) -> tuple[datetime.date, datetime.date]:
    days = [today]
    for g in groups:
        days += [d for d in (g.due,) if d]
        for b in g.bars:
            days += [d for d in (b.start, b.due) if d]
    first, last = min(days), max(days)
    # A little room on both sides, whole months, at least three months shown.
    first = (first - datetime.timedelta(days=7)).replace(day=1)
    last = last + datetime.timedelta(days=14)
    if (last - first).days < 90:
        last = first + datetime.timedelta(days=90)
    return first, last


def _diamond(cx: float, cy: float, r: float, **attrs) -> str:
    points = f"{_n(cx)},{_n(cy - r)} {_n(cx + r)},{_n(cy)} {_n(cx)},{_n(cy + r)} {_n(cx - r)},{_n(cy)}"
    return _el("polygon", points=points, **attrs)


def _legend(labels: Mapping[str, str], x0: float, width: float, rtl: bool) -> tuple[str, float]:
    size = 11.0
    items = []
    for status in ("not_started", "in_progress", "blocked", "done"):
        fill, stroke = STATUS_COLOURS[status]
        items.append((_el("rect", x=0.0, y=-9.0, width=22.0, height=12.0, rx=3, fill=fill, stroke=stroke), labels[status]))
    items.append((_el("rect", x=0.0, y=-9.0, width=22.0, height=12.0, rx=3, fill=OVERDUE[0], stroke=OVERDUE[1]), labels["overdue"]))
    items.append((_diamond(11, -3, 6, fill="#fde68a", stroke="#92400e"), labels["milestone"]))
    items.append((_el("path", d="M0,-3 H18", stroke=ARROW, stroke_width=1.5, fill="none", marker_end="url(#kp-gantt-arrow)"),
                  labels["dependency"]))
    items.append((_el("path", d="M11,-10 V4", stroke=TODAY, stroke_width=2, stroke_dasharray="4 3"), labels["today"]))
    parts, x, y = [], 0.0, 12.0
    for swatch, label in items:
        item_w = 34 + len(label) * 6.2 + 16
        if x > 0 and x + item_w > width:
            x, y = 0.0, y + 20
        left = x0 + width - x - 24 if rtl else x0 + x
        parts.append(f'<g class="legend-item" transform="translate({_n(left)},{_n(y)})">{swatch}'
                     + _text(-6 if rtl else 28, 2, label, font_size=size, fill=INK) + "</g>")
        x += item_w
    return f'<g class="legend" aria-label={quoteattr(labels["legend"])}>' + "".join(parts) + "</g>", y + 10


def render_gantt(
    groups: Sequence[Group],
    *,
    today: datetime.date,
    title: str = "",
    subtitle: str = "",
    labels: Mapping[str, str] | None = None,
    month_label: Callable[[datetime.date], str] = lambda d: d.strftime("%b %Y"),
    rtl: bool = False,
    day_label: Callable[[datetime.date], str] = datetime.date.isoformat,
    more_label: Callable[[int], str] | None = None,
) -> str:
    """The timeline as an SVG document (a string starting with ``<svg``): a row per goal, its actions under it."""
    labels = {**DEFAULT_LABELS, **(labels or {})}
    width = LABEL_W + CHART_W + 2 * MARGIN
    label_x = width - MARGIN if rtl else MARGIN  # where label texts start (text-anchor start: right edge in rtl)
    chart_left = MARGIN if rtl else MARGIN + LABEL_W
    start, end = _range(groups, today)
    scale = _Scale(start, end, chart_left, CHART_W, rtl)

    head, y = [], float(MARGIN)
    if title:
        head.append(_label(label_x, y + 16, title, rtl, font_size=18, font_weight="700", fill=INK, class_="gantt-title"))
        y += 24
    if subtitle:
        head.append(_text(label_x, y + 12, subtitle, font_size=11, fill=MUTED, class_="gantt-subtitle"))
        y += 18
    legend, legend_h = _legend(labels, MARGIN, width - 2 * MARGIN, rtl)
    head.append(f'<g transform="translate(0,{_n(y + 4)})">{legend}</g>')
    y += legend_h + 14

    # Rows: group headings (accounts), goals, actions; bounded so a huge portfolio stays a drawing.
    rows: list[tuple[str, object, object]] = []
    for group in groups:
        if group.heading:
            rows.append(("heading", group, None))
        rows.append(("goal", group, None))
        rows += [("bar", group, bar) for bar in group.bars]
    hidden = max(0, len(rows) - MAX_ROWS)
    rows = rows[:MAX_ROWS]

    axis_y = y + 16
    top = axis_y + 8
    heights = [GROUP_H if kind in ("heading", "goal") else ROW_H for kind, _, _ in rows]
    chart_h = sum(heights) or ROW_H
    bottom = top + chart_h

    body = []
    # Month grid and labels.
    grid = []
    months = _month_starts(start, end)
    # Label every month while there is room for it, else every second, third or sixth.
    every = next((n for n in (1, 2, 3, 6, 12) if CHART_W / max(len(months), 1) * n >= 64), 12)
    for month in months:
        mx = scale.x(month)
        labelled = month.month % every == 1 % every if every > 1 else True
        grid.append(_el("path", d=f"M{_n(mx)},{_n(axis_y - (12 if labelled else 4))} V{_n(bottom)}", stroke=GRID, stroke_width=1))
        if labelled:
            grid.append(_text(mx + (-4 if rtl else 4), axis_y, month_label(month), font_size=10, fill=MUTED))
    body.append('<g class="months">' + "".join(grid) + "</g>")

    positions: dict[int, tuple[float, float, float]] = {}  # bar id → (x_start, x_end, y_centre)
    drawn, row_y = [], top
    for (kind, group, bar), h in zip(rows, heights, strict=True):
        cy = row_y + h / 2
        if kind == "heading":
            drawn.append('<g class="account-heading">'
                         + _el("rect", x=float(MARGIN), y=row_y + 2, width=width - 2 * MARGIN, height=h - 4, fill="#eef2ff", rx=4)
                         + _label(label_x + (-6 if rtl else 6), cy + 4, fit(group.heading, LABEL_W + CHART_W - 20, 13), rtl,
                                  font_size=13, font_weight="700", fill="#3730a3") + "</g>")
        elif kind == "goal":
            text = _label(label_x, cy + 4, fit(group.label, LABEL_W - 14, 12), rtl, font_size=12, font_weight="700",
                          fill=OVERDUE[1] if group.overdue else INK)
            if group.href:
                text = f"<a href={quoteattr(group.href)}>{text}</a>"
            parts = [_el("path", d=f"M{_n(MARGIN)},{_n(row_y + h)} H{_n(width - MARGIN)}", stroke=GRID), text]
            if group.due:
                colour = OVERDUE[1] if group.overdue else "#92400e"
                parts.append(f'<g class="goal-due"><title>{escape(labels["goal_due"])}: {escape(isolate(day_label(group.due)))}</title>'
                             + _el("path", d=f"M{_n(scale.x(group.due))},{_n(cy - 8)} V{_n(cy + 8)}", stroke=colour, stroke_width=2)
                             + _diamond(scale.x(group.due), cy - 8, 4, fill=colour) + "</g>")
            drawn.append(f'<g class="goal{" overdue" if group.overdue else ""}">' + "".join(parts) + "</g>")
        else:
            drawn.append(_bar(bar, scale, label_x, cy, labels, positions, day_label))
        row_y += h

    arrows = []
    for kind, _group, bar in rows:
        if kind != "bar" or bar.id not in positions:
            continue
        _x0, _x1, cy = positions[bar.id]
        for prerequisite in bar.depends_on:
            if prerequisite not in positions:
                continue
            px0, px1, py = positions[prerequisite]
            x_from = px0 if rtl else px1  # the end of the prerequisite
            x_to = positions[bar.id][1] if rtl else positions[bar.id][0]  # the start of this one
            step = -8 if rtl else 8
            if (x_to - x_from) * (1 if not rtl else -1) >= 2 * abs(step):
                d = f"M{_n(x_from)},{_n(py)} H{_n(x_from + step)} V{_n(cy)} H{_n(x_to - step / 2)}"
            else:  # the next one starts before this one ends: go round, between the rows
                between = cy - ROW_H / 2 if cy > py else cy + ROW_H / 2
                d = (f"M{_n(x_from)},{_n(py)} H{_n(x_from + step)} V{_n(between)} H{_n(x_to - step)} V{_n(cy)} "
                     f"H{_n(x_to - step / 2)}")
            arrows.append(_el("path", d=d, fill="none", stroke=ARROW, stroke_width=1.3, marker_end="url(#kp-gantt-arrow)",
                              class_="dependency", data_from=prerequisite, data_to=bar.id))
    tx = scale.x(today)
    today_line = (f'<g class="today"><title>{escape(labels["today"])}: {escape(isolate(day_label(today)))}</title>'
                  # From under the month names to under the last row, where its word stands clear of every bar.
                  + _el("path", d=f"M{_n(tx)},{_n(top)} V{_n(bottom + 4)}", stroke=TODAY, stroke_width=2, stroke_dasharray="5 4")
                  + _text(tx, bottom + 16, labels["today"], font_size=10, fill=TODAY, text_anchor="middle") + "</g>")
    body += ['<g class="rows">' + "".join(drawn) + "</g>", '<g class="dependencies">' + "".join(arrows) + "</g>", today_line]
    if not groups:
        body.append(_text(label_x, top + 18, labels["empty"], font_size=13, fill=MUTED, class_="empty"))
    if hidden:
        body.append(_text(label_x, bottom + 36, more_label(hidden) if more_label else labels["more"].format(n=hidden), font_size=11, fill=MUTED, class_="more"))
    height = bottom + (48 if hidden else 24) + MARGIN
    accessible = " · ".join(p for p in (labels["title"], title) if p)
    return (
        f'<svg xmlns="{SVG_NS}" version="1.1" class="plan-gantt" role="img" aria-labelledby="kp-gantt-title" '
        f'width="{_n(width)}" height="{_n(height)}" viewBox="0 0 {_n(width)} {_n(height)}" '
        f'font-family={quoteattr(FONT)} direction="{"rtl" if rtl else "ltr"}" data-rows="{len(rows)}">'
        f'<title id="kp-gantt-title">{escape(accessible)}</title>'
        '<defs><marker id="kp-gantt-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        f'markerUnits="userSpaceOnUse" orient="auto"><path d="M0,1 L10,5 L0,9 z" fill="{ARROW}"/></marker></defs>'
        + _el("rect", class_="background", x=0.0, y=0.0, width=float(width), height=float(height), fill="#ffffff")
        + "".join(head) + "".join(body) + "</svg>"
    )


def _bar(bar: Bar, scale: _Scale, label_x: float, cy: float, labels: Mapping[str, str],
         positions: dict[int, tuple[float, float, float]],
         day_label: Callable[[datetime.date], str] = datetime.date.isoformat) -> str:
    fill, stroke = OVERDUE if bar.overdue else STATUS_COLOURS.get(bar.status, STATUS_COLOURS["not_started"])
    # A tooltip has no markup: the names and each day are isolated, so that a Latin name or a range keeps its order
    # in a right-to-left sentence (keyplan.core.bidi).
    tooltip = " · ".join(p for p in (
        isolate(bar.label), labels.get(bar.status, bar.status), isolate(bar.owner),
        f"{isolate(day_label(bar.start)) if bar.start else '…'} – {isolate(day_label(bar.due)) if bar.due else '…'}",
        labels["overdue"] if bar.overdue else "") if p)
    label = _label(label_x + (-14 if scale.rtl else 14), cy + 4, fit(bar.label, LABEL_W - 26, 11), scale.rtl,
                   font_size=11, fill=INK)
    if bar.href:
        label = f"<a href={quoteattr(bar.href)}>{label}</a>"
    parts = [_el("title", escape(tooltip)), label]
    if bar.milestone or (bar.due and not bar.start) or (bar.start and bar.due and bar.start == bar.due):
        day = bar.due or bar.start
        mx = scale.x(day)
        fill, stroke = (OVERDUE if bar.overdue else STATUS_COLOURS["done"] if bar.status == "done"
                        else ("#fde68a", "#92400e"))
        parts.append(_diamond(mx, cy, 7, fill=fill, stroke=stroke, stroke_width=1.5, class_="milestone"))
        positions[bar.id] = (mx - 7, mx + 7, cy)
    elif bar.start and bar.due:
        a, b = scale.x(bar.start), scale.x(bar.due + datetime.timedelta(days=1))
        x0, x1 = min(a, b), max(a, b)
        parts.append(_el("rect", class_="bar", x=x0, y=cy - BAR_H / 2, width=max(x1 - x0, 3.0), height=BAR_H, rx=3,
                         fill=fill, stroke=stroke, stroke_width=1.2,
                         stroke_dasharray="3 2" if bar.status == "dropped" else None))
        positions[bar.id] = (x0, x1, cy)
    elif bar.start:
        sx = scale.x(bar.start)
        parts.append(_el("path", d=f"M{_n(sx)},{_n(cy - 6)} V{_n(cy + 6)}", stroke=stroke, stroke_width=3, class_="start-only"))
        positions[bar.id] = (sx, sx, cy)
    else:
        parts.append(_text(scale.left + (scale.width - 6 if scale.rtl else 6), cy + 4, labels["no_dates"],
                           font_size=10, fill=MUTED, font_style="italic"))
    classes = f"action status-{bar.status}" + (" overdue" if bar.overdue else "") + (" is-milestone" if bar.milestone else "")
    return f'<g class="{classes}" id="kp-action-{bar.id}" data-action="{bar.id}">' + "".join(parts) + "</g>"
