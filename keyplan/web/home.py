"""What the home page shows, composed from the areas' own services (the web app sits above them all):

- for a new installation, the KAM process as a checklist, each step ticked from the data;
- for a KAM, "this week": their key accounts with what needs doing;
- for a lead, the program at a glance.

Plain functions over the database; the view only picks which parts a user sees. Nothing imports
the web app, so this composition stays here; what it lists comes from the areas' services (stale
alerts, proposals, the KAM workload), which the API and the CLI serve as they are.
"""

import datetime
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.db.models import Exists, OuterRef, Q
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from keyplan.accounts.models import Account, TeamMember, TeamRole, Tier
from keyplan.accounts.services import kam_workload
from keyplan.core.models import User
from keyplan.core.numbers import number

NEXT_STEP_DAYS = 7  # "this week": next steps due within a week (and any overdue)


@dataclass
class Step:
    key: str
    label: str
    done: bool
    url: str
    detail: str = ""


def _url(name: str, *args) -> str:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return ""


def _plan_model():
    """The account plan model once a planning area is installed (None before)."""
    if not apps.is_installed("keyplan.planning"):
        return None
    for model in apps.get_app_config("planning").get_models():
        if model.__name__ == "AccountPlan":
            return model
    return None


def checklist() -> list[Step]:
    """The KAM process, in order, each step ticked from what is in the database."""
    from keyplan.relationships.models import Stakeholder
    from keyplan.revenue.models import BatchStatus, ImportBatch
    from keyplan.scoring.models import Criterion, Proposal, ProposalStatus, SelectionRound
    from keyplan.scoring.services import ranking_index

    keys = Account.objects.active().filter(tier=Tier.KEY)
    key_count = keys.count()
    groups = set(Criterion.objects.active().values_list("group", flat=True))
    rounds = SelectionRound.objects.order_by("-date", "-pk")
    latest = rounds.first()
    with_kam = keys.filter(Exists(TeamMember.objects.filter(account=OuterRef("pk"), role=TeamRole.KAM))).count()
    mapped = keys.filter(Exists(Stakeholder.objects.filter(account=OuterRef("pk"), archived_at__isnull=True))).count()
    plan = _plan_model()
    planned = keys.filter(Exists(plan.objects.filter(account=OuterRef("pk")))).count() if plan is not None else 0
    ranked = ranking_index().ranked if groups >= {"growth", "harmony"} else 0

    def of(n: int) -> str:
        return _("%(n)s of %(total)s key accounts") % {"n": number(n), "total": number(key_count)}  # the reader's digits

    return [
        Step("import", _("Import your revenue"), ImportBatch.objects.filter(status=BatchStatus.DONE).exists(),
             _url("revenue:imports")),
        Step("criteria", _("Set the selection criteria (growth potential and harmony)"), groups >= {"growth", "harmony"},
             _url("scoring:criteria")),
        Step("score", _("Score the accounts"), ranked > 0, _url("scoring:matrix"),
             ngettext("%(n)s account ranked", "%(n)s accounts ranked", ranked)
             % {"n": number_format(ranked, force_grouping=True)} if ranked else ""),
        Step("round", _("Take a selection round"), latest is not None, _url("scoring:rounds")),
        Step("accept", _("Accept the key accounts"),
             key_count > 0 or Proposal.objects.filter(status=ProposalStatus.ACCEPTED).exists(),
             _url("scoring:round", latest.pk) if latest else _url("scoring:rounds")),
        Step("team", _("Give each key account a team"), key_count > 0 and with_kam == key_count,
             _url("accounts:workload"), of(with_kam) if key_count else ""),
        Step("stakeholders", _("Map the stakeholders"), key_count > 0 and mapped == key_count,
             _url("relationships:portfolio"), of(mapped) if key_count else ""),
        Step("plan", _("Write the account plan"), plan is not None and key_count > 0 and planned == key_count,
             _url("planning:portfolio"), of(planned) if key_count and plan is not None else ""),
    ]


@dataclass
class Todo:
    account: Account
    stale: list = field(default_factory=list)        # relationships StaleAlert
    next_steps: list = field(default_factory=list)   # interactions with a next step due
    proposals: list = field(default_factory=list)    # proposals waiting for a decision
    reviews: list = field(default_factory=list)      # health: account reviews overdue
    risks: list = field(default_factory=list)        # health: entered the at-risk queue this week
    actions: list = field(default_factory=list)      # the user's plan actions overdue or due this week

    @property
    def count(self) -> int:
        return (len(self.stale) + len(self.next_steps) + len(self.proposals) + len(self.reviews) + len(self.risks)
                + len(self.actions))


def this_week(user: User, *, today: datetime.date | None = None) -> list[Todo]:
    """The user's key accounts (those they are KAM of; every account team they are on when none) with what
    needs doing: stale relationships, next steps due within a week or overdue, proposals waiting, and the
    plan actions the user owns that are overdue or due within a week (on any account whose plan they are in)."""
    from keyplan.health.services import week_items
    from keyplan.relationships.models import Interaction
    from keyplan.relationships.services import stale_alerts
    from keyplan.scoring.models import Proposal, ProposalStatus

    today = today or timezone.localdate()
    teams = TeamMember.objects.filter(user=user, account__archived_at__isnull=True)
    kam_of = Account.objects.filter(pk__in=teams.filter(role=TeamRole.KAM).values("account_id"))
    mine = kam_of.filter(tier=Tier.KEY)
    if not mine.exists():
        mine = Account.objects.filter(pk__in=teams.values("account_id"), tier=Tier.KEY)
    todos = {a.pk: Todo(a) for a in mine.order_by("name")[:50]}
    for action in _plan_actions_due(user, today):
        todos.setdefault(action.plan.account_id, Todo(action.plan.account)).actions.append(action)
    if not todos:
        return []
    accounts = Account.objects.filter(pk__in=todos)
    for alert in stale_alerts(accounts, today=today):
        todos[alert.account.pk].stale.append(alert)
    due = (Interaction.objects.filter(account__in=accounts, next_step_done=False, next_step_due__isnull=False,
                                      next_step_due__lte=today + datetime.timedelta(days=NEXT_STEP_DAYS))
           .exclude(next_step="").filter(Q(next_step_owner=user) | Q(next_step_owner__isnull=True) | Q(account__in=kam_of))
           .select_related("next_step_owner").order_by("next_step_due", "pk"))
    for interaction in due:
        todos[interaction.account_id].next_steps.append(interaction)
    for proposal in Proposal.objects.filter(account__in=accounts, status=ProposalStatus.PENDING).select_related("round"):
        todos[proposal.account_id].proposals.append(proposal)
    for account_id, items in week_items(accounts, today=today).items():
        todos[account_id].reviews, todos[account_id].risks = items["reviews"], items["risks"]
    return sorted(todos.values(), key=lambda t: (-t.count, t.account.name))


def _plan_actions_due(user: User, today: datetime.date) -> list:
    """The open plan actions ``user`` owns that are overdue or due within a week, on plans still in use."""
    if not apps.is_installed("keyplan.planning"):
        return []
    from keyplan.planning.analysis import CLOSED_ACTION
    from keyplan.planning.models import Action, PlanState

    return list(Action.objects.filter(owner=user, due__isnull=False, due__lte=today + datetime.timedelta(days=NEXT_STEP_DAYS),
                                      plan__account__archived_at__isnull=True)
                .exclude(status__in=CLOSED_ACTION).exclude(plan__state=PlanState.ARCHIVED)
                .filter(plan__account__in=Account.objects.visible_to(user))
                .select_related("plan__account", "goal").order_by("due", "pk")[:100])


def program(user: User) -> dict[str, Any]:
    """The program at a glance, for whoever sees every account."""
    from keyplan.scoring.models import Proposal, ProposalStatus
    from keyplan.scoring.services import program_capacity

    keys = Account.objects.active().filter(tier=Tier.KEY)
    workload = kam_workload(user)
    without_sponsor = list(keys.exclude(pk__in=TeamMember.objects.filter(role=TeamRole.EXECUTIVE_SPONSOR)
                                        .values("account_id")).order_by("name")[:20])
    sponsorless = keys.exclude(pk__in=TeamMember.objects.filter(role=TeamRole.EXECUTIVE_SPONSOR).values("account_id")).count()
    pending = Proposal.objects.filter(status=ProposalStatus.PENDING, account__archived_at__isnull=True)
    latest_pending = pending.select_related("round").order_by("-round__date", "-round_id").first()
    return {
        "key_accounts": keys.count(),
        "capacity": program_capacity().total,
        "over_capacity": workload.over_capacity,
        "without_kam": workload.key_accounts_without_kam,
        "without_sponsor": without_sponsor,
        "without_sponsor_count": sponsorless,
        "pending": pending.count(),
        "pending_round": latest_pending.round if latest_pending else None,
    }
