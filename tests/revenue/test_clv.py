"""Customer lifetime value: subscription CLV, the observed churn rate, and BG/NBD with Gamma-Gamma.

The CDNOW data in `data/` is the public research sample Fader, Hardie & Lee
(2005) used: the 2,357 customers who first bought at CDNOW in the first quarter
of 1997, followed until the end of June 1998. Both files are copied byte for
byte from the `lifetimes` 0.11.3 wheel on PyPI (`lifetimes/datasets/`); no
code of that package is used.

- `cdnow_summary.csv` (`cdnow_customers_summary_with_transactions.csv`,
  sha256 7ddd11b55be3227e…): per customer `x` (repeat purchases), `t_x`
  (recency) and `T` (age) in weeks over the 39-week calibration period that
  ends on 1997-09-30, and `zbar`, the mean dollar value of the repeat purchases.
- `cdnow_sample.txt` (`CDNOW_sample.txt`, sha256 6fae10155c0b0ba3…): the
  transaction log, one line per purchase: original id, sample id (the `ID` of
  the summary), date, CDs bought, dollar value.
"""

import datetime
import json
import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy.special import hyp2f1

from keyplan.revenue.analysis import (
    MIN_REPEAT_CUSTOMERS,
    expected_average_value,
    expected_purchases,
    fit_bgnbd,
    fit_gamma_gamma,
    observed_monthly_churn_rate,
    p_alive,
    rfm_summary,
    subscription_clv,
    transactional_clv,
)

DATA = Path(__file__).parent / "data"
D = datetime.date
CALIBRATION_END = D(1997, 9, 30)
# Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way", section 4: the BG/NBD fit
# to the CDNOW calibration data, with its log-likelihood.
PUBLISHED_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PUBLISHED_BGNBD_LL = -9582.4
# Fader & Hardie (2013), "The Gamma-Gamma Model of Monetary Value": the fit to the 946 CDNOW
# customers with repeat purchases in the calibration period.
PUBLISHED_GAMMA_GAMMA = {"p": 6.25, "q": 3.74, "v": 15.44}


@pytest.fixture(scope="module")
def summary() -> pl.DataFrame:
    return pl.read_csv(DATA / "cdnow_summary.csv")


@pytest.fixture(scope="module")
def transactions() -> pl.DataFrame:
    rows = [line.split() for line in (DATA / "cdnow_sample.txt").read_text().splitlines()]
    return pl.DataFrame(
        {
            "external_id": [f"{int(row[1]):04d}" for row in rows],
            "date": [datetime.datetime.strptime(row[2], "%Y%m%d").date() for row in rows],
            "amount": [float(row[4]) for row in rows],
        }
    )


@pytest.fixture(scope="module")
def bgnbd(summary) -> dict:
    return fit_bgnbd(summary["x"], summary["t_x"], summary["T"])


@pytest.fixture(scope="module")
def gamma_gamma(summary) -> dict:
    return fit_gamma_gamma(summary["x"], summary["zbar"])


@pytest.fixture(scope="module")
def cdnow_clv(transactions) -> dict:
    return transactional_clv(transactions, as_of=CALIBRATION_END)


# ---------------------------------------------------------------- the published CDNOW estimates


def test_bgnbd_reproduces_the_published_cdnow_estimates(bgnbd):
    for name, published in PUBLISHED_BGNBD.items():
        assert bgnbd[name] == pytest.approx(published, rel=0.01), name
    assert bgnbd["log_likelihood"] == pytest.approx(PUBLISHED_BGNBD_LL, abs=0.1)
    assert (bgnbd["time_unit"], bgnbd["customers"]) == ("weeks", 2357)


def test_gamma_gamma_reproduces_the_published_cdnow_estimates(gamma_gamma):
    for name, published in PUBLISHED_GAMMA_GAMMA.items():
        assert gamma_gamma[name] == pytest.approx(published, rel=0.01), name
    assert gamma_gamma["customers"] == 946  # only customers with repeat purchases


def test_conditional_expectation_of_the_papers_first_customer(bgnbd):
    # Customer 1 of the sample: 2 repeat purchases, the last at week 30.43, observed for 38.86 weeks.
    # Fader, Hardie & Lee's note "Implementing the BG/NBD Model for Customer Base Analysis in Excel"
    # works out E[Y(39) | x = 2, t_x = 30.43, T = 38.86] = 1.226 for the fitted parameters.
    assert expected_purchases(39, [2], [30.43], [38.86], params=bgnbd)[0] == pytest.approx(1.226, abs=0.001)


# ---------------------------------------------------------------- RFM summary


def test_rfm_summary_rebuilds_the_published_summary_from_the_transaction_log(transactions, summary):
    rebuilt = rfm_summary(transactions, as_of=CALIBRATION_END)
    published = summary.select(
        pl.col("ID").map_elements(lambda i: f"{i:04d}", return_dtype=pl.String).alias("external_id"),
        "x",
        "t_x",
        "T",
        "zbar",
    )
    both = published.join(rebuilt, on="external_id", how="full", coalesce=True)
    assert both.height == rebuilt.height == 2357
    # 112 customer-days in the log hold several purchases: counted once, frequency matches exactly.
    assert (both["x"] == both["frequency"]).all()
    # The published values are rounded to 2 decimals (22.345 is printed 22.35).
    rounding = 0.005 + 1e-9
    assert (both["t_x"] - both["recency"]).abs().max() <= rounding
    assert (both["T"] - both["T_right"]).abs().max() <= rounding
    assert (both["zbar"] - both["monetary_value"]).abs().max() <= rounding


def test_rfm_summary_by_hand():
    transactions = pl.DataFrame(
        {
            "external_id": ["A", "A", "A", "A", "A", "B", "B", "C"],
            "date": [
                D(2026, 1, 5),
                D(2026, 1, 5),
                D(2026, 1, 19),
                D(2026, 2, 2),
                D(2026, 3, 1),
                D(2026, 2, 9),
                D(2026, 2, 9),
                D(2026, 3, 2),
            ],
            "amount": [10.0, 5.0, 20.0, 30.0, 100.0, 7.0, 3.0, 50.0],
        }
    )
    # A: purchase days 5 Jan (10 + 5 on one day), 19 Jan, 2 Feb; 1 Mar is after as_of. C starts after as_of.
    weeks = rfm_summary(transactions, as_of=D(2026, 2, 16))
    assert weeks.to_dicts() == [
        {"external_id": "A", "frequency": 2, "recency": 4.0, "T": 6.0, "monetary_value": 25.0},
        {"external_id": "B", "frequency": 0, "recency": 0.0, "T": 1.0, "monetary_value": 0.0},
    ]
    days = rfm_summary(transactions, as_of=D(2026, 2, 16), time_unit_days=1)
    assert days.select("recency", "T").rows() == [(28.0, 42.0), (0.0, 7.0)]


# ---------------------------------------------------------------- the models' pieces


def test_fits_recover_the_parameters_of_simulated_customers():
    rng = np.random.default_rng(2005)
    n, weeks = 5000, 52.0
    rates, dropout = rng.gamma(0.5, 1 / 5.0, n), rng.beta(0.6, 2.5, n)  # r = 0.5, α = 5, a = 0.6, b = 2.5
    x, t_x = np.zeros(n), np.zeros(n)
    for i in range(n):
        t = 0.0
        while (t := t + rng.exponential(1 / rates[i])) <= weeks:
            x[i], t_x[i] = x[i] + 1, t
            if rng.random() < dropout[i]:
                break
    fitted = fit_bgnbd(x, t_x, np.full(n, weeks))
    for name, true in {"r": 0.5, "alpha": 5.0, "a": 0.6, "b": 2.5}.items():
        assert fitted[name] == pytest.approx(true, rel=0.1), name

    purchases = rng.integers(1, 12, n)
    scale = rng.gamma(4.0, 1 / 15.0, n)  # p = 6, q = 4, v = 15: mean spend p·v/(q−1) = 30
    spend = np.array([rng.gamma(6.0, 1 / scale[i], k).mean() for i, k in enumerate(purchases)])
    spend_model = fit_gamma_gamma(purchases, spend)
    mean = spend_model["p"] * spend_model["v"] / (spend_model["q"] - 1)
    assert mean == pytest.approx(30.0, rel=0.05)
    assert spend_model["p"] == pytest.approx(6.0, rel=0.25)


def test_p_alive_and_expected_purchases_behave(bgnbd):
    # No repeat purchase: no evidence of dropping out.
    assert p_alive([0, 0], [0.0, 0.0], [5.0, 38.0], params=bgnbd).tolist() == [1.0, 1.0]
    # The longer the silence since the last purchase, the less likely the customer is still there.
    alive = p_alive([3, 3, 3], [10.0, 10.0, 10.0], [12.0, 25.0, 38.0], params=bgnbd)
    assert 1 > alive[0] > alive[1] > alive[2] > 0
    horizons = [expected_purchases(t, [3], [10.0], [12.0], params=bgnbd)[0] for t in (0, 4, 13, 52, 104)]
    assert horizons[0] == 0 and horizons == sorted(horizons) and horizons[-1] > horizons[-2]
    # A frequent recent buyer is expected to buy more than an occasional one.
    frequent, occasional = expected_purchases(13, [10, 1], [37.0, 37.0], [38.0, 38.0], params=bgnbd)
    assert frequent > 5 * occasional


def test_expected_purchases_is_the_papers_formula_and_stays_finite_for_heavy_buyers(bgnbd):
    r, alpha, a, b = (bgnbd[name] for name in ("r", "alpha", "a", "b"))
    x, t_x, age = np.array([0.0, 1, 3, 10, 40]), np.array([0.0, 5, 20, 30, 38]), np.array([38.0, 20, 30, 38, 39])
    for t in (1, 13, 39, 104):
        # Fader, Hardie & Lee (2005) as printed, with the hypergeometric function taken directly.
        ahead = alpha + age + t
        direct = (
            (a + b + x - 1)
            / (a - 1)
            * (1 - ((alpha + age) / ahead) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, t / ahead))
        )
        odds = np.where(x > 0, a / (b + np.maximum(x, 1) - 1) * ((alpha + age) / (alpha + t_x)) ** (r + x), 0.0)
        assert expected_purchases(t, x, t_x, age, params=bgnbd) == pytest.approx(direct / (1 + odds), rel=1e-9)
        assert p_alive(x, t_x, age, params=bgnbd) == pytest.approx(1 / (1 + odds), rel=1e-12)
    # A daily-style buyer: 2,000 purchases in 52 weeks, the last one just now. The printed form overflows here.
    ahead = alpha + 52.0 + 52
    with np.errstate(all="ignore"):
        printed = 1 - ((alpha + 52.0) / ahead) ** (r + 2000) * hyp2f1(r + 2000, b + 2000, a + b + 1999, 52 / ahead)
    assert not np.isfinite(printed)
    heavy = expected_purchases(52, [2000], [51.9], [52.0], params=bgnbd)[0]
    assert 1000 < heavy < 2000


def test_expected_average_value_weighs_own_spend_against_the_population():
    params = {"p": 6.0, "q": 4.0, "v": 15.0}
    values = expected_average_value([0, 1, 9], [0.0, 60.0, 60.0], params=params)
    # Population mean p·v/(q−1) = 30; with x purchases of mean z: p(v + x z)/(px + q − 1).
    assert values.tolist() == pytest.approx([30.0, 6 * 75 / 9, 6 * 555 / 57])
    with pytest.raises(ValueError, match=r"q = 0\.900"):
        expected_average_value([1], [10.0], params={"p": 6.0, "q": 0.9, "v": 15.0})


# ---------------------------------------------------------------- transactional CLV


def test_transactional_clv_on_cdnow(cdnow_clv):
    assert cdnow_clv["as_of"] == "1997-09-30" and cdnow_clv["horizon_months"] == 12
    model = cdnow_clv["model"]
    assert model["bgnbd"]["time_unit"] == "weeks"
    for name, published in PUBLISHED_BGNBD.items():
        assert model["bgnbd"][name] == pytest.approx(published, rel=0.01)
    for name, published in PUBLISHED_GAMMA_GAMMA.items():
        assert model["gamma_gamma"][name] == pytest.approx(published, rel=0.01)
    accounts = cdnow_clv["accounts"]
    assert len(accounts) == 2357
    assert set(accounts[0]) == {
        "external_id",
        "frequency",
        "recency",
        "T",
        "p_alive",
        "expected_purchases",
        "expected_average_value",
        "clv",
    }
    assert [(-a["clv"], a["external_id"]) for a in accounts] == sorted((-a["clv"], a["external_id"]) for a in accounts)
    assert all(0 <= a["p_alive"] <= 1 and a["expected_purchases"] >= 0 and a["clv"] >= 0 for a in accounts)
    assert all(a["p_alive"] == 1.0 for a in accounts if a["frequency"] == 0)
    assert json.loads(json.dumps(cdnow_clv, allow_nan=False)) == cdnow_clv
    first = next(a for a in accounts if a["external_id"] == "0001")
    assert (first["frequency"], first["recency"], first["T"]) == (2, 30.4286, 38.8571)


def test_transactional_clv_discounts_and_scales(transactions, cdnow_clv):
    discounted = {a["external_id"]: a["clv"] for a in cdnow_clv["accounts"]}
    undiscounted = transactional_clv(transactions, as_of=CALIBRATION_END, discount_rate=0.0)
    for account in undiscounted["accounts"]:
        # Without discounting the monthly steps add up to the purchases expected over the horizon.
        expected = account["expected_purchases"] * account["expected_average_value"]
        assert account["clv"] == pytest.approx(expected, rel=1e-3, abs=0.01)
        # Discounting at 10 % a year over 12 months takes off less than 1 − 1 / 1.1 of the value.
        assert account["clv"] / 1.1 - 0.01 <= discounted[account["external_id"]] <= account["clv"] + 0.01
    half = transactional_clv(transactions, as_of=CALIBRATION_END, margin=0.5)
    assert all(a["clv"] == pytest.approx(discounted[a["external_id"]] / 2, abs=0.006) for a in half["accounts"])
    assert sum(discounted.values()) > 0


def test_transactional_clv_needs_enough_repeat_customers():
    dates = [D(2026, 1, 5), D(2026, 2, 5)]
    rows = [(f"R{i}", day, 10.0) for i in range(MIN_REPEAT_CUSTOMERS - 1) for day in dates]
    rows += [(f"S{i}", D(2026, 1, 5), 10.0) for i in range(200)]
    transactions = pl.DataFrame(
        rows, schema={"external_id": pl.String, "date": pl.Date, "amount": pl.Float64}, orient="row"
    )
    with pytest.raises(ValueError, match=r"at least 20 customers with repeat purchases.*there are 19"):
        transactional_clv(transactions, as_of=D(2026, 3, 1))


# ---------------------------------------------------------------- subscription CLV


ACCOUNTS = pl.DataFrame(
    {"external_id": ["small", "big", "twin"], "arr": [2400.0, 12000.0, 2400.0], "margin_pct": [0.25, 0.5, 0.25]}
)


def test_subscription_clv_is_the_discounted_sum_of_monthly_margins():
    monthly_discount = 1.10 ** (1 / 12) - 1
    result = subscription_clv(ACCOUNTS, monthly_churn_rate=0.02, horizon_months=24)
    # big earns 0.5 × 12,000 / 12 = 500 a month, small and twin 0.25 × 2,400 / 12 = 50 (a tie, by external_id).
    explicit = sum(500 * 0.98**t / (1 + monthly_discount) ** t for t in range(24))
    assert [row["external_id"] for row in result] == ["big", "small", "twin"]
    big, small = result[0], result[1]
    assert (big["arr"], big["margin_pct"], big["monthly_margin"], small["monthly_margin"]) == (
        12000.0,
        0.5,
        500.0,
        50.0,
    )
    assert big["clv"] == pytest.approx(explicit, abs=0.005)
    assert small["clv"] == pytest.approx(explicit / 10, abs=0.005)
    assert big["expected_lifetime_months"] == round(sum(0.98**t for t in range(24)), 2)


def test_subscription_clv_without_horizon_is_the_limit():
    endless = subscription_clv(ACCOUNTS, monthly_churn_rate=0.02)
    q = 0.98 / 1.10 ** (1 / 12)
    assert endless[0]["clv"] == pytest.approx(500 / (1 - q), abs=0.005)
    assert endless[0]["expected_lifetime_months"] == 50.0  # 1 / 2 %
    long = subscription_clv(ACCOUNTS, monthly_churn_rate=0.02, horizon_months=2000)
    assert long[0]["clv"] == pytest.approx(endless[0]["clv"], abs=0.01)
    no_discount = subscription_clv(ACCOUNTS, monthly_churn_rate=0.05, discount_rate=0.0)
    assert no_discount[0]["clv"] == pytest.approx(500 * 20)  # 20 months on average


def test_subscription_clv_refuses_an_endless_undiscounted_lifetime():
    with pytest.raises(ValueError, match="horizon_months"):
        subscription_clv(ACCOUNTS, monthly_churn_rate=0.0, discount_rate=0.0)
    assert subscription_clv(ACCOUNTS, monthly_churn_rate=0.0, discount_rate=0.0, horizon_months=12)[0]["clv"] == 6000.0
    with pytest.raises(ValueError, match="monthly_churn_rate"):
        subscription_clv(ACCOUNTS, monthly_churn_rate=1.5)
    result = subscription_clv(ACCOUNTS, monthly_churn_rate=0.0, discount_rate=0.1)
    assert result[0]["expected_lifetime_months"] is None  # no churn: endless, but discounting keeps the value finite
    assert json.loads(json.dumps(result, allow_nan=False)) == result


def test_observed_monthly_churn_rate():
    subscriptions = pl.DataFrame(
        [
            ("a", "Basic", 100.0, D(2025, 12, 1), None),
            ("b", "Basic", 50.0, D(2025, 12, 1), D(2026, 2, 1)),  # lost in February
            ("c", "Basic", 50.0, D(2025, 12, 1), D(2026, 3, 1)),  # lost in March
            ("d", "Basic", 50.0, D(2026, 1, 1), None),
        ],
        schema={
            "external_id": pl.String,
            "plan": pl.String,
            "monthly_amount": pl.Float64,
            "start": pl.Date,
            "end": pl.Date,
        },
        orient="row",
    )
    # Jan: 0 of 3 paying in Dec lost; Feb: 1 of 4 (b); Mar: 1 of 3 (c). Mean (0 + 1/4 + 1/3) / 3 = 7/36.
    months = [D(2026, 1, 1), D(2026, 2, 1), D(2026, 3, 1)]
    assert observed_monthly_churn_rate(subscriptions, months=months) == round(7 / 36, 6)
    # Months with nobody paying the month before do not count; with no such month there is no rate.
    assert observed_monthly_churn_rate(subscriptions, months=[D(2025, 11, 1), D(2025, 12, 1)]) is None
    assert math.isclose(observed_monthly_churn_rate(subscriptions, months=[D(2025, 12, 1), D(2026, 2, 1)]), 0.25)


def test_the_fits_follow_the_exact_gradient_of_the_likelihood(summary):
    """The searches are given the likelihood's gradient: it must be the likelihood's, or the fit stops short."""
    from scipy.optimize import approx_fprime

    from keyplan.revenue.analysis.lifetime_value import _bgnbd_log_likelihood, _bgnbd_negative, _Customers

    x, t_x, age = (summary[c].to_numpy().astype(float) for c in ("x", "t_x", "T"))
    customers = _Customers(x, t_x / 39, age / 39)
    for logs in ([0.0, 0.0, 0.0, 0.0], [-1.0, 0.5, -0.3, 1.2], [1.0, -2.0, 2.0, -1.0]):
        value, gradient = _bgnbd_negative(np.array(logs), customers)
        r, alpha, a, b = np.exp(logs)
        # The value is the per-customer likelihood of the paper, summed (customers counted once per distinct history).
        assert value == pytest.approx(-_bgnbd_log_likelihood(r, alpha, a, b, x, t_x / 39, age / 39).sum(), rel=1e-12)
        numeric = approx_fprime(np.array(logs), lambda p: _bgnbd_negative(p, customers)[0], 1e-7)
        assert gradient == pytest.approx(numeric, rel=1e-4, abs=1e-2)
