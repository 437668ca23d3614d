import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from keyplan.relationships import services
from keyplan.relationships.models import InfluenceLine, Interaction, Stakeholder


def errors(excinfo) -> dict:
    return excinfo.value.message_dict


class TestStakeholders:
    def test_create_with_every_attribute_and_history(self, kam_account, kam, make_stakeholder):
        boss = make_stakeholder(kam_account, "Bea Boss", by=kam)
        person = make_stakeholder(
            kam_account, "  Paul   Purchase ", by=kam, title="Head of procurement", department="Procurement",
            email="paul@example.com", phone="+31 30 123", reports_to=boss, buying_role="gatekeeper",
            decision_power="high", sentiment="critic", contact_strength="weak", is_key_contact=True, owner=kam,
        )
        person.refresh_from_db()
        assert person.name == "Paul Purchase" and person.reports_to == boss and person.owner == kam
        assert person.history.count() == 1 and person.history.first().history_user == kam

    def test_external_party(self, kam_account, make_stakeholder):
        consultant = make_stakeholder(kam_account, "Carl Consult", external_organisation="Quartz Advisory")
        assert consultant.is_external and str(consultant) == "Carl Consult (Quartz Advisory)"

    @pytest.mark.parametrize("field, value", [
        ("sentiment", "enthusiastic"), ("decision_power", "huge"), ("buying_role", "king"), ("contact_strength", "great"),
    ])
    def test_choice_outside_the_allowed_values_is_refused(self, kam_account, make_stakeholder, field, value):
        with pytest.raises(ValidationError) as excinfo:
            make_stakeholder(kam_account, "X", **{field: value})
        assert field in errors(excinfo) and "choose one of" in errors(excinfo)[field][0]
        assert not Stakeholder.objects.exists()

    def test_name_is_required_and_email_checked(self, kam_account, make_stakeholder):
        with pytest.raises(ValidationError) as excinfo:
            make_stakeholder(kam_account, "  ", email="not-an-email")
        assert {"name", "email"} <= set(errors(excinfo))
        assert not Stakeholder.objects.exists()

    def test_reports_to_cycle_is_refused_and_nothing_written(self, kam_account, lead, make_stakeholder):
        a = make_stakeholder(kam_account, "A")
        b = make_stakeholder(kam_account, "B", reports_to=a)
        c = make_stakeholder(kam_account, "C", reports_to=b)
        with pytest.raises(ValidationError) as excinfo:
            services.update_stakeholder(a, by=lead, changes={"reports_to": c, "title": "Boss"})
        assert "cycle" in errors(excinfo)["reports_to"][0]
        a.refresh_from_db()
        assert a.reports_to is None and a.title == "" and a.history.count() == 1

    def test_reporting_to_oneself_is_refused(self, kam_account, lead, make_stakeholder):
        a = make_stakeholder(kam_account, "A")
        with pytest.raises(ValidationError) as excinfo:
            services.update_stakeholder(a, by=lead, changes={"reports_to": a})
        assert "themselves" in errors(excinfo)["reports_to"][0]

    def test_manager_of_another_account_is_refused(self, kam_account, make_account, make_stakeholder):
        other = make_stakeholder(make_account("Other"), "Otto Other")
        with pytest.raises(ValidationError) as excinfo:
            make_stakeholder(kam_account, "X", reports_to=other)
        assert "another account" in errors(excinfo)["reports_to"][0]
        assert not Stakeholder.objects.filter(account=kam_account).exists()

    def test_reporting_lines_stay_within_one_organisation(self, kam_account, make_stakeholder):
        cfo = make_stakeholder(kam_account, "Cfo")
        with pytest.raises(ValidationError) as excinfo:
            make_stakeholder(kam_account, "Consultant", external_organisation="Quartz", reports_to=cfo)
        assert "organisation" in errors(excinfo)["reports_to"][0]
        partner = make_stakeholder(kam_account, "Partner", external_organisation="Quartz")
        assert make_stakeholder(kam_account, "Junior", external_organisation="quartz", reports_to=partner).reports_to == partner

    def test_owner_must_be_on_the_team(self, kam_account, outsider, make_stakeholder):
        with pytest.raises(ValidationError) as excinfo:
            make_stakeholder(kam_account, "X", owner=outsider)
        assert "not on this account's team" in errors(excinfo)["owner"][0]

    def test_unknown_field_is_refused(self, kam_account, make_stakeholder):
        with pytest.raises(ValidationError) as excinfo:
            make_stakeholder(kam_account, "X", archived_at=None)
        assert "archived_at" in errors(excinfo)

    def test_permissions(self, kam_account, viewer, outsider, kam, make_stakeholder):
        for user in (viewer, outsider):
            with pytest.raises(PermissionDenied):
                make_stakeholder(kam_account, "X", by=user)
        person = make_stakeholder(kam_account, "X", by=kam)
        with pytest.raises(PermissionDenied):
            services.update_stakeholder(person, by=viewer, changes={"title": "Y"})
        with pytest.raises(PermissionDenied):
            services.remove_stakeholder(person, by=outsider)

    def test_update_records_old_and_new_values(self, kam_account, kam, make_stakeholder):
        person = make_stakeholder(kam_account, "X", sentiment="neutral")
        services.update_stakeholder(person, by=kam, changes={"sentiment": "supporter"})
        entry = services.change_log(kam_account)[0]
        assert entry.who == "Karl Kam" and entry.action == "changed"
        assert [(c.old, c.new) for c in entry.changes] == [("Neutral", "Supporter")]

    def test_delete_without_interactions_deletes_and_moves_reports_up(self, kam_account, lead, make_stakeholder):
        top = make_stakeholder(kam_account, "Top")
        middle = make_stakeholder(kam_account, "Middle", reports_to=top)
        low = make_stakeholder(kam_account, "Low", reports_to=middle)
        services.add_influence_line(kam_account, by=lead, source=middle, target=top)
        removal = services.remove_stakeholder(middle, by=lead)
        assert not removal.archived and not Stakeholder.objects.filter(pk=middle.pk).exists()
        low.refresh_from_db()
        assert low.reports_to == top and not InfluenceLine.objects.exists()

    def test_delete_with_interactions_archives(self, kam_account, lead, make_stakeholder, log):
        top = make_stakeholder(kam_account, "Top")
        person = make_stakeholder(kam_account, "Met", reports_to=top)
        low = make_stakeholder(kam_account, "Low", reports_to=person)
        interaction = log(kam_account, person)
        removal = services.remove_stakeholder(person, by=lead)
        person.refresh_from_db()
        assert removal.archived and person.is_archived
        assert list(interaction.stakeholders.all()) == [person]  # the log stays whole
        low.refresh_from_db()
        assert low.reports_to == top
        assert [p.name for p in services.people(kam_account)] == ["Low", "Top"]
        services.restore_stakeholder(person, by=lead)
        assert "Met" in [p.name for p in services.people(kam_account)]


class TestInfluenceLines:
    def test_add_change_remove(self, kam_account, kam, make_stakeholder):
        a, b = make_stakeholder(kam_account, "A"), make_stakeholder(kam_account, "B")
        line = services.add_influence_line(kam_account, by=kam, source=a, target=b, polarity="negative",
                                           strength="strong", note=" Old rivals ", since=datetime.date(2020, 1, 1))
        assert line.note == "Old rivals" and line.history.first().history_user == kam
        services.update_influence_line(line, by=kam, changes={"strength": "weak"})
        line.refresh_from_db()
        assert line.strength == "weak"
        services.remove_influence_line(line, by=kam)
        assert not InfluenceLine.objects.exists()
        assert [e.action for e in services.change_log(kam_account) if "Influence" in e.subject] == ["removed", "changed", "created"]

    def test_line_to_oneself_is_refused(self, kam_account, lead, make_stakeholder):
        a = make_stakeholder(kam_account, "A")
        with pytest.raises(ValidationError) as excinfo:
            services.add_influence_line(kam_account, by=lead, source=a, target=a)
        assert "themselves" in errors(excinfo)["target"][0]
        assert not InfluenceLine.objects.exists()

    def test_stakeholder_of_another_account_is_refused(self, kam_account, lead, make_account, make_stakeholder):
        a = make_stakeholder(kam_account, "A")
        stranger = make_stakeholder(make_account("Other"), "Stranger")
        with pytest.raises(ValidationError) as excinfo:
            services.add_influence_line(kam_account, by=lead, source=stranger, target=a)
        assert "another account" in errors(excinfo)["source"][0]
        assert not InfluenceLine.objects.exists()

    @pytest.mark.parametrize("field, value", [("strength", "enormous"), ("polarity", "mixed")])
    def test_values_outside_the_choices_are_refused(self, kam_account, lead, make_stakeholder, field, value):
        a, b = make_stakeholder(kam_account, "A"), make_stakeholder(kam_account, "B")
        with pytest.raises(ValidationError) as excinfo:
            services.add_influence_line(kam_account, by=lead, source=a, target=b, **{field: value})
        assert field in errors(excinfo)
        assert not InfluenceLine.objects.exists()

    def test_one_line_per_direction(self, kam_account, lead, make_stakeholder):
        a, b = make_stakeholder(kam_account, "A"), make_stakeholder(kam_account, "B")
        services.add_influence_line(kam_account, by=lead, source=a, target=b)
        with pytest.raises(ValidationError) as excinfo:
            services.add_influence_line(kam_account, by=lead, source=a, target=b, polarity="negative")
        assert "already a line" in errors(excinfo)["target"][0]
        services.add_influence_line(kam_account, by=lead, source=b, target=a)  # the other direction is another line
        assert InfluenceLine.objects.count() == 2

    def test_viewer_cannot_draw(self, kam_account, viewer, make_stakeholder):
        a, b = make_stakeholder(kam_account, "A"), make_stakeholder(kam_account, "B")
        with pytest.raises(PermissionDenied):
            services.add_influence_line(kam_account, by=viewer, source=a, target=b)


class TestInteractions:
    def test_log_with_participants_and_next_step(self, kam_account, kam, sales, today, make_stakeholder):
        a = make_stakeholder(kam_account, "A")
        interaction = services.log_interaction(
            kam_account, by=kam, kind="visit", date=today, summary="  Plant tour\nSaw line 3 ", stakeholders=[a],
            users=[kam, sales], next_step="Send the offer", next_step_owner=sales,
            next_step_due=today + datetime.timedelta(days=7),
        )
        assert interaction.summary == "Plant tour\nSaw line 3" and interaction.headline == "Plant tour"
        assert set(interaction.users.all()) == {kam, sales} and interaction.created_by == kam
        assert interaction.history.first().history_user == kam

    @pytest.mark.parametrize("change, field", [
        ({"kind": "telepathy"}, "kind"),
        ({"summary": " "}, "summary"),
        ({"next_step": "", "next_step_due": "later"}, "next_step"),
        ({"next_step": "Call", "days_due": -3}, "next_step_due"),
    ])
    def test_bad_input_names_the_field_and_writes_nothing(self, kam_account, kam, today, change, field):
        kwargs = {"kind": "call", "date": today, "summary": "Call"}
        change = dict(change)
        if change.get("next_step_due") == "later":
            change["next_step_due"] = today
        if "days_due" in change:
            change["next_step_due"] = today + datetime.timedelta(days=change.pop("days_due"))
        kwargs.update(change)
        with pytest.raises(ValidationError) as excinfo:
            services.log_interaction(kam_account, by=kam, **kwargs)
        assert field in errors(excinfo)
        assert not Interaction.objects.exists()

    def test_participants_must_belong_to_the_account(self, kam_account, kam, outsider, today, make_account, make_stakeholder):
        stranger = make_stakeholder(make_account("Other"), "Stranger")
        with pytest.raises(ValidationError) as excinfo:
            services.log_interaction(kam_account, by=kam, kind="call", date=today, summary="x", stakeholders=[stranger])
        assert "another account" in errors(excinfo)["stakeholders"][0]
        with pytest.raises(ValidationError) as excinfo:
            services.log_interaction(kam_account, by=kam, kind="call", date=today, summary="x", users=[outsider])
        assert "users" in errors(excinfo)
        with pytest.raises(ValidationError) as excinfo:
            services.log_interaction(kam_account, by=kam, kind="call", date=today, summary="x", next_step="y",
                                     next_step_owner=outsider)
        assert "next_step_owner" in errors(excinfo)
        assert not Interaction.objects.exists()

    def test_update_and_remove(self, kam_account, kam, make_stakeholder, log):
        a, b = make_stakeholder(kam_account, "A"), make_stakeholder(kam_account, "B")
        interaction = log(kam_account, a, by=kam)
        services.update_interaction(interaction, by=kam, changes={"stakeholders": [a, b], "next_step": "Follow up",
                                                                  "next_step_done": True})
        interaction.refresh_from_db()
        assert set(interaction.stakeholders.all()) == {a, b} and interaction.next_step_done
        services.remove_interaction(interaction, by=kam)
        assert not Interaction.objects.exists()

    def test_contact_strength_is_computed_from_interactions(self, kam_account, make_stakeholder, log, today):
        quiet = make_stakeholder(kam_account, "Quiet", contact_strength="strong")
        met = make_stakeholder(kam_account, "Met", contact_strength="none")
        planned_only = make_stakeholder(kam_account, "Planned", contact_strength="weak")
        log(kam_account, met, days_ago=10)  # 2 points: weak
        log(kam_account, planned_only, days_ago=-5)  # still to come: does not count
        contact = {p.name: p.contact for p in services.people(kam_account)}
        assert contact == {"Quiet": "strong", "Met": "weak", "Planned": "weak"}
        log(kam_account, met, days_ago=20, kind="call")  # 3 points: medium
        assert {p.name: p.contact for p in services.people(kam_account)}["Met"] == "medium"
        log(kam_account, met, days_ago=30, kind="visit")
        log(kam_account, met, days_ago=400, kind="visit")  # outside the window
        assert {p.name: p.contact for p in services.people(kam_account)}["Met"] == "medium"  # 5 points
        log(kam_account, met, days_ago=40, kind="email")
        people = {p.name: p for p in services.people(kam_account)}
        assert people["Met"].contact == "strong" and people["Met"].last_contact == today - datetime.timedelta(days=10)


class TestStaleAlerts:
    def test_key_contacts_and_decision_makers_not_contacted(self, kam_account, make_stakeholder, log, lead, today):
        from keyplan.accounts.models import Account

        fresh = make_stakeholder(kam_account, "Fresh", is_key_contact=True, decision_power="low")
        old = make_stakeholder(kam_account, "Old", buying_role="decision_maker", decision_power="low")
        make_stakeholder(kam_account, "Never", is_key_contact=True, decision_power="low")
        make_stakeholder(kam_account, "Nobody special", decision_power="low", buying_role="user")
        boundary = make_stakeholder(kam_account, "Boundary", buying_role="economic_buyer", decision_power="low")
        log(kam_account, fresh, days_ago=5)
        log(kam_account, old, days_ago=90)
        log(kam_account, boundary, days_ago=60)
        alerts = services.stale_alerts(Account.objects.all(), today=today)
        assert [(a.person.name, a.stale.days_since) for a in alerts] == [("Never", None), ("Old", 90), ("Boundary", 60)]
        alerts = services.stale_alerts(Account.objects.all(), today=today, days=100)
        assert [a.person.name for a in alerts] == ["Never"]
        with pytest.raises(ValidationError):
            services.stale_alerts(Account.objects.all(), today=today, days=0)

    def test_a_medium_power_supporter_not_contacted_for_90_days_is_flagged(self, kam_account, make_stakeholder, log, today):
        from keyplan.accounts.models import Account

        supporter = make_stakeholder(kam_account, "Sam Supporter", decision_power="medium", sentiment="supporter",
                                     buying_role="user")
        high = make_stakeholder(kam_account, "Hanna High", decision_power="high", buying_role="influencer")
        low = make_stakeholder(kam_account, "Lars Low", decision_power="low", buying_role="user")
        for person in (supporter, high, low):
            log(kam_account, person, days_ago=90)
        alerts = services.stale_alerts(Account.objects.all(), today=today)
        assert [(a.person.name, a.stale.days_since) for a in alerts] == [("Hanna High", 90), ("Sam Supporter", 90)]
