"""A new team's first day in the browser: a Salesforce accounts export and a HubSpot-shaped contacts export,
each previewed (the CRM recognised), imported by the worker, and seen on the account page and the map."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from keyplan.accounts.models import Account
from keyplan.relationships.models import Stakeholder

pytestmark = pytest.mark.browser

DATA = Path(__file__).resolve().parents[1] / "crm" / "data"
CONTACTS = ("Record ID,First Name,Last Name,Email,Job Title,Contact owner,Associated Company IDs (Primary),Reports To\n"
            "501,Greta,Vogel,greta.vogel@nordwind.example,CEO,Karl Kam,0015g00000AbCdEAAV,\n"
            "502,Jonas,Brandt,jonas.brandt@nordwind.example,Head of Procurement,,0015g00000AbCdEAAV,greta.vogel@nordwind.example\n")

CALENDAR = ("BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//Google Inc//Google Calendar 70.9054//EN\n"
            "BEGIN:VEVENT\nUID:kick-off@google.com\nDTSTART:20261207T100000Z\nDTEND:20261207T110000Z\n"
            "SUMMARY:Kick-off with Nordwind\nORGANIZER:mailto:karl@example.com\n"
            "ATTENDEE:mailto:greta.vogel@nordwind.example\nATTENDEE:mailto:jonas.brandt@nordwind.example\nEND:VEVENT\n"
            "BEGIN:VEVENT\nUID:stand-up@google.com\nDTSTART:20261208T080000Z\nSUMMARY:Stand-up\n"
            "ATTENDEE:mailto:karl@example.com\nEND:VEVENT\nEND:VCALENDAR\n")


def upload(page, path: Path, kind: str) -> None:
    page.goto("/portfolio/imports/")
    page.select_option("#id_kind", kind)
    page.set_input_files("#id_file", str(path))
    page.click("button:has-text('Upload and preview')")
    expect(page.locator("h1")).to_contain_text(f"Preview of {path.name}")


def run(page, run_worker) -> None:
    page.click("#start-import")
    page.route(re.compile(r".*/portfolio/imports/\d+/$"), lambda route: route.continue_())
    run_worker()
    expect(page.locator("#batch-status")).to_have_text("Imported", timeout=15_000)


def test_first_day_import_of_accounts_and_contacts(page, log_in, lead, kam, run_worker, screenshot, tmp_path):
    log_in("lead")
    upload(page, DATA / "salesforce_accounts.csv", "accounts")
    expect(page.locator("#preset-found")).to_contain_text("Salesforce")
    expect(page.locator("#id_column_0")).to_have_value("external_id")
    expect(page.locator("#id_column_2")).to_have_value("parent")
    expect(page.locator("#id_column_9")).to_have_value("kam")
    screenshot("crm-import-preview")
    run(page, run_worker)
    expect(page.locator("#counts")).to_contain_text("3created")
    screenshot("crm-import-done")

    contacts = tmp_path / "hubspot-contacts.csv"
    contacts.write_text(CONTACTS)
    upload(page, contacts, "stakeholders")
    expect(page.locator("#preset-found")).to_contain_text("HubSpot")
    run(page, run_worker)
    expect(page.locator("#counts")).to_contain_text("2created")

    holding = Account.objects.get(external_id="0015g00000AbCdEAAV")
    page.goto(f"/accounts/{holding.pk}/")
    expect(page.locator("#account-source")).to_contain_text("From Salesforce")
    screenshot("crm-account-source")
    assert Stakeholder.objects.get(name="Jonas Brandt").reports_to.name == "Greta Vogel"
    page.click("#relationships-link")
    expect(page.locator("body")).to_contain_text("Jonas Brandt")

    # The KAM's calendar: the meeting with Greta and Jonas is logged on their account; the stand-up is not.
    calendar = tmp_path / "karl.ics"
    calendar.write_text(CALENDAR)
    upload(page, calendar, "calendar")
    expect(page.locator("#summary")).to_contain_text("meetings to log")
    screenshot("crm-calendar-preview")
    run(page, run_worker)
    expect(page.locator("#counts")).to_contain_text("1created")
    expect(page.locator("#skipped")).to_contain_text("1")
    assert holding.interactions.get().summary == "Kick-off with Nordwind"


def test_the_preview_of_a_crm_export_in_persian(page, log_in, lead, kam, screenshot, live_server):
    page.context.add_cookies([{"name": "django_language", "value": "fa", "url": live_server.url}])
    log_in("lead")
    page.goto("/portfolio/imports/")
    page.select_option("#id_kind", "accounts")
    page.set_input_files("#id_file", str(DATA / "hubspot_companies.csv"))
    page.click("form[enctype] button[type=submit]")
    expect(page.locator("#preset-found")).to_contain_text("HubSpot")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    screenshot("crm-import-preview-fa")
    page.goto("/portfolio/imports/")
    page.select_option("#id_kind", "mail")
    page.set_input_files("#id_file", str(DATA / "inbox.mbox"))
    page.click("form[enctype] button[type=submit]")
    expect(page.locator("#summary")).to_contain_text("ایمیل برای ثبت")
    screenshot("crm-mail-preview-fa")
