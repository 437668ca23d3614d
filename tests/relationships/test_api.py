import datetime
import json

import pytest

from keyplan.relationships.models import InfluenceLine, Interaction, Stakeholder


def body(response):
    return json.loads(response.content)


def base(account):
    return f"/api/v1/accounts/{account.pk}"


class TestReach:
    @pytest.mark.parametrize("path", ["/stakeholders/", "/influence-lines/", "/interactions/", "/who-to-win", "/map.svg",
                                      "/relationship-gaps", "/stale-relationships", "/meetings.ics"])
    def test_another_teams_account_is_404(self, path, kam_account, make_account, kam, api_client):
        other = make_account("Secret Corp")
        response = api_client(kam).get(base(other) + path)
        assert response.status_code == 404 and body(response) == {"detail": "Not found."}

    def test_writes_to_another_teams_account_are_404(self, kam_account, make_account, make_stakeholder, kam, api_client):
        other = make_account("Secret Corp")
        person = make_stakeholder(other, "Hidden")
        client = api_client(kam)
        assert client.post(base(other) + "/stakeholders/", {"name": "X"}, content_type="application/json").status_code == 404
        assert client.patch(base(other) + f"/stakeholders/{person.pk}", {"name": "X"}, content_type="application/json").status_code == 404
        assert client.delete(base(other) + f"/stakeholders/{person.pk}").status_code == 404
        # A stakeholder of a hidden account named from a visible one: not found, not "another account".
        response = client.post(base(kam_account) + "/stakeholders/", {"name": "X", "reports_to_id": person.pk},
                               content_type="application/json")
        assert response.status_code == 422 and body(response)["detail"][0]["loc"] == ["body", "reports_to_id"]
        assert Stakeholder.objects.get(pk=person.pk).name == "Hidden"

    def test_viewer_writes_are_403(self, kam_account, viewer, cfo_case, api_client):
        client = api_client(viewer)
        assert client.get(base(kam_account) + "/stakeholders/").status_code == 200
        cfo = cfo_case["cfo"]
        for response in (
            client.post(base(kam_account) + "/stakeholders/", {"name": "X"}, content_type="application/json"),
            client.patch(base(kam_account) + f"/stakeholders/{cfo.pk}", {"sentiment": "supporter"}, content_type="application/json"),
            client.delete(base(kam_account) + f"/stakeholders/{cfo.pk}"),
            client.post(base(kam_account) + "/influence-lines/", {"source_id": cfo.pk, "target_id": cfo_case["ceo"].pk},
                        content_type="application/json"),
            client.post(base(kam_account) + "/interactions/", {"date": "2026-01-01", "summary": "x"}, content_type="application/json"),
        ):
            assert response.status_code == 403, response.content
        assert Stakeholder.objects.get(pk=cfo.pk).sentiment == "critic" and not Interaction.objects.exists()

    def test_without_token_is_401(self, kam_account):
        from django.test import Client

        assert Client().get(base(kam_account) + "/stakeholders/").status_code == 401


class TestStakeholders:
    def test_create_list_filter_patch_and_remove(self, kam_account, kam, api_client, cfo_case):
        client = api_client(kam)
        created = client.post(base(kam_account) + "/stakeholders/", {
            "name": "Petra Procurement", "department": "Procurement", "buying_role": "gatekeeper", "decision_power": "medium",
            "sentiment": "neutral", "reports_to_id": cfo_case["cfo"].pk, "owner_id": kam.pk, "is_key_contact": True,
        }, content_type="application/json")
        assert created.status_code == 201, created.content
        petra = body(created)
        assert petra["reports_to_id"] == cfo_case["cfo"].pk and petra["owner"]["username"] == "kam"
        assert petra["contact"] == "none" and petra["last_contact"] is None and petra["is_external"] is False
        listing = body(client.get(base(kam_account) + "/stakeholders/", {"limit": 2}))
        assert listing["count"] == 5 and len(listing["items"]) == 2
        assert [s["name"] for s in body(client.get(base(kam_account) + "/stakeholders/", {"side": "external"}))["items"]] == ["Arne Audit"]
        assert body(client.get(base(kam_account) + "/stakeholders/", {"key_contact": "true"}))["count"] == 1
        patched = client.patch(base(kam_account) + f"/stakeholders/{petra['id']}", {"sentiment": "supporter"},
                               content_type="application/json")
        assert patched.status_code == 200 and body(patched)["sentiment"] == "supporter"
        removed = client.delete(base(kam_account) + f"/stakeholders/{petra['id']}")
        assert removed.status_code == 200 and body(removed) == {"id": petra["id"], "archived": False}
        assert not Stakeholder.objects.filter(pk=petra["id"]).exists()

    def test_remove_with_interactions_archives_and_restore(self, kam_account, kam, api_client, cfo_case, log):
        log(kam_account, cfo_case["cfo"])
        client = api_client(kam)
        removed = body(client.delete(base(kam_account) + f"/stakeholders/{cfo_case['cfo'].pk}"))
        assert removed["archived"] is True
        assert body(client.get(base(kam_account) + f"/stakeholders/{cfo_case['cfo'].pk}"))["archived_at"] is not None
        assert body(client.get(base(kam_account) + "/stakeholders/", {"archived": "true"}))["count"] == 1
        restored = client.post(base(kam_account) + f"/stakeholders/{cfo_case['cfo'].pk}/restore")
        assert restored.status_code == 200 and body(restored)["archived_at"] is None

    @pytest.mark.parametrize("payload, field", [
        ({"name": "X", "sentiment": "enthusiastic"}, "sentiment"),
        ({"name": "X", "decision_power": "absolute"}, "decision_power"),
        ({"name": "X", "buying_role": "king"}, "buying_role"),
        ({"name": "X", "reports_to_id": 999999}, "reports_to_id"),
        ({"name": "X", "owner_id": 999999}, "owner_id"),
        ({"name": "X", "email": "nope"}, "email"),
        ({"name": ""}, "name"),
    ])
    def test_bad_input_is_422_naming_the_field(self, kam_account, kam, api_client, payload, field):
        response = api_client(kam).post(base(kam_account) + "/stakeholders/", payload, content_type="application/json")
        assert response.status_code == 422
        assert field in [d["loc"][-1] for d in body(response)["detail"]]
        assert not Stakeholder.objects.exists()

    def test_reports_to_cycle_is_422(self, kam_account, kam, api_client, cfo_case):
        response = api_client(kam).patch(base(kam_account) + f"/stakeholders/{cfo_case['ceo'].pk}",
                                         {"reports_to_id": cfo_case["cfo"].pk}, content_type="application/json")
        assert response.status_code == 422 and body(response)["detail"][0]["loc"] == ["body", "reports_to_id"]
        assert "cycle" in body(response)["detail"][0]["msg"]
        assert Stakeholder.objects.get(pk=cfo_case["ceo"].pk).reports_to is None

    def test_stakeholder_of_another_visible_account_is_refused(self, kam_account, lead, api_client, make_account, make_stakeholder):
        other = make_stakeholder(make_account("Other"), "Otto")
        response = api_client(lead).post(base(kam_account) + "/stakeholders/", {"name": "X", "reports_to_id": other.pk},
                                         content_type="application/json")
        assert response.status_code == 422 and "another account" in body(response)["detail"][0]["msg"]

    def test_history(self, kam_account, kam, api_client, cfo_case):
        client = api_client(kam)
        client.patch(base(kam_account) + f"/stakeholders/{cfo_case['cfo'].pk}", {"sentiment": "neutral"}, content_type="application/json")
        history = body(client.get(base(kam_account) + f"/stakeholders/{cfo_case['cfo'].pk}/history"))["items"]
        assert history[0]["action"] == "changed" and history[0]["changes"][0]["new"] == "Neutral"


class TestInfluenceLines:
    def test_draw_change_remove(self, kam_account, kam, api_client, cfo_case):
        client = api_client(kam)
        created = client.post(base(kam_account) + "/influence-lines/", {
            "source_id": cfo_case["ceo"].pk, "target_id": cfo_case["cfo"].pk, "polarity": "negative", "strength": "weak",
            "since": "2024-05-01"}, content_type="application/json")
        assert created.status_code == 201
        line = body(created)
        assert line["source"] == {"id": cfo_case["ceo"].pk, "name": "Clara Ceo"} and line["since"] == "2024-05-01"
        assert body(client.get(base(kam_account) + "/influence-lines/"))["count"] == 3
        patched = client.patch(base(kam_account) + f"/influence-lines/{line['id']}", {"strength": "strong"}, content_type="application/json")
        assert body(patched)["strength"] == "strong"
        assert client.delete(base(kam_account) + f"/influence-lines/{line['id']}").status_code == 204
        assert InfluenceLine.objects.count() == 2

    @pytest.mark.parametrize("change, field", [
        ({"target": "self"}, "target_id"),
        ({"strength": "enormous"}, "strength"),
        ({"polarity": "mixed"}, "polarity"),
        ({"target": "missing"}, "target_id"),
    ])
    def test_bad_lines_are_422(self, kam_account, kam, api_client, cfo_case, change, field):
        payload = {"source_id": cfo_case["ceo"].pk, "target_id": cfo_case["cfo"].pk}
        if change.pop("target", None) == "self":
            payload["target_id"] = cfo_case["ceo"].pk
        elif field == "target_id":
            payload["target_id"] = 999999
        payload.update(change)
        response = api_client(kam).post(base(kam_account) + "/influence-lines/", payload, content_type="application/json")
        assert response.status_code == 422 and field in [d["loc"][-1] for d in body(response)["detail"]]
        assert InfluenceLine.objects.count() == 2


class TestInteractions:
    def test_log_list_and_duplicates(self, kam_account, kam, sales, api_client, cfo_case, today):
        due = (today + datetime.timedelta(days=5)).isoformat()
        first = api_client(kam).post(base(kam_account) + "/interactions/", {
            "kind": "meeting", "date": today.isoformat(), "summary": "Budget round", "stakeholder_ids": [cfo_case["cfo"].pk],
            "user_ids": [kam.pk], "next_step": "Send the revised offer", "next_step_owner_id": kam.pk, "next_step_due": due,
        }, content_type="application/json")
        assert first.status_code == 201, first.content
        second = api_client(sales).post(base(kam_account) + "/interactions/", {
            "kind": "call", "date": today.isoformat(), "summary": "Call with ops", "stakeholder_ids": [cfo_case["ops"].pk],
            "next_step": "send the revised offer!", "next_step_due": due,
        }, content_type="application/json")
        assert second.status_code == 201
        log = body(api_client(kam).get(base(kam_account) + "/interactions/"))
        assert log["count"] == 2 and [i["summary"] for i in log["items"]] == ["Call with ops", "Budget round"]
        assert log["items"][0]["possible_duplicate_of"] == [body(first)["id"]]
        assert log["items"][1]["stakeholders"] == [{"id": cfo_case["cfo"].pk, "name": "Frank Finance"}]
        calls = body(api_client(kam).get(base(kam_account) + "/interactions/", {"kind": "call"}))
        assert calls["count"] == 1
        stakeholder = body(api_client(kam).get(base(kam_account) + f"/stakeholders/{cfo_case['cfo'].pk}"))
        assert stakeholder["last_contact"] == today.isoformat() and stakeholder["contact"] == "weak"

    def test_bad_interaction_is_422(self, kam_account, kam, api_client, outsider, today):
        client = api_client(kam)
        for payload, field in (
            ({"kind": "telepathy", "date": today.isoformat(), "summary": "x"}, "kind"),
            ({"date": today.isoformat(), "summary": "x", "user_ids": [outsider.pk]}, "users"),
            ({"date": today.isoformat(), "summary": "x", "stakeholder_ids": [999999]}, "stakeholder_ids"),
            ({"date": today.isoformat(), "summary": "  "}, "summary"),
        ):
            response = client.post(base(kam_account) + "/interactions/", payload, content_type="application/json")
            assert response.status_code == 422 and field in [d["loc"][-1] for d in body(response)["detail"]], payload
        assert client.get(base(kam_account) + "/interactions/", {"limit": 0}).status_code == 422
        assert not Interaction.objects.exists()

    def test_ics(self, kam_account, kam, api_client, cfo_case, log):
        log(kam_account, cfo_case["cfo"], days_ago=-3, summary="Dinner")
        response = api_client(kam).get(base(kam_account) + "/meetings.ics")
        assert response.status_code == 200 and b"BEGIN:VCALENDAR" in response.content and b"Dinner" in response.content


class TestAnalyses:
    def test_who_to_win_shape(self, kam_account, kam, api_client, cfo_case):
        ranking = body(api_client(kam).get(base(kam_account) + "/who-to-win"))["items"]
        first = ranking[0]
        assert first["stakeholder"] == {"id": cfo_case["cfo"].pk, "name": "Frank Finance"}
        ops, ceo, cfo = ({"id": cfo_case[k].pk, "name": n} for k, n in (
            ("ops", "Olga Operations"), ("ceo", "Clara Ceo"), ("cfo", "Frank Finance")))
        # The golf line first; then up Olga's reporting line to the CEO and down to the CFO.
        assert first["paths"] == [[ops, cfo], [ops, ceo, cfo]]
        assert [d["links"] for d in first["path_details"]] == [["influence"], ["reporting", "reporting"]]
        assert [d["weakest_line"] for d in first["path_details"]] == ["strong", "reporting"]
        assert first["path_details"][0]["owner"] == {"id": kam.pk, "username": "kam", "name": "Karl Kam"}
        assert first["best_path_owner"] == {"id": kam.pk, "username": "kam", "name": "Karl Kam"}
        assert first["path_details"][0]["stale"] is True and first["path_details"][0]["start_last_contact"] is None
        assert {"code": "critic", "text": "Critical of us."} in first["reasons"]
        assert first["risks"] == [{"stakeholder": {"id": cfo_case["auditor"].pk, "name": "Arne Audit"},
                                   "strength": "medium", "note": "Questions our pricing"}]
        assert first["no_path"] is False and any(t["no_path"] for t in ranking)

    def test_gaps_and_stale(self, kam_account, kam, api_client, cfo_case, log, today):
        client = api_client(kam)
        gaps = body(client.get(base(kam_account) + "/relationship-gaps"))
        assert gaps["decision_makers_without_owner"] == [{"id": cfo_case["cfo"].pk, "name": "Frank Finance"}]
        assert {c["department"] for c in gaps["buying_centers_without_contact"]} == set()  # Finance has weak contact
        log(kam_account, cfo_case["cfo"], days_ago=75)
        stale = body(client.get(base(kam_account) + "/stale-relationships"))
        # Olga Operations is no decision maker, but her medium decision power is watched.
        assert stale["count"] == 3 and [(s["stakeholder"]["name"], s["days_since"]) for s in stale["items"]] == [
            ("Clara Ceo", None), ("Olga Operations", None), ("Frank Finance", 75)]
        assert body(client.get(base(kam_account) + "/stale-relationships", {"days": 80, "limit": 1})) == {"count": 2, "items": [
            {"account": {"id": kam_account.pk, "name": "Acme Manufacturing"}, "stakeholder": {"id": cfo_case["ceo"].pk, "name": "Clara Ceo"},
             "key_contact": False, "buying_role": "decision_maker", "decision_power": "high", "last_contact": None,
             "days_since": None, "owner": {"id": kam.pk, "username": "kam", "name": "Karl Kam"}}]}
        second = body(client.get(base(kam_account) + "/stale-relationships", {"days": 80, "limit": 1, "offset": 1}))
        assert second["count"] == 2 and second["items"][0]["stakeholder"]["name"] == "Olga Operations"
        assert client.get(base(kam_account) + "/stale-relationships", {"days": 0}).status_code == 422
        assert client.get(base(kam_account) + "/stale-relationships", {"limit": 0}).status_code == 422
        assert client.get(base(kam_account) + "/stale-relationships", {"offset": -1}).status_code == 422
        frank = next(s for s in stale["items"] if s["stakeholder"]["name"] == "Frank Finance")
        assert frank["owner"] is None
        portfolio = body(client.get("/api/v1/relationships/stale", {"limit": 1}))
        assert portfolio["count"] == 3 and len(portfolio["items"]) == 1
        assert portfolio["items"][0]["owner"] == {"id": kam.pk, "username": "kam", "name": "Karl Kam"}

    def test_openapi_lists_the_endpoints(self, db):
        from django.test import Client

        paths = body(Client().get("/api/v1/openapi.json"))["paths"]
        for path in ("stakeholders/", "influence-lines/", "interactions/", "who-to-win", "map.svg"):
            assert f"/api/v1/accounts/{{account_id}}/{path}" in paths


def test_key_contact_false_lists_only_the_others(kam_account, kam, api_client, cfo_case):
    client = api_client(kam)
    client.patch(base(kam_account) + f"/stakeholders/{cfo_case['ceo'].pk}", {"is_key_contact": True},
                 content_type="application/json")
    every = body(client.get(base(kam_account) + "/stakeholders/"))["items"]
    key = body(client.get(base(kam_account) + "/stakeholders/?key_contact=true"))["items"]
    others = body(client.get(base(kam_account) + "/stakeholders/?key_contact=false"))["items"]
    assert key and others, "the case needs both kinds"
    assert all(p["is_key_contact"] for p in key) and not any(p["is_key_contact"] for p in others)
    assert sorted(p["id"] for p in key + others) == sorted(p["id"] for p in every)
