"""Recurring revenue: MRR and ARR by month, its movements (new, expansion, contraction, churn) and
plans.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any, NamedTuple

import polars as pl

from keyplan.revenue.analysis.common import _divide, _money, _prepare


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
