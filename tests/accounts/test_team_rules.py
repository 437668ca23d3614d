"""Who changes an account's team: leads and admins choose the KAM and the executive sponsor and archive
accounts; the account's KAM manages the rest of the team; other members change nothing of it. Every
change is in the account's history. Checked through the services, the pages and the API."""

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from keyplan.accounts import services
from keyplan.accounts.models import TeamMember, TeamRole
from tests.conftest import client_for


@pytest.fixture
def sales(make_user, lead, kam_account):
    user = make_user("sales", first_name="Sam", last_name="Sales")
    services.add_team_member(kam_account, by=lead, user=user, role=TeamRole.SALES)
    return user


@pytest.fixture
def newcomer(make_user):
    return make_user("newcomer", first_name="Nina", last_name="New")


def _member(account, user) -> TeamMember:
    return TeamMember.objects.get(account=account, user=user)


class TestServices:
    def test_a_sales_member_changes_nothing_of_the_team(self, sales, kam, newcomer, kam_account):
        kam_member = _member(kam_account, kam)
        before = list(TeamMember.objects.values_list("pk", "role", "responsibilities"))
        for attempt in (
            lambda: services.remove_team_member(kam_member, by=sales),
            lambda: services.add_team_member(kam_account, by=sales, user=sales, role=TeamRole.KAM),
            lambda: services.add_team_member(kam_account, by=sales, user=newcomer, role=TeamRole.MARKETING),
            lambda: services.update_team_member(_member(kam_account, sales), by=sales, role=TeamRole.EXECUTIVE_SPONSOR),
            lambda: services.update_team_member(kam_member, by=sales, responsibilities="nothing"),
        ):
            with pytest.raises(PermissionDenied):
                attempt()
        assert list(TeamMember.objects.values_list("pk", "role", "responsibilities")) == before

    def test_the_kam_manages_the_rest_of_the_team(self, kam, sales, newcomer, kam_account):
        member = services.add_team_member(kam_account, by=kam, user=newcomer, role=TeamRole.MARKETING)
        services.update_team_member(member, by=kam, role=TeamRole.TECHNICAL_SUPPORT, responsibilities="Escalations")
        services.remove_team_member(_member(kam_account, sales), by=kam)
        assert set(kam_account.team_members.values_list("user__username", "role")) == {
            ("kam", TeamRole.KAM), ("newcomer", TeamRole.TECHNICAL_SUPPORT)}

    def test_the_kam_does_not_choose_kam_or_sponsor(self, kam, sales, newcomer, kam_account):
        with pytest.raises(PermissionDenied):
            services.add_team_member(kam_account, by=kam, user=newcomer, role=TeamRole.EXECUTIVE_SPONSOR)
        with pytest.raises(PermissionDenied):
            services.update_team_member(_member(kam_account, sales), by=kam, role=TeamRole.EXECUTIVE_SPONSOR)
        with pytest.raises(PermissionDenied):
            services.update_team_member(_member(kam_account, kam), by=kam, role=TeamRole.SALES)
        with pytest.raises(PermissionDenied):
            services.remove_team_member(_member(kam_account, kam), by=kam)
        assert _member(kam_account, kam).role == TeamRole.KAM

    def test_the_kam_writes_their_own_responsibilities(self, kam, kam_account):
        services.update_team_member(_member(kam_account, kam), by=kam, responsibilities="The plan and the QBRs")
        assert _member(kam_account, kam).responsibilities == "The plan and the QBRs"

    def test_leads_and_admins_choose_kam_and_sponsor(self, lead, admin, kam, newcomer, kam_account):
        services.remove_team_member(_member(kam_account, kam), by=lead)
        services.add_team_member(kam_account, by=admin, user=newcomer, role=TeamRole.KAM)
        services.add_team_member(kam_account, by=lead, user=kam, role=TeamRole.EXECUTIVE_SPONSOR)
        assert set(kam_account.team_members.values_list("user__username", "role")) == {
            ("newcomer", TeamRole.KAM), ("kam", TeamRole.EXECUTIVE_SPONSOR)}

    def test_only_leads_and_admins_archive_and_restore(self, kam, lead, admin, kam_account):
        with pytest.raises(PermissionDenied):
            services.archive_account(kam_account, by=kam)
        kam_account.refresh_from_db()
        assert not kam_account.is_archived
        services.archive_account(kam_account, by=lead)
        with pytest.raises(PermissionDenied):
            services.restore_account(kam_account, by=kam)
        services.restore_account(kam_account, by=admin)
        kam_account.refresh_from_db()
        assert not kam_account.is_archived

    def test_every_team_change_is_in_the_history(self, lead, kam, newcomer, kam_account):
        member = services.add_team_member(kam_account, by=kam, user=newcomer, role=TeamRole.SALES)
        services.update_team_member(member, by=kam, responsibilities="Renewals")
        services.remove_team_member(member, by=kam)
        services.remove_team_member(_member(kam_account, kam), by=lead)
        services.archive_account(kam_account, by=lead)
        log = [(e.who, e.subject, e.action) for e in services.change_log(kam_account)]
        assert ("Karl Kam", "Team: Nina New, Sales", "created") in log
        assert ("Karl Kam", "Team: Nina New, Sales", "changed") in log
        assert ("Karl Kam", "Team: Nina New, Sales", "removed") in log
        assert ("Lena Lead", "Team: Karl Kam, Key account manager", "removed") in log
        archived = [e for e in services.change_log(kam_account) if e.subject == "Profile" and e.changes]
        assert archived[0].who == "Lena Lead" and archived[0].changes[0].field == "archived"


class TestPages:
    def test_a_sales_member_sees_no_team_or_archive_controls_and_is_refused(self, sales, kam, kam_account):
        client = client_for(sales)
        page = client.get(reverse("accounts:detail", args=[kam_account.pk])).content.decode()
        assert "Add a team member" not in page
        assert reverse("accounts:archive", args=[kam_account.pk]) not in page
        assert reverse("accounts:team_member", args=[kam_account.pk, _member(kam_account, kam).pk]) not in page
        response = client.post(reverse("accounts:team_member", args=[kam_account.pk, _member(kam_account, kam).pk]), {"remove": "1"})
        assert response.status_code == 403
        response = client.post(reverse("accounts:team_add", args=[kam_account.pk]), {"user": sales.pk, "role": "kam"})
        assert response.status_code == 403
        assert client.post(reverse("accounts:archive", args=[kam_account.pk])).status_code == 403
        kam_account.refresh_from_db()
        assert not kam_account.is_archived
        assert _member(kam_account, kam).role == TeamRole.KAM

    def test_the_kam_adds_members_but_is_offered_no_kam_or_sponsor_role(self, kam, sales, newcomer, kam_account):
        client = client_for(kam)
        page = client.get(reverse("accounts:detail", args=[kam_account.pk])).content.decode()
        assert "Add a team member" in page
        assert 'value="executive_sponsor"' not in page and 'value="kam"' not in page
        # The KAM can remove the sales member, not themselves; and archives nothing.
        assert reverse("accounts:team_member", args=[kam_account.pk, _member(kam_account, sales).pk]) in page
        assert reverse("accounts:team_member", args=[kam_account.pk, _member(kam_account, kam).pk]) not in page
        assert reverse("accounts:archive", args=[kam_account.pk]) not in page
        response = client.post(reverse("accounts:team_add", args=[kam_account.pk]),
                               {"user": newcomer.pk, "role": "marketing"}, headers={"HX-Request": "true"})
        assert "Nina New" in response.content.decode()
        response = client.post(reverse("accounts:team_add", args=[kam_account.pk]),
                               {"user": newcomer.pk, "role": "executive_sponsor"}, headers={"HX-Request": "true"})
        assert "Select a valid choice" in response.content.decode()
        assert not kam_account.team_members.filter(role=TeamRole.EXECUTIVE_SPONSOR).exists()

    def test_a_lead_sees_every_control(self, lead, kam, kam_account):
        page = client_for(lead).get(reverse("accounts:detail", args=[kam_account.pk])).content.decode()
        assert 'value="kam"' in page and 'value="executive_sponsor"' in page
        assert reverse("accounts:team_member", args=[kam_account.pk, _member(kam_account, kam).pk]) in page
        assert reverse("accounts:archive", args=[kam_account.pk]) in page


class TestApi:
    def test_a_sales_member_is_refused_every_team_change(self, api_client, sales, kam, kam_account):
        client = api_client(sales)
        base = f"/api/v1/accounts/{kam_account.pk}"
        kam_member = _member(kam_account, kam)
        assert client.delete(f"{base}/team/{kam_member.pk}").status_code == 403
        response = client.post(f"{base}/team/", {"user_id": sales.pk, "role": "kam"}, content_type="application/json")
        assert response.status_code == 403
        assert "KAM leads and admins" in response.json()["detail"]
        assert client.patch(f"{base}/team/{kam_member.pk}", {"role": "sales"}, content_type="application/json").status_code == 403
        assert client.delete(base).status_code == 403
        assert _member(kam_account, kam).role == TeamRole.KAM
        kam_account.refresh_from_db()
        assert not kam_account.is_archived

    def test_the_kam_manages_members_through_the_api(self, api_client, kam, newcomer, kam_account):
        client = api_client(kam)
        base = f"/api/v1/accounts/{kam_account.pk}"
        response = client.post(f"{base}/team/", {"user_id": newcomer.pk, "role": "sales"}, content_type="application/json")
        assert response.status_code == 201
        member_id = response.json()["id"]
        assert client.patch(f"{base}/team/{member_id}", {"role": "kam"}, content_type="application/json").status_code == 403
        assert client.delete(f"{base}/team/{member_id}").status_code == 204
        assert client.delete(base).status_code == 403

    def test_a_lead_archives_through_the_api(self, api_client, lead, kam_account):
        assert api_client(lead).delete(f"/api/v1/accounts/{kam_account.pk}").status_code == 204
        kam_account.refresh_from_db()
        assert kam_account.is_archived
