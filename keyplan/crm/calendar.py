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
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction

from keyplan.core.models import User
from keyplan.core.versions import bump
from keyplan.crm.documents import DocumentKind, DocumentResult, close_batch, open_batch, people, refused
from keyplan.crm.models import CalendarEvent
from keyplan.relationships.models import Interaction, InteractionKind
from keyplan.revenue.importing.inspection import can_import
from keyplan.revenue.models import ImportBatch
from keyplan.revenue.reading import ReadError

MAX_BYTES = 50 * 1024 * 1024
MAX_EVENTS = 100_000


@dataclass
class CalendarResult(DocumentResult):
    events: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped_no_customer: int = 0
    skipped_cancelled: int = 0
    unit = "event"

    def counts(self) -> dict:
        return {"events": self.events, "created": self.created, "updated": self.updated, "unchanged": self.unchanged,
                "skipped_no_customer": self.skipped_no_customer, "skipped_cancelled": self.skipped_cancelled}


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


def import_calendar(path: str | Path, *, by: User, dry_run: bool = False, batch: ImportBatch | None = None) -> CalendarResult:
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
    who = people(addresses)
    known = {e.uid: e for e in CalendarEvent.objects.select_related("interaction")}
    default_zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)

    planned = []
    for number, event in enumerate(events, start=1):
        uid = _text(event, "UID")
        summary = _text(event, "SUMMARY") or "(no subject)"
        start = event.get("DTSTART")
        if not uid or start is None:
            result.errors.append(refused(number, "UID" if not uid else "DTSTART", summary,
                                         "crm_event_no_uid" if not uid else "crm_event_no_start"))
            continue
        if _text(event, "STATUS").upper() == "CANCELLED":
            result.skipped_cancelled += 1
            continue
        attendees = event.get("ATTENDEE", [])
        attendees = attendees if isinstance(attendees, list) else [attendees]
        emails = {_address(a) for a in attendees} | {_address(event.get("ORGANIZER"))}
        found = who.found(emails)
        if not found:
            result.skipped_no_customer += 1
            continue
        account = who.account(found)
        stakeholders = sorted({p.pk for p in found if p.account_id == account.pk})
        ours = who.ours(account, emails)
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
        if not dry_run:
            close_batch(batch, result, total=result.events, imported=0, duplicate=0)
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
        batch = open_batch("calendar", path, by, batch, {})
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
            bump(interaction)
            interaction._history_user = by
            interaction.save()
            stored.sequence, stored.batch = plan["sequence"], batch
            stored.save(update_fields=["sequence", "batch"])
            replaced.append([interaction.pk, before])
        close_batch(batch, result, total=result.events, imported=result.created + result.updated, duplicate=result.unchanged,
                    undo={"created_interactions": created, "replaced_events": replaced})
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
        bump(interaction)
        interaction._history_user = by
        interaction.save()
        CalendarEvent.objects.filter(interaction=interaction).update(sequence=before["sequence"])


CALENDAR = DocumentKind(import_calendar, (".ics",))
