"""/api/v1: the health score, the at-risk queue, the dashboard, surveys, cases and reviews."""

import datetime

from keyplan.health import services
from keyplan.health.models import RiskCase, SurveyResponse


def body(response):
    return response.json()


def test_health_endpoint_explains_each_component(key_account, kam, api_client, today, outsider):
    services.add_survey(key_account, by=kam, kind="nps", score=8, responded_on=today - datetime.timedelta(days=100))
    services.add_survey(key_account, by=kam, kind="nps", score=5, responded_on=today - datetime.timedelta(days=10))
    response = api_client(kam).get(f"/api/v1/accounts/{key_account.pk}/health")
    assert response.status_code == 200
    data = body(response)
    assert set(data) >= {"score", "band", "components"} and data["band"] in ("green", "amber", "red")
    sat = next(c for c in data["components"] if c["name"] == "satisfaction")
    assert sat["value"] == 5 and sat["contribution"] == -12
    assert sat["explanation"] == "−12: NPS fell from 8 to 5 this quarter"
    assert {"name", "value", "contribution", "explanation"} <= set(sat)
    assert api_client(outsider).get(f"/api/v1/accounts/{key_account.pk}/health").status_code == 404


def test_surveys_refuse_bad_input_naming_the_field(key_account, kam, api_client, today):
    client = api_client(kam)
    url = f"/api/v1/accounts/{key_account.pk}/surveys/"
    bad = client.post(url, {"kind": "nps", "score": 11, "responded_on": today.isoformat()}, content_type="application/json")
    assert bad.status_code == 422 and body(bad)["detail"][0]["loc"] == ["body", "score"]
    future = client.post(url, {"kind": "nps", "score": 9, "responded_on": (today + datetime.timedelta(days=3)).isoformat()},
                         content_type="application/json")
    assert future.status_code == 422 and body(future)["detail"][0]["loc"] == ["body", "responded_on"]
    nobody = client.post(url, {"score": 9, "responded_on": today.isoformat(), "stakeholder_id": 999999},
                         content_type="application/json")
    assert nobody.status_code == 422 and body(nobody)["detail"][0]["loc"] == ["body", "stakeholder_id"]
    assert not SurveyResponse.objects.exists()
    ok = client.post(url, {"kind": "csat", "score": 4, "responded_on": today.isoformat()}, content_type="application/json")
    assert ok.status_code == 201 and body(ok)["score"] == 4
    assert body(client.get(url))["count"] == 1


def test_risk_queue_and_closing_a_case(lead, kam, key_account, make_account, api_client, today):
    other = make_account("Other")
    client = api_client(lead)
    first = client.post(f"/api/v1/accounts/{key_account.pk}/risk-cases/", {"reason": "CFO left"}, content_type="application/json")
    assert first.status_code == 201
    second = client.post(f"/api/v1/accounts/{other.pk}/risk-cases/", {"reason": "Quiet"}, content_type="application/json")
    RiskCase.objects.filter(pk=body(second)["id"]).update(mrr_at_risk=900)
    queue = body(client.get("/api/v1/risk-queue"))
    assert queue["count"] == 2 and [i["account"]["name"] for i in queue["items"]] == ["Other", key_account.name]
    item = queue["items"][1]
    assert item["account"] == {"id": key_account.pk, "name": key_account.name}
    assert item["days_in_queue"] == 0 and item["owner"]["username"] == "kam" and item["reason"] == "CFO left"
    assert queue["mrr_at_risk"] == 900
    case_id = item["id"]
    refused = api_client(kam).post(f"/api/v1/risk-cases/{case_id}/close", {}, content_type="application/json")
    assert refused.status_code == 422 and body(refused)["detail"][0]["loc"] == ["body", "outcome"]
    assert RiskCase.objects.get(pk=case_id).is_open
    action = api_client(kam).post(f"/api/v1/risk-cases/{case_id}/actions/", {"title": "Meet the new CFO"},
                                  content_type="application/json")
    assert action.status_code == 201 and body(action)["actions"][0]["title"] == "Meet the new CFO"
    closed = api_client(kam).post(f"/api/v1/risk-cases/{case_id}/close", {"outcome": "saved"}, content_type="application/json")
    assert closed.status_code == 200 and body(closed)["outcome"] == "saved"
    assert body(client.get("/api/v1/risk-queue"))["count"] == 1


def test_dashboard_reads_the_snapshot(lead, key_account, api_client, subscribe, today):
    subscribe(key_account, "Premium", 3900)
    empty = body(api_client(lead).get("/api/v1/dashboard"))
    assert empty["as_of"] is None and empty["mrr_by_plan"] == {}
    services.take_snapshot(today=today)
    data = body(api_client(lead).get("/api/v1/dashboard"))
    assert data["as_of"] == today.isoformat()
    assert data["accounts_by_tier"] == {"key": 1, "candidate": 0, "standard": 0}
    assert data["mrr_by_plan"] == {"Premium": 3900.0} and data["arr"] == 46800 and data["mrr_at_risk"] == 0
    assert {"premium_upsell", "satisfaction", "reviews_due", "bands"} <= set(data)


def test_reviews_and_settings(lead, kam, key_account, api_client, today):
    client = api_client(kam)
    future = client.post(f"/api/v1/accounts/{key_account.pk}/reviews/",
                         {"held_on": (today + datetime.timedelta(days=1)).isoformat()}, content_type="application/json")
    assert future.status_code == 422 and body(future)["detail"][0]["loc"] == ["body", "held_on"]
    held = client.post(f"/api/v1/accounts/{key_account.pk}/reviews/", {"held_on": today.isoformat(), "risks": "Price"},
                       content_type="application/json")
    assert held.status_code == 201 and body(held)["risks"] == "Price"
    assert body(client.get(f"/api/v1/accounts/{key_account.pk}/reviews/"))["count"] == 1
    assert client.patch("/api/v1/health/settings", {"green_from": 80}, content_type="application/json").status_code == 403
    changed = api_client(lead).patch("/api/v1/health/settings", {"green_from": 80, "rules": ["red_score"]},
                                     content_type="application/json")
    assert changed.status_code == 200 and body(changed)["green_from"] == 80 and body(changed)["rules"] == ["red_score"]
    bad = api_client(lead).patch("/api/v1/health/settings", {"amber_from": 90}, content_type="application/json")
    assert bad.status_code == 422 and body(bad)["detail"][0]["loc"] == ["body", "amber_from"]


def test_the_save_plan_in_the_account_plan(lead, kam, key_account, api_client):
    from keyplan.planning import services as planning

    client = api_client(kam)
    case = client.post(f"/api/v1/accounts/{key_account.pk}/risk-cases/", {"reason": "Quiet"}, content_type="application/json").json()
    client.post(f"/api/v1/risk-cases/{case['id']}/actions/", {"title": "Visit"}, content_type="application/json")
    refused = client.post(f"/api/v1/risk-cases/{case['id']}/link-plan")
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["body", "plan"]
    plan = planning.create_plan(key_account, by=kam, period="FY2027")
    linked = client.post(f"/api/v1/risk-cases/{case['id']}/link-plan").json()
    assert linked["plan_goal"]["plan_id"] == plan.pk and linked["actions"][0]["plan_action_id"] is not None
    added = client.post(f"/api/v1/risk-cases/{case['id']}/actions/", {"title": "Dinner"}, content_type="application/json").json()
    assert all(a["plan_action_id"] for a in added["actions"])
