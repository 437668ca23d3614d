"""What may happen to the KAM program's charter and its rollout, and what the charter page shows.

The charter is one row for the installation: its leaders' texts (objectives, success measures,
roles, notes on the readiness questions), versioned like a plan section. What Keyplan already
knows is read live, never copied into it: the readiness figures (revenue concentration,
stakeholders per key account, relationship age, whitespace and pipeline, people on the
accounts), the selection criteria and review cadence, and the executive sponsors.

Only KAM leads and admins change it; everyone signed in reads it. Every write is one function:
permission, validation, one transaction, history, in that order; a stale ``version`` raises
``services.Conflict`` and nothing is written.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Min, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from keyplan.accounts.models import Account, TeamMember, TeamRole, Tier
from keyplan.core.models import Role, User
from keyplan.planning import analysis
from keyplan.planning.models import ActionStatus, Opportunity, ProgramCharter, RolloutStep, WhitespaceCell
from keyplan.planning.services import (
    Conflict,
    SectionVersion,
    _check_choice,
    _check_date,
    _check_fields,
    _check_version,
    _save,
    _text,
    check_action_dates,
    clean_content,
)

ROLLOUT_FIELDS = ("phase", "title", "notes", "owner", "start", "due", "status", "milestone")

__all__ = ["Conflict"]


# ---------------------------------------------------------------- permissions


def can_edit(user: User) -> bool:
    """The charter is the program's: its leads and admins write it."""
    return bool(user.is_authenticated and user.edits_all_accounts)


def _require_edit(user: User) -> None:
    if not can_edit(user):
        raise PermissionDenied(_("Only KAM leads and admins change the program charter."))


def charter_owners():
    """Who may own a rollout step: the leads and admins, and everyone on a key account's team."""
    return User.objects.filter(is_active=True).filter(
        Q(role__in=[Role.ADMIN, Role.KAM_LEAD]) | Q(is_superuser=True)
        | Q(team_memberships__account__tier=Tier.KEY, team_memberships__account__archived_at__isnull=True)
    ).distinct().order_by("first_name", "last_name", "username")


# ---------------------------------------------------------------- the charter's texts


def charter() -> ProgramCharter:
    """The charter (made empty on first read)."""
    row, _created = ProgramCharter.objects.get_or_create(
        pk=1, defaults={"content": {name: ("" if kind == "text" else []) for name, kind in analysis.CHARTER.items()}})
    return row


def content(row: ProgramCharter) -> dict:
    """Every field of the charter, also those an older version did not have."""
    return {name: row.content.get(name, "" if kind == "text" else []) for name, kind in analysis.CHARTER.items()}


@transaction.atomic
def update_charter(*, by: User, version: int | None, changes: dict) -> ProgramCharter:
    """Change the fields given in ``changes`` (the others stay as they are)."""
    _require_edit(by)
    row = ProgramCharter.objects.select_for_update().get(pk=charter().pk)
    _check_version(row, version)
    cleaned = clean_content(analysis.CHARTER, {**content(row), **changes})
    if cleaned == content(row):
        return row
    row.content, row.version = cleaned, row.version + 1
    _save(row, by=by)
    return row


def versions(row: ProgramCharter, *, limit: int = 50) -> list[SectionVersion]:
    """The charter's saved versions, newest first."""
    return [
        SectionVersion(r.history_id, r.version, r.history_date, str(r.history_user) if r.history_user else _("system"),
                       r.content)
        for r in row.history.select_related("history_user").order_by("-history_date", "-history_id")[:limit]
    ]


@transaction.atomic
def restore_charter(*, by: User, history_id: int, version: int | None = None) -> ProgramCharter:
    """Bring back what an earlier version said, as a new version (nothing is lost)."""
    _require_edit(by)
    row = ProgramCharter.objects.select_for_update().get(pk=charter().pk)
    _check_version(row, version)
    record = row.history.filter(history_id=history_id).first()
    if record is None:
        raise ValidationError({"history_id": _("The charter has no saved version %(id)s.") % {"id": history_id}})
    row.content = clean_content(analysis.CHARTER, {**content(row), **(record.content or {})})
    row.version += 1
    _save(row, by=by)
    return row


# ---------------------------------------------------------------- readiness, from Keyplan's own figures


def _key_accounts():
    return Account.objects.active().filter(tier=Tier.KEY)


def readiness_facts(*, today: datetime.date | None = None) -> analysis.ReadinessFacts:
    """The figures that answer the readiness questions, over the whole portfolio (the charter is the program's)."""
    from keyplan.planning.services import whitespace
    from keyplan.relationships.services import people_by_account
    from keyplan.revenue.models import MonthlyRollup
    from keyplan.revenue.portfolio import Options, Scope, overview
    from keyplan.scoring.services import program_capacity

    today = today or timezone.localdate()
    keys = list(_key_accounts().order_by("pk"))
    ids = [a.pk for a in keys]
    try:
        summary = overview(Scope(None), Options())
    except ValueError:  # a currency without a rate: the revenue pages say so; here the question stays open
        summary = None
    pareto = summary["pareto"] if summary else {}
    period_from = datetime.date.fromisoformat(summary["from"]) if summary else None
    period_to = datetime.date.fromisoformat(summary["to"]) if summary else None
    key_revenue = 0.0
    if summary and ids:
        key_revenue = float(MonthlyRollup.objects.filter(account_id__in=ids, month__gte=period_from.replace(day=1),
                                                         month__lte=period_to).aggregate(s=Sum("revenue"))["s"] or 0)
    total = float(pareto.get("total") or 0)

    people = people_by_account(keys, today=today)
    stakeholders = [sum(1 for p in people.get(pk, []) if not p.external) for pk in ids]
    deciders = [sum(1 for p in people.get(pk, []) if p.decides and not p.external) for pk in ids]

    first_revenue = dict(MonthlyRollup.objects.filter(account_id__in=ids, revenue__gt=0).values("account_id")
                         .annotate(first=Min("month")).values_list("account_id", "first"))
    years = []
    for account in keys:
        since = account.relationship_start or first_revenue.get(account.pk)
        if since is not None and since <= today:
            years.append((today - since).days / 365.25)

    marked = set(WhitespaceCell.objects.filter(account_id__in=ids).values_list("account_id", flat=True))
    with_chances = set(Opportunity.objects.filter(account_id__in=ids).values_list("account_id", flat=True))
    whitespace_value = 0.0
    for account in keys:
        if account.pk in marked or account.pk in with_chances:
            whitespace_value += float(whitespace(account).whitespace_value)
    weighted = sum(float(analysis.expected_value(amount, probability)) for amount, probability in
                   Opportunity.objects.filter(account_id__in=ids).open().values_list("amount", "probability"))

    roles = TeamMember.objects.filter(account_id__in=ids).values("account_id").annotate(
        kams=Count("pk", filter=Q(role=TeamRole.KAM)), sponsors=Count("pk", filter=Q(role=TeamRole.EXECUTIVE_SPONSOR)))
    return analysis.ReadinessFacts(
        accounts_with_revenue=int(pareto.get("with_revenue") or 0),
        vital_few=int(pareto.get("vital_few") or 0),
        vital_few_share=pareto.get("vital_few_share"),
        key_accounts=len(keys),
        key_revenue_share=key_revenue / total if total > 0 and ids else None,
        stakeholders=stakeholders,
        decision_makers=deciders,
        relationship_years=years,
        whitespace_value=whitespace_value,
        weighted_pipeline=weighted,
        key_revenue=key_revenue,
        growth_mapped=len(marked | with_chances),
        capacity=program_capacity().total,
        with_kam=sum(1 for r in roles if r["kams"]),
        with_sponsor=sum(1 for r in roles if r["sponsors"]),
    )


# ---------------------------------------------------------------- selection, roles and sponsors (read live)


@dataclass
class Selection:
    criteria: list  # scoring Criterion rows, active, by group and position
    cadence: str  # monthly or quarterly
    cadence_label: str
    next_review: datetime.date | None
    last_round: object | None  # scoring SelectionRound
    plan_review_days: int  # an account plan is reviewed at least this often to stay living

    def as_dict(self) -> dict:
        return {
            "criteria": [{"id": c.pk, "name": c.name, "group": c.group, "weight": float(c.weight), "source": c.source}
                         for c in self.criteria],
            "review_cadence": self.cadence,
            "next_review_due": self.next_review.isoformat() if self.next_review else None,
            "last_round": ({"id": self.last_round.pk, "name": self.last_round.name, "date": self.last_round.date.isoformat()}
                           if self.last_round else None),
            "plan_review_days": self.plan_review_days,
        }


def selection() -> Selection:
    from keyplan.scoring.models import Cadence, Criterion
    from keyplan.scoring.services import latest_round, next_review_due, scoring_settings

    cadence = scoring_settings().review_cadence
    return Selection(list(Criterion.objects.active().order_by("group", "position", "pk")), cadence,
                     str(Cadence(cadence).label), next_review_due(), latest_round(), analysis.REVIEW_CADENCE_DAYS)


@dataclass
class Sponsorship:
    account: Account
    sponsors: list[str]
    kams: list[str]


def sponsors() -> list[Sponsorship]:
    """Every key account with its executive sponsors and key account managers; those without a sponsor first."""
    keys = list(_key_accounts().order_by("name"))
    by_account: dict[int, Sponsorship] = {a.pk: Sponsorship(a, [], []) for a in keys}
    for member in TeamMember.objects.filter(account__in=keys, role__in=[TeamRole.KAM, TeamRole.EXECUTIVE_SPONSOR]) \
            .select_related("user").order_by("user__last_name", "user__username"):
        row = by_account[member.account_id]
        (row.sponsors if member.role == TeamRole.EXECUTIVE_SPONSOR else row.kams).append(str(member.user))
    return sorted(by_account.values(), key=lambda r: (bool(r.sponsors), r.account.name.casefold()))


# ---------------------------------------------------------------- the rollout


def _clean_step(step: RolloutStep) -> None:
    step.phase = _text("phase", step.phase, limit=100, required=True)
    step.title = _text("title", step.title, limit=200, required=True)
    step.notes = _text("notes", step.notes, limit=analysis.TEXT_LIMIT)
    _check_choice("status", step.status, ActionStatus)
    _check_date("start", step.start)
    _check_date("due", step.due)
    check_action_dates(step.start, step.due)
    if step.owner is not None and not charter_owners().filter(pk=step.owner.pk).exists():
        raise ValidationError({"owner": _("%(user)s is neither a lead nor on a key account's team.") % {"user": step.owner}})


@transaction.atomic
def add_step(*, by: User, data: dict) -> RolloutStep:
    _require_edit(by)
    _check_fields(data, ROLLOUT_FIELDS)
    step = RolloutStep(**data)
    _clean_step(step)
    _save(step, by=by)
    return step


@transaction.atomic
def update_step(step: RolloutStep, *, by: User, version: int | None, changes: dict) -> RolloutStep:
    _require_edit(by)
    _check_fields(changes, ROLLOUT_FIELDS)
    step = RolloutStep.objects.select_for_update().get(pk=step.pk)
    _check_version(step, version)
    for name, value in changes.items():
        setattr(step, name, value)
    _clean_step(step)
    step.version += 1
    _save(step, by=by)
    return step


@transaction.atomic
def remove_step(step: RolloutStep, *, by: User, version: int | None = None) -> None:
    _require_edit(by)
    step = RolloutStep.objects.select_for_update().get(pk=step.pk)
    _check_version(step, version)
    step._history_user = by
    step.delete()


def phases(steps: Sequence[RolloutStep]) -> list[tuple[str, list[RolloutStep]]]:
    """The steps by phase, phases in the order they start (a phase without dates last)."""
    groups: dict[str, list[RolloutStep]] = {}
    for step in steps:
        groups.setdefault(step.phase, []).append(step)
    far = datetime.date.max

    def begins(item):
        days = [d for s in item[1] for d in (s.start, s.due) if d]
        return (min(days) if days else far, item[0].casefold())
    return sorted(groups.items(), key=begins)


def render_rollout(*, today: datetime.date | None = None, link=None) -> str:
    """The rollout's phases and steps on the same SVG Gantt chart as the plans' goals and actions."""
    from django.utils.translation import get_language_bidi

    from keyplan.core import dates

    from keyplan.planning import gantt_svg
    from keyplan.planning.services import more_rows, timeline_labels

    today = today or timezone.localdate()
    steps = list(RolloutStep.objects.select_related("owner").order_by("start", "due", "pk"))
    groups = []
    for phase, rows in phases(steps):
        bars = tuple(
            gantt_svg.Bar(id=s.pk, label=s.title, status=s.status, start=s.start, due=s.due, milestone=s.milestone,
                          overdue=s.status not in analysis.CLOSED_ACTION and s.due is not None and s.due < today,
                          owner=str(s.owner) if s.owner_id else "", href=link(s) if link else None)
            for s in rows
        )
        dues = [s.due for s in rows if s.due]
        groups.append(gantt_svg.Group(label=phase, due=max(dues) if dues else None, bars=bars))
    labels = timeline_labels() | {"empty": _("No rollout steps yet."), "goal_due": _("phase ends")}
    return gantt_svg.render_gantt(
        groups, today=today, title=_("Rolling out the KAM program"),
        subtitle=_("Implementation timeline · %(date)s") % {"date": dates.format_date(today, "DATE_FORMAT")},
        labels=labels, month_label=lambda d: dates.month_label(d.strftime("%Y-%m")), rtl=get_language_bidi(),
        day_label=lambda d: dates.format_date(d, "SHORT_DATE_FORMAT"), more_label=more_rows,
    )


# ---------------------------------------------------------------- everything at once (page, API, CLI)


@dataclass
class CharterView:
    charter: ProgramCharter
    content: dict
    readiness: tuple[analysis.Answer, ...]
    selection: Selection
    sponsors: list[Sponsorship]
    steps: list[RolloutStep]
    today: datetime.date

    @property
    def phases(self) -> list[tuple[str, list[RolloutStep]]]:
        return phases(self.steps)


def charter_view(*, today: datetime.date | None = None) -> CharterView:
    today = today or timezone.localdate()
    row = charter()
    return CharterView(row, content(row), analysis.readiness(readiness_facts(today=today)), selection(), sponsors(),
                       list(RolloutStep.objects.select_related("owner").order_by("start", "due", "pk")), today)


def step_dict(step: RolloutStep) -> dict:
    return {"id": step.pk, "phase": step.phase, "title": step.title, "notes": step.notes,
            "owner": {"id": step.owner.pk, "username": step.owner.username, "name": str(step.owner)} if step.owner_id else None,
            "start": step.start.isoformat() if step.start else None, "due": step.due.isoformat() if step.due else None,
            "status": step.status, "milestone": step.milestone, "version": step.version}


def charter_dict(view: CharterView) -> dict:
    """The charter as the API and ``keyplan charter --json`` give it."""
    return {
        "version": view.charter.version,
        "updated_at": view.charter.updated_at.isoformat(),
        "content": view.content,
        "readiness": [a.as_dict() for a in view.readiness],
        "selection": view.selection.as_dict(),
        "sponsors": [{"account": {"id": s.account.pk, "external_id": s.account.external_id, "name": s.account.name},
                      "executive_sponsors": s.sponsors, "kams": s.kams} for s in view.sponsors],
        "rollout": [step_dict(s) for s in view.steps],
    }


# ---------------------------------------------------------------- the readiness answers in words


def verdict_label(verdict: str) -> str:
    return {analysis.YES: _("Yes"), analysis.PARTLY: _("Partly"), analysis.NO: _("No"),
            analysis.UNKNOWN: _("Not known yet")}[verdict]


def evidence(answer: analysis.Answer) -> str:
    """What the figures behind one readiness answer say, in the reader's language."""
    from django.utils.translation import ngettext

    from keyplan.core import numbers

    f = answer.figures

    def pct(value) -> str:  # in the reader's digits (Persian ones on a Persian page), as every figure
        return numbers.percent(value, 0) if value is not None else "—"

    def num(value, digits: int = 0) -> str:
        return numbers.number(value, digits) if value is not None else "—"

    if answer.code == "concentration":
        if not f["accounts_with_revenue"]:
            return _("No revenue yet: import the ledger to answer this.")
        text = _("%(few)s of %(all)s accounts with revenue (%(share)s) bring %(threshold)s of it.") % {
            "few": num(f["vital_few"]), "all": num(f["accounts_with_revenue"]), "share": pct(f["vital_few_share"]),
            "threshold": pct(0.8)}
        if f["key_revenue_share"] is not None:
            text += " " + ngettext("The %(n)s key account brings %(share)s.", "The %(n)s key accounts bring %(share)s.",
                                   f["key_accounts"]) % {"n": num(f["key_accounts"]), "share": pct(f["key_revenue_share"])}
        return text
    if answer.code == "buying_center":
        if not f["mapped"]:
            return _("No stakeholders mapped on the key accounts yet.")
        return _("A mapped key account has %(people)s stakeholders on its map, %(deciders)s of them decision makers "
                 "(median of the %(mapped)s of %(n)s key accounts mapped).") % {
            "people": num(f["stakeholders_median"], 1 if f["stakeholders_median"] % 1 else 0),
            "deciders": num(f["decision_makers_median"], 1 if (f["decision_makers_median"] or 0) % 1 else 0),
            "n": num(f["key_accounts"]), "mapped": num(f["mapped"])}
    if answer.code == "relationship_age":
        if not f["known"]:
            return _("No relationship start and no revenue history for the key accounts yet.")
        return _("The key accounts have been customers for %(years)s years (median of %(known)s of %(n)s, from the "
                 "relationship start or the first revenue).") % {
            "years": num(f["years_median"], 1), "known": num(f["known"]), "n": num(f["key_accounts"])}
    if answer.code == "growth_room":
        if not f["mapped"]:
            return _("No whitespace map and no opportunity on the key accounts yet.")
        text = ngettext("Whitespace worth %(whitespace)s and a weighted pipeline of %(pipeline)s on %(mapped)s of %(n)s "
                        "key account.",
                        "Whitespace worth %(whitespace)s and a weighted pipeline of %(pipeline)s on %(mapped)s of %(n)s "
                        "key accounts.", f["key_accounts"]) % {"whitespace": num(f["whitespace_value"]), "pipeline": num(f["weighted_pipeline"]),
                                 "mapped": num(f["mapped"]), "n": num(f["key_accounts"])}
        if f["room_share"] is not None:
            text += " " + _("That is %(share)s of their revenue.") % {"share": pct(f["room_share"])}
        return text
    if not f["key_accounts"]:
        return _("No key accounts yet.")
    return ngettext("%(kam)s of %(n)s key account has a key account manager and %(sponsor)s an executive sponsor; "
                    "the KAMs can carry %(capacity)s.",
                    "%(kam)s of %(n)s key accounts have a key account manager and %(sponsor)s an executive sponsor; "
                    "the KAMs can carry %(capacity)s.", f["key_accounts"]) % {"kam": num(f["with_kam"]), "n": num(f["key_accounts"]),
                                                "sponsor": num(f["with_sponsor"]), "capacity": num(f["capacity"])}
