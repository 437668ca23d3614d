"""Plotly figures (plain dicts) for the health dashboard, from the daily program snapshots: the MRR at risk over
time and the MRR by subscription plan over time. The browser draws them with the bundled plotly.min.js."""

import datetime
from typing import Any

from django.utils.translation import gettext as _

from keyplan.core import numbers
from keyplan.core.dates import format_date
from keyplan.revenue.charts import INK, LINE, PLAN_COLOURS, _layout

RISK = "#b91c1c"


def _days(trend: list[dict]) -> list[str]:
    """The snapshot days in the reader's calendar and short date format (categories: Plotly's own month names are
    English)."""
    return [format_date(datetime.date.fromisoformat(t["day"]), "SHORT_DATE_FORMAT") for t in trend]


def risk_trend_figure(trend: list[dict], *, currency: str = "") -> dict[str, Any]:
    """MRR at risk (open cases of the at-risk queue) per snapshot day as bars, the number of cases as a line."""
    days = _days(trend)
    mrr = [t["mrr_at_risk"] for t in trend]
    cases = [t["risk_cases"] for t in trend]
    return {
        "data": [
            {"type": "bar", "name": _("MRR at risk"), "x": days, "y": mrr, "marker": {"color": RISK},
             "customdata": [numbers.number(v) for v in mrr],
             "hovertemplate": f"%{{x}}: %{{customdata}} {currency}<extra></extra>"},
            {"type": "scatter", "mode": "lines+markers", "name": _("Accounts in the queue"), "x": days, "y": cases,
             "yaxis": "y2", "line": {"color": INK, "width": 2}, "customdata": [numbers.number(v) for v in cases],
             "hovertemplate": _("%(day)s: %(n)s accounts in the queue") % {"day": "%{x}", "n": "%{customdata}"} + "<extra></extra>"},
        ],
        "layout": _layout(
            showlegend=True, legend={"orientation": "h", "y": -0.2}, height=320,
            xaxis={"type": "category", "automargin": True},
            yaxis={"title": {"text": _("MRR at risk (%(currency)s)") % {"currency": currency}}, "gridcolor": LINE,
                   "rangemode": "tozero", "tickformat": ",.0f", "automargin": True},
            yaxis2={"overlaying": "y", "side": "right", "rangemode": "tozero", "showgrid": False, "tickformat": ",d",
                    "dtick": max(1, -(-max(cases, default=0) // 5)),  # whole accounts: no tick between 0 and 1
                    "title": {"text": _("Accounts in the queue")}, "automargin": True},
        ),
    }


def plan_trend_figure(trend: list[dict], *, currency: str = "") -> dict[str, Any]:
    """MRR by subscription plan per snapshot day, stacked: how the plans' MRR changes over time."""
    days = _days(trend)
    plans: dict[str, float] = {}
    for t in trend:
        for plan, value in t["mrr_by_plan"].items():
            plans[plan] = plans.get(plan, 0.0) + value
    data = []
    for i, plan in enumerate(sorted(plans, key=lambda p: -plans[p])[:12]):
        values = [t["mrr_by_plan"].get(plan, 0) for t in trend]
        data.append({"type": "bar", "name": plan, "x": days, "y": values, "marker": {"color": PLAN_COLOURS[i % len(PLAN_COLOURS)]},
                     "customdata": [numbers.number(v) for v in values],
                     "hovertemplate": f"{plan} · %{{x}}: %{{customdata}} {currency}<extra></extra>"})
    return {"data": data, "layout": _layout(
        barmode="stack", showlegend=True, legend={"orientation": "h", "y": -0.2}, height=320,
        xaxis={"type": "category", "automargin": True},
        yaxis={"title": {"text": _("MRR by plan (%(currency)s)") % {"currency": currency}}, "gridcolor": LINE,
               "rangemode": "tozero", "tickformat": ",.0f", "automargin": True})}
