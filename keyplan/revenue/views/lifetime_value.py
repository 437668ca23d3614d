"""The lifetime-value page: as of a day, over a horizon, with what the numbers mean."""

import datetime

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from keyplan.revenue.filters import LifetimeValueFilter
from keyplan.revenue.lifetime_value import clv_report
from keyplan.revenue.views.portfolio import TABLE_ROWS, _links


@require_GET
def lifetime_value_page(request: HttpRequest) -> HttpResponse:
    form = LifetimeValueFilter(request.GET or None)
    context = {"form": form, "name": "clv", "query": request.GET.urlencode(), "rows": TABLE_ROWS, "api_query": ""}
    if form.is_bound and not form.is_valid():
        return render(request, "revenue/lifetime_value.html", context)  # the errors, and no numbers of other options
    options = form.options()
    api = {"as_of": options.as_of, "horizon_months": options.horizon_months, "discount_rate": options.discount_rate}
    context["api_query"] = "&".join(f"{key}={value}" for key, value in api.items() if value is not None)
    try:
        result = clv_report(form.scope(request.user), options, rows=TABLE_ROWS)
    except ValueError as exc:
        context["error"] = str(exc)
        return render(request, "revenue/lifetime_value.html", context)
    accounts = result["accounts"][:TABLE_ROWS]
    subscriptions = result["subscriptions"]["accounts"][:TABLE_ROWS]
    links = _links(accounts + subscriptions)
    for row in accounts + subscriptions:
        row["pk"], row["name"] = links.get(row["external_id"], (None, ""))
    context.update({
        "result": result, "accounts": accounts, "subscriptions": subscriptions,
        "as_of": datetime.date.fromisoformat(result["as_of"]),
        "discount_pct": round(result["discount_rate"] * 100, 2), "margin_pct": round(result["margin"] * 100, 1),
    })
    return render(request, "revenue/lifetime_value.html", context)
