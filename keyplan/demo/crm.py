"""Demo step: what a team's first day with its CRM leaves behind, so that those features are there to see.

The KAM lead has saved the column mapping of the team's own CRM export (chosen by name on the import
preview), and has imported a calendar export: a few meetings with the people of two key accounts, held and
planned, logged as interactions through the calendar import (its batch is on the imports page).
"""

from __future__ import annotations

import datetime
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from keyplan.crm.calendar import import_calendar
from keyplan.relationships.models import Stakeholder
from keyplan.revenue.mappings import save_mapping

if TYPE_CHECKING:
    from keyplan.demo.generator import Demo

MAPPING_NAME = "Our CRM export"
# The columns of a German CRM's account export, as the lead mapped them once.
MAPPING = {"Kundennr.": "external_id", "Kunde": "name", "Konzern": "parent", "Branche": "industry", "Land": "country",
           "Ort": "city", "Betreuer": "kam", "Notiz": ""}
MEETINGS = (  # days from today, hour (UTC), minutes, summary, location
    (-24, 9, 90, "Quarterly business review", "Customer site"),
    (-10, 14, 45, "Roadmap call with IT", "Teams"),
    (-3, 10, 60, "Pricing workshop", "Customer site"),
    (4, 13, 60, "Contract renewal kick-off", "Teams"),
    (11, 9, 120, "Plant visit and steering committee", "Customer site"),
)


def make_crm(demo: Demo) -> None:
    lead = demo.users["lead"]
    save_mapping(by=lead, kind="accounts", name=MAPPING_NAME, mapping=MAPPING)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "outlook-calendar.ics"
        path.write_text(calendar(demo), encoding="utf-8")
        import_calendar(path, by=lead)


def calendar(demo: Demo) -> str:
    """An Outlook-style export: each meeting with two or three people of one key account and its KAM."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Keyplan demo//Outlook export//EN", "METHOD:PUBLISH"]
    accounts = [a for a in demo.key_accounts if Stakeholder.objects.filter(account=a).exclude(email="").exists()][:2]
    for number, (days, hour, minutes, summary, location) in enumerate(MEETINGS):
        if not accounts:
            break
        account = accounts[number % len(accounts)]
        people = list(Stakeholder.objects.filter(account=account, external_organisation="").exclude(email="")
                      .order_by("pk").values_list("email", flat=True)[number % 3:number % 3 + 2 + number % 2])
        kam = account.team_members.filter(role="kam").select_related("user").first()
        start = datetime.datetime.combine(demo.today + datetime.timedelta(days=days), datetime.time(hour))
        end = start + datetime.timedelta(minutes=minutes)
        lines += ["BEGIN:VEVENT", f"UID:demo-{account.external_id}-{number}@demo.keyplan.invalid", "SEQUENCE:0",
                  f"DTSTART:{start:%Y%m%dT%H%M%S}Z", f"DTEND:{end:%Y%m%dT%H%M%S}Z", f"SUMMARY:{summary}",
                  f"LOCATION:{location}"]
        if kam is not None:
            lines.append(f"ORGANIZER;CN={kam.user.get_full_name()}:mailto:{kam.user.email}")
        lines += [f"ATTENDEE;ROLE=REQ-PARTICIPANT:mailto:{email}" for email in people]
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    return "\r\n".join(lines) + "\r\n"
