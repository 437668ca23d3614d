"""Portfolio reports read the rollups: yearly rows for whole years, monthly rows for the rest, to the cent.

Rollups are written here directly (monthly rows, and yearly rows as their sums, as the import keeps
them), so that these tests cover the reading side on its own.
"""

import datetime
import decimal
from collections import defaultdict

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keyplan.accounts.services import archive_account
from keyplan.revenue import analysis, portfolio
from keyplan.revenue.models import MonthlyRollup, YearlyRollup

D = datetime.date
FIRST_MONTH = D(2023, 1, 1)


def month(offset: int) -> datetime.date:
    return portfolio._add_months(FIRST_MONTH, offset)


def write_rollups(rows: dict[tuple[int, datetime.date], tuple[int, int]]) -> None:
    """Monthly rollups from {(account pk, month): (revenue cents, cost cents)}, and the yearly rollups that add them up."""
    cents = decimal.Decimal("0.01")
    yearly: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0, 0])
    for (account, first_day), (revenue, cost) in rows.items():
        sums = yearly[(account, first_day.year)]
        sums[0], sums[1], sums[2] = sums[0] + revenue, sums[1] + cost, sums[2] + 1
    MonthlyRollup.objects.bulk_create(
        MonthlyRollup(account_id=account, month=first_day, revenue=revenue * cents, cost=cost * cents, lines=1)
        for (account, first_day), (revenue, cost) in rows.items())
    YearlyRollup.objects.bulk_create(
        YearlyRollup(account_id=account, year=year, revenue=revenue * cents, cost=cost * cents, lines=lines)
        for (account, year), (revenue, cost, lines) in yearly.items())


@pytest.fixture
def four(make_account):
    return [make_account(f"Firm {name}", external_id=f"F-{name}") for name in "ABCD"]


class TestPeriods:
    def test_last_twelve_months_in_november_read_december_and_the_year(self):
        parts = portfolio._rollup_parts(portfolio.Period(D(2025, 12, 1), D(2026, 11, 22)))
        assert parts == [
            (MonthlyRollup, -1, D(2026, 12, 1), D(2026, 12, 1)),  # nothing yet: costs no rows
            (MonthlyRollup, 1, D(2025, 12, 1), D(2025, 12, 1)),
            (YearlyRollup, 1, 2026, 2026),
        ]

    def test_whole_years_are_one_range_and_short_stretches_stay_monthly(self):
        parts = portfolio._rollup_parts(portfolio.Period(D(2021, 11, 15), D(2025, 3, 2)))
        assert parts == [(MonthlyRollup, 1, D(2021, 11, 1), D(2021, 12, 1)), (MonthlyRollup, 1, D(2025, 1, 1), D(2025, 3, 1)),
                         (YearlyRollup, 1, 2022, 2024)]

    def test_most_of_a_year_is_the_year_minus_its_other_months(self):
        parts = portfolio._rollup_parts(portfolio.Period(D(2024, 3, 1), D(2024, 10, 31)))
        assert parts == [(MonthlyRollup, -1, D(2024, 1, 1), D(2024, 2, 1)), (MonthlyRollup, -1, D(2024, 11, 1), D(2024, 12, 1)),
                         (YearlyRollup, 1, 2024, 2024)]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    lines=st.dictionaries(
        st.tuples(st.integers(0, 3), st.integers(0, 47)),
        st.tuples(st.integers(-2_000_000, 2_000_000), st.integers(-50_000, 900_000)),
        max_size=60,
    ),
    start=st.dates(D(2022, 6, 1), D(2027, 6, 30)),
    days=st.integers(0, 1_600),
)
def test_revenue_by_account_is_the_sum_of_the_months(four, lines, start, days):
    # Whole months: the days at a period's edges come from the ledger lines (test_exact_periods.py).
    period = portfolio.Period(start.replace(day=1), portfolio._month_end(start + datetime.timedelta(days=days)))
    rows = {(four[a].pk, month(m)): amounts for (a, m), amounts in lines.items()}
    with transaction.atomic():
        write_rollups(rows)
        result = {r["external_id"]: r for r in portfolio.revenue_by_account(portfolio.Scope(None), period).to_dicts()}
        transaction.set_rollback(True)
    first, last = period.start.replace(day=1), period.end
    for account in four:
        inside = [amounts for (pk, day), amounts in rows.items() if pk == account.pk and first <= day <= last]
        # Exactly the cents over 100, as floats: never 0.0000001 left over from a year minus its months.
        assert result[account.external_id]["revenue"] == sum(r for r, _ in inside) / 100
        assert result[account.external_id]["cost"] == sum(c for _, c in inside) / 100
        assert result[account.external_id]["name"] == account.name


def test_revenue_by_account_year_has_every_account_and_year(four):
    write_rollups({(four[0].pk, D(2024, 3, 1)): (1050, 10), (four[0].pk, D(2024, 7, 1)): (20, 0),
                   (four[1].pk, D(2025, 1, 1)): (-333, 0)})
    frame = portfolio.revenue_by_account_year(portfolio.Scope(None), [2024, 2025])
    assert sorted(frame.rows()) == [("F-A", 2024, 10.7), ("F-A", 2025, 0.0), ("F-B", 2024, 0.0), ("F-B", 2025, -3.33),
                                    ("F-C", 2024, 0.0), ("F-C", 2025, 0.0), ("F-D", 2024, 0.0), ("F-D", 2025, 0.0)]


@pytest.fixture
def portfolio_of_twelve(make_account):
    """Twelve accounts over three years; F-00 ... F-05 in chemicals."""
    accounts = [make_account(f"Firm {i}", external_id=f"F-{i:02d}", industry="chemicals" if i < 6 else "retail")
                for i in range(12)]
    rows = {}
    for i, account in enumerate(accounts):
        for year, weight in ((2024, 12 - i), (2025, (i * 7) % 12 + 1), (2026, (i * 5) % 12)):
            rows[(account.pk, D(year, 1 + i % 12, 1))] = (weight * weight * 10_000, weight * 3_000)
    write_rollups(rows)
    portfolio.refresh_abc_classes()
    return accounts


class TestStoredAbc:
    def test_stored_classes_are_the_abc_analysis_of_the_whole_portfolio(self, portfolio_of_twelve):
        years = [2024, 2025, 2026]
        computed = portfolio.abc_report(portfolio.Scope(None), portfolio.Options(years=3))
        assert all(sum(counts.values()) == 12 and counts["A"] and counts["B"] for counts in computed["years"].values())
        stored = portfolio.stored_abc(portfolio.Scope(None), years)
        assert stored == {"years": computed["years"], "no_revenue": computed["no_revenue"], "movements": computed["movements"]}
        classes = dict(((c.account.external_id, c.year), c.abc_class)
                       for c in portfolio.AbcClass.objects.select_related("account"))
        for row in computed["accounts"]:
            for year, klass in row["classes"].items():
                assert classes.get((row["external_id"], int(year)), "C") == klass

    def test_a_selection_counts_the_company_classes_it_holds(self, portfolio_of_twelve, lead):
        computed = portfolio.abc_report(portfolio.Scope(None), portfolio.Options(years=3))
        chemicals = {f"F-{i:02d}" for i in range(6)}
        expected = {year: {c: 0 for c in "ABC"} for year in ("2024", "2025", "2026")}
        for row in computed["accounts"]:
            if row["external_id"] in chemicals:
                for year, klass in row["classes"].items():
                    expected[year][klass] += 1
        stored = portfolio.stored_abc(portfolio.Scope(lead, industry="chemicals"), [2024, 2025, 2026])
        assert stored["years"] == expected
        assert sum(stored["movements"]["2024→2025"]["A"].values()) == expected["2024"]["A"]

    def test_archived_accounts_and_uncovered_years_drop_out(self, portfolio_of_twelve, lead):
        archive_account(portfolio_of_twelve[0], by=lead)
        stored = portfolio.stored_abc(portfolio.Scope(None), [2019, 2024, 2025, 2026, 2027])
        assert list(stored["years"]) == ["2024", "2025", "2026"]
        assert all(sum(counts.values()) == 11 for counts in stored["years"].values())

    def test_a_refresh_writes_only_what_changed(self, portfolio_of_twelve):
        rows = set(portfolio.AbcClass.objects.values_list("pk", "account_id", "year", "abc_class"))
        portfolio.refresh_abc_classes()
        assert set(portfolio.AbcClass.objects.values_list("pk", "account_id", "year", "abc_class")) == rows
        # The largest account of 2024 loses its revenue: its row goes; classes that did not change keep their rows.
        largest = portfolio_of_twelve[0]
        YearlyRollup.objects.filter(account=largest, year=2024).update(revenue=decimal.Decimal("0.01"))
        portfolio.refresh_abc_classes()
        after = set(portfolio.AbcClass.objects.values_list("pk", "account_id", "year", "abc_class"))
        current = {row[1:] for row in after}
        assert {row for row in rows if row[1:] in current} <= after  # unchanged classes keep their rows
        assert (largest.pk, 2024) not in {row[1:3] for row in after}  # now C: no row
        computed = portfolio.abc_report(portfolio.Scope(None), portfolio.Options(years=3))
        assert portfolio.stored_abc(portfolio.Scope(None), [2024, 2025, 2026]) == {
            "years": computed["years"], "no_revenue": computed["no_revenue"], "movements": computed["movements"]}

    def test_refresh_replaces_the_classes(self, portfolio_of_twelve):
        before = portfolio.stored_abc(portfolio.Scope(None), [2026])
        MonthlyRollup.objects.all().delete()
        YearlyRollup.objects.all().delete()
        write_rollups({(portfolio_of_twelve[11].pk, D(2026, 5, 1)): (100, 0)})
        portfolio.refresh_abc_classes()
        after = portfolio.stored_abc(portfolio.Scope(None), [2026])
        assert before != after and after["years"] == {"2026": {"A": 1, "B": 0, "C": 11}}
        assert portfolio.AbcCoverage.years() == [2026]
        YearlyRollup.objects.all().delete()
        portfolio.refresh_abc_classes()
        assert not portfolio.AbcClass.objects.exists()


class TestOverview:
    def test_the_page_figures_are_those_of_the_full_reports(self, portfolio_of_twelve, lead):
        options = portfolio.Options(start=D(2025, 3, 1), end=D(2026, 2, 28))
        scope = portfolio.Scope(lead)
        result = portfolio.overview(scope, options, bars=5, points=4)
        pareto = portfolio.pareto_report(scope, options)
        profit = portfolio.profitability_report(scope, options)
        assert (result["from"], result["to"]) == ("2025-03-01", "2026-02-28")
        summary = result["pareto"]
        assert {k: summary[k] for k in ("total", "threshold", "vital_few")} == {
            k: pareto[k] for k in ("total", "threshold", "vital_few")}
        assert summary["accounts"] == pareto["accounts"][:5]  # names looked up for the accounts shown
        assert summary["rest"]["accounts"] == 7
        assert analysis.pareto_chart_series(summary, max_bars=5) == analysis.pareto_chart_series(pareto, max_bars=5)
        assert result["profitability"]["totals"] == profit["totals"]
        assert result["profitability"]["split"] == profit["split"]
        placed = [a for a in profit["accounts"] if a["revenue"] > 0 and a["margin_pct"] is not None][:4]
        assert result["profitability"]["accounts"] == placed
        assert list(result["abc"]["years"]) == ["2025", "2026"]
        assert result["arr"] == 0.0


def test_names_come_through_as_they_are(make_account):
    odd = make_account('Smith, "Jones" & Co\nBranch Ø', external_id="F,1")
    write_rollups({(odd.pk, D(2026, 1, 1)): (12345, 0)})
    [row] = portfolio.revenue_by_account(portfolio.Scope(None), portfolio.Period(D(2026, 1, 1), D(2026, 1, 31))).to_dicts()
    assert row == {"external_id": "F,1", "name": 'Smith, "Jones" & Co\nBranch Ø', "revenue": 123.45, "cost": 0.0}
