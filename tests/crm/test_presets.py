"""The presets: a small export of each CRM (written from its public description of its exports) is recognised
from its header and imported with the columns mapped; the same files again change nothing."""

import json
from pathlib import Path

import pytest

from keyplan.accounts.models import Account, TeamRole
from keyplan.cli import main
from keyplan.crm import presets
from keyplan.crm.importing import SmallImportOptions, import_accounts, import_stakeholders
from keyplan.relationships.models import Stakeholder

DATA = Path(__file__).parent / "data"
FILES = {
    "Salesforce": ("salesforce_accounts.csv", "salesforce_contacts.csv", True),
    "HubSpot": ("hubspot_companies.csv", "hubspot_contacts.csv", False),
    "Dynamics 365": ("dynamics_accounts.csv", "dynamics_contacts.csv", True),
    "Odoo": ("odoo_companies.csv", "odoo_contacts.csv", False),
    "Pipedrive": ("pipedrive_organizations.csv", "pipedrive_people.csv", False),
}


@pytest.mark.parametrize("crm", list(FILES))
def test_each_crms_export_is_recognised_and_imported(crm, lead, kam):
    accounts_file, contacts_file, reporting_lines = FILES[crm]
    result = import_accounts(DATA / accounts_file, by=lead)
    assert result.error_count == 0, result.errors
    assert (result.preset, result.system, result.created) == (crm, crm, 3)
    holding = Account.objects.get(name="Nordwind Holding")
    logistik = Account.objects.get(name="Nordwind Logistik")
    polder = Account.objects.get(name="Polder Foods")
    assert logistik.parent == (None if crm == "Pipedrive" else holding) and holding.parent is None  # Pipedrive exports no parent
    assert (holding.country.code, holding.city, holding.industry) == ("DE", "Hamburg", "manufacturing")
    assert (logistik.industry, polder.industry, polder.country.code) == ("logistics", "food", "NL")
    assert holding.team_members.get(role=TeamRole.KAM).user == kam  # the owner by full name
    assert polder.team_members.get(role=TeamRole.KAM).user == lead
    if crm not in ("Odoo", "Pipedrive"):  # neither exports a lifecycle
        assert (holding.lifecycle, polder.lifecycle) == ("active", "prospect")
    assert holding.source.system == crm

    contacts = import_stakeholders(DATA / contacts_file, by=lead)
    assert contacts.error_count == 0, contacts.errors
    assert (contacts.preset, contacts.created) == (crm, 3)
    greta = Stakeholder.objects.get(email="greta.vogel@nordwind.example")
    assert greta.account == holding and greta.name == "Greta Vogel" and greta.title == "CEO" and greta.owner == kam
    if reporting_lines:
        assert Stakeholder.objects.get(name="Mia Keller").reports_to.name == "Jonas Brandt"
        assert Stakeholder.objects.get(name="Jonas Brandt").reports_to == greta

    again = (import_accounts(DATA / accounts_file, by=lead), import_stakeholders(DATA / contacts_file, by=lead))
    assert [(r.created, r.updated, r.unchanged) for r in again] == [(0, 0, 3), (0, 0, 3)]


def test_a_keyplan_file_is_no_crms_and_a_preset_can_be_chosen(lead, kam, tmp_path):
    plain = tmp_path / "plain.csv"
    plain.write_text("external_id,name,country\nA-1,Alpha,NL\n")
    assert presets.detect(["external_id", "name", "country"], "accounts") is None
    assert import_accounts(plain, by=lead).system == "file"
    assert presets.find("dynamics") == "Dynamics 365" and presets.find("hubspot") == "HubSpot"
    chosen = import_accounts(DATA / "odoo_companies.csv", by=lead, options=SmallImportOptions(preset="odoo"), system="Odoo EU")
    assert (chosen.preset, chosen.system, chosen.created) == ("Odoo", "Odoo EU", 3)
    from keyplan.crm.importing import ReadError

    with pytest.raises(ReadError, match="Unknown preset 'zoho'"):
        import_accounts(plain, by=lead, options=SmallImportOptions(preset="zoho"))


def test_the_command_line_takes_a_preset(lead, kam, capsys):
    assert main(["import", "accounts", str(DATA / "hubspot_companies.csv"), "--as", "lead"]) == 0
    assert "Read as a HubSpot export." in capsys.readouterr().out
    assert main(["import", "stakeholders", str(DATA / "hubspot_contacts.csv"), "--as", "lead", "--preset", "HubSpot", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["preset"] == "HubSpot"
