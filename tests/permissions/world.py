"""The objects and users the permission matrix runs against, made through the services users go through.

Roles: ``anonymous``; ``viewer``; ``member`` (a sales member of the account's team, not its KAM);
``kam`` (the account's key account manager); ``other`` (a team member of another account only);
``lead`` (KAM lead); ``admin``.
"""

import datetime

from keyplan.accounts import services as accounts
from keyplan.accounts.models import TeamRole
from keyplan.core.models import Role
from keyplan.core.services import create_token, create_user
from keyplan.health import onboarding
from keyplan.health import services as health
from keyplan.planning import charter
from keyplan.planning import services as planning
from keyplan.relationships import services as relationships
from keyplan.revenue import services as revenue
from keyplan.revenue.models import ImportBatch
from keyplan.scoring import services as scoring
from keyplan.scoring.models import Proposal

ROLES = ("anonymous", "viewer", "other", "member", "kam", "lead", "admin")
PASSWORD = "a-long-test-password"


def _user(username: str, role: str):
    return create_user(username=username, password=PASSWORD, role=role, check_password=False)


def build_world() -> dict:
    """Users by role and the ids every page and endpoint names (URL kwarg or path parameter → id)."""
    users = {
        "admin": _user("admin", Role.ADMIN),
        "lead": _user("lead", Role.KAM_LEAD),
        "viewer": _user("viewer", Role.VIEWER),
        "kam": _user("kam", Role.TEAM_MEMBER),
        "member": _user("member", Role.TEAM_MEMBER),
        "other": _user("other", Role.TEAM_MEMBER),
    }
    lead = users["lead"]
    account = accounts.create_account(by=lead, data={"name": "Acme", "external_id": "A-1", "country": "NL"})
    elsewhere = accounts.create_account(by=lead, data={"name": "Elsewhere", "external_id": "E-1"})
    accounts.add_team_member(account, by=lead, user=users["kam"], role=TeamRole.KAM)
    member = accounts.add_team_member(account, by=lead, user=users["member"], role=TeamRole.SALES)
    accounts.add_team_member(elsewhere, by=lead, user=users["other"], role=TeamRole.KAM)
    competitor = accounts.add_competitor(account, by=lead, name="Rival BV")
    ceo = relationships.create_stakeholder(account, by=lead, data={"name": "Clara Ceo", "title": "CEO"})
    cfo = relationships.create_stakeholder(account, by=lead, data={"name": "Frank Finance", "reports_to": ceo})
    line = relationships.add_influence_line(account, by=lead, source=ceo, target=cfo)
    interaction = relationships.log_interaction(
        account, by=lead, kind="meeting", date=datetime.date(2026, 3, 2), summary="Review", stakeholders=[ceo])
    criterion = scoring.create_criterion(by=lead, name="Product fit", group="growth", weight=50)
    harmony = scoring.create_criterion(by=lead, name="Cultural fit", group="harmony", weight=50)
    scoring.set_score(account, by=lead, criterion=criterion, value=8)
    scoring.set_score(account, by=lead, criterion=harmony, value=9)
    selection_round = scoring.create_round(by=lead, name="Spring round", refresh=False, capacity=1)
    proposal = Proposal.objects.get(round=selection_round, account=account)
    review = scoring.run_review(by=lead)
    subscription = revenue.add_subscription(account, by=lead, plan="Pro", monthly_amount=100, currency="EUR",
                                            start=datetime.date(2025, 1, 1))
    batch = ImportBatch.objects.create(kind="ledger", file_name="ledger.csv", file_sha256="0" * 64, status="done",
                                       created_by=users["admin"])
    plan = planning.create_plan(account, by=lead, period="FY2027")
    goal = planning.add_goal(plan, by=lead, data={"title": "Grow", "owner": users["kam"]})
    action = planning.add_action(goal, by=lead, data={"title": "Meet the CFO", "stakeholder": cfo})
    opportunity = planning.add_opportunity(account, by=lead, data={"name": "Upsell", "amount": 1000})
    section = planning.update_section(plan, "swot", by=lead, version=None, content={"strengths": ["Service"]})
    history_id = section.history.order_by("history_id").values_list("history_id", flat=True).first()
    case = health.open_case(account, by=lead, reason="Quiet for months")
    stage = onboarding.add_stage(account, by=lead, name="Kick-off")
    step = charter.add_step(by=lead, data={"phase": "Pilot", "title": "Pick the pilot accounts"})
    from keyplan.reports.services import start_workbook_job

    job = start_workbook_job(users["member"])  # a workbook is its starter's alone (it holds what they may see)
    from keyplan.revenue.mappings import save_mapping

    mapping = save_mapping(by=users["lead"], kind="accounts", name="Our ERP", mapping={"Kennung": "external_id"})
    tokens = {role: create_token(user) for role, user in users.items()}
    token_row = users["member"].api_tokens.first()
    return {
        "users": users,
        "tokens": tokens,
        "ids": {
            "account_id": account.pk,
            "elsewhere_id": elsewhere.pk,
            "member_id": member.pk,
            "competitor_id": competitor.pk,
            "stakeholder_id": cfo.pk,
            "line_id": line.pk,
            "interaction_id": interaction.pk,
            "criterion_id": criterion.pk,
            "round_id": selection_round.pk,
            "proposal_id": proposal.pk if proposal else 0,
            "review_id": review.pk,
            "subscription_id": subscription.pk,
            "batch_id": batch.pk,
            "plan_id": plan.pk,
            "goal_id": goal.pk,
            "action_id": action.pk,
            "opportunity_id": opportunity.pk,
            "history_id": history_id,
            "token_id": token_row.pk,
            "mapping_id": mapping.pk,
            "case_id": case.pk,
            "stage_id": stage.pk,
            "step_id": step.pk,
            "user_id": users["kam"].pk,
            "job_id": job.pk,
            "name": "pareto",
            "key": "swot",
            "field_name": "city",
            "upload_token": "no-such-upload",
        },
    }
