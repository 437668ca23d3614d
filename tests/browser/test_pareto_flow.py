"""A lead opens the Pareto page on an old ledger with numeric account ids (as CDNOW's): percentages, the 80 % marker."""

import re

import pytest
from playwright.sync_api import expect

from keyplan.revenue.services import LedgerOptions, import_ledger

pytestmark = pytest.mark.browser


@pytest.fixture
def numeric_ledger(tmp_path, lead):
    """60 customers with numeric ids over 1997–1998; customer n buys for 60 − n + 1 hundred, some twice."""
    rows = ["line_id,account_id,date,amount"]
    for n in range(1, 61):
        rows.append(f"A{n},{n * 7},1997-0{1 + n % 9}-1{n % 10},{(61 - n) * 100}")
        if n % 4 == 0:
            rows.append(f"B{n},{n * 7},1998-0{1 + n % 6}-2{n % 8},{(61 - n) * 50}")
    rows.append("Z1,9999,1998-02-02,0")  # a customer without revenue
    (tmp_path / "cdnow.csv").write_text("\n".join(rows) + "\n")
    assert import_ledger(tmp_path / "cdnow.csv", by=lead, options=LedgerOptions(create_accounts=True)).error_count == 0


def test_pareto_page_with_numeric_ids(page, log_in, screenshot, numeric_ledger):
    log_in("lead")
    page.goto("/portfolio/analysis/pareto/?date_from=1997-01-01&date_to=1998-12-31")
    expect(page.locator(".pareto-reading")).to_contain_text("of accounts with revenue) bring 80% of revenue")
    expect(page.locator(".pareto-reading")).to_contain_text("1 account had no net revenue in the period (zero or less) and is not counted.")
    shares = page.locator("table.pareto td.share").all_inner_texts()
    cumulative = page.locator("table.pareto td.cumulative").all_inner_texts()
    assert all(re.fullmatch(r"\d+\.\d%", text) for text in shares + cumulative), shares[:5]
    assert shares[0] != "0.0%" and cumulative[-1] == "100.0%"
    assert [float(c[:-1]) for c in cumulative] == sorted(float(c[:-1]) for c in cumulative)
    # The chart: bars in the order of the table (a categorical axis), the 80 % crossing marked.
    chart = page.locator("[data-chart=analysis-figure]")
    expect(chart.locator(".main-svg").first).to_be_visible()
    screenshot("pareto-numeric-ids")
    crossing = chart.locator(".annotation-text", has_text="80% of revenue: the vital few")
    expect(crossing).to_be_visible()
    vital_few = int(re.search(r"vital few,\s*(\d+) accounts", crossing.text_content()).group(1))
    assert page.locator("table.pareto tr.vital").count() == vital_few
    ticks = chart.locator(".xtick text").all_text_contents()
    names = page.locator("table.pareto td:nth-child(2)").all_inner_texts()[:5]
    assert ticks[:5] == names and all(name.isdigit() for name in names), (ticks[:5], names)
    bars = chart.locator(".bars .point path")
    boxes = [bars.nth(i).bounding_box() for i in range(5)]
    assert [b["x"] for b in boxes] == sorted(b["x"] for b in boxes)  # left to right as ranked, not by id
    assert min(b["width"] for b in boxes) > 5


@pytest.fixture
def concentrated_ledger(tmp_path, lead):
    """100 customers, revenue falling as 1/n^1.3: about 17 accounts bring 80 %, the top fifth about 83 % (the two
    notes of the curve fall close together, as in most real portfolios)."""
    rows = ["line_id,account_id,date,amount"] + [f"L{n},C-{n:03d},2024-03-{1 + n % 28:02d},{1_000_000 / n ** 1.3:.2f}"
                                                 for n in range(1, 101)]
    (tmp_path / "concentrated.csv").write_text("\n".join(rows) + "\n")
    assert import_ledger(tmp_path / "concentrated.csv", by=lead, options=LedgerOptions(create_accounts=True)).error_count == 0


@pytest.mark.parametrize("path", ["/portfolio/analysis/pareto/?date_from=2024-01-01&date_to=2024-12-31",
                                  "/portfolio/?date_from=2024-01-01&date_to=2024-12-31"])
def test_the_curves_notes_do_not_cover_each_other(page, log_in, screenshot, concentrated_ledger, path):
    log_in("lead")
    page.goto(path)
    chart = page.locator("[data-chart]").first
    crossing = chart.locator(".annotation-text", has_text="the vital few")  # the words, without their arrows
    fifth = chart.locator(".annotation-text", has_text="top 20% of accounts")
    expect(crossing).to_be_visible()
    expect(fifth).to_be_visible()
    a, b = crossing.bounding_box(), fifth.bounding_box()
    apart = a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"] \
        or a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"]
    screenshot("pareto-notes-" + ("page" if "analysis" in path else "overview"))
    assert apart, (a, b)
