import json

import pytest

from keyplan.planning import services
from keyplan.planning.models import AccountPlan, Action
from keyplan.relationships import services as relationships


def body(response):
    return json.loads(response.content)


def plans_url(account) -> str:
    return f"/api/v1/accounts/{account.pk}/plans/"


def plan_url(plan) -> str:
    return f"/api/v1/accounts/{plan.account_id}/plans/{plan.pk}"


class TestPlans:
    def test_create_list_and_read_the_whole_plan(self, key_account, kam, api_client):
        client = api_client(kam)
        created = client.post(plans_url(key_account), {"period": "FY2027", "summary": "Our view"}, content_type="application/json")
        assert created.status_code == 201, created.content
        plan = body(created)
        assert (plan["starts"], plan["ends"], plan["state"], plan["version"]) == ("2027-01-01", "2027-12-31", "draft", 1)
        listing = body(client.get(plans_url(key_account)))
        assert listing["count"] == 1 and listing["items"][0]["id"] == plan["id"]
        whole = body(client.get(f"{plans_url(key_account)}{plan['id']}"))
        assert whole["summary"] == "Our view" and whole["version"] == 1
        assert [s["key"] for s in whole["sections"]] == ["relationships", "business", "swot", "value"]
        assert whole["swot"] == {"strengths": [], "weaknesses": [], "opportunities": [], "threats": []}
        assert whole["value"]["revenue_12m"] == 0 and whole["relationships"]["coverage"]["decision_makers"] == 0
        assert whole["quality"]["total"] == 11 and whole["quality"]["living"] is False

    def test_another_teams_account_is_404_and_viewers_do_not_write(self, plan, make_account, outsider, viewer, api_client):
        assert api_client(outsider).get(plan_url(plan)).status_code == 404
        assert api_client(outsider).get(plans_url(plan.account)).status_code == 404
        client = api_client(viewer)
        assert client.get(plan_url(plan)).status_code == 200
        response = client.patch(plan_url(plan), {"version": 1, "summary": "x"}, content_type="application/json")
        assert response.status_code == 403
        assert AccountPlan.objects.get(pk=plan.pk).summary == ""

    def test_a_stale_patch_is_409_with_the_current_values(self, plan, kam, lead, api_client):
        first = api_client(lead).patch(plan_url(plan), {"version": 1, "summary": "Lead's"}, content_type="application/json")
        assert first.status_code == 200 and body(first)["version"] == 2
        stale = api_client(kam).patch(plan_url(plan), {"version": 1, "summary": "KAM's"}, content_type="application/json")
        assert stale.status_code == 409
        answer = body(stale)
        assert answer["version"] == 2 and answer["current"]["summary"] == "Lead's"
        assert AccountPlan.objects.get(pk=plan.pk).summary == "Lead's"
        unknown = api_client(kam).patch(plan_url(plan), {"version": 2, "tier": "key"}, content_type="application/json")
        assert unknown.status_code == 422 and body(unknown)["detail"][0]["loc"] == ["body", "tier"]

    def test_activation_without_goal_owner_is_422_naming_goals(self, plan, kam, api_client):
        services.add_goal(plan, by=kam, data={"title": "Orphan"})
        response = api_client(kam).post(plan_url(plan) + "/state", {"state": "active"}, content_type="application/json")
        assert response.status_code == 422 and body(response)["detail"][0]["loc"] == ["body", "goals"]
        back = api_client(kam).post(plan_url(plan) + "/state", {"state": "draft"}, content_type="application/json")
        assert back.status_code == 422 and body(back)["detail"][0]["loc"] == ["body", "state"]


class TestSections:
    def test_patch_conflict_versions_and_restore(self, plan, kam, lead, api_client):
        url = plan_url(plan) + "/sections/swot"
        ok = api_client(kam).patch(url, {"version": 1, "content": {"strengths": ["Quality"], "threats": "Price war\nNew entrant"}},
                                   content_type="application/json")
        assert ok.status_code == 200 and body(ok)["content"]["threats"] == ["Price war", "New entrant"]
        stale = api_client(lead).patch(url, {"version": 1, "content": {"strengths": []}}, content_type="application/json")
        assert stale.status_code == 409 and body(stale)["current"]["content"]["strengths"] == ["Quality"]
        bad = api_client(kam).patch(url, {"version": 2, "content": {"strengths": ["x" * 400]}}, content_type="application/json")
        assert bad.status_code == 422 and body(bad)["detail"][0]["loc"] == ["body", "strengths"]
        versions = body(api_client(kam).get(url + "/versions"))["items"]
        assert [v["version"] for v in versions] == [2, 1]
        restored = api_client(kam).post(url + "/restore", {"history_id": versions[1]["history_id"], "version": 2},
                                        content_type="application/json")
        assert restored.status_code == 200 and body(restored)["version"] == 3 and body(restored)["content"]["strengths"] == []
        assert api_client(kam).get(plan_url(plan) + "/sections/nonsense").status_code == 422


class TestGoalsAndActions:
    def test_goal_and_action_round_trip_with_dependencies(self, plan, kam, api_client, lead):
        client = api_client(kam)
        ceo = relationships.create_stakeholder(plan.account, by=lead, data={"name": "Vera VP", "buying_role": "decision_maker"})
        goal = client.post(plan_url(plan) + "/goals/", {"title": "Win the CTO", "owner_id": kam.pk, "horizon": "mid",
                                                        "metric": "decision_makers_covered", "target_value": "1"},
                           content_type="application/json")
        assert goal.status_code == 201, goal.content
        goal_id = body(goal)["id"]
        first = client.post(plan_url(plan) + "/actions/", {
            "goal_id": goal_id, "title": "Build the value proposition", "start": "2027-01-10", "due": "2027-02-01",
            "stakeholder_id": ceo.pk}, content_type="application/json")
        assert first.status_code == 201, first.content
        second = client.post(plan_url(plan) + "/actions/", {
            "goal_id": goal_id, "title": "Ask the VP for the CTO meeting", "start": "2027-02-02", "due": "2027-02-15",
            "depends_on": [body(first)["id"]]}, content_type="application/json")
        assert body(second)["depends_on"] == [body(first)["id"]]
        goals = body(client.get(plan_url(plan) + "/goals/"))["items"]
        assert goals[0]["measured"] == 1 and len(goals[0]["actions"]) == 2
        cycle = client.patch(plan_url(plan) + f"/actions/{body(first)['id']}", {"version": 1, "depends_on": [body(second)["id"]]},
                             content_type="application/json")
        assert cycle.status_code == 422 and body(cycle)["detail"][0]["loc"] == ["body", "depends_on"]
        stale = client.patch(plan_url(plan) + f"/goals/{goal_id}", {"version": 7, "status": "achieved"}, content_type="application/json")
        assert stale.status_code == 409 and body(stale)["current"]["status"] == "open"
        assert client.delete(plan_url(plan) + f"/goals/{goal_id}").status_code == 204
        assert not Action.objects.exists()

    @pytest.mark.parametrize("data, field", [
        ({"start": "2027-03-01", "due": "2027-02-01"}, "due"),
        ({"owner_id": 999_999}, "owner_id"),
        ({"stakeholder_id": 999_999}, "stakeholder_id"),
        ({"goal_id": 999_999}, "goal_id"),
        ({"depends_on": [999_999]}, "depends_on"),
        ({"status": "nearly"}, "status"),
        ({"title": ""}, "title"),
    ])
    def test_bad_actions_are_422_naming_the_field(self, plan, goal, kam, api_client, data, field):
        payload = {"goal_id": goal.pk, "title": "An action", **data}
        response = api_client(kam).post(plan_url(plan) + "/actions/", payload, content_type="application/json")
        assert response.status_code == 422, response.content
        assert body(response)["detail"][0]["loc"][-1] == field
        assert not Action.objects.exists()

    def test_another_accounts_stakeholder_is_refused(self, plan, goal, kam, lead, make_account, api_client):
        other = make_account("Other Corp")
        from keyplan.accounts import services as accounts
        from keyplan.accounts.models import TeamRole

        accounts.add_team_member(other, by=lead, user=kam, role=TeamRole.KAM)
        stranger = relationships.create_stakeholder(other, by=lead, data={"name": "Otto Other"})
        response = api_client(kam).post(plan_url(plan) + "/actions/", {"goal_id": goal.pk, "title": "x",
                                                                        "stakeholder_id": stranger.pk},
                                        content_type="application/json")
        assert response.status_code == 422 and body(response)["detail"][0]["loc"] == ["body", "stakeholder_id"]
        assert "another account" in body(response)["detail"][0]["msg"]


def test_portfolio_lists_key_accounts_with_and_without_plans(plan, lead, make_account, api_client):
    from keyplan.accounts import services as accounts

    accounts.set_tier(make_account("Neglected Ltd"), by=lead, tier="key", reason="Big")
    answer = body(api_client(lead).get("/api/v1/plans/", {"limit": 1}))
    assert answer["count"] == 2 and len(answer["items"]) == 1
    assert answer["items"][0]["account"]["name"] == "Neglected Ltd" and answer["items"][0]["plan"] is None
    second = body(api_client(lead).get("/api/v1/plans/", {"offset": 1}))["items"][0]
    assert second["plan"]["id"] == plan.pk and second["quality"]["total"] == 11
    assert api_client(lead).get("/api/v1/plans/", {"limit": 5000}).status_code == 422
