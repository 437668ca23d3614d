"""Plotly figures (as plain dicts) for the portfolio pages: the browser draws them with the bundled plotly.min.js."""

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext_lazy

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
        **extra,
    }


def pareto_figure(result: dict[str, Any], *, max_bars: int = 40) -> dict[str, Any]:
    """From the result of `pareto()` or `pareto_summary()`."""
    series = pareto_chart_series(result, max_bars=max_bars)
    threshold = result["threshold"]
    others = series["others"]
    tail = [False] * (len(series["labels"]) - bool(others)) + [True] * bool(others)
    if others:
        series["labels"][-1] = ngettext("Other (%(n)s account)", "Other (%(n)s accounts)", others) % {"n": f"{others:,}"}
    # The "Other" bar of thousands of small accounts would flatten the vital few: the axis stops
    # above the largest account and the tail bar carries its value as a label instead.
    bars = [v for v, is_tail in zip(series["revenue"], tail) if not is_tail]
    top = max(bars, default=0) * 1.15 or None
    labels = [f"{v:,.0f}" if is_tail and top and v > top else "" for v, is_tail in zip(series["revenue"], tail)]
    return {
        "data": [
            {"type": "bar", "x": series["labels"], "y": series["revenue"], "name": _("Revenue"),
             "marker": {"color": ["#9ca3af" if is_tail else ACCENT for is_tail in tail]},
             "text": labels, "textposition": "inside", "insidetextanchor": "end", "cliponaxis": True,
             "hovertemplate": "%{x}<br>%{y:,.0f}<extra></extra>"},
            {"type": "scatter", "mode": "lines+markers", "x": series["labels"],
             "y": [round(v * 100, 2) for v in series["cumulative_share"]], "yaxis": "y2", "name": _("Cumulative share"),
             "line": {"color": "#b91c1c", "width": 2}, "marker": {"size": 4},
             "hovertemplate": "%{y:.1f}%<extra></extra>"},
        ],
        "layout": _layout(
            xaxis={"tickangle": -45, "automargin": True, "showticklabels": len(series["labels"]) <= 25},
            yaxis={"title": {"text": _("Revenue (%(currency)s)") % {"currency": result.get("currency", "")}},
                   "gridcolor": LINE, "rangemode": "tozero", **({"range": [0, top]} if top else {})},
            yaxis2={"overlaying": "y", "side": "right", "range": [0, 105], "dtick": 20, "ticksuffix": "%", "showgrid": False},
            shapes=[{"type": "line", "xref": "paper", "x0": 0, "x1": 1, "yref": "y2", "y0": threshold * 100,
                     "y1": threshold * 100, "line": {"color": "#b91c1c", "dash": "dash", "width": 1}}],
            annotations=[{"xref": "paper", "x": 1, "yref": "y2", "y": threshold * 100, "xanchor": "right", "yanchor": "bottom",
                          "text": f"{threshold:.0%}", "showarrow": False, "font": {"color": "#b91c1c"}}],
            height=380,
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
            "hovertemplate": "%{text}<br>%{x:,.0f} · %{y:.1f}%<extra></extra>",
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


def mrr_figure(result: dict[str, Any]) -> dict[str, Any]:
    months = [m["month"] for m in result["months"]]
    movement = [("new", _("New"), "#047857", 1), ("expansion", _("Expansion"), "#34d399", 1),
                ("reactivation", _("Reactivation"), "#60a5fa", 1), ("contraction", _("Contraction"), "#f59e0b", -1),
                ("churn", _("Churn"), "#b91c1c", -1)]
    data = [{"type": "bar", "name": label, "x": months, "y": [sign * m[key] for m in result["months"]],
             "marker": {"color": colour}, "yaxis": "y2"} for key, label, colour, sign in movement]
    data.append({"type": "scatter", "mode": "lines+markers", "name": "MRR", "x": months,
                 "y": [m["mrr"] for m in result["months"]], "line": {"color": INK, "width": 2}})
    return {
        "data": data,
        "layout": _layout(
            barmode="relative", showlegend=True, legend={"orientation": "h", "y": -0.2},
            yaxis={"title": {"text": "MRR"}, "gridcolor": LINE, "rangemode": "tozero"},
            yaxis2={"overlaying": "y", "side": "right", "title": {"text": _("Movements")}, "showgrid": False},
            height=380,
        ),
    }
