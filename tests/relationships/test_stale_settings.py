"""The stale rule is a setting: a KAM lead changes the threshold and whom it watches, on a page and through the API."""


import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from keyplan.accounts.models import Account
from keyplan.relationships import services
from keyplan.relationships.models import RelationshipSettings
from tests.conftest import client_for


def names(alerts) -> list[str]:
    return [a.person.name for a in alerts]


@pytest.fixture
def watched(kam_account, make_stakeholder, log):
    """Four people last met 90 days ago, each watched for another reason (or none)."""
    people = {
        "medium": make_stakeholder(kam_account, "Mia Medium", decision_power="medium", sentiment="supporter"),
        "gatekeeper": make_stakeholder(kam_account, "Gus Gate", decision_power="low", buying_role="gatekeeper"),
        "key": make_stakeholder(kam_account, "Kim Key", decision_power="low", is_key_contact=True),
        "buyer": make_stakeholder(kam_account, "Ben Buyer", decision_power="low", buying_role="economic_buyer"),
    }
    for person in people.values():
        log(kam_account, person, days_ago=90)
    return people


class TestTheSetting:
    def test_the_defaults(self, db):
        rule = services.stale_rule()
        assert (rule.days, rule.powers, rule.roles, rule.key_contacts) == (
            60, ("high", "medium"), ("decision_maker", "economic_buyer"), True)
        assert RelationshipSettings.objects.count() == 1

    def test_a_lead_changes_whom_it_watches_and_after_how_long(self, watched, lead, today):
        assert names(services.stale_alerts(Account.objects.all(), today=today)) == ["Ben Buyer", "Kim Key", "Mia Medium"]
        services.update_stale_settings(by=lead, days=100)
        assert services.stale_alerts(Account.objects.all(), today=today) == []
        services.update_stale_settings(by=lead, days=90, powers=["high"], roles=["gatekeeper"], key_contacts=False)
        assert names(services.stale_alerts(Account.objects.all(), today=today)) == ["Gus Gate"]
        stored = RelationshipSettings.objects.get()
        assert stored.history.first().history_user == lead

    def test_who_to_win_flags_a_path_by_the_same_threshold(self, kam_account, kam, lead, make_stakeholder, log):
        boss = make_stakeholder(kam_account, "Bo Boss", decision_power="high", buying_role="decision_maker")
        friend = make_stakeholder(kam_account, "Fay Friend", sentiment="supporter", owner=kam)
        services.add_influence_line(kam_account, by=kam, source=friend, target=boss)
        log(kam_account, friend, days_ago=70)
        best = lambda: next(t for t in services.who_to_win(kam_account) if t.person.name == "Bo Boss").best_path  # noqa: E731
        assert best().stale
        services.update_stale_settings(by=lead, days=80)
        assert not best().stale

    @pytest.mark.parametrize("changes, field", [
        ({"days": 0}, "days"), ({"days": 3651}, "days"), ({"days": "60"}, "days"),
        ({"powers": ["huge"]}, "powers"), ({"roles": ["king"]}, "roles"), ({"powers": "high"}, "powers"),
        ({"powers": [], "roles": [], "key_contacts": False}, "powers"),
    ])
    def test_bad_values_are_refused_and_nothing_changes(self, lead, changes, field):
        with pytest.raises(ValidationError) as excinfo:
            services.update_stale_settings(by=lead, **changes)
        assert field in excinfo.value.message_dict
        assert services.stale_rule().days == 60 and services.stale_rule().powers == ("high", "medium")

    def test_only_leads_and_admins_change_it(self, kam, viewer):
        for user in (kam, viewer):
            with pytest.raises(PermissionDenied):
                services.update_stale_settings(by=user, days=30)
        assert services.stale_rule().days == 60


class TestThePage:
    def test_a_lead_saves_it(self, lead, watched):
        client = client_for(lead)
        url = reverse("relationships:settings")
        page = client.get(url).content.decode()
        assert 'name="days"' in page and 'value="60"' in page
        response = client.post(url, {"days": "45", "powers": ["high"], "roles": ["gatekeeper", "decision_maker"],
                                     "key_contacts": "on"})
        assert response.status_code == 302
        rule = services.stale_rule()
        assert (rule.days, rule.powers, rule.roles, rule.key_contacts) == (45, ("high",), ("decision_maker", "gatekeeper"), True)
        portfolio = client.get(reverse("relationships:portfolio")).content.decode()
        assert "Gus Gate" in portfolio and "Mia Medium" not in portfolio and 'value="45"' in portfolio

    def test_bad_input_names_the_field(self, lead):
        response = client_for(lead).post(reverse("relationships:settings"), {"days": "0"})
        assert response.status_code == 422 and "days" in response.content.decode()
        response = client_for(lead).post(reverse("relationships:settings"), {"days": "30"})
        assert response.status_code == 422 and "Watch at least one group" in response.content.decode()
        assert services.stale_rule().days == 60

    def test_a_team_member_reads_it_but_cannot_save(self, kam):
        client = client_for(kam)
        page = client.get(reverse("relationships:settings")).content.decode()
        assert "Only KAM leads and admins" in page and "disabled" in page
        assert client.post(reverse("relationships:settings"), {"days": "5", "key_contacts": "on"}).status_code == 403
        assert services.stale_rule().days == 60


class TestTheApi:
    def test_read_and_change(self, lead, kam, api_client, watched, kam_account):
        client = api_client(lead)
        assert client.get("/api/v1/relationships/settings").json() == {
            "days": 60, "powers": ["high", "medium"], "roles": ["decision_maker", "economic_buyer"], "key_contacts": True}
        response = client.patch("/api/v1/relationships/settings", {"days": 30, "roles": ["gatekeeper"]},
                                content_type="application/json")
        assert response.status_code == 200 and response.json()["days"] == 30 and response.json()["roles"] == ["gatekeeper"]
        stale = client.get(f"/api/v1/accounts/{kam_account.pk}/stale-relationships").json()
        assert [s["stakeholder"]["name"] for s in stale["items"]] == ["Gus Gate", "Kim Key", "Mia Medium"]

    def test_bad_input_is_a_422_naming_the_field_and_a_kam_gets_403(self, lead, kam, api_client):
        response = api_client(lead).patch("/api/v1/relationships/settings", {"powers": ["huge"]},
                                          content_type="application/json")
        assert response.status_code == 422 and "powers" in str(response.json())
        response = api_client(lead).patch("/api/v1/relationships/settings", {"days": 0}, content_type="application/json")
        assert response.status_code == 422 and "days" in str(response.json())
        assert api_client(kam).patch("/api/v1/relationships/settings", {"days": 5},
                                     content_type="application/json").status_code == 403
        assert api_client(kam).get("/api/v1/relationships/settings").status_code == 200
        assert services.stale_rule().days == 60
