"""Any from/to day gives the exact figure: whole months from the rollups, the edge days from the ledger lines.

A ledger of random lines goes in through the real import; for random day ranges, every analysis that
adds up a period agrees with a plain sum over the file's rows, and reads no ledger line beyond the
edge days of the range.
"""

import datetime
import random
import re
from collections import defaultdict
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keyplan.revenue import portfolio
from keyplan.revenue.ledger_keys import day_of, key_range
from keyplan.revenue.models import LedgerLine
from keyplan.revenue.services import LedgerOptions, import_ledger

D = datetime.date
FIRST, LAST = D(2022, 11, 3), D(2025, 2, 26)
IDS = ["1001", "1002", "1017", "2003", "31", "ACME", "Z-9"]  # numeric ids among them


@pytest.fixture
def lines(tmp_path, lead):
    """About 1,500 lines on random days (several a day, credit notes, empty costs), imported; the rows as written."""
    rng = random.Random(11)
    rows, days = [], (LAST - FIRST).days
    for n in range(1500):
        day = FIRST + datetime.timedelta(days=rng.randint(0, days))
        amount = Decimal(rng.randint(-20_000, 400_000)) / 100
        cost = "" if rng.random() < 0.2 else str(Decimal(rng.randint(0, 150_000)) / 100)
        rows.append((f"L{n}", rng.choice(IDS), day, amount, cost))
    text = "line_id,account_id,date,amount,cost\n" + "".join(f"{a},{b},{c},{d},{e}\n" for a, b, c, d, e in rows)
    (tmp_path / "ledger.csv").write_text(text)
    result = import_ledger(tmp_path / "ledger.csv", by=lead, options=LedgerOptions(create_accounts=True))
    assert result.error_count == 0 and LedgerLine.objects.count() == 1500
    return rows


def direct_sums(rows, first: datetime.date, last: datetime.date) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    revenue, cost = defaultdict(Decimal), defaultdict(Decimal)
    for _, account, day, amount, line_cost in rows:
        if first <= day <= last:
            revenue[account] += amount
            cost[account] += Decimal(line_cost or 0)
    return revenue, cost


def ledger_reads(queries) -> list[tuple[datetime.date, datetime.date]]:
    """The day ranges of the ledger lines each captured query reads; a read without one is a full scan."""
    table = LedgerLine._meta.db_table
    ranges = []
    for query in queries:
        sql = query["sql"]
        if re.fullmatch(rf'SELECT (MIN|MAX)\("{table}"\."dedupe_key"\) AS "key" FROM "{table}"', sql):
            continue  # the ledger's first or last day: one step into its key, which begins with the day
        for match in re.finditer(rf'FROM "?{table}"?( \w+)?( WHERE [^)]*)?', sql):
            where = match.group(2) or ""
            keys = re.findall(r"\.\"?dedupe_key\"? BETWEEN '?(-?\d+)'? AND '?(-?\d+)'?", where)
            assert keys, f"a query reads the ledger without a day range: {sql}"
            for low, high in keys:
                days = day_of(int(low)), day_of(int(high))
                assert key_range(*days) == (int(low), int(high)), "a key range that cuts a day in two"
                ranges.append(days)
    return ranges


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start=st.dates(D(2022, 9, 1), D(2025, 4, 30)), days=st.integers(0, 900))
def test_pareto_and_revenue_per_account_are_the_sums_of_the_lines(lines, lead, start, days):
    end = start + datetime.timedelta(days=days)
    revenue, cost = direct_sums(lines, start, end)
    options = portfolio.Options(start=start, end=end)
    with CaptureQueriesContext(connection) as queries:
        pareto = portfolio.pareto_report(portfolio.Scope(lead), options)
    assert {a["external_id"]: Decimal(str(a["revenue"])) for a in pareto["accounts"]} == {
        account: revenue.get(account, Decimal(0)) for account in IDS}
    assert Decimal(str(pareto["total"])) == sum(v for v in revenue.values() if v > 0)
    assert (pareto["from"], pareto["to"]) == (start.isoformat(), end.isoformat())
    by_account = portfolio.revenue_by_account(portfolio.Scope(None), options.period()).rows_by_key("external_id")
    for account in IDS:
        [(_, got_revenue, got_cost)] = by_account[account]
        assert (Decimal(str(got_revenue)), Decimal(str(got_cost))) == (revenue.get(account, 0), cost.get(account, 0))
    # The ledger is read on the edge days only: at most half a month at each end of the range.
    reads = edge_reads(queries, options.period())
    for first, last in reads:
        assert (last - first).days < 16 and (first.year, first.month) == (last.year, last.month)
        assert first.month in (start.month, end.month) and first.year in (start.year, end.year)
    assert len(reads) <= 2 + (start.replace(day=1) == end.replace(day=1))


def edge_reads(queries, period) -> list[tuple[datetime.date, datetime.date]]:
    """The ledger's day ranges read for ``period``. On SQLite, from the queries sent; on PostgreSQL the
    sums come through COPY, which Django does not record: from the plan they were sent from."""
    if connection.vendor == "postgresql":
        return [(first, last) for _, first, last in portfolio._exact_parts(period, portfolio.ledger_days())[1]]
    return ledger_reads(queries.captured_queries)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start=st.dates(D(2022, 10, 1), D(2025, 3, 31)), days=st.integers(0, 800))
def test_abc_concentration_and_profitability_count_the_days_of_the_period(lines, lead, start, days):
    end = start + datetime.timedelta(days=days)
    options = portfolio.Options(start=start, end=end)
    scope = portfolio.Scope(lead)
    concentration = portfolio.concentration_report(scope, options)
    abc = portfolio.abc_report(scope, options)
    for year in range(start.year, end.year + 1):
        revenue, _ = direct_sums(lines, max(start, D(year, 1, 1)), min(end, D(year, 12, 31)))
        got = {a["external_id"]: Decimal(str(a["revenue"][str(year)])) for a in concentration["accounts"]}
        assert got == {account: revenue.get(account, Decimal(0)) for account in IDS}
        counts = abc["years"][str(year)]
        if any(v > 0 for v in revenue.values()):
            assert counts["A"] + counts["B"] + counts["C"] == len(IDS) and str(year) not in abc["no_revenue"]
        else:  # a year without revenue puts nobody in class C
            assert counts == {"A": 0, "B": 0, "C": 0} and str(year) in abc["no_revenue"]
    revenue, cost = direct_sums(lines, start, end)
    totals = portfolio.profitability_report(scope, options)["totals"]
    assert Decimal(str(totals["revenue"])) == sum(revenue.values())
    assert Decimal(str(totals["cost"])) == sum(cost.values())


def test_a_range_inside_months_reads_only_its_edge_days(lines, lead):
    with CaptureQueriesContext(connection) as queries:
        portfolio.pareto_report(portfolio.Scope(lead), portfolio.Options(start=D(2023, 1, 20), end=D(2024, 6, 10)))
    # January 2023 from its last 12 days of lines; June 2024 from its first 10.
    period = portfolio.Period(D(2023, 1, 20), D(2024, 6, 10))
    assert sorted(edge_reads(queries, period)) == [(D(2023, 1, 20), D(2023, 1, 31)), (D(2024, 6, 1), D(2024, 6, 10))]
    with CaptureQueriesContext(connection) as queries:
        portfolio.pareto_report(portfolio.Scope(lead), portfolio.Options(start=D(2023, 1, 5), end=D(2024, 6, 25)))
    # The rollups of both months minus the lines of the days left out.
    period = portfolio.Period(D(2023, 1, 5), D(2024, 6, 25))
    assert sorted(edge_reads(queries, period)) == [(D(2023, 1, 1), D(2023, 1, 4)), (D(2024, 6, 26), D(2024, 6, 30))]


def test_two_ranges_in_one_month_are_two_overviews(lines, lead):
    """The overview's cache is keyed by the days of the period, not by its months."""
    scope = portfolio.Scope(lead)
    for start, end in ((D(2024, 1, 15), D(2024, 2, 14)), (D(2024, 1, 1), D(2024, 2, 29)), (D(2024, 1, 16), D(2024, 2, 14))):
        revenue, _ = direct_sums(lines, start, end)
        result = portfolio.overview(scope, portfolio.Options(start=start, end=end))
        assert Decimal(str(result["pareto"]["total"])) == sum(v for v in revenue.values() if v > 0)


def test_pages_open_on_the_last_twelve_months_that_have_data(lines):
    period = portfolio.Options().period()
    assert (period.start, period.end) == (D(2024, 3, 1), max(day for *_, day, _, _ in lines))
    assert portfolio.Options().year_list() == [2023, 2024, 2025]
    assert portfolio.Options(years=5).year_list() == [2022, 2023, 2024, 2025]  # none before the first line


def test_the_edge_days_are_read_through_the_ledgers_key(lines):
    """The key begins with the day (ledger_keys): a run of days is a range of the primary key's index."""
    low, high = key_range(D(2024, 1, 15), D(2024, 1, 31))
    sql = (f"SELECT account_id, SUM(amount_reporting) FROM {LedgerLine._meta.db_table} "
           "WHERE dedupe_key BETWEEN %s AND %s GROUP BY account_id")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"ANALYZE {LedgerLine._meta.db_table}")
            cursor.execute("SET LOCAL enable_seqscan = off")  # at 1,500 lines a scan costs less than any index
            cursor.execute(f"EXPLAIN {sql}", [low, high])
            plan = cursor.fetchall()
            cursor.execute(f"SELECT conname FROM pg_constraint WHERE conrelid = '{LedgerLine._meta.db_table}'::regclass "
                           "AND contype = 'p'")
            (index,) = cursor.fetchone()
        else:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", [low, high])
            plan, index = cursor.fetchall(), f"sqlite_autoindex_{LedgerLine._meta.db_table}_1"
        plan = "\n".join(str(row) for row in plan)
        cursor.execute(sql.replace("account_id, SUM(amount_reporting)", "MIN(date), MAX(date), COUNT(*)").replace(
            " GROUP BY account_id", ""), [low, high])
        first, last, count = cursor.fetchone()
    assert index in plan, plan
    inside = [day for *_, day, _, _ in lines if D(2024, 1, 15) <= day <= D(2024, 1, 31)]
    assert count == len(inside) > 0
    assert (str(first), str(last)) == (str(min(inside)), str(max(inside)))


