"""Plotly figures (as plain dicts) for the portfolio pages: the browser draws them with the bundled plotly.min.js."""

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext_lazy

from keyplan.core import dates, numbers
from keyplan.revenue.analysis import pareto_chart_series

INK, MUTED, ACCENT, LINE = "#1f2937", "#6b7280", "#1d4ed8", "#e5e7eb"
QUADRANT_COLOURS = {"Protect": "#047857", "Fix the cost to serve": "#b45309", "Develop": "#1d4ed8", "Review": "#9ca3af"}
# The quadrants' names in the payloads stay English (the API's values); people read these.
QUADRANT_LABELS = {
    "Protect": pgettext_lazy("profit quadrant", "Protect"),
    "Fix the cost to serve": pgettext_lazy("profit quadrant", "Fix the cost to serve"),
    "Develop": pgettext_lazy("profit quadrant", "Develop"),
    "Review": pgettext_lazy("profit quadrant", "Review"),
}
MAX_POINTS = 1500  # a scatter of 100,000 SVG points helps nobody; the largest accounts tell the story


def _layout(**extra) -> dict[str, Any]:
    return {
        "margin": {"l": 60, "r": 60, "t": 20, "b": 60},
        "font": {"family": "system-ui, sans-serif", "size": 12, "color": INK},
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "showlegend": False,
        "separators": numbers.plotly_separators(),  # hovers and ticks in the reader's number format
        **extra,
    }


VITAL, REST, RED = ACCENT, "#93c5fd", "#b91c1c"


def _short(label: str, limit: int = 22) -> str:
    return label if len(label) <= limit else label[:limit - 1] + "…"


def pareto_figure(result: dict[str, Any], *, max_bars: int = 40) -> dict[str, Any]:
    """From the result of `pareto()` or `pareto_summary()`: the cumulative curve over every account with
    revenue (top, the threshold's crossing and the vital few marked), the largest accounts' bars below.

    The bars' axis is categorical whatever the ids look like (numeric ids would otherwise scatter the bars
    along a number line); the bar of the accounts beyond them says how many they are and what they bring.
    """
    series = pareto_chart_series(result, max_bars=max_bars)
    threshold, vital_few, currency = result["threshold"], result["vital_few"], result.get("currency", "")
    others = series["others"]
    shown = len(series["labels"]) - bool(others)
    labels = [_short(label) for label in series["labels"][:shown]]
    if len(set(labels)) < len(labels):  # shortened names that collide would share one bar
        labels = series["labels"][:shown]
    colours = [VITAL if i < vital_few else REST for i in range(shown)]
    texts = [""] * shown
    bars, top = series["revenue"][:shown], max(series["revenue"][:shown], default=0) * 1.25 or None
    values = list(bars)
    if others:
        rest_value = series["revenue"][-1]
        rest_share = (rest_value / result["total"]) if result["total"] else None
        labels.append(ngettext("Other (%(n)s account)", "Other (%(n)s accounts)", others) % {"n": numbers.number(others)})
        colours.append("#9ca3af")
        # The rest bar of thousands of small accounts would flatten the largest ones: it stops at the top of
        # the axis and says what it brings in a label that stays inside the plot.
        values.append(min(rest_value, top) if top else rest_value)
        texts.append("")
        rest_label = f"{labels[-1]}: {numbers.number(rest_value)} {currency} ({numbers.percent(rest_share)})"
    customdata = [numbers.number(v) for v in bars] + ([numbers.number(series["revenue"][-1])] if others else [])
    curve = result.get("curve") or []
    with_revenue = result.get("with_revenue") or 0
    crossing = next((share for rank, share in curve if rank == vital_few), None)
    fifth = result.get("top_fifth") or {}
    data = [
        {"type": "scatter", "mode": "lines", "x": [0] + [rank for rank, _ in curve],
         "y": [0] + [round(share * 100, 2) for _, share in curve], "xaxis": "x2", "yaxis": "y2",
         "name": _("Cumulative share"), "line": {"color": RED, "width": 2}, "fill": "tozeroy",
         "fillcolor": "rgba(185,28,28,0.06)",
         "hovertemplate": _("%(accounts)s accounts: %(share)s of revenue") % {"accounts": "%{x:,}", "share": "%{y:.1f}%"}
         + "<extra></extra>"},
        {"type": "bar", "x": labels, "y": values, "name": _("Revenue"), "marker": {"color": colours},
         "text": texts, "textposition": "inside", "insidetextanchor": "end", "textangle": 0,
         "textfont": {"color": "white"}, "customdata": customdata,
         "hovertemplate": "%{x}<br>%{customdata} " + currency + "<extra></extra>"},
    ]
    shapes, annotations = [], []
    late = vital_few > 0.55 * with_revenue  # the crossing's note goes on the side with room
    if vital_few and crossing is not None:
        data.append({"type": "scatter", "mode": "markers", "x": [vital_few], "y": [round(crossing * 100, 2)],
                     "xaxis": "x2", "yaxis": "y2", "marker": {"color": RED, "size": 9}, "hoverinfo": "skip"})
        line = {"color": RED, "dash": "dash", "width": 1}
        shapes += [
            {"type": "line", "xref": "x2", "yref": "y2", "x0": 0, "x1": vital_few, "y0": threshold * 100,
             "y1": threshold * 100, "line": line},
            {"type": "line", "xref": "x2", "yref": "y2", "x0": vital_few, "x1": vital_few, "y0": 0,
             "y1": threshold * 100, "line": line},
            {"type": "rect", "xref": "x2", "yref": "y2 domain", "x0": 0, "x1": vital_few, "y0": 0, "y1": 1,
             "fillcolor": "rgba(29,78,216,0.07)", "line": {"width": 0}, "layer": "below"},
        ]
        annotations.append({
            "xref": "x2", "yref": "y2", "x": vital_few, "y": threshold * 100, "ax": -40 if late else 40, "ay": 30,
            "xanchor": "right" if late else "left", "showarrow": True, "arrowcolor": RED, "font": {"color": RED}, "align": "left",
            "name": "crossing",
            "text": ngettext("%(threshold)s of revenue: the vital few,<br>%(n)s account (%(share)s)",
                             "%(threshold)s of revenue: the vital few,<br>%(n)s accounts (%(share)s)", vital_few) % {
                "threshold": numbers.percent(threshold, 0), "n": numbers.number(vital_few),
                "share": numbers.percent(result.get("vital_few_share"))},
        })
    if fifth.get("accounts") and fifth.get("share") is not None and with_revenue > 1:
        # Close to the crossing (17 % and 20 % of the accounts, say) its note goes below the crossing's two lines.
        near = abs(fifth["accounts"] - vital_few) < 0.25 * with_revenue
        under_crossing = bool(vital_few and crossing is not None and not late and near)
        data.append({"type": "scatter", "mode": "markers", "x": [fifth["accounts"]], "y": [round(fifth["share"] * 100, 2)],
                     "xaxis": "x2", "yaxis": "y2", "marker": {"color": INK, "size": 7, "symbol": "diamond"},
                     "hoverinfo": "skip"})
        annotations.append({
            "xref": "x2", "yref": "y2", "x": fifth["accounts"], "y": fifth["share"] * 100, "ax": 40,
            "ay": 85 if under_crossing else 45, "name": "top-fifth",
            "xanchor": "left", "showarrow": True, "arrowcolor": MUTED, "font": {"color": INK},
            "text": _("top %(fifth)s of accounts: %(share)s") % {"fifth": numbers.percent(0.2, 0), "share": numbers.percent(fifth["share"])},
        })
    if others:  # the rest bar's label, beside its top, inside the plot whatever its height
        annotations.append({"xref": "x", "yref": "y", "x": len(labels) - 1, "y": values[-1], "xanchor": "right",
                            "yanchor": "top", "xshift": -14, "showarrow": False, "text": rest_label, "name": "rest",
                            "bgcolor": "rgba(255,255,255,0.9)", "font": {"color": INK}})
    if 0 < vital_few < shown:  # where the vital few end among the bars
        shapes.append({"type": "line", "xref": "x", "yref": "y domain", "x0": vital_few - 0.5, "x1": vital_few - 0.5,
                       "y0": 0, "y1": 1, "line": {"color": RED, "dash": "dot", "width": 1}})
    return {
        "data": data,
        "layout": _layout(
            margin={"l": 70, "r": 30, "t": 20, "b": 40},
            xaxis={"type": "category", "tickangle": -40, "automargin": True, "anchor": "y"},
            yaxis={"domain": [0, 0.44], "title": {"text": _("Revenue (%(currency)s)") % {"currency": currency}},
                   "gridcolor": LINE, "rangemode": "tozero", "tickformat": ",.0f", "automargin": True,
                   **({"range": [0, top]} if top else {})},
            # A count of accounts: a few of them would otherwise get ticks at 0.5, 1.5 …
            xaxis2={"anchor": "y2", "range": [0, max(with_revenue, 1)], "gridcolor": LINE, "zeroline": False,
                    **({"dtick": 1} if with_revenue <= 10 else {}),
                    "title": {"text": _("Accounts with revenue, largest first"), "standoff": 4}},
            yaxis2={"domain": [0.58, 1], "range": [0, 102], "dtick": 20, "ticksuffix": "%", "gridcolor": LINE,
                    "title": {"text": _("Cumulative share of revenue")}},
            shapes=shapes,
            annotations=annotations,
            height=620,
        ),
    }


def profit_matrix_figure(result: dict[str, Any]) -> dict[str, Any]:
    """Revenue against margin %, split at the median revenue and the portfolio margin: four labelled quadrants."""
    accounts = [a for a in result["accounts"] if a["revenue"] > 0 and a["margin_pct"] is not None][:MAX_POINTS]
    split = result["split"]
    traces = []
    for label, colour in QUADRANT_COLOURS.items():
        points = [a for a in accounts if a["label"] == label]
        traces.append({
            "type": "scatter", "mode": "markers", "name": str(QUADRANT_LABELS[label]),
            "x": [a["revenue"] for a in points], "y": [round(a["margin_pct"] * 100, 2) for a in points],
            "text": [a.get("name") or a["external_id"] for a in points],
            "marker": {"color": colour, "size": 7, "opacity": 0.75},
            "customdata": [f"{numbers.number(a['revenue'])} · {numbers.percent(a['margin_pct'])}" for a in points],
            "hovertemplate": "%{text}<br>%{customdata}<extra></extra>",
        })
    split_margin = (split["margin_pct"] or 0) * 100
    corners = [(0.99, 0.98, "right", "top", "Protect"), (0.99, 0.02, "right", "bottom", "Fix the cost to serve"),
               (0.01, 0.98, "left", "top", "Develop"), (0.01, 0.02, "left", "bottom", "Review")]
    return {
        "data": traces,
        "layout": _layout(
            showlegend=False,
            xaxis={"type": "log", "title": {"text": _("Revenue (%(currency)s, log scale)") % {"currency": result.get("currency", "")}},
                   "gridcolor": LINE},
            yaxis={"title": {"text": _("Margin %")}, "ticksuffix": "%", "gridcolor": LINE},
            shapes=[
                {"type": "line", "xref": "x", "x0": split["revenue"] or 1, "x1": split["revenue"] or 1, "yref": "paper",
                 "y0": 0, "y1": 1, "line": {"color": MUTED, "dash": "dot"}},
                {"type": "line", "xref": "paper", "x0": 0, "x1": 1, "yref": "y", "y0": split_margin, "y1": split_margin,
                 "line": {"color": MUTED, "dash": "dot"}},
            ],
            annotations=[{"xref": "paper", "yref": "paper", "x": x, "y": y, "xanchor": xa, "yanchor": ya, "showarrow": False,
                          "text": f"<b>{QUADRANT_LABELS[label]}</b>", "font": {"color": QUADRANT_COLOURS[label]}}
                         for x, y, xa, ya, label in corners],
            height=420,
        ),
    }


PLAN_COLOURS = ["#1d4ed8", "#0891b2", "#7c3aed", "#db2777", "#ea580c", "#65a30d", "#64748b"]


def mrr_figure(result: dict[str, Any]) -> dict[str, Any]:
    """MRR by plan as stacked bars with the total as a line (top); the month's movements below, on their own axis."""
    months = [dates.month_label(m["month"]) for m in result["months"]]
    currency = result.get("currency", "")
    data = []
    plans = sorted(result.get("by_plan", {}).items(), key=lambda item: -sum(item[1]))
    for i, (plan, values) in enumerate(plans):
        data.append({"type": "bar", "name": plan, "x": months, "y": values,
                     "marker": {"color": PLAN_COLOURS[i % len(PLAN_COLOURS)]}, "legendgroup": "plans",
                     "customdata": [numbers.number(v) for v in values],
                     "hovertemplate": f"{plan} · %{{x}}: %{{customdata}} {currency}<extra></extra>"})
    totals = [m["mrr"] for m in result["months"]]
    data.append({"type": "scatter", "mode": "lines+markers", "name": "MRR", "x": months, "y": totals,
                 "line": {"color": INK, "width": 2}, "customdata": [numbers.number(v) for v in totals],
                 "hovertemplate": f"MRR · %{{x}}: %{{customdata}} {currency}<extra></extra>"})
    movement = [("new", _("New"), "#047857", 1), ("expansion", _("Expansion"), "#34d399", 1),
                ("reactivation", _("Reactivation"), "#60a5fa", 1), ("contraction", _("Contraction"), "#f59e0b", -1),
                ("churn", _("Churn"), "#b91c1c", -1)]
    for key, label, colour, sign in movement:
        values = [sign * m[key] for m in result["months"]]
        data.append({"type": "bar", "name": str(label), "x": months, "y": values, "xaxis": "x2", "yaxis": "y2",
                     "marker": {"color": colour}, "legendgroup": "movements", "customdata": [numbers.number(v) for v in values],
                     "hovertemplate": f"{label} · %{{x}}: %{{customdata}} {currency}<extra></extra>"})
    return {
        "data": data,
        "layout": _layout(
            barmode="relative", showlegend=True, legend={"orientation": "h", "y": -0.12},
            xaxis={"type": "category", "anchor": "y", "showticklabels": False, "matches": "x2"},
            yaxis={"domain": [0.42, 1], "title": {"text": _("MRR by plan (%(currency)s)") % {"currency": currency}},
                   "gridcolor": LINE, "rangemode": "tozero", "tickformat": ",.0f", "automargin": True},
            xaxis2={"type": "category", "anchor": "y2"},
            yaxis2={"domain": [0, 0.32], "title": {"text": _("Movements")}, "gridcolor": LINE, "tickformat": ",.0f",
                    "automargin": True,
                    "zeroline": True, "zerolinecolor": MUTED},
            height=520,
        ),
    }


ABC_COLOURS = {"A": "#1d4ed8", "B": "#60a5fa", "C": "#cbd5e1"}


def abc_figure(result: dict[str, Any]) -> dict[str, Any]:
    """Per year the accounts in A, B and C (left) and the share of revenue each class brings (middle); the
    movements between the last two years that have revenue as a flow from class to class (right).
    A year without revenue has no bars and says so."""
    years = list(result["years"])
    shares = result.get("shares", {})
    empty = set(result.get("no_revenue", []))
    data = []
    for klass, colour in ABC_COLOURS.items():
        counts = [result["years"][year][klass] for year in years]  # 0 in a year without revenue
        data.append({"type": "bar", "name": klass, "x": years, "y": counts, "marker": {"color": colour},
                     "legendgroup": klass, "customdata": [numbers.number(c) for c in counts],
                     "hovertemplate": f"{klass} · %{{x}}: %{{customdata}}<extra></extra>"})
        share = [round(shares.get(year, {}).get(klass, 0) * 100, 2) for year in years]
        data.append({"type": "bar", "name": klass, "x": years, "y": share, "xaxis": "x2", "yaxis": "y2",
                     "marker": {"color": colour}, "legendgroup": klass, "showlegend": False,
                     "customdata": [numbers.percent(s / 100) for s in share],
                     "hovertemplate": f"{klass} · %{{x}}: %{{customdata}}<extra></extra>"})
    # Placed by the category's position: a year as text would be read as the number 1996 on the axis.
    annotations = [{"xref": axis, "yref": "paper", "x": years.index(year), "y": 0.5, "text": str(_("no revenue")),
                    "showarrow": False, "font": {"color": MUTED}, "textangle": -90}
                   for year in empty for axis in ("x", "x2")]
    titles = [(0.15, _("Accounts per class")), (0.5, _("Share of revenue"))]
    movements = list(result.get("movements", {}).items())
    if movements:
        step, matrix = movements[-1]
        before, after = step.split("→")
        nodes = [f"{k} {before}" for k in "ABC"] + [f"{k} {after}" for k in "ABC"]
        links = [(i, 3 + j, matrix[a][b]) for i, a in enumerate("ABC") for j, b in enumerate("ABC") if matrix[a][b]]
        data.append({
            "type": "sankey", "domain": {"x": [0.72, 1], "y": [0, 1]}, "arrangement": "fixed",
            "node": {"label": nodes, "color": [ABC_COLOURS[k] for k in "ABC"] * 2, "pad": 14, "thickness": 14},
            "link": {"source": [s for s, _, _ in links], "target": [t for _, t, _ in links], "value": [v for *_, v in links],
                     "color": ["rgba(29,78,216,0.25)" if s == t - 3 else "rgba(185,28,28,0.25)" if s < t - 3
                               else "rgba(4,120,87,0.3)" for s, t, _ in links]},
            "valueformat": ",d",
        })
        titles.append((0.86, _("Movements %(step)s") % {"step": step}))
    annotations += [{"xref": "paper", "yref": "paper", "x": x, "y": 1.02, "yanchor": "bottom", "showarrow": False,
                     "text": f"<b>{text}</b>"} for x, text in titles]
    return {
        "data": data,
        "layout": _layout(
            barmode="stack", showlegend=True, legend={"orientation": "h", "y": -0.15, "x": 0},
            margin={"l": 50, "r": 20, "t": 40, "b": 40},
            xaxis={"domain": [0, 0.3], "type": "category"},
            yaxis={"gridcolor": LINE, "rangemode": "tozero"},
            xaxis2={"domain": [0.36, 0.64], "type": "category", "anchor": "y2"},
            yaxis2={"range": [0, 100], "ticksuffix": "%", "gridcolor": LINE, "anchor": "x2"},
            annotations=annotations,
            height=360,
        ),
    }
