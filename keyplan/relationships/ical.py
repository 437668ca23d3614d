"""Planned meetings as an iCalendar file (RFC 5545), written by hand: it is a small, strict text format.

Pure: events in, calendar text out. Participants go into the description rather
than as ATTENDEE lines, so that importing the file never sends invitations.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass

PRODID = "-//Keyplan//Relationships//EN"


@dataclass(frozen=True)
class Event:
    uid: str
    start: datetime.datetime | datetime.date  # an aware datetime, or a date for an all-day event
    end: datetime.datetime | datetime.date
    summary: str
    description: str = ""
    location: str = ""
    categories: str = ""


def escape_text(value: str) -> str:
    """TEXT values: backslash, semicolon, comma and line breaks escaped (RFC 5545 §3.3.11)."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def fold(line: str) -> str:
    """Lines longer than 75 octets continue on the next line after a space, never splitting a character."""
    out, current = [], b""
    for ch in line:
        encoded = ch.encode("utf-8")
        limit = 75 if not out else 74  # continuation lines start with one space
        if len(current) + len(encoded) > limit:
            out.append(current.decode("utf-8"))
            current = b""
        current += encoded
    out.append(current.decode("utf-8"))
    return "\r\n ".join(out)


def _stamp(value: datetime.datetime | datetime.date) -> str:
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return value.strftime("%Y%m%d")


def _when(name: str, value: datetime.datetime | datetime.date) -> str:
    if isinstance(value, datetime.datetime):
        return f"{name}:{_stamp(value)}"
    return f"{name};VALUE=DATE:{_stamp(value)}"


def calendar(events: Sequence[Event], *, name: str, now: datetime.datetime) -> str:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODID}", "CALSCALE:GREGORIAN", "METHOD:PUBLISH",
             f"X-WR-CALNAME:{escape_text(name)}"]
    for event in events:
        lines += [
            "BEGIN:VEVENT",
            f"UID:{event.uid}",
            f"DTSTAMP:{_stamp(now)}",
            _when("DTSTART", event.start),
            _when("DTEND", event.end),
            f"SUMMARY:{escape_text(event.summary)}",
        ]
        if event.description:
            lines.append(f"DESCRIPTION:{escape_text(event.description)}")
        if event.location:
            lines.append(f"LOCATION:{escape_text(event.location)}")
        if event.categories:
            lines.append(f"CATEGORIES:{escape_text(event.categories)}")
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)
