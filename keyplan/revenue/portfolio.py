"""Portfolio analyses as users ask for them: which accounts, which period, which options.

Each ``*_report`` function loads the tables it needs from the rollups (never the
raw ledger, except lifetime value, which needs every purchase day), runs the pure
function of ``analysis.py`` and returns the JSON payload that the page, the API
(``/api/v1/analysis/NAME``) and ``keyplan analyze NAME --json`` all serve.
"""

import datetime
from dataclasses import dataclass, field
from typing import Any

import polars as pl
from django.db import connection, transaction
from django.db.models import Max, Min, QuerySet
from django.utils import timezone

from keyplan.accounts.models import Account, TeamMember, TeamRole
from keyplan.core.models import User
from keyplan.revenue import analysis
from keyplan.revenue.models import AbcClass, AbcCoverage, ExchangeRate, LedgerLine, MonthlyRollup, Subscription
from keyplan.revenue.services import reporting_currency

ANALYSES = ("pareto", "abc", "mrr", "profitability", "concentration", "clv")


@dataclass(frozen=True)
class Scope:
    """Which accounts an analysis covers: those the user may see, narrowed by the portfolio filters."""

    user: User | None  # None: the whole portfolio, for what is computed once for everyone
    industry: str = ""
    country: str = ""
    tier: str = ""
    kam: int | None = None

    def accounts(self) -> QuerySet[Account]:
        accounts = Account.objects.all() if self.user is None else Account.objects.visible_to(self.user)
        accounts = accounts.filter(archived_at__isnull=True)
        for name in ("industry", "country", "tier"):
            if getattr(self, name):
                accounts = accounts.filter(**{name: getattr(self, name)})
        if self.kam:
            accounts = accounts.filter(pk__in=TeamMember.objects.filter(role=TeamRole.KAM, user_id=self.kam).values("account_id"))
        return accounts

    @property
    def filtered(self) -> bool:
        narrowed = bool(self.industry or self.country or self.tier or self.kam)
        return narrowed or (self.user is not None and not self.user.sees_all_accounts)

    def as_dict(self) -> dict:
        return {k: v for k, v in {"industry": self.industry, "country": self.country, "tier": self.tier, "kam": self.kam}.items() if v}


@dataclass(frozen=True)
class Period:
    start: datetime.date
    end: datetime.date  # inclusive

    @classmethod
    def last_months(cls, months: int = 12, *, today: datetime.date | None = None) -> "Period":
        today = today or timezone.localdate()
        first = _add_months(today.replace(day=1), -(months - 1))
        return cls(first, today)

    def months(self) -> list[datetime.date]:
        month, result = self.start.replace(day=1), []
        while month <= self.end:
            result.append(month)
            month = _add_months(month, 1)
        return result

    def validate(self) -> None:
        if self.end < self.start:
            raise ValueError(f"the period ends ({self.end}) before it starts ({self.start})")


def _add_months(day: datetime.date, months: int) -> datetime.date:
    index = day.year * 12 + day.month - 1 + months
    return day.replace(year=index // 12, month=index % 12 + 1, day=1)


# ---------------------------------------------------------------- loading from the rollups


def _fetch(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _scope_sql(scope: Scope) -> tuple[str, list]:
    """`AND account_id IN (...)` for a filtered scope, nothing for everything."""
    if not scope.filtered:
        return "", []
    sql, params = scope.accounts().values("pk").query.sql_with_params()
    return f" AND r.account_id IN ({sql})", list(params)


def _names(scope: Scope) -> pl.DataFrame:
    rows = list(scope.accounts().values_list("pk", "external_id", "name"))
    return pl.DataFrame(rows, schema={"account_id": pl.Int64, "external_id": pl.String, "name": pl.String}, orient="row")


def revenue_by_account(scope: Scope, period: Period) -> pl.DataFrame:
    """external_id, name, revenue, cost: one row per account in scope (0 without revenue in the period)."""
    where, params = _scope_sql(scope)
    rows = _fetch(
        f"SELECT r.account_id, SUM(r.revenue), SUM(r.cost) FROM {MonthlyRollup._meta.db_table} r "
        f"WHERE r.month >= %s AND r.month <= %s{where} GROUP BY r.account_id",
        [period.start.replace(day=1), period.end, *params],
    )
    sums = pl.DataFrame([(a, float(rev), float(cost)) for a, rev, cost in rows],
                        schema={"account_id": pl.Int64, "revenue": pl.Float64, "cost": pl.Float64}, orient="row")
    return (_names(scope).join(sums, on="account_id", how="left")
            .with_columns(pl.col("revenue").fill_null(0.0), pl.col("cost").fill_null(0.0)).drop("account_id"))


def revenue_by_account_year(scope: Scope, years: list[int]) -> pl.DataFrame:
    """external_id, year, revenue: every account in scope appears (with 0 in years without revenue)."""
    where, params = _scope_sql(scope)
    start, end = datetime.date(min(years), 1, 1), datetime.date(max(years), 12, 31)
    year = "CAST(strftime('%%Y', r.month) AS INTEGER)" if connection.vendor == "sqlite" else "CAST(EXTRACT(YEAR FROM r.month) AS INTEGER)"
    rows = _fetch(
        f"SELECT r.account_id, {year}, SUM(r.revenue) FROM {MonthlyRollup._meta.db_table} r "
        f"WHERE r.month >= %s AND r.month <= %s{where} GROUP BY r.account_id, {year}",
        [start, end, *params],
    )
    sums = pl.DataFrame([(a, int(y), float(rev)) for a, y, rev in rows],
                        schema={"account_id": pl.Int64, "year": pl.Int64, "revenue": pl.Float64}, orient="row")
    names = _names(scope)
    universe = names.join(pl.DataFrame({"year": years}, schema={"year": pl.Int64}), how="cross")
    return (universe.join(sums, on=["account_id", "year"], how="left")
            .select("external_id", "year", pl.col("revenue").fill_null(0.0)))


def _rates_at(day: datetime.date) -> dict[str, float]:
    """The latest rate of each currency on or before ``day``."""
    rates: dict[str, float] = {}
    for currency, rate in ExchangeRate.objects.filter(date__lte=day).order_by("currency", "date").values_list("currency", "rate"):
        rates[currency] = float(rate)
    return rates


def subscriptions_frame(scope: Scope, *, at: datetime.date) -> pl.DataFrame:
    """external_id, plan, monthly_amount (in the reporting currency at ``at``), start, end."""
    rates = _rates_at(at) | {reporting_currency(): 1.0}
    rows = []
    lines = Subscription.objects.filter(account__in=scope.accounts()).values_list(
        "account__external_id", "plan", "monthly_amount", "currency", "start", "end")
    for external_id, plan, amount, currency, start, end in lines:
        if currency not in rates:
            raise ValueError(f"no exchange rate for {currency} on or before {at}; import exchange rates first")
        rows.append((external_id, plan, float(amount) * rates[currency], start, end))
    return pl.DataFrame(rows, schema={"external_id": pl.String, "plan": pl.String, "monthly_amount": pl.Float64,
                                      "start": pl.Date, "end": pl.Date}, orient="row")


def purchase_days(scope: Scope, *, as_of: datetime.date) -> pl.DataFrame:
    """external_id, date, amount: revenue per account per purchase day up to ``as_of`` (from the ledger)."""
    where, params = _scope_sql(scope)
    rows = _fetch(
        f"SELECT r.account_id, r.date, SUM(r.amount_reporting) FROM {LedgerLine._meta.db_table} r "
        f"JOIN revenue_importbatch b ON b.id = r.batch_id AND b.status = 'done' "
        f"WHERE r.date <= %s{where} GROUP BY r.account_id, r.date",
        [as_of, *params],
    )
    days = pl.DataFrame([(a, d if isinstance(d, datetime.date) else datetime.date.fromisoformat(d), float(s)) for a, d, s in rows],
                        schema={"account_id": pl.Int64, "date": pl.Date, "amount": pl.Float64}, orient="row")
    return days.join(_names(scope), on="account_id").select("external_id", "date", "amount")


# ---------------------------------------------------------------- reports


@dataclass
class Options:
    """Options of every analysis; each report reads the ones it needs."""

    start: datetime.date | None = None
    end: datetime.date | None = None
    threshold: float = 0.8
    thresholds: tuple[float, float] = (0.8, 0.95)
    years: int = 3
    top: int = 10
    as_of: datetime.date | None = None
    horizon_months: int = 12
    discount_rate: float = 0.10
    extra: dict = field(default_factory=dict)

    def period(self) -> Period:
        default = Period.last_months(12)
        period = Period(self.start or default.start, self.end or (default.end if not self.start else timezone.localdate()))
        period.validate()
        return period

    def year_list(self) -> list[int]:
        if self.start or self.end:
            period = self.period()
            return list(range(period.start.year, period.end.year + 1))
        if self.years < 1:
            raise ValueError("years must be at least 1")
        this_year = timezone.localdate().year
        return list(range(this_year - self.years + 1, this_year + 1))


def pareto_report(scope: Scope, options: Options) -> dict[str, Any]:
    period = options.period()
    result = analysis.pareto(revenue_by_account(scope, period).select("external_id", "name", "revenue"),
                             threshold=options.threshold)
    return {"from": period.start.isoformat(), "to": period.end.isoformat(), "currency": reporting_currency(), **result}


def abc_report(scope: Scope, options: Options) -> dict[str, Any]:
    years = options.year_list()
    result = analysis.abc_classes(revenue_by_account_year(scope, years), years=years, thresholds=options.thresholds)
    return {"currency": reporting_currency(), **result}


def mrr_report(scope: Scope, options: Options) -> dict[str, Any]:
    period = options.period()
    frame = subscriptions_frame(scope, at=period.end)
    result = analysis.recurring_revenue(frame, months=period.months())
    return {"from": period.start.isoformat(), "to": period.end.isoformat(), "currency": reporting_currency(), **result}


def profitability_report(scope: Scope, options: Options) -> dict[str, Any]:
    period = options.period()
    result = analysis.profitability(revenue_by_account(scope, period))
    return {"from": period.start.isoformat(), "to": period.end.isoformat(), "currency": reporting_currency(), **result}


def concentration_report(scope: Scope, options: Options) -> dict[str, Any]:
    years = options.year_list()
    result = analysis.concentration(revenue_by_account_year(scope, years), top=options.top)
    return {"currency": reporting_currency(), **result}


def clv_report(scope: Scope, options: Options) -> dict[str, Any]:
    """Transactional CLV (BG/NBD + Gamma-Gamma) for every account with purchases; subscription CLV beside it."""
    as_of = options.as_of or timezone.localdate()
    profit = revenue_by_account(scope, Period(_add_months(as_of.replace(day=1), -11), as_of))
    margins = profit.filter(pl.col("revenue") > 0)
    portfolio_margin = float(1 - margins["cost"].sum() / margins["revenue"].sum()) if margins.height else 1.0
    result = analysis.transactional_clv(purchase_days(scope, as_of=as_of), as_of=as_of,
                                        horizon_months=options.horizon_months, discount_rate=options.discount_rate,
                                        margin=round(max(portfolio_margin, 0.0), 6))
    result["currency"] = reporting_currency()
    result["subscriptions"] = _subscription_clv(scope, as_of, profit, options)
    return result


def _subscription_clv(scope: Scope, as_of: datetime.date, profit: pl.DataFrame, options: Options) -> dict[str, Any]:
    months = Period(_add_months(as_of.replace(day=1), -11), as_of).months()
    subscriptions = subscriptions_frame(scope, at=as_of)
    if not subscriptions.height:
        return {"monthly_churn_rate": None, "accounts": []}
    churn = analysis.observed_monthly_churn_rate(subscriptions, months=months)
    recurring = analysis.recurring_revenue(subscriptions, months=[months[-1]])
    margin = profit.with_columns(
        pl.when(pl.col("revenue") > 0).then(1 - pl.col("cost") / pl.col("revenue")).otherwise(None).alias("margin_pct"))
    arr = pl.DataFrame([(a["external_id"], a["arr"]) for a in recurring["accounts"]],
                       schema={"external_id": pl.String, "arr": pl.Float64}, orient="row")
    frame = arr.join(margin.select("external_id", "margin_pct"), on="external_id", how="left").with_columns(
        pl.col("margin_pct").fill_null(1.0).clip(0.0, 1.0))
    if churn is None or (churn == 0 and options.discount_rate == 0):
        horizon = options.horizon_months
    else:
        horizon = None
    accounts = analysis.subscription_clv(frame, monthly_churn_rate=churn or 0.0, discount_rate=options.discount_rate,
                                         horizon_months=horizon)
    return {"monthly_churn_rate": churn, "discount_rate": options.discount_rate, "accounts": accounts}


def refresh_abc_classes(*, max_years: int = 10) -> None:
    """Recompute every account's ABC class per year over the whole portfolio (after an import or a rollback)."""
    bounds = MonthlyRollup.objects.aggregate(first=Min("month"), last=Max("month"))
    with transaction.atomic():
        AbcClass.objects.all().delete()
        if bounds["first"] is None:
            return
        years = list(range(max(bounds["first"].year, bounds["last"].year - max_years + 1), bounds["last"].year + 1))
        scope = Scope(None)
        result = analysis.abc_classes(revenue_by_account_year(scope, years), years=years)
        ids = dict(scope.accounts().values_list("external_id", "pk"))
        rows = [AbcClass(account_id=ids[a["external_id"]], year=int(year), abc_class=c)
                for a in result["accounts"] for year, c in a["classes"].items() if c != "C"]
        AbcClass.objects.bulk_create(rows, batch_size=5000)
        AbcCoverage.objects.update_or_create(pk=1, defaults={"first_year": years[0], "last_year": years[-1]})


REPORTS = {
    "pareto": pareto_report,
    "abc": abc_report,
    "mrr": mrr_report,
    "profitability": profitability_report,
    "concentration": concentration_report,
    "clv": clv_report,
}


def run(name: str, scope: Scope, options: Options) -> dict[str, Any]:
    """The named analysis as a JSON-ready payload. Raises ValueError for options that make no sense."""
    if name not in REPORTS:
        raise ValueError(f"unknown analysis {name!r}; choose one of {', '.join(REPORTS)}")
    payload = REPORTS[name](scope, options)
    if scope.as_dict():
        payload["filters"] = scope.as_dict()
    return payload


def summary(name: str, payload: dict[str, Any]) -> str:
    """A few plain lines for the terminal; --json gives everything."""
    currency = payload.get("currency", "")

    def money(value) -> str:
        return f"{value:,.0f} {currency}" if value is not None else "—"

    lines = []
    if name == "pareto":
        total = len(payload["accounts"])
        lines.append(f"Pareto {payload['from']} – {payload['to']}: {payload['vital_few']} of {total} accounts make "
                     f"{payload['threshold']:.0%} of {money(payload['total'])}.")
        lines += [f"  {a['external_id']:<12} {a['name'][:40]:<40} {money(a['revenue']):>18} {a['cumulative_share']:7.1%}"
                  for a in payload["accounts"][:15]]
    elif name == "abc":
        for year, counts in payload["years"].items():
            lines.append(f"{year}: A {counts['A']:>6}  B {counts['B']:>6}  C {counts['C']:>6}")
        for step, matrix in payload["movements"].items():
            moves = ", ".join(f"{a}→{b} {n}" for a, row in matrix.items() for b, n in row.items() if a != b and n)
            lines.append(f"{step}: {moves or 'no movement'}")
    elif name == "mrr":
        for month in payload["months"]:
            lines.append(f"{month['month']}: MRR {money(month['mrr'])}, ARR {money(month['arr'])}, {month['accounts']} accounts, "
                         f"new {money(month['new'])}, expansion {money(month['expansion'])}, "
                         f"contraction {money(month['contraction'])}, churn {money(month['churn'])}")
    elif name == "profitability":
        totals = payload["totals"]
        lines.append(f"{payload['from']} – {payload['to']}: revenue {money(totals['revenue'])}, cost {money(totals['cost'])}, "
                     f"margin {money(totals['margin'])} ({(totals['margin_pct'] or 0):.1%})")
        lines += [f"  {a['external_id']:<12} {money(a['revenue']):>18} margin {(a['margin_pct'] or 0):6.1%}  {a['label']}"
                  for a in payload["accounts"][:15]]
    elif name == "concentration":
        lines.append(f"{payload['year']}: top {payload['top_n']} share {payload['top_share']:.1%}, "
                     f"Herfindahl {payload['hhi_points']:.0f} points over {payload['account_count']} accounts")
    elif name == "clv":
        model = payload["model"]["bgnbd"]
        lines.append(f"Lifetime value over {payload['horizon_months']} months as of {payload['as_of']} "
                     f"(BG/NBD r={model['r']:.3f} α={model['alpha']:.3f} a={model['a']:.3f} b={model['b']:.3f}):")
        lines += [f"  {a['external_id']:<12} p(alive) {a['p_alive']:5.2f}  purchases {a['expected_purchases']:7.1f}  CLV {money(a['clv']):>16}"
                  for a in payload["accounts"][:15]]
    return "\n".join(lines)
