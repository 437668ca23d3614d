"""A lead reads the program charter with its readiness answered from data, edits it, plans the rollout on the
Gantt chart, and a second editor's conflicting save is caught."""

import datetime

import pytest
from playwright.sync_api import expect

from keyplan.demo.generator import DEMO_PASSWORD, build_demo
from keyplan.planning import charter
from keyplan.core.models import User

pytestmark = pytest.mark.browser


def test_a_lead_keeps_the_charter(page, screenshot):
    build_demo(accounts=150, seed=5)
    page.goto("/login/")
    page.fill("#id_username", "lead")
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/")

    page.goto("/plans/")
    page.click("#charter-link")
    expect(page.locator("h1")).to_have_text("KAM charter")
    expect(page.locator("#readiness tbody tr")).to_have_count(5)
    expect(page.locator("#readiness-concentration .evidence")).to_contain_text("bring 80% of it")
    expect(page.locator("#review-cadence")).not_to_be_empty()
    expect(page.locator("#rollout svg")).to_be_visible()
    screenshot("charter-page")

    # The lead adds an objective; meanwhile the admin changes the charter too.
    page.click("#edit-charter")
    page.fill("#id_objectives", page.input_value("#id_objectives") + "\nEvery key account reviewed each quarter")
    admin = User.objects.get(username="admin")
    charter.update_charter(by=admin, version=charter.charter().version, changes={"purpose": "The admin's purpose"})
    page.click("#save")
    expect(page.locator("#conflict")).to_be_visible()
    expect(page.locator("#conflict .saved").first).to_contain_text("The admin's purpose")
    screenshot("charter-conflict")
    page.click("#keep-mine")
    expect(page.locator("#charter-objectives")).to_contain_text("Every key account reviewed each quarter")

    # A new rollout step shows on the Gantt chart.
    page.click("#add-step")
    page.fill("#id_phase", "Review")
    page.fill("#id_title", "Second yearly review")
    page.fill("#id_start", "2027-11-01")
    page.fill("#id_due", "2027-11-30")
    page.click("#save")
    expect(page.locator("#rollout svg")).to_contain_text("Second yearly review")
    expect(page.locator(".rollout-steps")).to_contain_text("Second yearly review")

    # History: the earlier version can be restored.
    page.click("#charter-history")
    expect(page.locator("#charter-versions li")).not_to_have_count(0)
    page.locator("#charter-versions .restore").last.click()
    expect(page.locator(".messages, [role=status]").first).to_contain_text("restored")


def test_the_charter_reads_right_to_left_in_persian(page, log_in, lead, screenshot):
    from keyplan.planning import charter as charter_services

    charter_services.update_charter(by=lead, version=1, changes={"objectives": ["رشد حساب‌های کلیدی"]})
    charter_services.add_step(by=lead, data={"phase": "آزمایشی", "title": "آموزش مدیران", "start": datetime.date(2027, 1, 4),
                                             "due": datetime.date(2027, 2, 26)})
    log_in("lead")
    page.goto("/plans/charter/")
    page.select_option("#language", "fa")
    page.wait_for_load_state()
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.locator("h1")).to_have_text("منشور مدیریت حساب کلیدی")
    expect(page.locator("#readiness-concentration .question")).to_contain_text("آیا چند مشتری")
    screenshot("charter-fa")


def test_importing_opportunities_in_the_browser(page, log_in, lead, kam_account, tmp_path, screenshot):
    bad = tmp_path / "crm.csv"
    bad.write_text("account_id,name,amount,probability,stage\nT-0001,Sensors,1000,1.5,propose\nT-0001,Service,-5,0.5,lost\n")
    log_in("lead")
    page.goto("/plans/")
    page.click("#import-opportunities")
    page.set_input_files("#id_file", str(bad))
    page.click("#import")
    expect(page.locator("#import-errors tbody tr")).to_have_count(2)  # the probability of line 2, the amount of line 3
    expect(page.locator("#import-result")).to_contain_text("Nothing was written")
    screenshot("opportunities-import-rejected")
    good = tmp_path / "good.csv"
    good.write_text("account_id,name,amount,probability,stage\nT-0001,Sensors,1000,0.5,propose\n")
    page.set_input_files("#id_file", str(good))
    page.click("#import")
    expect(page.locator("#import-result")).to_contain_text("1 created")
