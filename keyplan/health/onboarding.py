"""Onboarding: the stages a new account goes through, with planned and actual dates, an owner and a checklist.

What may happen (the services of this part of health; ``services.py`` holds the rest): start an account's
onboarding from its key status's template, add, change and remove stages, tick checklist items. Every write
checks who acts, validates naming the field, writes in one transaction and leaves history. The account's
onboarding status (none, in progress, overdue, done) is derived from its stages by ``analysis.onboarding_status``;
overdue stages cost the health score its onboarding component.
"""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from keyplan.accounts.models import Account, Tier
from keyplan.core.models import User
from keyplan.core.versions import bump, check_version
from keyplan.health import analysis
from keyplan.health.models import ONBOARDING_LABELS, OnboardingStage
from keyplan.health.services import _require_edit, health_settings, onboarding_counts

# The default template's names and checklist items, so that the catalogs carry them: stages made from the
# default template are stored in English and read in each reader's language (OnboardingStage.label and .items).
TEMPLATE_TEXTS = (
    gettext_noop("Kick-off with the customer"), gettext_noop("Contract and order confirmed"),
    gettext_noop("Account team introduced"), gettext_noop("Success criteria agreed"),
    gettext_noop("Set-up and integration"), gettext_noop("Users created"), gettext_noop("Data migrated"),
    gettext_noop("Integrations tested"), gettext_noop("Training"), gettext_noop("Key users trained"),
    gettext_noop("Administrators trained"), gettext_noop("First value review"),
    gettext_noop("Success criteria checked with the sponsor"), gettext_noop("Account plan drafted"),
)
assert {t for stages in analysis.DEFAULT_ONBOARDING.values() for s in stages for t in [s["name"], *s["checklist"]]} <= set(TEMPLATE_TEXTS)
STAGE_FIELDS = ("name", "owner", "planned", "done_on", "checklist", "position")
MAX_STAGES = 30
MAX_ITEMS = 30


# ---------------------------------------------------------------- templates


def clean_templates(value) -> dict:
    """The onboarding templates as the settings keep them, or a ValidationError naming ``onboarding_templates``.
    ``{tier: [{"name": str, "days": 0–730, "checklist": [str]}]}`` for the key statuses."""
    def fail(message: str):
        raise ValidationError({"onboarding_templates": message})

    if not isinstance(value, dict) or set(value) - set(Tier.values):
        fail(_("Give the stages per key status: %(tiers)s.") % {"tiers": ", ".join(Tier.values)})
    cleaned = {}
    for tier in Tier.values:
        stages = value.get(tier, [])
        if not isinstance(stages, list) or len(stages) > MAX_STAGES:
            fail(_("%(tier)s: give a list of at most %(n)s stages.") % {"tier": tier, "n": MAX_STAGES})
        cleaned[tier] = []
        for i, stage in enumerate(stages, start=1):
            if not isinstance(stage, dict):
                fail(_("%(tier)s, stage %(i)s: give its name, days and checklist.") % {"tier": tier, "i": i})
            name = stage.get("name")
            days = stage.get("days", 0)
            items = stage.get("checklist", [])
            if not isinstance(name, str) or not name.strip() or len(name.strip()) > 200:
                fail(_("%(tier)s, stage %(i)s: give a name of 1 to 200 characters.") % {"tier": tier, "i": i})
            if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= 730:
                fail(_("%(tier)s, stage %(i)s: the days after the start are a whole number from 0 to 730.")
                     % {"tier": tier, "i": i})
            if (not isinstance(items, list) or len(items) > MAX_ITEMS
                    or any(not isinstance(t, str) or not t.strip() or len(t.strip()) > 200 for t in items)):
                fail(_("%(tier)s, stage %(i)s: the checklist is a list of at most %(n)s items of 1 to 200 characters.")
                     % {"tier": tier, "i": i, "n": MAX_ITEMS})
            cleaned[tier].append({"name": name.strip(), "days": days, "checklist": [t.strip() for t in items]})
    return cleaned


def templates_as_text(templates: dict, tier: str) -> str:
    """One stage a line, as the settings page edits it: ``days | name | item; item``."""
    return "\n".join(f"{s['days']} | {s['name']} | {'; '.join(s['checklist'])}".rstrip(" |")
                     for s in templates.get(tier, []))


def templates_from_text(text: str, tier: str) -> list[dict]:
    """The inverse of ``templates_as_text`` (a line without days: 0); ValidationError naming the field."""
    stages = []
    for n, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split("|")]
        if len(parts) == 1:
            parts = ["0", parts[0]]
        days, name, items = parts[0], parts[1], parts[2] if len(parts) > 2 else ""
        if not days.isdigit():
            raise ValidationError({f"onboarding_{tier}": _("Line %(n)s: start with the days after the start, e.g. "
                                                           "“30 | Training | Key users trained”.") % {"n": n}})
        stages.append({"name": name, "days": int(days), "checklist": [t.strip() for t in items.split(";") if t.strip()]})
    return stages


# ---------------------------------------------------------------- reading


def stage_dict(stage: OnboardingStage, *, today: datetime.date | None = None) -> dict:
    today = today or timezone.localdate()
    owner = stage.owner
    return {"id": stage.pk, "version": stage.version, "account_id": stage.account_id, "position": stage.position, "name": stage.name,
            "owner": None if owner is None else {"id": owner.pk, "username": owner.username,
                                                 "name": owner.get_full_name() or owner.username},
            "planned": stage.planned, "done_on": stage.done_on,
            "overdue": analysis.stage_overdue(stage.planned, stage.done_on, today),
            "checklist": stage.checklist}


def onboarding_of(account: Account, *, today: datetime.date | None = None) -> dict:
    """The account's onboarding: its status, derived from its stages, and the stages in order."""
    today = today or timezone.localdate()
    stages = [stage_dict(s, today=today) for s in account.onboarding_stages.select_related("owner")]
    done = sum(1 for s in stages if s["done_on"] is not None and s["done_on"] <= today)
    overdue = sum(1 for s in stages if s["overdue"])
    status = analysis.onboarding_status(len(stages), done, overdue)
    return {"account": {"id": account.pk, "name": account.name}, "status": status,
            "status_label": str(ONBOARDING_LABELS[status]), "stages_total": len(stages), "stages_done": done,
            "stages_overdue": overdue, "stages": stages}


def statuses(account_ids, *, today: datetime.date | None = None) -> dict[int, dict]:
    """Onboarding status per account (those without stages: none), in one grouped query."""
    today = today or timezone.localdate()
    ids = list(account_ids)
    found = {pk: {"status": "none", "done": 0, "total": 0, "overdue": 0} for pk in ids}
    for account_id, total, done, overdue in onboarding_counts({"account_id__in": ids}, today=today):
        found[account_id] = {"status": analysis.onboarding_status(total, done, overdue), "done": done, "total": total,
                             "overdue": overdue}
    for row in found.values():
        row["label"] = str(ONBOARDING_LABELS[row["status"]])
    return found


# ---------------------------------------------------------------- writes


def _check_owner(account: Account, owner) -> None:
    """A stage's owner is on the account's team, or a lead or admin (as plan actions' owners are)."""
    from keyplan.planning.services import assignable_users

    if owner is not None and (not isinstance(owner, User) or not assignable_users(account).filter(pk=owner.pk).exists()):
        raise ValidationError({"owner": _("%(user)s is not on this account's team.") % {"user": owner}})


def _clean_checklist(value) -> list[dict]:
    """Items as ``{"item": text, "done": bool}``; plain strings are items not done yet."""
    if not isinstance(value, list) or len(value) > MAX_ITEMS:
        raise ValidationError({"checklist": _("Give a list of at most %(n)s items.") % {"n": MAX_ITEMS}})
    items = []
    for i, entry in enumerate(value, start=1):
        if isinstance(entry, str):
            entry = {"item": entry, "done": False}
        text = entry.get("item") if isinstance(entry, dict) else None
        done = entry.get("done", False) if isinstance(entry, dict) else None
        if not isinstance(text, str) or not text.strip() or len(text.strip()) > 200 or not isinstance(done, bool):
            raise ValidationError({"checklist": _("Item %(i)s: give its text (1 to 200 characters) and whether it is done "
                                                  "(true or false).") % {"i": i}})
        items.append({"item": text.strip(), "done": done})
    return items


def _clean(stage: OnboardingStage, today: datetime.date) -> None:
    stage.name = (stage.name or "").strip() if isinstance(stage.name, str) else stage.name
    if not isinstance(stage.name, str) or not stage.name:
        raise ValidationError({"name": _("Give the stage a name.")})
    if len(stage.name) > 200:
        raise ValidationError({"name": _("At most 200 characters.")})
    for name in ("planned", "done_on"):
        value = getattr(stage, name)
        if value is not None and not isinstance(value, datetime.date):
            raise ValidationError({name: _("Give a date.")})
    if stage.done_on is not None and stage.done_on > today:
        raise ValidationError({"done_on": _("%(day)s is in the future.") % {"day": stage.done_on.isoformat()}})
    if isinstance(stage.position, bool) or not isinstance(stage.position, int) or not 0 <= stage.position <= 1000:
        raise ValidationError({"position": _("Give a whole number from %(low)s to %(high)s.") % {"low": 0, "high": 1000}})
    stage.checklist = _clean_checklist(stage.checklist)
    _check_owner(stage.account, stage.owner)


def _save(stage: OnboardingStage, by: User) -> None:
    if stage.pk is not None:
        bump(stage)
    stage._history_user = by
    stage.save()


@transaction.atomic
def start_onboarding(account: Account, *, by: User, start: datetime.date | None = None,
                     owner: User | None = None) -> list[OnboardingStage]:
    """The stages of the account's key status's template, planned from ``start`` (default today), owned by
    ``owner`` (default the account's KAM). Refused when the account has onboarding stages already."""
    from keyplan.health.services import _kams

    _require_edit(by, account)
    Account.objects.select_for_update().get(pk=account.pk)  # two people starting at once: one wins
    if account.onboarding_stages.exists():
        raise ValidationError({"account": _("%(name)s has onboarding stages already.") % {"name": account.name}})
    start = start or timezone.localdate()
    if not isinstance(start, datetime.date):
        raise ValidationError({"start": _("Give a date.")})
    template = health_settings().onboarding_templates.get(account.tier, [])
    if not template:
        raise ValidationError({"account": _("The health settings have no onboarding stages for this key status.")})
    _check_owner(account, owner)
    if owner is None:
        kam = _kams([account.pk]).get(account.pk)
        owner = User.objects.filter(pk=kam, is_active=True).first() if kam else None
    stages = []
    for position, step in enumerate(template):
        stage = OnboardingStage(account=account, position=position, name=step["name"][:200], owner=owner,
                                planned=start + datetime.timedelta(days=step["days"]),
                                checklist=[{"item": t[:200], "done": False} for t in step["checklist"]])
        _save(stage, by)
        stages.append(stage)
    return stages


@transaction.atomic
def add_stage(account: Account, *, by: User, name: str, planned: datetime.date | None = None, owner: User | None = None,
              checklist=None, today: datetime.date | None = None) -> OnboardingStage:
    _require_edit(by, account)
    if account.onboarding_stages.count() >= MAX_STAGES:
        raise ValidationError({"account": _("At most %(n)s onboarding stages.") % {"n": MAX_STAGES}})
    last = account.onboarding_stages.aggregate(last=Max("position"))["last"]
    stage = OnboardingStage(account=account, name=name, planned=planned, owner=owner, checklist=checklist or [],
                            position=0 if last is None else min(last + 1, 1000))
    _clean(stage, today or timezone.localdate())
    _save(stage, by)
    return stage


@transaction.atomic
def update_stage(stage: OnboardingStage, *, by: User, changes: dict, today: datetime.date | None = None,
                 version: int | None = None) -> OnboardingStage:
    """Change a stage: its name, owner, planned date, the day it was done (not in the future; None: not done),
    its checklist or its place in the order. With ``version`` (the one read): a Conflict if someone saved since."""
    _require_edit(by, stage.account)
    unknown = sorted(set(changes) - set(STAGE_FIELDS))
    if unknown:
        raise ValidationError({name: _("This field cannot be set here.") for name in unknown})
    stage = OnboardingStage.objects.select_for_update().select_related("account").get(pk=stage.pk)
    check_version(stage, version)
    for name, value in changes.items():
        setattr(stage, name, value)
    _clean(stage, today or timezone.localdate())
    _save(stage, by)
    return stage


@transaction.atomic
def tick_item(stage: OnboardingStage, *, by: User, index: int, done: bool) -> OnboardingStage:
    """Tick (or untick) one checklist item of a stage."""
    _require_edit(by, stage.account)
    stage = OnboardingStage.objects.select_for_update().select_related("account").get(pk=stage.pk)
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(stage.checklist):
        raise ValidationError({"item": _("This stage has no checklist item %(n)s.") % {"n": index}})
    stage.checklist[index]["done"] = bool(done)
    _save(stage, by)
    return stage


@transaction.atomic
def complete_stage(stage: OnboardingStage, *, by: User, on: datetime.date | None = None,
                   today: datetime.date | None = None, version: int | None = None) -> OnboardingStage:
    """Mark a stage done (today unless ``on`` says when)."""
    today = today or timezone.localdate()
    return update_stage(stage, by=by, changes={"done_on": on or today}, today=today, version=version)


@transaction.atomic
def remove_stage(stage: OnboardingStage, *, by: User, version: int | None = None) -> None:
    _require_edit(by, stage.account)
    stage = OnboardingStage.objects.select_for_update().select_related("account").get(pk=stage.pk)
    check_version(stage, version)
    stage._history_user = by
    stage.delete()
