"""Profitability per account: margin, cost to serve and the profit matrix quadrants."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import polars as pl

from keyplan.revenue.analysis.common import QUADRANTS, SHARE_DECIMALS, _money, _prepare, _share

if TYPE_CHECKING:
    import numpy as np

# NumPy (0.3 s to import) is imported where it is used, so that `keyplan analyze pareto` starts without it.


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
    import numpy as np

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
    import numpy as np

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
