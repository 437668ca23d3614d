"""The portfolio workbook (.xlsx): the portfolio analyses of a period as Excel tables and native charts.

Every figure comes from the report functions of `keyplan.revenue.portfolio` (Pareto, ABC,
profitability) and `keyplan.scoring.services` (the scoring matrix), run for a `portfolio.Scope`:
the accounts the user may see, narrowed by the portfolio filters. So the workbook of a team
member holds only their accounts, and its numbers are those of the pages, the API and the CLI.

Sheets: Summary (key figures, the period, the filters, the reporting currency, who and when),
Pareto (table, bars with the cumulative share on a secondary axis and the threshold line), ABC
(counts and shares per year, movements between years), ABC accounts (each account's class per
year), Profitability (table and the profit matrix as a scatter chart), Scoring (the scoring matrix)
and Criteria (both groups with their weights, and those of the latest selection round), the At-risk queue (open
cases in scope) and Plan quality (each key account's current plan and its quality checks).

Numbers are written as numbers with currency and percentage formats, tables have a frozen header
row, sized columns and an autofilter. Every text cell passes `keyplan.core.exports.safe_cell`
(formula injection) and loses the control characters an .xlsx file cannot hold. The sheets are
written row by row (openpyxl's write-only mode), so 100,000 accounts do not sit in memory as cells.
Texts are in the active language (the reader's on the web and the API).
"""

from __future__ import annotations

import datetime
import io
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import IO, Any

from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import get_language_bidi, ngettext
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.chart import BarChart, LineChart, Reference, ScatterChart, Series
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from keyplan.core.exports import safe_cell
from keyplan.revenue import charts, portfolio
from keyplan.revenue.analysis import pareto_chart_series
from keyplan.scoring.tables import QUADRANT_LABELS

CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PARETO_BARS = 40  # bars in the Pareto chart, as on the portfolio page; the other accounts make one bar
SCATTER_POINTS = charts.MAX_POINTS  # accounts placed in the profit matrix chart (the largest), as on the page
MAX_WIDTH = 60
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # what an .xlsx cell cannot hold (openpyxl refuses it)
_SHEET_NAME = re.compile(r"[\[\]:*?/\\]")

PERCENT = "0.0%"
WHOLE = "#,##0"
DECIMAL = "0.00"
DAY = "yyyy-mm-dd"
MOMENT = "yyyy-mm-dd hh:mm"

HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="1F2937")
TITLE_FONT = Font(bold=True, size=14)
LABEL_FONT = Font(bold=True)
VITAL_FILL = PatternFill("solid", fgColor="DBEAFE")
HEADER_BORDER = Border(bottom=Side(style="thin", color="6B7280"))
QUADRANT_COLOURS = {label: colour.lstrip("#").upper() for label, colour in charts.QUADRANT_COLOURS.items()}


@dataclass
class Built:
    """What `build()` wrote: the sheet names and a few counts, for the CLI's line and the tests."""

    sheets: list[str]
    accounts: int
    period: portfolio.Period
    currency: str

    def as_dict(self) -> dict[str, Any]:
        return {"sheets": self.sheets, "accounts": self.accounts, "from": self.period.start.isoformat(),
                "to": self.period.end.isoformat(), "currency": self.currency}


def filename(period: portfolio.Period) -> str:
    """The file name offered for download: keyplan-portfolio-2025-01-01-2025-12-31.xlsx."""
    return f"keyplan-portfolio-{period.start.isoformat()}-{period.end.isoformat()}.xlsx"


def build_bytes(scope: portfolio.Scope, options: portfolio.Options) -> bytes:
    """The workbook as bytes, for a download (`build()` into memory: a zip file needs to seek as it is written)."""
    buffer = io.BytesIO()
    build(scope, options, buffer)
    return buffer.getvalue()


def download(content: bytes, period: portfolio.Period):
    """An HTTP response that offers ``content`` as the workbook file of ``period``."""
    from django.http import HttpResponse

    response = HttpResponse(content, content_type=CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename(period)}"'
    response["Cache-Control"] = "no-store"  # it holds what this user may see
    return response


def text(value: Any) -> Any:
    """A value as a cell may hold it: texts neutralised against formula injection, without control characters."""
    if isinstance(value, Promise):  # a lazy translation (choices' labels)
        value = str(value)
    if isinstance(value, str):
        return safe_cell(_ILLEGAL.sub("", value))
    return value


def build(scope: portfolio.Scope, options: portfolio.Options, out: IO[bytes] | str, *,
          now: datetime.datetime | None = None, progress: Callable[[float, str], None] | None = None) -> Built:
    """Write the workbook of ``scope`` over the period of ``options`` to ``out`` (a path or a binary file).

    ``progress(share, step)`` is told before each step (share 0-1, step a name such as "pareto"): the background
    job's progress bar and the CLI's line on standard error. Raises ValueError for a period that makes no sense (it
    ends before it starts), as the reports do.
    """
    def step(share: float, name: str) -> None:
        if progress is not None:
            progress(share, name)

    period = options.period()
    step(0.0, "analyses")
    pareto = portfolio.pareto_report(scope, options)
    step(0.15, "analyses")
    abc = portfolio.abc_report(scope, options)  # the years of the period, or the last three (as the ABC page)
    step(0.3, "analyses")
    profit = portfolio.profitability_report(scope, options)
    names = dict(scope.accounts().values_list("external_id", "name"))
    book = _Book(bidi=get_language_bidi())
    step(0.45, "summary")
    book.summary(scope, period, pareto, abc, profit, now=now or timezone.now())
    step(0.5, "pareto")
    book.pareto(pareto)
    step(0.55, "abc")
    book.abc(abc)
    book.abc_accounts(abc, names)
    step(0.6, "profitability")
    book.profitability(profit)
    step(0.7, "scoring")
    book.scoring(scope)
    step(0.8, "risk_queue")
    book.risk_queue(scope)
    step(0.85, "plan_quality")
    book.plan_quality(scope)
    step(0.9, "saving")
    book.workbook.save(out)
    step(1.0, "done")
    return Built(sheets=book.names, accounts=len(pareto["accounts"]), period=period, currency=pareto["currency"])


class _Book:
    """A write-only workbook and the helpers its sheets share."""

    def __init__(self, *, bidi: bool = False):
        self.workbook = Workbook(write_only=True)
        self.bidi = bidi
        self.names: list[str] = []
        self.currency = ""

    # ------------------------------------------------------------ cells

    def sheet(self, title: str, widths: Sequence[float], *, freeze: str | None = "A2"):
        name = _SHEET_NAME.sub(" ", title)[:31]
        sheet = self.workbook.create_sheet(name)
        self.names.append(name)
        sheet.sheet_view.rightToLeft = self.bidi
        for index, width in enumerate(widths, start=1):  # before the first row: write-only mode writes them first
            sheet.column_dimensions[get_column_letter(index)].width = min(max(width, 6), MAX_WIDTH)
        if freeze:
            sheet.freeze_panes = freeze
        # Printed (or turned into a PDF) landscape, one page wide, with the header row on every page.
        sheet.page_setup.orientation = "landscape"
        sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight = 1, 0
        sheet.sheet_properties.pageSetUpPr.fitToPage = True
        if freeze:
            sheet.print_title_rows = "1:1"
        return sheet

    def cell(self, sheet, value: Any, number_format: str | None = None, *, font: Font | None = None,
             fill: PatternFill | None = None) -> WriteOnlyCell:
        if isinstance(value, datetime.datetime):
            value = value.replace(tzinfo=None)  # Excel has no time zones; the Summary names the zone
        if isinstance(value, datetime.datetime):
            value = value.replace(microsecond=0)
        value = text(value)
        cell = WriteOnlyCell(sheet, value=value)
        if number_format and value is not None and not isinstance(value, str):
            cell.number_format = number_format
        if font:
            cell.font = font
        if fill:
            cell.fill = fill
        return cell

    def money_format(self) -> str:
        return f'#,##0.00 "{self.currency}"' if self.currency.isalpha() else "#,##0.00"

    def money(self, sheet, value: float | None, **style) -> WriteOnlyCell:
        return self.cell(sheet, value, self.money_format(), **style)

    def percent(self, sheet, value: float | None, **style) -> WriteOnlyCell:
        return self.cell(sheet, value, PERCENT, **style)

    def header(self, sheet, titles: Iterable[str]) -> list[WriteOnlyCell]:
        cells = []
        for title in titles:
            cell = self.cell(sheet, title, font=HEADER_FONT, fill=HEADER_FILL)
            cell.border = HEADER_BORDER
            cell.alignment = Alignment(vertical="center", wrap_text=True)
            cells.append(cell)
        return cells

    @staticmethod
    def widths(header: Sequence[str], rows: Iterable[Sequence[Any]], minimum: Sequence[float] = ()) -> list[float]:
        """Column widths from the header and the first rows' texts (numbers count as their formatted length)."""
        widths = [len(str(title)) + 2 for title in header]
        for count, row in enumerate(rows):
            if count >= 500:
                break
            for index, value in enumerate(row):
                if value is None:
                    continue
                size = len(f"{value:,.2f}") + 5 if isinstance(value, (int, float)) else len(str(value))
                widths[index] = max(widths[index], size + 2)
        return [max(width, minimum[i] if i < len(minimum) else 0) for i, width in enumerate(widths)]

    @staticmethod
    def filter(sheet, columns: int, rows: int) -> None:
        """An autofilter over the table in the first ``columns`` columns, its header and ``rows`` rows."""
        sheet.auto_filter.ref = f"A1:{get_column_letter(columns)}{rows + 1}"

    # ------------------------------------------------------------ Summary

    def summary(self, scope: portfolio.Scope, period: portfolio.Period, pareto: dict, abc: dict, profit: dict, *,
                now: datetime.datetime) -> None:
        from keyplan.accounts.models import Tier
        from keyplan.core.models import User
        from keyplan.scoring.services import latest_round

        self.currency = pareto["currency"]
        sheet = self.sheet(_("Summary"), [40, 30], freeze=None)
        totals = profit["totals"]
        filters = []
        if scope.industry:
            from keyplan.accounts.models import Industry

            filters.append(f"{_('Industry')}: {dict(Industry.choices).get(scope.industry, scope.industry)}")
        if scope.country:
            filters.append(f"{_('Country')}: {scope.country}")
        if scope.tier:
            filters.append(f"{_('Key status')}: {dict(Tier.choices).get(scope.tier, scope.tier)}")
        if scope.kam:
            kam = User.objects.filter(pk=scope.kam).first()
            filters.append(f"{_('KAM')}: {kam if kam else scope.kam}")
        if scope.user is None:
            who = _("The whole portfolio")
        elif scope.user.sees_all_accounts:
            who = _("Every account (%(user)s)") % {"user": scope.user}
        else:
            who = _("The accounts %(user)s may see") % {"user": scope.user}
        latest_year = next((year for year in reversed(list(abc["years"])) if year not in abc["no_revenue"]), None)
        selection_round = latest_round()
        arr = _arr(scope, period)
        local = timezone.localtime(now)

        def row(label: str, value: Any, number_format: str | None = None) -> list:
            return [self.cell(sheet, label, font=LABEL_FONT), self.cell(sheet, value, number_format)]

        sheet.append([self.cell(sheet, _("Keyplan portfolio workbook"), font=TITLE_FONT)])
        sheet.append([])
        sheet.append(row(_("From"), period.start, DAY))
        sheet.append(row(_("To"), period.end, DAY))
        sheet.append(row(_("Reporting currency"), self.currency))
        sheet.append(row(_("Filters"), "; ".join(filters) or _("None")))
        sheet.append(row(_("Accounts covered"), who))
        sheet.append(row(_("Generated at"), local, MOMENT))
        sheet.append(row(_("Time zone"), str(timezone.get_current_timezone())))
        sheet.append(row(_("ABC years"), ", ".join(abc["years"])))
        sheet.append(row(_("Latest selection round"),
                         f"{selection_round.name} ({selection_round.date.isoformat()})" if selection_round else _("None")))
        sheet.append([])
        sheet.append(self.header(sheet, [_("Key figure"), _("Value")]))
        sheet.append([self.cell(sheet, _("Revenue")), self.money(sheet, totals["revenue"])])
        sheet.append([self.cell(sheet, _("Cost to serve")), self.money(sheet, totals["cost"])])
        sheet.append([self.cell(sheet, _("Margin")), self.money(sheet, totals["margin"])])
        sheet.append([self.cell(sheet, _("Margin %")), self.percent(sheet, totals["margin_pct"])])
        sheet.append([self.cell(sheet, _("ARR at the end of the period")), self.money(sheet, arr)])
        sheet.append([self.cell(sheet, _("Accounts")), self.cell(sheet, len(pareto["accounts"]), WHOLE)])
        sheet.append([self.cell(sheet, _("Accounts with revenue")), self.cell(sheet, pareto["with_revenue"], WHOLE)])
        sheet.append([self.cell(sheet, _("Vital few: accounts that bring %(share)s of revenue")
                                % {"share": f"{pareto['threshold']:.0%}"}),
                      self.cell(sheet, pareto["vital_few"], WHOLE)])
        sheet.append([self.cell(sheet, _("Vital few as a share of the accounts with revenue")),
                      self.percent(sheet, pareto["vital_few_share"])])
        sheet.append([self.cell(sheet, _("Revenue share of the top fifth of accounts")),
                      self.percent(sheet, pareto["top_fifth"]["share"])])
        sheet.append([self.cell(sheet, _("Top-%(n)s share") % {"n": 10}),
                      self.percent(sheet, sum(a["share"] for a in pareto["accounts"][:10]))])
        if latest_year:
            sheet.append([self.cell(sheet, _("A accounts in %(year)s") % {"year": latest_year}),
                          self.cell(sheet, abc["years"][latest_year]["A"], WHOLE)])

    # ------------------------------------------------------------ Pareto

    def pareto(self, pareto: dict) -> None:
        header = ["#", _("Account"), _("External id"), _("Revenue"), _("Share"), _("Cumulative share"), _("Vital few")]
        accounts = pareto["accounts"]
        yes, no = _("Yes"), _("No")
        rows = [(rank, a["name"], a["external_id"], a["revenue"], a["share"], a["cumulative_share"],
                 yes if rank <= pareto["vital_few"] else no) for rank, a in enumerate(accounts, start=1)]
        series = pareto_chart_series(pareto, max_bars=PARETO_BARS)
        if series["others"]:
            series["labels"][-1] = ngettext("Other (%(n)s account)", "Other (%(n)s accounts)",
                                            series["others"]) % {"n": series["others"]}
        chart_header = [_("Chart: account"), _("Revenue"), _("Cumulative share"),
                        _("Threshold %(share)s") % {"share": f"{pareto['threshold']:.0%}"}]
        widths = self.widths(header, rows) + [2] + self.widths(chart_header, zip(series["labels"], series["revenue"]))[:2] + [16, 14]
        sheet = self.sheet(_("Pareto"), widths)
        sheet.append(self.header(sheet, header) + [None] + self.header(sheet, chart_header))
        points = len(series["labels"])
        for index, (rank, name, external_id, revenue, share, cumulative, vital) in enumerate(rows):
            fill = VITAL_FILL if rank <= pareto["vital_few"] else None
            cells = [self.cell(sheet, rank, fill=fill), self.cell(sheet, name, fill=fill), self.cell(sheet, external_id, fill=fill),
                     self.money(sheet, revenue, fill=fill), self.percent(sheet, share, fill=fill),
                     self.percent(sheet, cumulative, fill=fill), self.cell(sheet, vital, fill=fill)]
            if index < points:
                cells += [None, self.cell(sheet, series["labels"][index]), self.money(sheet, series["revenue"][index]),
                          self.percent(sheet, series["cumulative_share"][index]), self.percent(sheet, pareto["threshold"])]
            sheet.append(cells)
        self.filter(sheet, len(header), len(rows))
        if not points:
            return
        first, last = 2, points + 1
        label_col = len(header) + 2
        bars = BarChart()
        bars.type, bars.style = "col", 10
        bars.title = _("Pareto: the vital few")
        bars.y_axis.title = _("Revenue (%(currency)s)") % {"currency": self.currency}
        bars.y_axis.number_format = "#,##0"
        bars.y_axis.majorGridlines = None
        largest = max(series["revenue"][:PARETO_BARS], default=0)
        if series["others"] and largest > 0:
            # The bar of the many small accounts would flatten the largest ones: it runs off the top of the
            # axis (its cell holds the whole amount), as on the portfolio page.
            bars.y_axis.scaling.min, bars.y_axis.scaling.max = 0, largest * 1.25
        bars.add_data(Reference(sheet, min_col=label_col + 1, min_row=1, max_row=last), titles_from_data=True)
        bars.set_categories(Reference(sheet, min_col=label_col, min_row=first, max_row=last))
        bars.series[0].graphicalProperties.solidFill = "1D4ED8"
        line = LineChart()
        line.add_data(Reference(sheet, min_col=label_col + 2, max_col=label_col + 3, min_row=1, max_row=last),
                      titles_from_data=True)
        line.y_axis.axId = 200
        line.y_axis.title = _("Cumulative share")
        line.y_axis.number_format = "0%"
        line.y_axis.scaling.min, line.y_axis.scaling.max = 0, 1
        line.y_axis.crosses = "max"
        line.y_axis.majorGridlines = None
        line.series[0].graphicalProperties.line.solidFill = "B45309"
        line.series[0].graphicalProperties.line.width = 28575
        line.series[0].smooth = False
        threshold = line.series[1]
        threshold.graphicalProperties.line.solidFill = "6B7280"
        threshold.graphicalProperties.line.dashStyle = "dash"
        threshold.smooth = False
        for axis in (bars.x_axis, bars.y_axis, line.y_axis):
            axis.delete = False  # openpyxl 3.1 leaves it unset, and Excel then hides the axis
        bars.x_axis.tickLblSkip = 1
        bars += line
        bars.legend.position = "b"
        bars.width, bars.height = 28, 13
        sheet.add_chart(bars, f"{get_column_letter(label_col + 5)}2")

    # ------------------------------------------------------------ ABC

    def abc(self, abc: dict) -> None:
        classes = ("A", "B", "C")
        header = [_("Year"), *classes, *(_("%(class)s share of revenue") % {"class": c} for c in classes)]
        years = [year for year in abc["years"] if year not in abc["no_revenue"]]
        sheet = self.sheet(_("ABC"), self.widths(header, [], [14, 10, 10, 10]))
        sheet.append(self.header(sheet, header))
        for year in years:
            counts, shares = abc["years"][year], abc["shares"][year]
            sheet.append([self.cell(sheet, int(year)), *(self.cell(sheet, counts[c], WHOLE) for c in classes),
                          *(self.percent(sheet, shares[c]) for c in classes)])
        self.filter(sheet, len(header), len(years))
        for year in abc["no_revenue"]:
            sheet.append([self.cell(sheet, int(year)), self.cell(sheet, _("No revenue in this year"))])
        limits = abc.get("thresholds") or [0.8, 0.95]
        sheet.append([])
        sheet.append([self.cell(sheet, _("Class A ends at %(a)s of revenue, class B at %(b)s.")
                                % {"a": f"{limits[0]:.0%}", "b": f"{limits[1]:.0%}"})])
        for step, matrix in abc["movements"].items():
            before, after = step.split("→")
            sheet.append([])
            sheet.append([self.cell(sheet, _("Movements %(from)s → %(to)s") % {"from": before, "to": after}, font=LABEL_FONT)])
            sheet.append(self.header(sheet, [f"{before} \u2192 {after}", *classes]))
            for source in classes:
                sheet.append([self.cell(sheet, source, font=LABEL_FONT),
                              *(self.cell(sheet, matrix[source][target], WHOLE) for target in classes)])

    def abc_accounts(self, abc: dict, names: dict[str, str]) -> None:
        years = list(abc["years"])
        header = [_("External id"), _("Account"), *years]
        rows = [(a["external_id"], names.get(a["external_id"], ""), *(a["classes"].get(y) for y in years))
                for a in abc["accounts"]]
        sheet = self.sheet(_("ABC accounts"), self.widths(header, rows, [14, 20]))
        sheet.append(self.header(sheet, header))
        for row in rows:
            sheet.append([self.cell(sheet, value) for value in row])
        self.filter(sheet, len(header), len(rows))

    # ------------------------------------------------------------ Profitability

    def profitability(self, profit: dict) -> None:
        header = [_("Account"), _("External id"), _("Revenue"), _("Cost to serve"), _("Margin"), _("Margin %"),
                  _("Revenue to cost"), _("Profit matrix")]
        labels = {label: str(shown) for label, shown in charts.QUADRANT_LABELS.items()}
        accounts = profit["accounts"]
        rows = [(a["name"], a["external_id"], a["revenue"], a["cost"], a["margin"], a["margin_pct"], a["revenue_to_cost"],
                 labels.get(a["label"], a["label"])) for a in accounts]
        placed = [a for a in accounts if a["revenue"] > 0 and a["margin_pct"] is not None][:SCATTER_POINTS]
        groups = {label: [a for a in placed if a["label"] == label] for label in charts.QUADRANT_COLOURS}
        split = profit["split"]
        chart_header = []
        for label in groups:
            chart_header += [f"{labels[label]}: {_('Revenue')}", f"{labels[label]}: {_('Margin %')}"]
        chart_header += [f"{_('Split')}: {_('Revenue')}", f"{_('Split')}: {_('Margin %')}"]
        widths = self.widths(header, rows, [20]) + [2] + [max(14, len(title) + 2) for title in chart_header]
        sheet = self.sheet(_("Profitability"), widths)
        sheet.append(self.header(sheet, header) + [None] + self.header(sheet, chart_header))
        margins = [a["margin_pct"] for a in placed]
        low, high = (min(margins + [0.0]), max(margins + [0.0])) if margins else (0.0, 1.0)
        split_x = split["revenue"] or 0.0
        split_y = split["margin_pct"] or 0.0
        top = max([a["revenue"] for a in placed] + [split_x])
        # The split lines: the median revenue from the lowest to the highest margin, the portfolio margin across.
        split_points = [(split_x, low), (split_x, high), (None, None), (0.0, split_y), (top, split_y)]
        longest = max([len(points) for points in groups.values()] + [len(split_points)])
        group_list = list(groups.values())
        for index in range(max(len(rows), longest)):
            cells: list = [None] * len(header)
            if index < len(rows):
                name, external_id, revenue, cost, margin, margin_pct, ratio, label = rows[index]
                cells = [self.cell(sheet, name), self.cell(sheet, external_id), self.money(sheet, revenue),
                         self.money(sheet, cost), self.money(sheet, margin), self.percent(sheet, margin_pct),
                         self.cell(sheet, ratio, DECIMAL), self.cell(sheet, label)]
            if index < longest:
                cells.append(None)
                for points in group_list:
                    point = points[index] if index < len(points) else None
                    cells += [self.money(sheet, point["revenue"]) if point else None,
                              self.percent(sheet, point["margin_pct"]) if point else None]
                x, y = split_points[index] if index < len(split_points) else (None, None)
                cells += [self.money(sheet, x), self.percent(sheet, y)]
            sheet.append(cells)
        self.filter(sheet, len(header), len(rows))
        if not placed:
            return
        scatter = ScatterChart()
        scatter.title = _("Profit matrix")
        scatter.style = 13
        scatter.x_axis.title = _("Revenue (%(currency)s)") % {"currency": self.currency}
        scatter.y_axis.title = _("Margin %")
        scatter.x_axis.number_format = "#,##0"
        scatter.y_axis.number_format = "0%"
        scatter.x_axis.delete = scatter.y_axis.delete = False
        scatter.y_axis.crosses = "min"
        scatter.x_axis.crosses = "min"
        column = len(header) + 2
        for label, points in groups.items():
            if points:
                xs = Reference(sheet, min_col=column, min_row=2, max_row=len(points) + 1)
                ys = Reference(sheet, min_col=column + 1, min_row=2, max_row=len(points) + 1)
                series = Series(ys, xs, title=labels[label])
                series.marker.symbol = "circle"
                series.marker.size = 6
                series.marker.graphicalProperties.solidFill = QUADRANT_COLOURS[label]
                series.marker.graphicalProperties.line.solidFill = QUADRANT_COLOURS[label]
                series.graphicalProperties.line.noFill = True
                scatter.series.append(series)
            column += 2
        xs = Reference(sheet, min_col=column, min_row=2, max_row=len(split_points) + 1)
        ys = Reference(sheet, min_col=column + 1, min_row=2, max_row=len(split_points) + 1)
        lines = Series(ys, xs, title=_("Split"))
        lines.marker.symbol = "none"
        lines.graphicalProperties.line.solidFill = "6B7280"
        lines.graphicalProperties.line.dashStyle = "dash"
        scatter.series.append(lines)
        scatter.legend.position = "b"
        scatter.width, scatter.height = 24, 14
        sheet.add_chart(scatter, f"{get_column_letter(column + 3)}2")

    # ------------------------------------------------------------ Scoring

    def scoring(self, scope: portfolio.Scope) -> None:
        from keyplan.accounts.models import Tier
        from keyplan.scoring.models import CriterionGroup, CriterionSource, RoundAccount, RoundCriterion
        from keyplan.scoring.services import latest_round, scores_payload

        visible = set(scope.accounts().values_list("pk", flat=True))
        payload = scores_payload(scope.user, account_ids=visible)
        criteria = payload["criteria"]
        selection_round = latest_round()
        round_ranks, round_weights = {}, {}
        if selection_round is not None:
            round_ranks = dict(RoundAccount.objects.filter(round=selection_round, account_id__in=visible)
                               .values_list("account_id", "rank"))
            round_weights = {criterion: float(weight) for criterion, weight in RoundCriterion.objects.filter(
                round=selection_round).values_list("criterion_id", "weight")}
        tiers, groups, sources = dict(Tier.choices), dict(CriterionGroup.choices), dict(CriterionSource.choices)
        quadrants = {key: str(label) for key, label in QUADRANT_LABELS.items()}
        round_title = (_("Rank in %(round)s") % {"round": selection_round.name}) if selection_round else _("Rank in the latest round")
        header = [_("External id"), _("Account"), _("Key status"), _("Growth potential"), _("Harmony"), _("Total"),
                  _("Rank"), _("Quadrant"), round_title, *(c["name"] for c in criteria)]
        rows = [(a["external_id"], a["name"], tiers.get(a["tier"], a["tier"]), a["growth_total"], a["harmony_total"],
                 a["total"], a["rank"], quadrants.get(a["quadrant"], a["quadrant"] or ""), round_ranks.get(a["account_id"]),
                 *(a["scores"].get(c["name"]) for c in criteria)) for a in payload["accounts"]]
        sheet = self.sheet(_("Scoring matrix"), self.widths(header, rows, [14, 20]), freeze="C2")
        sheet.append(self.header(sheet, header))
        for row in rows:
            sheet.append([self.cell(sheet, row[0]), self.cell(sheet, row[1]), self.cell(sheet, row[2]),
                          *(self.cell(sheet, value, DECIMAL) for value in row[3:6]), self.cell(sheet, row[6], WHOLE),
                          self.cell(sheet, row[7]), self.cell(sheet, row[8], WHOLE),
                          *(self.cell(sheet, value, "0") for value in row[9:])])
        self.filter(sheet, len(header), len(rows))

        weight_title = (_("Weight in %(round)s") % {"round": selection_round.name}) if selection_round else _("Weight in the latest round")
        header = [_("Group"), _("Criterion"), _("Weight (%)"), _("Scored"), weight_title]
        rows = [(groups.get(c["group"], c["group"]), c["name"], c["weight"], sources.get(c["source"], c["source"]),
                 round_weights.get(c["id"])) for c in criteria]
        sheet = self.sheet(_("Criteria"), self.widths(header, rows, [18, 20]))
        sheet.append(self.header(sheet, header))
        for group, name, weight, source, then in rows:
            sheet.append([self.cell(sheet, group), self.cell(sheet, name), self.cell(sheet, weight, DECIMAL),
                          self.cell(sheet, source), self.cell(sheet, then, DECIMAL)])
        self.filter(sheet, len(header), len(rows))

    # ------------------------------------------------------------ At-risk queue and plan quality

    def risk_queue(self, scope: portfolio.Scope) -> None:
        """The open cases of the at-risk queue in scope, most MRR at risk first (as the queue page)."""
        from keyplan.health.models import RiskCase
        from keyplan.health.services import rule_labels

        today = timezone.localdate()
        cases = (RiskCase.objects.open().filter(account__in=scope.accounts()).select_related("account", "owner")
                 .order_by("-mrr_at_risk", "opened_on", "pk"))
        header = ["#", _("Account"), _("External id"), _("MRR at risk"), _("In the queue since"), _("Days in the queue"),
                  _("Owner"), _("Reason")]
        rows = [(n, c.account.name, c.account.external_id, float(c.mrr_at_risk), c.opened_on, (today - c.opened_on).days,
                 str(c.owner) if c.owner else "", "; ".join(rule_labels(c.rules)) or c.reason)
                for n, c in enumerate(cases.iterator(chunk_size=2000), start=1)]
        sheet = self.sheet(_("At-risk queue"), self.widths(header, rows, [4, 20, 12, 14, 12, 10, 14, 30]))
        sheet.append(self.header(sheet, header))
        for n, name, external_id, mrr, since, days, owner, reason in rows:
            sheet.append([self.cell(sheet, n), self.cell(sheet, name), self.cell(sheet, external_id), self.money(sheet, mrr),
                          self.cell(sheet, since, DAY), self.cell(sheet, days, WHOLE), self.cell(sheet, owner),
                          self.cell(sheet, reason)])
        self.filter(sheet, len(header), len(rows))
        if not rows:
            sheet.append([self.cell(sheet, _("No account is in the at-risk queue."))])


    def plan_quality(self, scope: portfolio.Scope) -> None:
        """Each key account in scope with its current plan and the plan's quality checks (as the Plans page)."""
        from keyplan.planning.services import portfolio as plans_portfolio
        from keyplan.planning.templatetags.planning_tags import check_text

        rows = []
        for r in plans_portfolio(scope.user, accounts=scope.accounts()):
            quality = r.quality
            failed = "; ".join(check_text(c) for c in quality.checks if not c.ok) if quality else ""
            rows.append((r.account.name, r.account.external_id, r.kam, r.plan.period if r.plan else "",
                         str(r.plan.get_state_display()) if r.plan else _("no plan"), _("Yes") if r.living else _("No"),
                         quality.score if quality else None, quality.passed if quality else None,
                         len(quality.checks) if quality else None, r.plan.reviewed_at if r.plan else None, r.overdue, failed))
        header = [_("Account"), _("External id"), _("Key account manager"), _("Plan"), _("State"), _("Living"),
                  _("Quality"), _("Checks passed"), _("Checks"), _("Last reviewed"), _("Overdue actions"), _("Failed checks")]
        sheet = self.sheet(_("Plan quality"), self.widths(header, rows, [20, 12, 16, 10, 10, 8, 8, 8, 8, 12, 8, 40]))
        sheet.append(self.header(sheet, header))
        for name, external_id, kam, period, state, living, score, passed, total, reviewed, overdue, failed in rows:
            sheet.append([self.cell(sheet, name), self.cell(sheet, external_id), self.cell(sheet, kam), self.cell(sheet, period),
                          self.cell(sheet, state), self.cell(sheet, living), self.percent(sheet, score),
                          self.cell(sheet, passed, WHOLE), self.cell(sheet, total, WHOLE), self.cell(sheet, reviewed, DAY),
                          self.cell(sheet, overdue, WHOLE), self.cell(sheet, failed)])
        self.filter(sheet, len(header), len(rows))
        if not rows:
            sheet.append([self.cell(sheet, _("No key account in this selection."))])


def _arr(scope: portfolio.Scope, period: portfolio.Period) -> float | None:
    """ARR of the period's last month (None when a subscription's currency has no exchange rate)."""
    try:
        months = portfolio.mrr_report(scope, portfolio.Options(start=period.start, end=period.end))["months"]
    except ValueError:
        return None
    return months[-1]["arr"] if months else 0.0
