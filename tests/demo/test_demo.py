from django.core.management import call_command

from keyplan.accounts.models import Account, TeamMember, TeamRole, Tier
from keyplan.accounts.services import change_log, kam_workload
from keyplan.core.models import Role, User
from keyplan.demo.generator import build_demo


def _snapshot():
    return [
        (a.external_id, a.name, a.tier, a.country.code, a.parent.external_id if a.parent else None)
        for a in Account.objects.select_related("parent").order_by("external_id")
    ]


def _empty_database() -> None:
    call_command("flush", interactive=False, verbosity=0)


def test_same_seed_same_portfolio(transactional_db):
    build_demo(accounts=120, seed=3)
    first = _snapshot()
    teams = sorted(TeamMember.objects.values_list("account__external_id", "user__username", "role"))
    _empty_database()
    build_demo(accounts=120, seed=3)
    assert _snapshot() == first
    assert sorted(TeamMember.objects.values_list("account__external_id", "user__username", "role")) == teams


def test_portfolio_is_realistic(db):
    demo = build_demo(accounts=300, seed=42)
    assert Account.objects.count() == 300
    assert {Role.ADMIN, Role.KAM_LEAD, Role.VIEWER, Role.TEAM_MEMBER} <= set(User.objects.values_list("role", flat=True))
    assert Account.objects.values("country").distinct().count() >= 8
    assert Account.objects.values("industry").distinct().count() >= 10
    assert Account.objects.filter(parent__isnull=False).exists()
    key = Account.objects.filter(tier=Tier.KEY)
    assert key.exists() and Account.objects.filter(tier=Tier.CANDIDATE).exists()
    # Every key account has exactly one KAM, and each has its tier history.
    for account in key:
        assert account.team_members.filter(role=TeamRole.KAM).count() == 1
        assert [c.to_tier for c in account.tier_changes.order_by("effective_date")] == ["standard", "candidate", "key"]
    # The workload page has something true to say: one KAM over capacity.
    assert len(kam_workload(demo.users["lead"]).over_capacity) == 1
    # History exists from the start.
    assert change_log(key.first())
    # Health: some key accounts are being onboarded (some with stages overdue), and the slipping ones pay late.
    from keyplan.health import onboarding
    from keyplan.health.models import HealthSnapshot

    states = {row["status"] for row in onboarding.statuses(key.values_list("pk", flat=True)).values()}
    assert {"overdue", "none"} <= states and states & {"in_progress", "done"}
    latest = HealthSnapshot.objects.filter(account__in=key).order_by("-day").first().day
    from keyplan.health.models import SaveAction

    assert SaveAction.objects.filter(plan_action__isnull=False).exists()  # save plans reach the account plans
    assert any("payments_late" in rules for rules in HealthSnapshot.objects.filter(day=latest).values_list("endangered", flat=True))


def test_a_different_seed_gives_a_different_portfolio(transactional_db):
    build_demo(accounts=50, seed=1)
    names = set(Account.objects.values_list("name", flat=True))
    _empty_database()
    build_demo(accounts=50, seed=2)
    assert set(Account.objects.values_list("name", flat=True)) != names


def test_the_demo_has_a_saved_mapping_and_an_imported_calendar(db):
    from keyplan.crm.models import CalendarEvent
    from keyplan.revenue.models import ImportBatch, ImportMapping

    build_demo(accounts=60, seed=5)
    saved = ImportMapping.objects.get(user__username="lead")
    assert saved.kind == "accounts" and saved.mapping["Kundennr."] == "external_id"
    batch = ImportBatch.objects.get(kind="calendar")
    assert batch.status == "done" and batch.created_by.username == "lead"
    events = CalendarEvent.objects.select_related("interaction")
    assert events.count() >= 4 and all(e.batch == batch for e in events)
    assert all(e.interaction.account.tier == Tier.KEY and e.interaction.stakeholders.exists() for e in events)
