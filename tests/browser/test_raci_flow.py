"""Two people change the team's RACI matrix at once: only the changed cells are saved, and a clash is shown."""

import pytest
from playwright.sync_api import expect

from keyplan.accounts import services as accounts
from keyplan.accounts.models import TeamRole
from keyplan.planning import services
from keyplan.planning.models import RaciAssignment

pytestmark = pytest.mark.browser


def test_a_conflicting_raci_save_is_shown_side_by_side(page, log_in, kam, lead, kam_account, make_user, screenshot):
    accounts.set_tier(kam_account, by=lead, tier="key", reason="Selected")
    sponsor = make_user("sponsor", first_name="Sia", last_name="Sponsor")
    accounts.add_team_member(kam_account, by=lead, user=sponsor, role=TeamRole.EXECUTIVE_SPONSOR)
    plan = services.create_plan(kam_account, by=kam, period="FY2027")
    k = kam_account.team_members.get(user=kam).pk
    log_in("kam")
    page.goto(f"/accounts/{kam_account.pk}/plans/{plan.pk}/team/")
    page.select_option(f"select[name=raci-{k}-goals]", "A")
    page.select_option(f"select[name=raci-{k}-relationships]", "R")
    services.set_raci(kam_account, by=lead, roles={(k, "goals"): "C"})  # the lead, meanwhile
    page.click("#save-raci")
    expect(page.locator("#conflict")).to_be_visible()
    expect(page.locator("#conflict .saved").first).to_have_text("C")
    expect(page.locator("#conflict .mine").first).to_have_text("A")
    screenshot("raci-conflict")
    assert not RaciAssignment.objects.filter(area="relationships").exists()  # nothing of the save was written
    page.click("#keep-mine")
    expect(page.locator("#conflict")).to_have_count(0)
    assert RaciAssignment.objects.get(member_id=k, area="goals").role == "A"
    assert RaciAssignment.objects.get(member_id=k, area="relationships").role == "R"
