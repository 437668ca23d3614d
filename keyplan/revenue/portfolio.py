"""Portfolio analyses as users ask for them: which accounts, which period, which options.

Each ``*_report`` function loads the tables it needs from the rollups (never the
raw ledger, except lifetime value, which needs every purchase day: see ``lifetime_value.py``), runs the pure
function of ``analysis.py`` and returns the JSON payload that the page, the API
(``/api/v1/analysis/NAME``) and ``keyplan analyze NAME --json`` all serve.
``overview`` is what the portfolio page shows of them, computed without a row per
account; the page's ABC table counts the classes stored by ``refresh_abc_classes``.
"""

import dataclasses
import datetime
import hashlib
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import polars as pl
from django.db import connection, transaction
from django.db.models import Max, Min, QuerySet, Sum
from django.utils import timezone

from keyplan.accounts.models import Account, TeamMember, TeamRole
from keyplan.core.caching import computed_once
from keyplan.core.db import bulk_insert, fetch_frame, fetch_rows
from keyplan.core.memory import gc_paused
from keyplan.core.models import User
from keyplan.revenue import analysis
from keyplan.revenue.charts import MAX_POINTS
from keyplan.revenue.importing.inspection import reporting_currency
from keyplan.revenue.ledger_keys import day_of, key_range
from keyplan.revenue.models import (
    AbcClass,
    AbcCoverage,
    ExchangeRate,
    ImportBatch,
    LedgerLine,
    MonthlyRollup,
    ProductRollup,
    Subscription,
    YearlyRollup,
)

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

    def narrow(self, queryset: QuerySet, field: str = "account") -> QuerySet:
        """``queryset`` of rows hanging off accounts, narrowed to the accounts in scope."""
        if self.filtered:
            return queryset.filter(**{f"{field}__in": self.accounts()})
        return queryset.filter(**{f"{field}__archived_at__isnull": True})  # a join, not a list of 100,000 ids

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


def _scope_sql(scope: Scope, column: str = "r.account_id", *, exact: bool = False) -> tuple[str, list]:
    """`AND column IN (...)` for a filtered scope. For everything: nothing, or with ``exact``
    (rows of archived accounts must not count) `AND column NOT IN (the archived accounts)`."""
    if scope.filtered:
        sql, params = scope.accounts().values("pk").query.sql_with_params()
        return f" AND {column} IN ({sql})", list(params)
    if exact:
        return f" AND {column} NOT IN (SELECT id FROM {Account._meta.db_table} WHERE archived_at IS NOT NULL)", []
    return "", []


def _accounts(scope: Scope, *, names: bool = True) -> pl.DataFrame:
    """account_id, external_id (and name) of every account in scope."""
    columns = ["pk", "external_id", *(["name"] if names else [])]
    sql, params = scope.accounts().order_by().values_list(*columns).query.sql_with_params()
    schema = {"account_id": pl.Int64, "external_id": pl.String, "name": pl.String}
    return fetch_frame(sql, list(params), dict(list(schema.items())[:len(columns)]))


def _rollup_parts(period: Period) -> list[tuple[type, int, Any, Any]]:
    """The rollup rows that add up to the months of ``period``: (model, sign, first, last) ranges.

    Whole calendar years are read from the yearly rollups. A year the period covers in part is
    read from the monthly rollups, or as the yearly rollup minus the months outside the period,
    whichever reads fewer rows per account (last 12 months in November: December's months, then
    this year's yearly rollup minus December's, which has no rows yet).
    """
    first, last = period.start.replace(day=1), period.end.replace(day=1)
    parts: list[tuple[type, int, Any, Any]] = []
    for year in range(first.year, last.year + 1):
        low = first.month if year == first.year else 1
        high = last.month if year == last.year else 12
        covered = high - low + 1
        if 1 + (12 - covered) < covered:  # the yearly row and the months left out are fewer than the months in
            parts.append((YearlyRollup, 1, year, year))
            if low > 1:
                parts.append((MonthlyRollup, -1, datetime.date(year, 1, 1), datetime.date(year, low - 1, 1)))
            if high < 12:
                parts.append((MonthlyRollup, -1, datetime.date(year, high + 1, 1), datetime.date(year, 12, 1)))
        else:
            parts.append((MonthlyRollup, 1, datetime.date(year, low, 1), datetime.date(year, high, 1)))
    merged: list[tuple[type, int, Any, Any]] = []
    for part in sorted(parts, key=lambda part: (part[0].__name__, part[1], part[2])):
        model, sign, start, end = part
        if merged and merged[-1][:2] == (model, sign) and _next(merged[-1][3]) == start:
            merged[-1] = (model, sign, merged[-1][2], end)
        else:
            merged.append(part)
    return merged


def _next(key: int | datetime.date) -> int | datetime.date:
    return key + 1 if isinstance(key, int) else _add_months(key, 1)


def ledger_days() -> tuple[datetime.date | None, datetime.date | None]:
    """The first and the last day of the ledger's lines (None, None when it has none): the ends of its key,
    which begins with the day (`ledger_keys`)."""
    # Two queries: SQLite reads one end of the index for MIN() or MAX() alone, but scans for both at once.
    first = LedgerLine.objects.aggregate(key=Min("dedupe_key"))["key"]
    return (None, None) if first is None else (day_of(first), day_of(LedgerLine.objects.aggregate(key=Max("dedupe_key"))["key"]))


def product_revenue(account_id: int) -> dict[tuple[str, str], Decimal]:
    """An account's revenue per (division, product) in the ledger's last two calendar years (its last line's
    year and the one before), from the product rollups: what the whitespace map shows in use."""
    last = ledger_days()[1]
    if last is None:
        return {}
    rows = (ProductRollup.objects.filter(account_id=account_id, year__gte=last.year - 1).values_list("division", "product")
            .annotate(total=Sum("revenue")))
    return {(division, product): Decimal(total).quantize(Decimal("0.01")) for division, product, total in rows}  # SQLite sums as floats


def _exact_parts(period: Period, days: tuple[datetime.date | None, datetime.date | None]
                 ) -> tuple[Period | None, list[tuple[int, datetime.date, datetime.date]]]:
    """How to add up ``period`` to the day: the whole months read from the rollups (a Period of first days,
    or None), and the ledger days to add (+1) or take away (-1) at its edges, as (sign, first, last).

    A month the period covers in part is read from its lines (the days inside), or as its rollup minus
    the lines of the days outside, whichever spans fewer days: at most half a month of lines per edge.
    Days before the ledger's first line or after its last hold nothing, so an edge there needs no lines.
    """
    first_line, last_line = days
    if first_line is None:  # no lines: the rollups are all there is (none either, unless written without lines)
        return Period(period.start.replace(day=1), period.end.replace(day=1)), []
    if period.end < first_line or period.start > last_line:
        return None, []
    start = period.start if period.start > first_line else period.start.replace(day=1)
    end = period.end if period.end < last_line else _month_end(period.end)
    first_month, last_month = start.replace(day=1), end.replace(day=1)
    lines: list[tuple[int, datetime.date, datetime.date]] = []
    one = datetime.timedelta(days=1)
    if first_month == last_month and (start.day > 1 or end < _month_end(end)):
        inside = (end - start).days + 1
        if inside <= _month_end(end).day - inside:
            return None, [(1, start, end)]
        if start.day > 1:
            lines.append((-1, first_month, start - one))
        if end < _month_end(end):
            lines.append((-1, end + one, _month_end(end)))
        return Period(first_month, last_month), lines
    if start.day > 1:
        inside = _month_end(start).day - start.day + 1
        if inside <= start.day - 1:
            lines.append((1, start, _month_end(start)))
            first_month = _add_months(first_month, 1)
        else:
            lines.append((-1, first_month, start - one))
    if end < _month_end(end):
        if end.day <= _month_end(end).day - end.day:
            lines.append((1, last_month, end))
            last_month = _add_months(last_month, -1)
        else:
            lines.append((-1, end + one, _month_end(end)))
    return (Period(first_month, last_month) if first_month <= last_month else None), lines


def _month_end(day: datetime.date) -> datetime.date:
    return _add_months(day.replace(day=1), 1) - datetime.timedelta(days=1)


def _period_sums(scope: Scope, period: Period) -> pl.DataFrame:
    """account_id, revenue, cost of the accounts in scope with revenue in the period, to the day and the cent.

    Whole months come from the rollups; the days of the months at the edges that the period covers in
    part come from the ledger lines of those days only (`_exact_parts()`, a range of the ledger's key).
    """
    months, edges = _exact_parts(period, ledger_days())
    branches, values = [], []
    where, params = _scope_sql(scope)
    for model, sign, first, last in (_rollup_parts(months) if months else []):
        key = "year" if model is YearlyRollup else "month"
        minus = "" if sign > 0 else "-"
        branches.append(f"SELECT r.account_id, {minus}r.revenue, {minus}r.cost "
                        f"FROM {model._meta.db_table} r WHERE r.{key} BETWEEN %s AND %s{where}")
        values += [first, last, *params]
    where, params = _scope_sql(scope, "l.account_id")
    for sign, first, last in edges:
        minus = "" if sign > 0 else "-"
        # Lines of finished imports only, as the rollups hold them.
        branches.append(f"SELECT l.account_id, {minus}SUM(l.amount_reporting), {minus}SUM(COALESCE(l.cost_reporting, 0)) "
                        f"FROM {LedgerLine._meta.db_table} l WHERE l.dedupe_key BETWEEN %s AND %s AND l.batch_id IN "
                        f"(SELECT b.id FROM {ImportBatch._meta.db_table} b WHERE b.status = 'done'){where} "
                        f"GROUP BY l.account_id")
        values += [*key_range(first, last), *params]
    schema = {"account_id": pl.Int64, "revenue": pl.Float64, "cost": pl.Float64}
    if not branches:
        return pl.DataFrame(schema=schema)
    rows = fetch_frame(" UNION ALL ".join(branches), values, schema)
    # Added up here rather than by GROUP BY, which makes SQLite sort the rows (a third slower), and
    # rounded: SQLite keeps these decimals as floats, and a year minus its months must give 0, not 1e-10.
    return rows.group_by("account_id").agg(pl.col("revenue").sum().round(2), pl.col("cost").sum().round(2))


def revenue_by_account(scope: Scope, period: Period) -> pl.DataFrame:
    """external_id, name, revenue, cost: one row per account in scope (0 without revenue in the period)."""
    return _with_sums(_accounts(scope), _period_sums(scope, period))


def _with_sums(names: pl.DataFrame, sums: pl.DataFrame) -> pl.DataFrame:
    return (names.join(sums, on="account_id", how="left")
            .with_columns(pl.col("revenue").fill_null(0.0), pl.col("cost").fill_null(0.0)).drop("account_id"))


def revenue_by_account_year(scope: Scope, years: list[int], period: Period | None = None) -> pl.DataFrame:
    """external_id, year, revenue: every account in scope appears (with 0 in years without revenue).

    With a ``period``, a year it covers in part counts the days of the period only (to the day).
    """
    return _yearly_revenue(scope, years, period).drop("account_id")


def _yearly_revenue(scope: Scope, years: list[int], period: Period | None = None) -> pl.DataFrame:
    """account_id, external_id, year, revenue for every account in scope and every year listed."""
    years = sorted(set(years))
    parts = {}  # the years the period covers in part, as the period's days in them
    if period is not None:
        for year in years:
            first, last = max(period.start, datetime.date(year, 1, 1)), min(period.end, datetime.date(year, 12, 31))
            if (first, last) != (datetime.date(year, 1, 1), datetime.date(year, 12, 31)):
                parts[year] = Period(first, last) if first <= last else None
    whole = [year for year in years if year not in parts]
    frame = _accounts(scope, names=False)
    if whole:
        frame = frame.join(_whole_years(scope, whole), on="account_id", how="left")
    for year, part in parts.items():
        sums = _period_sums(scope, part) if part else pl.DataFrame(schema={"account_id": pl.Int64, "revenue": pl.Float64})
        frame = frame.join(sums.select("account_id", pl.col("revenue").alias(str(year))), on="account_id", how="left")
    # The inner join of the accounts leaves out accounts out of scope (archived ones, when the query took
    # every account's rows). Rounded here, not by SQLite's ROUND(), which takes a third of the query's time.
    return (
        frame.unpivot(index=["account_id", "external_id"], on=[str(year) for year in years], variable_name="year",
                      value_name="revenue")
        .select("account_id", "external_id", pl.col("year").cast(pl.Int64), pl.col("revenue").fill_null(0.0).round(2))
    )


def _whole_years(scope: Scope, years: list[int]) -> pl.DataFrame:
    """account_id and a revenue column per calendar year ("2024") from the yearly rollups, for accounts with rows."""
    where, params = _scope_sql(scope)
    stored = YearlyRollup.objects.aggregate(first=Min("year"), last=Max("year"))
    if stored["first"] is None or stored["first"] < years[0] or stored["last"] > years[-1]:
        where, params = f" AND r.year BETWEEN %s AND %s{where}", [years[0], years[-1], *params]
    # else the years asked for are all there are: no condition on the year, so that SQLite walks the
    # account index in order and needs no temporary B-tree to group (160 ms instead of 270).
    # One row per account with a column per year: a third of the rows of one per account and year,
    # and accounts without a row in some year need no cross join to get their zeros.
    columns = ", ".join(f"SUM(CASE WHEN r.year = {year:d} THEN r.revenue END)" for year in years)
    return fetch_frame(
        f"SELECT r.account_id, {columns} FROM {YearlyRollup._meta.db_table} r WHERE 1 = 1{where} GROUP BY r.account_id",
        params, {"account_id": pl.Int64, **{str(year): pl.Float64 for year in years}},
    )


def stored_abc(scope: Scope, years: list[int], *, accounts: int | None = None) -> dict[str, Any]:
    """How many accounts in scope hold each stored ABC class per year, and how they moved: `abc_counts()` of AbcClass.

    The stored classes rank the whole portfolio (refresh_abc_classes); a narrower scope counts
    which of the company's A, B and C accounts it holds, where abc_report ranks the scope on
    its own. Years the stored classes do not cover are left out. ``accounts``: the number of
    accounts in scope, when the caller knows it.
    """
    covered = set(AbcCoverage.years())
    years = sorted(year for year in set(years) if year in covered)
    if not years:
        return {"years": {}, "no_revenue": [], "movements": {}}
    where, params = _scope_sql(scope, "k.account_id", exact=True)
    # Each account's path through the years as one number in base 3, a digit per year: 1 for A, 2 for
    # B, 0 for C (no row); the database counts the accounts per path and sends a few rows, not 100,000.
    weights = " ".join(f"WHEN {year:d} THEN {3 ** i:d}" for i, year in enumerate(years))
    rows = fetch_rows(
        f"SELECT path, COUNT(*) FROM (SELECT k.account_id, "
        f"SUM(CASE k.abc_class WHEN 'A' THEN 1 ELSE 2 END * CASE k.year {weights} END) AS path "
        f"FROM {AbcClass._meta.db_table} k WHERE k.year BETWEEN %s AND %s{where} GROUP BY k.account_id) p GROUP BY path",
        [years[0], years[-1], *params],
    )
    total = scope.accounts().count() if accounts is None else accounts
    digits = {0: "C", 1: "A", 2: "B"}
    # A year in which no account of the portfolio had revenue has no classes (no stored rows either).
    earning = {year for year in years if YearlyRollup.objects.filter(year=year, revenue__gt=0).exists()}
    paths = [(*(digits[path // 3 ** i % 3] if year in earning else None for i, year in enumerate(years)), count)
             for path, count in rows]
    paths.append((*("C" if year in earning else None for year in years), total - sum(count for _, count in rows)))
    frame = pl.DataFrame(paths, schema={**{str(year): pl.String for year in years}, "accounts": pl.Int64}, orient="row")
    return analysis.abc_counts(frame, years=years)


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
    lines = scope.narrow(Subscription.objects.all()).values_list(
        "account__external_id", "plan", "monthly_amount", "currency", "start", "end")
    for external_id, plan, amount, currency, start, end in lines:
        if currency not in rates:
            raise ValueError(f"no exchange rate for {currency} on or before {at}; import exchange rates first")
        rows.append((external_id, plan, float(amount) * rates[currency], start, end))
    return pl.DataFrame(rows, schema={"external_id": pl.String, "plan": pl.String, "monthly_amount": pl.Float64,
                                      "start": pl.Date, "end": pl.Date}, orient="row")


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
        """The period asked for; without one, the last 12 months that have data (`default_period()`)."""
        if self.start and self.end:
            period = Period(self.start, self.end)
        elif self.start:
            period = Period(self.start, max(timezone.localdate(), default_period().end))
        elif self.end:
            period = Period(_add_months(self.end.replace(day=1), -11), self.end)
        else:
            period = default_period()
        period.validate()
        return period

    def year_list(self) -> list[int]:
        if self.start or self.end:
            period = self.period()
            return list(range(period.start.year, period.end.year + 1))
        if self.years < 1:
            raise ValueError("years must be at least 1")
        # The last N calendar years up to the ledger's last, none before its first.
        first, last = ledger_days()
        last_year = last.year if last else timezone.localdate().year
        return list(range(max(last_year - self.years + 1, first.year if first else 0), last_year + 1))

    def exact_period(self) -> Period | None:
        """The period the years of ABC and concentration are cut to, when one was asked for."""
        return self.period() if self.start or self.end else None


def default_period(*, today: datetime.date | None = None) -> Period:
    """The last 12 months that have data: from the first day of the month 11 months before the ledger's
    last day to that day; the last 12 months up to today when the ledger is empty."""
    last = ledger_days()[1]
    if last is None:
        return Period.last_months(12, today=today)
    return Period(_add_months(last.replace(day=1), -11), last)


@gc_paused()
def pareto_report(scope: Scope, options: Options) -> dict[str, Any]:
    period = options.period()
    result = analysis.pareto(revenue_by_account(scope, period).select("external_id", "name", "revenue"),
                             threshold=options.threshold)
    return {"from": period.start.isoformat(), "to": period.end.isoformat(), "currency": reporting_currency(), **result}


@gc_paused()
def abc_report(scope: Scope, options: Options) -> dict[str, Any]:
    years = options.year_list()
    result = analysis.abc_classes(revenue_by_account_year(scope, years, options.exact_period()), years=years,
                                  thresholds=options.thresholds)
    return {**_years_covered(years, options), "currency": reporting_currency(), **result}


def _years_covered(years: list[int], options: Options) -> dict[str, str]:
    """The days an analysis by calendar year covers: the period asked for, else its whole years (shown on the page
    beside the others' periods)."""
    period = options.exact_period() or Period(datetime.date(years[0], 1, 1), datetime.date(years[-1], 12, 31))
    return {"from": period.start.isoformat(), "to": period.end.isoformat()}


@gc_paused()
def mrr_report(scope: Scope, options: Options) -> dict[str, Any]:
    period = options.period() if options.start or options.end else _subscription_period()
    frame = subscriptions_frame(scope, at=period.end)
    result = analysis.recurring_revenue(frame, months=period.months())
    return {"from": period.start.isoformat(), "to": period.end.isoformat(), "currency": reporting_currency(), **result}


def _subscription_period() -> Period:
    """The last 12 months that have subscriptions: up to today while one runs, else up to the last one's end."""
    today = timezone.localdate()
    bounds = Subscription.objects.aggregate(first=Min("start"), last=Max("end"))
    if bounds["first"] is None or Subscription.objects.filter(end__isnull=True).exists() or bounds["last"] >= today:
        return Period.last_months(12, today=today)
    return Period.last_months(12, today=bounds["last"] - datetime.timedelta(days=1))


@gc_paused()
def profitability_report(scope: Scope, options: Options) -> dict[str, Any]:
    period = options.period()
    result = analysis.profitability(revenue_by_account(scope, period))
    return {"from": period.start.isoformat(), "to": period.end.isoformat(), "currency": reporting_currency(), **result}


@gc_paused()
def concentration_report(scope: Scope, options: Options) -> dict[str, Any]:
    years = options.year_list()
    result = analysis.concentration(revenue_by_account_year(scope, years, options.exact_period()), top=options.top)
    return {**_years_covered(years, options), "currency": reporting_currency(), **result}


def clv_report(scope: Scope, options: Options) -> dict[str, Any]:
    """Lifetime value: `keyplan.revenue.lifetime_value.clv_report()` (which imports this module)."""
    from keyplan.revenue.lifetime_value import clv_report as report

    return report(scope, options)


OVERVIEW_BARS = 40  # Pareto bars on the portfolio page; the other accounts make one bar


def overview_key(scope: Scope, options: Options, *, bars: int = OVERVIEW_BARS, points: int = MAX_POINTS) -> str:
    """The cache key of `overview()`: the data's fingerprint, who asks and the options. The period is keyed as
    asked for: without one it is the last 12 months that have data, which the data's fingerprint pins down (and
    today, where the period runs up to today). Whatever is made from the overview alone can be kept under it too."""
    key = json.dumps([data_version(), _who(scope), options.start, options.end, timezone.localdate(), options.threshold,
                      bars, points, reporting_currency()], default=str)
    return "portfolio-overview:" + hashlib.sha256(key.encode()).hexdigest()


def overview(scope: Scope, options: Options, *, bars: int = OVERVIEW_BARS, points: int = MAX_POINTS,
             key: str | None = None) -> dict[str, Any]:
    """What the portfolio page shows, without a row per account but for the few it draws.

    Pareto and profitability of the period as `pareto_summary()` (the first ``bars`` accounts)
    and `profitability_summary()` (the first ``points``), with the figures of the full reports;
    the stored ABC classes of the years (`stored_abc()`) and the ARR of the period's last month.
    Names are looked up for the accounts shown only.

    Kept in the cache under `overview_key()` (``key``, when the caller has it already): about half
    a second to compute at 100,000 accounts, a few milliseconds to fetch again.
    """
    def compute() -> dict[str, Any]:
        period = options.period()
        if options.start:
            years = options.year_list()
        else:  # the last three calendar years up to the period's end
            years = list(range(period.end.year - 2, period.end.year + 1))
        return _overview(scope, period, years, options.threshold, bars=bars, points=points)

    return computed_once(key or overview_key(scope, options, bars=bars, points=points), compute)


def _who(scope: Scope) -> Any:
    """Who asks, as far as it matters to a cached result: only when the scope is narrowed to their accounts (or by
    filters)."""
    return [scope.user.pk if scope.user else None, scope.as_dict()] if scope.filtered else "everything"


def warm_overview() -> None:
    """Compute the whole portfolio's overview for the default period now (after an import or a rollback),
    so that the next visitor of the portfolio page does not wait for it."""
    try:
        overview(Scope(None), Options())
    except ValueError:  # a subscription's currency without a rate: the page says so when it is asked for
        pass


def data_version() -> str:
    """A fingerprint of everything `overview()` and the kept analyses (`CACHED_REPORTS`) read; any change
    to it gives another fingerprint.

    The rollups and stored ABC classes change only with an import or a rollback (the batches'
    ids and times); accounts, teams and subscriptions keep a history row per change (the
    newest history id); exchange rates are few enough to be added up.
    """
    def newest(model, column: str = "history_id") -> str:
        return f"(SELECT MAX({column}) FROM {model._meta.db_table})"

    batches = ImportBatch._meta.db_table
    rates = ExchangeRate._meta.db_table
    row = fetch_rows(
        f"SELECT (SELECT MAX(id) FROM {batches}), (SELECT MAX(finished_at) FROM {batches}), "
        f"(SELECT MAX(rolled_back_at) FROM {batches}), {newest(Account.history.model)}, "
        f"{newest(TeamMember.history.model)}, {newest(Subscription.history.model)}, "
        f"(SELECT COUNT(*) FROM {rates}), (SELECT MAX(id) FROM {rates}), (SELECT SUM(rate) FROM {rates})", [])[0]
    return "/".join(str(value) for value in row)


@gc_paused()
def _overview(scope: Scope, period: Period, years: list[int], threshold: float, *, bars: int,
              points: int) -> dict[str, Any]:
    accounts = _accounts(scope, names=False)
    revenue = _with_sums(accounts, _period_sums(scope, period)).with_columns(name=pl.lit(""))
    pareto = analysis.pareto_summary(revenue.select("external_id", "name", "revenue"), threshold=threshold, top=bars)
    profit = analysis.profitability_summary(revenue, points=points)
    shown = pareto["accounts"] + profit["accounts"]
    names = dict(Account.objects.filter(external_id__in={row["external_id"] for row in shown})
                 .values_list("external_id", "name"))
    for row in shown:
        row["name"] = names.get(row["external_id"], "")
    recurring = analysis.recurring_revenue(subscriptions_frame(scope, at=period.end), months=[period.months()[-1]])
    return {
        "from": period.start.isoformat(),
        "to": period.end.isoformat(),
        "currency": reporting_currency(),
        "pareto": pareto,
        "profitability": profit,
        "abc": stored_abc(scope, years, accounts=accounts.height),
        "arr": recurring["months"][-1]["arr"] if recurring["months"] else 0.0,
    }


@gc_paused()
def refresh_abc_classes(*, max_years: int = 10) -> None:
    """Recompute every account's ABC class per year over the whole portfolio (after an import or a rollback).

    Only what changed is written: after an import most classes stay as they were, and rewriting
    all of them (140,000 rows at 100,000 accounts) would leave as many dead rows on PostgreSQL.
    """
    bounds = YearlyRollup.objects.aggregate(first=Min("year"), last=Max("year"))
    table = AbcClass._meta.db_table
    schema = {"account_id": pl.Int64, "year": pl.Int64, "abc_class": pl.String}
    with transaction.atomic():
        if bounds["first"] is None:
            rows = pl.DataFrame(schema=schema)
            years = []
        else:
            years = list(range(max(bounds["first"], bounds["last"] - max_years + 1), bounds["last"] + 1))
            revenue = _yearly_revenue(Scope(None), years)
            classes = analysis.abc_class_table(revenue.select("external_id", "year", "revenue"), years=years)
            rows = (
                classes.join(revenue.select("external_id", "account_id").unique("external_id"), on="external_id")
                .unpivot(index="account_id", on=[str(year) for year in years], variable_name="year",
                         value_name="abc_class")
                .filter(pl.col("abc_class") != "C")  # C is the absence of a row
                .select("account_id", pl.col("year").cast(pl.Int64), "abc_class")
            )
        stored = fetch_frame(f"SELECT account_id, year, abc_class FROM {table}", [], schema)
        gone = stored.join(rows, on=["account_id", "year"], how="anti")
        _delete_account_years(table, gone)
        changed = rows.join(stored, on=["account_id", "year", "abc_class"], how="anti").sort("account_id", "year")
        if changed.height:
            bulk_insert(table, changed, tail="ON CONFLICT (account_id, year) DO UPDATE SET abc_class = excluded.abc_class")
        if years:
            AbcCoverage.objects.update_or_create(pk=1, defaults={"first_year": years[0], "last_year": years[-1]})


def _delete_account_years(table: str, rows: pl.DataFrame) -> None:
    """Delete the rows of ``table`` with these account_id and year: a statement per year, not per row."""
    with connection.cursor() as cursor:
        for (year,), part in rows.partition_by("year", as_dict=True).items():
            ids = part["account_id"].to_list()
            if connection.vendor == "postgresql":  # one array parameter: psycopg binds 10,000 separate ones slowly
                cursor.execute(f"DELETE FROM {table} WHERE year = %s AND account_id = ANY(%s)", [year, ids])
                continue
            for start in range(0, len(ids), 10_000):  # SQLite takes at most 32,766 parameters
                chunk = ids[start:start + 10_000]
                cursor.execute(f"DELETE FROM {table} WHERE year = %s AND account_id IN ({', '.join(['%s'] * len(chunk))})",
                               [year, *chunk])


REPORTS = {
    "pareto": pareto_report,
    "abc": abc_report,
    "mrr": mrr_report,
    "profitability": profitability_report,
    "concentration": concentration_report,
    "clv": clv_report,
}


# Read from the rollups, the accounts, their teams and subscriptions and the exchange rates only: all of it in
# `data_version()`'s fingerprint, so that their results can be kept (lifetime value keeps its own, in a form of its own).
CACHED_REPORTS = ("pareto", "abc", "mrr", "profitability", "concentration")


def report_key(name: str, scope: Scope, options: Options) -> str | None:
    """The cache key of a kept analysis (`CACHED_REPORTS`; None for the others): the data's fingerprint, who asks
    and the options. Whatever is made from the result alone can be kept under it too (the pages' tables)."""
    if name not in CACHED_REPORTS:
        return None
    key = json.dumps([name, data_version(), _who(scope), dataclasses.asdict(options), timezone.localdate(),
                      reporting_currency()], default=str)
    return f"analysis:{name}:" + hashlib.sha256(key.encode()).hexdigest()


def run(name: str, scope: Scope, options: Options, *, key: str | None = None) -> dict[str, Any]:
    """The named analysis as a JSON-ready payload. Raises ValueError for options that make no sense.

    Kept in the cache under `report_key()` (``key``, when the caller has it already): an analysis page
    costs the rendering of its table, and only the first request after a change computes (the others
    wait for it)."""
    if name not in REPORTS:
        raise ValueError(f"unknown analysis {name!r}; choose one of {', '.join(REPORTS)}")
    key = key or report_key(name, scope, options)
    if key:
        payload = computed_once(key, lambda: REPORTS[name](scope, options))
    else:
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
        lines.append(f"Pareto {payload['from']} – {payload['to']}: {payload['vital_few']:,} accounts "
                     f"({(payload['vital_few_share'] or 0):.1%} of the {payload['with_revenue']:,} accounts with revenue) "
                     f"bring {payload['threshold']:.0%} of {money(payload['total'])}; the top 20% of accounts bring "
                     f"{(payload['top_fifth']['share'] or 0):.1%}. {payload['without_revenue']:,} accounts without net "
                     f"revenue in the period (zero or less) are not counted.")
        lines += [f"  {a['external_id']:<12} {a['name'][:40]:<40} {money(a['revenue']):>18} {a['cumulative_share']:7.1%}"
                  for a in payload["accounts"][:15]]
    elif name == "abc":
        for year, counts in payload["years"].items():
            if year in payload.get("no_revenue", []):
                lines.append(f"{year}: no revenue")
                continue
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
