"""keyplan import stakeholders: a CRM's contacts on the accounts' maps, upserted by contact id or e-mail."""

import json

import pytest

from keyplan.accounts import services as accounts
from keyplan.accounts.models import TeamRole
from keyplan.cli import main
from keyplan.crm.importing import import_stakeholders
from keyplan.crm.models import StakeholderSource
from keyplan.relationships import services as relationships
from keyplan.relationships.models import Stakeholder
from keyplan.revenue.services import rollback_batch

HEADER = "Account ID,Contact ID,First Name,Last Name,Title,Department,Email,Phone,Reports To,Buying Role,Decision Power,Sentiment,Key Contact,Owner\n"
ROWS = ("T-0001,003A,Ada,Boss,CEO,Board,ada@acme.example,+31 30 1234,,decision maker,high,supporter,yes,kam\n"
        "T-0001,003C,Cy,Worker,Buyer,Purchasing,cy@acme.example,,bo@acme.example,gatekeeper,low,critic,no,\n"
        "T-0001,003B,Bo,Middle,CFO,Finance,bo@acme.example,,003A,economic buyer,high,neutral,,\n")


def write(tmp_path, rows: str, name: str = "contacts.csv", header: str = HEADER):
    path = tmp_path / name
    path.write_text(header + rows, encoding="utf-8")
    return path


@pytest.fixture
def owner(kam_account, kam):
    kam.email = "kam@example.com"
    kam.save()
    return kam


def test_contacts_become_stakeholders_with_reporting_lines_resolved_in_the_file(kam_account, owner, lead, tmp_path):
    result = import_stakeholders(write(tmp_path, ROWS), by=lead, system="HubSpot")
    assert result.error_count == 0, result.errors
    assert (result.created, result.updated, result.unchanged) == (3, 0, 0)
    ada, bo, cy = (Stakeholder.objects.get(email=f"{n}@acme.example") for n in ("ada", "bo", "cy"))
    assert (ada.name, ada.title, ada.buying_role, ada.decision_power, ada.sentiment, ada.is_key_contact, ada.owner) == (
        "Ada Boss", "CEO", "decision_maker", "high", "supporter", True, owner)
    assert bo.reports_to == ada and cy.reports_to == bo and ada.reports_to is None
    assert (cy.buying_role, cy.sentiment, cy.is_key_contact) == ("gatekeeper", "critic", False)
    assert bo.history.count() == 1 and bo.history.first().history_user == lead
    assert StakeholderSource.objects.get(stakeholder=bo).source_id == "003B"
    # The map draws the lines the import made.
    assert {(p.name, p.reports_to) for p in relationships.people(kam_account)} >= {("Bo Middle", ada.pk)}


def test_each_created_contact_has_its_history_row_and_its_source(kam_account, owner, lead, tmp_path):
    path = write(tmp_path, ROWS)
    result = import_stakeholders(path, by=lead, system="HubSpot")
    copied = [f.attname for f in Stakeholder.history.model._meta.concrete_fields if not f.name.startswith("history_")]
    for person in Stakeholder.objects.all():
        record = person.history.get()  # as simple_history would have written it: every field as stored
        assert {n: getattr(record, n) for n in copied} == {n: getattr(person, n) for n in copied}
        assert (record.history_type, record.history_user, record.history_change_reason) == (
            "+", lead, f"Created by import batch {result.batch.pk}")
        assert (person.source.system, person.source.batch) == ("HubSpot", result.batch)
    # Importing again notes the sync time on every source; the batch that created them stays on them.
    before = dict(StakeholderSource.objects.values_list("stakeholder_id", "last_synced_at"))
    assert import_stakeholders(path, by=lead, system="HubSpot").unchanged == 3
    for source in StakeholderSource.objects.all():
        assert source.last_synced_at > before[source.stakeholder_id] and source.batch == result.batch
    assert Stakeholder.history.count() == 3


def test_reimport_changes_nothing_and_updates_match_by_contact_id_or_email(kam_account, owner, lead, tmp_path):
    path = write(tmp_path, ROWS)
    import_stakeholders(path, by=lead)
    again = import_stakeholders(path, by=lead)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3) and Stakeholder.history.count() == 3
    # By contact id: a new address; by e-mail (no id column): a new title.
    changed = import_stakeholders(write(tmp_path, "T-0001,003A,,,,,ada.boss@acme.example,,,,,,,\n", "b.csv"), by=lead)
    assert (changed.created, changed.updated) == (0, 1)
    ada = Stakeholder.objects.get(name="Ada Boss")
    assert ada.email == "ada.boss@acme.example" and ada.title == "CEO" and ada.version == 2
    by_email = import_stakeholders(write(tmp_path, "T-0001,cy@ACME.example,Head buyer\n", "c.csv",
                                         header="Account ID,Email,Title\n"), by=lead)
    assert (by_email.created, by_email.updated) == (0, 1)
    assert Stakeholder.objects.get(name="Cy Worker").title == "Head buyer"


def test_a_cycle_across_the_whole_file_and_other_bad_rows_write_nothing(kam_account, owner, lead, make_user, tmp_path):
    make_user("stranger", email="stranger@example.com")
    rows = ("T-0001,1,Ann,A,,,ann@x.example,,2,,,,,\n"
            "T-0001,2,Ben,B,,,ben@x.example,,3,,,,,\n"
            "T-0001,3,Cat,C,,,cat@x.example,,ann@x.example,,,,,\n"
            "NOPE,4,Dan,D,,,dan@x.example,,,,,,,\n"
            "T-0001,5,Eve,E,,,not-an-address,,nobody@x.example,wizard,huge,happy,maybe,stranger\n"
            "T-0001,6,,,,,,,,,,,,\n")
    result = import_stakeholders(write(tmp_path, rows), by=lead)
    codes = {(e.line, e.column, e.code) for e in result.errors}
    assert (5, "Account ID", "crm_unknown_account") in codes
    assert {c for line, _, c in codes if line == 6} == {"crm_not_an_email", "crm_unknown_choice", "crm_not_on_team"}
    assert (7, "First Name", "crm_no_name") in codes
    assert not Stakeholder.objects.exists()
    cycle = import_stakeholders(write(tmp_path, rows.splitlines(keepends=True)[0] + rows.splitlines(keepends=True)[1]
                                      + rows.splitlines(keepends=True)[2], "cycle.csv"), by=lead)
    assert {e.code for e in cycle.errors} == {"crm_manager_cycle"}
    assert "Ann A → Ben B → Cat C → Ann A" in cycle.errors[0].reason
    assert not Stakeholder.objects.exists()


def test_a_cycle_with_the_stored_map_and_an_address_of_two_contacts_are_refused(kam_account, owner, lead, tmp_path):
    import_stakeholders(write(tmp_path, ROWS), by=lead)  # cy -> bo -> ada
    cycle = import_stakeholders(write(tmp_path, "T-0001,003A,,,,,,,cy@acme.example,,,,,\n", "b.csv"), by=lead)
    assert [e.code for e in cycle.errors] == ["crm_manager_cycle"]
    relationships.create_stakeholder(kam_account, by=lead, data={"name": "Ada Twin", "email": "ada@acme.example"})
    twice = import_stakeholders(write(tmp_path, "T-0001,ada@acme.example,Chair\n", "c.csv", header="Account ID,Email,Title\n"),
                                by=lead)
    assert [e.code for e in twice.errors] == ["crm_email_twice"]
    assert Stakeholder.objects.get(name="Ada Boss").title == "CEO"


def test_rollback_restores_changed_contacts_and_archives_created_ones(kam_account, owner, lead, tmp_path):
    first = import_stakeholders(write(tmp_path, ROWS), by=lead)
    second = import_stakeholders(write(tmp_path, "T-0001,003C,,,Head buyer,,,,003A,,,,,\nT-0001,003D,Dee,New,,,,,,,,,,\n", "b.csv"),
                                 by=lead)
    assert (second.created, second.updated) == (1, 1)
    rollback_batch(second.batch, by=lead)
    cy = Stakeholder.objects.get(name="Cy Worker")
    assert cy.title == "Buyer" and cy.reports_to.name == "Bo Middle" and cy.history.first().history_user == lead
    assert Stakeholder.objects.get(name="Dee New").archived_at is not None
    rollback_batch(first.batch, by=lead)
    assert not Stakeholder.objects.active().exists()


def test_the_command_line_imports_contacts(kam_account, owner, lead, tmp_path, capsys):
    path = write(tmp_path, ROWS)
    assert main(["import", "stakeholders", str(path), "--as", "lead", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["created"], out["error_count"]) == (3, 0)
    assert main(["import", "stakeholders", str(path), "--as", "lead", "--dry-run"]) == 0
    assert "0 stakeholders would be created, 0 updated, 3 unchanged. Dry run" in capsys.readouterr().out


def test_the_owner_must_be_on_the_team(kam_account, lead, make_user, tmp_path):
    other = make_user("other", email="other@example.com")
    result = import_stakeholders(write(tmp_path, "T-0001,1,Ann,A,,,,,,,,,,other@example.com\n"), by=lead)
    assert [e.code for e in result.errors] == ["crm_not_on_team"]
    accounts.add_team_member(kam_account, by=lead, user=other, role=TeamRole.SALES)
    assert import_stakeholders(write(tmp_path, "T-0001,1,Ann,A,,,,,,,,,,other@example.com\n"), by=lead).created == 1
