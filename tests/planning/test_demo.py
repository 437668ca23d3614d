from keyplan.accounts.models import Tier
from keyplan.core.models import User
from keyplan.demo.generator import build_demo
from keyplan.planning import services
from keyplan.planning.models import AccountPlan, Action


def test_the_demo_has_living_neglected_and_missing_plans(db):
    build_demo(accounts=300, seed=42)
    lead = User.objects.get(username="lead")
    rows = services.portfolio(lead)
    assert rows and all(r.account.tier == Tier.KEY for r in rows)
    assert any(r.living for r in rows), "a living plan"
    assert any(r.plan is None for r in rows), "a key account without any plan"
    assert any(r.plan and r.plan.state == "draft" for r in rows), "a draft"
    assert any(r.overdue for r in rows), "overdue actions"
    assert AccountPlan.objects.filter(state="archived").exists() and AccountPlan.objects.filter(copied_from__isnull=False).exists()
    assert Action.objects.filter(depends_on__isnull=False).exists() and Action.objects.filter(stakeholder__isnull=False).exists()
    living = next(r for r in rows if r.living)
    assert services.plan_view(living.plan).quality.score > 0.7


def test_the_demo_has_opportunities_and_whitespace(db):
    from keyplan.planning.models import Opportunity, WhitespaceCell

    build_demo(accounts=200, seed=7)
    assert Opportunity.objects.filter(stage="won").exists() and Opportunity.objects.filter(stage="lost").exists()
    assert Opportunity.objects.filter(stage__in=["qualify", "develop", "propose"]).exists()
    assert WhitespaceCell.objects.filter(state="competitor").exists()
    plan = Opportunity.objects.first().account.plans.filter(state="active").first() or Opportunity.objects.first().account.plans.first()
    assert services.whitespace(plan.account).whitespace_value > 0 and services.pipeline(plan).open > 0


def test_the_demo_has_a_charter_a_rollout_and_wallets(db):
    from keyplan.planning import charter
    from keyplan.planning.models import Goal

    build_demo(accounts=200, seed=3)
    view = charter.charter_view()
    assert view.content["objectives"] and view.content["roles"] and view.charter.version >= 3
    assert [phase for phase, _steps in view.phases] == ["Pilot", "Roll-out", "Review"]
    assert {a.verdict for a in view.readiness} - {"unknown"}, "readiness answered from the demo's data"
    assert any(s.due and s.due < view.today and s.status != "done" for s in view.steps), "a late rollout step"
    goal = Goal.objects.filter(metric="share_of_wallet").select_related("plan").first()
    measured = next(g for g in services.plan_view(goal.plan).goals if g.goal.pk == goal.pk)
    assert goal.plan.wallet and measured.current is not None and 20 < measured.current < 50
