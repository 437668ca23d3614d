"""keyplan import interactions: a CRM's activities in the interaction log, all rows or none, duplicates recognised."""

import datetime
import json

import pytest

from keyplan.cli import main
from keyplan.crm.interactions import import_interactions
from keyplan.relationships import services as relationships
from keyplan.relationships.models import Interaction
from keyplan.revenue.services import rollback_batch

HEADER = "Date;Time;Type;Subject;Attendees;Assigned To;Next step;Account ID\n"


@pytest.fixture
def people(kam_account, lead, kam):
    kam.email = "karl@example.com"
    kam.save()
    ada = relationships.create_stakeholder(kam_account, by=lead, data={"name": "Ada Boss", "email": "ada@acme.example"})
    bo = relationships.create_stakeholder(kam_account, by=lead, data={"name": "Bo Middle", "email": "bo@acme.example"})
    return ada, bo


def write(tmp_path, rows, name="activities.csv"):
    path = tmp_path / name
    path.write_text(HEADER + rows, encoding="utf-8")
    return path


def day(n: int) -> str:
    return (datetime.date.today() - datetime.timedelta(days=n)).strftime("%d.%m.%Y")


def test_activities_are_logged_and_feed_contact_strength_and_again_add_nothing(kam_account, people, lead, kam, tmp_path):
    ada, bo = people
    path = write(tmp_path, f"{day(3)};14:30;Meeting;Quarterly review;ada@acme.example, BO@acme.example;karl@example.com;Send the offer;\n"
                           f"{day(10)};;Call;Pricing call;ada@acme.example;kam;;T-0001\n"
                           f"{day(10)};;Call;Pricing call.;ada@acme.example;kam;;T-0001\n")
    result = import_interactions(path, by=lead)
    assert result.error_count == 0, result.errors
    assert (result.created, result.unchanged) == (2, 1)  # the third row is the second one again
    review = Interaction.objects.get(summary="Quarterly review")
    assert review.account == kam_account and review.time == datetime.time(14, 30) and review.next_step == "Send the offer"
    assert set(review.stakeholders.all()) == {ada, bo} and list(review.users.all()) == [kam]
    assert {p.name: p.contact for p in relationships.people(kam_account)}["Ada Boss"] != "none"
    again = import_interactions(path, by=lead)
    assert (again.created, again.unchanged) == (0, 3) and Interaction.objects.count() == 2
    rollback_batch(result.batch, by=lead)
    assert not Interaction.objects.exists()


def test_bad_rows_write_nothing(kam_account, people, lead, make_account, tmp_path):
    other = make_account("Other")
    relationships.create_stakeholder(other, by=lead, data={"name": "Zed", "email": "zed@other.example"})
    path = write(tmp_path, f"{day(1)};25:99;Lunch;Talk;ada@acme.example;;;\n"
                           f"{day(1)};;Meeting;Talk;nobody@acme.example;ghost;;T-0001\n"
                           f"{day(1)};;Meeting;Talk;ada@acme.example zed@other.example;;;\n"
                           f"{day(1)};;Meeting;Talk;;;;\n"
                           f"{day(1)};;Meeting;;ada@acme.example;;;\n")
    result = import_interactions(path, by=lead)
    codes = {(e.line, e.code) for e in result.errors}
    assert {(2, "crm_not_a_time"), (2, "crm_unknown_kind"), (3, "crm_unknown_participant"), (3, "crm_unknown_user"),
            (4, "crm_several_accounts"), (5, "crm_no_account"), (6, "value_missing")} <= codes
    assert not Interaction.objects.exists()


def test_the_command_line_imports_activities(kam_account, people, lead, tmp_path, capsys):
    path = write(tmp_path, f"{day(2)};;Email;Sent the proposal;bo@acme.example;;;\n")
    assert main(["import", "interactions", str(path), "--as", "lead", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["created"] == 1
    assert main(["import", "interactions", str(path), "--as", "lead"]) == 0
    assert "0 interactions logged, 1 already in the log" in capsys.readouterr().out
