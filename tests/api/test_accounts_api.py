import json
import re

import pytest
from django.test import Client

from keyplan.accounts.models import Account, TeamMember, Tier


def body(response):
    return json.loads(response.content)


class TestAuth:
    def test_without_token_is_401(self, account):
        response = Client().get("/api/v1/accounts/")
        assert response.status_code == 401
        assert "detail" in body(response)

    def test_bad_token_is_401(self, account):
        assert Client(headers={"Authorization": "Bearer kp_nope"}).get("/api/v1/accounts/").status_code == 401

    def test_session_works_for_reads(self, lead, account):
        client = Client()
        client.force_login(lead)
        assert body(client.get("/api/v1/accounts/"))["count"] == 1

    def test_openapi_and_docs(self, db):
        spec = Client().get("/api/v1/openapi.json")
        assert spec.status_code == 200
        paths = body(spec)["paths"]
        assert "/api/v1/accounts/" in paths and "/api/v1/accounts/{account_id}/team/" in paths
        docs = Client().get("/api/v1/docs")
        assert docs.status_code == 200 and b"swagger-ui-bundle.js" in docs.content
        # Every script and style comes from our own static files (no CDN); the page's random CSRF token
        # may spell anything, so the addresses are checked, not the whole text.
        addresses = re.findall(r'(?:src|href)="([^"]*)"', docs.content.decode())
        assert addresses and all(address.startswith("/static/") for address in addresses), addresses


class TestAccountsApi:
    def test_list_is_paginated_and_filtered(self, lead, api_client, make_account):
        for i in range(7):
            make_account(f"Firm {i}", country="DE" if i < 3 else "NL")
        client = api_client(lead)
        page = body(client.get("/api/v1/accounts/", {"limit": 5, "offset": 0}))
        assert page["count"] == 7 and len(page["items"]) == 5
        assert body(client.get("/api/v1/accounts/", {"country": "DE"}))["count"] == 3
        found = body(client.get("/api/v1/accounts/", {"external_id": "T-0002"}))
        assert [a["name"] for a in found["items"]] == ["Firm 1"]

    def test_bad_filter_is_422_naming_the_parameter(self, lead, api_client, account):
        response = api_client(lead).get("/api/v1/accounts/", {"tier": "platinum"})
        assert response.status_code == 422
        assert body(response)["detail"][0]["loc"] == ["query", "tier"]

    def test_create_get_patch_delete(self, lead, api_client):
        client = api_client(lead)
        created = client.post("/api/v1/accounts/", {"name": "Nordtec", "external_id": "C-1", "country": "DE",
                                                    "tier": "candidate", "tier_reason": "Growing"}, content_type="application/json")
        assert created.status_code == 201
        account = body(created)
        assert account["country"] == "DE" and account["tier"] == "candidate"
        patched = client.patch(f"/api/v1/accounts/{account['id']}", {"city": "Köln", "employees": 120}, content_type="application/json")
        assert patched.status_code == 200 and body(patched)["city"] == "Köln"
        history = body(client.get(f"/api/v1/accounts/{account['id']}/history"))["items"]
        assert history[0]["action"] == "changed" and {"field": "city", "old": "—", "new": "Köln"} in history[0]["changes"]
        assert client.delete(f"/api/v1/accounts/{account['id']}").status_code == 204
        archived = Account.objects.get(pk=account["id"])
        assert archived.is_archived  # archived, not destroyed
        assert body(client.get("/api/v1/accounts/"))["count"] == 0
        assert body(client.get("/api/v1/accounts/", {"archived": "true"}))["count"] == 1

    @pytest.mark.parametrize(
        "payload, field",
        [
            ({"name": "X", "external_id": "T-0001"}, "external_id"),
            ({"name": "X", "external_id": "N", "parent_id": 999999}, "parent_id"),
            ({"name": "X", "external_id": "N", "time_zone": "Mars/Base"}, "time_zone"),
            ({"name": "X", "external_id": "N", "country": "ZZ"}, "country"),
            ({"name": "X"}, "external_id"),
        ],
    )
    def test_bad_input_is_422_naming_the_field_and_writes_nothing(self, lead, api_client, account, payload, field):
        response = api_client(lead).post("/api/v1/accounts/", payload, content_type="application/json")
        assert response.status_code == 422
        assert field in [entry["loc"][-1] for entry in body(response)["detail"]]
        assert Account.objects.count() == 1

    def test_parent_cycle_is_422(self, lead, api_client, make_account):
        group = make_account("Group")
        sub = make_account("Sub", parent=group)
        response = api_client(lead).patch(f"/api/v1/accounts/{group.pk}", {"parent_id": sub.pk}, content_type="application/json")
        assert response.status_code == 422 and body(response)["detail"][0]["loc"] == ["body", "parent_id"]
        group.refresh_from_db()
        assert group.parent_id is None

    def test_tier_endpoint(self, lead, api_client, account):
        client = api_client(lead)
        assert client.post(f"/api/v1/accounts/{account.pk}/tier", {"tier": "key"}, content_type="application/json").status_code == 422
        response = client.post(f"/api/v1/accounts/{account.pk}/tier", {"tier": "key", "reason": "FY2026 round"}, content_type="application/json")
        assert response.status_code == 201 and body(response)["changed_by"]["username"] == "lead"
        assert [c["to_tier"] for c in body(client.get(f"/api/v1/accounts/{account.pk}/tier"))["items"]] == ["key", "standard"]


class TestTeamApi:
    def test_add_list_and_one_kam_rule(self, lead, kam, make_user, api_client, account):
        client = api_client(lead)
        added = client.post(f"/api/v1/accounts/{account.pk}/team/", {"username": "kam", "role": "kam", "responsibilities": "Plan"}, content_type="application/json")
        assert added.status_code == 201 and body(added)["user"]["name"] == "Karl Kam"
        make_user("second")
        second = client.post(f"/api/v1/accounts/{account.pk}/team/", {"username": "second", "role": "kam"}, content_type="application/json")
        assert second.status_code == 422 and body(second)["detail"][0]["loc"][-1] == "role"
        assert [m["role"] for m in body(client.get(f"/api/v1/accounts/{account.pk}/team/"))["items"]] == ["kam"]

    def test_unknown_user_is_422(self, lead, api_client, account):
        response = api_client(lead).post(f"/api/v1/accounts/{account.pk}/team/", {"user_id": 424242, "role": "sales"}, content_type="application/json")
        assert response.status_code == 422 and body(response)["detail"][0]["loc"][-1] == "user_id"


class TestPermissions:
    def test_team_member_gets_404_outside_their_team(self, kam, api_client, kam_account, make_account):
        other = make_account("Secret Corp")
        client = api_client(kam)
        assert body(client.get("/api/v1/accounts/"))["count"] == 1
        assert client.get(f"/api/v1/accounts/{other.pk}").status_code == 404
        assert client.patch(f"/api/v1/accounts/{other.pk}", {"city": "X"}, content_type="application/json").status_code == 404
        assert client.get(f"/api/v1/accounts/{other.pk}/team/").status_code == 404
        assert client.post(f"/api/v1/accounts/{other.pk}/team/", {"username": "kam", "role": "sales"}, content_type="application/json").status_code == 404
        assert not TeamMember.objects.filter(account=other).exists()
        # Their own account they may change.
        assert client.patch(f"/api/v1/accounts/{kam_account.pk}", {"city": "Delft"}, content_type="application/json").status_code == 200

    def test_viewer_gets_403_on_writes(self, viewer, api_client, account):
        client = api_client(viewer)
        assert client.get(f"/api/v1/accounts/{account.pk}").status_code == 200
        assert client.patch(f"/api/v1/accounts/{account.pk}", {"city": "X"}, content_type="application/json").status_code == 403
        assert client.post("/api/v1/accounts/", {"name": "X", "external_id": "Y"}, content_type="application/json").status_code == 403
        assert client.delete(f"/api/v1/accounts/{account.pk}").status_code == 403
        account.refresh_from_db()
        assert account.city == "Utrecht" and not account.is_archived

    def test_team_member_may_not_create_or_change_tier(self, kam, api_client, kam_account):
        client = api_client(kam)
        assert client.post("/api/v1/accounts/", {"name": "X", "external_id": "Y"}, content_type="application/json").status_code == 403
        assert client.post(f"/api/v1/accounts/{kam_account.pk}/tier", {"tier": "key", "reason": "x"}, content_type="application/json").status_code == 403
        kam_account.refresh_from_db()
        assert kam_account.tier == Tier.STANDARD
