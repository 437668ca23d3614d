import datetime

from keyplan.accounts import services as accounts
from keyplan.accounts.models import TeamRole, Tier
from keyplan.scoring import services
from keyplan.scoring.models import Criterion, Proposal, Score


def test_analysis_scores_returns_totals_and_ranks(api_client, lead, worked_example):
    response = api_client(lead).get("/api/v1/analysis/scores")
    assert response.status_code == 200
    rows = response.json()["accounts"]
    assert [(r["name"], r["growth_total"], r["harmony_total"], r["total"], r["rank"]) for r in rows] == [
        ("Charlie", 6.85, 8.7, 7.78, 1), ("Alpha", 7.55, 6.9, 7.23, 2), ("Bravo", 8.5, 4.7, 6.6, 3)]
    assert rows[0]["scores"]["Product fit"] == 6


def test_analysis_scores_wins_over_the_portfolio_analyses_route(api_client, lead):
    # /analysis/{name} accepts only the portfolio analyses; "scores" must reach this endpoint instead (200, not 422).
    response = api_client(lead).get("/api/v1/analysis/scores")
    assert response.status_code == 200 and "accounts" in response.json() and "formula" in response.json()


def test_team_member_sees_only_own_accounts_but_portfolio_ranks(api_client, lead, kam, worked_example):
    accounts.add_team_member(worked_example["Bravo"], by=lead, user=kam, role=TeamRole.KAM)
    rows = api_client(kam).get("/api/v1/analysis/scores").json()["accounts"]
    assert [(r["name"], r["rank"]) for r in rows] == [("Bravo", 3)]


def test_criteria_api_with_group_and_bad_input(api_client, lead, kam, criteria):
    client = api_client(lead)
    body = client.get("/api/v1/criteria/?group=harmony").json()["items"]
    assert [c["name"] for c in body] == ["Cultural fit", "Strategic fit", "Shared vision"]
    assert {c["group"] for c in body} == {"harmony"}
    for payload, field in [({"name": "X", "group": "growth", "weight": -1}, "weight"),
                           ({"name": "X", "group": "", "weight": 5}, "group"),
                           ({"name": "product fit", "group": "growth", "weight": 5}, "name")]:
        response = client.post("/api/v1/criteria/", payload, content_type="application/json")
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["body", field]
    assert Criterion.objects.count() == 6
    assert api_client(kam).post("/api/v1/criteria/", {"name": "X", "group": "growth"}, content_type="application/json").status_code == 403
    created = client.post("/api/v1/criteria/", {"name": "Reach", "group": "growth", "weight": 10}, content_type="application/json")
    assert created.status_code == 201 and created.json()["group"] == "growth"
    assert client.delete(f"/api/v1/criteria/{created.json()['id']}").json() == {"result": "deleted"}


def test_scores_api_with_404_403_and_422(api_client, lead, kam, outsider, viewer, criteria, kam_account):
    payload = {"account_id": kam_account.pk, "criterion_id": criteria[0].pk, "value": 7, "note": "ok"}
    assert api_client(outsider).post("/api/v1/scores/", payload, content_type="application/json").status_code == 404
    assert api_client(viewer).post("/api/v1/scores/", payload, content_type="application/json").status_code == 403
    bad = api_client(kam).post("/api/v1/scores/", {**payload, "value": 0}, content_type="application/json")
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "value"]
    assert not Score.objects.exists()
    assert api_client(kam).post("/api/v1/scores/", payload, content_type="application/json").status_code == 200
    api_client(lead).post("/api/v1/scores/", {**payload, "value": 9}, content_type="application/json")
    history = api_client(kam).get(f"/api/v1/scores/history?account_id={kam_account.pk}&criterion_id={criteria[0].pk}").json()["items"]
    assert [(h["value"], h["by"]) for h in history] == [(9, "lead"), (7, "kam")]
    assert api_client(kam).get("/api/v1/scores/").json()["count"] == 1
    assert api_client(outsider).get("/api/v1/scores/").json()["count"] == 0


def test_rounds_proposals_and_reviews_api(api_client, lead, kam, make_user, worked_example):
    accounts.set_tier(worked_example["Bravo"], by=lead, tier=Tier.KEY, reason="Big")
    for name in ("Alpha", "Charlie"):
        accounts.add_team_member(worked_example[name], by=lead, user=make_user(f"k{name}", kam_capacity=1), role=TeamRole.KAM)
    client = api_client(lead)
    assert api_client(kam).post("/api/v1/rounds/", {"name": "FY2026"}, content_type="application/json").status_code == 403
    created = client.post("/api/v1/rounds/", {"name": "FY2026"}, content_type="application/json")
    assert created.status_code == 201 and created.json()["capacity"] == 2
    round_id = created.json()["id"]
    assert client.post("/api/v1/rounds/", {"name": "FY2026"}, content_type="application/json").status_code == 422
    proposals = client.get(f"/api/v1/proposals/?round_id={round_id}").json()["items"]
    assert sorted((p["action"], p["rank"]) for p in proposals) == [("demote", 3), ("promote", 1), ("promote", 2)]
    demote = next(p for p in proposals if p["action"] == "demote")
    refused = client.post(f"/api/v1/proposals/{demote['id']}/accept", {}, content_type="application/json")
    assert refused.status_code == 422 and {d["loc"][1] for d in refused.json()["detail"]} == {"reason", "effective_date"}
    accepted = client.post(f"/api/v1/proposals/{demote['id']}/accept",
                           {"reason": "Poor fit", "effective_date": "2026-09-30"}, content_type="application/json")
    assert accepted.json()["status"] == "accepted"
    worked_example["Bravo"].refresh_from_db()
    assert worked_example["Bravo"].tier == Tier.CANDIDATE
    assert client.get("/api/v1/proposals/999999/accept").status_code in (404, 405)
    review = client.post("/api/v1/reviews/", {"as_of": datetime.date.today().isoformat()}, content_type="application/json")
    assert review.status_code == 201 and "rising" in review.json()["findings"]
    assert api_client(kam).get("/api/v1/reviews/").status_code == 404
    decision = client.post(f"/api/v1/reviews/{review.json()['id']}/decisions",
                           {"account_id": worked_example["Alpha"].pk, "action": "watch", "note": "Next quarter"},
                           content_type="application/json")
    assert decision.status_code == 201 and decision.json()["decisions"][0]["action"] == "watch"
    assert Proposal.objects.filter(status="accepted").count() == 1


def test_selection_settings_read_by_all_changed_by_leads(api_client, lead, kam):
    client = api_client(lead)
    assert client.get("/api/v1/selection-settings").json() == {
        "review_cadence": "quarterly", "team_cost_per_member": "12000.00", "next_review_due": None}
    review = client.post("/api/v1/reviews/", {"as_of": "2026-01-31"}, content_type="application/json")
    assert review.status_code == 201
    changed = client.patch("/api/v1/selection-settings", {"review_cadence": "monthly", "team_cost_per_member": 15000},
                           content_type="application/json")
    assert changed.status_code == 200
    assert changed.json() == {"review_cadence": "monthly", "team_cost_per_member": "15000.00",
                              "next_review_due": "2026-02-28"}  # a month after the review, at the month's end
    assert api_client(kam).get("/api/v1/selection-settings").json()["review_cadence"] == "monthly"
    refused = api_client(kam).patch("/api/v1/selection-settings", {"review_cadence": "quarterly"}, content_type="application/json")
    assert refused.status_code == 403
    for payload, field in [({"review_cadence": "weekly"}, "review_cadence"), ({"team_cost_per_member": -5}, "team_cost_per_member")]:
        response = client.patch("/api/v1/selection-settings", payload, content_type="application/json")
        assert response.status_code == 422 and field in str(response.json())
    assert services.scoring_settings().review_cadence == "monthly"


def test_an_estimate_through_the_api_and_the_referrer_of_an_account(lead, api_client, make_account):
    coverage = services.add_suggested_criterion(by=lead, key="existing_relationship")
    prospect, hub = make_account("Prospect"), make_account("Hub")
    client = api_client(lead)
    response = client.post("/api/v1/scores/", {"account_id": prospect.pk, "criterion_id": coverage.pk, "value": 6},
                           content_type="application/json")
    assert response.status_code == 200 and response.json()["estimate"] is True and response.json()["computed_at"] is None
    rows = {r["name"]: r for r in client.get("/api/v1/analysis/scores").json()["accounts"]}
    assert rows["Prospect"]["estimates"] == ["Existing relationship"] and rows["Hub"]["estimates"] == []
    response = client.patch(f"/api/v1/accounts/{prospect.pk}", {"referred_by_id": hub.pk}, content_type="application/json")
    assert response.status_code == 200 and response.json()["referred_by_id"] == hub.pk
    response = client.patch(f"/api/v1/accounts/{prospect.pk}", {"referred_by_id": 999999}, content_type="application/json")
    assert response.status_code == 422 and "referred_by_id" in response.content.decode()
