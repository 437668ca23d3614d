"""The health pages: the dashboard, the queue, a case, the account's health, reviews and settings."""

import datetime

from django.urls import reverse

from keyplan.health import services
from keyplan.health.models import AccountReview, RiskCase, SurveyResponse
from tests.conftest import client_for


def test_dashboard_and_queue(lead, kam, key_account, subscribe, today):
    subscribe(key_account, "Standard", 1490)
    services.open_case(key_account, by=lead, reason="CFO left")
    services.take_snapshot(today=today)
    body = client_for(lead).get(reverse("health:dashboard")).content.decode()
    for text in ("MRR and ARR by plan", "Premium upsell opportunity", "Key accounts, weakest first", key_account.name, "1,490"):
        assert text in body, text
    queue = client_for(kam).get(reverse("health:queue")).content.decode()
    assert key_account.name in queue and "CFO left" in queue
    mine = client_for(kam).get(reverse("health:dashboard")).content.decode()
    assert "My key accounts" in mine and "Premium upsell opportunity" not in mine


def test_the_snapshot_button_is_for_leads_and_queues_the_snapshot(lead, kam, key_account, django_capture_on_commit_callbacks):
    from django_tasks_db.models import DBTaskResult

    from keyplan.health.tasks import take_snapshot

    assert client_for(kam).post(reverse("health:snapshot")).status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        assert client_for(lead).post(reverse("health:snapshot")).status_code == 302
    queued = DBTaskResult.objects.get()
    assert queued.task_path.endswith("take_snapshot")
    assert take_snapshot.call(*queued.args_kwargs["args"])["accounts"] == 1  # what the worker runs


def test_account_health_page_records_surveys_and_reviews(kam, key_account, today, outsider):
    client = client_for(kam)
    url = reverse("health:account", args=[key_account.pk])
    page = client.get(url).content.decode()
    assert "Health score" in page and "Satisfaction" in page
    bad = client.post(reverse("health:survey_add", args=[key_account.pk]),
                      {"kind": "nps", "score": 12, "responded_on": today.isoformat()})
    assert bad.status_code == 422 and "NPS is a whole number from 0 to 10" in bad.content.decode()
    assert not SurveyResponse.objects.exists()
    ok = client.post(reverse("health:survey_add", args=[key_account.pk]), {"kind": "nps", "score": 9, "responded_on": today.isoformat()})
    assert ok.status_code == 302 and SurveyResponse.objects.get().score == 9
    future = client.post(reverse("health:review_add", args=[key_account.pk]),
                         {"held_on": (today + datetime.timedelta(days=2)).isoformat()})
    assert future.status_code == 422 and "is in the future" in future.content.decode()
    assert client.post(reverse("health:review_add", args=[key_account.pk]),
                       {"held_on": today.isoformat(), "decisions": "Offer a 3-year deal"}).status_code == 302
    assert AccountReview.objects.get().decisions == "Offer a 3-year deal"
    assert client_for(outsider).get(url).status_code == 404


def test_case_page_refuses_to_close_without_outcome(kam, key_account, today):
    client = client_for(kam)
    client.post(reverse("health:case_open", args=[key_account.pk]), {"reason": "Critic in the board"})
    case = RiskCase.objects.get()
    url = reverse("health:case", args=[case.pk])
    refused = client.post(url, {"what": "close", "outcome": ""})
    assert refused.status_code == 422 and "A case closes with its outcome" in refused.content.decode()
    assert client.post(url, {"what": "action", "title": "Board dinner"}).status_code == 302
    assert client.post(url, {"what": "close", "outcome": "churned", "closed_on": today.isoformat()}).status_code == 302
    case.refresh_from_db()
    assert case.outcome == "churned" and case.actions.get().title == "Board dinner"


def test_settings_page(lead, kam):
    assert "Only KAM leads and admins change these settings." in client_for(kam).get(reverse("health:settings")).content.decode()
    form = {"green_from": 75, "amber_from": 45, "engagement_target": 6, "mrr_drop_percent": 25, "overdue_actions_max": 3,
            "low_engagement": 2, "rules": ["red_score"], "upsell_plan": "", "upsell_from": 80, "cadence_key": "",
            "cadence_candidate": "quarterly", "cadence_standard": "none", "checkin_key": "monthly", "checkin_candidate": "none", "checkin_standard": "none", "weight_satisfaction": 30, "weight_engagement": 20,
            "weight_mrr_movement": 20, "weight_overdue_actions": 15, "weight_decision_makers": 15,
            "weight_usage": 10, "weight_tickets": 10, "weight_onboarding": 5, "weight_payments": 5}
    assert client_for(lead).post(reverse("health:settings"), form).status_code == 302
    row = services.health_settings()
    assert row.green_from == 75 and row.weights["satisfaction"] == 30 and row.rules == ["red_score"]
    bad = client_for(lead).post(reverse("health:settings"), form | {"amber_from": 80})
    assert bad.status_code == 422 and "Amber must start below green" in bad.content.decode()


def test_reviews_page(lead, key_account):
    body = client_for(lead).get(reverse("health:reviews")).content.decode()
    assert key_account.name in body and "Quarterly" in body


def test_backtest_page_and_api(lead, kam, key_account, api_client):
    body = client_for(lead).get(reverse("health:backtest")).content.decode()
    assert "Does the score predict?" in body and "Too few observations to judge yet" in body
    assert client_for(kam).get(reverse("health:backtest")).status_code == 403
    data = api_client(lead).get("/api/v1/health/backtest?months=6&horizon=3").json()
    assert data["months"] == 6 and set(data["bands"]) == {"green", "amber", "red"} and data["judged"] is False
    assert api_client(lead).get("/api/v1/health/backtest?months=99").status_code == 422
    assert api_client(kam).get("/api/v1/health/backtest").status_code == 403


def test_case_page_puts_the_save_plan_into_the_account_plan(kam, lead, key_account):
    from keyplan.planning import services as planning

    case = services.open_case(key_account, by=lead, reason="CFO left")
    client = client_for(kam)
    url = reverse("health:case", args=[case.pk])
    client.post(url, {"what": "action", "title": "Call the new CFO"})
    assert "no active or draft account plan" in client.get(url).content.decode()
    plan = planning.create_plan(key_account, by=kam, period="FY2027")
    body = client.get(url).content.decode()
    assert "Put the save plan into the account plan" in body
    assert client.post(url, {"what": "link"}).status_code == 302
    body = client.get(url).content.decode()
    assert "Its actions are in the account plan" in body and reverse("planning:plan", args=[key_account.pk, plan.pk]) in body
    plan_page = client.get(reverse("planning:plan", args=[key_account.pk, plan.pk])).content.decode()
    assert "Call the new CFO" in plan_page and "Keep the account: save plan" in plan_page


def test_dashboard_draws_the_mrr_at_risk_and_the_plans_over_time(lead, key_account, subscribe, today, api_client):
    import json

    subscribe(key_account, "Premium", 3900)
    services.take_snapshot(today=today - datetime.timedelta(days=7))
    services.open_case(key_account, by=lead, reason="CFO left")
    services.take_snapshot(today=today)
    body = client_for(lead).get(reverse("health:dashboard")).content.decode()
    assert "MRR at risk over time" in body and "MRR by plan over time" in body
    figure = json.loads(body.split('<script id="risk-figure" type="application/json">')[1].split("</script>")[0])
    assert figure["data"][0]["y"] == [0, 3900] and figure["data"][1]["y"] == [0, 1]
    plans = json.loads(body.split('<script id="plan-figure" type="application/json">')[1].split("</script>")[0])
    assert plans["data"][0]["name"] == "Premium" and plans["data"][0]["y"] == [3900, 3900]
    data = api_client(lead).get("/api/v1/dashboard").json()
    assert [t["mrr_at_risk"] for t in data["mrr_at_risk_trend"]] == [0, 3900]
    assert data["mrr_by_plan_trend"][-1] == {"day": today.isoformat(), "mrr_by_plan": {"Premium": 3900.0}}
