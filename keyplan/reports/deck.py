"""The account review deck (.pptx): one account's review from live data, on the company's template.

Slides, in order: title; account snapshot (key figures, key status, health, team); revenue and margin
trend (a native column chart); ABC history and selection scores (a native bar chart); the stakeholder
map (native shapes from the map's own layout); who to win; plan goals; the plan's timeline (native
shapes); opportunities; whitespace; risks and next steps. A section whose area has no data yet keeps
its slide and says so. Texts are in the active language (the reader's on the web and the API),
numbers through `keyplan.core.numbers`. The data comes from `deck_data.gather()`; the look from
`deck_template` (``KEYPLAN_DECK_TEMPLATE``).
"""

from __future__ import annotations

import datetime
import io
import math
from dataclasses import dataclass
from typing import IO, Any

from babel.dates import format_date
from django.utils import translation
from django.utils.translation import get_language_bidi
from django.utils.translation import gettext as _
from pptx.chart.data import CategoryChartData
from pptx.dml.color import RGBColor
from pptx.enum.dml import MSO_LINE_DASH_STYLE
from pptx.enum.chart import XL_CHART_TYPE, XL_LEGEND_POSITION
from pptx.enum.shapes import MSO_CONNECTOR, MSO_SHAPE
from pptx.enum.text import MSO_ANCHOR, PP_ALIGN
from pptx.util import Emu, Inches, Pt

from keyplan.core import dates, numbers
from keyplan.reports import deck_template
from keyplan.reports.deck_data import DeckData
from keyplan.reports.deck_template import Area
from keyplan.scoring.tables import QUADRANT_LABELS

CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
INK, MUTED, GRID = RGBColor(0x1F, 0x29, 0x37), RGBColor(0x6B, 0x72, 0x80), RGBColor(0xE5, 0xE7, 0xEB)
HEAD_FILL, ZEBRA = RGBColor(0x1F, 0x29, 0x37), RGBColor(0xF3, 0xF4, 0xF6)
REVENUE, MARGIN = RGBColor(0x1D, 0x4E, 0xD8), RGBColor(0x15, 0x80, 0x3D)
BAND_COLOURS = {"green": RGBColor(0x15, 0x80, 0x3D), "amber": RGBColor(0xB4, 0x53, 0x09), "red": RGBColor(0xB9, 0x1C, 0x1C)}
SENTIMENT = {"supporter": ("DCFCE7", "15803D"), "neutral": ("F1F5F9", "64748B"), "critic": ("FEE2E2", "B91C1C")}
POWER_LINE = {"high": 2.25, "medium": 1.25, "low": 0.75}
STATUS = {"not_started": ("DBEAFE", "1D4ED8"), "in_progress": ("93C5FD", "1D4ED8"), "blocked": ("FED7AA", "C2410C"),
          "done": ("BBF7D0", "15803D"), "dropped": ("F3F4F6", "9CA3AF")}
OVERDUE = ("FECACA", "B91C1C")
CELL_FILL = {"in_use": "D1FAE5", "open_opportunity": "DBEAFE", "competitor": "FEE2E2", "not_relevant": "F3F4F6",
             "whitespace": "FFFBEB"}
MAX_TEXT = 120  # characters of free text in a table cell
MAX_GRID = 8  # divisions and product lines on the whitespace slide


@dataclass
class Built:
    """What `build()` wrote: the slide titles, for the CLI's line and the tests."""

    titles: list[str]
    account: str

    def as_dict(self) -> dict[str, Any]:
        return {"account": self.account, "slides": len(self.titles), "titles": self.titles}


def filename(data: DeckData) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in data.account.external_id)[:60]
    return f"keyplan-review-{safe}-{data.today.isoformat()}.pptx"


def _hex(value: str) -> RGBColor:
    return RGBColor.from_string(value)


def _clip(text: str, limit: int = MAX_TEXT) -> str:
    text = " ".join(str(text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _day(day: datetime.date | None) -> str:
    """A day as the reader writes it: in Persian the Solar Hijri calendar with Persian month names and digits
    (``keyplan.core.dates``, as the pages), in the other languages CLDR's medium date."""
    if day is None:
        return "—"
    if dates.uses_solar_hijri():
        return dates.format_date(day, "DATE_FORMAT")
    return format_date(day, "medium", locale=translation.to_locale(translation.get_language() or "en"))


def _month(day: datetime.date) -> str:
    """A calendar month of the ledger (revenue is counted by Gregorian month) in the reader's language and digits: a
    Solar Hijri month would straddle two of them, so in Persian it is the Gregorian month's Persian name."""
    return _digits(format_date(day, "MMM yy", locale=translation.to_locale(translation.get_language() or "en")))


def _digits(text: str) -> str:
    """Figures written by Python (a year, a month's number) in the reader's digits: Persian ones in Persian."""
    return text.translate(dates.PERSIAN_DIGITS) if dates.uses_solar_hijri() else text


class _Deck:
    def __init__(self, data: DeckData, presentation):
        self.data = data
        self.prs = presentation
        self.rtl = get_language_bidi()
        self.title_layout = deck_template.title_layout(presentation)
        self.layout = deck_template.content_layout(presentation)
        self.area = deck_template.body_area(presentation, self.layout)
        self.titles: list[str] = []

    # ------------------------------------------------------------ text

    def paragraph(self, paragraph, text: str, *, size: float = 14, bold: bool = False, colour: RGBColor | None = None,
                  align=None) -> None:
        run = paragraph.add_run()
        run.text = str(text)
        run.font.size = Pt(size)
        run.font.bold = bold
        if colour is not None:
            run.font.color.rgb = colour
        if self.rtl:
            paragraph._p.get_or_add_pPr().set("rtl", "1")
            paragraph.alignment = PP_ALIGN.RIGHT if align in (None, PP_ALIGN.LEFT) else align
        elif align is not None:
            paragraph.alignment = align

    def text(self, slide, area: Area, lines: list, *, size: float = 14):
        """A text box; ``lines`` are texts or (text, options) pairs with size, bold, colour."""
        box = slide.shapes.add_textbox(area.left, area.top, area.width, area.height)
        frame = box.text_frame
        frame.word_wrap = True
        for index, line in enumerate(lines):
            text, options = (line, {}) if isinstance(line, str) else line
            paragraph = frame.paragraphs[0] if index == 0 else frame.add_paragraph()
            self.paragraph(paragraph, text, **{"size": size, **options})
            paragraph.space_after = Pt(4)
        return box

    def empty(self, slide, message: str, area: Area | None = None) -> None:
        """The section has no data yet: say so where its content would be."""
        area = area or self.area
        self.text(slide, Area(area.left, area.top + Inches(0.3), area.width, Inches(1.2)),
                  [(message, {"colour": MUTED, "size": 18})])

    # ------------------------------------------------------------ slides

    def slide(self, title: str):
        slide = self.prs.slides.add_slide(self.layout)
        self.titles.append(title)
        for ph in list(slide.placeholders):
            if ph.placeholder_format.type in deck_template.TITLE_TYPES:
                ph.text_frame.text = ""
                self.paragraph(ph.text_frame.paragraphs[0], title, size=28, bold=True)
            else:  # the body marker and any other empty placeholder: nothing to fill, nothing to show
                ph._element.getparent().remove(ph._element)
        return slide

    def table(self, slide, area: Area, header: list[str], rows: list[list[str]], widths: list[float] | None = None, *,
              size: float = 11, fills: dict[tuple[int, int], str] | None = None):
        count = len(rows) + 1
        row_height = min(Inches(0.4), int(area.height / count))
        shape = slide.shapes.add_table(count, len(header), area.left, area.top, area.width, row_height * count)
        table = shape.table
        if self.rtl:
            table._tbl.tblPr.set("rtl", "1")
        widths = widths or [1] * len(header)
        total = sum(widths)
        for index, width in enumerate(widths):
            table.columns[index].width = int(area.width * width / total)
        for r, values in enumerate([header, *rows]):
            table.rows[r].height = row_height
            for c, value in enumerate(values):
                cell = table.cell(r, c)
                cell.text_frame.text = ""
                cell.margin_top = cell.margin_bottom = Emu(Inches(0.03))
                cell.vertical_anchor = MSO_ANCHOR.MIDDLE
                self.paragraph(cell.text_frame.paragraphs[0], value, size=size, bold=r == 0,
                               colour=RGBColor(0xFF, 0xFF, 0xFF) if r == 0 else INK)
                cell.fill.solid()
                fill = (fills or {}).get((r - 1, c))
                cell.fill.fore_color.rgb = HEAD_FILL if r == 0 else _hex(fill) if fill else (
                    ZEBRA if r % 2 == 0 else RGBColor(0xFF, 0xFF, 0xFF))
        return table

    def split(self, ratio: float = 0.5, gap: float = 0.3) -> tuple[Area, Area]:
        a = self.area
        first = int((a.width - Inches(gap)) * ratio)
        left = Area(a.left, a.top, first, a.height)
        right = Area(a.left + first + int(Inches(gap)), a.top, a.width - first - int(Inches(gap)), a.height)
        return (right, left) if self.rtl else (left, right)

    # ------------------------------------------------------------ 1 title

    def title_slide(self) -> None:
        data = self.data
        slide = self.prs.slides.add_slide(self.title_layout)
        self.titles.append(data.account.name)
        lines = [_("Account review"), _day(data.today)]
        if data.prepared_by:
            lines.append(_("Prepared by %(user)s") % {"user": data.prepared_by})
        subtitle_done = False
        for ph in list(slide.placeholders):
            kind = ph.placeholder_format.type
            if kind in deck_template.TITLE_TYPES:
                ph.text_frame.text = ""
                self.paragraph(ph.text_frame.paragraphs[0], data.account.name, size=40, bold=True)
            elif not subtitle_done and ph.has_text_frame and kind not in (16, 15, 13):  # not date, footer, number
                ph.text_frame.text = ""
                for index, line in enumerate(lines):
                    paragraph = ph.text_frame.paragraphs[0] if index == 0 else ph.text_frame.add_paragraph()
                    self.paragraph(paragraph, line, size=20 if index == 0 else 16, colour=INK if index == 0 else MUTED)
                subtitle_done = True
            else:
                ph._element.getparent().remove(ph._element)
        if not subtitle_done:
            height = self.prs.slide_height
            self.text(slide, Area(Inches(0.8), int(height * 0.62), self.prs.slide_width - Inches(1.6), Inches(1.5)), lines)

    # ------------------------------------------------------------ 2 snapshot

    def snapshot(self) -> None:
        data, account, value = self.data, self.data.account, self.data.value
        slide = self.slide(_("Account snapshot"))
        health = data.health
        tiles = [
            (_("Revenue, last 12 months"), numbers.money(value.revenue_12m, data.currency, 0)),
            (_("Growth"), numbers.percent(value.growth, 0, signed=True) if value.growth is not None else "—"),
            (_("Margin"), numbers.percent(value.margin, 0) if value.margin is not None else "—"),
            (_("ARR"), numbers.money(value.arr, data.currency, 0) if value.arr is not None else "—"),
            (_("Health"), f"{numbers.number(health['score'])} / {numbers.number(100)}"),
        ]
        a = self.area
        gap = int(Inches(0.15))
        width = int((a.width - gap * (len(tiles) - 1)) / len(tiles))
        order = list(reversed(tiles)) if self.rtl else tiles
        from keyplan.health.models import Band

        bands = {value: str(label) for value, label in Band.choices}
        for index, (label, shown) in enumerate(order):
            left = a.left + index * (width + gap)
            tile = slide.shapes.add_shape(MSO_SHAPE.ROUNDED_RECTANGLE, left, a.top, width, Inches(1.1))
            tile.fill.solid()
            tile.fill.fore_color.rgb = ZEBRA
            tile.line.color.rgb = GRID
            colour = BAND_COLOURS.get(health["band"]) if label == _("Health") else INK
            frame = tile.text_frame
            frame.word_wrap = True
            self.paragraph(frame.paragraphs[0], label, size=12, colour=MUTED, align=PP_ALIGN.CENTER)
            self.paragraph(frame.add_paragraph(), shown, size=22, bold=True, colour=colour, align=PP_ALIGN.CENTER)
            if label == _("Health"):
                self.paragraph(frame.add_paragraph(), bands.get(health["band"], health["band"]), size=11, colour=colour,
                               align=PP_ALIGN.CENTER)
        below = Area(a.left, a.top + Inches(1.35), a.width, a.height - Inches(1.35))
        facts_area, team_area = self._halves(below, 0.42)
        facts = [
            (_("Key status"), str(account.get_tier_display())),
            (_("Lifecycle"), str(account.get_lifecycle_display())),
            (_("Industry"), str(account.get_industry_display()) if account.industry else "—"),
            (_("Country"), str(account.country.name) if account.country else "—"),
            (_("External id"), account.external_id),
        ]
        if health.get("endangered_reasons"):
            facts.append((_("Endangered"), _clip("; ".join(health["endangered_reasons"]), 80)))
        self.table(slide, facts_area, [_("Profile"), ""], [[k, v] for k, v in facts], [1, 1.6], size=12)
        if data.team:
            rows = [[str(m.user), str(m.get_role_display()), _clip(m.responsibilities, 60) or "—"] for m in data.team[:8]]
            self.table(slide, team_area, [_("Account team"), _("Role"), _("Responsibilities")], rows, [1.2, 1.2, 2], size=11)
        else:
            self.empty(slide, _("Nobody is on this account's team yet."), team_area)

    def _halves(self, area: Area, ratio: float) -> tuple[Area, Area]:
        gap = int(Inches(0.3))
        first = int((area.width - gap) * ratio)
        left = Area(area.left, area.top, first, area.height)
        right = Area(area.left + first + gap, area.top, area.width - first - gap, area.height)
        return (right, left) if self.rtl else (left, right)

    # ------------------------------------------------------------ 3 revenue

    def revenue(self) -> None:
        data = self.data
        slide = self.slide(_("Revenue and margin trend"))
        if not data.has_revenue:
            self.empty(slide, _("No revenue imported for this account yet."))
            return
        chart_data = CategoryChartData(number_format="#,##0")
        chart_data.categories = [_month(m.month) for m in data.months]
        chart_data.add_series(_("Revenue (%(currency)s)") % {"currency": data.currency}, [round(m.revenue, 2) for m in data.months])
        chart_data.add_series(_("Margin (%(currency)s)") % {"currency": data.currency}, [round(m.margin, 2) for m in data.months])
        a = self.area
        chart = slide.shapes.add_chart(XL_CHART_TYPE.COLUMN_CLUSTERED, a.left, a.top, a.width,
                                       a.height - Inches(0.6), chart_data).chart
        chart.has_legend = True
        chart.legend.position = XL_LEGEND_POSITION.BOTTOM
        chart.legend.include_in_layout = False
        chart.value_axis.has_major_gridlines = True
        chart.value_axis.major_gridlines.format.line.color.rgb = GRID
        chart.value_axis.tick_labels.number_format = "#,##0"
        chart.value_axis.tick_labels.number_format_is_linked = False
        chart.category_axis.tick_labels.font.size = Pt(10)
        chart.value_axis.tick_labels.font.size = Pt(10)
        if self.rtl:
            chart.category_axis.reverse_order = True
        for series, colour in zip(chart.plots[0].series, (REVENUE, MARGIN)):
            series.format.fill.solid()
            series.format.fill.fore_color.rgb = colour
        chart.plots[0].gap_width = 60
        value = data.value
        summary = _("Last 12 months: %(revenue)s revenue, margin %(margin)s; the 12 months before: %(before)s.") % {
            "revenue": numbers.money(value.revenue_12m, data.currency, 0),
            "margin": numbers.percent(value.margin, 0) if value.margin is not None else "—",
            "before": numbers.money(value.revenue_before, data.currency, 0)}
        self.text(slide, Area(a.left, a.bottom - Inches(0.5), a.width, Inches(0.5)), [(summary, {"colour": MUTED})], size=13)

    # ------------------------------------------------------------ 4 ABC and scores

    def abc_and_scores(self) -> None:
        data = self.data
        slide = self.slide(_("ABC history and selection scores"))
        left, right = self.split(0.35)
        if data.abc:
            self.table(slide, Area(left.left, left.top, left.width, min(left.height, Inches(0.4) * (len(data.abc[-8:]) + 1))),
                       [_("Year"), _("ABC class")], [[_digits(str(year)), cls] for year, cls in data.abc[-8:]], size=12,
                       fills={(i, 1): {"A": "DBEAFE", "B": "FEF3C7", "C": "F3F4F6"}[cls] for i, (_y, cls) in enumerate(data.abc[-8:])})
        else:
            self.empty(slide, _("No ABC classes yet: they come with the revenue import."), left)
        scored = [(name, group, score) for name, group, score in data.scores if score is not None]
        if not scored:
            self.empty(slide, _("No selection scores yet."), right)
            return
        ranking = data.ranking or {}
        quadrants = {key: str(label) for key, label in QUADRANT_LABELS.items()}
        if ranking.get("rank"):
            line = _("Rank %(rank)s of %(ranked)s · growth %(growth)s · harmony %(harmony)s · %(quadrant)s") % {
                "rank": numbers.number(ranking["rank"]), "ranked": numbers.number(data.ranked),
                "growth": numbers.number(ranking["growth_total"], 1), "harmony": numbers.number(ranking["harmony_total"], 1),
                "quadrant": quadrants.get(ranking.get("quadrant"), "—")}
        else:
            line = _("Not ranked yet: a score is missing.")
        self.text(slide, Area(right.left, right.top, right.width, Inches(0.5)), [(line, {"bold": True})], size=14)
        chart_data = CategoryChartData(number_format="0")
        chart_data.categories = [_clip(f"{name} ({group})", 40) for name, group, _s in scored]
        chart_data.add_series(_("Score"), [score for _n, _g, score in scored])
        chart = slide.shapes.add_chart(XL_CHART_TYPE.BAR_CLUSTERED, right.left, right.top + Inches(0.55), right.width,
                                       right.height - Inches(0.55), chart_data).chart
        chart.has_legend = False
        axis = chart.value_axis
        axis.minimum_scale, axis.maximum_scale, axis.major_unit = 0, 10, 2
        axis.major_gridlines.format.line.color.rgb = GRID
        chart.category_axis.reverse_order = True  # the first criterion on top, as in the list
        chart.category_axis.tick_labels.font.size = Pt(10)
        plot = chart.plots[0]
        plot.gap_width = 50
        plot.has_data_labels = True
        plot.data_labels.font.size = Pt(10)
        plot.series[0].format.fill.solid()
        plot.series[0].format.fill.fore_color.rgb = REVENUE

    # ------------------------------------------------------------ 5 stakeholder map

    def stakeholder_map(self) -> None:
        from keyplan.relationships.analysis import map_layout

        data = self.data
        slide = self.slide(_("Stakeholder map"))
        if not data.people:
            self.empty(slide, _("No stakeholders yet."))
            return
        layout = map_layout(data.people)
        a = self.area
        legend_h = int(Inches(0.35))
        scale = min(a.width / layout.width, (a.height - legend_h) / layout.height) if layout.width and layout.height else 1
        x0 = a.left + (a.width - layout.width * scale) / 2
        y0 = a.top

        def x(value: float) -> int:
            if self.rtl:  # mirrored: the chart reads from the right
                value = layout.width - value
            return int(x0 + value * scale)

        def y(value: float) -> int:
            return int(y0 + value * scale)

        for panel in layout.panels:
            left, right = sorted((x(panel.x), x(panel.x + panel.width)))
            box = slide.shapes.add_shape(MSO_SHAPE.RECTANGLE, left, y(panel.y), right - left, int(panel.height * scale))
            box.fill.solid()
            box.fill.fore_color.rgb = RGBColor(0xF8, 0xFA, 0xFC) if panel.kind == "externals" else RGBColor(0xF1, 0xF5, 0xF9)
            box.line.color.rgb = GRID
            title = panel.title if panel.kind == "organisation" else _("External parties")
            frame = box.text_frame
            frame.vertical_anchor = MSO_ANCHOR.TOP
            frame.margin_top = frame.margin_left = frame.margin_right = Emu(Inches(0.03))
            self.paragraph(frame.paragraphs[0], _clip(title, 40), size=max(6, min(11, 11 * scale * 40)), bold=True, colour=MUTED)
        for polyline in layout.reporting:
            for (x1, y1), (x2, y2) in zip(polyline, polyline[1:]):
                line = slide.shapes.add_connector(MSO_CONNECTOR.STRAIGHT, x(x1), y(y1), x(x2), y(y2))
                line.line.color.rgb = RGBColor(0x94, 0xA3, 0xB8)
                line.line.width = Pt(1)
        ids = set(layout.boxes)
        for influence in data.lines:
            if influence.source in ids and influence.target in ids:
                (sx, sy), (tx, ty) = layout.center(influence.source), layout.center(influence.target)
                line = slide.shapes.add_connector(MSO_CONNECTOR.STRAIGHT, x(sx), y(sy), x(tx), y(ty))
                line.line.color.rgb = _hex("15803D" if influence.positive else "DC2626")
                line.line.width = Pt(1.5)
                line.line.dash_style = MSO_LINE_DASH_STYLE.ROUND_DOT if influence.positive else MSO_LINE_DASH_STYLE.DASH
        size = max(5.0, min(12.0, layout.node_h * scale / 914400 * 72 / 3.2))
        for person in data.people:
            if person.id not in layout.boxes:
                continue
            bx, by = layout.boxes[person.id]
            left, right = sorted((x(bx), x(bx + layout.node_w)))
            node = slide.shapes.add_shape(MSO_SHAPE.ROUNDED_RECTANGLE, left, y(by), right - left, int(layout.node_h * scale))
            fill, stroke = SENTIMENT.get(person.sentiment, SENTIMENT["neutral"])
            node.fill.solid()
            node.fill.fore_color.rgb = _hex(fill)
            node.line.color.rgb = _hex(stroke)
            node.line.width = Pt(POWER_LINE.get(person.power, 1.25))
            frame = node.text_frame
            frame.word_wrap = True
            for side in ("margin_left", "margin_right", "margin_top", "margin_bottom"):
                setattr(frame, side, Emu(Inches(0.02)))
            star = "★ " if person.key_contact else ""
            self.paragraph(frame.paragraphs[0], star + _clip(person.name, 40), size=size,
                           bold=person.power == "high", colour=INK, align=PP_ALIGN.CENTER)
            if person.title:
                self.paragraph(frame.add_paragraph(), _clip(person.title, 40), size=max(5.0, size - 1.5), colour=MUTED,
                               align=PP_ALIGN.CENTER)
        from keyplan.relationships.services import map_labels

        labels = map_labels()
        legend = " · ".join([f"■ {labels['supporter']}", f"■ {labels['neutral']}", f"■ {labels['critic']}",
                             f"★ {labels['key_contact']}", f"— {labels['reports_to']}", f"··· {labels['positive']}",
                             f"– – {labels['negative']}", _("thicker border: higher decision power")])
        self.text(slide, Area(a.left, a.bottom - legend_h, a.width, legend_h), [(legend, {"colour": MUTED})], size=10)

    # ------------------------------------------------------------ 6 who to win

    def who_to_win(self) -> None:
        from keyplan.relationships.templatetags.relationship_tags import reason_text

        data = self.data
        slide = self.slide(_("Who to win"))
        if not data.targets:
            self.empty(slide, _("Nobody to win over: no stakeholders are mapped yet, or everyone who matters is on our side.")
                       if not data.people else _("Nobody to win over: everyone who matters is on our side."))
            return
        rows = []
        for target in data.targets:
            person = target.person
            path = target.best_path
            via = (" → ".join(p.name for p in path.people[:-1]) if path else _("no path yet"))
            rows.append([numbers.number(target.rank), _clip(f"{person.name}, {person.title}" if person.title else person.name, 60),
                         _clip(" ".join(reason_text(r) for r in target.reasons), 140), _clip(via, 60),
                         target.path_owner or "—"])
        self.table(slide, self.area, ["#", _("Stakeholder"), _("Why"), _("Best way in"), _("Owner")], rows,
                   [0.4, 2, 4, 2.2, 1.4], size=11)

    # ------------------------------------------------------------ 7 goals, 8 timeline

    def goals(self) -> None:
        data = self.data
        plan = data.plan
        slide = self.slide(_("Plan goals") + (f" · {plan.plan.period}" if plan else ""))
        if plan is None:
            self.empty(slide, _("No account plan yet."))
            return
        if not plan.goals:
            self.empty(slide, _("The plan has no goals yet."))
            return
        rows, fills = [], {}
        for index, view in enumerate(plan.goals[:12]):
            goal = view.goal
            progress = numbers.percent(view.progress, 0) if view.progress is not None else "—"
            rows.append([_clip(goal.label, 70), str(goal.get_horizon_display()), str(goal.get_status_display()),
                         _day(goal.due), progress, str(goal.owner) if goal.owner else "—"])
            if view.overdue or goal.status == "at_risk":
                fills[(index, 2)] = OVERDUE[0]
            elif goal.status in ("achieved", "on_track"):
                fills[(index, 2)] = STATUS["done"][0]
        self.table(slide, self.area, [_("Goal"), _("Horizon"), _("Status"), _("Due"), _("Progress"), _("Owner")], rows,
                   [4, 1.3, 1.3, 1.3, 1, 1.6], size=11, fills=fills)

    def timeline(self) -> None:
        data = self.data
        plan = data.plan
        slide = self.slide(_("Timeline"))
        if plan is None:
            self.empty(slide, _("No account plan yet."))
            return
        actions = [a for a in plan.actions if a.start or a.due][:14]
        if not actions:
            self.empty(slide, _("No dated actions in the plan yet."))
            return
        today = data.today
        first = min([a.start or a.due for a in actions] + [plan.plan.starts])
        last = max([a.due or a.start for a in actions] + [plan.plan.ends])
        first = first.replace(day=1)
        span = max((last - first).days + 1, 1)
        a = self.area
        label_w = int(a.width * 0.32)
        chart = Area(a.left + (0 if self.rtl else label_w), a.top + int(Inches(0.35)), a.width - label_w,
                     a.height - int(Inches(0.35)))
        label_x = a.right - label_w if self.rtl else a.left
        row_h = min(int(Inches(0.36)), int(chart.height / len(actions)))

        def px(day: datetime.date) -> int:
            offset = int(chart.width * (day - first).days / span)
            return chart.right - offset if self.rtl else chart.left + offset

        month, index = first, 0
        month_w = chart.width * 30.4 / span
        every = max(1, math.ceil(Inches(0.75) / month_w))  # a label every so many months, so that they do not overlap
        while month <= last:
            line = slide.shapes.add_connector(MSO_CONNECTOR.STRAIGHT, px(month), chart.top, px(month), chart.top + row_h * len(actions))
            line.line.color.rgb = GRID
            line.line.width = Pt(0.75)
            if index % every == 0:
                label = slide.shapes.add_textbox(px(month) - (Inches(0.75) if self.rtl else 0), a.top, Inches(0.75), Inches(0.3))
                self.paragraph(label.text_frame.paragraphs[0], _month(month), size=9, colour=MUTED)
            month = (month.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)
            index += 1
        for index, action in enumerate(actions):
            top = chart.top + index * row_h
            box = slide.shapes.add_textbox(label_x, top, label_w - Inches(0.1), row_h)
            box.text_frame.word_wrap = False
            self.paragraph(box.text_frame.paragraphs[0], _clip(action.title, 45), size=10, colour=INK)
            start, due = action.start or action.due, action.due or action.start
            overdue = due < today and action.status not in ("done", "dropped")
            fill, stroke = OVERDUE if overdue else STATUS.get(action.status, STATUS["not_started"])
            left, right = sorted((px(start), px(due + datetime.timedelta(days=1))))
            if action.milestone:
                size = int(row_h * 0.6)
                bar = slide.shapes.add_shape(MSO_SHAPE.DIAMOND, px(due) - size // 2, top + (row_h - size) // 2, size, size)
            else:
                bar = slide.shapes.add_shape(MSO_SHAPE.ROUNDED_RECTANGLE, left, top + int(row_h * 0.2), max(right - left, Inches(0.08)),
                                             int(row_h * 0.6))
            bar.fill.solid()
            bar.fill.fore_color.rgb = _hex(fill)
            bar.line.color.rgb = _hex(stroke)
        if first <= today <= last:
            now = slide.shapes.add_connector(MSO_CONNECTOR.STRAIGHT, px(today), chart.top, px(today), chart.top + row_h * len(actions))
            now.line.color.rgb = RGBColor(0x7C, 0x3A, 0xED)
            now.line.width = Pt(1.5)
        note = _("Bars: actions from start to due, ◆ milestones; red: overdue; the violet line is today.")
        self.text(slide, Area(a.left, chart.top + row_h * len(actions) + Inches(0.1), a.width, Inches(0.4)),
                  [(note, {"colour": MUTED})], size=10)

    # ------------------------------------------------------------ 9 opportunities, 10 whitespace

    def opportunities(self) -> None:
        data = self.data
        slide = self.slide(_("Opportunities"))
        if not data.opportunities:
            self.empty(slide, _("No open opportunities yet. The whitespace map shows where to look."))
            return
        a = self.area
        if data.pipeline is not None:
            p = data.pipeline
            line = _("Open %(open)s, weighted %(weighted)s; won %(won)s in the plan's period.") % {
                "open": numbers.money(p.open, data.currency, 0), "weighted": numbers.money(p.weighted, data.currency, 0),
                "won": numbers.money(p.won, data.currency, 0)}
            self.text(slide, Area(a.left, a.top, a.width, Inches(0.45)), [(line, {"bold": True})], size=14)
        rows = [[_clip(o.name, 50), _clip(o.division, 30) or "—", _clip(o.product_line, 30) or "—",
                 str(o.get_stage_display()), numbers.money(o.amount, data.currency, 0), numbers.percent(o.probability, 0),
                 _day(o.expected_close), str(o.owner) if o.owner else "—"] for o in data.opportunities]
        self.table(slide, Area(a.left, a.top + Inches(0.55), a.width, a.height - Inches(0.55)),
                   [_("Opportunity"), _("Division"), _("Product line"), _("Stage"), _("Amount"), _("Probability"),
                    _("Expected close"), _("Owner")], rows, [3, 1.6, 1.6, 1.1, 1.3, 1, 1.3, 1.4], size=10)

    def whitespace(self) -> None:
        from keyplan.planning.models import CellState

        data = self.data
        slide = self.slide(_("Whitespace"))
        grid = data.whitespace
        if grid is None:
            self.empty(slide, _("No whitespace map yet: it fills from the stakeholders' divisions, the opportunities "
                                "and the revenue by product line."))
            return
        states = {**{value: str(label) for value, label in CellState.choices}, "open_opportunity": _("Open opportunity")}
        divisions = list(grid.divisions[:MAX_GRID])
        products = list(grid.product_lines[:MAX_GRID])
        rows, fills = [], {}
        for r, division in enumerate(divisions):
            row = [_clip(division, 30)]
            for c, product in enumerate(products, start=1):
                cell = grid.cells[(division, product)]
                text = states.get(cell.state, cell.state)
                if cell.state == "competitor" and cell.competitor:
                    text += f": {_clip(cell.competitor, 20)}"
                elif cell.state == "whitespace" and cell.estimated_value:
                    text += f" · {numbers.number(cell.estimated_value)}"
                row.append(text)
                fills[(r, c)] = CELL_FILL.get(cell.state, "FFFFFF")
            rows.append(row)
        a = self.area
        self.table(slide, Area(a.left, a.top, a.width, a.height - Inches(0.5)), [_("Division"), *(_clip(p, 24) for p in products)],
                   rows, [1.4] + [1] * len(products), size=10 if len(products) <= 5 else 8, fills=fills)
        note = _("Whitespace value: %(value)s") % {"value": numbers.money(grid.whitespace_value, data.currency, 0)}
        hidden = len(grid.divisions) - len(divisions) + len(grid.product_lines) - len(products)
        if hidden > 0:
            note += " · " + _("the first %(n)s divisions and product lines are shown; the plan page has them all") % {"n": MAX_GRID}
        self.text(slide, Area(a.left, a.bottom - Inches(0.4), a.width, Inches(0.4)), [(note, {"colour": MUTED})], size=11)

    # ------------------------------------------------------------ 11 risks and next steps

    def risks(self) -> None:
        data = self.data
        slide = self.slide(_("Risks and next steps"))
        left, right = self.split(0.48)
        risks: list = []
        case = data.risk_case
        if case is not None:
            from keyplan.health.services import rule_labels

            reason = "; ".join(rule_labels(case.rules)) or case.reason
            risks.append((_("In the at-risk queue since %(day)s: %(reason)s") % {"day": _day(case.opened_on), "reason": _clip(reason, 100)},
                          {"bold": True}))
            risks.append(_("MRR at risk: %(amount)s") % {"amount": numbers.money(case.mrr_at_risk, data.currency, 0)})
        elif data.health.get("endangered_reasons"):
            risks.append("; ".join(data.health["endangered_reasons"]))
        for target in data.targets:
            if target.urgent or target.risks:
                risks.append(_("%(person)s: %(why)s") % {"person": target.person.name,
                                                        "why": _("blocker with high decision power") if target.urgent
                                                        else _("negatively influenced")})
        for view in (data.plan.goals if data.plan else []):
            if view.goal.status == "at_risk" or view.overdue:
                risks.append(_("Goal at risk or overdue: %(goal)s") % {"goal": _clip(view.goal.label, 80)})
        self.text(slide, Area(left.left, left.top, left.width, Inches(0.45)), [(_("Risks"), {"bold": True, "size": 18})])
        body = Area(left.left, left.top + Inches(0.5), left.width, left.height - Inches(0.5))
        if risks:
            self.text(slide, body, [(f"• {r}", {}) if isinstance(r, str) else (f"• {r[0]}", r[1]) for r in risks[:9]], size=13)
        else:
            self.empty(slide, _("No risks recorded: not in the at-risk queue, no urgent blockers, no goal at risk."), body)
        steps = []
        if case is not None:
            steps += [(a.title, str(a.owner) if a.owner else "—", a.due) for a in case.actions.all() if a.done_on is None]
        steps += [(s.next_step, str(s.next_step_owner) if s.next_step_owner else "—", s.next_step_due) for s in data.next_steps]
        steps += [(a.title, str(a.owner) if a.owner else "—", a.due) for a in data.overdue_actions]
        self.text(slide, Area(right.left, right.top, right.width, Inches(0.45)), [(_("Next steps"), {"bold": True, "size": 18})])
        body = Area(right.left, right.top + Inches(0.5), right.width, right.height - Inches(0.5))
        if steps:
            rows = [[_clip(title, 70), owner, _day(due)] for title, owner, due in steps[:10]]
            fills = {(i, 2): OVERDUE[0] for i, (_t, _o, due) in enumerate(steps[:10]) if due and due < data.today}
            self.table(slide, body, [_("Next step"), _("Owner"), _("Due")], rows, [3, 1.3, 1.2], size=11, fills=fills)
        else:
            self.empty(slide, _("No open next steps: log an interaction with its next step."), body)


def build(data: DeckData, out: IO[bytes] | str, *, template: str | None = None) -> Built:
    """Write the deck of ``data`` to ``out`` (a path or a binary file). Raises deck_template.TemplateError."""
    presentation = deck_template.load(template)
    deck_template.replace_tokens(presentation, {"account": data.account.name, "external_id": data.account.external_id,
                                                "date": _day(data.today), "prepared_by": data.prepared_by})
    deck = _Deck(data, presentation)
    deck.title_slide()
    deck.snapshot()
    deck.revenue()
    deck.abc_and_scores()
    deck.stakeholder_map()
    deck.who_to_win()
    deck.goals()
    deck.timeline()
    deck.opportunities()
    deck.whitespace()
    deck.risks()
    presentation.save(out)
    return Built(titles=deck.titles, account=data.account.external_id)


def build_bytes(data: DeckData, *, template: str | None = None) -> bytes:
    buffer = io.BytesIO()
    build(data, buffer, template=template)
    return buffer.getvalue()


def download(content: bytes, data: DeckData):
    from django.http import HttpResponse

    response = HttpResponse(content, content_type=CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename(data)}"'
    response["Cache-Control"] = "no-store"  # it holds what this user may see
    return response
