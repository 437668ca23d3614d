"""keyplan import calendar FILE.ics: meetings with the customer's people logged once, by UID and sequence."""

import datetime
import json
from pathlib import Path

import pytest

from keyplan.cli import main
from keyplan.crm.calendar import import_calendar
from keyplan.crm.importing import ReadError
from keyplan.relationships import services as relationships
from keyplan.relationships.models import Interaction
from keyplan.revenue.services import rollback_batch

OUTLOOK = Path(__file__).parent / "data" / "outlook.ics"


@pytest.fixture
def people(kam_account, lead, kam):
    kam.email = "karl@example.com"
    kam.save()
    ada = relationships.create_stakeholder(kam_account, by=lead, data={"name": "Ada Boss", "email": "ada@acme.example"})
    bo = relationships.create_stakeholder(kam_account, by=lead, data={"name": "Bo Middle", "email": "bo@acme.example"})
    return ada, bo


def test_meetings_with_the_customers_people_are_logged_once(kam_account, people, lead, kam, tmp_path):
    ada, bo = people
    result = import_calendar(OUTLOOK, by=lead)
    assert result.ok, result.errors
    assert (result.events, result.created, result.skipped_no_customer, result.skipped_cancelled) == (4, 2, 1, 1)
    review = Interaction.objects.get(summary="Quarterly business review")
    assert review.account == kam_account and review.kind == "meeting" and review.date == datetime.date(2026, 12, 1)
    assert review.time == datetime.time(14, 30) and review.duration_minutes == 60 and review.location == "Utrecht office"
    assert set(review.stakeholders.all()) == {ada, bo} and list(review.users.all()) == [kam]
    renewal = Interaction.objects.get(summary="Contract renewal kick-off")
    assert renewal.time == datetime.time(10, 0) and renewal.duration_minutes == 30  # 09:00 UTC in Amsterdam
    again = import_calendar(OUTLOOK, by=lead)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2) and Interaction.objects.count() == 2
    # The organiser moves the renewal: a higher sequence updates the meeting; a rollback moves it back.
    moved = tmp_path / "moved.ics"
    moved.write_text(OUTLOOK.read_text().replace("SEQUENCE:1", "SEQUENCE:2").replace("20270115T090000Z", "20270120T090000Z"))
    update = import_calendar(moved, by=lead)
    assert (update.created, update.updated, update.unchanged) == (0, 1, 1)
    renewal.refresh_from_db()
    assert renewal.date == datetime.date(2027, 1, 20)
    rollback_batch(update.batch, by=lead)
    renewal.refresh_from_db()
    assert renewal.date == datetime.date(2027, 1, 15)
    rollback_batch(result.batch, by=lead)
    assert not Interaction.objects.exists()


def test_a_malformed_calendar_or_an_event_without_a_start_writes_nothing(people, lead, tmp_path):
    bad = tmp_path / "bad.ics"
    bad.write_text("hello")
    with pytest.raises(ReadError, match="not an iCalendar file"):
        import_calendar(bad, by=lead)
    broken = tmp_path / "broken.ics"
    broken.write_text(OUTLOOK.read_text().replace("DTSTART:20270115T090000Z\n", ""))
    result = import_calendar(broken, by=lead)
    assert [e.reason for e in result.errors] == ["the event has no start (DTSTART)"] and not Interaction.objects.exists()


def test_the_command_line_imports_a_calendar(people, lead, capsys):
    assert main(["import", "calendar", str(OUTLOOK), "--as", "lead", "--dry-run"]) == 0
    assert "2 meetings would be logged" in capsys.readouterr().out and not Interaction.objects.exists()
    assert main(["import", "calendar", str(OUTLOOK), "--as", "lead", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["created"] == 2


def test_the_command_line_names_the_event_it_refuses(people, lead, tmp_path, capsys):
    broken = tmp_path / "broken.ics"
    broken.write_text(OUTLOOK.read_text().replace("DTSTART:20270115T090000Z\n", ""))
    assert main(["import", "calendar", str(broken), "--as", "lead"]) == 1
    err = capsys.readouterr().err
    assert "(Contract renewal kick-off): the event has no start (DTSTART)" in err
    assert "Nothing was written: 1 event of 4 cannot be read." in err and not Interaction.objects.exists()
    assert main(["import", "calendar", str(broken), "--as", "lead", "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "rejected" and out["errors"][0]["column"] == "DTSTART" and out["errors"][0]["code"] == "crm_event_no_start"
