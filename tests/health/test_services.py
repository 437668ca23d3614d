"""The score's facts gathered from the other areas, the daily snapshot, the at-risk queue and the reviews."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from keyplan.accounts import services as accounts
from keyplan.accounts.models import Account, Tier
from keyplan.health import analysis, services
from keyplan.health.models import HealthSnapshot, ProgramSnapshot, RiskCase, SurveyResponse
from keyplan.planning import services as planning
from keyplan.relationships import services as relationships
from keyplan.scoring import services as scoring


def days(n: int) -> datetime.timedelta:
    return datetime.timedelta(days=n)


def test_facts_come_from_surveys_interactions_subscriptions_plans_and_stakeholders(key_account, kam, lead, today, subscribe):
    a = key_account
    for score, ago in ((8, 120), (8, 100), (5, 20)):
        services.add_survey(a, by=kam, kind="nps", score=score, responded_on=today - days(ago))
    services.add_survey(a, by=kam, kind="csat", score=4, responded_on=today - days(10))
    boss = relationships.create_stakeholder(a, by=kam, data={"name": "Bea Boss", "buying_role": "decision_maker",
                                                             "decision_power": "high", "owner": kam})
    relationships.create_stakeholder(a, by=kam, data={"name": "Carl Critic", "decision_power": "high", "sentiment": "critic"})
    relationships.log_interaction(a, by=kam, kind="meeting", date=today - days(5), summary="Review", stakeholders=[boss])
    relationships.log_interaction(a, by=kam, kind="call", date=today - days(120), summary="Call")
    subscribe(a, "Premium", 4000, days_ago=400, ended_days_ago=30)
    subscribe(a, "Basic", 500, days_ago=30)
    plan = planning.create_plan(a, by=kam, period=f"FY{today.year}")
    planning.activate_plan(plan, by=kam)
    goal = planning.add_goal(plan, by=kam, data={"title": "Keep them"})
    planning.add_action(goal, by=kam, data={"title": "Late", "due": today - days(3)})
    planning.add_action(goal, by=kam, data={"title": "Done", "due": today - days(3), "status": "done"})

    f = services.facts([a.pk], today=today)[a.pk]
    assert (f.nps_recent, f.nps_before, f.csat_recent, f.latest_nps) == (5, 8, 4, 5)
    assert (f.interactions_recent, f.interactions_before, f.relationships_kept) == (1, 1, True)
    assert (f.mrr_now, f.mrr_before, f.plan) == (500, 4000, "Basic")
    assert (f.has_plan, f.overdue_actions) == (True, 1)
    # Two decision makers (a decision-maker role, a high power); Bea is owned and was met, Carl is neither.
    assert (f.decision_makers, f.decision_makers_covered, f.critics_high_power) == (2, 1, 1)

    health = services.account_health(a, today=today)
    by_name = {c["name"]: c for c in health["components"]}
    assert by_name["satisfaction"]["explanation"].startswith("−")
    assert "NPS fell from 8 to 5 this quarter" in by_name["satisfaction"]["explanation"]
    assert "MRR fell 88 % in 90 days (4000 → 500)" in by_name["mrr_movement"]["explanation"]
    assert health["score"] == 100 + sum(c["contribution"] for c in health["components"])
    assert "critic_high_power" in health["endangered"]


def test_survey_input_is_checked_and_nothing_is_written(key_account, kam, lead, outsider, today, make_account):
    with pytest.raises(ValidationError) as error:
        services.add_survey(key_account, by=kam, kind="nps", score=11, responded_on=today)
    assert "score" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        services.add_survey(key_account, by=kam, kind="csat", score=0, responded_on=today + days(1))
    assert set(error.value.message_dict) == {"score", "responded_on"}
    with pytest.raises(ValidationError):
        services.add_survey(key_account, by=kam, kind="ces", score=3, responded_on=today)
    other = relationships.create_stakeholder(make_account(), by=lead, data={"name": "X"})
    with pytest.raises(ValidationError) as error:
        services.add_survey(key_account, by=kam, kind="nps", score=9, responded_on=today, stakeholder=other)
    assert "stakeholder" in error.value.message_dict
    with pytest.raises(PermissionDenied):
        services.add_survey(key_account, by=outsider, kind="nps", score=9, responded_on=today)
    assert not SurveyResponse.objects.exists()


def _slipping(account, kam, today, subscribe):
    """A key account that meets "low engagement together with falling MRR"."""
    relationships.create_stakeholder(account, by=kam, data={"name": "Someone"})
    subscribe(account, "Premium", 3000, days_ago=400, ended_days_ago=10)
    subscribe(account, "Basic", 500, days_ago=10)


def test_the_snapshot_is_safe_to_run_twice_and_fills_the_queue(key_account, kam, today, subscribe, make_account, lead):
    _slipping(key_account, kam, today, subscribe)
    healthy = make_account("Healthy")
    subscribe(healthy, "Standard", 1500)
    first = services.take_snapshot(today=today)
    assert first.accounts == 2 and first.endangered == 1 and first.cases_opened == 1 and not first.replaced
    second = services.take_snapshot(today=today)
    assert second.replaced and second.cases_opened == 0
    assert HealthSnapshot.objects.filter(day=today).count() == 2
    assert RiskCase.objects.count() == 1 and ProgramSnapshot.objects.count() == 1
    case = RiskCase.objects.get()
    assert case.owner == kam and case.mrr_at_risk == 500 and case.rules == ["low_engagement_falling_mrr"]
    numbers = services.dashboard(lead)
    assert numbers["mrr_by_plan"] == {"Standard": 1500.0, "Basic": 500.0}
    assert numbers["mrr_at_risk"] == 500 and numbers["accounts_by_tier"]["key"] == 1


def test_a_closed_case_needs_an_outcome_and_is_not_reopened_at_once(key_account, kam, today, subscribe):
    _slipping(key_account, kam, today, subscribe)
    services.take_snapshot(today=today - days(3))
    case = RiskCase.objects.get()
    with pytest.raises(ValidationError) as error:
        services.close_case(case, by=kam, outcome=None, today=today)
    assert "outcome" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        services.close_case(case, by=kam, outcome="saved", closed_on=today + days(1), today=today)
    assert "closed_on" in error.value.message_dict
    case.refresh_from_db()
    assert case.is_open and case.outcome == ""
    services.add_save_action(case, by=kam, title="Call the CFO", due=today + days(2))
    services.close_case(case, by=kam, outcome="downgraded", today=today)
    case.refresh_from_db()
    assert case.outcome == "downgraded" and case.closed_on == today
    assert services.take_snapshot(today=today).cases_opened == 0  # closed within 30 days: not back in the queue
    with pytest.raises(ValidationError):
        services.add_save_action(case, by=kam, title="Too late")


def test_the_queue_is_ordered_by_mrr_at_risk_then_time_in_queue(lead, make_account, today):
    a, b, c = make_account("A"), make_account("B"), make_account("C")
    for account, mrr, ago in ((a, 100, 10), (b, 900, 2), (c, 100, 20)):
        case = services.open_case(account, by=lead, reason="Hand-picked", today=today - days(ago))
        RiskCase.objects.filter(pk=case.pk).update(mrr_at_risk=mrr)
    assert [x.account.name for x in services.queue(lead)] == ["B", "C", "A"]
    with pytest.raises(ValidationError):
        services.open_case(a, by=lead, reason="Again")  # one open case per account
    with pytest.raises(ValidationError):
        services.open_case(make_account("D"), by=lead, reason="  ")


def test_review_cadence_by_tier_and_the_selection_settings(key_account, kam, lead, today, make_account):
    candidate = make_account("Candidate Co")
    accounts.set_tier(candidate, by=lead, tier=Tier.CANDIDATE, reason="Rising")
    make_account("Standard Co")
    # Never reviewed: due today. Standard accounts are not reviewed by default.
    due = services.reviews_due(Account.objects.all(), today=today)
    assert {d.account.name for d in due} == {key_account.name, "Candidate Co"}
    services.record_review(key_account, by=kam, held_on=today - days(40), what_changed="New CFO")
    assert services.cadence_for(Tier.KEY) == "quarterly"  # the selection settings' cadence
    due = services.reviews_due(Account.objects.filter(pk=key_account.pk), today=today)
    assert due == []  # reviewed 40 days ago, quarterly
    scoring.update_settings(by=lead, review_cadence="monthly")
    due = services.reviews_due(Account.objects.filter(pk=key_account.pk), today=today)
    assert len(due) == 1 and due[0].overdue and due[0].due == analysis.add_months(today - days(40), 1)
    services.update_settings(by=lead, changes={"cadence_key": "weekly"})
    assert services.cadence_for(Tier.KEY) == "weekly"
    with pytest.raises(ValidationError) as error:
        services.record_review(key_account, by=kam, held_on=today + days(1))
    assert "held_on" in error.value.message_dict


def test_settings_are_checked_and_only_leads_change_them(lead, kam):
    with pytest.raises(PermissionDenied):
        services.update_settings(by=kam, changes={"green_from": 80})
    for changes, field in (({"green_from": 101}, "green_from"), ({"amber_from": 75}, "amber_from"),
                           ({"rules": ["everything"]}, "rules"), ({"weights": {"luck": 5}}, "weights"),
                           ({"weights": {"satisfaction": 0, "engagement": 0, "mrr_movement": 0, "overdue_actions": 0,
                                         "decision_makers": 0, "usage": 0, "tickets": 0, "onboarding": 0, "payments": 0}}, "weights"), ({"cadence_standard": "daily"}, "cadence_standard")):
        with pytest.raises(ValidationError) as error:
            services.update_settings(by=lead, changes=changes)
        assert field in error.value.message_dict, changes
    row = services.update_settings(by=lead, changes={"weights": {"satisfaction": 50}, "rules": ["nps_detractor"]})
    assert row.weights["satisfaction"] == 50 and row.weights["engagement"] == 10 and row.rules == ["nps_detractor"]


def test_backtest_judges_the_score_on_history(lead, make_account, today, subscribe):
    """Accounts red three months ago (a critic, a falling NPS, no contact, MRR falling) that then churned,
    against green ones that held."""
    for i in range(6):
        red = make_account(f"Red {i}")
        accounts.set_tier(red, by=lead, tier=Tier.KEY, reason="Selected")
        services.add_survey(red, by=lead, kind="nps", score=1, responded_on=today - days(130))
        relationships.create_stakeholder(red, by=lead, data={"name": "Critic", "decision_power": "high", "sentiment": "critic"})
        subscribe(red, "Premium", 4000, days_ago=700, ended_days_ago=60)
        green = make_account(f"Green {i}")
        accounts.set_tier(green, by=lead, tier=Tier.KEY, reason="Selected")
        services.add_survey(green, by=lead, kind="nps", score=10, responded_on=today - days(130))
        subscribe(green, "Premium", 4000, days_ago=700)
    # A stricter lead: below 65 is red (the red accounts score 63: NPS 1, nobody in contact, the critic unowned).
    services.update_settings(by=lead, changes={"green_from": 80, "amber_from": 65})
    # The first of each of three months, outcome two months later: the red accounts' subscriptions ended 60 days
    # ago, so the two latest months see them churn, the first sees them hold.
    result = services.backtest(months=3, horizon=2, today=today)
    assert result["bands"]["red"] == {"observations": 18, "churned": 12, "contracted": 0, "lost": 12, "rate": 0.667}
    assert result["bands"]["green"]["observations"] == 18 and result["bands"]["green"]["lost"] == 0
    assert result["predicts"] and result["flagged_red"] == 1.0
    with pytest.raises(ValidationError):
        services.backtest(months=0)


def test_the_save_plan_goes_into_the_account_plan(key_account, kam, lead, today):
    from keyplan.planning import services as planning
    from keyplan.planning.models import Action

    case = services.open_case(key_account, by=lead, reason="CFO left")
    early = services.add_save_action(case, by=kam, title="Call the new CFO")
    assert early.plan_action is None  # no plan yet: the save plan stays on the case
    with pytest.raises(ValidationError) as refused:
        services.link_save_plan(case, by=kam)
    assert "plan" in refused.value.message_dict
    plan = planning.create_plan(key_account, by=kam, period="FY2027")
    assert services.link_save_plan(case, by=kam) == 1
    early.refresh_from_db()
    case.refresh_from_db()
    assert early.plan_action.plan == plan and early.plan_action.goal == case.plan_goal
    assert case.plan_goal.title.startswith("Keep the account: save plan of the at-risk case of")
    later = services.add_save_action(case, by=kam, title="Offer a service review", due=today)
    assert later.plan_action.goal == case.plan_goal and later.plan_action.due == today
    services.complete_save_action(later, by=kam)
    assert Action.objects.get(pk=later.plan_action_id).status == "done"
    # Done in the plan: done on the case too.
    planning.update_action(early.plan_action, by=kam, version=None, changes={"status": "done"})
    assert [a["done"] for a in services.case_dict(case)["actions"]] == [True, True]
    assert services.link_save_plan(case, by=kam) == 0
