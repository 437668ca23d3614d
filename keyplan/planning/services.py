"""What may happen to account plans, their sections, goals and actions, and what a plan shows.

Every write is one function: permission, validation, one transaction, history, in that order.
A write names the ``version`` of the row it read; a stale one raises ``Conflict`` and
nothing is written. Views, the API, the CLI and the demo all go through here.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Prefetch, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from keyplan.accounts import services as accounts
from keyplan.accounts.models import Account, TeamMember, TeamRole, Tier
from keyplan.core import history
from keyplan.core.history import LogEntry
from keyplan.core.models import Role, User
from keyplan.core.versions import Conflict  # noqa: F401  (raised by check_version; planning.services.Conflict for callers)
from keyplan.core.versions import check_version as _check_version
from keyplan.planning import analysis
from keyplan.planning.models import (
    AccountPlan,
    Action,
    ActionStatus,
    CellState,
    Opportunity,
    OpportunityKind,
    Stage,
    WhitespaceCell,
    Goal,
    GoalStatus,
    Horizon,
    Metric,
    PlanSection,
    PlanState,
    RaciArea,
    RaciAssignment,
    RaciRole,
    SectionKey,
    written_by_keyplan,
)
from keyplan.relationships import analysis as relationships_analysis
from keyplan.relationships import services as relationships
from keyplan.relationships.models import Stakeholder

FIRST_DAY = datetime.date(2000, 1, 1)
LAST_DAY = datetime.date(2100, 12, 31)
MAX_VALUE = Decimal("1e15")
PLAN_FIELDS = ("period", "starts", "ends", "summary", "wallet")
GOAL_FIELDS = ("title", "description", "horizon", "owner", "metric", "target_value", "current_value", "due", "status")
ACTION_FIELDS = ("goal", "title", "notes", "owner", "start", "due", "status", "milestone", "stakeholder", "opportunity",
                 "depends_on")
OPPORTUNITY_FIELDS = ("name", "product_line", "division", "kind", "stage", "amount", "probability", "expected_close",
                      "owner", "closed_on", "reason")
FISCAL_YEAR = re.compile(r"^FY\s?(\d{4})$", re.IGNORECASE)


# ---------------------------------------------------------------- permissions and checks


def can_edit(user: User, account: Account) -> bool:
    return accounts.can_edit(user, account)


def _require_account_edit(user: User, account: Account) -> None:
    if not can_edit(user, account):
        raise PermissionDenied(_("You may not change this account's plans."))


def _require_edit(user: User, plan: AccountPlan) -> None:
    _require_account_edit(user, plan.account)
    if plan.state == PlanState.ARCHIVED:
        raise ValidationError({"state": _("An archived plan is kept as it was; start a new period instead.")})


def _check_fields(data: dict, allowed: Sequence[str]) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ValidationError({name: _("This field cannot be set here.") for name in unknown})


def _check_date(name: str, value) -> None:
    if value is not None and not FIRST_DAY <= value <= LAST_DAY:
        raise ValidationError({name: _("Give a date between %(first)s and %(last)s.")
                               % {"first": FIRST_DAY.isoformat(), "last": LAST_DAY.isoformat()}})


def _text(name: str, value, *, limit: int, required: bool = False) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ValidationError({name: _("This field is required.")})
    if len(value) > limit:
        raise ValidationError({name: _("Keep it to %(limit)s characters (it has %(count)s).")
                               % {"limit": limit, "count": len(value)}})
    return value


def _amount(name: str, value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ValidationError({name: _("Give a number.")}) from None
    if not amount.is_finite() or abs(amount) >= MAX_VALUE:
        raise ValidationError({name: _("Give a number below a thousand trillion.")})
    return amount.quantize(Decimal("0.01"))


def _check_choice(name: str, value: str, choices) -> None:
    if value not in choices.values:
        raise ValidationError({name: _("Choose one of: %(choices)s.") % {"choices": ", ".join(choices.values)}})


def assignable_users(account: Account):
    """Who may own a goal or an action: the account team, and the leads and admins who edit every account."""
    return User.objects.filter(is_active=True).filter(
        Q(team_memberships__account=account) | Q(role__in=[Role.ADMIN, Role.KAM_LEAD]) | Q(is_superuser=True)
    ).distinct().order_by("first_name", "last_name", "username")


def _check_owner(account: Account, owner: User | None, name: str = "owner") -> None:
    if owner is not None and not assignable_users(account).filter(pk=owner.pk).exists():
        raise ValidationError({name: _("%(user)s is not on this account's team.") % {"user": owner}})


def _save(row, *, by: User) -> None:
    row._history_user = by
    row.save()


# ---------------------------------------------------------------- plans


def period_dates(period: str, starts, ends) -> tuple[datetime.date, datetime.date]:
    match = FISCAL_YEAR.match(period)
    if (starts is None or ends is None) and match:
        year = int(match.group(1))
        starts = starts or datetime.date(year, 1, 1)
        ends = ends or datetime.date(year, 12, 31)
    if starts is None:
        raise ValidationError({"starts": _("Give the first day of the period (or name it FY and a year, e.g. FY2027).")})
    if ends is None:
        raise ValidationError({"ends": _("Give the last day of the period.")})
    _check_date("starts", starts)
    _check_date("ends", ends)
    if ends < starts:
        raise ValidationError({"ends": _("The period ends before it starts.")})
    return starts, ends


def latest_plan(account: Account) -> AccountPlan | None:
    return account.plans.order_by("-starts", "-pk").first()


def current_plan(account: Account) -> AccountPlan | None:
    """The active plan, else the newest draft, else the newest plan."""
    plans = account.plans.order_by("-starts", "-pk")
    return plans.filter(state=PlanState.ACTIVE).first() or plans.filter(state=PlanState.DRAFT).first() or plans.first()


@transaction.atomic
def create_plan(account: Account, *, by: User, period: str, starts: datetime.date | None = None,
                ends: datetime.date | None = None, summary: str = "") -> AccountPlan:
    """A new draft plan for ``period``. When the account had a plan before, the new one starts as a copy
    of the last: its sections, and the goals and actions still open (with their dependencies)."""
    _require_account_edit(by, account)
    Account.objects.select_for_update().get(pk=account.pk)  # two people starting the same period: one wins
    period = _text("period", period, limit=20, required=True)
    starts, ends = period_dates(period, starts, ends)
    if account.plans.filter(period__iexact=period).exists():
        raise ValidationError({"period": _("This account already has a plan for %(period)s.") % {"period": period}})
    previous = latest_plan(account)
    plan = AccountPlan(account=account, period=period, starts=starts, ends=ends, created_by=by, copied_from=previous,
                       wallet=previous.wallet if previous else None,
                       summary=_text("summary", summary if summary or previous is None else previous.summary,
                                     limit=analysis.TEXT_LIMIT))
    try:
        with transaction.atomic():
            _save(plan, by=by)
    except IntegrityError as exc:
        raise ValidationError({"period": _("This account already has a plan for %(period)s.") % {"period": period}}) from exc
    before = {s.key: s.content for s in previous.sections.all()} if previous else {}
    for key in SectionKey.values:
        _save(PlanSection(plan=plan, key=key, content=_clean_section(key, before.get(key, {}))), by=by)
    if previous is not None:
        _carry_over(previous, plan, by=by)
    return plan


def _carry_over(previous: AccountPlan, plan: AccountPlan, *, by: User) -> None:
    goals = {}
    for goal in previous.goals.exclude(status__in=analysis.CLOSED_GOAL).order_by("pk"):
        old_pk = goal.pk
        goal.pk, goal.plan, goal.carried_from_id, goal.version = None, plan, old_pk, 1
        _save(goal, by=by)
        goals[old_pk] = goal
    copies: dict[int, Action] = {}
    old_actions = list(previous.actions.filter(goal_id__in=goals).exclude(status__in=analysis.CLOSED_ACTION)
                       .prefetch_related("depends_on").order_by("pk"))
    for action in old_actions:
        old_pk, depends = action.pk, [d.pk for d in action.depends_on.all()]
        action.pk, action.plan, action.goal, action.carried_from_id, action.version = None, plan, goals[action.goal_id], old_pk, 1
        _save(action, by=by)
        copies[old_pk] = action
        action._old_depends = depends
    for action in copies.values():
        kept = [copies[pk] for pk in action._old_depends if pk in copies]
        if kept:
            action.depends_on.set(kept)


def _wallet(value) -> Decimal | None:
    wallet = _amount("wallet", value)
    if wallet is not None and wallet <= 0:
        raise ValidationError({"wallet": _("Give the customer's wallet as an amount above 0, or leave it empty.")})
    return wallet


@transaction.atomic
def update_plan(plan: AccountPlan, *, by: User, version: int | None, changes: dict) -> AccountPlan:
    _require_edit(by, plan)
    _check_fields(changes, PLAN_FIELDS)
    plan = AccountPlan.objects.select_for_update().get(pk=plan.pk)
    _check_version(plan, version)
    if "summary" in changes:
        changes["summary"] = _text("summary", changes["summary"], limit=analysis.TEXT_LIMIT)
    if "wallet" in changes:
        changes["wallet"] = _wallet(changes["wallet"])
    if "period" in changes:
        changes["period"] = _text("period", changes["period"], limit=20, required=True)
        if plan.account.plans.filter(period__iexact=changes["period"]).exclude(pk=plan.pk).exists():
            raise ValidationError({"period": _("This account already has a plan for %(period)s.") % {"period": changes["period"]}})
    changed = {k: v for k, v in changes.items() if getattr(plan, k) != v}
    if not changed:
        return plan
    for name, value in changed.items():
        setattr(plan, name, value)
    plan.starts, plan.ends = period_dates(plan.period, plan.starts, plan.ends)
    plan.version += 1
    _save(plan, by=by)
    return plan


@transaction.atomic
def activate_plan(plan: AccountPlan, *, by: User, version: int | None = None) -> AccountPlan:
    """Make ``plan`` the account's one active plan; the plan active until now is archived."""
    _require_edit(by, plan)
    Account.objects.select_for_update().get(pk=plan.account_id)
    plan = AccountPlan.objects.select_for_update().get(pk=plan.pk)
    _check_version(plan, version)
    if plan.state == PlanState.ACTIVE:
        return plan
    without_owner = list(plan.goals.exclude(status__in=analysis.CLOSED_GOAL).filter(owner__isnull=True)
                         .values_list("title", flat=True))
    if without_owner:
        raise ValidationError({"goals": _("Every goal needs an owner before the plan is activated; without one: %(goals)s.")
                               % {"goals": ", ".join(f"“{t}”" for t in without_owner)}})
    for other in AccountPlan.objects.select_for_update().filter(account_id=plan.account_id, state=PlanState.ACTIVE):
        other.state, other.version = PlanState.ARCHIVED, other.version + 1
        _save(other, by=by)
    plan.state, plan.version = PlanState.ACTIVE, plan.version + 1
    plan.reviewed_at = plan.reviewed_at or timezone.localdate()
    _save(plan, by=by)
    return plan


@transaction.atomic
def archive_plan(plan: AccountPlan, *, by: User, version: int | None = None) -> AccountPlan:
    _require_edit(by, plan)
    plan = AccountPlan.objects.select_for_update().get(pk=plan.pk)
    _check_version(plan, version)
    plan.state, plan.version = PlanState.ARCHIVED, plan.version + 1
    _save(plan, by=by)
    return plan


@transaction.atomic
def mark_reviewed(plan: AccountPlan, *, by: User, version: int | None = None, on: datetime.date | None = None) -> AccountPlan:
    """The team went through the plan with the account: the review cadence starts again."""
    _require_edit(by, plan)
    plan = AccountPlan.objects.select_for_update().get(pk=plan.pk)
    _check_version(plan, version)
    on = on or timezone.localdate()
    _check_date("reviewed_at", on)
    if on > timezone.localdate():
        raise ValidationError({"reviewed_at": _("A review cannot lie in the future.")})
    plan.reviewed_at, plan.version = on, plan.version + 1
    _save(plan, by=by)
    return plan


# ---------------------------------------------------------------- sections


def _clean_section(key: str, content) -> dict:
    """The section's content with every field of analysis.SECTIONS; a list may come as lines of text."""
    return clean_content(analysis.SECTIONS[key], content)


def clean_content(fields: dict[str, str], content) -> dict:
    """``content`` with every field of ``fields`` (name → "text" or "list"); a list may come as lines of text.
    Sections and the charter are written the same way."""
    if not isinstance(content, dict):
        raise ValidationError({"content": _("Give the section as an object of its fields.")})
    unknown = sorted(set(content) - set(fields))
    if unknown:
        raise ValidationError({"content": _("%(names)s: not a field of this section; it has %(fields)s.")
                               % {"names": ", ".join(unknown), "fields": ", ".join(fields)}})
    cleaned = {}
    for name, kind in fields.items():
        value = content.get(name, "" if kind == "text" else [])
        if kind == "text":
            if not isinstance(value, str):
                raise ValidationError({name: _("Give a text.")})
            cleaned[name] = _text(name, value, limit=analysis.TEXT_LIMIT)
            continue
        if isinstance(value, str):
            value = value.splitlines()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValidationError({name: _("Give a list of texts.")})
        entries = [v.strip() for v in value if v.strip()]
        if len(entries) > analysis.ENTRIES_LIMIT:
            raise ValidationError({name: _("Keep it to %(limit)s entries (it has %(count)s).")
                                   % {"limit": analysis.ENTRIES_LIMIT, "count": len(entries)}})
        long = next((i for i, v in enumerate(entries, start=1) if len(v) > analysis.ENTRY_LIMIT), None)
        if long is not None:
            raise ValidationError({name: _("Entry %(n)s is longer than %(limit)s characters.")
                                   % {"n": long, "limit": analysis.ENTRY_LIMIT}})
        cleaned[name] = entries
    return cleaned


def section(plan: AccountPlan, key: str) -> PlanSection:
    _check_choice("key", key, SectionKey)
    return plan.sections.get_or_create(key=key, defaults={"content": analysis.empty_section(key)})[0]


@transaction.atomic
def update_section(plan: AccountPlan, key: str, *, by: User, version: int | None, content: dict) -> PlanSection:
    _require_edit(by, plan)
    row = PlanSection.objects.select_for_update().get(pk=section(plan, key).pk)
    _check_version(row, version)
    cleaned = _clean_section(key, content)
    if cleaned == row.content:
        return row
    row.content, row.version = cleaned, row.version + 1
    _save(row, by=by)
    return row


@dataclass
class SectionVersion:
    history_id: int
    version: int
    when: datetime.datetime
    who: str
    content: dict


def section_versions(row: PlanSection, *, limit: int = 50) -> list[SectionVersion]:
    """The section's saved versions, newest first."""
    return [
        SectionVersion(r.history_id, r.version, r.history_date, str(r.history_user) if r.history_user else _("system"),
                       r.content)
        for r in row.history.select_related("history_user").order_by("-history_date", "-history_id")[:limit]
    ]


@transaction.atomic
def restore_section(row: PlanSection, *, by: User, history_id: int, version: int | None = None) -> PlanSection:
    """Bring back the content an earlier version of the section had, as a new version (nothing is lost)."""
    _require_edit(by, row.plan)
    row = PlanSection.objects.select_for_update().get(pk=row.pk)
    _check_version(row, version)
    record = row.history.filter(history_id=history_id).first()
    if record is None:
        raise ValidationError({"history_id": _("This section has no saved version %(id)s.") % {"id": history_id}})
    row.content, row.version = _clean_section(row.key, record.content), row.version + 1
    _save(row, by=by)
    return row


# ---------------------------------------------------------------- goals


def _clean_goal(goal: Goal, plan: AccountPlan) -> None:
    goal.title = _text("title", goal.title, limit=200, required=True)
    goal.description = _text("description", goal.description, limit=analysis.TEXT_LIMIT)
    _check_choice("horizon", goal.horizon, Horizon)
    _check_choice("metric", goal.metric, Metric)
    _check_choice("status", goal.status, GoalStatus)
    goal.target_value = _amount("target_value", goal.target_value)
    goal.current_value = _amount("current_value", goal.current_value)
    _check_date("due", goal.due)
    _check_owner(plan.account, goal.owner)


@transaction.atomic
def add_goal(plan: AccountPlan, *, by: User, data: dict, text_code: str = "", text_params: dict | None = None) -> Goal:
    """A goal of the plan. A goal Keyplan writes itself names its ``text_code`` (models.GOAL_TEXTS) and parameters
    instead of a title and description: they are stored in English and read in each reader's language."""
    _require_edit(by, plan)
    _check_fields(data, GOAL_FIELDS)
    if text_code:
        data = {**data, **written_by_keyplan(text_code, text_params or {})}
    goal = Goal(plan=plan, text_code=text_code, text_params=text_params or {}, **data)
    _clean_goal(goal, plan)
    _save(goal, by=by)
    return goal


@transaction.atomic
def update_goal(goal: Goal, *, by: User, version: int | None, changes: dict) -> Goal:
    _require_edit(by, goal.plan)
    _check_fields(changes, GOAL_FIELDS)
    goal = Goal.objects.select_for_update().select_related("plan__account").get(pk=goal.pk)
    _check_version(goal, version)
    for name, value in changes.items():
        setattr(goal, name, value)
    _clean_goal(goal, goal.plan)
    goal.version += 1
    _save(goal, by=by)
    return goal


@transaction.atomic
def remove_goal(goal: Goal, *, by: User, version: int | None = None) -> None:
    """The goal and the actions under it go; the history keeps both."""
    _require_edit(by, goal.plan)
    goal = Goal.objects.select_for_update().get(pk=goal.pk)
    _check_version(goal, version)
    for action in goal.actions.all():
        action._history_user = by
        action.delete()
    goal._history_user = by
    goal.delete()


# ---------------------------------------------------------------- actions


def check_action_dates(start: datetime.date | None, due: datetime.date | None) -> None:
    if start and due and due < start:
        raise ValidationError({"due": _("The action is due (%(due)s) before it starts (%(start)s).")
                               % {"due": due.isoformat(), "start": start.isoformat()}})


def _clean_action(action: Action, plan: AccountPlan, depends_on: list[int] | None) -> list[Action] | None:
    action.title = _text("title", action.title, limit=200, required=True)
    action.notes = _text("notes", action.notes, limit=analysis.TEXT_LIMIT)
    _check_choice("status", action.status, ActionStatus)
    _check_date("start", action.start)
    _check_date("due", action.due)
    check_action_dates(action.start, action.due)
    if action.goal.plan_id != plan.pk:
        raise ValidationError({"goal": _("The goal belongs to another plan.")})
    if action.stakeholder is not None and action.stakeholder.account_id != plan.account_id:
        raise ValidationError({"stakeholder": _("%(name)s is a stakeholder of another account.")
                               % {"name": action.stakeholder.name}})
    if action.opportunity is not None and action.opportunity.account_id != plan.account_id:
        raise ValidationError({"opportunity": _("The opportunity belongs to another account.")})
    _check_owner(plan.account, action.owner)
    if depends_on is None:
        return None
    ids = list(dict.fromkeys(int(pk) for pk in depends_on))
    if action.pk is not None and action.pk in ids:
        raise ValidationError({"depends_on": _("An action cannot depend on itself.")})
    others = {a.pk: a for a in Action.objects.filter(plan=plan, pk__in=ids)}
    missing = [pk for pk in ids if pk not in others]
    if missing:
        raise ValidationError({"depends_on": _("This plan has no action with id %(ids)s.")
                               % {"ids": ", ".join(map(str, missing))}})
    if action.pk is not None:
        edges: dict[int, set[int]] = {}
        for source, target in Action.depends_on.through.objects.filter(from_action__plan=plan).values_list(
                "from_action_id", "to_action_id"):
            edges.setdefault(source, set()).add(target)
        edges[action.pk] = set(ids)
        cycle = analysis.find_cycle(edges)
        if cycle:
            titles = dict(Action.objects.filter(pk__in=cycle).values_list("pk", "title"))
            raise ValidationError({"depends_on": _("That would make a cycle of dependencies: %(path)s.")
                                   % {"path": " → ".join(titles.get(pk, str(pk)) for pk in cycle)}})
    return [others[pk] for pk in ids]


@transaction.atomic
def add_action(goal: Goal, *, by: User, data: dict) -> Action:
    _require_edit(by, goal.plan)
    _check_fields(data, ACTION_FIELDS)
    data = dict(data)
    depends_on = data.pop("depends_on", None)
    data.setdefault("goal", goal)
    action = Action(plan=goal.plan, **data)
    prerequisites = _clean_action(action, goal.plan, depends_on)
    _save(action, by=by)
    if prerequisites:
        action.depends_on.set(prerequisites)
    return action


@transaction.atomic
def update_action(action: Action, *, by: User, version: int | None, changes: dict) -> Action:
    _require_edit(by, action.plan)
    _check_fields(changes, ACTION_FIELDS)
    action = Action.objects.select_for_update().select_related("plan__account", "goal").get(pk=action.pk)
    _check_version(action, version)
    changes = dict(changes)
    depends_on = changes.pop("depends_on", None)
    for name, value in changes.items():
        setattr(action, name, value)
    prerequisites = _clean_action(action, action.plan, depends_on)
    action.version += 1
    _save(action, by=by)
    if prerequisites is not None:
        action.depends_on.set(prerequisites)
    return action


@transaction.atomic
def remove_action(action: Action, *, by: User, version: int | None = None) -> None:
    _require_edit(by, action.plan)
    action = Action.objects.select_for_update().get(pk=action.pk)
    _check_version(action, version)
    action._history_user = by
    action.delete()


# ---------------------------------------------------------------- what a plan shows


@dataclass
class AccountValue:
    currency: str
    revenue_12m: float
    revenue_before: float
    growth: float | None
    margin: float | None
    arr: float | None
    abc: list[tuple[int, str]]
    months: list[tuple[datetime.date, float]]
    wallet: float | None = None  # the customer's estimated wallet, from the plan
    share_of_wallet: float | None = None  # revenue_12m / wallet, 0–1

    def as_dict(self) -> dict:
        return {"currency": self.currency, "revenue_12m": self.revenue_12m, "revenue_previous_12m": self.revenue_before,
                "growth": self.growth, "margin": self.margin, "arr": self.arr,
                "abc": [{"year": y, "class": c} for y, c in self.abc],
                "wallet": self.wallet, "share_of_wallet": None if self.share_of_wallet is None else round(self.share_of_wallet, 4)}


def account_value(account: Account, *, today: datetime.date | None = None) -> AccountValue:
    """The account's value from the revenue rollups (never the raw ledger): the same figures as its revenue card."""
    from keyplan.revenue.models import AbcClass, AbcCoverage, ExchangeRate, MonthlyRollup, Subscription
    from keyplan.revenue.portfolio import Period, _add_months
    from keyplan.revenue.services import reporting_currency

    today = today or timezone.localdate()
    this_year = Period.last_months(12, today=today)
    rollups = MonthlyRollup.objects.filter(account=account)

    def totals(start: datetime.date, end: datetime.date) -> tuple[float, float]:
        sums = rollups.filter(month__gte=start, month__lte=end).aggregate(revenue=Sum("revenue"), cost=Sum("cost"))
        return float(sums["revenue"] or 0), float(sums["cost"] or 0)

    revenue, cost = totals(this_year.start, this_year.end)
    before, _cost = totals(_add_months(this_year.start, -12), this_year.start - datetime.timedelta(days=1))
    currency = reporting_currency()
    running = Subscription.objects.filter(account=account, start__lte=today).filter(Q(end__isnull=True) | Q(end__gt=today))
    arr: float | None = 0.0
    for amount, code in running.values_list("monthly_amount", "currency"):
        rate = 1.0 if code == currency else (
            ExchangeRate.objects.filter(currency=code, date__lte=today).order_by("-date").values_list("rate", flat=True).first())
        if rate is None:  # no rate to convert with: say nothing rather than something wrong
            arr = None
            break
        arr += 12 * float(amount) * float(rate)
    classes = dict(AbcClass.objects.filter(account=account).values_list("year", "abc_class"))
    first = this_year.months()[0]
    by_month = dict(rollups.filter(month__gte=first).values_list("month", "revenue"))
    return AccountValue(
        currency=currency,
        revenue_12m=round(revenue, 2),
        revenue_before=round(before, 2),
        growth=analysis.growth(revenue, before),
        margin=(revenue - cost) / revenue if revenue > 0 else None,
        arr=round(arr, 2) if arr is not None else None,
        abc=[(year, classes.get(year, "C")) for year in AbcCoverage.years()],
        months=[(m, float(by_month.get(m, 0))) for m in this_year.months()],
    )


@dataclass
class GoalView:
    goal: Goal
    actions: list[Action]
    current: float | None
    progress: float | None
    overdue: bool


@dataclass
class RelationshipsView:
    people: int
    coverage: analysis.Coverage
    targets: list  # relationships_analysis.Target, who to win next
    stale: list  # relationships_analysis.Stale


@dataclass
class PlanView:
    plan: AccountPlan
    sections: dict[str, PlanSection]
    goals: list[GoalView]
    relationships: RelationshipsView
    value: AccountValue
    quality: analysis.Quality
    today: datetime.date
    opportunities: list[Opportunity] = field(default_factory=list)
    pipeline: analysis.Pipeline | None = None
    horizons: list[tuple[str, str, list[GoalView]]] = field(default_factory=list)

    @property
    def actions(self) -> list[Action]:
        return [a for g in self.goals for a in g.actions]


def _items(goals: Iterable[Goal]) -> tuple[list[analysis.Item], list[analysis.Item]]:
    goal_items, action_items = [], []
    for g in goals:
        goal_items.append(analysis.Item(g.pk, g.label, g.status, g.owner_id, None, g.due, None, g.horizon, g.target_value))
        for a in g.actions.all():
            action_items.append(analysis.Item(a.pk, a.title, a.status, a.owner_id, a.start, a.due, g.pk,
                                              stakeholder_id=a.stakeholder_id, milestone=a.milestone,
                                              depends_on=tuple(d.pk for d in a.depends_on.all())))
    return goal_items, action_items


def _goals(plan: AccountPlan) -> list[Goal]:
    actions = Action.objects.select_related("owner", "stakeholder").prefetch_related("depends_on")
    return list(plan.goals.select_related("owner").prefetch_related(Prefetch("actions", queryset=actions)))


def _facts(plan: AccountPlan, sections: dict, goals: list[Goal], coverage: analysis.Coverage) -> analysis.PlanFacts:
    goal_items, action_items = _items(goals)
    return analysis.PlanFacts(plan.state, plan.starts, plan.ends, plan.summary, plan.reviewed_at,
                              {k: s.content for k, s in sections.items()}, goal_items, action_items,
                              tuple(p.name for p in coverage.uncovered))


def _open_targets(goals: list[Goal]) -> set[int]:
    return {a.stakeholder_id for g in goals for a in g.actions.all()
            if a.stakeholder_id and a.status not in analysis.CLOSED_ACTION}


def plan_view(plan: AccountPlan, *, today: datetime.date | None = None) -> PlanView:
    """Everything the plan page, the API and the CLI show of one plan, computed once."""
    today = today or timezone.localdate()
    sections = {s.key: s for s in plan.sections.all()}
    for key in SectionKey.values:
        if key not in sections:
            sections[key] = section(plan, key)
    goals = _goals(plan)
    people = relationships.people(plan.account, today=today)
    cover = analysis.coverage(people, _open_targets(goals))
    value = account_value(plan.account, today=today)
    if plan.wallet is not None:
        value.wallet = float(plan.wallet)
        value.share_of_wallet = analysis.share_of_wallet(value.revenue_12m, plan.wallet)
    measured = {Metric.REVENUE: value.revenue_12m, Metric.DECISION_MAKERS: cover.covered,
                # in percent, as its target is written (35 is 35 %); not measured without a wallet
                Metric.SHARE_OF_WALLET: None if value.share_of_wallet is None else round(value.share_of_wallet * 100, 1)}
    views = []
    for g in goals:
        current = measured.get(g.metric, float(g.current_value) if g.current_value is not None else None)
        overdue = g.status not in analysis.CLOSED_GOAL and g.due is not None and g.due < today
        views.append(GoalView(g, list(g.actions.all()), current, analysis.progress(current, g.target_value), overdue))
    rel = RelationshipsView(
        people=len(people),
        coverage=cover,
        targets=relationships.who_to_win(plan.account, today=today)[:5],
        stale=relationships_analysis.stale_relationships(people, today=today, rule=relationships.stale_rule())[:10],
    )
    quality = analysis.quality(_facts(plan, sections, goals, cover), today=today)
    view = PlanView(plan, sections, views, rel, value, quality, today,
                    opportunities=list(plan.account.opportunities.select_related("owner").order_by("stage", "expected_close", "pk")),
                    pipeline=pipeline(plan))
    view.horizons = [(value_, label, [g for g in views if g.goal.horizon == value_]) for value_, label in Horizon.choices]
    return view


@dataclass
class PortfolioRow:
    account: Account
    kam: str
    plan: AccountPlan | None
    quality: analysis.Quality | None
    overdue: int

    @property
    def living(self) -> bool:
        return bool(self.quality and self.quality.living)


def portfolio(user: User | None, *, today: datetime.date | None = None, kam: int | None = None,
              accounts=None) -> list[PortfolioRow]:
    """Every key account ``user`` may see (or of ``accounts``, already narrowed to what the reader may see: the
    workbook's scope) with its current plan and that plan's quality: plans that are not living (none, a draft,
    not reviewed within the cadence) first."""
    today = today or timezone.localdate()
    visible = accounts if accounts is not None else Account.objects.visible_to(user)
    key_accounts = visible.active().filter(tier=Tier.KEY)
    if kam:
        key_accounts = key_accounts.filter(pk__in=TeamMember.objects.filter(role=TeamRole.KAM, user_id=kam).values("account_id"))
    key_accounts = list(key_accounts.order_by("name"))
    kams = {m.account_id: str(m.user) for m in TeamMember.objects.filter(role=TeamRole.KAM, account__in=key_accounts)
            .select_related("user")}
    plans: dict[int, AccountPlan] = {}
    rank = {PlanState.ACTIVE: 0, PlanState.DRAFT: 1, PlanState.ARCHIVED: 2}
    for plan in AccountPlan.objects.filter(account__in=key_accounts).order_by("-starts", "-pk"):
        held = plans.get(plan.account_id)
        if held is None or rank[plan.state] < rank[held.state]:
            plans[plan.account_id] = plan
    people = relationships.people_by_account([a for a in key_accounts if a.pk in plans], today=today)
    sections: dict[int, dict] = {}
    for s in PlanSection.objects.filter(plan__in=plans.values()):
        sections.setdefault(s.plan_id, {})[s.key] = s
    actions = Action.objects.prefetch_related("depends_on")
    goals: dict[int, list[Goal]] = {}
    for g in Goal.objects.filter(plan__in=plans.values()).prefetch_related(Prefetch("actions", queryset=actions)):
        goals.setdefault(g.plan_id, []).append(g)
    rows = []
    for account in key_accounts:
        plan = plans.get(account.pk)
        quality, overdue = None, 0
        if plan is not None:
            plan_goals = goals.get(plan.pk, [])
            cover = analysis.coverage(people.get(account.pk, []), _open_targets(plan_goals))
            facts = _facts(plan, sections.get(plan.pk, {}), plan_goals, cover)
            quality = analysis.quality(facts, today=today)
            overdue = sum(1 for a in facts.actions if a.overdue(today))
        rows.append(PortfolioRow(account, kams.get(account.pk, ""), plan, quality, overdue))
    rows.sort(key=lambda r: (r.living, r.quality.score if r.quality else -1, r.account.name.casefold()))
    return rows


def portfolio_dict(row: PortfolioRow) -> dict:
    """One portfolio row as the API and ``keyplan plans --json`` give it."""
    plan = row.plan
    return {
        "account": {"id": row.account.pk, "external_id": row.account.external_id, "name": row.account.name},
        "kam": row.kam,
        "plan": None if plan is None else {"id": plan.pk, "period": plan.period, "state": plan.state,
                                           "reviewed_at": plan.reviewed_at.isoformat() if plan.reviewed_at else None,
                                           "version": plan.version},
        "living": row.living,
        "quality": row.quality.as_dict() if row.quality else None,
        "overdue_actions": row.overdue,
    }


# ---------------------------------------------------------------- opportunities


def _clean_opportunity(opportunity: Opportunity) -> None:
    opportunity.name = _text("name", opportunity.name, limit=200, required=True)
    opportunity.product_line = _text("product_line", opportunity.product_line, limit=100)
    opportunity.division = _text("division", opportunity.division, limit=120)
    opportunity.reason = _text("reason", opportunity.reason, limit=analysis.TEXT_LIMIT)
    _check_choice("kind", opportunity.kind, OpportunityKind)
    _check_choice("stage", opportunity.stage, Stage)
    amount = _amount("amount", opportunity.amount)
    if amount is None or amount < 0:
        raise ValidationError({"amount": _("Give an amount of 0 or more.")})
    opportunity.amount = amount
    try:
        probability = Decimal(str(opportunity.probability))
    except InvalidOperation:
        raise ValidationError({"probability": _("Give a probability between 0 and 1 (0.25 is 25 %).")}) from None
    if not probability.is_finite() or not 0 <= probability <= 1:
        raise ValidationError({"probability": _("Give a probability between 0 and 1 (0.25 is 25 %).")})
    opportunity.probability = probability.quantize(Decimal("0.001"))
    _check_date("expected_close", opportunity.expected_close)
    _check_date("closed_on", opportunity.closed_on)
    _check_owner(opportunity.account, opportunity.owner)
    if opportunity.stage in analysis.CLOSED_STAGES:
        # Won is certain and lost is nothing: the probability follows, and the day it was decided is kept.
        opportunity.probability = Decimal(1 if opportunity.stage == Stage.WON else 0)
        opportunity.closed_on = opportunity.closed_on or timezone.localdate()
        if opportunity.stage == Stage.LOST and not opportunity.reason:
            raise ValidationError({"reason": _("Say why the opportunity was lost; the reasons teach the next plan.")})
    else:
        opportunity.closed_on = None


@transaction.atomic
def add_opportunity(account: Account, *, by: User, data: dict) -> Opportunity:
    _require_account_edit(by, account)
    _check_fields(data, OPPORTUNITY_FIELDS)
    opportunity = Opportunity(account=account, **data)
    _clean_opportunity(opportunity)
    _save(opportunity, by=by)
    return opportunity


@transaction.atomic
def update_opportunity(opportunity: Opportunity, *, by: User, version: int | None, changes: dict) -> Opportunity:
    _require_account_edit(by, opportunity.account)
    _check_fields(changes, OPPORTUNITY_FIELDS)
    opportunity = Opportunity.objects.select_for_update().select_related("account").get(pk=opportunity.pk)
    _check_version(opportunity, version)
    for name, value in changes.items():
        setattr(opportunity, name, value)
    _clean_opportunity(opportunity)
    opportunity.version += 1
    _save(opportunity, by=by)
    return opportunity


@transaction.atomic
def remove_opportunity(opportunity: Opportunity, *, by: User, version: int | None = None) -> None:
    _require_account_edit(by, opportunity.account)
    opportunity = Opportunity.objects.select_for_update().get(pk=opportunity.pk)
    _check_version(opportunity, version)
    opportunity._history_user = by
    opportunity.delete()


def pipeline(plan: AccountPlan) -> analysis.Pipeline:
    """The plan's opportunity totals for its period."""
    deals = [analysis.Deal(*row) for row in plan.account.opportunities.values_list(
        "amount", "probability", "stage", "expected_close", "closed_on")]
    return analysis.pipeline(deals, starts=plan.starts, ends=plan.ends)


# ---------------------------------------------------------------- whitespace map


def whitespace(account: Account) -> analysis.Grid:
    """The account's divisions (the buying centers of its stakeholder map, and those named on cells,
    opportunities and its revenue lines) against the product lines named on cells, opportunities and its
    revenue lines. Cells with revenue in the ledger's last two calendar years are in use."""
    departments = Stakeholder.objects.filter(account=account, archived_at__isnull=True, external_organisation="") \
        .exclude(department="").values_list("department", flat=True).distinct()
    cells = list(account.whitespace_cells.all())
    chances = [analysis.Chance(o.pk, o.name, o.division, o.product_line, o.stage, o.amount, o.probability)
               for o in account.opportunities.all()]
    marked = {(c.division, c.product_line): analysis.Marked(c.state, c.competitor, c.estimated_value, c.note, c.version)
              for c in cells}
    from keyplan.revenue.portfolio import product_revenue  # the portfolio imports much: load it when asked

    sold = product_revenue(account.pk)
    return analysis.whitespace_grid(
        list(departments) + [c.division for c in cells] + [o.division for o in chances] + [d for d, _ in sold],
        [c.product_line for c in cells] + [o.product_line for o in chances] + [p for _, p in sold],
        marked, chances, sold,
    )


@transaction.atomic
def set_cell(account: Account, *, by: User, division: str, product_line: str, state: str, competitor: str = "",
             estimated_value=None, note: str = "", version: int | None = None) -> WhitespaceCell:
    """Mark one division × product line (the first mark creates the cell; a new name adds a row or column)."""
    _require_account_edit(by, account)
    division = _text("division", division, limit=120, required=True)
    product_line = _text("product_line", product_line, limit=100, required=True)
    _check_choice("state", state, CellState)
    competitor = _text("competitor", competitor, limit=200)
    if state == CellState.COMPETITOR and not competitor:
        raise ValidationError({"competitor": _("Name the competitor who holds it.")})
    value = _amount("estimated_value", estimated_value)
    if value is not None and value < 0:
        raise ValidationError({"estimated_value": _("Give an amount of 0 or more.")})
    Account.objects.select_for_update().get(pk=account.pk)
    cell = next((c for c in account.whitespace_cells.select_for_update()
                 if " ".join(c.division.split()).casefold() == " ".join(division.split()).casefold()
                 and " ".join(c.product_line.split()).casefold() == " ".join(product_line.split()).casefold()), None)
    if cell is None:
        cell = WhitespaceCell(account=account, division=division, product_line=product_line, version=0)
    elif version is not None:
        _check_version(cell, version)
    cell.state, cell.competitor, cell.estimated_value = state, competitor if state == CellState.COMPETITOR else "", value
    cell.note = _text("note", note, limit=analysis.TEXT_LIMIT)
    cell.version += 1
    _save(cell, by=by)
    return cell


# ---------------------------------------------------------------- team responsibilities


@dataclass
class Raci:
    members: list[TeamMember]
    roles: dict[tuple[int, str], str]  # (member id, area) → letter
    warnings: dict[str, list[str]]  # area → the accountable people, when not exactly one
    versions: dict[tuple[int, str], int] = field(default_factory=dict)  # (member id, area) → version; 0: never set

    def rows(self) -> list[tuple[TeamMember, list[tuple[str, str, int]]]]:
        return [(m, [(area, self.roles.get((m.pk, area), ""), self.versions.get((m.pk, area), 0))
                     for area in RaciArea.values]) for m in self.members]


@dataclass(frozen=True)
class StaleCell:
    member: TeamMember
    area: str
    yours: str
    saved: str
    version: int


class RaciConflict(Exception):
    """Someone changed these cells since the writer read them: nothing was written."""

    def __init__(self, stale: list[StaleCell], current: Raci):
        super().__init__(f"{len(stale)} cells changed since they were read")
        self.stale, self.current = stale, current


def _raci_versions(account: Account) -> dict[tuple[int, str], int]:
    """Every cell's version: the last one it had in its history (clearing a role is a version too), 0 if never set."""
    versions: dict[tuple[int, str], int] = {}
    for member_id, area, version in RaciAssignment.history.filter(member_id__in=account.team_members.values("pk")) \
            .values_list("member_id", "area", "version"):
        versions[(member_id, area)] = max(versions.get((member_id, area), 0), version)
    return versions


def raci(account: Account) -> Raci:
    """The account team against the plan's areas, and the areas with no one or several accountable."""
    members = list(account.team_members.select_related("user").order_by("role", "user__username"))
    roles = {(a.member_id, a.area): a.role for a in RaciAssignment.objects.filter(member__account=account)}
    people = {m.pk: str(m.user) for m in members}
    warnings = analysis.raci_warnings(RaciArea.values, ((people[m], area, r) for (m, area), r in roles.items()))
    return Raci(members, roles, warnings, _raci_versions(account))


@transaction.atomic
def set_raci(account: Account, *, by: User, roles: dict[tuple[int, str], str],
             versions: dict[tuple[int, str], int] | None = None) -> Raci:
    """Set the matrix: ``roles`` maps (team member id, area) to R, A, C, I or "" (none). Every member must be on
    this account's team; an area may end with no one or several accountable, and the page says so.

    ``versions`` names the version each cell was read at (0: read empty); a cell changed since raises
    RaciConflict and nothing is written. A cell's version counts on across clearing and setting again."""
    _require_account_edit(by, account)
    members = {m.pk: m for m in account.team_members.select_related("user")}
    for (member_id, area), role in roles.items():
        if member_id not in members:
            raise ValidationError({"member": _("Team member %(id)s is not on this account's team.") % {"id": member_id}})
        _check_choice("area", area, RaciArea)
        if role:
            _check_choice("role", role, RaciRole)
    Account.objects.select_for_update().get(pk=account.pk)  # one matrix write at a time per account
    current = {(a.member_id, a.area): a for a in RaciAssignment.objects.select_for_update().filter(member__account=account)}
    known = _raci_versions(account)
    stale = []
    for key, role in roles.items():
        read, row = (versions or {}).get(key), current.get(key)
        saved = row.role if row is not None else ""
        if read is not None and read != known.get(key, 0) and saved != role:  # both changed it, differently
            stale.append(StaleCell(members[key[0]], key[1], role, saved, known.get(key, 0)))
    if stale:
        raise RaciConflict(stale, raci(account))
    for key, role in roles.items():
        row = current.get(key)
        if not role and row is not None:
            row.version += 1  # the clearing is a version too (its history row keeps it): whoever read the role is stale
            row._history_user = by
            row.delete()
        elif role and row is None:
            _save(RaciAssignment(member=members[key[0]], area=key[1], role=role, version=known.get(key, 0) + 1), by=by)
        elif role and row.role != role:
            row.role, row.version = role, row.version + 1
            _save(row, by=by)
    return raci(account)


# ---------------------------------------------------------------- timeline


def timeline_labels() -> dict[str, str]:
    """The timeline's words in the current language."""
    labels = {
        "title": _("Timeline"), "legend": _("Legend"), "today": _("today"), "overdue": _("overdue"),
        "milestone": _("milestone"), "dependency": _("depends on"), "goal_due": _("goal due"), "no_dates": _("no dates"),
        "empty": _("No goals or actions yet."), "more": _("{n} more rows not shown."),
    }
    labels.update({value: str(label) for value, label in ActionStatus.choices})
    return labels


def _groups(goals: Iterable[Goal], today: datetime.date, *, heading: str = "", link=None) -> list:
    from keyplan.planning import gantt_svg

    groups = []
    for index, g in enumerate(goals):
        bars = tuple(
            gantt_svg.Bar(id=a.pk, label=a.title, status=a.status, start=a.start, due=a.due, milestone=a.milestone,
                          overdue=a.status not in analysis.CLOSED_ACTION and a.due is not None and a.due < today,
                          depends_on=tuple(d.pk for d in a.depends_on.all()), owner=str(a.owner) if a.owner_id else "",
                          href=link("action", a) if link else None)
            for a in g.actions.all()
        )
        overdue = g.status not in analysis.CLOSED_GOAL and g.due is not None and g.due < today
        groups.append(gantt_svg.Group(label=g.label, due=g.due, overdue=overdue, bars=bars,
                                      heading=heading if index == 0 else "", href=link("goal", g) if link else None))
    return groups


def more_rows(n: int) -> str:
    """Below a timeline cut short: how many rows it leaves out, in the reader's words and digits."""
    from django.utils.translation import ngettext

    from keyplan.core import numbers

    return ngettext("%(n)s more row not shown.", "%(n)s more rows not shown.", n) % {"n": numbers.number(n)}


def render_timeline(plans: Sequence[AccountPlan], *, title: str, today: datetime.date | None = None, link=None,
                    headings: bool = False) -> str:
    """Goals and actions of ``plans`` as a self-contained SVG Gantt chart; with ``headings``, one block per account."""
    from django.utils.translation import get_language_bidi

    from keyplan.core import dates

    from keyplan.planning import gantt_svg

    today = today or timezone.localdate()
    groups = []
    for plan in plans:
        heading = f"{plan.account.name} · {plan.period}" if headings else ""
        groups += _groups(_goals(plan), today, heading=heading, link=(lambda kind, row, plan=plan: link(plan, kind, row)) if link else None)
    return gantt_svg.render_gantt(
        groups, today=today, title=title,
        subtitle=_("Timeline · %(date)s") % {"date": dates.format_date(today, "DATE_FORMAT")},
        labels=timeline_labels(), month_label=lambda d: dates.month_label(d.strftime("%Y-%m")), rtl=get_language_bidi(),
        day_label=lambda d: dates.format_date(d, "SHORT_DATE_FORMAT"), more_label=more_rows,
    )


def kam_plans(user: User, *, kam: int | None = None) -> list[AccountPlan]:
    """The current plans of the key accounts ``user`` sees (of one KAM's, with ``kam``), by account name."""
    return [row.plan for row in sorted(portfolio(user, kam=kam), key=lambda r: r.account.name.casefold()) if row.plan]


# ---------------------------------------------------------------- history


def change_log(plan: AccountPlan, *, limit: int = 100) -> list[LogEntry]:
    """Every change to the plan, its sections, goals and actions, newest first."""
    entries = history.entries(plan.history.select_related("history_user").order_by("history_date", "history_id"),
                              ["period", "starts", "ends", "state", "summary", "reviewed_at", "wallet"], lambda r: _("Plan"))
    labels = dict(SectionKey.choices)
    for records in history.grouped(PlanSection.history.filter(plan_id=plan.pk).select_related("history_user")):
        entries += history.entries(records, ["version"], lambda r: _("Section: %(name)s") % {"name": labels.get(r.key, r.key)})
    for records in history.grouped(Goal.history.filter(plan_id=plan.pk).select_related("history_user")):
        entries += history.entries(records, [f for f in GOAL_FIELDS],
                                   lambda r: _("Goal: %(title)s") % {"title": r.title})
    for records in history.grouped(Action.history.filter(plan_id=plan.pk).select_related("history_user")):
        entries += history.entries(records, [f for f in ACTION_FIELDS if f != "depends_on"],
                                   lambda r: _("Action: %(title)s") % {"title": r.title})
    for records in history.grouped(Opportunity.history.filter(account_id=plan.account_id).select_related("history_user")):
        entries += history.entries(records, list(OPPORTUNITY_FIELDS),
                                   lambda r: _("Opportunity: %(name)s") % {"name": r.name})
    entries.sort(key=lambda e: e.when, reverse=True)
    return entries[:limit]


def find_stakeholder(user: User, pk: int | None) -> Stakeholder | None:
    """A stakeholder ``user`` may see, or a ValidationError naming the field (a hidden one is not found)."""
    if pk is None:
        return None
    found = Stakeholder.objects.visible_to(user).filter(pk=pk).first()
    if found is None:
        raise ValidationError({"stakeholder_id": _("No stakeholder has id %(id)s.") % {"id": pk}})
    return found
