"""Revenue concentration: top-N share, Herfindahl index and growth of the largest accounts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from keyplan.revenue.analysis.common import (
    SHARE_DECIMALS,
    _account_years,
    _divide,
    _money,
    _per_account,
    _prepare,
    _ranked,
    _share,
)


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
