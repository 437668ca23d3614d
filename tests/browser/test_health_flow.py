"""A leader opens the health dashboard and follows an endangered key account through the at-risk queue."""

import datetime

import pytest
from django.utils import translation
from django.utils.translation import gettext
from playwright.sync_api import expect

from keyplan.accounts import services as accounts
from keyplan.health import services
from keyplan.health.analysis import DEFAULT_WEIGHTS
from keyplan.health.models import RiskCase
from keyplan.relationships import services as relationships
from keyplan.revenue import services as revenue

pytestmark = pytest.mark.browser


@pytest.fixture
def program(kam_account, lead, kam, make_account):
    today = datetime.date.today()
    accounts.set_tier(kam_account, by=lead, tier="key", reason="Selected")
    relationships.create_stakeholder(kam_account, by=lead, data={"name": "Carla Critic", "decision_power": "high",
                                                                 "sentiment": "critic"})
    revenue.add_subscription(kam_account, by=lead, plan="Premium", monthly_amount=3900, currency="EUR",
                             start=today - datetime.timedelta(days=400))
    happy = make_account("Happy Foods")
    revenue.add_subscription(happy, by=lead, plan="Basic", monthly_amount=490, currency="EUR",
                             start=today - datetime.timedelta(days=400))
    services.add_survey(happy, by=lead, kind="nps", score=10, responded_on=today)
    services.take_snapshot(today=today - datetime.timedelta(days=7))  # the trends need two snapshots
    services.take_snapshot(today=today)
    return kam_account


def test_a_leader_reads_the_dashboard_and_a_kam_closes_the_case(page, log_in, program, screenshot, browser, live_server, lead):
    from keyplan.planning import services as planning

    planning.create_plan(program, by=lead, period="FY2027")  # the save plan goes into it
    log_in("lead")
    page.goto("/health/")
    expect(page.locator("h1")).to_have_text("Health")
    expect(page.locator("#mrr-by-plan")).to_contain_text("Premium")
    expect(page.locator("#mrr-at-risk .tile-value")).to_have_text("3,900")
    expect(page.locator("#premium-upsell")).to_contain_text("Happy Foods")
    expect(page.locator("#premium-upsell")).to_contain_text("+3,410")
    expect(page.locator("#health-table")).to_contain_text("A critic with high decision power")
    expect(page.locator("#risk-trend .main-svg").first).to_be_visible()  # drawn by the bundled Plotly
    expect(page.locator("#plan-trend .main-svg").first).to_be_visible()
    screenshot("health-dashboard")

    page.click("#queue-link")
    expect(page.locator("#risk-queue tbody tr")).to_have_count(1)
    page.click(f"#risk-queue >> text={program.name}")
    expect(page.locator("h1")).to_have_text(program.name)
    page.fill("#id_title", "Meet Carla with our CEO")
    page.click("#save-action-form button[type=submit]")
    expect(page.locator("#save-plan")).to_contain_text("Meet Carla with our CEO")
    expect(page.locator("#save-plan-home")).to_contain_text("Its actions are in the account plan")
    screenshot("health-case-save-plan")
    page.click("#close-case button[type=submit]")  # no outcome chosen
    expect(page.locator("#close-case")).to_contain_text("A case closes with its outcome")
    page.select_option("#id_outcome", "saved")
    page.click("#close-case button[type=submit]")
    expect(page.locator(".facts")).to_contain_text("Saved")
    screenshot("health-case")
    assert RiskCase.objects.get().outcome == "saved"


def test_the_account_health_page_explains_the_score_in_persian(page, log_in, program, screenshot):
    log_in("kam")
    page.goto(f"/accounts/{program.pk}/health/")
    expect(page.locator("#components tbody tr")).to_have_count(len(DEFAULT_WEIGHTS))  # every component, counted or not
    expect(page.locator("#components")).to_contain_text("decision makers owned and in contact")
    screenshot("health-account")
    page.select_option("select[name=language]", "fa")
    page.wait_for_load_state()
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.locator("#health-score")).to_contain_text("امتیاز سلامت")
    screenshot("health-account-fa")


def test_a_kam_starts_and_tracks_the_onboarding_also_in_persian(page, log_in, program, screenshot):
    log_in("kam")
    page.goto(f"/accounts/{program.pk}/health/")
    page.click("#onboarding-link")
    expect(page.locator("h1")).to_have_text("Onboarding")
    page.fill("#id_start", (datetime.date.today() - datetime.timedelta(days=35)).isoformat())
    page.click("#start-onboarding button[type=submit]")
    expect(page.locator("#stage-table tbody tr")).to_have_count(4)
    expect(page.locator("#onboarding-status")).to_contain_text("Overdue")
    first = page.locator("#stage-table tbody tr").first
    first.locator("button.tick").first.click()
    expect(page.locator("#stage-table tbody tr").first.locator("button.tick").first).to_have_attribute("aria-pressed", "true")
    page.locator("#stage-table tbody tr").first.locator("button", has_text="Done").click()
    expect(page.locator("#stage-table tbody tr").first).to_contain_text("✓")
    screenshot("health-onboarding")
    page.select_option("select[name=language]", "fa")
    page.wait_for_load_state()
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.locator("h1")).to_have_text("آشناسازی")
    # A stage of the default template reads in the reader's language, whoever started the onboarding.
    with translation.override("fa"):
        kick_off = gettext("Kick-off with the customer")
    assert kick_off != "Kick-off with the customer"
    expect(page.locator("#stage-table")).to_contain_text(kick_off)
    expect(page.locator("#stage-table")).not_to_contain_text("Kick-off with the customer")
    screenshot("health-onboarding-fa")


def test_a_kam_records_a_customer_check_in_and_the_reviews_page_lists_those_due(page, log_in, program, screenshot):
    log_in("kam")
    page.goto("/health/reviews/")
    expect(page.locator("#checkins-due")).to_contain_text(program.name)
    page.click(f"#checkins-due >> text={program.name}")
    page.fill("#id_attendees", "Carla Critic (CFO)")
    page.fill("#id_feedback", "Prices went up twice this year.")
    page.click("#checkin-form button[type=submit]")
    expect(page.locator("#checkins")).to_contain_text("Prices went up twice this year.")
    screenshot("health-account-checkins")
    page.goto("/health/reviews/")
    expect(page.locator("#checkins-due")).to_contain_text("No customer check-in due this week.")
    page.select_option("select[name=language]", "fa")
    page.wait_for_load_state()
    expect(page.locator("#checkins-due h2")).to_contain_text("گفت‌وگوهای بازخورد سررسیدشده")
    screenshot("health-reviews-fa")


def test_a_leader_uploads_tickets_in_the_browser_and_reads_the_dashboard_in_persian(page, log_in, program, screenshot, run_worker):
    from keyplan.health.models import Ticket

    path = ARTIFACTS_DIR() / "tickets.csv"
    path.write_text(f"account_id,ticket_id,opened,closed,severity\n{program.external_id},T-9,2026-11-02,,high\n", encoding="utf-8")
    log_in("lead")
    page.goto(reverse_imports())
    page.select_option("#id_kind", "tickets")
    page.set_input_files("#id_file", str(path))
    page.click("button:has-text('Upload and preview')")
    expect(page.locator("body")).to_contain_text("Severity")
    screenshot("health-upload-preview")
    page.click("#start-import")
    page.wait_for_load_state()
    run_worker()
    assert Ticket.objects.get().ticket_id == "T-9"
    page.goto("/health/")
    page.select_option("select[name=language]", "fa")
    page.wait_for_load_state()
    expect(page.locator("#risk-trend .main-svg").first).to_be_visible()
    screenshot("health-dashboard-fa")


def ARTIFACTS_DIR():
    from tests.browser.conftest import ARTIFACTS

    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def reverse_imports() -> str:
    from django.urls import reverse

    return reverse("revenue:imports")
