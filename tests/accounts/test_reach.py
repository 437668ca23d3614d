"""Nothing about an account outside one's reach: a team member sees no name, tier, id or count of
another team's accounts, through the account page, the edit form, the history or the API."""

import pytest
from django.urls import reverse

from keyplan.accounts import services
from keyplan.accounts.models import Account, TeamRole, Tier
from tests.conftest import client_for


@pytest.fixture
def group(lead, kam, make_account):
    """Hidden Holding (not on kam's teams) › Visible Sub (kam is KAM) › Hidden Daughter and Visible Daughter."""
    holding = make_account("Hidden Holding", external_id="HOLD-1")
    services.set_tier(holding, by=lead, tier=Tier.KEY, reason="Selected")
    visible = make_account("Visible Sub", external_id="SUB-1", parent=holding, referred_by=holding)
    services.add_team_member(visible, by=lead, user=kam, role=TeamRole.KAM)
    make_account("Hidden Daughter", external_id="SECRET-9", parent=visible)
    shown = make_account("Visible Daughter", external_id="SUB-2", parent=visible)
    services.add_team_member(shown, by=lead, user=kam, role=TeamRole.SALES)
    make_account("Hidden Referral", external_id="REF-7", referred_by=visible)
    return visible


class TestAccountPage:
    def test_team_member_sees_only_the_accounts_they_may_see(self, kam, group):
        page = client_for(kam).get(reverse("accounts:detail", args=[group.pk])).content.decode()
        assert "Visible Daughter" in page
        for hidden in ("Hidden Holding", "Hidden Daughter", "Hidden Referral", "HOLD-1", "SECRET-9"):
            assert hidden not in page
        assert "1 subsidiary or division" in page
        assert "0 customers referred by this account" in page
        assert "none (top of its group)" not in page  # it has a parent; the page just does not say which

    def test_a_lead_sees_the_whole_group(self, lead, group):
        page = client_for(lead).get(reverse("accounts:detail", args=[group.pk])).content.decode()
        for name in ("Hidden Holding", "Hidden Daughter", "Visible Daughter"):
            assert name in page
        assert "2 subsidiaries or divisions" in page
        assert "1 customer referred by this account" in page

    def test_history_does_not_name_a_hidden_parent(self, kam, lead, group, make_account):
        other = make_account("Other Hidden Parent", external_id="HOLD-2")
        services.update_account(group, by=lead, changes={"parent": other})
        page = client_for(kam).get(reverse("accounts:history", args=[group.pk])).content.decode()
        assert "Other Hidden Parent" not in page and "Hidden Holding" not in page
        assert "(not visible to you)" in page
        assert "Other Hidden Parent" in client_for(lead).get(reverse("accounts:history", args=[group.pk])).content.decode()


class TestEditForm:
    def test_the_form_keeps_a_hidden_parent_without_showing_it(self, kam, group):
        client = client_for(kam)
        form = client.get(reverse("accounts:edit", args=[group.pk])).content.decode()
        assert "HOLD-1" not in form and "parent_external_id" not in form
        response = client.post(reverse("accounts:edit", args=[group.pk]), {
            "name": "Visible Sub renamed", "external_id": "SUB-1", "lifecycle": "active",
            "onboarding_status": "not_started", "reporting_currency": "EUR"})
        assert response.status_code == 302
        group.refresh_from_db()
        assert group.name == "Visible Sub renamed"
        assert group.parent.external_id == "HOLD-1" and group.referred_by.external_id == "HOLD-1"

    def test_a_team_member_cannot_probe_external_ids(self, kam, group):
        # The external id is fixed for team members: no uniqueness error tells them SECRET-9 is taken.
        client = client_for(kam)
        form = client.get(reverse("accounts:edit", args=[group.pk])).content.decode()
        assert "Only KAM leads and admins change the external id." in form
        response = client.post(reverse("accounts:edit", args=[group.pk]), {
            "name": "Visible Sub", "external_id": "SECRET-9", "lifecycle": "active",
            "onboarding_status": "not_started", "reporting_currency": "EUR"})
        assert "already exists" not in response.content.decode()
        group.refresh_from_db()
        assert group.external_id == "SUB-1"

    def test_an_unknown_parent_reads_the_same_whether_hidden_or_missing(self, kam, group):
        client = client_for(kam)
        daughter = Account.objects.get(external_id="SUB-2")
        answers = []
        for external_id in ("SECRET-9", "NOPE-0"):
            response = client.post(reverse("accounts:edit", args=[daughter.pk]), {
                "name": "Visible Daughter", "external_id": "SUB-2", "parent_external_id": external_id,
                "lifecycle": "prospect", "onboarding_status": "not_started", "reporting_currency": "EUR"})
            answers.append(response.content.decode().replace(external_id, "X").count("No account has the external id X"))
        assert answers == [1, 1]


class TestApi:
    def test_hidden_parent_and_referrer_are_null(self, api_client, kam, lead, group):
        body = api_client(kam).get(f"/api/v1/accounts/{group.pk}").json()
        assert body["parent_id"] is None and body["referred_by_id"] is None
        listed = api_client(kam).get("/api/v1/accounts/").json()
        assert {a["name"] for a in listed["items"]} == {"Visible Sub", "Visible Daughter"}
        assert listed["count"] == 2
        assert next(a for a in listed["items"] if a["name"] == "Visible Daughter")["parent_id"] == group.pk
        assert api_client(lead).get(f"/api/v1/accounts/{group.pk}").json()["parent_id"] == group.parent_id

    def test_external_id_is_the_leads_to_change(self, api_client, kam, lead, group):
        response = api_client(kam).patch(f"/api/v1/accounts/{group.pk}", {"external_id": "SECRET-9"},
                                         content_type="application/json")
        assert response.status_code == 403
        assert "SECRET" not in response.content.decode()
        response = api_client(lead).patch(f"/api/v1/accounts/{group.pk}", {"external_id": "SECRET-9"},
                                          content_type="application/json")
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["body", "external_id"]

    def test_hidden_and_missing_parents_give_the_same_error(self, api_client, kam, group):
        hidden = Account.objects.get(external_id="HOLD-1")
        daughter = Account.objects.get(external_id="SUB-2")
        errors = []
        for parent_id in (hidden.pk, 999_999):
            response = api_client(kam).patch(f"/api/v1/accounts/{daughter.pk}", {"parent_id": parent_id},
                                             content_type="application/json")
            assert response.status_code == 422
            errors.append(response.json()["detail"][0]["msg"].replace(str(parent_id), "N"))
        assert errors[0] == errors[1]

    def test_history_masks_a_hidden_parent(self, api_client, kam, lead, group, make_account):
        services.update_account(group, by=lead, changes={"parent": make_account("Secret Parent", external_id="S-P")})
        text = api_client(kam).get(f"/api/v1/accounts/{group.pk}/history").content.decode()
        assert "Secret Parent" not in text and "Hidden Holding" not in text
