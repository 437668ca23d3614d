"""Meetings from calendar exports (.ics from Outlook, Google, Apple) as interactions, read with ``icalendar``.

Each event's attendees (and organiser) are matched by e-mail address to stakeholders and to users. An event
with none of the customer's people in Keyplan is skipped and counted; one with people of several accounts is
logged on the account with the most of them. The event's UID is kept: the same calendar imported again
changes nothing, and an event sent again with a higher SEQUENCE (moved, retitled) updates its interaction.
A cancelled event is skipped. The date and time are the account's (its time zone, else the server's);
future events are planned meetings, past ones held. All events or none: a file that is not a calendar, or an
event without a start, writes nothing.
"""

from __future__ import annotations

import datetime
import zoneinfo
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q

from keyplan.accounts.models import TeamMember
from keyplan.core.models import Role, User
from keyplan.crm.models import CalendarEvent
from keyplan.relationships.models import Interaction, InteractionKind, Stakeholder
from keyplan.revenue.importing.batch import _file_sha256
from keyplan.revenue.importing.inspection import can_import
from keyplan.revenue.models import BatchStatus, ImportBatch
from keyplan.revenue.reading import ReadError

MAX_BYTES = 50 * 1024 * 1024
MAX_EVENTS = 100_000


@dataclass
class CalendarResult:
    events: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped_no_customer: int = 0
    skipped_cancelled: int = 0
    errors: list[dict] = field(default_factory=list)
    dry_run: bool = False
    batch: ImportBatch | None = None

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict:
        return {"status": "rejected" if self.errors else "dry_run" if self.dry_run else "done",
                "batch": self.batch.pk if self.batch else None, "events": self.events, "created": self.created,
                "updated": self.updated, "unchanged": self.unchanged, "skipped_no_customer": self.skipped_no_customer,
                "skipped_cancelled": self.skipped_cancelled, "error_count": len(self.errors), "errors": self.errors[:1000]}


def _address(value) -> str:
    text = str(value or "").strip()
    return text[7:].strip().casefold() if text.lower().startswith("mailto:") else text.casefold()


def _text(component, name: str) -> str:
    value = component.get(name)
    return " ".join(str(value).split()) if value is not None else ""


def read_events(path: Path) -> list:
    """The VEVENTs of a calendar file. Raises ReadError for a file that is not an iCalendar file."""
    import icalendar

    if path.stat().st_size > MAX_BYTES:
        raise ReadError(f"{path.name} is {path.stat().st_size / 1048576:.0f} MB; a calendar import takes at most "
                        f"{MAX_BYTES // 1048576} MB.")
    data = path.read_bytes()
    if not data.lstrip().upper().startswith(b"BEGIN:VCALENDAR"):
        raise ReadError(f"{path.name} is not an iCalendar file: it does not begin with BEGIN:VCALENDAR.")
    try:
        calendars = icalendar.Calendar.from_ical(data, multiple=True)
    except (ValueError, KeyError, IndexError) as error:
        raise ReadError(f"{path.name} is not a readable iCalendar file: {error}") from None
    events = [c for calendar in calendars for c in calendar.walk("VEVENT")]
    if len(events) > MAX_EVENTS:
        raise ReadError(f"{path.name} has {len(events):,} events; a calendar import takes at most {MAX_EVENTS:,}.")
    return events


def import_calendar(path: str | Path, *, by: User, dry_run: bool = False) -> CalendarResult:
    if not can_import(by):
        raise PermissionDenied("Only KAM leads and admins import calendars.")
    path = Path(path)
    events = read_events(path)
    result = CalendarResult(events=len(events), dry_run=dry_run)
    addresses = set()
    for event in events:
        for attendee in event.get("ATTENDEE", []) if isinstance(event.get("ATTENDEE"), list) else [event.get("ATTENDEE")]:
            addresses.add(_address(attendee))
        addresses.add(_address(event.get("ORGANIZER")))
    addresses.discard("")
    people: dict[str, list[Stakeholder]] = {}
    for person in Stakeholder.objects.filter(archived_at__isnull=True).exclude(email="").select_related("account"):
        if person.email.casefold() in addresses and person.account.archived_at is None:
            people.setdefault(person.email.casefold(), []).append(person)
    users = {u.email.casefold(): u for u in User.objects.filter(is_active=True).exclude(email="").order_by("-pk")}
    everyone = set(User.objects.filter(Q(role__in=[Role.KAM_LEAD, Role.ADMIN]) | Q(is_superuser=True)).values_list("pk", flat=True))
    teams: dict[int, set[int]] = {}
    for account_id, user_id in TeamMember.objects.values_list("account_id", "user_id"):
        teams.setdefault(account_id, set()).add(user_id)
    known = {e.uid: e for e in CalendarEvent.objects.select_related("interaction")}
    default_zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)

    planned = []
    for number, event in enumerate(events, start=1):
        uid = _text(event, "UID")
        summary = _text(event, "SUMMARY") or "(no subject)"
        start = event.get("DTSTART")
        if not uid or start is None:
            result.errors.append({"event": number, "uid": uid or None, "summary": summary[:100],
                                  "reason": "the event has no UID" if not uid else "the event has no start (DTSTART)"})
            continue
        if _text(event, "STATUS").upper() == "CANCELLED":
            result.skipped_cancelled += 1
            continue
        attendees = event.get("ATTENDEE", [])
        attendees = attendees if isinstance(attendees, list) else [attendees]
        emails = {_address(a) for a in attendees} | {_address(event.get("ORGANIZER"))}
        found = [p for e in emails for p in people.get(e, [])]
        if not found:
            result.skipped_no_customer += 1
            continue
        counts = Counter(p.account_id for p in found)
        account = min((p.account for p in found if counts[p.account_id] == max(counts.values())), key=lambda a: a.name)
        stakeholders = sorted({p.pk for p in found if p.account_id == account.pk})
        allowed = everyone | teams.get(account.pk, set())
        ours = sorted({users[e].pk for e in emails if e in users and users[e].pk in allowed})
        when = start.dt
        end = event.get("DTEND").dt if event.get("DTEND") is not None else None
        zone = zoneinfo.ZoneInfo(account.time_zone) if account.time_zone else default_zone
        if isinstance(when, datetime.datetime):
            local = (when if when.tzinfo else when.replace(tzinfo=default_zone)).astimezone(zone)
            date, time = local.date(), local.time().replace(second=0, microsecond=0)
            minutes = int((end - when).total_seconds() // 60) if isinstance(end, datetime.datetime) else 60
        else:
            date, time, minutes = when, None, 60 * 24 if end is None else min(1440, (end - when).days * 1440)
        sequence = int(event.get("SEQUENCE", 0) or 0)
        planned.append(dict(uid=uid[:255], sequence=sequence, account=account, date=date, time=time,
                            minutes=max(1, min(1440, minutes or 60)), summary=summary,
                            location=_text(event, "LOCATION")[:200], stakeholders=stakeholders, users=ours))
    if result.errors:
        return result
    seen: dict[str, dict] = {}
    for plan in planned:  # an event listed twice (a calendar and its copy): the latest sequence counts
        if plan["uid"] not in seen or plan["sequence"] >= seen[plan["uid"]]["sequence"]:
            seen[plan["uid"]] = plan
    new, changed = [], []
    for plan in seen.values():
        stored = known.get(plan["uid"])
        if stored is None:
            new.append(plan)
        elif plan["sequence"] > stored.sequence:
            changed.append((plan, stored))
        else:
            result.unchanged += 1
    result.unchanged += len(planned) - len(seen)
    result.created, result.updated = len(new), len(changed)
    if dry_run:
        return result
    with transaction.atomic():
        batch = ImportBatch.objects.create(kind="calendar", file_name=path.name[:255], file_sha256=_file_sha256(path),
                                           created_by=by, status=BatchStatus.IMPORTING)
        created, replaced = [], []
        for plan in new:
            interaction = Interaction(account=plan["account"], kind=InteractionKind.MEETING, date=plan["date"], time=plan["time"],
                                      duration_minutes=plan["minutes"], location=plan["location"], summary=plan["summary"],
                                      created_by=by)
            interaction._history_user = by
            interaction.save()
            interaction.stakeholders.set(plan["stakeholders"])
            interaction.users.set(plan["users"])
            CalendarEvent.objects.create(uid=plan["uid"], sequence=plan["sequence"], interaction=interaction, batch=batch)
            created.append(interaction.pk)
        for plan, stored in changed:
            interaction = stored.interaction
            before = {"date": interaction.date.isoformat(), "time": interaction.time.isoformat() if interaction.time else None,
                      "duration_minutes": interaction.duration_minutes, "summary": interaction.summary,
                      "location": interaction.location, "sequence": stored.sequence}
            interaction.date, interaction.time, interaction.duration_minutes = plan["date"], plan["time"], plan["minutes"]
            interaction.summary, interaction.location = plan["summary"], plan["location"]
            interaction._history_user = by
            interaction.save()
            stored.sequence, stored.batch = plan["sequence"], batch
            stored.save(update_fields=["sequence", "batch"])
            replaced.append([interaction.pk, before])
        batch.status, batch.finished_at, batch.progress = BatchStatus.DONE, datetime.datetime.now(datetime.UTC), 100
        batch.rows_total, batch.rows_imported, batch.rows_duplicate = result.events, result.created + result.updated, result.unchanged
        batch.report = {**result.as_dict(), "undo": {"created_interactions": created, "replaced_events": replaced}}
        batch.save()
        result.batch = batch
    return result


def undo_calendar_batch(batch: ImportBatch) -> None:
    """A rolled-back calendar import: the meetings it logged leave the log; those it moved go back."""
    undo = (batch.report or {}).get("undo") or {}
    by = batch.rolled_back_by
    for interaction in Interaction.objects.filter(pk__in=undo.get("created_interactions", [])):
        interaction._history_user = by
        interaction.delete()
    for pk, before in undo.get("replaced_events", []):
        interaction = Interaction.objects.filter(pk=pk).first()
        if interaction is None:
            continue
        interaction.date = datetime.date.fromisoformat(before["date"])
        interaction.time = datetime.time.fromisoformat(before["time"]) if before["time"] else None
        interaction.duration_minutes, interaction.summary, interaction.location = (
            before["duration_minutes"], before["summary"], before["location"])
        interaction._history_user = by
        interaction.save()
        CalendarEvent.objects.filter(interaction=interaction).update(sequence=before["sequence"])
