"""A KAM filters the portfolio, clicks "Excel workbook", follows the background job and gets the workbook of that
selection, their accounts only."""

import datetime

import openpyxl
import pytest
from playwright.sync_api import expect

from keyplan.accounts.services import add_team_member
from keyplan.revenue.services import import_ledger

pytestmark = pytest.mark.browser
TODAY = datetime.date.today()


@pytest.fixture
def ledger(tmp_path, lead, kam, make_account):
    accounts = [make_account(f"Firm {key}", external_id=f"F-{key}", industry="chemicals" if key in "AB" else "retail")
                for key in "ABCD"]
    rows = ["line_id,account_id,date,amount,cost"]
    for n, key in enumerate("ABCD"):
        rows.append(f"L{key},F-{key},{TODAY.replace(day=1).isoformat()},{(4 - n) * 100},{(4 - n) * 40}")
    (tmp_path / "ledger.csv").write_text("\n".join(rows) + "\n")
    assert import_ledger(tmp_path / "ledger.csv", by=lead).error_count == 0
    for account in accounts[1:3]:  # F-B (chemicals) and F-C (retail)
        add_team_member(account, by=lead, user=kam, role="kam")
    return accounts


def test_a_kam_downloads_the_workbook_of_the_filtered_portfolio(page, log_in, screenshot, ledger, tmp_path, run_worker,
                                                                live_server):
    log_in("kam")
    page.goto("/portfolio/?industry=chemicals")
    button = page.get_by_role("button", name="Excel workbook")
    expect(button).to_be_visible()
    screenshot("portfolio-workbook-button")
    button.click()  # starts the background job; its page follows the progress
    expect(page.locator("#workbook-progress")).to_be_visible()
    screenshot("workbook-job-waiting")
    run_worker()
    link = page.get_by_role("link", name="Download the workbook")
    expect(link).to_be_visible(timeout=15_000)  # the page polls itself every second
    screenshot("workbook-job-done")
    job_page = page.url
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename.startswith("keyplan-portfolio-")
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    book = openpyxl.load_workbook(path)
    ids = [row[2] for row in book["Pareto"].iter_rows(min_row=2, values_only=True) if row[0]]
    assert ids == ["F-B"]  # the KAM's chemicals account: not F-A (not theirs), not F-C (retail)
    assert len(book["Pareto"]._charts) == 1

    # The same page in Persian: right to left, the figures in Persian digits.
    page.context.add_cookies([{"name": "django_language", "value": "fa", "url": live_server.url}])
    page.goto(job_page)
    expect(page.get_by_role("link", name="دریافت کارپوشه")).to_be_visible()
    assert page.locator("html").get_attribute("dir") == "rtl"
    summary = page.locator("#progress p").first.inner_text()
    assert "۱ حساب" in summary and not any(digit in summary for digit in "0123456789"), summary  # Solar Hijri, Persian digits
    screenshot("workbook-job-done-fa")
