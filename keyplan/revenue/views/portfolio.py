"""The portfolio page and one page per analysis: parse the filters, run the report, render."""

from urllib.parse import urlencode

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.views.decorators.http import require_GET

from keyplan.accounts.models import Account
from keyplan.core.caching import computed_once
from keyplan.revenue import charts, portfolio
from keyplan.revenue.filters import PortfolioFilter
from keyplan.revenue.models import Subscription

ANALYSIS_PAGES = ("pareto", "abc", "mrr", "profitability", "concentration")  # lifetime value: views/lifetime_value.py
TABLE_ROWS = 200
assert set(ANALYSIS_PAGES) <= set(portfolio.CACHED_REPORTS)  # each page's table is kept under its result's key


def _links(rows: list[dict]) -> dict[str, tuple[int, str]]:
    """external id -> (pk, name) of the accounts shown, for links in the tables."""
    ids = [row["external_id"] for row in rows]
    return {ext: (pk, name) for pk, ext, name in Account.objects.filter(external_id__in=ids).values_list("pk", "external_id", "name")}


@require_GET
def overview(request: HttpRequest) -> HttpResponse:
    form = PortfolioFilter(request.GET or None)
    scope = form.scope(request.user)
    context = {"form": form, "query": request.GET.urlencode(), "filtered": scope.filtered, "error": None}
    if form.is_bound and not form.is_valid():  # the errors, not the numbers of other filters than those asked for
        return render(request, "revenue/portfolio.html", context)
    options = form.options()
    key = portfolio.overview_key(scope, options)
    try:
        result = portfolio.overview(scope, options, key=key)
    except ValueError as exc:
        context["error"] = str(exc)
        return render(request, "revenue/portfolio.html", context)
    form.show_period(result)
    pareto, profit, abc = result["pareto"], result["profitability"], result["abc"]
    latest = list(abc["years"])[-1] if abc["years"] else None
    context.update({
        "result": result, "pareto": pareto, "abc": abc,
        "tiles": {
            # The period's net revenue: credit notes count, also those of accounts the Pareto leaves out (its total
            # adds up positive revenue only).
            "revenue": profit["totals"]["revenue"], "arr": result["arr"],
            "margin": profit["totals"]["margin"], "margin_pct": profit["totals"]["margin_pct"],
            "top10": sum(a["share"] for a in pareto["accounts"][:10]),
            "a_accounts": abc["years"][latest]["A"] if latest else 0, "a_year": latest,
            "accounts": len(pareto["accounts"]) + pareto["rest"]["accounts"],
        },
        "pareto_chart": charts.pareto_figure({**pareto, "currency": result["currency"]}, max_bars=portfolio.OVERVIEW_BARS),
        # No line of the period has a cost: every margin would read 100 %, so none is shown.
        "no_costs": not profit["totals"]["cost"],
    })
    if not context["no_costs"]:
        # A hover text per account (1,500 at most), each with two numbers in the reader's format: made once per
        # overview and language, and kept (a third of the page's CPU at 300 accounts).
        context["profit_chart"] = computed_once(f"{key}:profit-chart:{translation.get_language()}",
                                                lambda: charts.profit_matrix_figure({**profit, "currency": result["currency"]}))
    return render(request, "revenue/portfolio.html", context)


@require_GET
def analysis_page(request: HttpRequest, name: str) -> HttpResponse:
    if name not in ANALYSIS_PAGES:
        raise Http404
    form = PortfolioFilter(request.GET or None)
    api_query = urlencode({{"date_from": "from", "date_to": "to"}.get(k, k): v for k, v in request.GET.items() if v})
    context = {"form": form, "name": name, "query": request.GET.urlencode(), "api_query": api_query, "rows": TABLE_ROWS}
    if form.is_bound and not form.is_valid():  # the errors, not the numbers of other filters than those asked for
        return render(request, "revenue/analysis.html", context)
    scope, options = form.scope(request.user), form.options()
    # The table is kept rendered under the result's key and the reader's language (analysis.html): 200 rows
    # of links and numbers were most of the page's CPU.
    context["table_key"] = key = portfolio.report_key(name, scope, options)
    try:
        result = portfolio.run(name, scope, options, key=key)
    except ValueError as exc:
        context["error"] = str(exc)
        return render(request, "revenue/analysis.html", context)
    form.show_period(result)
    accounts = result.get("accounts", [])[:TABLE_ROWS]
    links = _links(accounts + result.get("subscriptions", {}).get("accounts", [])[:TABLE_ROWS])
    for row in accounts + result.get("subscriptions", {}).get("accounts", [])[:TABLE_ROWS]:
        row["pk"], row["name"] = links.get(row["external_id"], (None, row.get("name", "")))
        if "label" in row:  # a profit quadrant, in the reader's language (the chart reads the English name)
            row["label_shown"] = charts.QUADRANT_LABELS.get(row["label"], row["label"])
    context.update({"result": result, "accounts": accounts, "years": list(result.get("years", {}))})
    figure = {"pareto": charts.pareto_figure, "profitability": charts.profit_matrix_figure, "mrr": charts.mrr_figure,
              "abc": charts.abc_figure}.get(name)
    if name == "mrr":
        context["subscriptions_imported"] = Subscription.objects.exists()
        if not result["months"] or not any(m["mrr"] or m["churn"] for m in result["months"]):
            figure = None  # nothing to draw: the page says why
    if name == "profitability" and not result["totals"]["cost"]:
        context["no_costs"], figure = True, None  # every margin would read 100 %
    if figure:
        context["chart"] = figure(result)
    return render(request, "revenue/analysis.html", context)
