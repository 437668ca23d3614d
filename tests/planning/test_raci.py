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
    assert {"member_id": team["kam"].pk, "area": "commercial", "role": "A"} in answer["assignments"]
    assert api_client(viewer).put(f"/api/v1/accounts/{plan.account_id}/raci", {"assignments": []}, content_type="application/json").status_code == 403
