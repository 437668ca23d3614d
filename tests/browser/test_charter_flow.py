"""A lead reads the program charter with its readiness answered from data, edits it, plans the rollout on the
Gantt chart, and a second editor's conflicting save is caught."""

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
