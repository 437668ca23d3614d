"""A KAM writes an account plan in the browser, and a second editor's conflicting save is caught."""

import pytest
from playwright.sync_api import expect

from keyplan.accounts import services as accounts
from keyplan.planning import services
from keyplan.planning.models import Action, Goal, PlanSection
from keyplan.relationships import services as relationships

pytestmark = pytest.mark.browser


@pytest.fixture
def key_account(kam_account, lead):
    accounts.set_tier(kam_account, by=lead, tier="key", reason="Selected")
    relationships.create_stakeholder(kam_account, by=lead, data={"name": "Vera Vice", "title": "VP Engineering",
                                                                 "buying_role": "decision_maker", "decision_power": "high"})
    return kam_account


def test_a_kam_writes_a_plan(page, log_in, kam, key_account, screenshot):
    log_in("kam")
    page.goto(f"/accounts/{key_account.pk}/")
    page.click("#plans-link")
    page.fill("#id_period", "FY2027")
    page.click("#new-plan button[type=submit]")
    expect(page.locator("h1")).to_contain_text("Plan FY2027")
    expect(page.locator("#plan-state")).to_have_text("Draft")

    # The customer's business and the SWOT, one entry a line.
    page.click("#edit-swot")
    page.fill("#id_strengths", "Supplier for twelve years\nService on site weekly")
    page.fill("#id_threats", "A second supplier")
    page.click("#save")
    expect(page.locator(".swot-cell.strengths li")).to_have_count(2)

    # A goal and two actions, the second depending on the first and pointing to the VP.
    page.click("#add-goal")
    page.fill("#id_title", "Win the VP Engineering")
    page.select_option("#id_horizon", "mid")
    page.select_option("#id_owner", str(kam.pk))
    page.select_option("#id_metric", "decision_makers_covered")
    page.fill("#id_target_value", "1")
    page.fill("#id_due", "2027-06-30")
    page.click("#save")
    goal = Goal.objects.get(title="Win the VP Engineering")
    expect(page.locator(f"#goal-{goal.pk}")).to_contain_text("Decision makers covered: 0 of 1")

    page.click(f"#goal-{goal.pk} .add-action")
    page.fill("#id_title", "Build the value proposition for a CTO meeting")
    page.fill("#id_start", "2027-01-10")
    page.fill("#id_due", "2027-01-05")  # due before it starts: refused on the field
    page.click("#save")
    expect(page.locator(".field-error")).to_contain_text("before it starts")
    page.fill("#id_due", "2027-02-01")
    page.click("#save")
    first = Action.objects.get()
    page.click(f"#goal-{goal.pk} .add-action")
    page.fill("#id_title", "Ask the VP to request the CTO meeting")
    page.fill("#id_start", "2027-02-02")
    page.fill("#id_due", "2027-02-02")
    page.check("#id_milestone")
    page.select_option("#id_stakeholder", label="Vera Vice")
    page.select_option("#id_depends_on", str(first.pk))
    page.click("#save")
    expect(page.locator(f"#goal-{goal.pk}")).to_contain_text("Decision makers covered: 1 of 1")
    expect(page.locator(f"#goal-{goal.pk} tbody tr")).to_have_count(2)
    expect(page.locator("[data-check=decision_makers]")).to_have_class("plan-check ok")
    screenshot("plan-written")

    # Activation: the plan becomes the account's active one.
    page.click("#activate")
    expect(page.locator("#plan-state")).to_have_text("Active")

    # The timeline: a bar for the first action, a diamond for the milestone, an arrow between them.
    page.click("#timeline-link")
    gantt = page.locator("svg.plan-gantt")
    expect(gantt).to_be_visible()
    expect(gantt.locator(f"#kp-action-{first.pk} rect.bar")).to_have_count(1)
    expect(gantt.locator("polygon.milestone")).to_have_count(1)
    expect(gantt.locator(f"path.dependency[data-from='{first.pk}']")).to_have_count(1)
    screenshot("plan-timeline")

    # The whitespace map: mark a cell with its estimated value, turn it into an opportunity in one click.
    page.go_back()
    page.click("#whitespace-link")
    page.click("#add-line")
    page.fill("#id_division", "Engineering")
    page.fill("#id_product_line", "Analytics software")
    page.fill("#id_estimated_value", "50000")
    page.click("#save")
    cell = page.locator("td.ws-cell[data-division='Engineering'][data-product-line='Analytics software']")
    expect(cell).to_have_attribute("data-state", "whitespace")
    expect(page.locator("#whitespace-value")).to_have_text("50,000")
    screenshot("plan-whitespace")
    cell.locator(".ws-new-opportunity").click()
    expect(page.locator("#id_division")).to_have_value("Engineering")
    expect(page.locator("#id_amount")).to_have_value("50000.00")
    page.fill("#id_name", "Analytics for engineering")
    page.fill("#id_probability", "0.4")
    page.click("#save")
    expect(page.locator("#pipeline-open")).to_have_text("50,000")
    expect(page.locator("#pipeline-weighted")).to_have_text("20,000")
    page.click("#whitespace-link")
    expect(cell).to_have_attribute("data-state", "open_opportunity")


def test_a_second_editors_conflicting_save_is_caught(page, log_in, kam, lead, key_account, browser, live_server, screenshot):
    plan = services.create_plan(key_account, by=kam, period="FY2027")
    log_in("kam")
    page.goto(f"/accounts/{key_account.pk}/plans/{plan.pk}/")
    page.click("#edit-relationships")
    page.fill("#id_summary", "The KAM's reading")

    # Meanwhile the lead opens the same section in a browser of their own and saves first.
    other = browser.new_context(base_url=live_server.url)
    lead_page = other.new_page()
    lead_page.goto("/login/")
    lead_page.fill("#id_username", "lead")
    from tests.conftest import PASSWORD

    lead_page.fill("#id_password", PASSWORD)
    lead_page.click("button[type=submit]")
    lead_page.wait_for_url("**/")
    lead_page.goto(f"/accounts/{key_account.pk}/plans/{plan.pk}/sections/relationships/")
    lead_page.fill("#id_summary", "The lead's reading")
    lead_page.click("#save")
    expect(lead_page.locator(".kam-summary")).to_have_text("The lead's reading")
    other.close()

    page.click("#save")
    conflict = page.locator("#conflict")
    expect(conflict).to_contain_text("Someone saved this while you were editing")
    expect(conflict.locator("td.mine")).to_have_text("The KAM's reading")
    expect(conflict.locator("td.saved")).to_have_text("The lead's reading")
    assert PlanSection.objects.get(plan=plan, key="relationships").content["summary"] == "The lead's reading"
    screenshot("plan-conflict")
    page.click("#keep-mine")
    expect(page.locator(".kam-summary")).to_have_text("The KAM's reading")
    assert PlanSection.objects.get(plan=plan, key="relationships").version == 3
