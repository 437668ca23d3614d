import json

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from keyplan.accounts import services as accounts
from keyplan.accounts.models import TeamRole
from keyplan.planning import services
from keyplan.planning.models import RaciAssignment
from tests.conftest import client_for


@pytest.fixture
def team(plan, lead, make_user, kam):
    sponsor = make_user("sponsor", first_name="Sia", last_name="Sponsor")
    accounts.add_team_member(plan.account, by=lead, user=sponsor, role=TeamRole.EXECUTIVE_SPONSOR)
    members = {m.user.username: m for m in plan.account.team_members.select_related("user")}
    return members


def test_warnings_for_areas_without_or_with_several_accountable(plan, team, kam):
    k, s = team["kam"].pk, team["sponsor"].pk
    result = services.set_raci(plan.account, by=kam, roles={(k, "relationships"): "A", (s, "relationships"): "A",
                                                            (k, "goals"): "A", (s, "goals"): "I"})
    assert sorted(result.warnings["relationships"]) == ["Karl Kam", "Sia Sponsor"]
    assert "goals" not in result.warnings and result.warnings["support"] == []
    result = services.set_raci(plan.account, by=kam, roles={(s, "relationships"): ""})
    assert "relationships" not in result.warnings and RaciAssignment.objects.count() == 3


def test_bad_entries_change_nothing(plan, team, kam, make_account, lead):
    stranger = accounts.add_team_member(make_account("Other"), by=lead, user=kam, role=TeamRole.SALES)
    for roles, field in (({(stranger.pk, "goals"): "A"}, "member"), ({(team["kam"].pk, "golf"): "A"}, "area"),
                         ({(team["kam"].pk, "goals"): "X"}, "role")):
        with pytest.raises(ValidationError) as error:
            services.set_raci(plan.account, by=kam, roles=roles)
        assert field in error.value.message_dict
    assert not RaciAssignment.objects.exists()


def test_page_and_api(plan, team, kam, viewer, api_client):
    url = reverse("planning:raci", args=[plan.account_id, plan.pk])
    response = client_for(kam).post(url, {f"raci-{team['kam'].pk}-commercial": "A", f"raci-{team['sponsor'].pk}-commercial": "C"})
    assert response.status_code == 302
    page = client_for(kam).get(url).content.decode()
    assert "Relationships: nobody is accountable." in page and "Commercial: nobody" not in page
    answer = json.loads(api_client(viewer).get(f"/api/v1/accounts/{plan.account_id}/raci").content)
    assert {"member_id": team["kam"].pk, "area": "commercial", "role": "A", "version": 1} in answer["assignments"]
    assert api_client(viewer).put(f"/api/v1/accounts/{plan.account_id}/raci", {"assignments": []}, content_type="application/json").status_code == 403


def test_a_cell_changed_since_it_was_read_is_a_conflict_and_nothing_is_written(plan, team, kam, lead):
    k, s = team["kam"].pk, team["sponsor"].pk
    services.set_raci(plan.account, by=lead, roles={(k, "goals"): "A"}, versions={(k, "goals"): 0})
    # The KAM read the matrix before the lead's save: goals empty (version 0), support empty.
    with pytest.raises(services.RaciConflict) as caught:
        services.set_raci(plan.account, by=kam, roles={(k, "goals"): "R", (s, "support"): "A"},
                          versions={(k, "goals"): 0, (s, "support"): 0})
    assert [(c.area, c.yours, c.saved, c.version) for c in caught.value.stale] == [("goals", "R", "A", 1)]
    assert not RaciAssignment.objects.filter(area="support").exists()  # nothing of the save was written
    # The same change as the saved one is no conflict; clearing and setting again counts the version on.
    services.set_raci(plan.account, by=kam, roles={(k, "goals"): "A"}, versions={(k, "goals"): 0})
    services.set_raci(plan.account, by=lead, roles={(k, "goals"): ""}, versions={(k, "goals"): 1})
    assert services.raci(plan.account).versions[(k, "goals")] == 2
    result = services.set_raci(plan.account, by=lead, roles={(k, "goals"): "A"}, versions={(k, "goals"): 2})
    assert result.versions[(k, "goals")] == 3
    with pytest.raises(services.RaciConflict):  # whoever read version 1 is stale, although the role is A again
        services.set_raci(plan.account, by=kam, roles={(k, "goals"): "R"}, versions={(k, "goals"): 1})


def test_the_page_writes_only_changed_cells_and_shows_a_conflict_side_by_side(plan, team, kam, lead):
    url = reverse("planning:raci", args=[plan.account_id, plan.pk])
    k, s = team["kam"].pk, team["sponsor"].pk
    body = client_for(kam).get(url).content.decode()
    assert f'name="version-{k}-goals" value="0"' in body and f'name="read-{k}-goals" value=""' in body
    services.set_raci(plan.account, by=lead, roles={(s, "support"): "A", (k, "goals"): "C"})
    # The KAM's form still has what it read: an untouched cell keeps the lead's A; the changed one conflicts.
    form = {f"raci-{k}-goals": "A", f"read-{k}-goals": "", f"version-{k}-goals": "0",
            f"raci-{s}-support": "", f"read-{s}-support": "", f"version-{s}-support": "0"}
    response = client_for(kam).post(url, form)
    page = response.content.decode()
    assert response.status_code == 200 and 'id="conflict"' in page and "Karl Kam · Goals and actions" in page
    assert f'name="version-{k}-goals" value="1"' in page and f'name="read-{k}-goals" value="C"' in page
    assert RaciAssignment.objects.get(member_id=k, area="goals").role == "C"
    kept = client_for(kam).post(url, {**form, f"read-{k}-goals": "C", f"version-{k}-goals": "1"})
    assert kept.status_code == 302
    assert RaciAssignment.objects.get(member_id=k, area="goals").role == "A"
    assert RaciAssignment.objects.get(member_id=s, area="support").role == "A"  # untouched by the KAM: kept


def test_api_conflict(plan, team, kam, lead, api_client):
    url = f"/api/v1/accounts/{plan.account_id}/raci"
    k = team["kam"].pk
    first = api_client(lead).put(url, {"assignments": [{"member_id": k, "area": "goals", "role": "A", "version": 0}]},
                                 content_type="application/json")
    assert first.status_code == 200 and first.json()["assignments"][0]["version"] == 1
    stale = api_client(kam).put(url, {"assignments": [{"member_id": k, "area": "goals", "role": "R", "version": 0}]},
                                content_type="application/json")
    assert stale.status_code == 409
    assert stale.json()["conflicts"] == [{"member_id": k, "area": "goals", "yours": "R", "saved": "A", "version": 1}]
    assert stale.json()["current"]["assignments"][0]["role"] == "A"


def test_api_roles_and_areas_are_choices(plan, team, lead, api_client):
    url = f"/api/v1/accounts/{plan.account_id}/raci"
    k = team["kam"].pk
    lower = api_client(lead).put(url, {"assignments": [{"member_id": k, "area": "Goals", "role": "a"}]},
                                 content_type="application/json")
    assert lower.status_code == 200 and RaciAssignment.objects.get(member_id=k, area="goals").role == "A"
    unknown = api_client(lead).put(url, {"assignments": [{"member_id": k, "area": "goals", "role": "X"}]},
                                   content_type="application/json")
    assert unknown.status_code == 422 and "R, A, C, I" in unknown.json()["detail"][0]["msg"]
    document = api_client(lead).get("/api/v1/openapi.json").json()
    entry = document["components"]["schemas"]["RaciEntry"]["properties"]
    assert entry["role"]["enum"] == ["R", "A", "C", "I", ""] and "goals" in entry["area"]["enum"]
