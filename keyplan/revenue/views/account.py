"""The revenue card of the account page, fetched by the page itself (accounts does not import revenue)."""

import datetime

from django.db.models import Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from keyplan.accounts.models import Account
from keyplan.core import numbers
from keyplan.revenue.models import AbcClass, AbcCoverage, MonthlyRollup
from keyplan.revenue.portfolio import Period, _add_months
from keyplan.revenue.services import reporting_currency


@require_GET
def account_revenue(request: HttpRequest, pk: int) -> HttpResponse:
    account = get_object_or_404(Account.objects.visible_to(request.user), pk=pk)
    this_year = Period.last_months(12)
    last_year = Period(_add_months(this_year.start, -12), this_year.start - datetime.timedelta(days=1))
    rollups = MonthlyRollup.objects.filter(account=account)

    def totals(period: Period) -> dict:
        sums = rollups.filter(month__gte=period.start, month__lte=period.end).aggregate(revenue=Sum("revenue"), cost=Sum("cost"))
        return {k: float(v or 0) for k, v in sums.items()}

    now, before = totals(this_year), totals(last_year)
    margin = (now["revenue"] - now["cost"]) / now["revenue"] if now["revenue"] > 0 else None
    growth = (now["revenue"] - before["revenue"]) / before["revenue"] if before["revenue"] > 0 else None
    classes = dict(AbcClass.objects.filter(account=account).values_list("year", "abc_class"))
    months = [_add_months(this_year.start, -12 + i) for i in range(24)]
    by_month = dict(rollups.filter(month__gte=months[0]).values_list("month", "revenue"))
    chart = {
        "data": [{"type": "bar", "x": [m.strftime("%Y-%m") for m in months], "y": [float(by_month.get(m, 0)) for m in months],
                  "marker": {"color": "#1d4ed8"}, "hovertemplate": "%{x}: %{y:,.0f}<extra></extra>"}],
        # Whole amounts in the reader's format on the axis too (Plotly's own "40k" is English in every language).
        "layout": {"height": 160, "margin": {"l": 40, "r": 10, "t": 10, "b": 30}, "showlegend": False,
                   "separators": numbers.plotly_separators(), "xaxis": {"tickformat": "%b %y"},
                   "yaxis": {"gridcolor": "#e5e7eb", "tickformat": ",.0f", "automargin": True},
                   "paper_bgcolor": "white", "plot_bgcolor": "white"},
    }
    context = {
        "account": account,
        "currency": reporting_currency(),
        "now": now, "before": before, "margin": margin, "growth": growth,
        "classes": [(year, classes.get(year, "C")) for year in AbcCoverage.years()],
        "chart": chart if any(by_month.values()) else None,
        "as_of": timezone.localdate(),
    }
    return render(request, "revenue/account_revenue.html", context)
