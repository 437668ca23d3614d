"""Portfolio analyses over revenue tables: Pareto, ABC classes, recurring revenue,
profitability, concentration and customer lifetime value.

Pure functions: Polars frames in, plain JSON-ready dicts and lists out, no
Django and no database. The web pages, the API (`/api/v1/analysis/NAME`) and
`keyplan analyze NAME --json` serve these results as they are.

Conventions shared by every analysis here:

- Money is summed in whole cents (amounts are rounded to the cent on the way
  in), so sums are exact and a share that is exactly 80 % counts as 80 %.
  Money goes out as floats with 2 decimals, shares and ratios with 6.
- A share is of the *positive* revenue: an account whose net revenue is zero or
  negative (credit notes larger than sales) has share 0 and sorts last.
- Accounts are ranked by revenue descending, ties by `external_id` ascending.
- A null amount counts as 0; NaN or infinite amounts and missing key values are
  refused with a `ValueError` naming the column and the row.
- Labels are English; the web layer translates them.
"""

from __future__ import annotations

import datetime
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from itertools import pairwise
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import polars as pl
from scipy import optimize, special

MONEY_DECIMALS = 2
SHARE_DECIMALS = 6
MIN_REPEAT_CUSTOMERS = 20  # below this the purchase and spend models are not worth fitting
CLASSES = ("A", "B", "C")
QUADRANTS = {
    (True, True): ("high revenue, high margin", "Protect"),
    (True, False): ("high revenue, low margin", "Fix the cost to serve"),
    (False, True): ("low revenue, high margin", "Develop"),
    (False, False): ("low revenue, low margin", "Review"),
}
DAYS_PER_MONTH = 365.25 / 12


# ---------------------------------------------------------------- input helpers


def _prepare(
    frame: pl.DataFrame,
    *,
    what: str,
    keys: Sequence[str] = (),
    text: Sequence[str] = (),
    ints: Sequence[str] = (),
    money: Sequence[str] = (),
    numbers: Sequence[str] = (),
    dates: Sequence[str] = (),
) -> pl.DataFrame:
    """The columns an analysis reads, typed: money as Int64 cents, numbers as Float64; keys must not be null."""
    wanted = [*text, *ints, *money, *numbers, *dates]
    missing = [column for column in wanted if column not in frame.columns]
    if missing:
        raise ValueError(f"{what}: missing column(s) {', '.join(missing)}; expected {', '.join(wanted)}")
    for column in keys:
        _refuse(frame[column].is_null(), what=what, message=f"{column} is missing")
    for column in (*money, *numbers):
        values = frame[column].cast(pl.Float64)
        _refuse(values.is_not_null() & ~values.is_finite(), what=what, message=f"{column} is not a finite number")
    return frame.select(
        *[pl.col(column).cast(pl.String).fill_null("") for column in text],
        *[pl.col(column).cast(pl.Int64) for column in ints],
        *[_cents(pl.col(column)).alias(column) for column in money],
        *[pl.col(column).cast(pl.Float64).fill_null(0.0) for column in numbers],
        *[pl.col(column).cast(pl.Date) for column in dates],
    )


def _refuse(bad: pl.Series, *, what: str, message: str) -> None:
    if bad.any():
        raise ValueError(f"{what}: {message} (row {bad.arg_true()[0] + 1})")


def _cents(amount: pl.Expr) -> pl.Expr:
    return (amount.cast(pl.Float64).fill_null(0.0) * 100).round(0).cast(pl.Int64)


def _money(cents: int | float | None) -> float | None:
    return None if cents is None else round(cents / 100, MONEY_DECIMALS) + 0.0  # + 0.0 turns -0.0 into 0.0


def _share(value: float | None) -> float | None:
    return None if value is None else round(value, SHARE_DECIMALS) + 0.0


def _divide(numerator: pl.Series, denominator: int | float) -> pl.Series:
    """Element-wise division, correctly rounded.

    Polars divides by a constant through its reciprocal, which can be one unit
    in the last place off (47 / 100 → 0.47000000000000003, 103 / 103 →
    0.9999999999999999): enough to move a share across a threshold.
    """
    return pl.Series(numerator.name, numerator.to_numpy().astype(np.float64) / denominator)


def _check_fraction(name: str, value: float) -> None:
    if not 0 < value <= 1:
        raise ValueError(f"{name} must be above 0 and at most 1, got {value}")


def _ranked(frame: pl.DataFrame, *, by: str = "revenue", ties: str = "external_id") -> pl.DataFrame:
    """Rows of `frame` ranked by the cents column `by` desc, ties by the column `ties` asc.

    Adds `positive` (revenue floored at 0), `running` (positive revenue of this
    account and those above it) and `above` (of those above it only).
    """
    positive = pl.col(by).clip(lower_bound=0)
    return (
        frame.sort([by, ties], descending=[True, False])  # one sort on both keys: 4× faster than two stable sorts
        .with_columns(positive=positive, running=positive.cum_sum())
        .with_columns(above=pl.col("running") - pl.col("positive"))
    )


def _account_years(amounts: pl.DataFrame, years: Sequence[int]) -> pl.DataFrame:
    """One row per external_id in `amounts`, sorted, with one cents column per year ("2024"), 0 where none.

    Built by scattering per-year sums into place rather than joining a cross
    product, so that 100,000 accounts × years stay fast.
    """
    accounts = amounts.select(pl.col("external_id").unique().sort())
    yearly = (
        amounts.filter(pl.col("year").is_in(years))
        .join(accounts.with_row_index("position"), on="external_id")  # a third of the time of rank("dense")
        .group_by("year", "position")
        .agg(pl.col("revenue").sum())
    )
    columns = {}
    for year in years:
        part = yearly.filter(pl.col("year") == year)
        columns[str(year)] = pl.zeros(accounts.height, pl.Int64, eager=True).scatter(part["position"], part["revenue"])
    return accounts.with_columns(**columns)


# ---------------------------------------------------------------- Pareto


def pareto(revenue: pl.DataFrame, *, threshold: float = 0.8) -> dict[str, Any]:
    """Which few accounts make most of the revenue.

    Input: `external_id`, `name`, `revenue`, one row per account for the period
    (rows of the same account are added up). Accounts are ranked by revenue
    descending, ties by external_id; `total` is the sum of positive revenue and
    each account's `share` is its positive revenue over that total, so accounts
    with zero or negative revenue stay in the list, last, with share 0, and the
    cumulative share ends at 1. `vital_few` is the smallest k whose cumulative
    share (exact, before rounding) reaches `threshold`; 0 when no account has
    positive revenue.

    Output: `{"total", "threshold", "vital_few", "accounts": [{"external_id",
    "name", "revenue", "share", "cumulative_share"}, ...]}`.
    """
    ranked, total, vital_few = _pareto_ranking(revenue, threshold)
    return {"total": _money(total), "threshold": threshold, "vital_few": vital_few, "accounts": _pareto_rows(ranked)}


def pareto_summary(revenue: pl.DataFrame, *, threshold: float = 0.8, top: int = 50) -> dict[str, Any]:
    """`pareto()` for a dashboard: the list stops after `top` accounts and the rest are added up.

    The same input, ranking, `total`, `threshold` and `vital_few` as
    `pareto()`; `accounts` holds its first `top` rows and `rest` the others:
    `{"accounts": n, "revenue": their revenue, "cumulative_share": that of the
    last account (null when n is 0)}`. `pareto_chart_series()` takes it as it
    takes the whole result, without a row per account being made.
    """
    if top < 1:
        raise ValueError(f"top must be at least 1, got {top}")
    ranked, total, vital_few = _pareto_ranking(revenue, threshold)
    rest = ranked.slice(top)
    last = _pareto_rows(rest.tail(1))
    return {
        "total": _money(total),
        "threshold": threshold,
        "vital_few": vital_few,
        "accounts": _pareto_rows(ranked.head(top)),
        "rest": {
            "accounts": rest.height,
            "revenue": _money(int(rest["revenue"].sum())),
            "cumulative_share": last[0]["cumulative_share"] if last else None,
        },
    }


def _pareto_ranking(revenue: pl.DataFrame, threshold: float) -> tuple[pl.DataFrame, int, int]:
    """Accounts ranked as `pareto()` ranks them (cents, unrounded shares), the positive total (cents), the vital few."""
    _check_fraction("threshold", threshold)
    accounts = (
        _prepare(revenue, what="pareto", keys=["external_id"], text=["external_id", "name"], money=["revenue"])
        .group_by("external_id")
        .agg(pl.col("name").first(), pl.col("revenue").sum())
    )
    ranked = _ranked(accounts)
    total = int(ranked["positive"].sum())
    share, cumulative = (_divide(ranked[column], max(total, 1)) for column in ("positive", "running"))
    # Cumulative shares only grow and the last positive account reaches exactly 1, so this counts up to the first k.
    vital_few = int((cumulative < threshold).sum()) + 1 if total > 0 else 0
    return ranked.with_columns(share=share, cumulative_share=cumulative), total, vital_few


def _pareto_rows(ranked: pl.DataFrame) -> list[dict[str, Any]]:
    columns = (
        ranked["external_id"].to_list(),
        ranked["name"].to_list(),
        _divide(ranked["revenue"], 100).to_list(),
        ranked["share"].round(SHARE_DECIMALS).to_list(),
        ranked["cumulative_share"].round(SHARE_DECIMALS).to_list(),
    )
    # Dicts written out from the columns: twice as fast as DataFrame.to_dicts() for 100,000 accounts.
    return [
        {"external_id": e, "name": n, "revenue": r, "share": s, "cumulative_share": c}
        for e, n, r, s, c in zip(*columns, strict=True)
    ]


def pareto_chart_series(result: dict[str, Any], *, max_bars: int = 50) -> dict[str, list]:
    """Bars and cumulative line for a Pareto chart that stays readable at any portfolio size.

    Takes the output of `pareto()` or `pareto_summary()`. The first `max_bars`
    accounts get a bar each (labelled by name, with the external id added where
    names repeat); the accounts beyond them are added up into one "Other (N
    accounts)" bar whose cumulative share is that of the last account.

    Output: `{"labels": [...], "revenue": [...], "cumulative_share": [...], "others": N}`,
    where `others` is the number of accounts in that last bar (0: there is none).
    """
    if max_bars < 1:
        raise ValueError(f"max_bars must be at least 1, got {max_bars}")
    shown, tail = result["accounts"][:max_bars], result["accounts"][max_bars:]
    rest = result.get("rest") or {"accounts": 0, "revenue": 0.0, "cumulative_share": None}
    names = [account["name"] or account["external_id"] for account in shown]
    counts = Counter(names)
    labels = [
        f"{name} ({account['external_id']})" if counts[name] > 1 else name
        for name, account in zip(names, shown, strict=True)
    ]
    revenue = [account["revenue"] for account in shown]
    cumulative = [account["cumulative_share"] for account in shown]
    others = len(tail) + rest["accounts"]
    if others:
        labels.append(f"Other ({others} account{'' if others == 1 else 's'})")
        tail_revenue = math.fsum([*(account["revenue"] for account in tail), rest["revenue"]])
        revenue.append(round(tail_revenue, MONEY_DECIMALS) + 0.0)
        cumulative.append(rest["cumulative_share"] if rest["accounts"] else tail[-1]["cumulative_share"])
    return {"labels": labels, "revenue": revenue, "cumulative_share": cumulative, "others": others}


# ---------------------------------------------------------------- ABC classes


def abc_classes(
    revenue: pl.DataFrame, *, years: Sequence[int], thresholds: tuple[float, float] = (0.8, 0.95)
) -> dict[str, Any]:
    """ABC class of every account in every year, and how accounts move between classes.

    Input: `external_id`, `year`, `revenue` (rows of the same account and year
    are added up). Every external_id in the input is in the universe; an
    account without revenue in a year has 0 that year. Per year, accounts are
    ranked by revenue desc (ties by external_id) and an account is **A** if the
    cumulative share of the accounts ranked above it is below `thresholds[0]`,
    **B** if below `thresholds[1]`, else **C**; an account with no positive
    revenue that year is C. So A holds exactly the accounts Pareto calls the
    vital few at `thresholds[0]`. `years` are sorted; movements go from each
    year to the next one listed.

    Output: `{"thresholds": [a, b], "years": {"2024": {"A": n, "B": n, "C": n}},
    "movements": {"2024→2025": {"A": {"A": n, "B": n, "C": n}, "B": {...},
    "C": {...}}}, "accounts": [{"external_id", "classes": {"2024": "A"}}]}`
    with accounts sorted by external_id.
    """
    table = abc_class_table(revenue, years=years, thresholds=thresholds)
    year_keys = table.columns[1:]
    paths = table.group_by(year_keys).len(name="accounts") if year_keys else None
    # Accounts share a handful of paths through the classes (3 ** years at most): one dict per path, copied.
    distinct = paths.select(year_keys).rows() if year_keys else [()]
    classes = {path: dict(zip(year_keys, path, strict=True)) for path in distinct}
    return {
        "thresholds": list(thresholds),
        **abc_counts(paths, years=years),
        "accounts": [
            {"external_id": external_id, "classes": classes[path].copy()}
            for external_id, path in zip(
                table["external_id"].to_list(),
                _per_account([table[key].to_list() for key in year_keys], table.height),
                strict=True,
            )
        ],
    }


def abc_class_table(
    revenue: pl.DataFrame, *, years: Sequence[int], thresholds: tuple[float, float] = (0.8, 0.95)
) -> pl.DataFrame:
    """The classes of `abc_classes()` as a frame.

    Output: `external_id` (sorted), then one column per year ("2024") of "A", "B" or "C".
    """
    a_limit, b_limit = thresholds
    _check_fraction("thresholds[0]", a_limit)
    _check_fraction("thresholds[1]", b_limit)
    if a_limit > b_limit:
        raise ValueError(f"thresholds must be in increasing order, got {thresholds}")
    years = sorted({int(year) for year in years})
    amounts = _prepare(
        revenue,
        what="abc_classes",
        keys=["external_id", "year"],
        text=["external_id"],
        ints=["year"],
        money=["revenue"],
    )
    accounts = _account_years(amounts, years)
    return accounts.select("external_id", *[_abc(accounts[str(year)], a_limit, b_limit) for year in years])


def abc_counts(paths: pl.DataFrame | None, *, years: Sequence[int]) -> dict[str, Any]:
    """Accounts per class and year, and how many moved from each class to each class between listed years.

    Input: one column per year ("2024") with a class ("A", "B" or "C") and
    `accounts`, the number of accounts that went through that path of classes
    (so one row per distinct path; None or no rows: no accounts). `years` are
    sorted; movements go from each year to the next one listed.

    Output: `{"years": {"2024": {"A": n, "B": n, "C": n}}, "movements":
    {"2024→2025": {"A": {"A": n, "B": n, "C": n}, "B": {...}, "C": {...}}}}`.
    """
    year_keys = [str(year) for year in sorted({int(year) for year in years})]
    rows = paths.rows(named=True) if paths is not None else []

    def count(before: str, after: str, b: str, a: str) -> int:
        return sum(row["accounts"] for row in rows if row[before] == b and row[after] == a)

    return {
        "years": {key: {c: count(key, key, c, c) for c in CLASSES} for key in year_keys},
        "movements": {
            f"{before}→{after}": {b: {a: count(before, after, b, a) for a in CLASSES} for b in CLASSES}
            for before, after in pairwise(year_keys)
        },
    }


def _abc(revenue: pl.Series, a_limit: float, b_limit: float) -> pl.Series:
    """The class of each account, in the order of `revenue` (accounts sorted by external_id)."""
    ranked = _ranked(
        pl.DataFrame({"revenue": revenue, "position": pl.int_range(revenue.len(), eager=True)}), ties="position"
    )
    share_above = _divide(ranked["above"], max(int(ranked["positive"].sum()), 1))
    abc = (
        pl.when(pl.col("positive") <= 0)
        .then(pl.lit("C"))
        .when(pl.col("share_above") < a_limit)
        .then(pl.lit("A"))
        .when(pl.col("share_above") < b_limit)
        .then(pl.lit("B"))
        .otherwise(pl.lit("C"))
    )
    return ranked.with_columns(share_above=share_above).sort("position").select(abc.alias(revenue.name)).to_series()


def _per_account(columns: list[list], accounts: int) -> list[tuple]:
    """Row tuples from per-year column lists; empty tuples when there are no years."""
    return list(zip(*columns, strict=True)) if columns else [()] * accounts


# ---------------------------------------------------------------- recurring revenue


def _month_start(day: datetime.date) -> datetime.date:
    return day.replace(day=1)


def _previous_month(month: datetime.date) -> datetime.date:
    return (month - datetime.timedelta(days=1)).replace(day=1)


class _Flows(NamedTuple):
    months: list[datetime.date]  # the listed months, first days, sorted
    lines: pl.DataFrame  # account, plan, monthly_amount, month: every line in every month it counts in
    flows: pl.DataFrame  # month, account, mrr, before, and the five movements
    account_ids: list[str]  # external_id of each account code, sorted
    plan_names: list[str]  # name of each plan code, sorted


def _mrr_flows(subscriptions: pl.DataFrame, months: Sequence[datetime.date], *, what: str) -> _Flows:
    """Each subscription line in every month it counts in, and each account's MRR move per listed month.

    A subscription line counts in a month when it is active on the month's
    first day. An account's MRR is the sum of its lines, floored at 0. Flows
    compare each listed month with the calendar month before it. Accounts and
    plans are numbered in name order, so the per-month work groups numbers.
    """
    months = sorted({_month_start(month) for month in months})
    subs = _prepare(
        subscriptions,
        what=what,
        keys=["external_id", "start"],
        text=["external_id", "plan"],
        money=["monthly_amount"],
        dates=["start", "end"],
    )
    last = months[-1] if months else datetime.date.min
    first_counted = (
        pl.when(pl.col("start").dt.day() == 1)
        .then(pl.col("start"))
        .otherwise(pl.col("start").dt.month_start().dt.offset_by("1mo"))
    )
    last_counted = pl.min_horizontal(
        pl.lit(last), (pl.col("end") - pl.duration(days=1)).dt.month_start().fill_null(pl.lit(last))
    )
    lines = (
        subs.with_columns(
            account=pl.col("external_id").rank("dense") - 1,
            plan=pl.col("plan").rank("dense") - 1,
            first=first_counted,
            last=last_counted,
        )
        .filter(pl.col("first") <= pl.col("last"))
        .select("account", "plan", "monthly_amount", month=pl.date_ranges("first", "last", "1mo"))
        .explode("month")
    )
    mrr = (
        lines.group_by("account", "month")
        .agg(mrr=pl.col("monthly_amount").sum().clip(lower_bound=0))
        .filter(pl.col("mrr") > 0)
    )
    since = mrr.group_by("account").agg(since=pl.col("month").min())
    listed = pl.DataFrame(
        {"month": months, "previous": [_previous_month(m) for m in months]},
        schema={"month": pl.Date, "previous": pl.Date},
    )
    now = listed.join(mrr, on="month")
    before = listed.join(mrr.rename({"month": "previous", "mrr": "before"}), on="previous")
    grew, had, has = pl.col("mrr") - pl.col("before"), pl.col("before") > 0, pl.col("mrr") > 0
    flows = (
        now.join(before, on=["month", "previous", "account"], how="full", coalesce=True)
        .with_columns(pl.col("mrr", "before").fill_null(0))
        .join(since, on="account", how="left")
        .with_columns(
            new=pl.when(~had & has & (pl.col("since") == pl.col("month"))).then("mrr").otherwise(0),
            reactivation=pl.when(~had & has & (pl.col("since") < pl.col("month"))).then("mrr").otherwise(0),
            expansion=pl.when(had & (grew > 0)).then(grew).otherwise(0),
            contraction=pl.when(had & has & (grew < 0)).then(-grew).otherwise(0),
            churn=pl.when(had & ~has).then("before").otherwise(0),
        )
    )
    names = (subs[column].unique().sort().to_list() for column in ("external_id", "plan"))
    return _Flows(months, lines, flows, *names)


def recurring_revenue(subscriptions: pl.DataFrame, *, months: Sequence[datetime.date]) -> dict[str, Any]:
    """Monthly recurring revenue, its movements, per plan and per account.

    Input: `external_id`, `plan`, `monthly_amount`, `start`, `end` (null = open).
    A subscription line counts in a month when it is active on the month's first
    day: `start <= first day` and (`end` is null or `end > first day`). An
    account's MRR is the sum of its lines, floored at 0 (a discount line larger
    than the plan does not make MRR negative); ARR = 12 × MRR. `months` may be
    any day in each month; they are sorted and deduplicated.

    Each listed month is compared with the calendar month before it (which need
    not be listed), account by account:

    - new: 0 last month, > 0 now, and never > 0 in any earlier month;
    - reactivation: 0 last month, > 0 now, > 0 in some earlier month;
    - expansion / contraction: > 0 in both months, the increase / decrease;
    - churn: > 0 last month, 0 now (the MRR lost).

    So for every month `mrr - mrr of the month before == new + reactivation +
    expansion - contraction - churn`.

    Output: `{"months": [{"month": "2026-01", "mrr", "arr", "accounts",
    "new", "expansion", "contraction", "churn", "reactivation"}],
    "by_plan": {"Premium": [mrr of each listed month]}, "accounts":
    [{"external_id", "mrr", "arr", "plans": [...]}]}`, where `accounts` per
    month counts accounts with MRR > 0, `by_plan` sums the lines of each plan
    that is active in a listed month (not floored), and the account list is for
    the last listed month: accounts with MRR > 0, by MRR desc, with their active
    plans.
    """
    months, lines, flows, account_ids, plan_names = _mrr_flows(subscriptions, months, what="recurring_revenue")
    if not months:
        return {"months": [], "by_plan": {}, "accounts": []}
    moves = ("new", "expansion", "contraction", "churn", "reactivation")
    totals = (
        pl.DataFrame({"month": months}, schema={"month": pl.Date})
        .join(
            flows.group_by("month").agg(pl.col("mrr", *moves).sum(), accounts=(pl.col("mrr") > 0).sum()),
            on="month",
            how="left",
        )
        .fill_null(0)
        .sort("month")
    )
    plans = lines.filter(pl.col("month").is_in(months)).group_by("plan", "month").agg(pl.col("monthly_amount").sum())
    by_plan: dict[str, dict[datetime.date, int]] = {}
    for plan, month, cents in plans.sort("plan").iter_rows():
        by_plan.setdefault(plan_names[plan], {})[month] = cents
    last = (
        lines.filter(pl.col("month") == months[-1])
        .group_by("account")
        .agg(mrr=pl.col("monthly_amount").sum(), plans=pl.col("plan").unique().sort())
        .filter(pl.col("mrr") > 0)
        .sort(["mrr", "account"], descending=[True, False])
    )
    return {
        "months": [
            {
                "month": row["month"].strftime("%Y-%m"),
                "mrr": _money(row["mrr"]),
                "arr": _money(12 * row["mrr"]),
                "accounts": row["accounts"],
                **{move: _money(row[move]) for move in moves},
            }
            for row in totals.iter_rows(named=True)
        ],
        "by_plan": {plan: [_money(per_month.get(m, 0)) for m in months] for plan, per_month in by_plan.items()},
        "accounts": [
            {"external_id": account_ids[account], "mrr": mrr, "arr": arr, "plans": [plan_names[p] for p in codes]}
            for account, mrr, arr, codes in zip(
                last["account"].to_list(),
                _divide(last["mrr"], 100).to_list(),
                _divide(last["mrr"] * 12, 100).to_list(),
                last["plans"].to_list(),
                strict=True,
            )
        ],
    }


# ---------------------------------------------------------------- profitability


def profitability(ledger: pl.DataFrame) -> dict[str, Any]:
    """Revenue, cost to serve and margin per account, and the profit matrix.

    Input: `external_id`, `name`, `revenue`, `cost` per account for the period
    (rows of the same account are added up). margin = revenue − cost;
    `margin_pct` = margin / revenue as a fraction (0.25 = 25 %), null when
    revenue is 0 or negative; `revenue_to_cost` = revenue / cost, null when
    cost is 0 or negative. Totals are the same over the whole ledger.

    Profit matrix: the split is the median account revenue and the portfolio
    margin %. Revenue at or above the median is high; a margin % at or above
    the portfolio's is high (compared exactly, before rounding; an undefined
    margin % is low). Quadrants and their labels: high/high "Protect", high
    revenue/low margin "Fix the cost to serve", low revenue/high margin
    "Develop", low/low "Review".

    Output: `{"totals": {"revenue", "cost", "margin", "margin_pct",
    "revenue_to_cost", "accounts"}, "split": {"revenue", "margin_pct"},
    "accounts": [{"external_id", "name", "revenue", "cost", "margin",
    "margin_pct", "revenue_to_cost", "quadrant", "label"}]}`, accounts by
    revenue desc, ties by external_id.
    """
    rows, totals, split = _profit_table(ledger)
    return {"totals": totals, "split": split, "accounts": rows.to_dicts()}


def profitability_summary(ledger: pl.DataFrame, *, points: int = 1500) -> dict[str, Any]:
    """What a profit matrix shows of `profitability()`, without a row per account.

    The same input, `totals` and `split` as `profitability()`; `accounts` lists
    only the accounts a revenue × margin % chart can place (revenue above 0,
    margin % defined), the first `points` of them in the same order.
    """
    if points < 0:
        raise ValueError(f"points must not be negative, got {points}")
    rows, totals, split = _profit_table(ledger)
    placed = rows.filter((pl.col("revenue") > 0) & pl.col("margin_pct").is_not_null()).head(points)
    return {"totals": totals, "split": split, "accounts": placed.to_dicts()}


def _profit_table(ledger: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, Any], dict[str, Any]]:
    """The rows, totals and split of `profitability()`, the rows as a frame."""
    accounts = (
        _prepare(
            ledger, what="profitability", keys=["external_id"], text=["external_id", "name"], money=["revenue", "cost"]
        )
        .group_by("external_id")
        .agg(pl.col("name").first(), pl.col("revenue", "cost").sum())
        .sort(["revenue", "external_id"], descending=[True, False])
    )
    revenue, cost = int(accounts["revenue"].sum()), int(accounts["cost"].sum())
    median = accounts["revenue"].median()
    split_margin = (revenue - cost) / revenue if revenue > 0 else None
    table = _margin_table(accounts["revenue"].to_numpy(), accounts["cost"].to_numpy())
    high_revenue = accounts["revenue"].to_numpy() >= (median if median is not None else 0)
    with np.errstate(invalid="ignore"):
        high_margin = table["margin_pct"].to_numpy() >= (split_margin if split_margin is not None else np.inf)
    # QUADRANTS in the order of 2 × high revenue + high margin, picked for every account at once.
    quadrants = [QUADRANTS[(r, m)] for r in (False, True) for m in (False, True)]
    which = pl.Series(2 * high_revenue.astype(np.int64) + high_margin.astype(np.int64))
    matrix = pl.DataFrame(
        {
            "quadrant": pl.Series([q for q, _ in quadrants]).gather(which),
            "label": pl.Series([label for _, label in quadrants]).gather(which),
        },
        schema={"quadrant": pl.String, "label": pl.String},
    )
    rows = pl.concat([accounts.select("external_id", "name"), _rounded_margins(table), matrix], how="horizontal")
    totals = {
        **_rounded_margins(_margin_table(np.array([revenue]), np.array([cost]))).row(0, named=True),
        "accounts": rows.height,
    }
    return rows, totals, {"revenue": _money(median), "margin_pct": _share(split_margin)}


def _margin_table(revenue: np.ndarray, cost: np.ndarray) -> pl.DataFrame:
    """Money from cents, margin % and revenue-to-cost unrounded (NaN where undefined), divided exactly by NumPy."""
    margin = revenue - cost
    with np.errstate(divide="ignore", invalid="ignore"):
        return pl.DataFrame(
            {
                "revenue": revenue / 100,
                "cost": cost / 100,
                "margin": margin / 100,
                "margin_pct": np.where(revenue > 0, margin / revenue, np.nan),
                "revenue_to_cost": np.where(cost > 0, revenue / cost, np.nan),
            },
            schema=dict.fromkeys(("revenue", "cost", "margin", "margin_pct", "revenue_to_cost"), pl.Float64),
        )


def _rounded_margins(table: pl.DataFrame) -> pl.DataFrame:
    ratios = pl.col("margin_pct", "revenue_to_cost")
    return table.with_columns(ratios.fill_nan(None).round(SHARE_DECIMALS) + 0.0)


# ---------------------------------------------------------------- concentration


def concentration(revenue: pl.DataFrame, *, top: int = 10) -> dict[str, Any]:
    """How dependent the portfolio is on its largest accounts, and how each account grows.

    Input: `external_id`, `year`, `revenue` (rows of the same account and year
    are added up). For the latest year in the input: `top_share` = positive
    revenue of the `top` largest accounts over all positive revenue; `hhi` =
    Herfindahl–Hirschman index, the sum of squared shares (1/n for n equal
    accounts, 1 for a single one) and `hhi_points` = hhi × 10,000;
    `account_count` = accounts with positive revenue; `total` = positive revenue.

    Per account (every external_id in the input), revenue of every year in the
    input (0 when absent) and growth of each year y over y − 1 = revenue[y] /
    revenue[y−1] − 1, null when year y − 1 is not in the input or the account's
    revenue then was 0 or negative. Accounts by latest revenue desc, ties by
    external_id.

    Output: `{"year", "top_n", "top_share", "hhi", "hhi_points", "total",
    "account_count", "accounts": [{"external_id", "revenue": {"2024": x},
    "growth": {"2025": g}}]}`.
    """
    if top < 1:
        raise ValueError(f"top must be at least 1, got {top}")
    amounts = _prepare(
        revenue,
        what="concentration",
        keys=["external_id", "year"],
        text=["external_id"],
        ints=["year"],
        money=["revenue"],
    )
    years = sorted(amounts["year"].unique().to_list())
    if not years:
        empty = {"top_share": 0.0, "hhi": 0.0, "hhi_points": 0.0, "total": 0.0, "account_count": 0, "accounts": []}
        return {"year": None, "top_n": top, **empty}
    year_keys = list(map(str, years))
    latest = _ranked(_account_years(amounts, years), by=year_keys[-1])
    total = int(latest["positive"].sum())
    hhi = float((_divide(latest["positive"], max(total, 1)) ** 2).sum())
    revenue_columns = [_divide(latest[key], 100).to_list() for key in year_keys]
    growth_columns = [latest.with_columns(growth=_growth(year, years))["growth"].to_list() for year in years[1:]]
    return {
        "year": years[-1],
        "top_n": top,
        "top_share": _share(int(latest["positive"].head(top).sum()) / total) if total else 0.0,
        "hhi": _share(hhi),
        "hhi_points": round(hhi * 10_000, 2) + 0.0,
        "total": _money(total),
        "account_count": int((latest["positive"] > 0).sum()),
        "accounts": [
            {
                "external_id": external_id,
                "revenue": dict(zip(year_keys, revenue, strict=True)),
                "growth": dict(zip(year_keys[1:], growth, strict=True)),
            }
            for external_id, revenue, growth in zip(
                latest["external_id"].to_list(),
                _per_account(revenue_columns, latest.height),
                _per_account(growth_columns, latest.height),
                strict=True,
            )
        ],
    }


def _growth(year: int, years: Sequence[int]) -> pl.Expr:
    if year - 1 not in years:
        return pl.lit(None, dtype=pl.Float64)
    now, before = pl.col(str(year)), pl.col(str(year - 1))
    return pl.when(before > 0).then(now / before - 1).round(SHARE_DECIMALS) + 0.0


# ---------------------------------------------------------------- lifetime value: subscriptions


def subscription_clv(
    accounts: pl.DataFrame,
    *,
    monthly_churn_rate: float,
    discount_rate: float = 0.10,
    horizon_months: int | None = None,
) -> list[dict[str, Any]]:
    """Lifetime value of subscription accounts from a churn rate.

    Input: `external_id`, `arr`, `margin_pct` (a fraction, 0.3 = 30 %), one row
    per account. An account pays its monthly margin m = margin_pct × arr / 12
    now and stays each further month with probability r = 1 − churn (geometric
    lifetime); money in month t is discounted at the monthly rate d =
    (1 + discount_rate)^(1/12) − 1 that compounds to the annual `discount_rate`:

        CLV = Σ_{t=0}^{H−1} m × r^t / (1 + d)^t = m × (1 − q^H) / (1 − q),  q = r / (1 + d)

    and m / (1 − q) when `horizon_months` is None (no horizon; refused when
    q = 1, i.e. no churn and no discount). `expected_lifetime_months` is the
    undiscounted Σ r^t (1 / churn without horizon; null when infinite).

    Output: `[{"external_id", "arr", "margin_pct", "monthly_margin",
    "expected_lifetime_months", "clv"}]` by CLV desc, ties by external_id.
    """
    if not 0 <= monthly_churn_rate <= 1:
        raise ValueError(f"monthly_churn_rate must be between 0 and 1, got {monthly_churn_rate}")
    if discount_rate < 0:
        raise ValueError(f"discount_rate must not be negative, got {discount_rate}")
    if horizon_months is not None and horizon_months < 1:
        raise ValueError(f"horizon_months must be at least 1, got {horizon_months}")
    retention = 1 - monthly_churn_rate
    q = retention / (1 + discount_rate) ** (1 / 12)
    if horizon_months is None:
        if q >= 1:
            raise ValueError("with no churn and no discount the lifetime value has no limit: give horizon_months")
        factor = 1 / (1 - q)
        lifetime = 1 / monthly_churn_rate if monthly_churn_rate > 0 else None
    else:
        factor = _geometric_sum(q, horizon_months)
        lifetime = _geometric_sum(retention, horizon_months)
    frame = _prepare(
        accounts,
        what="subscription_clv",
        keys=["external_id", "margin_pct"],
        text=["external_id"],
        numbers=["arr", "margin_pct"],
    )
    rows = [
        {
            "external_id": external_id,
            "arr": round(arr, MONEY_DECIMALS) + 0.0,
            "margin_pct": _share(margin_pct),
            "monthly_margin": round(margin_pct * arr / 12, MONEY_DECIMALS) + 0.0,
            "expected_lifetime_months": None if lifetime is None else round(lifetime, 2),
            "clv": round(margin_pct * arr / 12 * factor, MONEY_DECIMALS) + 0.0,
        }
        for external_id, arr, margin_pct in frame.iter_rows()
    ]
    return sorted(rows, key=lambda row: (-row["clv"], row["external_id"]))


def _geometric_sum(ratio: float, terms: int) -> float:
    return float(terms) if ratio == 1 else (1 - ratio**terms) / (1 - ratio)


def observed_monthly_churn_rate(subscriptions: pl.DataFrame, *, months: Sequence[datetime.date]) -> float | None:
    """Share of paying accounts lost per month, averaged over the listed months.

    Input: the same subscription lines and months as `recurring_revenue()`.
    For each listed month: accounts that had MRR last month and have none now,
    over accounts that had MRR last month (the calendar month before). The
    result is the plain mean of those monthly rates over the months that started
    with paying accounts; None when none did. Feed it to `subscription_clv()`.
    """
    flows = _mrr_flows(subscriptions, months, what="observed_monthly_churn_rate").flows
    rates = (
        flows.group_by("month")
        .agg(paying=(pl.col("before") > 0).sum(), churned=(pl.col("churn") > 0).sum())
        .filter(pl.col("paying") > 0)
        .select(rate=pl.col("churned") / pl.col("paying"))
    )
    return _share(float(rates["rate"].mean())) if rates.height else None


# ---------------------------------------------------------------- lifetime value: transactions (BG/NBD + Gamma-Gamma)

# BG/NBD: Fader, Hardie & Lee (2005), "Counting Your Customers" the Easy Way: An
# Alternative to the Pareto/NBD Model, Marketing Science 24(2). Gamma-Gamma:
# Fader, Hardie & Lee (2005), RFM and CLV: Using Iso-Value Curves for Customer
# Base Analysis, Journal of Marketing Research 42(4), and Fader & Hardie (2013),
# The Gamma-Gamma Model of Monetary Value. The code is written from the papers'
# formulas, which the docstrings and comments restate.


def rfm_summary(transactions: pl.DataFrame, *, as_of: datetime.date, time_unit_days: float = 7.0) -> pl.DataFrame:
    """Frequency, recency, age and spend per customer, as the purchase models read them.

    Input: `external_id`, `date`, `amount`. Only transactions on or before
    `as_of` count, and purchases on the same day count as one purchase (their
    amounts added up). Per customer, in time units of `time_unit_days` days
    (weeks by default):

    - `frequency`: repeat purchase days (purchase days − 1);
    - `recency`: time from the first to the last purchase day;
    - `T`: time from the first purchase day to `as_of`;
    - `monetary_value`: mean amount of the repeat purchase days (the first
      purchase is left out, as the Gamma-Gamma model expects), 0 when frequency is 0.

    Output: a frame with those columns after `external_id`, by external_id.
    """
    if time_unit_days <= 0:
        raise ValueError(f"time_unit_days must be positive, got {time_unit_days}")
    days = (
        _prepare(
            transactions,
            what="rfm_summary",
            keys=["external_id", "date"],
            text=["external_id"],
            numbers=["amount"],
            dates=["date"],
        )
        .filter(pl.col("date") <= as_of)
        .group_by("external_id", "date")
        .agg(pl.col("amount").sum())
        .sort("external_id", "date")
    )
    summary = days.group_by("external_id", maintain_order=True).agg(
        frequency=(pl.len() - 1).cast(pl.Int64),
        first=pl.col("date").first(),
        last=pl.col("date").last(),
        repeat_spend=pl.col("amount").slice(1).sum(),
    )
    elapsed = summary.select(
        recency=(pl.col("last") - pl.col("first")).dt.total_days(),
        T=(pl.lit(as_of) - pl.col("first")).dt.total_days(),
    )
    return summary.select(
        "external_id",
        "frequency",
        recency=_divide(elapsed["recency"], time_unit_days),
        T=_divide(elapsed["T"], time_unit_days),
        monetary_value=pl.when(pl.col("frequency") > 0)
        .then(pl.col("repeat_spend") / pl.col("frequency"))
        .otherwise(0.0),
    )


def _arrays(*values: npt.ArrayLike) -> list[np.ndarray]:
    arrays = [np.asarray(value, dtype=float) for value in values]
    if len({array.shape for array in arrays}) > 1:
        raise ValueError("frequency, recency, T and monetary values must have the same length")
    return arrays


def _minimize(negative_log_likelihood, starts: Sequence[Sequence[float]]) -> optimize.OptimizeResult:
    """Best of a bounded quasi-Newton search from each start; parameters are logs, so positive.

    L-BFGS-B with the logs bounded to ±12 fits CDNOW in a quarter of a second and, unlike an
    unbounded simplex search, does not wander for seconds when the likelihood is flat (regular
    B2B buyers who almost never drop out push a and b towards infinity).
    """
    best = None
    for start in starts:
        with np.errstate(all="ignore"):
            result = optimize.minimize(
                negative_log_likelihood,
                np.asarray(start, dtype=float),
                method="L-BFGS-B",
                bounds=[(-12.0, 12.0)] * len(start),
            )
        if np.isfinite(result.fun) and (best is None or result.fun < best.fun):
            best = result
    if best is None:
        raise ValueError("the model could not be fitted to these customers")
    return best


def _bgnbd_log_likelihood(
    r: float, alpha: float, a: float, b: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> np.ndarray:
    # The BG/NBD likelihood of one customer (FHL 2005), in logs: the customer is still active at T, or
    # dropped out right after the last purchase at t_x (possible only after a repeat purchase, x > 0).
    repeat = x > 0
    x1 = np.where(repeat, x, 1.0)
    shared = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha) - special.betaln(a, b)
    still_alive = special.betaln(a, b + x) - (r + x) * np.log(alpha + T)
    dropped_out = np.where(repeat, special.betaln(a + 1, b + x1 - 1) - (r + x1) * np.log(alpha + t_x), -np.inf)
    return shared + np.logaddexp(still_alive, dropped_out)


def fit_bgnbd(
    frequency: npt.ArrayLike, recency: npt.ArrayLike, T: npt.ArrayLike, *, time_unit: str = "weeks"
) -> dict[str, Any]:
    """Maximum-likelihood BG/NBD parameters (Fader, Hardie & Lee 2005).

    Purchases follow a Poisson process whose rate is gamma(r, α) across
    customers; after each purchase a customer drops out with a probability that
    is beta(a, b) across customers. `frequency` = repeat purchases, `recency` =
    time of the last purchase and `T` = age, both since the first purchase, in
    one time unit (named by `time_unit`; α is in that unit). Needs at least
    `MIN_REPEAT_CUSTOMERS` customers with repeat purchases.

    Output: `{"r", "alpha", "a", "b", "time_unit", "log_likelihood", "customers"}`.
    """
    x, t_x, age = _arrays(frequency, recency, T)
    _require_repeaters(int((x > 0).sum()))
    scale = float(age.max()) or 1.0  # the model is scale-free in time: fit on T / scale so α is near 1, then scale back

    def negative(log_params: np.ndarray) -> float:
        r, alpha, a, b = np.exp(log_params)
        return -float(np.sum(_bgnbd_log_likelihood(r, alpha, a, b, x, t_x / scale, age / scale)))

    best = _minimize(negative, [(0, 0, 0, 0), (-1, -1, -1, 1), (1, 1, 1, 1)])
    r, alpha, a, b = np.exp(best.x)
    return {
        "r": float(r),
        "alpha": float(alpha * scale),
        "a": float(a),
        "b": float(b),
        "time_unit": time_unit,
        "log_likelihood": -float(best.fun) - float(np.sum(x)) * math.log(scale),
        "customers": int(x.size),
    }


def _require_repeaters(count: int) -> None:
    if count < MIN_REPEAT_CUSTOMERS:
        raise ValueError(
            f"lifetime value needs at least {MIN_REPEAT_CUSTOMERS} customers with repeat purchases to fit its models; "
            f"there are {count}"
        )


def fit_gamma_gamma(frequency: npt.ArrayLike, monetary_value: npt.ArrayLike) -> dict[str, float]:
    """Maximum-likelihood Gamma-Gamma parameters of spend per purchase (Fader, Hardie & Lee 2005; Fader & Hardie 2013).

    A customer's purchases are gamma(p, ν) in value, with ν gamma(q, γ) across
    customers (γ is returned as `v`). Fitted on the customers with repeat
    purchases and a positive mean repeat spend (`monetary_value`); needs at
    least `MIN_REPEAT_CUSTOMERS` of them.

    Output: `{"p", "q", "v", "log_likelihood", "customers"}`.
    """
    x, z = _arrays(frequency, monetary_value)
    keep = (x > 0) & (z > 0)
    x, z = x[keep], z[keep]
    _require_repeaters(int(x.size))
    scale = float(np.mean(z))  # spend is scale-free too: fit on z / scale so v is near 1, then scale back
    zs = z / scale

    def negative(log_params: np.ndarray) -> float:
        p, q, v = np.exp(log_params)
        # Fader & Hardie (2013): the density of the mean spend z̄ of x purchases, with ν integrated out.
        px = p * x
        ll = (
            special.gammaln(px + q)
            - special.gammaln(px)
            - special.gammaln(q)
            + q * np.log(v)
            + (px - 1) * np.log(zs)
            + px * np.log(x)
            - (px + q) * np.log(v + x * zs)
        )
        return -float(np.sum(ll))

    best = _minimize(negative, [(0, 0, 0), (1, 1, 0), (2, 1, 1)])
    p, q, v = np.exp(best.x)
    return {
        "p": float(p),
        "q": float(q),
        "v": float(v * scale),
        "log_likelihood": -float(best.fun) - float(x.size) * math.log(scale),
        "customers": int(x.size),
    }


def _alive_odds_log(x: np.ndarray, t_x: np.ndarray, T: np.ndarray, params: Mapping[str, float]) -> np.ndarray:
    """log of a/(b+x−1) × ((α+T)/(α+t_x))^(r+x): the odds of having dropped out, −inf for x = 0."""
    r, alpha, a, b = params["r"], params["alpha"], params["a"], params["b"]
    x1 = np.where(x > 0, x, 1.0)
    odds = np.log(a) - np.log(b + x1 - 1) + (r + x1) * (np.log(alpha + T) - np.log(alpha + t_x))
    return np.where(x > 0, odds, -np.inf)


def p_alive(
    frequency: npt.ArrayLike, recency: npt.ArrayLike, T: npt.ArrayLike, *, params: Mapping[str, float]
) -> np.ndarray:
    """Probability that each customer is still active at `T` (FHL 2005); 1 without repeat purchases.

    P(alive) = 1 / (1 + a / (b + x − 1) × ((α + T) / (α + t_x))^(r+x)) for x > 0, computed in logs.
    """
    x, t_x, age = _arrays(frequency, recency, T)
    return special.expit(-_alive_odds_log(x, t_x, age, params))


def expected_purchases(
    t: float, frequency: npt.ArrayLike, recency: npt.ArrayLike, T: npt.ArrayLike, *, params: Mapping[str, float]
) -> np.ndarray:
    """Expected purchases of each customer in the next `t` time units, given their history (FHL 2005).

    The paper's conditional expectation, with z = t / (α + T + t):

        (a + b + x − 1) / (a − 1) × [1 − (1 − z)^(r+x) ₂F₁(r + x, b + x; a + b + x − 1; z)] × P(alive)

    evaluated through Euler's transformation ₂F₁(A, B; C; z) = (1 − z)^(C−A−B)
    ₂F₁(C − A, C − B; C; z), which turns it into (1 − z)^(a−1) ₂F₁(a + b − 1 − r,
    a − 1; a + b + x − 1; z): the same value, but finite for customers with
    hundreds of purchases, where the direct form overflows.
    """
    x, t_x, age = _arrays(frequency, recency, T)
    r, alpha, a, b = params["r"], params["alpha"], params["a"], params["b"]
    if t <= 0:
        return np.zeros_like(x)
    z = t / (alpha + age + t)
    hyper = special.hyp2f1(a + b - 1 - r, a - 1, a + b + x - 1, z)
    unconditional = (a + b + x - 1) / (a - 1) * (1 - (1 - z) ** (a - 1) * hyper)
    return unconditional * p_alive(x, t_x, age, params=params)


def expected_average_value(
    frequency: npt.ArrayLike, monetary_value: npt.ArrayLike, *, params: Mapping[str, float]
) -> np.ndarray:
    """Expected spend per future purchase of each customer (Fader & Hardie 2013).

    A weighted mean of the population mean p·v/(q−1) and the customer's own
    mean spend, the weight of the latter growing with their repeat purchases:
    p(v + x·z̄)/(px + q − 1). Customers without repeat purchases get the
    population mean. Needs q > 1 (else the population mean is infinite).
    """
    x, z = _arrays(frequency, monetary_value)
    p, q, v = params["p"], params["q"], params["v"]
    if q <= 1:
        raise ValueError(f"the spend model has q = {q:.3f} <= 1: the expected spend per purchase is unbounded")
    z = np.where(x > 0, z, 0.0)
    return p * (v + x * z) / (p * x + q - 1)


def _time_unit_name(time_unit_days: float) -> str:
    return {7.0: "weeks", 1.0: "days"}.get(float(time_unit_days), f"{time_unit_days:g} days")


def transactional_clv(
    transactions: pl.DataFrame,
    *,
    as_of: datetime.date,
    horizon_months: int = 12,
    discount_rate: float = 0.10,
    margin: float = 1.0,
    time_unit_days: float = 7.0,
) -> dict[str, Any]:
    """Lifetime value over a horizon for customers who buy when they like (BG/NBD + Gamma-Gamma).

    Input: `external_id`, `date`, `amount` (see `rfm_summary()`). Fits BG/NBD on
    every customer and Gamma-Gamma on those with repeat purchases; refuses
    (`ValueError`) with fewer than `MIN_REPEAT_CUSTOMERS` of those. Then

        CLV = margin × E[spend per purchase] × Σ_{i=1}^{H} (E[purchases by month i] − E[by month i−1]) / (1 + d)^i

    with months of 365.25/12 days, d = (1 + discount_rate)^(1/12) − 1 the
    monthly rate compounding to the annual `discount_rate`, each month's
    purchases discounted at the month's end. `expected_purchases` is the
    undiscounted total over the horizon.

    Output: `{"as_of": "YYYY-MM-DD", "horizon_months", "discount_rate",
    "margin", "model": {"bgnbd": {"r", "alpha", "a", "b", "time_unit", ...},
    "gamma_gamma": {"p", "q", "v", ...}}, "accounts": [{"external_id",
    "frequency", "recency", "T", "p_alive", "expected_purchases",
    "expected_average_value", "clv"}]}` by CLV desc, ties by external_id.
    """
    if horizon_months < 1:
        raise ValueError(f"horizon_months must be at least 1, got {horizon_months}")
    if discount_rate < 0:
        raise ValueError(f"discount_rate must not be negative, got {discount_rate}")
    summary = rfm_summary(transactions, as_of=as_of, time_unit_days=time_unit_days)
    x, t_x, age, spend = (
        summary[column].to_numpy().astype(float) for column in ("frequency", "recency", "T", "monetary_value")
    )
    bgnbd = fit_bgnbd(x, t_x, age, time_unit=_time_unit_name(time_unit_days))
    gamma_gamma = fit_gamma_gamma(x, spend)
    month = DAYS_PER_MONTH / time_unit_days
    cumulative = np.array([expected_purchases(i * month, x, t_x, age, params=bgnbd) for i in range(horizon_months + 1)])
    discount = (1 + discount_rate) ** (-np.arange(1, horizon_months + 1) / 12)
    discounted = (np.diff(cumulative, axis=0) * discount[:, None]).sum(axis=0)
    value = expected_average_value(x, spend, params=gamma_gamma)
    clv = margin * value * discounted
    alive = p_alive(x, t_x, age, params=bgnbd)
    rows = [
        {
            "external_id": external_id,
            "frequency": int(x[i]),
            "recency": round(float(t_x[i]), 4),
            "T": round(float(age[i]), 4),
            "p_alive": _share(float(alive[i])),
            "expected_purchases": round(float(cumulative[-1, i]), 4),
            "expected_average_value": round(float(value[i]), MONEY_DECIMALS),
            "clv": round(float(clv[i]), MONEY_DECIMALS) + 0.0,
        }
        for i, external_id in enumerate(summary["external_id"].to_list())
    ]
    return {
        "as_of": as_of.isoformat(),
        "horizon_months": horizon_months,
        "discount_rate": discount_rate,
        "margin": margin,
        "model": {"bgnbd": _rounded(bgnbd), "gamma_gamma": _rounded(gamma_gamma)},
        "accounts": sorted(rows, key=lambda row: (-row["clv"], row["external_id"])),
    }


def _rounded(params: Mapping[str, Any]) -> dict[str, Any]:
    return {key: round(value, 6) if isinstance(value, float) else value for key, value in params.items()}
