import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from keyplan.planning import services
from keyplan.planning.models import AccountPlan, Action, Goal, PlanSection, PlanState
from keyplan.relationships import services as relationships


def days(n: int) -> datetime.timedelta:
    return datetime.timedelta(days=n)


class TestPlans:
    def test_a_fiscal_year_gives_its_calendar_dates_and_empty_sections(self, key_account, kam, today):
        plan = services.create_plan(key_account, by=kam, period="FY2027")
        assert (plan.starts, plan.ends, plan.state, plan.version) == (datetime.date(2027, 1, 1), datetime.date(2027, 12, 31), "draft", 1)
        assert sorted(plan.sections.values_list("key", flat=True)) == ["business", "relationships", "swot", "value"]
        assert plan.sections.get(key="swot").content == {"strengths": [], "weaknesses": [], "opportunities": [], "threats": []}

    def test_other_periods_need_their_dates_and_each_period_is_once_per_account(self, key_account, kam):
        with pytest.raises(ValidationError) as error:
            services.create_plan(key_account, by=kam, period="2027 H1")
        assert "starts" in error.value.message_dict
        with pytest.raises(ValidationError) as error:
            services.create_plan(key_account, by=kam, period="H1", starts=datetime.date(2027, 6, 30), ends=datetime.date(2027, 1, 1))
        assert "ends" in error.value.message_dict
        services.create_plan(key_account, by=kam, period="FY2027")
        with pytest.raises(ValidationError) as error:
            services.create_plan(key_account, by=kam, period="fy2027")
        assert "period" in error.value.message_dict
        assert AccountPlan.objects.count() == 1

    def test_a_new_period_starts_as_a_copy_with_open_goals_and_actions_and_their_dependencies(self, plan, goal, kam, today):
        services.update_section(plan, "swot", by=kam, version=1, content={"strengths": ["Trusted supplier"]})
        first = services.add_action(goal, by=kam, data={"title": "Value proposition", "start": today, "due": today + days(10)})
        second = services.add_action(goal, by=kam, data={"title": "CTO meeting", "start": today + days(11),
                                                          "due": today + days(20), "depends_on": [first.pk]})
        services.add_action(goal, by=kam, data={"title": "Done already", "status": "done"})
        achieved = services.add_goal(plan, by=kam, data={"title": "Reached", "owner": kam, "status": "achieved"})
        services.add_action(achieved, by=kam, data={"title": "Under a reached goal"})

        following = services.create_plan(plan.account, by=kam, period=f"FY{today.year + 1}")

        assert following.copied_from == plan and following.state == "draft"
        assert following.sections.get(key="swot").content["strengths"] == ["Trusted supplier"]
        assert [g.title for g in following.goals.all()] == ["Grow revenue 10 %"]
        copied = {a.title: a for a in following.actions.all()}
        assert set(copied) == {"Value proposition", "CTO meeting"}
        assert list(copied["CTO meeting"].depends_on.all()) == [copied["Value proposition"]]
        assert copied["CTO meeting"].goal.plan == following
        # The old plan keeps its own.
        assert list(second.depends_on.all()) == [first] and plan.actions.count() == 4

    def test_activation_needs_an_owner_per_goal_and_leaves_one_active_plan(self, plan, goal, kam, today):
        loose = services.add_goal(plan, by=kam, data={"title": "Nobody's goal"})
        with pytest.raises(ValidationError) as error:
            services.activate_plan(plan, by=kam)
        assert "goals" in error.value.message_dict and "Nobody's goal" in error.value.message_dict["goals"][0]
        assert AccountPlan.objects.get(pk=plan.pk).state == "draft"
        services.update_goal(loose, by=kam, version=1, changes={"owner": kam})
        services.activate_plan(plan, by=kam)
        following = services.create_plan(plan.account, by=kam, period=f"FY{today.year + 1}")
        services.activate_plan(following, by=kam)
        states = dict(AccountPlan.objects.values_list("pk", "state"))
        assert states == {plan.pk: "archived", following.pk: "active"}

    def test_an_archived_plan_is_not_changed(self, plan, goal, kam):
        services.archive_plan(plan, by=kam)
        plan.refresh_from_db()
        with pytest.raises(ValidationError) as error:
            services.update_plan(plan, by=kam, version=plan.version, changes={"summary": "later"})
        assert "state" in error.value.message_dict
        with pytest.raises(ValidationError):
            services.add_goal(plan, by=kam, data={"title": "x"})

    def test_a_stale_version_is_a_conflict_and_nothing_is_written(self, plan, kam, lead):
        services.update_plan(plan, by=lead, version=1, changes={"summary": "Lead's view"})
        with pytest.raises(services.Conflict) as conflict:
            services.update_plan(plan, by=kam, version=1, changes={"summary": "KAM's view"})
        assert conflict.value.current.version == 2 and conflict.value.current.summary == "Lead's view"
        assert AccountPlan.objects.get(pk=plan.pk).summary == "Lead's view"

    def test_only_the_team_and_leads_write(self, plan, outsider, viewer):
        for user in (outsider, viewer):
            with pytest.raises(PermissionDenied):
                services.update_plan(plan, by=user, version=1, changes={"summary": "x"})
            with pytest.raises(PermissionDenied):
                services.create_plan(plan.account, by=user, period="FY2040")


class TestSections:
    def test_lists_from_lines_bounded_and_unknown_fields_refused(self, plan, kam):
        row = services.update_section(plan, "business", by=kam, version=1,
                                      content={"goals": "Enter Asia\n\n  Halve lead times  ", "initiatives": ["ERP roll-out"]})
        assert row.content["goals"] == ["Enter Asia", "Halve lead times"] and row.version == 2
        with pytest.raises(ValidationError) as error:
            services.update_section(plan, "business", by=kam, version=2, content={"goals": ["x" * 301]})
        assert "goals" in error.value.message_dict
        with pytest.raises(ValidationError) as error:
            services.update_section(plan, "swot", by=kam, version=1, content={"strenghts": ["typo"]})
        assert "strenghts" in error.value.message_dict["content"][0]
        with pytest.raises(ValidationError):
            services.update_section(plan, "swot", by=kam, version=1, content={"threats": ["t"] * 51})
        assert PlanSection.objects.get(plan=plan, key="swot").version == 1

    def test_an_earlier_version_is_restored_as_a_new_one(self, plan, kam, lead):
        services.update_section(plan, "relationships", by=kam, version=1, content={"summary": "First reading"})
        services.update_section(plan, "relationships", by=lead, version=2, content={"summary": "Overwritten"})
        row = services.section(plan, "relationships")
        first = next(v for v in services.section_versions(row) if v.version == 2)
        restored = services.restore_section(row, by=kam, history_id=first.history_id, version=3)
        assert restored.content == {"summary": "First reading"} and restored.version == 4
        assert [v.version for v in services.section_versions(restored)] == [4, 3, 2, 1]
        with pytest.raises(ValidationError) as error:
            services.restore_section(restored, by=kam, history_id=999_999)
        assert "history_id" in error.value.message_dict


class TestGoalsAndActions:
    def test_bad_actions_name_the_field_and_write_nothing(self, plan, goal, kam, today, make_account, lead):
        with pytest.raises(ValidationError) as error:
            services.add_action(goal, by=kam, data={"title": "Backwards", "start": today, "due": today - days(1)})
        assert "due" in error.value.message_dict
        other = make_account("Other Corp")
        stranger = relationships.create_stakeholder(other, by=lead, data={"name": "Someone Else"})
        with pytest.raises(ValidationError) as error:
            services.add_action(goal, by=kam, data={"title": "Wrong person", "stakeholder": stranger})
        assert "stakeholder" in error.value.message_dict
        with pytest.raises(ValidationError) as error:
            services.add_action(goal, by=kam, data={"title": "   "})
        assert "title" in error.value.message_dict
        with pytest.raises(ValidationError) as error:
            services.add_action(goal, by=kam, data={"title": "Far", "due": datetime.date(2999, 1, 1)})
        assert "due" in error.value.message_dict
        assert not Action.objects.exists()

    def test_a_dependency_cycle_is_refused(self, goal, kam):
        a = services.add_action(goal, by=kam, data={"title": "A"})
        b = services.add_action(goal, by=kam, data={"title": "B", "depends_on": [a.pk]})
        c = services.add_action(goal, by=kam, data={"title": "C", "depends_on": [b.pk]})
        with pytest.raises(ValidationError) as error:
            services.update_action(a, by=kam, version=1, changes={"depends_on": [c.pk]})
        assert "depends_on" in error.value.message_dict and "A → C → B → A" in error.value.message_dict["depends_on"][0]
        with pytest.raises(ValidationError) as error:
            services.update_action(a, by=kam, version=1, changes={"depends_on": [a.pk]})
        assert "depends_on" in error.value.message_dict
        assert list(Action.objects.get(pk=a.pk).depends_on.all()) == [] and Action.objects.get(pk=a.pk).version == 1

    def test_owners_come_from_the_team(self, plan, goal, outsider, kam):
        with pytest.raises(ValidationError) as error:
            services.add_goal(plan, by=kam, data={"title": "x", "owner": outsider})
        assert "owner" in error.value.message_dict
        with pytest.raises(ValidationError) as error:
            services.add_action(goal, by=kam, data={"title": "x", "owner": outsider})
        assert "owner" in error.value.message_dict

    def test_removing_a_goal_removes_its_actions(self, goal, kam):
        services.add_action(goal, by=kam, data={"title": "A"})
        services.remove_goal(goal, by=kam)
        assert not Goal.objects.exists() and not Action.objects.exists()


class TestPlanView:
    def test_measured_values_coverage_and_quality(self, plan, goal, kam, lead, today):
        ceo = relationships.create_stakeholder(plan.account, by=lead, data={"name": "Clara Ceo", "buying_role": "decision_maker",
                                                                           "decision_power": "high"})
        relationships.create_stakeholder(plan.account, by=lead, data={"name": "Bob Buyer", "buying_role": "economic_buyer",
                                                                     "owner": kam})
        covered = services.add_goal(plan, by=kam, data={"title": "Cover the board", "horizon": "mid", "owner": kam,
                                                        "metric": "decision_makers_covered", "target_value": 2,
                                                        "due": today + days(200)})
        view = services.plan_view(plan)
        assert view.relationships.coverage.decision_makers == 2 and view.relationships.coverage.covered == 1
        measured = {g.goal.title: g.current for g in view.goals}
        assert measured == {"Grow revenue 10 %": 0.0, "Cover the board": 1}
        checks = {c.code: c for c in view.quality.checks}
        assert not checks["decision_makers"].ok and checks["decision_makers"].names == ("Clara Ceo",)
        assert not checks["goals_horizons"].ok and checks["goals_horizons"].names == ("long",)
        assert not view.quality.living

        # An action on the CEO covers her; an overdue action fails its check.
        services.add_action(covered, by=kam, data={"title": "Meet the CEO", "stakeholder": ceo, "start": today - days(20),
                                                   "due": today - days(1)})
        view = services.plan_view(plan)
        checks = {c.code: c for c in view.quality.checks}
        assert checks["decision_makers"].ok and view.relationships.coverage.covered == 2
        assert not checks["no_overdue"].ok and checks["no_overdue"].names == ("Meet the CEO",)
        assert {g.goal.title: g.current for g in view.goals}["Cover the board"] == 2

    def test_a_full_plan_is_living_and_the_portfolio_puts_the_others_first(self, plan, goal, kam, lead, today, make_account):
        from keyplan.accounts import services as accounts

        for key, content in {
            "relationships": {"summary": "Good"}, "business": {"goals": ["Grow"], "initiatives": ["ERP"]},
            "swot": {"strengths": ["s"], "weaknesses": ["w"], "opportunities": ["o"], "threats": ["t"]},
            "value": {"potential": "Cross-sell"},
        }.items():
            services.update_section(plan, key, by=kam, version=1, content=content)
        services.update_plan(plan, by=kam, version=1, changes={"summary": "Our view"})
        for horizon in ("mid", "long"):
            services.add_goal(plan, by=kam, data={"title": horizon, "horizon": horizon, "owner": kam, "target_value": 1,
                                                  "due": today + days(400)})
        for g in plan.goals.all():
            services.add_action(g, by=kam, data={"title": f"Do {g.title}", "due": today + days(30)})
        plan = services.activate_plan(plan, by=kam)
        quality = services.plan_view(plan).quality
        assert [c.code for c in quality.checks if not c.ok] == [] and quality.living

        neglected = make_account("Neglected Ltd")
        accounts.set_tier(neglected, by=lead, tier="key", reason="Big")
        rows = services.portfolio(lead)
        assert [(r.account.name, r.living) for r in rows] == [("Neglected Ltd", False), (plan.account.name, True)]
        assert services.portfolio_dict(rows[0])["plan"] is None
        # A team member sees only their own team's key accounts.
        assert [r.account.name for r in services.portfolio(kam)] == [plan.account.name]


def test_change_log_names_who_changed_what(plan, goal, kam):
    services.update_goal(goal, by=kam, version=1, changes={"status": "at_risk"})
    log = services.change_log(plan)
    assert log[0].subject == "Goal: Grow revenue 10 %" and log[0].who == str(kam)
    assert [(c.field, c.old, c.new) for c in log[0].changes] == [("status", "Open", "At risk")]
    assert PlanState.ACTIVE == "active"
