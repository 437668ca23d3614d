"""Activities from a CRM export as interactions in the log: all rows or none, one batch that a rollback undoes.

A row names its account (external id) or lets its participants name it: the customer's people by e-mail
address (stakeholders of one account), ours by e-mail address or username. An activity already in the log
(the same account, date and kind, and a summary in nearly the same words: the log's own rule for duplicate
next steps, ``analysis.similar_text``) is recognised and skipped, so importing the same file again adds
nothing. Logged interactions feed contact strength and the stale alerts like any other.
"""

from __future__ import annotations

import datetime
import re
from pathlib import Path

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext_noop

from keyplan.accounts.models import Account, TeamMember
from keyplan.core.models import Role, User
from keyplan.crm.importing import CrmImportResult, _error, _finish_crm, _users
from keyplan.relationships.analysis import similar_text
from keyplan.relationships.models import Interaction, InteractionKind, Stakeholder
from keyplan.revenue.importing import inspection
from keyplan.revenue.importing.inspection import can_import
from keyplan.revenue.importing.small import SmallImportOptions, _read_small, _small_batch, _stop_small_import
from keyplan.revenue.models import ImportBatch
from keyplan.revenue.reading import LEDGER_FIELDS, LINE, ReadError

INTERACTION_FIELDS = {
    "account_id": LEDGER_FIELDS["account_id"],
    "date": ("date", "activity_date", "start_date", "due_date", "datum", "data"),
    "time": ("time", "start_time", "tijd", "uhrzeit", "ora"),
    "kind": ("kind", "type", "activity_type", "task_subtype", "soort", "art", "tipo"),
    "summary": ("summary", "subject", "title", "onderwerp", "betreff", "oggetto", "notes", "description"),
    "participants": ("participants", "attendees", "contacts", "contact_emails", "with", "deelnemers", "teilnehmer",
                     "partecipanti"),
    "our_people": ("our_people", "users", "assigned_to", "owner", "organizer", "organiser", "eigenaar", "verantwortlich"),
    "next_step": ("next_step", "next_steps", "follow_up", "volgende_stap", "nachster_schritt", "prossimo_passo"),
    "duration_minutes": ("duration_minutes", "duration", "minutes", "duur", "dauer", "durata"),
    "location": ("location", "place", "locatie", "ort", "luogo"),
}
REQUIRED = ("date", "summary")
MAX_ROWS = 200_000
KINDS = {**{k: k for k in InteractionKind.values}, "e_mail": "email", "mail": "email", "phone": "call", "phone_call": "call",
         "call_log": "call", "meeting_log": "meeting", "appointment": "meeting", "video_call": "meeting",
         "visit": "visit", "site_visit": "visit", "event": "event", "webinar": "event", "trade_show": "event",
         "besprechung": "meeting", "afspraak": "meeting", "anruf": "call", "telefoon": "call", "riunione": "meeting"}
REASONS = {
    "crm_unknown_kind": gettext_noop("unknown kind; use meeting, call, email, visit or event"),
    "crm_not_a_time": gettext_noop("not a time such as 14:30"),
    "crm_unknown_participant": gettext_noop("%(email)s is no stakeholder's e-mail address (of this account)"),
    "crm_no_account": gettext_noop("no account: give the account id, or participants who are stakeholders of one account"),
    "crm_several_accounts": gettext_noop("the participants are stakeholders of several accounts; give the account id"),
    "crm_not_a_participant": gettext_noop("%(user)s may not take part: not on this account's team"),
    "crm_bad_duration": gettext_noop("a duration is 1 to 1,440 minutes"),
}
inspection.REASONS.update(REASONS)
TIME = re.compile(r"^(\d{1,2})[:.h](\d{2})(?::\d{2})?\s*(am|pm)?$", re.I)


def _time(text: str) -> datetime.time | None:
    found = TIME.match(text.strip())
    if not found:
        return None
    hour, minute, half = int(found[1]), int(found[2]), (found[3] or "").lower()
    hour = hour % 12 + (12 if half == "pm" else 0) if half else hour
    return datetime.time(hour, minute) if hour < 24 and minute < 60 else None


def _addresses(text: str | None) -> list[str]:
    return [p for p in re.split(r"[;,\s]+", text or "") if p]


def import_interactions(path: str | Path, *, by: User, options: SmallImportOptions | None = None,
                        batch: ImportBatch | None = None, system: str | None = None, progress=None) -> CrmImportResult:
    """Read ``path`` (CSV or XLSX), check every row, log all new activities or none."""
    if not can_import(by):
        raise PermissionDenied("Only KAM leads and admins import activities.")
    options, path = options or SmallImportOptions(), Path(path)
    frame, mapping, errors = _read_small(path, INTERACTION_FIELDS, REQUIRED, options, ("date",), ("duration_minutes",))
    if frame.height > MAX_ROWS:
        raise ReadError(f"The file has {frame.height:,} rows; an activities import takes at most {MAX_ROWS:,}.")
    result = CrmImportResult(batch=None, rows_total=frame.height, dry_run=options.dry_run, system=(system or "file")[:40])
    return _interactions(frame, mapping, errors, result, by=by, path=path, batch=batch, dry_run=options.dry_run,
                         progress=progress)


def _interactions(frame, mapping, errors, result: CrmImportResult, *, by, path, batch, dry_run, progress) -> CrmImportResult:
    """The rows of a file or the records of a sync (``frame`` with ``_date`` and ``_duration_minutes`` read)."""
    column = {name: mapping.get(name, name) for name in INTERACTION_FIELDS}
    bad = {e.line for e in errors}
    external_ids = {str(v).strip() for v in frame["account_id"].drop_nulls().to_list()}
    accounts = {a.external_id: a for a in Account.objects.filter(external_id__in=external_ids)}
    emails = {a.casefold() for v in frame["participants"].drop_nulls().to_list() for a in _addresses(v)}
    people: dict[str, list[tuple[int, int]]] = {}  # e-mail -> [(account id, stakeholder id)]
    for pk, account_id, email in Stakeholder.objects.filter(archived_at__isnull=True).exclude(email="").values_list(
            "pk", "account_id", "email").iterator(chunk_size=10_000):
        if email.casefold() in emails:
            people.setdefault(email.casefold(), []).append((account_id, pk))
    users = _users()
    everyone = {u.pk for u in User.objects.filter(Q(role__in=[Role.KAM_LEAD, Role.ADMIN]) | Q(is_superuser=True), is_active=True)}
    teams: dict[int, set[int]] = {}
    for account_id, user_id in TeamMember.objects.values_list("account_id", "user_id"):
        teams.setdefault(account_id, set()).add(user_id)

    planned, keys = [], {}
    for row in frame.select(LINE, *INTERACTION_FIELDS, "_date", "_duration_minutes").iter_rows(named=True):
        line, before = row[LINE], len(errors)

        def refuse(name, code, value=None, **params):
            errors.append(_error(line, column[name], row.get(name) if value is None else value, code, **params))

        kind = KINDS.get(re.sub(r"[^a-z0-9]+", "_", (row["kind"] or "meeting").strip().lower()).strip("_"))
        if kind is None:
            refuse("kind", "crm_unknown_kind")
        time = None
        if (row["time"] or "").strip():
            time = _time(row["time"])
            if time is None:
                refuse("time", "crm_not_a_time")
        duration = 60
        if row["_duration_minutes"] is not None:
            duration = int(row["_duration_minutes"])
            if not 1 <= duration <= 1440 or duration != row["_duration_minutes"]:
                refuse("duration_minutes", "crm_bad_duration")
        external_id = (row["account_id"] or "").strip()
        account = accounts.get(external_id)
        if external_id and account is None:
            refuse("account_id", "unknown_account_create_first")
            continue
        addresses = _addresses(row["participants"])
        if account is None:
            found = {a for e in addresses for a, _ in people.get(e.casefold(), [])}
            if len(found) > 1:
                refuse("participants", "crm_several_accounts")
                continue
            account = Account.objects.filter(pk=found.pop()).first() if found else None
            if account is None:
                refuse("account_id" if "account_id" in mapping else "participants", "crm_no_account", value="")
                continue
        stakeholders = []
        for email in addresses:
            match = [pk for a, pk in people.get(email.casefold(), []) if a == account.pk]
            if not match:
                refuse("participants", "crm_unknown_participant", email=email)
            else:
                stakeholders.append(match[0])
        ours = []
        for name in _addresses(row["our_people"]):
            user = users.get(name.casefold())
            if user is None:
                refuse("our_people", "crm_unknown_user", value=name)
            elif user.pk not in everyone and user.pk not in teams.get(account.pk, set()):
                refuse("our_people", "crm_not_a_participant", value=name, user=user.username)
            else:
                ours.append(user.pk)
        if len(errors) > before or line in bad:
            continue
        summary = (row["summary"] or "").strip()
        key = (account.pk, row["_date"], kind)
        if any(similar_text(summary, other) for other in keys.get(key, [])):
            result.unchanged += 1  # the same activity twice in the file
            continue
        keys.setdefault(key, []).append(summary)
        planned.append(dict(account=account, kind=kind, date=row["_date"], time=time, duration=duration, summary=summary,
                            location=(row["location"] or "").strip()[:200], next_step=(row["next_step"] or "").strip(),
                            stakeholders=sorted(set(stakeholders)), users=sorted(set(ours))))

    result.rows_rejected = len({e.line for e in errors} | bad)
    if errors:
        return _stop_small_import(result, errors, batch, dry_run=dry_run)
    # Already in the log: the same account, date and kind, and a summary in nearly the same words.
    logged: dict[tuple, list[str]] = {}
    dates = {p["date"] for p in planned}
    for account_id, date, kind, summary in Interaction.objects.filter(
            account_id__in={p["account"].pk for p in planned}, date__in=dates).values_list("account_id", "date", "kind", "summary"):
        logged.setdefault((account_id, date, kind), []).append(summary)
    new = [p for p in planned if not any(similar_text(p["summary"], s) for s in logged.get((p["account"].pk, p["date"], p["kind"]), []))]
    result.unchanged += len(planned) - len(new)
    result.created = len(new)
    if dry_run:
        return result
    with transaction.atomic():
        batch = _small_batch("interactions", path, by, mapping, batch)
        created = []
        for p in new:
            interaction = Interaction(account=p["account"], kind=p["kind"], date=p["date"], time=p["time"],
                                      duration_minutes=p["duration"], location=p["location"], summary=p["summary"],
                                      next_step=p["next_step"], created_by=by)
            interaction._history_user = by
            interaction.save()
            interaction.stakeholders.set(p["stakeholders"])
            interaction.users.set(p["users"])
            created.append(interaction.pk)
        result.undo = {"created_interactions": created}
        _finish_crm(batch, result)
    return result


def undo_interactions_batch(batch: ImportBatch) -> None:
    """A rolled-back activities import: the interactions it logged leave the log (with their history)."""
    by = batch.rolled_back_by
    for interaction in Interaction.objects.filter(pk__in=((batch.report or {}).get("undo") or {}).get("created_interactions", [])):
        interaction._history_user = by
        interaction.delete()


class _Interactions:
    @property
    def spec(self):
        from keyplan.crm.columns import LABELS
        from keyplan.revenue.uploads import KindSpec

        return KindSpec(tuple(INTERACTION_FIELDS), REQUIRED, ("date",), ("duration_minutes",), INTERACTION_FIELDS,
                        {name: LABELS[name] for name in INTERACTION_FIELDS if name in LABELS} | INTERACTION_LABELS)

    def run(self, path, *, by, options, batch):
        return import_interactions(path, by=by, options=options, batch=batch)


def _labels():
    from django.utils.translation import gettext_lazy as _

    return {"date": _("Date"), "time": _("Time"), "kind": _("Kind"), "summary": _("Summary"),
            "participants": _("Participants (stakeholders' e-mail addresses)"),
            "our_people": _("Our people (e-mail or username)"), "next_step": _("Next step"),
            "duration_minutes": _("Duration (minutes)"), "location": _("Location")}


INTERACTION_LABELS = _labels()
INTERACTIONS = _Interactions()
