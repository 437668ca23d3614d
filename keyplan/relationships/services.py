"""What may happen to stakeholders, influence lines and interactions, and the reads the pages share.

Every write is one function: it checks that ``by`` may edit the account, validates
(naming the field), writes inside one transaction and leaves history. Bad input
raises ``ValidationError({field: message})`` and changes nothing. Views, the API,
the CLI and the demo generator all go through here.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from keyplan.accounts.models import Account, TeamMember
from keyplan.accounts.services import can_edit
from keyplan.core import history
from keyplan.core.history import LogEntry
from keyplan.core.models import Role, User
from keyplan.core.versions import bump, check_version
from keyplan.relationships import analysis
from keyplan.relationships.models import (
    BuyingRole,
    ContactStrength,
    DecisionPower,
    InfluenceLine,
    Interaction,
    InteractionKind,
    LineStrength,
    Polarity,
    RelationshipSettings,
    Sentiment,
    Stakeholder,
)

STAKEHOLDER_FIELDS = (
    "name",
    "title",
    "department",
    "external_organisation",
    "email",
    "phone",
    "reports_to",
    "buying_role",
    "decision_power",
    "sentiment",
    "contact_strength",
    "is_key_contact",
    "owner",
    "notes",
)
TEXT_FIELDS = ("name", "title", "department", "external_organisation", "email", "phone", "notes")
CHOICES = {
    "buying_role": ("", *BuyingRole.values),
    "decision_power": tuple(DecisionPower.values),
    "sentiment": tuple(Sentiment.values),
    "contact_strength": tuple(ContactStrength.values),
    "polarity": tuple(Polarity.values),
    "strength": tuple(LineStrength.values),
    "kind": tuple(InteractionKind.values),
}
LINE_FIELDS = ("polarity", "strength", "note", "since")
INTERACTION_HISTORY_FIELDS = ("kind", "date", "time", "location", "summary", "next_step", "next_step_owner",
                              "next_step_due", "next_step_done")
INTERACTION_FIELDS = (
    "kind",
    "date",
    "time",
    "duration_minutes",
    "location",
    "summary",
    "stakeholders",
    "users",
    "next_step",
    "next_step_owner",
    "next_step_due",
    "next_step_done",
)


# ---------------------------------------------------------------- permissions and small checks


def _require_edit(user: User, account: Account) -> None:
    if not can_edit(user, account):
        raise PermissionDenied(_("You may not change this account's relationships."))


def _check_fields(data: dict, allowed: Sequence[str]) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ValidationError({name: _("This field cannot be set here.") for name in unknown})


def _check_choices(data: dict) -> None:
    errors = {}
    for name, value in data.items():
        if name in CHOICES and value not in CHOICES[name]:
            allowed = ", ".join(v for v in CHOICES[name] if v)
            errors[name] = _("%(value)s is not allowed; choose one of: %(choices)s.") % {"value": repr(value), "choices": allowed}
    if errors:
        raise ValidationError(errors)


def _lock(account: Account) -> None:
    # Writes to one account's map are serialised, so that two people cannot build a cycle between them.
    Account.objects.select_for_update().filter(pk=account.pk).first()


def team_users(account: Account) -> QuerySet[User]:
    """Users on the account team: they may own relationships."""
    return User.objects.filter(
        is_active=True, pk__in=TeamMember.objects.filter(account=account).values("user_id")
    ).order_by("first_name", "last_name", "username")


def participant_users(account: Account) -> QuerySet[User]:
    """Users who may take part in an interaction or own a next step: the team, plus KAM leads and admins."""
    return User.objects.filter(
        Q(pk__in=TeamMember.objects.filter(account=account).values("user_id"))
        | Q(role__in=[Role.KAM_LEAD, Role.ADMIN])
        | Q(is_superuser=True),
        is_active=True,
    ).order_by("first_name", "last_name", "username")


# ---------------------------------------------------------------- stakeholders


def _check_stakeholder(stakeholder: Stakeholder) -> None:
    """The rules a stakeholder must keep: the database only sees some of them."""
    errors: dict[str, str] = {}
    manager = stakeholder.reports_to
    if manager is not None:
        if stakeholder.pk is not None and manager.pk == stakeholder.pk:
            errors["reports_to"] = _("A person cannot report to themselves.")
        elif manager.account_id != stakeholder.account_id:
            errors["reports_to"] = _("%(name)s is a stakeholder of another account.") % {"name": manager.name}
        elif manager.is_archived:
            errors["reports_to"] = _("%(name)s is archived; choose someone still on the map.") % {"name": manager.name}
        elif manager.external_organisation.strip().casefold() != stakeholder.external_organisation.strip().casefold():
            errors["reports_to"] = _(
                "%(name)s belongs to another organisation; reporting lines stay within one organisation "
                "(use an influence line for influence across them)."
            ) % {"name": manager.name}
        elif stakeholder.pk is not None:
            # Walk up from the new manager as stored now (read after the account's lock, not from the object
            # the caller fetched before it: a concurrent "B reports to A" must be seen): meeting this person
            # again means a cycle.
            ancestor_id = Stakeholder.objects.filter(pk=manager.pk).values_list("reports_to_id", flat=True).first()
            seen = {manager.pk}
            while ancestor_id is not None and ancestor_id not in seen:
                if ancestor_id == stakeholder.pk:
                    errors["reports_to"] = _(
                        "%(name)s already reports (directly or indirectly) to %(person)s; that would make a cycle."
                    ) % {"name": manager.name, "person": stakeholder.name}
                    break
                seen.add(ancestor_id)
                ancestor_id = Stakeholder.objects.filter(pk=ancestor_id).values_list("reports_to_id", flat=True).first()
    if stakeholder.owner_id is not None and not team_users(stakeholder.account).filter(pk=stakeholder.owner_id).exists():
        errors["owner"] = _("%(user)s is not on this account's team; add them to the team first.") % {"user": stakeholder.owner}
    if errors:
        raise ValidationError(errors)
    stakeholder.full_clean(exclude=["account", "reports_to", "owner"])


def _clean_text(data: dict) -> dict:
    return {k: (" ".join(v.split()) if k not in ("notes",) else v.strip()) if isinstance(v, str) and k in TEXT_FIELDS else v
            for k, v in data.items()}


@transaction.atomic
def create_stakeholder(account: Account, *, by: User, data: dict) -> Stakeholder:
    _require_edit(by, account)
    _check_fields(data, STAKEHOLDER_FIELDS)
    _check_choices(data)
    _lock(account)
    stakeholder = Stakeholder(account=account, **_clean_text(data))
    _check_stakeholder(stakeholder)
    stakeholder._history_user = by
    stakeholder.save()
    return stakeholder


@transaction.atomic
def update_stakeholder(stakeholder: Stakeholder, *, by: User, changes: dict, version: int | None = None) -> Stakeholder:
    _require_edit(by, stakeholder.account)
    _check_fields(changes, STAKEHOLDER_FIELDS)
    _check_choices(changes)
    _lock(stakeholder.account)
    stakeholder = Stakeholder.objects.select_related("account", "reports_to", "owner").get(pk=stakeholder.pk)
    check_version(stakeholder, version)
    changed = {name: value for name, value in _clean_text(changes).items() if getattr(stakeholder, name) != value}
    if not changed:
        return stakeholder
    for name, value in changed.items():
        setattr(stakeholder, name, value)
    bump(stakeholder)
    _check_stakeholder(stakeholder)
    stakeholder._history_user = by
    stakeholder.save()
    return stakeholder


@dataclass(frozen=True)
class Removal:
    stakeholder: Stakeholder
    archived: bool  # True: kept (archived) because interactions name them; False: deleted


@transaction.atomic
def remove_stakeholder(stakeholder: Stakeholder, *, by: User, version: int | None = None) -> Removal:
    """Delete a stakeholder; one who appears in the interaction log is archived instead, so the log stays whole.

    Either way their direct reports move up to their manager, and their influence lines leave the map.
    """
    _require_edit(by, stakeholder.account)
    _lock(stakeholder.account)
    stakeholder = Stakeholder.objects.select_related("account").get(pk=stakeholder.pk)
    check_version(stakeholder, version)
    for report in Stakeholder.objects.filter(reports_to=stakeholder):
        report.reports_to_id = stakeholder.reports_to_id
        bump(report)
        report._history_user = by
        report.save(update_fields=["reports_to", "version", "updated_at"])
    if stakeholder.interactions.exists():
        if stakeholder.archived_at is None:
            # Archived, they keep what they had (their reporting line included) for a restore; the map
            # shows only people who are not archived.
            stakeholder.archived_at = timezone.now()
            bump(stakeholder)
            stakeholder._history_user = by
            stakeholder.save(update_fields=["archived_at", "version", "updated_at"])
        return Removal(stakeholder, archived=True)
    for line in InfluenceLine.objects.filter(Q(source=stakeholder) | Q(target=stakeholder)):
        line._history_user = by
        line.delete()
    stakeholder._history_user = by
    stakeholder.delete()
    return Removal(stakeholder, archived=False)


@transaction.atomic
def restore_stakeholder(stakeholder: Stakeholder, *, by: User) -> Stakeholder:
    _require_edit(by, stakeholder.account)
    _lock(stakeholder.account)
    stakeholder = Stakeholder.objects.select_related("reports_to").get(pk=stakeholder.pk)
    if stakeholder.archived_at is not None:
        stakeholder.archived_at = None
        manager = stakeholder.reports_to
        if manager is not None and (manager.is_archived or _reaches(manager, stakeholder)):
            # Their manager left the map too (or now reports to them): the line cannot come back.
            stakeholder.reports_to = None
        bump(stakeholder)
        stakeholder._history_user = by
        stakeholder.save(update_fields=["archived_at", "reports_to", "version", "updated_at"])
    return stakeholder


def _reaches(manager: Stakeholder, person: Stakeholder) -> bool:
    """Whether ``manager`` reports, directly or not, to ``person``."""
    ancestor_id, seen = manager.reports_to_id, {manager.pk}
    while ancestor_id is not None and ancestor_id not in seen:
        if ancestor_id == person.pk:
            return True
        seen.add(ancestor_id)
        ancestor_id = Stakeholder.objects.filter(pk=ancestor_id).values_list("reports_to_id", flat=True).first()
    return False


# ---------------------------------------------------------------- influence lines


def _check_line_ends(account: Account, source: Stakeholder | None, target: Stakeholder | None) -> None:
    errors = {}
    for name, person in (("source", source), ("target", target)):
        if person is None:
            errors[name] = _("Choose a stakeholder.")
        elif person.account_id != account.pk:
            errors[name] = _("%(name)s is a stakeholder of another account.") % {"name": person.name}
        elif person.is_archived:
            errors[name] = _("%(name)s is archived.") % {"name": person.name}
    if not errors and source.pk == target.pk:
        errors["target"] = _("An influence line joins two different people; %(name)s cannot influence themselves here.") % {"name": source.name}
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def add_influence_line(
    account: Account,
    *,
    by: User,
    source: Stakeholder | None,
    target: Stakeholder | None,
    polarity: str = Polarity.POSITIVE,
    strength: str = LineStrength.MEDIUM,
    note: str = "",
    since: datetime.date | None = None,
) -> InfluenceLine:
    _require_edit(by, account)
    _check_choices({"polarity": polarity, "strength": strength})
    _check_line_ends(account, source, target)
    _lock(account)
    existing = InfluenceLine.objects.filter(source=source, target=target).first()
    if existing is not None:
        raise ValidationError({"target": _("There is already a line from %(source)s to %(target)s; change that one instead.")
                               % {"source": source.name, "target": target.name}})
    line = InfluenceLine(account=account, source=source, target=target, polarity=polarity, strength=strength,
                         note=(note or "").strip(), since=since)
    line.full_clean(exclude=["account", "source", "target"], validate_constraints=False)
    line._history_user = by
    try:
        with transaction.atomic():
            line.save()
    except IntegrityError as exc:  # a concurrent writer drew the same line first
        raise ValidationError({"target": _("There is already a line between these two people in this direction.")}) from exc
    return line


@transaction.atomic
def update_influence_line(line: InfluenceLine, *, by: User, changes: dict, version: int | None = None) -> InfluenceLine:
    _require_edit(by, line.account)
    _check_fields(changes, LINE_FIELDS)
    _check_choices(changes)
    _lock(line.account)
    line = InfluenceLine.objects.select_related("account", "source", "target").get(pk=line.pk)
    check_version(line, version)
    changed = {k: (v.strip() if isinstance(v, str) and k == "note" else v) for k, v in changes.items() if getattr(line, k) != v}
    if not changed:
        return line
    for name, value in changed.items():
        setattr(line, name, value)
    bump(line)
    line.full_clean(exclude=["account", "source", "target"], validate_constraints=False)
    line._history_user = by
    line.save()
    return line


@transaction.atomic
def remove_influence_line(line: InfluenceLine, *, by: User, version: int | None = None) -> None:
    _require_edit(by, line.account)
    _lock(line.account)
    line = InfluenceLine.objects.select_related("account").get(pk=line.pk)
    check_version(line, version)
    line._history_user = by
    line.delete()


# ---------------------------------------------------------------- interactions


def _check_interaction(interaction: Interaction, stakeholders: Sequence[Stakeholder] | None,
                       users: Sequence[User] | None, *, previous: set[int] = frozenset()) -> None:
    account = interaction.account
    errors: dict[str, str] = {}
    if not (interaction.summary or "").strip():
        errors["summary"] = _("Say what happened or what is planned.")
    if interaction.date is None:
        errors["date"] = _("Give the date.")
    if stakeholders is not None:
        for person in stakeholders:
            if person.account_id != account.pk:
                errors["stakeholders"] = _("%(name)s is a stakeholder of another account.") % {"name": person.name}
                break
            if person.is_archived and person.pk not in previous:
                errors["stakeholders"] = _("%(name)s is archived.") % {"name": person.name}
                break
    allowed = participant_users(account)
    if users is not None:
        outside = [u for u in users if not allowed.filter(pk=u.pk).exists()]
        if outside:
            errors["users"] = _("%(user)s is not on this account's team.") % {"user": outside[0]}
    if interaction.next_step_owner_id is not None and not allowed.filter(pk=interaction.next_step_owner_id).exists():
        errors["next_step_owner"] = _("%(user)s is not on this account's team.") % {"user": interaction.next_step_owner}
    has_step = bool((interaction.next_step or "").strip())
    if not has_step and (interaction.next_step_owner_id or interaction.next_step_due):
        errors["next_step"] = _("Describe the next step before giving it an owner or a due date.")
    if has_step and interaction.next_step_due and interaction.date and interaction.next_step_due < interaction.date:
        errors["next_step_due"] = _("The next step cannot be due before the interaction itself.")
    if errors:
        raise ValidationError(errors)
    interaction.full_clean(exclude=["account", "created_by", "next_step_owner"])


@transaction.atomic
def log_interaction(
    account: Account,
    *,
    by: User,
    kind: str,
    date: datetime.date | None,
    summary: str,
    stakeholders: Iterable[Stakeholder] = (),
    users: Iterable[User] = (),
    time: datetime.time | None = None,
    duration_minutes: int = 60,
    location: str = "",
    next_step: str = "",
    next_step_owner: User | None = None,
    next_step_due: datetime.date | None = None,
) -> Interaction:
    """Record a meeting, call, email, visit or event — held, or planned when the date is still to come."""
    _require_edit(by, account)
    _check_choices({"kind": kind})
    stakeholders, users = list(stakeholders), list(users)
    interaction = Interaction(
        account=account, kind=kind, date=date, time=time, duration_minutes=duration_minutes,
        location=(location or "").strip(), summary=(summary or "").strip(), next_step=(next_step or "").strip(),
        next_step_owner=next_step_owner, next_step_due=next_step_due, created_by=by,
    )
    _check_interaction(interaction, stakeholders, users)
    interaction._history_user = by
    interaction.save()
    interaction.stakeholders.set(stakeholders)
    interaction.users.set(users)
    return interaction


@transaction.atomic
def update_interaction(interaction: Interaction, *, by: User, changes: dict, version: int | None = None) -> Interaction:
    _require_edit(by, interaction.account)
    _check_fields(changes, INTERACTION_FIELDS)
    _check_choices(changes)
    _lock(interaction.account)
    interaction = Interaction.objects.select_related("account").get(pk=interaction.pk)
    check_version(interaction, version)
    previous = set(interaction.stakeholders.values_list("pk", flat=True))
    stakeholders = list(changes.pop("stakeholders")) if "stakeholders" in changes else None
    users = list(changes.pop("users")) if "users" in changes else None
    for name, value in changes.items():
        setattr(interaction, name, value.strip() if isinstance(value, str) else value)
    _check_interaction(interaction, stakeholders, users, previous=previous)
    bump(interaction)
    interaction._history_user = by
    interaction.save()
    if stakeholders is not None:
        interaction.stakeholders.set(stakeholders)
    if users is not None:
        interaction.users.set(users)
    return interaction


@transaction.atomic
def remove_interaction(interaction: Interaction, *, by: User, version: int | None = None) -> None:
    _require_edit(by, interaction.account)
    _lock(interaction.account)
    interaction = Interaction.objects.select_related("account").get(pk=interaction.pk)
    check_version(interaction, version)
    interaction._history_user = by
    interaction.delete()


# ---------------------------------------------------------------- reads: what the analyses see


def _person(row: Stakeholder, manager: int | None) -> analysis.Person:
    return analysis.Person(
        id=row.pk,
        name=row.name,
        title=row.title,
        department=row.department,
        organisation=row.external_organisation,
        reports_to=manager,
        buying_role=row.buying_role,
        power=row.decision_power,
        sentiment=row.sentiment,
        contact=row.contact,
        key_contact=row.is_key_contact,
        owner_id=row.owner_id,
        owner=(row.owner.get_full_name() or row.owner.username) if row.owner_id else "",
        owner_username=row.owner.username if row.owner_id else "",
        last_contact=row.last_contact,
    )


def people(account: Account, *, today: datetime.date | None = None) -> list[analysis.Person]:
    """The account's active stakeholders as the analyses see them.

    Someone whose manager is archived hangs from the nearest manager still on the map.
    """
    return people_by_account([account], today=today)[account.pk]


def lines(account: Account) -> list[analysis.Line]:
    return [
        analysis.Line(source=line.source_id, target=line.target_id, polarity=line.polarity, strength=line.strength,
                      note=line.note, id=line.pk)
        for line in InfluenceLine.objects.filter(account=account, source__archived_at__isnull=True, target__archived_at__isnull=True)
        .order_by("pk")
    ]


def who_to_win(account: Account, *, today: datetime.date | None = None) -> list[analysis.Target]:
    """Who to win on ``account``; each path says whether its start went without contact for the stale threshold."""
    today = today or timezone.localdate()
    return analysis.who_to_win(people(account, today=today), lines(account), today=today,
                               stale_days=stale_rule().days)


def relationship_settings() -> RelationshipSettings:
    """The one settings row, created with the defaults on first use."""
    return RelationshipSettings.objects.get_or_create(pk=1)[0]


def stale_rule() -> analysis.StaleRule:
    """Who the stale alerts watch and after how many days: the lead's settings."""
    return relationship_settings().rule


def can_configure(user: User) -> bool:
    """The stale rule is a program decision: KAM leads and admins."""
    return user.is_authenticated and user.edits_all_accounts


MAX_STALE_DAYS = 3650


@transaction.atomic
def update_stale_settings(
    *,
    by: User,
    days: int | None = None,
    powers: Sequence[str] | None = None,
    roles: Sequence[str] | None = None,
    key_contacts: bool | None = None,
) -> RelationshipSettings:
    """Change whom the stale alerts watch (decision powers, buying roles, key contact points) and after how many days.

    Arguments left as None stay as they are. At least one group must be watched.
    """
    if not can_configure(by):
        raise PermissionDenied(_("Only KAM leads and admins change the stale alert settings."))
    current = RelationshipSettings.objects.select_for_update().get(pk=relationship_settings().pk)
    errors: dict[str, str] = {}
    if days is not None:
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_STALE_DAYS:
            errors["days"] = _("Give a whole number of days from 1 to %(max)s.") % {"max": MAX_STALE_DAYS}
        else:
            current.stale_after_days = days
    for name, value, allowed in (("powers", powers, DecisionPower.values), ("roles", roles, BuyingRole.values)):
        if value is None:
            continue
        unknown = [v for v in value if v not in allowed]
        if isinstance(value, str) or unknown:
            errors[name] = _("%(value)s is not allowed; choose from: %(choices)s.") % {
                "value": repr(unknown[0] if unknown and not isinstance(value, str) else value), "choices": ", ".join(allowed)}
            continue
        chosen = [v for v in allowed if v in value]  # the stored order is the list's, duplicates dropped
        if name == "powers":
            current.stale_powers = chosen
        else:
            current.stale_roles = chosen
    if key_contacts is not None:
        current.stale_key_contacts = bool(key_contacts)
    if not errors and not (current.stale_powers or current.stale_roles or current.stale_key_contacts):
        errors["powers"] = _("Watch at least one group: a decision power, a buying role or the key contact points.")
    if errors:
        raise ValidationError(errors)
    current._history_user = by
    current.save()
    return current


@dataclass(frozen=True)
class StaleAlert:
    account: Account
    stale: analysis.Stale

    @property
    def person(self) -> analysis.Person:
        return self.stale.person


def stale_alerts(
    accounts: QuerySet[Account], *, today: datetime.date | None = None, days: int | None = None
) -> list[StaleAlert]:
    """The watched stakeholders of ``accounts`` not contacted for the threshold, across accounts.

    Who is watched and after how many days is ``stale_rule()``; ``days`` overrides the
    threshold for one look. Sorted by account name, then as analysis.stale_relationships() sorts.
    """
    today = today or timezone.localdate()
    rule = stale_rule()
    days = rule.days if days is None else days
    if days < 1:
        raise ValidationError({"days": _("Give a number of days of at least 1.")})
    watched = Q(decision_power__in=rule.powers) | Q(buying_role__in=[r for r in rule.roles if r])
    if rule.key_contacts:
        watched |= Q(is_key_contact=True)
    rows = (
        Stakeholder.objects.filter(account__in=accounts.filter(archived_at__isnull=True)).active()
        .filter(watched)
        .with_contact(today)
        .select_related("owner", "account")
        .order_by("account__name", "account_id", "name")
    )
    by_account: dict[int, tuple[Account, list[analysis.Person]]] = {}
    for row in rows:
        by_account.setdefault(row.account_id, (row.account, []))[1].append(_person(row, None))
    alerts = []
    for account, persons in by_account.values():
        alerts += [StaleAlert(account, s) for s in analysis.stale_relationships(persons, today=today, days=days, rule=rule)]
    return alerts


def duplicate_next_steps(account: Account) -> dict[int, list[int]]:
    steps = [
        analysis.NextStep(interaction_id=pk, text=text, recorded_by=recorded_by, due=due, done=done)
        for pk, text, recorded_by, due, done in Interaction.objects.filter(account=account)
        .exclude(next_step="").filter(next_step_done=False)
        .values_list("pk", "next_step", "created_by_id", "next_step_due", "next_step_done")
        .order_by("pk")
    ]
    return analysis.possible_duplicates(steps)


# ---------------------------------------------------------------- history


def change_log(
    account: Account, *, stakeholder: Stakeholder | None = None, interaction: Interaction | None = None, limit: int | None = 100
) -> list[LogEntry]:
    """Changes to the account's stakeholders and influence lines (or one stakeholder's, or one interaction's), newest first."""
    names = dict(Stakeholder.objects.filter(account=account).values_list("pk", "name"))
    entries: list[LogEntry] = []
    if interaction is not None:
        records = Interaction.history.filter(id=interaction.pk).select_related("history_user")
        for group in history.grouped(records):
            entries += history.entries(group, list(INTERACTION_HISTORY_FIELDS),
                                lambda r: _("Interaction of %(date)s") % {"date": r.date.isoformat()})
        entries.sort(key=lambda e: e.when, reverse=True)
        return entries[:limit]
    people_history = Stakeholder.history.filter(account_id=account.pk).select_related("history_user")
    line_history = InfluenceLine.history.filter(account_id=account.pk).select_related("history_user")
    if stakeholder is not None:
        people_history = people_history.filter(id=stakeholder.pk)
        line_history = line_history.filter(Q(source_id=stakeholder.pk) | Q(target_id=stakeholder.pk))
    tracked = [f for f in STAKEHOLDER_FIELDS] + ["archived_at"]
    for records in history.grouped(people_history):
        entries += history.entries(records, tracked, lambda r: _("Stakeholder: %(name)s") % {"name": r.name})
    for records in history.grouped(line_history):
        entries += history.entries(
            records, list(LINE_FIELDS),
            lambda r: _("Influence line: %(source)s → %(target)s")
            % {"source": names.get(r.source_id, "?"), "target": names.get(r.target_id, "?")},
        )
    entries.sort(key=lambda e: e.when, reverse=True)
    return entries[:limit]


# ---------------------------------------------------------------- the map, the calendar, the portfolio


def map_labels() -> dict[str, str]:
    """The map's words in the current language."""
    labels = {
        "title": _("Stakeholder map"), "legend": _("Legend"),
        "supporter": str(Sentiment.SUPPORTER.label), "neutral": str(Sentiment.NEUTRAL.label), "critic": str(Sentiment.CRITIC.label),
        "high_power": _("High decision power"), "medium_power": _("Medium decision power"),
        "low_power": _("Low decision power"),
        "sentiment_legend": _("Sentiment (fill, border and stripe):"),
        "power_legend": _("Decision power (dots and border):"),
        "key_contact": _("Key contact point"), "reports_to": _("Reports to"),
        "positive": _("Positive influence"), "negative": _("Negative influence"),
        "externals": _("External parties"), "empty": _("No stakeholders yet."),
        "power": _("Decision power"), "contact": _("Contact"), "owner": _("Owner"), "nobody": _("nobody"),
    }
    labels.update({f"{value}_power_short": str(label) for value, label in DecisionPower.choices})
    labels.update({f"contact_{value}": str(label) for value, label in ContactStrength.choices})
    return labels


def map_departments(account: Account) -> list[str]:
    """The departments of the customer's people on the map, for the map's department filter."""
    rows = (Stakeholder.objects.filter(account=account, external_organisation="").active().exclude(department="")
            .values_list("department", flat=True).distinct())
    names: dict[str, str] = {}
    for name in rows:
        names.setdefault(name.strip().casefold(), name.strip())
    return sorted((n for n in names.values() if n), key=str.casefold)


def _in_department(persons: list[analysis.Person], department: str) -> list[analysis.Person]:
    wanted = department.strip().casefold()
    return [p for p in persons if not p.external and p.department.strip().casefold() == wanted]


def render_map(
    account: Account,
    *,
    today: datetime.date | None = None,
    link=None,
    selected: int | None = None,
    department: str = "",
) -> str:
    """The account's stakeholder map as a self-contained SVG document.

    With ``department``, only the customer's people of that department (and the lines
    between them): a large map printed one department at a time stays legible. Someone
    whose manager is in another department heads their part of the chart.
    """
    from keyplan.core.dates import format_date
    from keyplan.core.numbers import number
    from keyplan.relationships import map_svg

    today = today or timezone.localdate()
    persons = people(account, today=today)
    # The day and counts as the reader writes them (a Persian map: Solar Hijri, Persian digits).
    subtitle = _("Stakeholder map · %(date)s") % {"date": format_date(today, "SHORT_DATE_FORMAT")}
    if department.strip():
        shown = _in_department(persons, department)
        subtitle += " · " + _("Department: %(department)s (%(shown)s of %(total)s people)") % {
            "department": department.strip(), "shown": number(len(shown)), "total": number(len(persons))}
        persons = shown
    return map_svg.render_map(
        persons,
        lines(account),
        title=account.name,
        subtitle=subtitle,
        labels=map_labels(),
        role_labels={value: str(label) for value, label in BuyingRole.choices},
        strength_labels={value: str(label) for value, label in LineStrength.choices},
        link=link,
        selected=selected,
    )


def planned_meetings(account: Account, *, today: datetime.date | None = None) -> QuerySet[Interaction]:
    today = today or timezone.localdate()
    return (
        Interaction.objects.filter(account=account).planned(today)
        .prefetch_related("stakeholders", "users").select_related("next_step_owner").order_by("date", "time", "pk")
    )


def meetings_calendar(account: Account, *, today: datetime.date | None = None, host: str = "keyplan") -> str:
    """The account's planned meetings, calls, visits and events as iCalendar text.

    Times are in the account's time zone (the server's when the account has none);
    an interaction without a time is an all-day event.
    """
    import zoneinfo

    from django.conf import settings

    from keyplan.relationships import ical

    zone = zoneinfo.ZoneInfo(account.time_zone or settings.TIME_ZONE)
    events = []
    for meeting in planned_meetings(account, today=today):
        if meeting.time is not None:
            start = datetime.datetime.combine(meeting.date, meeting.time, tzinfo=zone)
            end = start + datetime.timedelta(minutes=meeting.duration_minutes)
        else:
            start, end = meeting.date, meeting.date + datetime.timedelta(days=1)
        who = [str(p) for p in meeting.stakeholders.all()] + [str(u) for u in meeting.users.all()]
        description = [meeting.summary]
        if who:
            description.append(_("Participants: %(names)s") % {"names": ", ".join(who)})
        if meeting.next_step:
            description.append(_("Next step: %(step)s") % {"step": meeting.next_step})
        events.append(ical.Event(
            uid=f"interaction-{meeting.pk}@{host}",
            start=start,
            end=end,
            summary=f"{meeting.get_kind_display()}: {account.name} · {meeting.headline}",
            description="\n\n".join(description),
            location=meeting.location,
            categories="Keyplan",
        ))
    return ical.calendar(events, name=_("%(account)s · planned meetings") % {"account": account.name}, now=timezone.now())


def people_by_account(accounts: Iterable[Account], *, today: datetime.date | None = None) -> dict[int, list[analysis.Person]]:
    """Active stakeholders of several accounts in one query, as the analyses see them."""
    today = today or timezone.localdate()
    ids = [a.pk for a in accounts]
    rows = (
        Stakeholder.objects.filter(account_id__in=ids).active().with_contact(today).select_related("owner")
        .order_by("account_id", "name", "pk")
    )
    grouped: dict[int, list[Stakeholder]] = {pk: [] for pk in ids}
    for row in rows:
        grouped[row.account_id].append(row)
    managers = dict(Stakeholder.objects.filter(account_id__in=ids).values_list("pk", "reports_to_id"))
    out = {}
    for pk, account_rows in grouped.items():
        active = {row.pk for row in account_rows}
        persons = []
        for row in account_rows:
            manager, seen = row.reports_to_id, set()
            while manager is not None and manager not in active and manager not in seen:
                seen.add(manager)
                manager = managers.get(manager)
            persons.append(_person(row, manager if manager in active else None))
        out[pk] = persons
    return out


def lines_by_account(accounts: Iterable[Account]) -> dict[int, list[analysis.Line]]:
    ids = [a.pk for a in accounts]
    out: dict[int, list[analysis.Line]] = {pk: [] for pk in ids}
    for line in InfluenceLine.objects.filter(
        account_id__in=ids, source__archived_at__isnull=True, target__archived_at__isnull=True
    ).order_by("pk"):
        out[line.account_id].append(analysis.Line(line.source_id, line.target_id, line.polarity, line.strength, line.note, line.pk))
    return out


WHO_TO_WIN_CHUNK = 200  # key accounts whose stakeholders and lines are read at a time


def who_to_win_rows(accounts, *, today: datetime.date | None = None):
    """(account, target) for every stakeholder to win on ``accounts``, account by account (name order), most important
    first: the who-to-win boards as rows, for their CSV and live feed. Read a chunk of accounts at a time."""
    today = today or timezone.localdate()
    days = stale_rule().days
    chunk: list[Account] = []
    for account in accounts.order_by("name", "pk").iterator(chunk_size=WHO_TO_WIN_CHUNK):
        chunk.append(account)
        if len(chunk) == WHO_TO_WIN_CHUNK:
            yield from _who_to_win_chunk(chunk, today, days)
            chunk = []
    if chunk:
        yield from _who_to_win_chunk(chunk, today, days)


def _who_to_win_chunk(accounts: list[Account], today: datetime.date, days: int):
    persons = people_by_account(accounts, today=today)
    lines = lines_by_account(accounts)
    for account in accounts:
        for target in analysis.who_to_win(persons[account.pk], lines[account.pk], today=today, stale_days=days):
            yield account, target
