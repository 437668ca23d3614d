"""Date fields as the reader writes dates (keyplan/web/static/keyplan/dates.js): a Persian lead types a Solar Hijri
date, a German one types 15.01.2026; the server receives ISO dates, a date that does not exist is refused on the field."""

import datetime
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import expect

from keyplan.revenue.services import LedgerOptions, import_ledger

pytestmark = pytest.mark.browser


@pytest.fixture
def ledger(tmp_path, lead):
    (tmp_path / "ledger.csv").write_text("line_id,account_id,date,amount\nL1,A-1,2025-12-15,100\nL2,A-2,2026-01-20,50\n")
    assert import_ledger(tmp_path / "ledger.csv", by=lead, options=LedgerOptions(create_accounts=True)).error_count == 0


def in_language(page, live_server, language: str) -> None:
    page.context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])


def query(page) -> dict:
    return {k: v[0] for k, v in parse_qs(urlparse(page.url).query).items()}


def test_a_persian_lead_types_a_solar_hijri_range(page, live_server, log_in, screenshot, ledger):
    log_in("lead")
    in_language(page, live_server, "fa")
    page.goto("/portfolio/")
    start = page.locator("#id_date_from")
    expect(start).to_have_attribute("type", "text")
    start.fill("۱۴۰۴/۱۰/۱۱")  # 1 January 2026
    page.locator("#id_date_to").fill("1404/11/12")  # 1 February 2026, typed with Latin digits
    expect(page.locator("input[name=date_from]")).to_have_value("2026-01-01")
    page.get_by_role("button", name="اعمال").click()
    page.wait_for_url("**date_from=2026-01-01**")
    assert (query(page)["date_from"], query(page)["date_to"]) == ("2026-01-01", "2026-02-01")
    # The page comes back with the range in the reader's calendar and digits.
    expect(page.locator("#id_date_from")).to_have_value("۱۴۰۴/۱۰/۱۱")
    expect(page.locator("#id_date_to")).to_have_value("۱۴۰۴/۱۱/۱۲")
    screenshot("fa-date-range")


def test_a_german_lead_types_day_month_year_and_a_date_that_does_not_exist(page, live_server, log_in, ledger):
    log_in("lead")
    in_language(page, live_server, "de")
    page.goto("/portfolio/")
    start = page.locator("#id_date_from")
    # Empty, the fields show in grey the period the page computed: the 12 months up to the ledger's last day.
    assert (start.get_attribute("placeholder"), page.locator("#id_date_to").get_attribute("placeholder")) == (
        "01.02.2025", "20.01.2026")
    start.fill("15.01.2026")
    expect(page.locator("input[name=date_from]")).to_have_value("2026-01-15")
    start.fill("31.02.2026")
    expect(page.locator("input[name=date_from]")).to_have_value("")
    message = start.evaluate("el => el.validationMessage")
    today = datetime.date.today()
    assert message == f"Geben Sie ein Datum wie {today:%d.%m.%Y} ein.", message
    page.get_by_role("button", name="Anwenden").click()
    assert "date_from" not in query(page)  # the form was not sent with a date that does not exist
    start.fill("2025-12-01")  # a year-first ISO date is read in every language
    page.get_by_role("button", name="Anwenden").click()
    page.wait_for_url("**date_from=2025-12-01**")
    expect(page.locator("#id_date_from")).to_have_value("01.12.2025")


def test_a_time_of_day_in_the_readers_clock(page, live_server, log_in, screenshot, kam_account):
    """The meeting's time field shows the reader's clock and digits and reads what they type (dates.js)."""
    log_in("lead")
    in_language(page, live_server, "fa")
    page.goto(f"/accounts/{kam_account.pk}/relationships/interactions/")
    shown = page.locator("#log-form #id_time")
    expect(shown).to_have_attribute("type", "text")
    shown.fill("۱۴:۳۰")
    hidden = page.locator("#log-form input[name=time]")
    expect(hidden).to_have_value("14:30")
    shown.fill("2:05 ب.ظ")
    expect(hidden).to_have_value("14:05")
    shown.fill("25:00")
    expect(hidden).to_have_value("")
    assert "۱۴:۳۰" in shown.evaluate("el => el.validationMessage")
    screenshot("fa-time-field")
    in_language(page, live_server, "en")
    page.goto(f"/accounts/{kam_account.pk}/relationships/interactions/")
    page.locator("#log-form #id_time").fill("2:30 pm")
    expect(page.locator("#log-form input[name=time]")).to_have_value("14:30")
