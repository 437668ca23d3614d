import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from keyplan.accounts import services
from keyplan.accounts.models import Account, TeamMember, TeamRole, Tier, TierChange


def _counts():
    return Account.objects.count(), TeamMember.objects.count(), TierChange.objects.count(), Account.history.count()


class TestCreateAccount:
    def test_creates_with_profile_and_initial_tier_history(self, lead):
        account = services.create_account(
            by=lead,
            data={"name": "Nordtec GmbH", "external_id": "C-1", "country": "DE", "time_zone": "Europe/Berlin",
                  "reporting_currency": "EUR", "industry": "manufacturing"},
            tier=Tier.CANDIDATE,
            tier_reason="Strong growth",
        )
        assert account.tier == Tier.CANDIDATE
        change = account.tier_changes.get()
        assert (change.from_tier, change.to_tier, change.reason, change.changed_by) == ("", "candidate", "Strong growth", lead)
        record = account.history.get()
        assert record.history_type == "+" and record.history_user == lead

    @pytest.mark.parametrize(
        "data, field",
        [
            ({"name": "X", "external_id": "T-0001"}, "external_id"),  # duplicate of the fixture account
            ({"name": "X", "external_id": "N-1", "time_zone": "Mars/Olympus"}, "time_zone"),
            ({"name": "X", "external_id": "N-1", "country": "XX"}, "country"),
            ({"name": "X", "external_id": "N-1", "reporting_currency": "EURO"}, "reporting_currency"),
            ({"name": "", "external_id": "N-1"}, "name"),
            ({"name": "X", "external_id": "N-1", "website": "not a url"}, "website"),
            ({"name": "X", "external_id": "N-1", "tier": "key"}, "tier"),
        ],
    )
    def test_bad_input_names_the_field_and_writes_nothing(self, lead, account, data, field):
        before = _counts()
        with pytest.raises(ValidationError) as excinfo:
            services.create_account(by=lead, data=data)
        assert field in excinfo.value.message_dict
        assert _counts() == before

    def test_only_leads_and_admins_create(self, kam, viewer, db):
        for user in (kam, viewer):
            with pytest.raises(PermissionDenied):
                services.create_account(by=user, data={"name": "X", "external_id": "N-9"})
        assert not Account.objects.exists()


class TestHierarchy:
    def test_parent_cycle_is_refused(self, lead, make_account):
        group = make_account("Group")
        sub = make_account("Sub", parent=group)
        subsub = make_account("Subsub", parent=sub)
        with pytest.raises(ValidationError) as excinfo:
            services.update_account(group, by=lead, changes={"parent": subsub})
        assert "parent" in excinfo.value.message_dict
        group.refresh_from_db()
        assert group.parent is None

    def test_own_parent_is_refused(self, lead, account):
        with pytest.raises(ValidationError) as excinfo:
            services.update_account(account, by=lead, changes={"parent": account})
        assert "parent" in excinfo.value.message_dict

    def test_ancestors_from_the_top(self, make_account):
        group = make_account("Group")
        sub = make_account("Sub", parent=group)
        leaf = make_account("Leaf", parent=sub)
        assert [a.name for a in leaf.ancestors()] == ["Group", "Sub"]


class TestUpdateAndHistory:
    def test_update_records_old_and_new_values(self, lead, account):
        services.update_account(account, by=lead, changes={"city": "Amsterdam", "employees": 250})
        log = services.change_log(account)
        changed = [e for e in log if e.action == "changed"][0]
        assert changed.who == str(lead)
        assert {(c.field, c.old, c.new) for c in changed.changes} == {("city", "Utrecht", "Amsterdam"), ("employees", "—", "250")}

    def test_no_change_writes_no_history(self, lead, account):
        before = account.history.count()
        services.update_account(account, by=lead, changes={"city": "Utrecht"})
        assert account.history.count() == before

    def test_tier_is_not_a_profile_field(self, lead, account):
        with pytest.raises(ValidationError) as excinfo:
            services.update_account(account, by=lead, changes={"tier": Tier.KEY})
        assert "tier" in excinfo.value.message_dict

    def test_team_and_competitor_changes_are_in_the_log(self, lead, kam, account):
        member = services.add_team_member(account, by=lead, user=kam, role=TeamRole.SALES)
        services.update_team_member(member, by=lead, responsibilities="Renewals")
        competitor = services.add_competitor(account, by=lead, name="Hexagon", unique_selling_point="Price")
        services.remove_competitor(competitor, by=lead)
        subjects = [(e.subject, e.action) for e in services.change_log(account)]
        assert ("Competitor: Hexagon", "removed") == subjects[0]
        assert ("Competitor: Hexagon", "created") in subjects
        assert ("Team: Karl Kam, Sales", "changed") in subjects
        assert ("Team: Karl Kam, Sales", "created") in subjects


class TestTier:
    def test_every_change_is_kept_with_who_when_why(self, lead, account):
        services.set_tier(account, by=lead, tier=Tier.CANDIDATE, reason="Growing fast")
        services.set_tier(account, by=lead, tier=Tier.KEY, reason="Selected in FY2026", effective_date=datetime.date(2026, 1, 1))
        account.refresh_from_db()
        assert account.tier == Tier.KEY
        changes = list(account.tier_changes.order_by("changed_at", "pk").values_list("from_tier", "to_tier", "reason"))
        assert changes == [("", "standard", "Account created"), ("standard", "candidate", "Growing fast"), ("candidate", "key", "Selected in FY2026")]
        assert account.tier_changes.first().effective_date == datetime.date(2026, 1, 1)

    def test_reason_is_required(self, lead, account):
        with pytest.raises(ValidationError) as excinfo:
            services.set_tier(account, by=lead, tier=Tier.KEY, reason="  ")
        assert "reason" in excinfo.value.message_dict
        account.refresh_from_db()
        assert account.tier == Tier.STANDARD

    def test_unknown_tier_and_same_tier_are_refused(self, lead, account):
        for tier in ("platinum", Tier.STANDARD):
            with pytest.raises(ValidationError):
                services.set_tier(account, by=lead, tier=tier, reason="x")
        assert account.tier_changes.count() == 1

    def test_team_members_do_not_change_key_status(self, kam, kam_account):
        with pytest.raises(PermissionDenied):
            services.set_tier(kam_account, by=kam, tier=Tier.KEY, reason="I want it")


class TestTeam:
    def test_one_kam_per_account(self, lead, kam, make_user, kam_account):
        other = make_user("other")
        before = TeamMember.objects.count()
        with pytest.raises(ValidationError) as excinfo:
            services.add_team_member(kam_account, by=lead, user=other, role=TeamRole.KAM)
        assert "role" in excinfo.value.message_dict
        assert "Karl Kam" in excinfo.value.message_dict["role"][0]
        assert TeamMember.objects.count() == before

    def test_at_most_one_executive_sponsor(self, lead, make_user, account):
        services.add_team_member(account, by=lead, user=make_user("s1"), role=TeamRole.EXECUTIVE_SPONSOR)
        with pytest.raises(ValidationError):
            services.add_team_member(account, by=lead, user=make_user("s2"), role=TeamRole.EXECUTIVE_SPONSOR)
        assert account.team_members.filter(role=TeamRole.EXECUTIVE_SPONSOR).count() == 1

    def test_changing_a_role_to_kam_respects_the_rule(self, lead, make_user, kam_account):
        member = services.add_team_member(kam_account, by=lead, user=make_user("sales"), role=TeamRole.SALES)
        with pytest.raises(ValidationError):
            services.update_team_member(member, by=lead, role=TeamRole.KAM)
        member.refresh_from_db()
        assert member.role == TeamRole.SALES

    def test_a_kam_can_edit_their_account_but_not_others(self, kam, kam_account, make_account):
        services.update_account(kam_account, by=kam, changes={"city": "Delft"})
        other = make_account("Other")
        with pytest.raises(PermissionDenied):
            services.update_account(other, by=kam, changes={"city": "Delft"})

    def test_viewers_change_nothing(self, viewer, account):
        with pytest.raises(PermissionDenied):
            services.update_account(account, by=viewer, changes={"city": "Delft"})


class TestArchive:
    def test_archive_keeps_everything_and_restores(self, lead, kam_account):
        services.archive_account(kam_account, by=lead)
        kam_account.refresh_from_db()
        assert kam_account.is_archived
        assert Account.objects.filter(pk=kam_account.pk).exists()
        assert kam_account.team_members.count() == 1
        services.restore_account(kam_account, by=lead)
        kam_account.refresh_from_db()
        assert not kam_account.is_archived


class TestVisibility:
    def test_team_members_see_only_their_accounts(self, kam, outsider, lead, viewer, kam_account, make_account):
        other = make_account("Other")
        assert list(Account.objects.visible_to(kam)) == [kam_account]
        assert not Account.objects.visible_to(outsider).exists()
        assert set(Account.objects.visible_to(lead)) == {kam_account, other}
        assert set(Account.objects.visible_to(viewer)) == {kam_account, other}
        assert not Account.objects.editable_by(viewer).exists()


class TestWorkload:
    def test_warns_when_a_kam_carries_more_than_capacity(self, lead, kam, make_account, make_user):
        for i in range(6):
            acc = make_account(f"Key {i}")
            services.add_team_member(acc, by=lead, user=kam, role=TeamRole.KAM)
            services.set_tier(acc, by=lead, tier=Tier.KEY, reason="Selected")
        orphan = make_account("Orphan")
        services.set_tier(orphan, by=lead, tier=Tier.KEY, reason="Selected")
        workload = services.kam_workload(lead)
        load = workload.kams[0]
        assert (load.kam, len(load.key_accounts), load.capacity, load.over_capacity) == (kam, 6, 5, True)
        assert workload.key_accounts_without_kam == [orphan]
        kam.kam_capacity = 6
        kam.save()
        assert not services.kam_workload(lead).over_capacity
