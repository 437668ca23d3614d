"""keyplan import accounts: a CRM's accounts upserted by external id, all rows or none, undone as a batch."""

import json

import pytest

from keyplan.accounts.models import Account, TeamMember, TeamRole, TierChange
from keyplan.cli import main
from keyplan.core.models import Role
from keyplan.crm.importing import SmallImportOptions, import_accounts
from keyplan.crm.models import AccountSource
from keyplan.revenue.models import ImportBatch
from keyplan.revenue.services import rollback_batch

HEADER = "external_id;name;parent;industry;employees;country;city;time_zone;website;lifecycle;reporting_currency;tier;tier_reason;kam;executive_sponsor\n"


def write(tmp_path, rows: str, name: str = "accounts.csv", header: str = HEADER):
    path = tmp_path / name
    path.write_text(header + rows, encoding="utf-8")
    return path


@pytest.fixture
def people(make_user):
    return {"kam": make_user("karl", Role.TEAM_MEMBER, email="Karl.Kam@example.com"),
            "boss": make_user("bea", Role.KAM_LEAD, email="bea@example.com")}


FIRST = ("C-3;Acme Sub;C-1;Banking;1.200;Germany;Berlin;Europe/Berlin;acme.de;Customer;EUR;key;Top 20 customer;karl;bea@example.com\n"
         "C-1;Acme Group;;Technology;12000;NL;Utrecht;Europe/Amsterdam;https://acme.example;prospect;EUR;;;KARL.KAM@example.com;\n"
         "C-2;Acme Labs;C-3;;;DEU;;;;;;;;;\n")


def test_a_first_import_creates_accounts_with_parents_in_any_order_kam_sponsor_tier_and_source(lead, people, tmp_path):
    result = import_accounts(write(tmp_path, FIRST), by=lead, system="Salesforce")
    assert result.error_count == 0, result.errors
    assert (result.created, result.updated, result.unchanged) == (3, 0, 0)
    sub, group, labs = (Account.objects.get(external_id=e) for e in ("C-3", "C-1", "C-2"))
    assert sub.parent == group and labs.parent == sub and group.parent is None
    assert (sub.industry, sub.employees, sub.country.code, sub.website, sub.lifecycle, sub.tier) == (
        "financial", 1200, "DE", "https://acme.de", "active", "key")
    assert (group.industry, group.employees, group.lifecycle, labs.country.code) == ("technology", 12000, "prospect", "DE")
    assert TeamMember.objects.get(account=sub, role=TeamRole.KAM).user == people["kam"]
    assert TeamMember.objects.get(account=sub, role=TeamRole.EXECUTIVE_SPONSOR).user == people["boss"]
    assert TeamMember.objects.get(account=group, role=TeamRole.KAM).user == people["kam"]  # by e-mail, case aside
    assert TierChange.objects.get(account=sub).reason == "Top 20 customer"
    assert sub.history.count() == 1 and sub.history.first().history_user == lead  # written once, parent and all
    source = AccountSource.objects.get(account=sub)
    assert source.system == "Salesforce" and source.batch == result.batch and source.last_synced_at is not None


def test_the_same_file_again_changes_nothing_and_a_changed_row_updates_field_by_field_with_history(lead, people, tmp_path):
    path = write(tmp_path, FIRST)
    import_accounts(path, by=lead)
    versions = dict(Account.objects.values_list("external_id", "version"))
    again = import_accounts(path, by=lead)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert dict(Account.objects.values_list("external_id", "version")) == versions
    assert Account.history.count() == 3 and TeamMember.objects.count() == 3
    # City changes, the parent moves, an empty cell keeps what is stored, the KAM changes.
    changed = import_accounts(write(tmp_path, "C-2;Acme Labs;C-1;;;;Munich;;;;;;;bea;\n", "b.csv"), by=lead)
    assert (changed.created, changed.updated, changed.unchanged) == (0, 1, 0)
    labs = Account.objects.get(external_id="C-2")
    assert labs.city == "Munich" and labs.parent.external_id == "C-1" and labs.country.code == "DE"
    assert labs.version == versions["C-2"] + 1
    assert labs.history.first().history_user == lead and labs.history.count() == 2
    assert TeamMember.objects.get(account=labs, role=TeamRole.KAM).user == people["boss"]


def test_a_changed_tier_needs_a_reason_and_goes_through_the_tier_rules(lead, people, tmp_path):
    import_accounts(write(tmp_path, FIRST), by=lead)
    refused = import_accounts(write(tmp_path, "C-1;Acme Group;;;;;;;;;;key;;;\n", "t.csv"), by=lead)
    assert refused.error_count == 1 and refused.errors[0].code == "crm_tier_reason"
    assert "tier_reason" in refused.errors[0].reason and Account.objects.get(external_id="C-1").tier == "standard"
    done = import_accounts(write(tmp_path, "C-1;Acme Group;;;;;;;;;;key;Group-wide deal;;\n", "t2.csv"), by=lead)
    assert done.updated == 1
    change = TierChange.objects.filter(account__external_id="C-1").first()
    assert (change.from_tier, change.to_tier, change.reason, change.changed_by) == ("standard", "key", "Group-wide deal", lead)


def test_bad_rows_are_each_named_and_nothing_is_written(lead, people, tmp_path):
    path = write(tmp_path, "A-1;One;NOPE;;;;;;;;;;;;\n"
                           "A-2;Two;;Basket weaving;-3;Atlantis;;Mars/Base;not a url;someday;ZZZ;gold;;nobody;\n"
                           "A-3;;;;;;;;;;;;;;\n"
                           "A-1;One again;;;;;;;;;;;;;\n")
    result = import_accounts(path, by=lead)
    codes = {(e.line, e.column, e.code) for e in result.errors}
    assert (2, "parent", "crm_unknown_parent") in codes
    assert {c for line, _, c in codes if line == 3} >= {"crm_unknown_industry", "crm_not_a_count", "crm_unknown_country",
                                                        "crm_unknown_time_zone", "crm_not_a_url", "crm_unknown_lifecycle",
                                                        "unknown_currency", "crm_unknown_tier", "crm_unknown_user"}
    assert (4, "name", "value_missing") in codes and (5, "external_id", "crm_repeated") in codes
    assert not Account.objects.exists() and not ImportBatch.objects.filter(status="done").exists()


def test_a_cycle_in_parents_across_the_file_and_the_database_is_refused(lead, people, tmp_path):
    import_accounts(write(tmp_path, FIRST), by=lead)  # C-2 under C-3 under C-1
    result = import_accounts(write(tmp_path, "C-1;Acme Group;C-2;;;;;;;;;;;;\n", "c.csv"), by=lead)
    assert result.errors[0].code == "crm_parent_cycle" and "C-1 → C-2 → C-3 → C-1" in result.errors[0].reason
    assert Account.objects.get(external_id="C-1").parent is None
    own = import_accounts(write(tmp_path, "X-1;X;X-1;;;;;;;;;;;;\nY-1;Y;Y-2;;;;;;;;;;;;\nY-2;Y2;Y-1;;;;;;;;;;;;\n", "d.csv"), by=lead)
    assert {e.code for e in own.errors} == {"crm_own_parent"}  # the cycle is named once the own parent is fixed


def test_rollback_puts_changed_values_tier_and_kam_back_and_archives_created_accounts(lead, people, tmp_path):
    first = import_accounts(write(tmp_path, FIRST), by=lead)
    second = import_accounts(write(tmp_path, "C-1;Acme Group;;;;;Amsterdam;;;;;key;Deal;bea;\nC-9;New one;C-1;;;;;;;;;;;;\n", "b.csv"),
                             by=lead)
    assert (second.created, second.updated) == (1, 1)
    rollback_batch(second.batch, by=lead)
    group = Account.objects.get(external_id="C-1")
    assert group.city == "Utrecht" and group.tier == "standard" and group.archived_at is None
    assert TeamMember.objects.get(account=group, role=TeamRole.KAM).user == people["kam"]
    assert Account.objects.get(external_id="C-9").archived_at is not None
    assert TierChange.objects.filter(account=group).first().reason == f"Import batch {second.batch.pk} was rolled back"
    assert group.history.first().history_user == lead
    rollback_batch(first.batch, by=lead)
    assert Account.objects.active().count() == 0  # nothing deleted: archived, with their history


def test_only_leads_and_admins_import_accounts(kam, tmp_path):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        import_accounts(write(tmp_path, FIRST), by=kam)


def test_dry_run_counts_and_writes_nothing(lead, people, tmp_path):
    result = import_accounts(write(tmp_path, FIRST), by=lead, options=SmallImportOptions(dry_run=True))
    assert (result.created, result.error_count) == (3, 0) and not Account.objects.exists()


def test_the_command_line_imports_reports_and_rolls_back(lead, people, tmp_path, capsys):
    path = write(tmp_path, FIRST)
    assert main(["import", "accounts", str(path), "--as", "lead", "--source", "HubSpot", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["created"], out["updated"], out["unchanged"], out["source_system"]) == (3, 0, 0, "HubSpot")
    assert main(["import", "accounts", str(path), "--as", "lead"]) == 0
    assert "0 accounts created, 0 updated, 3 unchanged" in capsys.readouterr().out
    bad = write(tmp_path, "B-1;B;NOPE;;;;;;;;;;;;\n", "bad.csv")
    assert main(["import", "accounts", str(bad), "--as", "lead"]) == 1
    err = capsys.readouterr().err
    assert "line 2, parent ('NOPE'): no account has this external id" in err and "Nothing was written" in err
    assert main(["rollback", str(out["batch"]), "--as", "lead"]) == 0
    assert Account.objects.active().count() == 0


def test_the_api_imports_accounts_in_the_background_and_rolls_them_back(lead, people, tmp_path, api_client, run_worker):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = api_client(lead)
    upload = SimpleUploadedFile("accounts.csv", (HEADER + FIRST).encode(), content_type="text/csv")
    response = client.post("/api/v1/imports/", {"kind": "accounts", "file": upload})
    assert response.status_code == 202, response.content
    batch = response.json()
    run_worker()
    done = client.get(f"/api/v1/imports/{batch['id']}").json()
    assert done["status"] == "done" and done["rows_imported"] == 3, done
    assert (done["report"]["created"], done["report"]["unchanged"], done["report"]["source_system"]) == (3, 0, "file")
    assert Account.objects.count() == 3
    bad = SimpleUploadedFile("bad.csv", (HEADER + "B-1;B;NOPE;;;;;;;;;;;;\n").encode(), content_type="text/csv")
    refused = client.post("/api/v1/imports/", {"kind": "accounts", "file": bad}).json()
    run_worker()
    report = client.get(f"/api/v1/imports/{refused['id']}").json()
    assert report["status"] == "rejected" and report["report"]["errors"][0]["code"] == "crm_unknown_parent"
    assert client.post(f"/api/v1/imports/{batch['id']}/rollback").json()["status"] == "rolled_back"
    assert Account.objects.active().count() == 0
