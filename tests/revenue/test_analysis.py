"""Portfolio analyses: worked examples computed by hand, and properties checked against plain Python."""

import datetime
import json
import math
import subprocess
import sys
from itertools import pairwise

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keyplan.revenue.analysis import (
    abc_classes,
    concentration,
    pareto,
    pareto_chart_series,
    pareto_summary,
    profitability,
    profitability_summary,
    recurring_revenue,
)

D = datetime.date


def test_the_analyses_need_no_django():
    # analysis.py is pure computation: importing it on its own must not pull in Django.
    code = "import sys, keyplan.revenue.analysis; print(sorted(m for m in sys.modules if m.split('.')[0] == 'django'))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env={})
    assert result.stdout.strip() == "[]"


def revenue_frame(rows: dict[str, float]) -> pl.DataFrame:
    return pl.DataFrame(
        {"external_id": list(rows), "name": [f"Account {key}" for key in rows], "revenue": list(rows.values())},
        schema={"external_id": pl.String, "name": pl.String, "revenue": pl.Float64},
    )


def yearly_frame(rows: list[tuple[str, int, float]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={"external_id": pl.String, "year": pl.Int64, "revenue": pl.Float64}, orient="row")


FIVE = {"e": 5.0, "b": 20.0, "a": 50.0, "d": 10.0, "c": 15.0}  # 100 in all


def test_every_result_is_plain_json():
    yearly = yearly_frame([("a", 2024, 10.0), ("b", 2025, -3.0), ("c", 2025, 0.0)])
    results = [
        pareto(revenue_frame({"a": 10.0, "b": 0.0})),
        pareto_chart_series(pareto(revenue_frame({"a": 10.0, "b": 0.0})), max_bars=1),
        abc_classes(yearly, years=[2024, 2025]),
        recurring_revenue(SUBSCRIPTIONS, months=MONTHS),
        profitability(ledger_frame([("a", 0.0, 5.0), ("b", 10.0, 0.0)])),
        concentration(yearly),
    ]
    for result in results:
        # Served as they are by the API and `keyplan analyze --json`: no NaN, no numpy or date objects.
        assert json.loads(json.dumps(result, allow_nan=False)) == result


# ---------------------------------------------------------------- Pareto


class TestPareto:
    def test_worked_example(self):
        result = pareto(revenue_frame(FIVE))
        assert result["total"] == 100.0 and result["threshold"] == 0.8
        assert [(a["external_id"], a["revenue"], a["share"], a["cumulative_share"]) for a in result["accounts"]] == [
            ("a", 50.0, 0.5, 0.5),
            ("b", 20.0, 0.2, 0.7),
            ("c", 15.0, 0.15, 0.85),
            ("d", 10.0, 0.1, 0.95),
            ("e", 5.0, 0.05, 1.0),
        ]
        assert result["accounts"][0]["name"] == "Account a"
        # 0.5, 0.7 are below 80 %; the third account takes the cumulative share to 0.85.
        assert result["vital_few"] == 3

    @pytest.mark.parametrize("threshold, vital_few", [(0.5, 1), (0.7, 2), (0.7000001, 3), (0.95, 4), (1.0, 5)])
    def test_a_share_exactly_at_the_threshold_reaches_it(self, threshold, vital_few):
        assert pareto(revenue_frame(FIVE), threshold=threshold)["vital_few"] == vital_few

    def test_cents_are_added_exactly(self):
        # 136 of 170 cents is exactly 80 %; in floats (0.77 + 0.59) / 1.70 falls just short of 0.8.
        result = pareto(revenue_frame({"w": 0.77, "x": 0.59, "y": 0.30, "z": 0.04}))
        assert result["vital_few"] == 2
        assert [a["cumulative_share"] for a in result["accounts"]] == [0.452941, 0.8, 0.976471, 1.0]

    def test_ties_are_ordered_by_external_id(self):
        result = pareto(revenue_frame({"C-3": 10.0, "C-1": 10.0, "C-2": 10.0, "C-0": 5.0}))
        assert [a["external_id"] for a in result["accounts"]] == ["C-1", "C-2", "C-3", "C-0"]
        assert [a["cumulative_share"] for a in result["accounts"]] == [0.285714, 0.571429, 0.857143, 1.0]
        assert result["vital_few"] == 3

    def test_zero_and_negative_revenue_stay_last_with_share_zero(self):
        result = pareto(revenue_frame({"credit": -30.0, "idle": 0.0, "big": 60.0, "small": 40.0}))
        # The total is of positive revenue only: the credit note does not inflate the others' shares.
        assert result["total"] == 100.0
        assert [(a["external_id"], a["revenue"], a["share"], a["cumulative_share"]) for a in result["accounts"]] == [
            ("big", 60.0, 0.6, 0.6),
            ("small", 40.0, 0.4, 1.0),
            ("idle", 0.0, 0.0, 1.0),
            ("credit", -30.0, 0.0, 1.0),
        ]
        assert result["vital_few"] == 2

    def test_no_positive_revenue(self):
        result = pareto(revenue_frame({"a": 0.0, "b": -5.0}))
        assert (result["total"], result["vital_few"]) == (0.0, 0)
        assert [(a["external_id"], a["share"], a["cumulative_share"]) for a in result["accounts"]] == [
            ("a", 0.0, 0.0),
            ("b", 0.0, 0.0),
        ]

    def test_empty_input(self):
        assert pareto(revenue_frame({})) == {"total": 0.0, "threshold": 0.8, "vital_few": 0, "with_revenue": 0, "without_revenue": 0,
                                             "vital_few_share": None, "top_fifth": {"accounts": 0, "share": None},
                                             "curve": [], "accounts": []}

    def test_rows_of_one_account_are_added_up_and_null_is_zero(self):
        frame = pl.DataFrame(
            {"external_id": ["a", "b", "a", "c"], "name": ["A", "B", "A", "C"], "revenue": [30.0, 50.0, 20.0, None]}
        )
        accounts = pareto(frame)["accounts"]
        assert [(a["external_id"], a["revenue"]) for a in accounts] == [("a", 50.0), ("b", 50.0), ("c", 0.0)]

    def test_refuses_bad_input(self):
        with pytest.raises(ValueError, match=r"missing column.*revenue"):
            pareto(pl.DataFrame({"external_id": ["a"], "name": ["A"]}))
        with pytest.raises(ValueError, match=r"revenue is not a finite number \(row 2\)"):
            pareto(revenue_frame({"a": 1.0, "b": math.nan}))
        with pytest.raises(ValueError, match=r"external_id is missing \(row 1\)"):
            pareto(
                pl.DataFrame(
                    {"external_id": [None], "name": ["A"], "revenue": [1.0]},
                    schema_overrides={"external_id": pl.String},
                )
            )
        with pytest.raises(ValueError, match="threshold"):
            pareto(revenue_frame(FIVE), threshold=0)

    def test_chart_series_folds_the_tail_into_one_bar(self):
        series = pareto_chart_series(pareto(revenue_frame(FIVE)), max_bars=2)
        assert series == {
            "labels": ["Account a", "Account b", "Other (3 accounts)"],
            "revenue": [50.0, 20.0, 30.0],
            "cumulative_share": [0.5, 0.7, 1.0],
            "others": 3,
        }

    def test_chart_series_without_tail_and_with_repeated_names(self):
        frame = pl.DataFrame(
            {"external_id": ["x1", "x2", "y"], "name": ["Acme", "Acme", ""], "revenue": [3.0, 2.0, 1.0]}
        )
        series = pareto_chart_series(pareto(frame), max_bars=3)
        assert series["labels"] == ["Acme (x1)", "Acme (x2)", "y"]
        assert pareto_chart_series(pareto(frame), max_bars=2)["labels"][-1] == "Other (1 account)"

    def test_chart_series_of_a_large_portfolio_stays_small(self):
        frame = revenue_frame({f"C-{i:06d}": float(i % 997) for i in range(100_000)})
        result = pareto(frame)
        series = pareto_chart_series(result)
        # 101 of the ids (every 997th) have no revenue: no bar, and not among the others either.
        assert len(series["labels"]) == 51 and series["labels"][-1] == "Other (99849 accounts)"
        assert math.isclose(sum(series["revenue"]), result["total"], abs_tol=0.01)
        assert series["cumulative_share"][-1] == 1.0


def reference_ranking(cents: dict[str, int]) -> tuple[list[str], int]:
    """Plain Python: ids by revenue desc then id, and the positive total."""
    return sorted(cents, key=lambda key: (-cents[key], key)), sum(max(value, 0) for value in cents.values())


accounts_in_cents = st.dictionaries(
    st.text(alphabet="abcxyzÄ", min_size=1, max_size=3),
    st.one_of(st.integers(-500, 2_000), st.integers(-(10**6), 10**9)),  # small values make ties likely
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(accounts=accounts_in_cents, threshold=st.floats(0.01, 1.0))
def test_pareto_agrees_with_plain_python(accounts, threshold):
    result = pareto(revenue_frame({key: cents / 100 for key, cents in accounts.items()}), threshold=threshold)
    order, total = reference_ranking(accounts)
    assert [a["external_id"] for a in result["accounts"]] == order
    assert [a["revenue"] for a in result["accounts"]] == [accounts[key] / 100 for key in order]
    assert result["total"] == total / 100
    cumulative = [a["cumulative_share"] for a in result["accounts"]]
    assert cumulative == sorted(cumulative)
    if total == 0:
        assert result["vital_few"] == 0 and set(cumulative) <= {0.0}
        return
    assert cumulative[-1] == 1.0
    assert math.isclose(sum(a["share"] for a in result["accounts"]), 1.0, abs_tol=1e-6 * len(order))
    running, exact = 0, []
    for key in order:
        running += max(accounts[key], 0)
        exact.append(running / total)
    assert max(abs(a - b) for a, b in zip(cumulative, exact, strict=True)) <= 5e-7
    k = result["vital_few"]
    assert exact[k - 1] >= threshold  # reached with k accounts ...
    assert k == 1 or exact[k - 2] < threshold  # ... and not with one fewer


@settings(max_examples=100, deadline=None)
@given(
    cents=st.dictionaries(st.text("abcdef", min_size=1, max_size=3), st.integers(-5_000, 100_000), max_size=30),
    top=st.integers(1, 12),
    bars=st.integers(1, 12),
)
def test_pareto_summary_is_pareto_cut_short(cents, top, bars):
    frame = revenue_frame({key: value / 100 for key, value in cents.items()})
    full, summary = pareto(frame), pareto_summary(frame, top=top)
    same = ("total", "threshold", "vital_few")
    assert {k: summary[k] for k in same} == {k: full[k] for k in same}
    assert summary["accounts"] == full["accounts"][:top]
    rest = full["accounts"][top:]
    assert summary["rest"] == {
        "accounts": len(rest),
        "revenue": round(sum(cents[a["external_id"]] for a in rest) / 100, 2),
        "cumulative_share": rest[-1]["cumulative_share"] if rest else None,
    }
    # The chart is the same whether it is drawn from the whole list or from the summary.
    assert pareto_chart_series(summary, max_bars=min(bars, top)) == pareto_chart_series(full, max_bars=min(bars, top))
    assert json.loads(json.dumps(summary, allow_nan=False)) == summary


# ---------------------------------------------------------------- ABC classes


class TestAbcClasses:
    def test_worked_example(self):
        # Share of the accounts ranked above: a 0, b 0.50, c 0.70, d 0.85, e 0.95.
        # Below 0.80 is A, below 0.95 is B, else C: 0.95 itself is not below 0.95.
        result = abc_classes(yearly_frame([(key, 2024, value) for key, value in FIVE.items()]), years=[2024])
        assert result["thresholds"] == [0.8, 0.95]
        assert result["years"] == {"2024": {"A": 3, "B": 1, "C": 1}}
        assert result["accounts"] == [
            {"external_id": "a", "classes": {"2024": "A"}},
            {"external_id": "b", "classes": {"2024": "A"}},
            {"external_id": "c", "classes": {"2024": "A"}},
            {"external_id": "d", "classes": {"2024": "B"}},
            {"external_id": "e", "classes": {"2024": "C"}},
        ]
        assert result["movements"] == {}

    def test_a_tie_on_the_border_is_broken_by_external_id(self):
        # 60, 20, 20: above "a" lie 0.6 of revenue (A), above "b" 0.8 (not below 0.8: B).
        result = abc_classes(yearly_frame([("b", 2025, 20.0), ("a", 2025, 20.0), ("z", 2025, 60.0)]), years=[2025])
        assert {a["external_id"]: a["classes"]["2025"] for a in result["accounts"]} == {"a": "A", "b": "B", "z": "A"}

    def test_universe_zero_revenue_and_movements(self):
        rows = [
            ("a", 2024, 50.0), ("b", 2024, 20.0), ("c", 2024, 15.0), ("d", 2024, 10.0), ("e", 2024, 5.0),
            ("a", 2025, 10.0), ("b", 2025, 30.0), ("d", 2025, 0.0), ("e", 2025, -4.0),
            ("old", 2019, 99.0),  # only outside the years asked: still in the universe, C in both years
        ]  # fmt: skip
        result = abc_classes(yearly_frame(rows), years=[2025, 2024])
        # 2025: b 30 (0 above: A), a 10 (0.75 above: A), the rest has nothing positive: C.
        assert result["years"] == {"2024": {"A": 3, "B": 1, "C": 2}, "2025": {"A": 2, "B": 0, "C": 4}}
        assert result["movements"] == {
            "2024→2025": {
                "A": {"A": 2, "B": 0, "C": 1},
                "B": {"A": 0, "B": 0, "C": 1},
                "C": {"A": 0, "B": 0, "C": 2},
            }
        }
        assert [a["external_id"] for a in result["accounts"]] == ["a", "b", "c", "d", "e", "old"]
        assert result["accounts"][2] == {"external_id": "c", "classes": {"2024": "A", "2025": "C"}}
        assert result["accounts"][5] == {"external_id": "old", "classes": {"2024": "C", "2025": "C"}}

    def test_a_year_without_revenue_has_no_classes_and_no_movements(self):
        frame = yearly_frame([(key, 2022, value) for key, value in FIVE.items()]
                             + [(key, 2023, 0.0) for key in FIVE] + [("a", 2024, 10.0), ("b", 2024, 30.0)])
        result = abc_classes(frame, years=[2022, 2023, 2024])
        assert result["no_revenue"] == ["2023"]
        assert result["years"]["2023"] == {"A": 0, "B": 0, "C": 0}
        assert list(result["movements"]) == ["2022→2024"]
        assert result["shares"]["2023"] == {"A": 0.0, "B": 0.0, "C": 0.0}
        assert result["shares"]["2024"] == {"A": 1.0, "B": 0.0, "C": 0.0}
        assert all(row["classes"]["2023"] is None for row in result["accounts"])
        shares = result["shares"]["2022"]
        assert sum(shares.values()) == pytest.approx(1) and shares["A"] >= 0.8

    def test_other_thresholds_and_no_years(self):
        frame = yearly_frame([(key, 2024, value) for key, value in FIVE.items()])
        assert abc_classes(frame, years=[2024], thresholds=(0.5, 0.7))["years"]["2024"] == {"A": 1, "B": 1, "C": 3}
        assert abc_classes(frame, years=[]) == {
            "thresholds": [0.8, 0.95],
            "years": {},
            "no_revenue": [],
            "movements": {},
            "shares": {},
            "accounts": [{"external_id": key, "classes": {}} for key in "abcde"],
        }
        with pytest.raises(ValueError, match="increasing"):
            abc_classes(frame, years=[2024], thresholds=(0.9, 0.8))

    def test_empty_input(self):
        result = abc_classes(yearly_frame([]), years=[2024, 2025])
        assert result["years"] == {"2024": {"A": 0, "B": 0, "C": 0}, "2025": {"A": 0, "B": 0, "C": 0}}
        assert result["no_revenue"] == ["2024", "2025"] and result["movements"] == {}
        assert result["accounts"] == []


def reference_classes(cents: dict[str, int], limits: tuple[float, float]) -> dict[str, str]:
    order, total = reference_ranking(cents)
    classes, above = {}, 0
    for key in order:
        share_above = above / total if total else 0.0
        if cents[key] <= 0:
            classes[key] = "C"
        else:
            classes[key] = "A" if share_above < limits[0] else "B" if share_above < limits[1] else "C"
        above += max(cents[key], 0)
    return classes


@settings(max_examples=100, deadline=None)
@given(
    ledger=st.lists(
        st.tuples(st.sampled_from("abcdefgh"), st.sampled_from([2023, 2024, 2025]), st.integers(-300, 1_500)),
        max_size=40,
    ),
    limits=st.tuples(st.floats(0.05, 1.0), st.floats(0.05, 1.0)).map(sorted),
)
def test_abc_agrees_with_plain_python(ledger, limits):
    years = [2023, 2024, 2025]
    universe = sorted({key for key, _, _ in ledger})
    result = abc_classes(yearly_frame([(k, y, c / 100) for k, y, c in ledger]), years=years, thresholds=tuple(limits))
    assert [a["external_id"] for a in result["accounts"]] == universe
    earning = []
    for year in years:
        cents = {key: sum(c for k, y, c in ledger if k == key and y == year) for key in universe}
        got = {a["external_id"]: a["classes"][str(year)] for a in result["accounts"]}
        if not any(value > 0 for value in cents.values()):  # no revenue: no classes, not everybody C
            assert set(got.values()) <= {None} and str(year) in result["no_revenue"]
            assert result["years"][str(year)] == {"A": 0, "B": 0, "C": 0}
            continue
        earning.append(year)
        expected = reference_classes(cents, limits)
        assert got == expected
        assert sum(result["years"][str(year)].values()) == len(universe)
        # Every A ranks above every B, every B above every C.
        ranks = [got[key] for key in reference_ranking(cents)[0]]
        assert ranks == sorted(ranks)
        # A is exactly Pareto's vital few at the first threshold.
        vital_few = pareto(revenue_frame({key: value / 100 for key, value in cents.items()}), threshold=limits[0])[
            "vital_few"
        ]
        assert result["years"][str(year)]["A"] == vital_few
    assert list(result["movements"]) == [f"{before}→{after}" for before, after in pairwise(earning)]
    for before, after in pairwise(earning):
        moves = result["movements"][f"{before}→{after}"]
        for klass in "ABC":
            assert sum(moves[klass].values()) == result["years"][str(before)][klass]
            assert sum(moves[b][klass] for b in "ABC") == result["years"][str(after)][klass]


# ---------------------------------------------------------------- recurring revenue


def subscriptions_frame(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={
            "external_id": pl.String,
            "plan": pl.String,
            "monthly_amount": pl.Float64,
            "start": pl.Date,
            "end": pl.Date,
        },
        orient="row",
    )


SUBSCRIPTIONS = subscriptions_frame(
    [
        ("acme", "Basic", 100.0, D(2025, 12, 1), None),
        ("acme", "Premium", 50.0, D(2026, 2, 1), D(2026, 4, 1)),  # expansion in Feb, contraction in Apr
        ("bolt", "Basic", 80.0, D(2026, 1, 15), D(2026, 4, 1)),  # counts from Feb (mid-month start), churns in Apr
        ("core", "Premium", 200.0, D(2025, 11, 1), D(2026, 2, 1)),  # ends on 1 Feb: not active in Feb
        ("core", "Premium", 200.0, D(2026, 3, 1), None),  # comes back in Mar: reactivation
        ("dune", "Basic", 30.0, D(2026, 1, 1), D(2026, 1, 2)),  # one day, on the first: counts in Jan only
        ("echo", "Basic", 60.0, D(2026, 3, 20), D(2026, 3, 25)),  # never active on a first day: never counts
    ]
)
MONTHS = [D(2026, 1, 1), D(2026, 2, 1), D(2026, 3, 1), D(2026, 4, 1)]


class TestRecurringRevenue:
    def test_worked_example(self):
        result = recurring_revenue(SUBSCRIPTIONS, months=MONTHS)
        # Dec 2025: acme 100 + core 200 = 300.
        # Jan: acme 100, core 200, dune 30 (new)                         = 330
        # Feb: acme 150 (+50), bolt 80 (new), core and dune churn 230      = 230
        # Mar: acme 150, bolt 80, core 200 (reactivation)                = 430
        # Apr: acme 100 (-50), bolt churns 80, core 200                   = 300
        assert result["months"] == [
            {"month": "2026-01", "mrr": 330.0, "arr": 3960.0, "accounts": 3, "new": 30.0, "expansion": 0.0,
             "contraction": 0.0, "churn": 0.0, "reactivation": 0.0},
            {"month": "2026-02", "mrr": 230.0, "arr": 2760.0, "accounts": 2, "new": 80.0, "expansion": 50.0,
             "contraction": 0.0, "churn": 230.0, "reactivation": 0.0},
            {"month": "2026-03", "mrr": 430.0, "arr": 5160.0, "accounts": 3, "new": 0.0, "expansion": 0.0,
             "contraction": 0.0, "churn": 0.0, "reactivation": 200.0},
            {"month": "2026-04", "mrr": 300.0, "arr": 3600.0, "accounts": 2, "new": 0.0, "expansion": 0.0,
             "contraction": 50.0, "churn": 80.0, "reactivation": 0.0},
        ]  # fmt: skip
        assert result["by_plan"] == {"Basic": [130.0, 180.0, 180.0, 100.0], "Premium": [200.0, 50.0, 250.0, 200.0]}
        assert result["accounts"] == [
            {"external_id": "core", "mrr": 200.0, "arr": 2400.0, "plans": ["Premium"]},
            {"external_id": "acme", "mrr": 100.0, "arr": 1200.0, "plans": ["Basic"]},
        ]

    def test_movements_explain_every_change(self):
        months = recurring_revenue(SUBSCRIPTIONS, months=[D(2025, 12, 1), *MONTHS])["months"]
        for before, now in pairwise(months):
            moves = now["new"] + now["reactivation"] + now["expansion"] - now["contraction"] - now["churn"]
            assert now["mrr"] - before["mrr"] == pytest.approx(moves, abs=0.005)

    def test_months_are_normalised_and_compared_with_the_calendar_month_before(self):
        # Any day names its month; the first listed month has movements against the month before it.
        result = recurring_revenue(SUBSCRIPTIONS, months=[D(2026, 3, 17), D(2026, 1, 31), D(2026, 3, 2)])
        assert [m["month"] for m in result["months"]] == ["2026-01", "2026-03"]
        assert result["months"][1]["reactivation"] == 200.0  # against February, which is not listed

    def test_a_discount_larger_than_the_plan_is_no_negative_mrr(self):
        frame = subscriptions_frame(
            [("a", "Basic", 50.0, D(2026, 1, 1), None), ("a", "Discount", -80.0, D(2026, 1, 1), None)]
        )
        result = recurring_revenue(frame, months=[D(2026, 1, 1)])
        assert (result["months"][0]["mrr"], result["months"][0]["accounts"], result["accounts"]) == (0.0, 0, [])
        assert result["by_plan"] == {"Basic": [50.0], "Discount": [-80.0]}

    def test_no_months(self):
        assert recurring_revenue(SUBSCRIPTIONS, months=[]) == {"months": [], "by_plan": {}, "accounts": []}


def month_list(first: datetime.date, count: int) -> list[datetime.date]:
    return [D(first.year + (first.month - 1 + i) // 12, (first.month - 1 + i) % 12 + 1, 1) for i in range(count)]


@st.composite
def subscription_rows(draw):
    rows = []
    for _ in range(draw(st.integers(0, 12))):
        start = D(2024, 6, 1) + datetime.timedelta(days=draw(st.integers(0, 900)))
        days = draw(st.one_of(st.none(), st.integers(0, 400)))
        end = None if days is None else start + datetime.timedelta(days=days)
        amount = draw(st.integers(-50, 500))  # whole currency units; negative = a discount line
        rows.append(
            (draw(st.sampled_from("abcd")), draw(st.sampled_from(["Basic", "Premium"])), float(amount), start, end)
        )
    return rows


@settings(max_examples=100, deadline=None)
@given(rows=subscription_rows())
def test_mrr_agrees_with_plain_python(rows):
    months = month_list(D(2025, 1, 1), 18)

    def mrr(account: str, month: datetime.date) -> float:
        amount = sum(
            a for k, _, a, start, end in rows if k == account and start <= month and (end is None or end > month)
        )
        return max(amount, 0.0)

    history = month_list(D(2024, 6, 1), 7 + 18)  # every month from the earliest possible start
    result = recurring_revenue(subscriptions_frame(rows), months=months)
    for month, got in zip(months, result["months"], strict=True):
        before_month = history[history.index(month) - 1]
        expected = dict.fromkeys(("new", "reactivation", "expansion", "contraction", "churn"), 0.0)
        for account in "abcd":
            now, before = mrr(account, month), mrr(account, before_month)
            earlier = any(mrr(account, m) > 0 for m in history if m < month)
            if before == 0 and now > 0:
                expected["reactivation" if earlier else "new"] += now
            elif before > 0 and now == 0:
                expected["churn"] += before
            elif before > 0 and now > before:
                expected["expansion"] += now - before
            elif before > 0 and now < before:
                expected["contraction"] += before - now
        assert got["mrr"] == sum(mrr(account, month) for account in "abcd")
        assert got["accounts"] == sum(mrr(account, month) > 0 for account in "abcd")
        assert {key: got[key] for key in expected} == expected
        previous = sum(mrr(account, before_month) for account in "abcd")
        moves = got["new"] + got["reactivation"] + got["expansion"] - got["contraction"] - got["churn"]
        assert got["mrr"] - previous == moves


# ---------------------------------------------------------------- profitability


def ledger_frame(rows: list[tuple[str, float, float]]) -> pl.DataFrame:
    return pl.DataFrame(
        [(key, f"Account {key}", revenue, cost) for key, revenue, cost in rows],
        schema={"external_id": pl.String, "name": pl.String, "revenue": pl.Float64, "cost": pl.Float64},
        orient="row",
    )


class TestProfitability:
    def test_worked_example(self):
        result = profitability(
            ledger_frame(
                [("a", 1000.0, 600.0), ("b", 800.0, 700.0), ("c", 300.0, 100.0), ("d", 100.0, 90.0), ("e", 0.0, 10.0)]
            )
        )
        # Totals: revenue 2200, cost 1500, margin 700, margin % 700/2200, revenue/cost 2200/1500.
        assert result["totals"] == {
            "revenue": 2200.0, "cost": 1500.0, "margin": 700.0, "margin_pct": 0.318182,
            "revenue_to_cost": 1.466667, "accounts": 5,
        }  # fmt: skip
        assert result["split"] == {"revenue": 300.0, "margin_pct": 0.318182}
        rows = {a["external_id"]: a for a in result["accounts"]}
        assert [a["external_id"] for a in result["accounts"]] == ["a", "b", "c", "d", "e"]
        assert rows["a"] == {
            "external_id": "a", "name": "Account a", "revenue": 1000.0, "cost": 600.0, "margin": 400.0,
            "margin_pct": 0.4, "revenue_to_cost": 1.666667, "quadrant": "high revenue, high margin", "label": "Protect",
        }  # fmt: skip
        # b: 800 >= median 300, margin 12.5 % < 31.8 %.
        assert (rows["b"]["margin_pct"], rows["b"]["label"]) == (0.125, "Fix the cost to serve")
        # c: at the median counts as high revenue; 66.7 % margin.
        assert (rows["c"]["margin_pct"], rows["c"]["quadrant"], rows["c"]["label"]) == (
            0.666667,
            "high revenue, high margin",
            "Protect",
        )
        assert (rows["d"]["margin_pct"], rows["d"]["quadrant"], rows["d"]["label"]) == (
            0.1,
            "low revenue, low margin",
            "Review",
        )
        # No revenue: margin % undefined (low), revenue/cost 0.
        assert (rows["e"]["margin"], rows["e"]["margin_pct"], rows["e"]["revenue_to_cost"], rows["e"]["label"]) == (
            -10.0,
            None,
            0.0,
            "Review",
        )

    def test_develop_quadrant_free_service_and_ties(self):
        result = profitability(
            ledger_frame([("b", 100.0, 80.0), ("a", 100.0, 80.0), ("small", 10.0, 0.0), ("big", 1000.0, 900.0)])
        )
        rows = {a["external_id"]: a for a in result["accounts"]}
        assert [a["external_id"] for a in result["accounts"]] == ["big", "a", "b", "small"]
        assert result["split"]["revenue"] == 100.0  # median of 10, 100, 100, 1000
        assert rows["small"]["revenue_to_cost"] is None  # no cost
        assert (rows["small"]["quadrant"], rows["small"]["label"]) == ("low revenue, high margin", "Develop")
        assert rows["a"]["label"] == rows["b"]["label"] == "Protect"  # 20 % margin >= the portfolio's 150 / 1210
        assert rows["big"]["label"] == "Fix the cost to serve"

    def test_the_summary_keeps_what_a_profit_matrix_places(self):
        rows = [("a", 1000.0, 600.0), ("b", 800.0, 700.0), ("c", 300.0, 100.0), ("d", 0.0, 90.0), ("e", -5.0, 10.0),
                ("f", 50.0, 0.0)]
        full, summary = profitability(ledger_frame(rows)), profitability_summary(ledger_frame(rows), points=3)
        assert (summary["totals"], summary["split"]) == (full["totals"], full["split"])
        assert summary["accounts"] == full["accounts"][:3]
        assert [a["external_id"] for a in profitability_summary(ledger_frame(rows))["accounts"]] == ["a", "b", "c", "f"]

    def test_empty_ledger(self):
        assert profitability(ledger_frame([])) == {
            "totals": {
                "revenue": 0.0,
                "cost": 0.0,
                "margin": 0.0,
                "margin_pct": None,
                "revenue_to_cost": None,
                "accounts": 0,
            },
            "split": {"revenue": None, "margin_pct": None},
            "accounts": [],
        }


# ---------------------------------------------------------------- concentration


class TestConcentration:
    def test_known_hhi(self):
        result = concentration(yearly_frame([("a", 2025, 50.0), ("b", 2025, 30.0), ("c", 2025, 20.0)]), top=2)
        # 0.5² + 0.3² + 0.2² = 0.38; the top two make 80 %.
        assert (result["year"], result["top_n"], result["top_share"]) == (2025, 2, 0.8)
        assert (result["hhi"], result["hhi_points"], result["total"], result["account_count"]) == (
            0.38,
            3800.0,
            100.0,
            3,
        )

    def test_equal_accounts_and_a_monopoly(self):
        equal = concentration(yearly_frame([(key, 2025, 25.0) for key in "abcd"]))
        assert (equal["hhi"], equal["hhi_points"], equal["top_share"]) == (0.25, 2500.0, 1.0)
        single = concentration(yearly_frame([("a", 2025, 10.0), ("b", 2025, 0.0), ("c", 2025, -5.0)]), top=1)
        assert (single["hhi"], single["hhi_points"], single["top_share"], single["account_count"]) == (
            1.0,
            10000.0,
            1.0,
            1,
        )

    def test_growth_per_account(self):
        rows = [
            ("a", 2023, 100.0), ("a", 2024, 150.0), ("a", 2025, 120.0),
            ("b", 2024, 0.0), ("b", 2025, 40.0),
            ("c", 2023, 80.0), ("c", 2023, 20.0),  # two rows of one year are added up
            ("d", 2021, 10.0),  # 2022 is not in the input: growth for 2023 is undefined for everyone
        ]  # fmt: skip
        result = concentration(yearly_frame(rows))
        assert result["year"] == 2025
        assert [a["external_id"] for a in result["accounts"]] == ["a", "b", "c", "d"]
        by_id = {a["external_id"]: a for a in result["accounts"]}
        assert by_id["a"] == {
            "external_id": "a",
            "revenue": {"2021": 0.0, "2023": 100.0, "2024": 150.0, "2025": 120.0},
            "growth": {"2023": None, "2024": 0.5, "2025": -0.2},
        }
        assert by_id["b"]["growth"] == {"2023": None, "2024": None, "2025": None}  # from 0: undefined
        assert by_id["c"]["revenue"]["2023"] == 100.0 and by_id["c"]["growth"]["2024"] == -1.0
        assert result["top_share"] == 1.0 and result["hhi"] == pytest.approx(
            (120 / 160) ** 2 + (40 / 160) ** 2, abs=1e-6
        )

    def test_empty_input(self):
        assert concentration(yearly_frame([]))["accounts"] == []
        assert concentration(yearly_frame([]))["year"] is None
