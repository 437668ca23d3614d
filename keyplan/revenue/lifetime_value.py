"""Lifetime value as users ask for it: as of a date, over a horizon, kept between requests.

`clv_report()` is what the lifetime-value page, `GET /api/v1/analysis/clv` and
`keyplan analyze clv --json` serve. It is the one analysis that reads the raw
ledger (the purchase model needs every purchase day, which no rollup keeps), so
its result is kept in Django's cache (the database) under a fingerprint of the
data and the options: the first request after an import fits the models, the
next ones read the cached table back.
"""

import datetime
import hashlib
import io
import json
from typing import Any

import polars as pl
from django.db import connection
from django.utils import timezone

from keyplan.core.caching import computed_once
from keyplan.core.db import fetch_frame
from keyplan.core.memory import gc_paused
from keyplan.revenue.analysis.recurring import recurring_revenue
from keyplan.revenue.ledger_keys import key_range, unix_day_sql
from keyplan.revenue.models import ImportBatch, LedgerLine
from keyplan.revenue.portfolio import (
    Options,
    Period,
    Scope,
    _accounts,
    _add_months,
    _scope_sql,
    data_version,
    ledger_days,
    revenue_by_account,
    subscriptions_frame,
)
from keyplan.revenue.services import reporting_currency

EARLIEST_AS_OF = datetime.date(1900, 1, 1)
CACHE_FORMAT = 2  # raise when what the cache keeps changes shape


def default_as_of(*, today: datetime.date | None = None) -> datetime.date:
    """The ledger's last day (`ledger_days()`, where the portfolio pages' default period ends too), and
    today for an empty ledger: an old ledger is not judged by the years of silence since its last line."""
    today = today or timezone.localdate()
    last = ledger_days()[1]
    return today if last is None else min(last, today)


def check_as_of(as_of: datetime.date, *, today: datetime.date | None = None) -> None:
    """Refuse an as-of date the models cannot stand on (the message names the option)."""
    today = today or timezone.localdate()
    if as_of > today:
        raise ValueError(f"as_of ({as_of}) is after today ({today}): the ledger cannot know that day yet")
    if as_of < EARLIEST_AS_OF:
        raise ValueError(f"as_of ({as_of}) is before {EARLIEST_AS_OF}")


def purchase_lines(scope: Scope, *, as_of: datetime.date) -> pl.DataFrame:
    """account_id, date, amount (reporting currency) of every ledger line up to ``as_of`` in scope.

    The lines as they are, not added up per day by the database: SQLite would sort all of them to
    group them, a third of the time; Polars groups them per account in one pass (`rfm_summary`).
    """
    where, params = _scope_sql(scope)
    # The day number comes from the key (`ledger_keys`): a shift, where SQLite would parse two million dates.
    # "+r.dedupe_key" keeps SQLite from walking the key's index for a condition that holds for nearly every
    # line (a lookup per line instead of one pass over the table).
    key = "+r.dedupe_key" if connection.vendor == "sqlite" else "r.dedupe_key"
    lines = fetch_frame(
        f"SELECT r.account_id, {unix_day_sql('r.dedupe_key')}, r.amount_reporting FROM {LedgerLine._meta.db_table} r "
        f"WHERE r.batch_id IN (SELECT id FROM {ImportBatch._meta.db_table} WHERE status = 'done') "
        f"AND {key} <= %s{where}",
        [key_range(as_of, as_of)[1], *params], {"account_id": pl.Int64, "day": pl.Int32, "amount": pl.Float64},
    )
    return lines.select("account_id", pl.col("day").cast(pl.Date).alias("date"), "amount")


def clv_report(scope: Scope, options: Options, *, rows: int | None = None) -> dict[str, Any]:
    """Transactional CLV (BG/NBD + Gamma-Gamma) for every account with purchases; subscription CLV beside it.

    ``options.as_of`` defaults to `default_as_of()`; the payload says which day was used and
    whether it was chosen (`as_of_default`), and `totals` adds up every account. ``rows``: only
    the first accounts (the page shows 200; the API and the CLI give them all). Served from the
    cache when the data and the options are those of an earlier request.
    """
    as_of = options.as_of or default_as_of()
    check_as_of(as_of)
    # Who asks matters only when the scope is narrowed to their accounts (or by filters).
    who = [scope.user.pk if scope.user else None, scope.as_dict()] if scope.filtered else "everything"
    key = json.dumps([data_version(), who, as_of.isoformat(), options.horizon_months, options.discount_rate,
                      reporting_currency()], default=str)
    key = f"lifetime-value:{CACHE_FORMAT}:" + hashlib.sha256(key.encode()).hexdigest()
    payload, table = computed_once(key, lambda: _fit(scope, as_of, options))
    with gc_paused():
        accounts = pl.read_ipc(io.BytesIO(table), n_rows=rows).to_dicts()
    return {**payload, "as_of_default": options.as_of is None, "accounts": accounts}


@gc_paused()
def _fit(scope: Scope, as_of: datetime.date, options: Options) -> tuple[dict[str, Any], bytes]:
    """The payload without its account rows, and the rows as a compressed Arrow table (what the cache keeps:
    some 2 MB for 50,000 accounts instead of 9 MB of pickled dicts)."""
    from keyplan.revenue.analysis import lifetime_value as model  # SciPy: loaded when a model is fitted

    profit = revenue_by_account(scope, Period(_add_months(as_of.replace(day=1), -11), as_of))
    margins = profit.filter(pl.col("revenue") > 0)
    portfolio_margin = float(1 - margins["cost"].sum() / margins["revenue"].sum()) if margins.height else 1.0
    margin = round(max(portfolio_margin, 0.0), 6)
    # Summed up per account id (an integer groups faster than a text), then named; the inner join
    # leaves out the lines of accounts out of scope (archived ones).
    lines = purchase_lines(scope, as_of=as_of).rename({"account_id": "external_id"})
    summary = (model.rfm_summary(lines, as_of=as_of).rename({"external_id": "account_id"})
               .join(_accounts(scope, names=False), on="account_id").drop("account_id"))
    fitted, table = model.clv_table(summary, horizon_months=options.horizon_months,
                                    discount_rate=options.discount_rate, margin=margin)
    payload = {
        "as_of": as_of.isoformat(),
        "horizon_months": options.horizon_months,
        "discount_rate": options.discount_rate,
        "margin": margin,
        "model": fitted,
        "currency": reporting_currency(),
        "totals": {
            "accounts": table.height,
            "clv": round(float(table["clv"].sum()), 2),
            "expected_purchases": round(float(table["expected_purchases"].sum()), 2),
            "likely_active": int((table["p_alive"] >= 0.5).sum()),  # at least even odds of still buying
        },
        "subscriptions": _subscription_clv(scope, as_of, profit, options),
    }
    buffer = io.BytesIO()
    table.write_ipc(buffer, compression="zstd")
    return payload, buffer.getvalue()


def _subscription_clv(scope: Scope, as_of: datetime.date, profit: pl.DataFrame, options: Options) -> dict[str, Any]:
    from keyplan.revenue.analysis import lifetime_value as model

    months = Period(_add_months(as_of.replace(day=1), -11), as_of).months()
    subscriptions = subscriptions_frame(scope, at=as_of)
    if not subscriptions.height:
        return {"monthly_churn_rate": None, "accounts": []}
    churn = model.observed_monthly_churn_rate(subscriptions, months=months)
    recurring = recurring_revenue(subscriptions, months=[months[-1]])
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
    accounts = model.subscription_clv(frame, monthly_churn_rate=churn or 0.0, discount_rate=options.discount_rate,
                                      horizon_months=horizon)
    return {"monthly_churn_rate": churn, "discount_rate": options.discount_rate, "accounts": accounts}
