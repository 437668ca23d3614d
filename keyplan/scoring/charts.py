"""Plotly figures (plain dicts) for the selection pages: the growth × harmony bubble chart
and the criteria payoff bars. Pure: data and translated labels in, a figure out; the
static script ``scoring/selection-charts.js`` draws it with the bundled Plotly."""

from collections.abc import Mapping, Sequence
from typing import Any

from keyplan.scoring.analysis import QUADRANT_SPLIT

TIER_COLOURS = {"key": "#d97706", "candidate": "#7c3aed", "standard": "#6b7280"}
MIN_AREA = 0.02  # the smallest bubble's area, as a share of the largest
MIN_PX = 8


def bubble(points: Sequence[Mapping[str, Any]], *, tiers: Mapping[str, str], labels: Mapping[str, str],
           currency: str) -> dict[str, Any]:
    """points: name, growth, harmony, revenue, tier, url. Bubble area ∝ revenue, with a floor.

    A new prospect has no revenue yet: drawn at its true size (0) it would vanish, so every bubble is
    at least MIN_AREA of the largest one (and at least MIN_PX across); the hover shows the real revenue.
    The last trace is empty: the page's search box moves it onto the account it finds (a ring and a name).
    """
    largest = max((p["revenue"] for p in points), default=0) or 1
    floor = largest * MIN_AREA
    data = []
    for tier, tier_label in tiers.items():
        mine = [p for p in points if p["tier"] == tier]
        if not mine:
            continue
        data.append({
            "type": "scatter", "mode": "markers", "name": tier_label,
            "x": [p["growth"] for p in mine], "y": [p["harmony"] for p in mine],
            "text": [p["name"] for p in mine], "customdata": [[p["url"], p["revenue"]] for p in mine],
            "hovertemplate": "<b>%{text}</b><br>" + labels["growth"] + ": %{x:.2f}<br>" + labels["harmony"]
                             + ": %{y:.2f}<br>" + labels["revenue"] + ": %{customdata[1]:,.0f} " + currency + "<extra></extra>",
            "marker": {"size": [max(p["revenue"], floor) for p in mine], "sizemode": "area",
                       "sizeref": 2.0 * largest / (46 ** 2), "sizemin": MIN_PX, "color": TIER_COLOURS.get(tier, "#6b7280"),
                       "opacity": 0.7, "line": {"width": 1, "color": "#ffffff"}},
        })
    corner = {"invest": (9.7, 9.7, "right", "top"), "develop": (9.7, 1.3, "right", "bottom"),
              "maintain": (1.3, 9.7, "left", "top"), "deprioritise": (1.3, 1.3, "left", "bottom")}
    annotations = [{"x": x, "y": y, "xanchor": xa, "yanchor": ya, "text": f"<b>{labels[name]}</b>", "showarrow": False,
                    "font": {"size": 13, "color": "#374151"}, "bgcolor": "rgba(255,255,255,0.8)"}
                   for name, (x, y, xa, ya) in corner.items()]
    line = {"type": "line", "line": {"color": "#6b7280", "dash": "dash", "width": 1.5}}
    data.append({"type": "scatter", "mode": "markers+text", "name": "", "x": [], "y": [], "text": [],
                 "textposition": "top center", "showlegend": False, "hoverinfo": "skip",
                 "textfont": {"size": 14, "color": "#b91c1c"},
                 "marker": {"symbol": "circle-open", "size": 44, "color": "#b91c1c", "line": {"width": 3}}})
    return {
        "data": data,
        "layout": {
            "height": 620, "margin": {"l": 60, "r": 20, "t": 20, "b": 55},
            "xaxis": {"title": {"text": labels["growth"]}, "range": [1, 10], "dtick": 1, "zeroline": False},
            "yaxis": {"title": {"text": labels["harmony"]}, "range": [1, 10], "dtick": 1, "zeroline": False},
            "shapes": [{**line, "x0": QUADRANT_SPLIT, "x1": QUADRANT_SPLIT, "y0": 1, "y1": 10},
                       {**line, "x0": 1, "x1": 10, "y0": QUADRANT_SPLIT, "y1": QUADRANT_SPLIT}],
            "annotations": annotations, "legend": {"orientation": "h", "y": -0.12, "itemsizing": "constant"}, "plot_bgcolor": "#fbfbfc",
        },
    }


def payoff(payoff_: Mapping[str, Any], *, labels: Mapping[str, str]) -> dict[str, Any]:
    """Grouped bars: each criterion's (and the total's) rank correlation with growth and with margin."""
    rows = list(payoff_["criteria"]) + [payoff_["overall"]]
    names = [r["name"] if r["criterion_id"] is not None else labels["overall"] for r in rows]

    def bars(key: str, colour: str) -> dict[str, Any]:
        return {"type": "bar", "name": labels[key], "x": names,
                "y": [r[key]["rho"] for r in rows], "marker": {"color": colour},
                "customdata": [[r[key]["p"], r[key]["n"]] for r in rows],
                "hovertemplate": "%{x}: ρ = %{y:.2f} (p = %{customdata[0]:.3f}, n = %{customdata[1]})<extra>" + labels[key] + "</extra>"}

    threshold = payoff_["thresholds"]["rho"]
    return {
        "data": [bars("growth", "#2563eb"), bars("margin", "#059669")],
        "layout": {
            "barmode": "group", "height": 380, "margin": {"l": 60, "r": 20, "t": 10, "b": 90},
            "yaxis": {"title": {"text": labels["rho"]}, "range": [-1, 1], "zeroline": True},
            "shapes": [{"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": threshold, "y1": threshold,
                        "line": {"color": "#9ca3af", "dash": "dot", "width": 1}}],
            "legend": {"orientation": "h", "y": 1.08},
        },
    }
