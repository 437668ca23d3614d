import datetime

import pytest
from django.urls import reverse

from keyplan.planning import services
from keyplan.planning.models import AccountPlan, Action, Goal, PlanSection
from tests.conftest import client_for


def plan_page(plan) -> str:
    return reverse("planning:plan", args=[plan.account_id, plan.pk])


def test_navigation_leads_to_the_plans_not_to_coming_next(lead, plan):
    body = client_for(lead).get(reverse("planning:portfolio")).content.decode()
    assert "Coming next" not in body and 'href="/plans/" aria-current="page"' in body
    assert plan.account.name in body and plan.period in body


def test_the_plan_page_shows_every_section(plan, goal, kam, today):
    services.update_section(plan, "swot", by=kam, version=1, content={"strengths": ["Trusted for 20 years"]})
    services.add_action(goal, by=kam, data={"title": "Late action", "start": today - datetime.timedelta(days=9),
                                            "due": today - datetime.timedelta(days=2)})
    body = client_for(kam).get(plan_page(plan)).content.decode()
    for text in ("Relationships", "The customer&#x27;s business", "SWOT analysis", "Trusted for 20 years", "Account value",
                 "Short term", "Grow revenue 10 %", "Late action", "Plan quality", "No overdue action"):
        assert text in body, text
    assert 'class="overdue"' in body


def test_creating_a_plan_in_the_browser_form(key_account, kam):
    client = client_for(kam)
    response = client.post(reverse("planning:account", args=[key_account.pk]), {"period": "FY2031"})
    plan = AccountPlan.objects.get(period="FY2031")
    assert response.status_code == 302 and response["Location"] == plan_page(plan)
    again = client.post(reverse("planning:account", args=[key_account.pk]), {"period": "FY2031"})
    assert again.status_code == 400 and "already has a plan for FY2031" in again.content.decode()


def test_a_conflicting_section_save_shows_both_versions_and_keeping_mine_works(plan, kam, lead):
    url = reverse("planning:section", args=[plan.account_id, plan.pk, "relationships"])
    # Both open the editor at version 1; the lead saves first.
    services.update_section(plan, "relationships", by=lead, version=1, content={"summary": "The lead's reading"})
    response = client_for(kam).post(url, {"version": 1, "summary": "The KAM's reading"})
    body = response.content.decode()
    assert response.status_code == 200 and 'id="conflict"' in body
    assert "The lead&#x27;s reading" in body and "The KAM&#x27;s reading" in body
    assert PlanSection.objects.get(plan=plan, key="relationships").content["summary"] == "The lead's reading"
    assert 'name="version" value="2"' in body  # saving again keeps mine over version 2
    kept = client_for(kam).post(url, {"version": 2, "summary": "The KAM's reading"})
    assert kept.status_code == 302
    assert PlanSection.objects.get(plan=plan, key="relationships").content["summary"] == "The KAM's reading"


def test_bad_action_dates_are_shown_on_the_field(plan, goal, kam, today):
    url = reverse("planning:action_create", args=[plan.account_id, plan.pk])
    response = client_for(kam).post(url, {"title": "Backwards", "goal": goal.pk, "status": "not_started",
                                          "start": "2027-03-01", "due": "2027-02-01"})
    assert response.status_code == 400 and "before it starts" in response.content.decode()
    assert not Action.objects.exists()


def test_outsiders_get_404_and_viewers_cannot_edit(plan, outsider, viewer):
    assert client_for(outsider).get(plan_page(plan)).status_code == 404
    body = client_for(viewer).get(plan_page(plan)).content.decode()
    assert 'id="edit-plan"' not in body
    assert client_for(viewer).post(reverse("planning:edit", args=[plan.account_id, plan.pk]), {"version": 1}).status_code == 403


def test_history_and_restore_in_the_browser(plan, kam):
    services.update_section(plan, "value", by=kam, version=1, content={"potential": "Old idea"})
    services.update_section(plan, "value", by=kam, version=2, content={"potential": "New idea"})
    row = services.section(plan, "value")
    old = next(v for v in services.section_versions(row) if v.version == 2)
    body = client_for(kam).get(reverse("planning:history", args=[plan.account_id, plan.pk])).content.decode()
    assert "Old idea" in body and "New idea" in body
    response = client_for(kam).post(reverse("planning:section_restore", args=[plan.account_id, plan.pk, "value", old.history_id]))
    assert response.status_code == 302
    assert PlanSection.objects.get(pk=row.pk).content == {"potential": "Old idea"}


@pytest.mark.parametrize("language", ["fa", "zh-hans", "de"])
def test_the_plan_page_in_other_languages(plan, goal, kam, language):
    client = client_for(kam)
    client.cookies["django_language"] = language
    response = client.get(plan_page(plan), HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200


def test_removing_a_goal_in_the_browser_takes_its_actions_and_says_so(plan, goal, kam, lead):
    services.add_action(goal, by=kam, data={"title": "Ask for the CTO meeting", "owner": kam})
    response = client_for(kam).post(reverse("planning:goal", args=[plan.account_id, plan.pk, goal.pk]), {"remove": "1"},
                                    follow=True)
    assert response.status_code == 200 and "Goal removed." in response.content.decode()
    assert not Goal.objects.filter(pk=goal.pk).exists() and not Action.objects.filter(goal_id=goal.pk).exists()
