"""A KAM opens their plan, clicks Print and gets a clean A4 document: the browser's PDF of the print-ready page."""

import datetime

import pytest
from playwright.sync_api import expect

from keyplan.planning import services

pytestmark = pytest.mark.browser


def test_a_kam_prints_the_account_plan_to_pdf(page, live_server, log_in, screenshot, kam, key_account, today, tmp_path):
    plan = services.create_plan(key_account, by=kam, period=f"FY{today.year}", summary="Protect the core, win finance.")
    goal = services.add_goal(plan, by=kam, data={"title": "Win the CFO", "horizon": "short", "owner": kam,
                                                 "due": today + datetime.timedelta(days=60)})
    services.add_action(goal, by=kam, data={"title": "Kick-off with the CFO", "start": today,
                                            "due": today + datetime.timedelta(days=10)})
    log_in("kam")
    page.goto(f"/accounts/{key_account.pk}/plans/{plan.pk}/")
    page.click("#print-link")
    expect(page.locator(".print-header")).to_contain_text("Printed on")
    page.emulate_media(media="print")
    expect(page.locator("#print-now")).to_be_hidden()  # the controls stay off the paper
    expect(page.locator(".topbar")).to_be_hidden()
    expect(page.locator("#timeline svg")).to_be_visible()
    page.set_viewport_size({"width": 703, "height": 1123})  # A4 less the 12 mm margins, at 96 dpi
    assert page.evaluate("document.documentElement.scrollWidth") <= 703  # nothing runs off the paper's edge
    screenshot("plan-print")
    pdf = page.pdf(format="A4", print_background=True)
    assert pdf.startswith(b"%PDF") and len(pdf) > 20_000
    (tmp_path / "plan.pdf").write_bytes(pdf)

    page.context.add_cookies([{"name": "django_language", "value": "fa", "url": live_server.url}])
    page.reload()
    assert page.evaluate("document.documentElement.dir") == "rtl"
    screenshot("fa-plan-print")
