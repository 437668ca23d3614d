"""The API counterparts the completeness walk (test_completeness.py) asked for: KAM capacity, suggested criteria,
restoring a criterion, refreshing computed scores, queueing the health snapshot."""

import json

from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from keyplan.accounts import services as accounts
from keyplan.accounts.models import TeamRole, Tier
from keyplan.scoring import services as scoring
from keyplan.scoring.models import Criterion


def body(response):
    return json.loads(response.content)


def put(client, url, data):
    return client.put(url, json.dumps(data), content_type="application/json")


def post(client, url, data=None):
    return client.post(url, json.dumps(data or {}), content_type="application/json")


class TestKamCapacity:
    def test_workload_and_capacity(self, api_client, lead, kam, account):
        accounts.add_team_member(account, by=lead, user=kam, role=TeamRole.KAM)
        accounts.set_tier(account, by=lead, tier=Tier.KEY, reason="Top customer")
        listed = body(api_client(lead).get("/api/v1/kams/"))
        assert [(row["username"], row["key_accounts"]) for row in listed] == [("kam", [account.pk])]
        answer = put(api_client(lead), f"/api/v1/kams/{kam.pk}/capacity", {"kam_capacity": 0})
        assert answer.status_code == 200, answer.content
        assert body(answer)["capacity"] == 0 and body(answer)["over_capacity"] is True
        kam.refresh_from_db()
        assert kam.kam_capacity == 0
        assert body(put(api_client(lead), f"/api/v1/kams/{kam.pk}/capacity", {"kam_capacity": None}))["kam_capacity"] is None

    def test_refused(self, api_client, lead, kam):
        assert put(api_client(kam), f"/api/v1/kams/{kam.pk}/capacity", {"kam_capacity": 9}).status_code == 403
        too_many = put(api_client(lead), f"/api/v1/kams/{kam.pk}/capacity", {"kam_capacity": 51})
        assert too_many.status_code == 422
        assert body(too_many)["detail"][0]["loc"] == ["body", "kam_capacity"]
        assert put(api_client(lead), "/api/v1/kams/999999/capacity", {"kam_capacity": 3}).status_code == 404
        kam.refresh_from_db()
        assert kam.kam_capacity is None


class TestCriteria:
    def test_suggested(self, api_client, lead, kam):
        key = next(iter(scoring.SUGGESTED_BY_KEY))
        assert post(api_client(kam), "/api/v1/criteria/suggested", {"key": key}).status_code == 403
        made = post(api_client(lead), "/api/v1/criteria/suggested", {"key": key, "weight": 30})
        assert made.status_code == 201, made.content
        assert Criterion.objects.get(pk=body(made)["id"]).weight == 30
        wrong = post(api_client(lead), "/api/v1/criteria/suggested", {"key": "nope"})
        assert wrong.status_code == 422 and body(wrong)["detail"][0]["loc"] == ["body", "key"]

    def test_restore(self, api_client, lead):
        criterion = scoring.create_criterion(by=lead, name="Product fit", group="growth", weight=50)
        Criterion.objects.filter(pk=criterion.pk).update(archived_at=timezone.now())
        answer = post(api_client(lead), f"/api/v1/criteria/{criterion.pk}/restore")
        assert answer.status_code == 200 and body(answer)["archived_at"] is None
        criterion.refresh_from_db()
        assert criterion.archived_at is None

    def test_refresh(self, api_client, lead, kam):
        assert post(api_client(kam), "/api/v1/criteria/refresh").status_code == 403
        answer = post(api_client(lead), "/api/v1/criteria/refresh")
        assert answer.status_code == 200
        assert set(body(answer)) == {"created", "updated", "removed", "skipped"}


class TestHealthSnapshot:
    def test_queued_for_the_worker(self, api_client, lead, kam, django_capture_on_commit_callbacks):
        assert post(api_client(kam), "/api/v1/health/snapshots").status_code == 403
        with django_capture_on_commit_callbacks(execute=True):
            answer = post(api_client(lead), "/api/v1/health/snapshots")
        assert answer.status_code == 202
        assert body(answer) == {"queued": timezone.localdate().isoformat()}
        assert DBTaskResult.objects.filter(task_path="keyplan.health.tasks.take_snapshot").count() == 1
