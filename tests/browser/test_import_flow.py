"""A lead imports a European CSV in the browser: preview, mapping, progress bar, counts; a bad file; subscriptions."""

import decimal
import re

import pytest
from playwright.sync_api import expect

from keyplan.revenue.models import BatchStatus, ImportBatch, LedgerLine, MonthlyRollup, Subscription

pytestmark = pytest.mark.browser

EUROPEAN = ("Kundennummer;Rechnungsdatum;Betrag;Kosten;Bemerkung\n"
            "C-1;31.01.2026;1.234,50;100,25;first\n"
            "C-2;15.01.2026;10,00;;\n"
            "C-1;01.02.2026;2.000,00;1.000,00;big order\n")
BAD = ("Kundennummer;Rechnungsdatum;Betrag\n"
       "C-1;31.01.2026;1.234,50\n"
       "C-404;15.01.2026;10,00\n"
       "C-2;32.01.2026;zehn\n")


@pytest.fixture
def customers(make_account):
    return [make_account(f"Customer {i}", external_id=f"C-{i}") for i in (1, 2)]


def upload(page, tmp_path, text: str, name: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    page.goto("/portfolio/")
    page.click(".subnav >> text=Imports")
    page.set_input_files("#id_file", str(path))
    page.click("button:has-text('Upload and preview')")
    expect(page.locator("h1")).to_contain_text(f"Preview of {name}")


def start_and_run_the_worker(page, run_worker) -> None:
    page.click("#start-import")
    expect(page.locator("#progress progress")).to_be_visible()
    # The progress fragment polls every second. Hold those requests in the browser while the worker
    # runs in this thread (the SQLite test database is one connection shared with the live server),
    # then let them through: the next poll brings the result and the polling stops.
    page.route(re.compile(r".*/portfolio/imports/\d+/$"), lambda route: route.continue_())
    run_worker()


def test_import_a_european_csv_with_preview_and_progress(page, log_in, lead, customers, run_worker, screenshot, tmp_path):
    log_in("lead")
    upload(page, tmp_path, EUROPEAN, "umsatz-januar.csv")
    # The preview shows the first rows and what Keyplan detected: the mapping per column, decimal comma, dates.
    expect(page.locator(".preview-table tbody tr")).to_have_count(3)
    expect(page.locator(".preview-table")).to_contain_text("1.234,50")
    for index, field in enumerate(["account_id", "date", "amount", "cost", ""]):
        expect(page.locator(f"#id_column_{index}")).to_have_value(field)
    expect(page.locator("#id_decimal")).to_have_value(",")
    expect(page.locator("#id_date_format")).to_have_value("%d.%m.%Y")
    expect(page.locator("#file-facts")).to_contain_text("delimiter ;")
    screenshot("import-preview")

    start_and_run_the_worker(page, run_worker)
    expect(page.locator("#batch-status")).to_have_text("Imported", timeout=15_000)
    expect(page.locator("#progress")).not_to_have_attribute("hx-trigger", re.compile("every"))
    counts = page.locator("#counts")
    expect(counts).to_contain_text("3rows read")
    expect(counts).to_contain_text("3imported")
    expect(counts).to_contain_text("0rejected")
    screenshot("import-done")

    batch = ImportBatch.objects.get()
    assert (batch.status, batch.rows_imported) == (BatchStatus.DONE, 3)
    assert MonthlyRollup.objects.get(account__external_id="C-1", month="2026-02-01").revenue == decimal.Decimal("2000.00")

    # The batch is listed, and can be rolled back after confirming.
    page.click("text=Back to the imports")
    expect(page.locator(f"#batch-{batch.pk}")).to_contain_text("umsatz-januar.csv")
    page.click(f"#batch-{batch.pk} >> text=Roll back")
    page.click("#confirm-rollback")
    expect(page.locator("#batch-status")).to_have_text("Rolled back")
    assert LedgerLine.objects.count() == 0


def test_a_file_with_bad_rows_is_reported_and_nothing_written(page, log_in, lead, customers, run_worker, screenshot, tmp_path):
    log_in("lead")
    upload(page, tmp_path, BAD, "fehlerhaft.csv")
    start_and_run_the_worker(page, run_worker)
    expect(page.locator("#batch-status")).to_have_text("Rejected", timeout=15_000)
    expect(page.locator("#nothing-written")).to_contain_text("Nothing was written.")
    rows = page.locator("#report tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("3Kundennummer")
    expect(rows.nth(0)).to_contain_text("C-404")
    expect(rows.nth(0)).to_contain_text("unknown account")
    expect(rows.nth(1)).to_contain_text("4Rechnungsdatum32.01.2026not a date in the format %d.%m.%Y")
    expect(rows.nth(2)).to_contain_text("4Betragzehnnot a number")
    screenshot("import-rejected")
    assert LedgerLine.objects.count() == 0 and MonthlyRollup.objects.count() == 0


def test_subscriptions_on_the_account_page(page, log_in, lead, account, screenshot):
    log_in("lead")
    page.goto(f"/accounts/{account.pk}/")
    card = page.locator("#subscriptions")
    expect(card).to_contain_text("No subscription recorded.")  # loaded by its own request
    card.locator("summary:has-text('Add a subscription')").click()
    card.locator("input[name=plan]").fill("Premium")
    card.locator("input[name=monthly_amount]").fill("1200.50")
    card.locator("input[name=start]").fill("2025-06-01")
    card.locator("button:has-text('Add')").click()
    expect(card).to_contain_text("Premium")
    expect(card).to_contain_text("1,200.50")
    expect(card).to_contain_text("running")
    card.locator("summary:has-text('End…')").click()
    card.locator(".end-form input[name=end]").fill("2025-05-01")
    card.locator("button:has-text('End Premium')").click()
    expect(card).to_contain_text("The end must be after the start.")
    card.locator(".end-form input[name=end]").fill("2025-12-31")
    card.locator("button:has-text('End Premium')").click()
    expect(card.locator("tr.ended")).to_contain_text("Premium")
    screenshot("account-subscriptions")
    assert str(Subscription.objects.get().end) == "2025-12-31"
