"""Objects for the API tests that walk every path of the OpenAPI document."""

import datetime

import pytest

from keyplan.accounts import services as accounts
from keyplan.accounts.models import TeamRole
from keyplan.health import onboarding
from keyplan.health import services as health
from keyplan.planning import charter
from keyplan.planning import services as planning
from keyplan.relationships import services as relationships
from keyplan.revenue import services as revenue
from keyplan.scoring import services as scoring
from keyplan.reports.services import start_workbook_job
from keyplan.scoring.models import Proposal


@pytest.fixture
def world(admin, lead, kam, make_account, make_user):
    """One object of every kind an API path names, made through the services; path parameter → id."""
    account = make_account("Acme", country="NL", city="Utrecht")
    sales = make_user("sam")
    accounts.add_team_member(account, by=lead, user=kam, role=TeamRole.KAM)
    member = accounts.add_team_member(account, by=lead, user=sales, role=TeamRole.SALES)
    competitor = accounts.add_competitor(account, by=lead, name="Rival BV")
    ceo = relationships.create_stakeholder(account, by=lead, data={"name": "Clara Ceo", "title": "CEO"})
    cfo = relationships.create_stakeholder(account, by=lead, data={"name": "Frank Finance", "reports_to": ceo})
    line = relationships.add_influence_line(account, by=lead, source=ceo, target=cfo)
    interaction = relationships.log_interaction(
        account, by=lead, kind="meeting", date=datetime.date(2026, 3, 2), summary="Review", stakeholders=[ceo], location="Utrecht",
        next_step="Send the offer",
    )
    criterion = scoring.create_criterion(by=lead, name="Product fit", group="growth", weight=50)
    harmony = scoring.create_criterion(by=lead, name="Cultural fit", group="harmony", weight=50)
    scoring.set_score(account, by=lead, criterion=criterion, value=8)
    scoring.set_score(account, by=lead, criterion=harmony, value=9)
    # A round with room for one key account proposes Acme: a proposal that exists (an unknown one is a 404 first).
    selection_round = scoring.create_round(by=lead, name="Spring round", refresh=False, capacity=1)
    proposal = Proposal.objects.get(round=selection_round, account=account)
    review = scoring.run_review(by=lead)
    subscription = revenue.add_subscription(account, by=lead, plan="Pro", monthly_amount=100, currency="EUR", start=datetime.date(2025, 1, 1))
    plan = planning.create_plan(account, by=lead, period="FY2027")
    goal = planning.add_goal(plan, by=lead, data={"title": "Grow", "owner": kam})
    action = planning.add_action(goal, by=lead, data={"title": "Meet the CFO", "stakeholder": cfo})
    opportunity = planning.add_opportunity(account, by=lead, data={"name": "Upsell", "amount": 1000})
    case = health.open_case(account, by=lead, reason="Quiet for months")
    stage = onboarding.add_stage(account, by=lead, name="Kick-off", planned=datetime.date(2026, 4, 1))
    step = charter.add_step(by=lead, data={"phase": "Pilot", "title": "Pick the pilot accounts"})
    return {
        "account_id": account.pk,
        "member_id": member.pk,
        "competitor_id": competitor.pk,
        "stakeholder_id": cfo.pk,
        "line_id": line.pk,
        "interaction_id": interaction.pk,
        "criterion_id": criterion.pk,
        "round_id": selection_round.pk,
        "proposal_id": proposal.pk,
        "review_id": review.pk,
        "subscription_id": subscription.pk,
        "batch_id": 0,
        "name": "pareto",
        "plan_id": plan.pk,
        "goal_id": goal.pk,
        "action_id": action.pk,
        "opportunity_id": opportunity.pk,
        "key": "swot",
        "case_id": case.pk,
        "step_id": step.pk,
        "stage_id": stage.pk,
        "user_id": kam.pk,
        "job_id": start_workbook_job(lead).pk,
    }
