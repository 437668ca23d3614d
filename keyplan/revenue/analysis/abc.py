"""ABC classes per year from cumulative revenue shares, and the movements between years."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Any

import polars as pl

from keyplan.revenue.analysis.common import (
    CLASSES,
    _account_years,
    _check_fraction,
    _divide,
    _per_account,
    _prepare,
    _ranked,
    _share,
)


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
    vital few at `thresholds[0]`. A year in which no account has positive
    revenue has no classes: it is listed in `no_revenue`, its counts are 0 and
    each account's class that year is null. `years` are sorted; movements go
    from each year with revenue to the next one with revenue.

    Output: `{"thresholds": [a, b], "years": {"2024": {"A": n, "B": n, "C": n}},
    "no_revenue": ["2023"], "shares": {"2024": {"A": s, "B": s, "C": s}},
    "movements": {"2024→2025": {"A": {"A": n, "B": n, "C": n}, "B": {...},
    "C": {...}}}, "accounts": [{"external_id", "classes": {"2024": "A"}}]}`
    with accounts sorted by external_id; `shares` are each class's part of the
    year's positive revenue (0 in a year without revenue).
    """
    accounts, table = _class_table(revenue, years=years, thresholds=thresholds)
    year_keys = table.columns[1:]
    paths = table.group_by(year_keys).len(name="accounts") if year_keys else None
    # Accounts share a handful of paths through the classes (3 ** years at most): one dict per path, copied.
    distinct = paths.select(year_keys).rows() if year_keys else [()]
    classes = {path: dict(zip(year_keys, path, strict=True)) for path in distinct}
    shares = {}
    for key in year_keys:
        positive = accounts[key].clip(lower_bound=0)
        total = int(positive.sum())
        shares[key] = {c: _share(int(positive.filter(table[key] == c).sum()) / total) if total else 0.0 for c in CLASSES}
    return {
        "thresholds": list(thresholds),
        **abc_counts(paths, years=years),
        "shares": shares,
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

    Output: `external_id` (sorted), then one column per year ("2024") of "A", "B" or "C"
    (null in a year without revenue).
    """
    return _class_table(revenue, years=years, thresholds=thresholds)[1]


def _class_table(
    revenue: pl.DataFrame, *, years: Sequence[int], thresholds: tuple[float, float]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The accounts' cents per year (`_account_years()`) and the table of `abc_class_table()`."""
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
    return accounts, accounts.select("external_id", *[_abc(accounts[str(year)], a_limit, b_limit) for year in years])


def abc_counts(paths: pl.DataFrame | None, *, years: Sequence[int]) -> dict[str, Any]:
    """Accounts per class and year, and how many moved from each class to each class between listed years.

    Input: one column per year ("2024") with a class ("A", "B" or "C") and
    `accounts`, the number of accounts that went through that path of classes
    (so one row per distinct path; None or no rows: no accounts). A year whose
    column holds no class (null throughout: no revenue that year) is listed in
    `no_revenue`. `years` are sorted; movements go from each year with classes
    to the next one with classes.

    Output: `{"years": {"2024": {"A": n, "B": n, "C": n}}, "no_revenue": ["2023"],
    "movements": {"2024→2025": {"A": {"A": n, "B": n, "C": n}, "B": {...}, "C": {...}}}}`.
    """
    year_keys = [str(year) for year in sorted({int(year) for year in years})]
    rows = paths.rows(named=True) if paths is not None else []
    classed = [key for key in year_keys if any(row[key] is not None and row["accounts"] for row in rows)]

    def count(before: str, after: str, b: str, a: str) -> int:
        return sum(row["accounts"] for row in rows if row[before] == b and row[after] == a)

    return {
        "years": {key: {c: count(key, key, c, c) for c in CLASSES} for key in year_keys},
        "no_revenue": [key for key in year_keys if key not in classed],
        "movements": {
            f"{before}→{after}": {b: {a: count(before, after, b, a) for a in CLASSES} for b in CLASSES}
            for before, after in pairwise(classed)
        },
    }


def _abc(revenue: pl.Series, a_limit: float, b_limit: float) -> pl.Series:
    """The class of each account, in the order of `revenue` (accounts sorted by external_id)."""
    ranked = _ranked(
        pl.DataFrame({"revenue": revenue, "position": pl.int_range(revenue.len(), eager=True)}), ties="position"
    )
    total = int(ranked["positive"].sum())
    if total <= 0:  # no revenue this year: no classes
        return pl.Series(revenue.name, [None] * revenue.len(), dtype=pl.String)
    share_above = _divide(ranked["above"], total)
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
