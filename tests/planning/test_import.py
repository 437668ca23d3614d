"""keyplan import opportunities: a CRM export checked whole, written all or nothing, upserted by id or account + name."""

import io
import json

import openpyxl
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from keyplan.cli import main
from keyplan.planning import services
from keyplan.planning.importing import SmallImportOptions, import_opportunities
from keyplan.planning.models import Opportunity
from tests.conftest import client_for

HEADER = "Account ID;Opportunity;Product line;Division;Type;Stage;Amount;Probability;Close date;Owner;Reason\n"


def write(tmp_path, rows: str, name: str = "opportunities.csv"):
    path = tmp_path / name
    path.write_text(HEADER + rows, encoding="utf-8")
    return path


def test_a_good_file_creates_then_updates_and_recognises_unchanged_rows(key_account, lead, kam, tmp_path):
    kam.email = "Karl@Example.com"
    kam.save()
    path = write(tmp_path, "T-0001;Sensors for the new plant;Sensors;Logistics;cross-selling;propose;120000;0,4;2027-03-31;kam;\n"
                           "T-0001;Service contract;Service;Operations;upsell;won;30000;;2026-11-30;karl@example.com;Best offer\n")
    result = import_opportunities(path, by=lead)
    assert result.ok and (result.created, result.updated, result.unchanged) == (2, 0, 0)
    sensors = Opportunity.objects.get(name="Sensors for the new plant")
    assert sensors.kind == "cross_sell" and sensors.stage == "propose" and float(sensors.probability) == 0.4
    assert sensors.owner == kam and sensors.division == "Logistics" and sensors.expected_value == 48_000
    won = Opportunity.objects.get(name="Service contract")
    assert won.probability == 1 and won.closed_on is not None
    # The same file again changes nothing; a changed amount updates (by account and name, case aside).
    again = import_opportunities(path, by=lead)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    path = write(tmp_path, "T-0001;SENSORS for the new plant;Sensors;Logistics;cross_sell;negotiate;150000;0.6;2027-03-31;kam;\n")
    changed = import_opportunities(path, by=lead)
    assert (changed.created, changed.updated) == (0, 1)
    sensors.refresh_from_db()
    assert sensors.amount == 150_000 and sensors.stage == "negotiate" and sensors.version == 2
    assert sensors.history.first().history_user == lead  # every change is in the history


def test_one_bad_row_and_nothing_is_written_each_named_by_line_column_and_reason(key_account, lead, tmp_path):
    path = write(tmp_path, "T-0001;Good one;;;;;1000;0.5;;;\n"
                           "NOPE;Unknown account;;;;;1000;0.5;;;\n"
                           "T-0001;Bad probability;;;;;1000;1.5;;;\n"
                           "T-0001;Negative;;;;;-5;0.5;;;\n"
                           "T-0001;Lost without reason;;;;lost;1000;;;;\n"
                           "T-0001;Odd stage;;;;won-ish;1000;;;;\n"
                           "T-0001;;;;;;1000;;;;\n"
                           "T-0001;Good one;;;;;2000;0.5;;;\n"
                           "T-0001;Bad date;;;;;1000;0.5;31/31/2027;;\n")
    result = import_opportunities(path, by=lead)
    assert not result.ok and not Opportunity.objects.exists()
    found = {(e.line, e.column): e.reason for e in result.errors}
    assert "unknown account" in found[(3, "Account ID")]
    assert "probability between 0 and 1" in found[(4, "Probability")]
    assert "0 or more" in found[(5, "Amount")]
    assert "why the opportunity was lost" in found[(6, "Reason")]
    assert "unknown stage" in found[(7, "Stage")]
    assert "missing" in found[(8, "Opportunity")]
    assert "the same opportunity as line 2" in found[(9, "Opportunity")]
    assert "not a date" in found[(10, "Close date")]


def test_dry_run_writes_nothing_and_ids_update_their_opportunity(key_account, lead, kam, tmp_path):
    held = services.add_opportunity(key_account, by=kam, data={"name": "Old name", "amount": 10})
    path = tmp_path / "with-id.csv"
    path.write_text(f"id,account_id,name,amount\n{held.pk},T-0001,New name,20\n,T-0001,Another,5\n")
    dry = import_opportunities(path, by=lead, options=SmallImportOptions(dry_run=True))
    assert dry.ok and (dry.created, dry.updated) == (1, 1) and Opportunity.objects.count() == 1
    assert import_opportunities(path, by=lead).ok
    held.refresh_from_db()
    assert held.name == "New name" and held.amount == 20 and Opportunity.objects.count() == 2
    path.write_text("id,account_id,name\n999999,T-0001,Ghost\nabc,T-0001,Letters\n")
    result = import_opportunities(path, by=lead)
    assert [e.code for e in result.errors] == ["unknown_id", "not_an_id"]


def test_a_kam_imports_for_their_accounts_only(key_account, make_account, kam, lead, tmp_path):
    make_account("Not theirs", external_id="X-1")
    path = tmp_path / "mixed.csv"
    path.write_text("account_id,name\nT-0001,Theirs\nX-1,Not theirs\n")
    result = import_opportunities(path, by=kam)
    assert [(e.line, e.code) for e in result.errors] == [(3, "unknown_account")]  # not even admitted to exist
    assert not Opportunity.objects.exists()


def test_xlsx_and_the_cli(key_account, lead, tmp_path, capsys):
    book = openpyxl.Workbook()
    book.active.append(["account_id", "name", "amount", "probability", "stage"])
    book.active.append(["T-0001", "From Excel", 5000, 0.25, "develop"])
    path = tmp_path / "crm.xlsx"
    book.save(path)
    assert main(["import", "opportunities", str(path), "--dry-run", "--as", "lead"]) == 0
    assert "1 row read: 1 opportunity would be created" in capsys.readouterr().out and not Opportunity.objects.exists()
    assert main(["import", "opportunities", str(path), "--json", "--as", "lead"]) == 0
    assert json.loads(capsys.readouterr().out)["created"] == 1
    bad = tmp_path / "bad.csv"
    bad.write_text("account_id,name,probability\nT-0001,Too likely,7\n")
    assert main(["import", "opportunities", str(bad), "--as", "lead"]) == 1
    err = capsys.readouterr().err
    assert "line 2, probability ('7')" in err and "Nothing was written" in err
    missing = tmp_path / "no-name.csv"
    missing.write_text("account_id,amount\nT-0001,5\n")
    assert main(["import", "opportunities", str(missing), "--as", "lead"]) == 2
    assert "No column for name" in capsys.readouterr().err


def test_the_upload_page_and_the_api(key_account, kam, viewer, api_client):
    page = reverse("planning:opportunities_import")
    assert client_for(viewer).get(page).status_code == 403
    good = SimpleUploadedFile("crm.csv", b"account_id,name,amount\nT-0001,From the page,100\n", content_type="text/csv")
    response = client_for(kam).post(page, {"file": good})
    assert response.status_code == 200 and "1 created" in response.content.decode()
    bad = SimpleUploadedFile("crm.csv", b"account_id,name,amount\nT-0001,Negative,-1\n", content_type="text/csv")
    response = client_for(kam).post(page, {"file": bad})
    body = response.content.decode()
    assert response.status_code == 400 and 'id="import-errors"' in body and "0 or more" in body
    empty = SimpleUploadedFile("empty.csv", b"", content_type="text/csv")
    assert client_for(kam).post(page, {"file": empty}).status_code == 400

    upload = SimpleUploadedFile("crm.csv", b"account_id,name,amount\nT-0001,From the API,100\n", content_type="text/csv")
    answer = api_client(kam).post("/api/v1/opportunities/import", {"file": upload, "dry_run": "true"})
    assert answer.status_code == 200 and answer.json()["status"] == "dry_run" and answer.json()["created"] == 1
    upload = SimpleUploadedFile("crm.csv", b"account_id,name,amount\nT-0001,From the API,-100\n", content_type="text/csv")
    refused = api_client(kam).post("/api/v1/opportunities/import", {"file": upload})
    assert refused.status_code == 422 and refused.json()["errors"][0]["line"] == 2
    assert not Opportunity.objects.filter(name="From the API").exists()
    assert api_client(viewer).post("/api/v1/opportunities/import", {"file": io.BytesIO(b"x")}).status_code in (403, 422)
