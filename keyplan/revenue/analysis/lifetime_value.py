"""Customer lifetime value: subscriptions (churn) and transactions (BG/NBD + Gamma-Gamma)."""

from __future__ import annotations

import datetime
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
from scipy import optimize, special
from threadpoolctl import threadpool_limits

from keyplan.revenue.analysis.common import (
    DAYS_PER_MONTH,
    MIN_REPEAT_CUSTOMERS,
    MONEY_DECIMALS,
    SHARE_DECIMALS,
    _divide,
    _prepare,
    _share,
)
from keyplan.revenue.analysis.recurring import _mrr_flows


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
    amounts added up, to the cent). Per customer, in time units of
    `time_unit_days` days (weeks by default):

    - `frequency`: repeat purchase days (purchase days − 1);
    - `recency`: time from the first to the last purchase day;
    - `T`: time from the first purchase day to `as_of`;
    - `monetary_value`: mean amount of the repeat purchase days (the first
      purchase is left out, as the Gamma-Gamma model expects), 0 when frequency is 0.

    Output: a frame with those columns after `external_id`, by external_id.
    """
    if time_unit_days <= 0:
        raise ValueError(f"time_unit_days must be positive, got {time_unit_days}")
    numeric_ids = "external_id" in transactions.columns and transactions["external_id"].dtype.is_integer()
    lines = _prepare(
        transactions,
        what="rfm_summary",
        keys=["external_id", "date"],
        text=[] if numeric_ids else ["external_id"],
        ints=["external_id"] if numeric_ids else [],
        money=["amount"],
        dates=["date"],
    ).filter(pl.col("date") <= as_of)
    # One pass over the lines per customer, without adding them up per day first (a group per
    # purchase day is 1.7 million groups at 2 million lines; this is 50,000): the purchase days are
    # the distinct dates, the first day's spend is that of the lines on the earliest date, and the
    # repeat spend is the rest, in whole cents, so exactly the sum of the other days.
    first = pl.col("date").min()
    summary = lines.group_by("external_id").agg(
        frequency=(pl.col("date").n_unique() - 1).cast(pl.Int64),
        first=first,
        last=pl.col("date").max(),
        repeat_cents=pl.col("amount").sum() - pl.col("amount").filter(pl.col("date") == first).sum(),
    ).sort("external_id")
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
        .then(pl.col("repeat_cents") / 100 / pl.col("frequency"))
        .otherwise(0.0),
    )


def _arrays(*values: npt.ArrayLike) -> list[np.ndarray]:
    arrays = [np.asarray(value, dtype=float) for value in values]
    if len({array.shape for array in arrays}) > 1:
        raise ValueError("frequency, recency, T and monetary values must have the same length")
    return arrays


def _minimize(negative_log_likelihood, starts: Sequence[Sequence[float]]) -> optimize.OptimizeResult:
    """Best of a bounded quasi-Newton search from each start; parameters are logs, so positive.

    ``negative_log_likelihood(log_params)`` returns the value and its gradient. L-BFGS-B with
    the exact gradient and the logs bounded to ±12 fits CDNOW in milliseconds and, unlike an
    unbounded simplex search, does not wander for seconds when the likelihood is flat (regular
    B2B buyers who almost never drop out push a and b towards infinity).
    """
    best = None
    for start in starts:
        # One BLAS thread: the search's steps are vectors of 3 or 4 numbers, and OpenBLAS's threads
        # waking for each of them made every step 8 ms instead of 0.1 on a busy machine.
        with np.errstate(all="ignore"), threadpool_limits(limits=1, user_api="blas"):
            result = optimize.minimize(
                negative_log_likelihood,
                np.asarray(start, dtype=float),
                jac=True,
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


class _Customers:
    """Customers with the same (frequency, recency, age) counted once, with a weight; and each of
    the three columns' distinct values, so that the special functions are evaluated once per
    distinct frequency (a few hundred) rather than once per customer (tens of thousands)."""

    def __init__(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray):
        rows, weight = np.unique(np.column_stack([x, t_x, T]), axis=0, return_counts=True)
        self.weight = weight.astype(float)
        self.total = float(weight.sum())
        self.x_values, self.x_index = _distinct(rows[:, 0])
        self.t_values, self.t_index = _distinct(rows[:, 1])
        self.T_values, self.T_index = _distinct(rows[:, 2])
        self.x = np.ascontiguousarray(rows[:, 0])
        self.repeat = self.x > 0
        self.x_weight = np.bincount(self.x_index, weights=self.weight)  # customers per distinct frequency


def _dot(left: np.ndarray, right: np.ndarray) -> float:
    """Σ left × right without BLAS: numpy's dot hands long vectors to BLAS threads, which on a busy
    machine wait for each other (30 ms for 50,000 numbers instead of 0.1 ms)."""
    return float(np.einsum("i,i->", left, right))


def _distinct(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    distinct, index = np.unique(values, return_inverse=True)
    return distinct, index.ravel()


def _bgnbd_negative(log_params: np.ndarray, c: _Customers) -> tuple[float, np.ndarray]:
    """Minus the BG/NBD log-likelihood of all customers and its gradient in the logs of (r, α, a, b).

    Per customer (FHL 2005): log L = log Γ(r+x) − log Γ(r) + r log α − log B(a, b)
    + log B(a, b+x) − (r+x) log(α+T) + log(1 + [x>0] e^u), with the odds of having dropped
    out u = log(a / (b+x−1)) + (r+x) (log(α+T) − log(α+t_x)). The gradient is the same
    expression differentiated: digamma functions of the distinct frequencies, and the
    probability of having dropped out w = e^u / (1 + e^u) weighting the two branches.
    """
    r, alpha, a, b = np.exp(log_params)
    xs = c.x_values
    x1s = np.maximum(xs, 1.0)
    # Per distinct frequency.
    lg_r = special.gammaln(r + xs) - special.gammaln(r)
    lb_alive = special.betaln(a, b + xs)
    odds_x = np.log(a) - np.log(b + x1s - 1)
    psi_rx = special.digamma(r + xs)
    psi_abx = special.digamma(a + b + xs)
    psi_bx = special.digamma(b + xs)
    # Per distinct age and recency.
    log_T, log_t = np.log(alpha + c.T_values), np.log(alpha + c.t_values)
    inv_T, inv_t = 1 / (alpha + c.T_values), 1 / (alpha + c.t_values)
    # Per customer (group).
    rx = r + c.x
    lT, lt = log_T[c.T_index], log_t[c.t_index]
    u = np.where(c.repeat, odds_x[c.x_index] + rx * (lT - lt), -np.inf)
    # log(1 + e^u) and w = e^u / (1 + e^u), the probability of the dropped-out branch (0 without a
    # repeat purchase), from one exponential of −|u| that cannot overflow.
    small = np.exp(-np.abs(u))
    softplus = np.maximum(u, 0.0) + np.log1p(small)
    w = np.where(u > 0, 1.0, small) / (1.0 + small)
    weight = c.weight
    base = r * np.log(alpha) - special.betaln(a, b)
    value = c.total * base + _dot(c.x_weight, lg_r + lb_alive) + _dot(weight, softplus - rx * lT)
    psi_r, psi_a, psi_b, psi_ab = special.digamma([r, a, b, a + b])
    d_r = c.total * (np.log(alpha) - psi_r) + _dot(c.x_weight, psi_rx) - _dot(weight, lT + w * (lt - lT))
    d_alpha = c.total * r / alpha - _dot(weight, rx * (inv_T[c.T_index] + w * (inv_t[c.t_index] - inv_T[c.T_index])))
    # d/da of log B(a, b+x) − log B(a, b) is ψ(a) − ψ(a+b+x) − ψ(a) + ψ(a+b); the dropped-out branch adds 1/a.
    d_a = c.total * psi_ab - _dot(c.x_weight, psi_abx) + _dot(weight, w) / a
    # d/db: ψ(b+x) − ψ(a+b+x) − ψ(b) + ψ(a+b), and the branch's −1/(b+x−1).
    d_b = (
        c.total * (psi_ab - psi_b)
        + _dot(c.x_weight, psi_bx - psi_abx)
        - _dot(weight * w, 1 / (b + np.maximum(c.x, 1.0) - 1))
    )
    gradient = np.array([d_r * r, d_alpha * alpha, d_a * a, d_b * b])
    return -float(value), -gradient


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
    customers = _Customers(x, t_x / scale, age / scale)
    best = _minimize(lambda p: _bgnbd_negative(p, customers), [(0, 0, 0, 0), (-1, -1, -1, 1), (1, 1, 1, 1)])
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
    n = float(x.size)
    # Fader & Hardie (2013): the density of the mean spend z̄ of x purchases, with ν integrated out:
    # log f = log Γ(px+q) − log Γ(px) − log Γ(q) + q log v + (px−1) log z̄ + px log x − (px+q) log(v + x z̄).
    # The terms in px alone are taken once per distinct frequency, the sums of x log z̄ etc. once.
    xs, x_index = np.unique(x, return_inverse=True)
    per_x = np.bincount(x_index).astype(float)
    log_z, log_x = np.log(zs), np.log(x)
    sum_log_z, sum_x_log_z, sum_x_log_x = float(log_z.sum()), float(_dot(x, log_z)), float(_dot(x, log_x))
    xz = x * zs

    def negative(log_params: np.ndarray) -> tuple[float, np.ndarray]:
        p, q, v = np.exp(log_params)
        pxs = p * xs
        log_vxz = np.log(v + xz)
        px_q = p * x + q
        psi_pxq, psi_px = special.digamma(pxs + q), special.digamma(pxs)
        psi_q = special.digamma(q)
        ll = (
            _dot(per_x, special.gammaln(pxs + q) - special.gammaln(pxs))
            - n * special.gammaln(q)
            + n * q * math.log(v)
            + p * sum_x_log_z - sum_log_z
            + p * sum_x_log_x
            - _dot(px_q, log_vxz)
        )
        d_p = _dot(per_x * xs, psi_pxq - psi_px) + sum_x_log_z + sum_x_log_x - _dot(x, log_vxz)
        d_q = _dot(per_x, psi_pxq) - n * psi_q + n * math.log(v) - log_vxz.sum()
        d_v = n * q / v - np.sum(px_q / (v + xz))
        return -float(ll), -np.array([d_p * p, d_q * q, d_v * v])

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

    Input: `external_id`, `date`, `amount` (see `rfm_summary()`); the models and
    the formula are `clv_table()`'s.

    Output: `{"as_of": "YYYY-MM-DD", "horizon_months", "discount_rate",
    "margin", "model": {"bgnbd": {"r", "alpha", "a", "b", "time_unit", ...},
    "gamma_gamma": {"p", "q", "v", ...}}, "accounts": [{"external_id",
    "frequency", "recency", "T", "p_alive", "expected_purchases",
    "expected_average_value", "clv"}]}` by CLV desc, ties by external_id.
    """
    summary = rfm_summary(transactions, as_of=as_of, time_unit_days=time_unit_days)
    model, accounts = clv_table(summary, horizon_months=horizon_months, discount_rate=discount_rate, margin=margin,
                                time_unit_days=time_unit_days)
    return {
        "as_of": as_of.isoformat(),
        "horizon_months": horizon_months,
        "discount_rate": discount_rate,
        "margin": margin,
        "model": model,
        "accounts": accounts.to_dicts(),
    }


def clv_table(
    summary: pl.DataFrame,
    *,
    horizon_months: int = 12,
    discount_rate: float = 0.10,
    margin: float = 1.0,
    time_unit_days: float = 7.0,
) -> tuple[dict[str, Any], pl.DataFrame]:
    """The fitted models and each customer's lifetime value, from `rfm_summary()`'s frame.

    Fits BG/NBD on every customer and Gamma-Gamma on those with repeat
    purchases; refuses (`ValueError`) with fewer than `MIN_REPEAT_CUSTOMERS` of
    those. Then

        CLV = margin × E[spend per purchase] × Σ_{i=1}^{H} (E[purchases by month i] − E[by month i−1]) / (1 + d)^i

    with months of 365.25/12 days, d = (1 + discount_rate)^(1/12) − 1 the
    monthly rate compounding to the annual `discount_rate`, each month's
    purchases discounted at the month's end. `expected_purchases` is the
    undiscounted total over the horizon.

    Output: `({"bgnbd": {"r", "alpha", "a", "b", "time_unit", ...}, "gamma_gamma":
    {"p", "q", "v", ...}}, frame)`, the frame with `external_id`, `frequency`,
    `recency`, `T`, `p_alive`, `expected_purchases`, `expected_average_value`,
    `clv`, by CLV desc, ties by external_id.
    """
    if horizon_months < 1:
        raise ValueError(f"horizon_months must be at least 1, got {horizon_months}")
    if discount_rate < 0:
        raise ValueError(f"discount_rate must not be negative, got {discount_rate}")
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
    accounts = pl.DataFrame({
        "external_id": summary["external_id"],
        "frequency": summary["frequency"].cast(pl.Int64),
        "recency": np.round(t_x, 4),
        "T": np.round(age, 4),
        "p_alive": np.round(p_alive(x, t_x, age, params=bgnbd), SHARE_DECIMALS),
        "expected_purchases": np.round(cumulative[-1], 4),
        "expected_average_value": np.round(value, MONEY_DECIMALS),
        "clv": np.round(margin * value * discounted, MONEY_DECIMALS) + 0.0,  # + 0.0: no -0.0
    }).sort(["clv", "external_id"], descending=[True, False])
    return {"bgnbd": _rounded(bgnbd), "gamma_gamma": _rounded(gamma_gamma)}, accounts


def _rounded(params: Mapping[str, Any]) -> dict[str, Any]:
    return {key: round(value, 6) if isinstance(value, float) else value for key, value in params.items()}
