from django.urls import reverse

from keyplan.accounts import services
from keyplan.accounts.models import Account, TeamMember, TeamRole, Tier
from tests.conftest import client_for


class TestAccountList:
    def test_lists_filters_sorts_and_paginates(self, lead, make_account):
        for i in range(60):
            make_account(f"Firm {i:02d}", country="DE" if i % 2 else "NL", industry="chemicals" if i < 5 else "retail")
        client = client_for(lead)
        page = client.get(reverse("accounts:list"))
        assert page.status_code == 200
        assert "60 accounts" in page.content.decode()
        assert "Firm 00" in page.content.decode() and "Firm 59" not in page.content.decode()  # 50 a page
        assert "Firm 59" in client.get(reverse("accounts:list"), {"page": 2}).content.decode()
        chemicals = client.get(reverse("accounts:list"), {"industry": "chemicals", "country": "DE"}).content.decode()
        assert "2 accounts" in chemicals and "Firm 01" in chemicals and "Firm 00" not in chemicals
        desc = client.get(reverse("accounts:list"), {"sort": "-name"}).content.decode()
        assert desc.index("Firm 59") < desc.index("Firm 58")

    def test_search_and_kam_filter(self, lead, kam, kam_account, make_account):
        make_account("Other Corp")
        client = client_for(lead)
        found = client.get(reverse("accounts:list"), {"q": "acme"}).content.decode()
        assert "Acme Manufacturing" in found and "Other Corp" not in found
        by_kam = client.get(reverse("accounts:list"), {"kam": kam.pk}).content.decode()
        assert "Acme Manufacturing" in by_kam and "Other Corp" not in by_kam

    def test_htmx_request_gets_only_the_results(self, lead, account):
        response = client_for(lead).get(reverse("accounts:list"), {"q": "acme"}, headers={"HX-Request": "true"})
        body = response.content.decode()
        assert 'id="results"' in body and "<html" not in body

    def test_bad_filter_value_is_explained(self, lead, account):
        body = client_for(lead).get(reverse("accounts:list"), {"tier": "platinum"}).content.decode()
        assert "platinum is not one of the available choices" in body

    def test_team_member_sees_only_their_accounts(self, kam, kam_account, make_account):
        make_account("Secret Corp")
        body = client_for(kam).get(reverse("accounts:list")).content.decode()
        assert "Acme Manufacturing" in body and "Secret Corp" not in body


class TestAccountPage:
    def test_shows_profile_team_competitors_tiers_and_history(self, lead, kam, kam_account):
        services.add_competitor(kam_account, by=lead, name="Hexagon Supply", unique_selling_point="Lowest price")
        services.set_tier(kam_account, by=lead, tier=Tier.KEY, reason="Selected in FY2026")
        body = client_for(lead).get(reverse("accounts:detail", args=[kam_account.pk])).content.decode()
        for text in ["Acme Manufacturing", "Utrecht", "Karl Kam", "Key account manager", "Owns the plan",
                     "Hexagon Supply", "Lowest price", "Selected in FY2026", "Change history", "Team: Karl Kam"]:
            assert text in body, text

    def test_other_teams_account_is_404_for_a_team_member(self, kam, make_account):
        other = make_account("Secret Corp")
        client = client_for(kam)
        for name in ("accounts:detail", "accounts:edit", "accounts:history"):
            assert client.get(reverse(name, args=[other.pk])).status_code == 404
        assert client.post(reverse("accounts:team_add", args=[other.pk]), {"user": kam.pk, "role": "sales"}).status_code == 404
        assert not other.team_members.exists()

    def test_viewer_reads_but_cannot_write(self, viewer, account):
        client = client_for(viewer)
        assert client.get(reverse("accounts:detail", args=[account.pk])).status_code == 200
        assert client.get(reverse("accounts:edit", args=[account.pk])).status_code == 403
        response = client.post(reverse("accounts:field", args=[account.pk, "city"]), {"city": "Delft"})
        assert response.status_code == 403
        account.refresh_from_db()
        assert account.city == "Utrecht"

    def test_anonymous_is_sent_to_login(self, account, client):
        response = client.get(reverse("accounts:detail", args=[account.pk]))
        assert response.status_code == 302 and response.url.startswith(reverse("login"))


class TestForms:
    def test_create_account(self, lead):
        client = client_for(lead)
        response = client.post(reverse("accounts:create"), {
            "name": "Brightwell B.V.", "external_id": "C-77", "country": "NL", "time_zone": "Europe/Amsterdam",
            "lifecycle": "active", "onboarding_status": "completed", "reporting_currency": "EUR",
        })
        account = Account.objects.get(external_id="C-77")
        assert response.status_code == 302 and response.url == reverse("accounts:detail", args=[account.pk])
        assert account.history.get().history_user == lead

    def test_field_errors_and_nothing_written(self, lead, account):
        client = client_for(lead)
        response = client.post(reverse("accounts:create"), {
            "name": "Dup", "external_id": account.external_id, "country": "XX", "time_zone": "Mars/Base",
            "lifecycle": "active", "onboarding_status": "completed", "reporting_currency": "EUR",
            "parent_external_id": "NOPE",
        })
        assert response.status_code == 200
        errors = response.context["form"].errors
        assert set(errors) >= {"external_id", "country", "time_zone", "parent_external_id"}
        assert "No account has the external id NOPE" in errors["parent_external_id"][0]
        assert Account.objects.count() == 1

    def test_edit_refuses_a_parent_cycle_on_the_field(self, lead, make_account):
        group = make_account("Group")
        sub = make_account("Sub", parent=group)
        client = client_for(lead)
        data = {"name": "Group", "external_id": group.external_id, "lifecycle": "prospect",
                "onboarding_status": "not_started", "reporting_currency": "EUR", "parent_external_id": sub.external_id}
        response = client.post(reverse("accounts:edit", args=[group.pk]), data)
        assert response.status_code == 200
        assert "cycle" in response.context["form"].errors["parent_external_id"][0]
        group.refresh_from_db()
        assert group.parent is None

    def test_referred_by_is_named_by_external_id_and_shown_with_the_referrals(self, lead, make_account):
        hub, newcomer = make_account("Hub"), make_account("Newcomer")
        client = client_for(lead)
        data = {"name": "Newcomer", "external_id": newcomer.external_id, "lifecycle": "prospect",
                "onboarding_status": "not_started", "reporting_currency": "EUR"}
        bad = client.post(reverse("accounts:edit", args=[newcomer.pk]), {**data, "referred_by_external_id": "NOPE"})
        assert "No account has the external id NOPE" in bad.context["form"].errors["referred_by_external_id"][0]
        itself = client.post(reverse("accounts:edit", args=[newcomer.pk]),
                             {**data, "referred_by_external_id": newcomer.external_id})
        assert "cannot refer itself" in itself.context["form"].errors["referred_by_external_id"][0]
        assert client.post(reverse("accounts:edit", args=[newcomer.pk]),
                           {**data, "referred_by_external_id": hub.external_id}).status_code == 302
        newcomer.refresh_from_db()
        assert newcomer.referred_by == hub
        assert "Referred by" in client.get(reverse("accounts:detail", args=[newcomer.pk])).content.decode()
        assert "1 customer referred by this account" in client.get(reverse("accounts:detail", args=[hub.pk])).content.decode()

    def test_inline_field_edit(self, lead, account):
        client = client_for(lead)
        editor = client.get(reverse("accounts:field", args=[account.pk, "city"]), headers={"HX-Request": "true"})
        assert 'name="city"' in editor.content.decode()
        saved = client.post(reverse("accounts:field", args=[account.pk, "city"]), {"city": "Delft"}, headers={"HX-Request": "true"})
        assert "Delft" in saved.content.decode() and "accountChanged" in saved.headers["HX-Trigger"]
        account.refresh_from_db()
        assert account.city == "Delft"
        bad = client.post(reverse("accounts:field", args=[account.pk, "time_zone"]), {"time_zone": "Nowhere/Land"}, headers={"HX-Request": "true"})
        assert "field-error" in bad.content.decode()
        account.refresh_from_db()
        assert account.time_zone == "Europe/Amsterdam"

    def test_inline_edit_only_whitelisted_fields(self, lead, account):
        assert client_for(lead).post(reverse("accounts:field", args=[account.pk, "tier"]), {"tier": "key"}).status_code == 404

    def test_second_kam_is_a_field_error(self, lead, make_user, kam_account):
        other = make_user("other")
        response = client_for(lead).post(reverse("accounts:team_add", args=[kam_account.pk]),
                                         {"user": other.pk, "role": "kam"}, headers={"HX-Request": "true"})
        assert "An account has only one Key account manager role" in response.content.decode()
        assert kam_account.team_members.count() == 1

    def test_add_and_remove_team_member(self, lead, make_user, account):
        sales = make_user("sales", first_name="Sam", last_name="Sales")
        client = client_for(lead)
        response = client.post(reverse("accounts:team_add", args=[account.pk]),
                               {"user": sales.pk, "role": "sales", "responsibilities": "Renewals"}, headers={"HX-Request": "true"})
        assert "Sam Sales" in response.content.decode()
        member = TeamMember.objects.get(account=account, user=sales)
        client.post(reverse("accounts:team_member", args=[account.pk, member.pk]), {"remove": "1"})
        assert not account.team_members.exists()

    def test_tier_change_needs_a_reason(self, lead, account):
        client = client_for(lead)
        response = client.post(reverse("accounts:tier", args=[account.pk]), {"tier": "key", "reason": ""}, headers={"HX-Request": "true"})
        assert "This field is required" in response.content.decode()
        account.refresh_from_db()
        assert account.tier == Tier.STANDARD
        client.post(reverse("accounts:tier", args=[account.pk]), {"tier": "key", "reason": "Selected"})
        account.refresh_from_db()
        assert account.tier == Tier.KEY

    def test_archive_and_restore(self, lead, account):
        client = client_for(lead)
        client.post(reverse("accounts:archive", args=[account.pk]))
        account.refresh_from_db()
        assert account.is_archived
        assert "Acme" not in client.get(reverse("accounts:list")).content.decode()
        assert "Acme" in client.get(reverse("accounts:list"), {"archived": "on"}).content.decode()
        client.post(reverse("accounts:archive", args=[account.pk]), {"restore": "1"})
        account.refresh_from_db()
        assert not account.is_archived


class TestWorkloadPage:
    def test_over_capacity_warning_and_setting_capacity(self, lead, kam, make_account):
        for i in range(6):
            acc = make_account(f"Key {i}")
            services.add_team_member(acc, by=lead, user=kam, role=TeamRole.KAM)
            services.set_tier(acc, by=lead, tier=Tier.KEY, reason="Selected")
        client = client_for(lead)
        assert "Over capacity: 6 of 5" in client.get(reverse("accounts:workload")).content.decode()
        client.post(reverse("accounts:workload"), {"user": kam.pk, "kam_capacity": "8"})
        kam.refresh_from_db()
        assert kam.kam_capacity == 8
        assert "Over capacity" not in client.get(reverse("accounts:workload")).content.decode()

    def test_team_member_cannot_set_capacity(self, kam):
        client_for(kam).post(reverse("accounts:workload"), {"user": kam.pk, "kam_capacity": "20"})
        kam.refresh_from_db()
        assert kam.kam_capacity is None


def test_counts_carry_the_languages_thousands_separator(lead):
    Account.objects.bulk_create([Account(external_id=f"B-{i:05d}", name=f"Firm {i}", reporting_currency="EUR")
                                 for i in range(1234)])
    client = client_for(lead)
    assert "1,234 accounts" in client.get(reverse("accounts:list")).content.decode()
    client.cookies["django_language"] = "de"
    assert "1.234 Accounts" in client.get(reverse("accounts:list")).content.decode()
    assert "1.234 Accounts" in client.get(reverse("scoring:matrix")).content.decode()
