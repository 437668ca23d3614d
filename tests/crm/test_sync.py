"""POST /api/v1/sync/{kind}: a CRM's records kept in step, all or none, idempotent, with counts and errors."""

import json

import pytest

from keyplan.accounts.models import Account, TeamRole
from keyplan.relationships.models import Stakeholder
from keyplan.revenue.models import ImportBatch

ACCOUNTS = [
    {"external_id": "S-1", "name": "Sync Group", "country": "DE", "employees": 1200, "kam": "kam", "tier": "key",
     "tier_reason": "Top customer"},
    {"external_id": "S-2", "name": "Sync Sub", "parent": "S-1", "lifecycle": "customer", "website": "sync.example"},
]


def post(client, kind: str, body: dict):
    return client.post(f"/api/v1/sync/{kind}", json.dumps(body), content_type="application/json")


def test_a_sync_creates_then_changes_nothing_then_keeps_a_changed_account_in_step(lead, kam, api_client):
    client = api_client(lead)
    first = post(client, "accounts", {"system": "Salesforce", "records": ACCOUNTS})
    assert first.status_code == 200, first.content
    body = first.json()
    assert (body["status"], body["created"], body["updated"], body["unchanged"], body["error_count"]) == ("done", 2, 0, 0, 0)
    group = Account.objects.get(external_id="S-1")
    assert group.tier == "key" and group.team_members.get(role=TeamRole.KAM).user == kam and group.employees == 1200
    assert Account.objects.get(external_id="S-2").parent == group
    synced = group.source.last_synced_at
    # The same batch again: nothing changes, no import batch is left, only the last sync moves on.
    batches, history = ImportBatch.objects.count(), Account.history.count()
    again = post(client, "accounts", {"system": "Salesforce", "records": ACCOUNTS}).json()
    assert (again["created"], again["updated"], again["unchanged"], again["batch"]) == (0, 0, 2, None)
    assert (ImportBatch.objects.count(), Account.history.count()) == (batches, history)
    group.refresh_from_db()
    assert group.source.last_synced_at >= synced and group.version == 1
    # A changed account is kept in step, field by field with history, in a batch that can be rolled back.
    changed = post(client, "accounts", {"system": "Salesforce", "records": [{"external_id": "S-1", "name": "Sync Group", "city": "Köln"}]})
    assert changed.json()["updated"] == 1
    group.refresh_from_db()
    assert group.city == "Köln" and group.history.first().history_user == lead
    batch = changed.json()["batch"]
    assert client.post(f"/api/v1/imports/{batch}/rollback").json()["status"] == "rolled_back"
    group.refresh_from_db()
    assert group.city == ""


def test_bad_records_are_each_named_and_nothing_is_written(lead, api_client):
    client = api_client(lead)
    response = post(client, "accounts", {"records": [
        {"external_id": "B-1", "name": "Fine"},
        {"external_id": "B-2", "name": "Cycle", "parent": "B-3"},
        {"external_id": "B-3", "name": "Cycle too", "parent": "B-2"},
        {"external_id": "B-4", "colour": "red", "employees": "many", "kam": "nobody"},
        ["not", "a", "record"],
        {"external_id": "B-5", "name": {"nested": True}},
    ]})
    assert response.status_code == 422
    errors = {(e["record"], e["field"], e["code"]) for e in response.json()["errors"]}
    assert {(4, "colour", "crm_unknown_field"), (4, "name", "value_missing"), (4, "employees", "not_a_number"),
            (4, "kam", "crm_unknown_user"), (5, "record", "crm_not_a_record"), (6, "name", "crm_not_a_value")} <= errors
    assert not Account.objects.exists() and not ImportBatch.objects.exists()
    cycle = post(client, "accounts", {"records": [{"external_id": "B-2", "name": "C", "parent": "B-3"},
                                                  {"external_id": "B-3", "name": "D", "parent": "B-2"}]}).json()
    assert {e["code"] for e in cycle["errors"]} == {"crm_parent_cycle"}


def test_contacts_sync_with_reporting_lines_and_a_dry_run(lead, kam_account, api_client):
    client = api_client(lead)
    records = [{"account_id": "T-0001", "contact_id": "c1", "name": "Ada Boss", "email": "ada@x.example", "key_contact": True},
               {"account_id": "T-0001", "contact_id": "c2", "name": "Bo Middle", "reports_to": "c1"}]
    dry = post(client, "stakeholders", {"system": "HubSpot", "records": records, "dry_run": True}).json()
    assert (dry["status"], dry["created"]) == ("dry_run", 2) and not Stakeholder.objects.exists()
    done = post(client, "stakeholders", {"system": "HubSpot", "records": records}).json()
    assert done["created"] == 2
    assert Stakeholder.objects.get(name="Bo Middle").reports_to.name == "Ada Boss"
    assert Stakeholder.objects.get(name="Ada Boss").is_key_contact
    assert post(client, "stakeholders", {"system": "HubSpot", "records": records}).json()["unchanged"] == 2


def test_limits_and_rights(lead, kam, api_client):
    too_many = post(api_client(lead), "accounts", {"records": [{"external_id": str(i), "name": "x"} for i in range(10_001)]})
    assert too_many.status_code == 422 and "records" in too_many.content.decode()
    assert post(api_client(kam), "accounts", {"records": []}).status_code == 403


@pytest.mark.parametrize("count", [10_000])
def test_a_full_batch_of_ten_thousand_records_goes_through(lead, api_client, count):
    records = [{"external_id": f"N-{i:05d}", "name": f"Account {i}", "country": "NL", "city": "Utrecht"} for i in range(count)]
    response = post(api_client(lead), "accounts", {"system": "ERP", "records": records})
    assert response.status_code == 200, response.content[:500]
    assert response.json()["created"] == count and Account.objects.count() == count


def test_activities_sync_logs_once_and_recognises_what_is_in_the_log(lead, kam, kam_account, api_client):
    from keyplan.relationships import services as relationships
    from keyplan.relationships.models import Interaction

    kam.email = "karl@example.com"
    kam.save()
    relationships.create_stakeholder(kam_account, by=lead, data={"name": "Ada Boss", "email": "ada@acme.example"})
    client = api_client(lead)
    records = [{"date": "2026-11-30", "time": "14:30", "kind": "Phone call", "summary": "Renewal terms",
                "participants": ["ada@acme.example"], "our_people": "karl@example.com", "duration_minutes": 30},
               {"account_id": "T-0001", "date": "2026-12-01", "summary": "Site visit in Utrecht", "kind": "visit"}]
    done = post(client, "interactions", {"system": "Salesforce", "records": records})
    assert done.status_code == 200, done.content
    assert (done.json()["created"], done.json()["unchanged"]) == (2, 0)
    call = Interaction.objects.get(kind="call")
    assert call.account == kam_account and call.duration_minutes == 30 and list(call.users.all()) == [kam]
    assert call.stakeholders.get().name == "Ada Boss"
    # The same batch again, and one whose summary is in nearly the same words: recognised, nothing logged.
    again = post(client, "interactions", {"records": records}).json()
    assert (again["created"], again["unchanged"], again["batch"]) == (0, 2, None)
    reworded = post(client, "interactions", {"records": [{**records[1], "summary": "Site visit in Utrecht."}]}).json()
    assert reworded["unchanged"] == 1 and Interaction.objects.count() == 2
    assert client.post(f"/api/v1/imports/{done.json()['batch']}/rollback").json()["status"] == "rolled_back"
    assert not Interaction.objects.exists()


def test_bad_activities_are_each_named_and_nothing_is_logged(lead, kam_account, api_client):
    from keyplan.relationships.models import Interaction

    response = post(api_client(lead), "interactions", {"records": [
        {"account_id": "T-0001", "date": "2026-12-01", "summary": "Fine"},
        {"account_id": "T-0001", "date": "01.12.2026", "summary": "European date"},
        {"account_id": "T-0001", "date": "2026-12-01", "summary": "Odd", "kind": "telepathy", "duration_minutes": "long"},
        {"account_id": "NOPE", "date": "2026-12-01", "summary": "Unknown account"},
        {"date": "2026-12-01", "summary": "Nobody", "participants": ["stranger@x.example"]},
        {"account_id": "T-0001", "summary": "No date"},
    ]})
    assert response.status_code == 422
    errors = {(e["record"], e["field"], e["code"]) for e in response.json()["errors"]}
    assert {(2, "date", "not_a_date"), (3, "kind", "crm_unknown_kind"), (3, "duration_minutes", "not_a_number"),
            (4, "account_id", "unknown_account_create_first"), (5, "account_id", "crm_no_account"),
            (6, "date", "value_missing")} <= errors, errors
    assert not Interaction.objects.exists() and not ImportBatch.objects.exists()
