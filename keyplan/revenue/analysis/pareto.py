"""Pareto: the vital few accounts that bring a given share (80 %) of revenue."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import polars as pl

from keyplan.revenue.analysis.common import (
    MONEY_DECIMALS,
    SHARE_DECIMALS,
    _check_fraction,
    _divide,
    _money,
    _prepare,
    _ranked,
    _share,
)


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

    The reading in words counts the accounts with revenue only (positive
    revenue in the period): `with_revenue` of them, `without_revenue` others;
    `vital_few_share` = vital_few / with_revenue; `top_fifth` = the top 20 % of
    the accounts with revenue (rounded up) and the share of revenue they bring;
    `curve` = [rank, cumulative share] over every account with revenue, at most
    `CURVE_POINTS` of them (evenly spread ranks, the vital few's and the top
    fifth's among them) for a chart.

    Output: `{"total", "threshold", "vital_few", "with_revenue",
    "without_revenue", "vital_few_share", "top_fifth": {"accounts", "share"},
    "curve": [[rank, share], ...], "accounts": [{"external_id", "name",
    "revenue", "share", "cumulative_share"}, ...]}`.
    """
    ranked, total, vital_few = _pareto_ranking(revenue, threshold)
    return {"total": _money(total), "threshold": threshold, "vital_few": vital_few,
            **_reading(ranked, total, vital_few), "accounts": _pareto_rows(ranked)}


CURVE_POINTS = 400


def _reading(ranked: pl.DataFrame, total: int, vital_few: int) -> dict[str, Any]:
    """What `pareto()` says in words, and the cumulative curve over every account with revenue."""
    with_revenue = int((ranked["revenue"] > 0).sum())
    fifth = -(-with_revenue // 5)  # 20 % of the accounts, rounded up: at least one
    shares = ranked["cumulative_share"].head(with_revenue).to_list()
    if with_revenue <= CURVE_POINTS:
        ranks = list(range(1, with_revenue + 1))
    else:
        step = (with_revenue - 1) / (CURVE_POINTS - 1)
        ranks = sorted({1 + round(i * step) for i in range(CURVE_POINTS)} | {vital_few, fifth})
    return {
        "with_revenue": with_revenue,
        "without_revenue": ranked.height - with_revenue,
        "vital_few_share": _share(vital_few / with_revenue) if with_revenue else None,
        "top_fifth": {"accounts": fifth if with_revenue else 0,
                      "share": _share(shares[fifth - 1]) if with_revenue else None},
        "curve": [[rank, round(shares[rank - 1], SHARE_DECIMALS)] for rank in ranks],
    }


def pareto_summary(revenue: pl.DataFrame, *, threshold: float = 0.8, top: int = 50) -> dict[str, Any]:
    """`pareto()` for a dashboard: the list stops after `top` accounts and the rest are added up.

    The same input, ranking, `total`, `threshold`, `vital_few` and reading in
    words (`with_revenue` … `curve`) as `pareto()`; `accounts` holds its first `top` rows and `rest` the others:
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
        **_reading(ranked, total, vital_few),
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

    Takes the output of `pareto()` or `pareto_summary()`. Like the reading in words, the chart is about the
    accounts with revenue (positive revenue in the period): the first `max_bars` of them get a bar each
    (labelled by name, with the external id added where names repeat); the others with revenue are added up
    into one "Other (N accounts)" bar whose cumulative share is 1. Accounts without revenue get no bar and are
    not counted in it (the reading says how many they are).

    Output: `{"labels": [...], "revenue": [...], "cumulative_share": [...], "others": N}`,
    where `others` is the number of accounts in that last bar (0: there is none).
    """
    if max_bars < 1:
        raise ValueError(f"max_bars must be at least 1, got {max_bars}")
    with_revenue = result["with_revenue"]
    shown = result["accounts"][:min(max_bars, with_revenue)]
    names = [account["name"] or account["external_id"] for account in shown]
    counts = Counter(names)
    labels = [
        f"{name} ({account['external_id']})" if counts[name] > 1 else name
        for name, account in zip(names, shown, strict=True)
    ]
    revenue = [account["revenue"] for account in shown]
    cumulative = [account["cumulative_share"] for account in shown]
    others = with_revenue - len(shown)
    if others:
        labels.append(f"Other ({others} account{'' if others == 1 else 's'})")
        # The positive total less the bars: what the others with revenue bring, without a row for each of them.
        revenue.append(round(result["total"] - math.fsum(revenue), MONEY_DECIMALS) + 0.0)
        cumulative.append(1.0)
    return {"labels": labels, "revenue": revenue, "cumulative_share": cumulative, "others": others}
