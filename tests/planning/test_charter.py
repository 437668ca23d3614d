"""The program charter: versioned texts, readiness answered from data, selection read live, the rollout on a Gantt."""

import datetime
import decimal
import json

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from keyplan.accounts import services as accounts
from keyplan.accounts.models import TeamRole
from keyplan.cli import main
from keyplan.planning import analysis, charter, services
from keyplan.planning.models import ProgramCharter, RolloutStep
from keyplan.relationships import services as relationships
from keyplan.revenue.models import MonthlyRollup, YearlyRollup
from keyplan.scoring import services as scoring
from tests.conftest import client_for

# ---------------------------------------------------------------- services


def test_only_leads_and_admins_change_the_charter(lead, admin, kam, viewer):
    row = charter.update_charter(by=lead, version=1, changes={"objectives": ["Grow key accounts 15 % a year"]})
    assert row.version == 2 and charter.content(row)["objectives"] == ["Grow key accounts 15 % a year"]
    assert charter.update_charter(by=admin, version=2, changes={"purpose": "Serve our best customers"}).version == 3
    for user in (kam, viewer):
        with pytest.raises(PermissionDenied):
            charter.update_charter(by=user, version=3, changes={"purpose": "Mine"})
        with pytest.raises(PermissionDenied):
            charter.add_step(by=user, data={"phase": "Pilot", "title": "Pick accounts"})
    assert ProgramCharter.objects.get().content["purpose"] == "Serve our best customers"


def test_a_stale_version_is_a_conflict_and_nothing_is_written(lead, admin):
    charter.update_charter(by=lead, version=1, changes={"purpose": "First"})
    with pytest.raises(charter.Conflict) as caught:
        charter.update_charter(by=admin, version=1, changes={"purpose": "Second"})
    assert caught.value.current.version == 2 and caught.value.current.content["purpose"] == "First"
    assert ProgramCharter.objects.get().content["purpose"] == "First"


def test_bad_content_names_the_field(lead):
    with pytest.raises(ValidationError) as caught:
        charter.update_charter(by=lead, version=1, changes={"objectives": ["x" * 301]})
    assert "objectives" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        charter.update_charter(by=lead, version=1, changes={"colour": "red"})
    assert "content" in caught.value.message_dict
    assert charter.charter().version == 1


def test_restoring_an_earlier_version_brings_it_back_as_a_new_version(lead):
    charter.update_charter(by=lead, version=1, changes={"purpose": "Version two"})
    charter.update_charter(by=lead, version=2, changes={"purpose": "Version three"})
    versions = charter.versions(charter.charter())
    assert [v.version for v in versions] == [3, 2, 1]
    row = charter.restore_charter(by=lead, history_id=versions[1].history_id)
    assert row.version == 4 and row.content["purpose"] == "Version two"
    with pytest.raises(ValidationError):
        charter.restore_charter(by=lead, history_id=999_999)


def test_rollout_steps_check_their_dates_and_owner(lead, outsider):
    with pytest.raises(ValidationError) as caught:
        charter.add_step(by=lead, data={"phase": "Pilot", "title": "Backwards", "start": datetime.date(2027, 3, 1),
                                        "due": datetime.date(2027, 2, 1)})
    assert "due" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        charter.add_step(by=lead, data={"phase": "Pilot", "title": "Outsider's", "owner": outsider})
    assert "owner" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        charter.add_step(by=lead, data={"phase": " ", "title": "No phase"})
    assert "phase" in caught.value.message_dict
    step = charter.add_step(by=lead, data={"phase": "Pilot", "title": "Pick three accounts", "owner": lead})
    with pytest.raises(charter.Conflict):
        charter.update_step(step, by=lead, version=7, changes={"status": "done"})
    assert charter.update_step(step, by=lead, version=1, changes={"status": "done"}).version == 2
    assert RolloutStep.objects.count() == 1


# ---------------------------------------------------------------- readiness from data


def test_readiness_verdicts_from_figures():
    facts = analysis.ReadinessFacts(accounts_with_revenue=100, vital_few=18, vital_few_share=0.18, key_accounts=4,
                                    key_revenue_share=0.4, stakeholders=[6, 2, 8, 0], decision_makers=[2, 1, 3, 0],
                                    relationship_years=[4.0, 6.5, 0.5], whitespace_value=30_000, weighted_pipeline=10_000,
                                    key_revenue=100_000, growth_mapped=2, capacity=5, with_kam=4, with_sponsor=2)
    answers = {a.code: a for a in analysis.readiness(facts)}
    assert [a.verdict for a in answers.values()] == ["yes", "yes", "yes", "yes", "partly"]
    assert answers["growth_room"].figures["room_share"] == 0.4
    assert answers["buying_center"].figures["stakeholders_median"] == 6.0  # of the three mapped
    empty = analysis.readiness(analysis.ReadinessFacts())
    assert {a.verdict for a in empty} == {"unknown"}
    spread = analysis.readiness(analysis.ReadinessFacts(accounts_with_revenue=10, vital_few=6, vital_few_share=0.6))
    assert spread[0].verdict == "no"


def test_readiness_is_answered_from_the_ledger_the_maps_and_the_plans(key_account, make_account, lead, kam, today):
    others = [make_account(f"Small {n}", external_id=f"S-{n}") for n in range(8)]
    first = today.replace(day=1)
    rows = [MonthlyRollup(account=key_account, month=first, revenue=decimal.Decimal(90_000), cost=0, lines=1)]
    rows += [MonthlyRollup(account=a, month=first, revenue=decimal.Decimal(1_000), cost=0, lines=1) for a in others]
    MonthlyRollup.objects.bulk_create(rows)  # and the yearly rollups that add them up, as the import keeps them
    YearlyRollup.objects.bulk_create(YearlyRollup(account=r.account, year=first.year, revenue=r.revenue, cost=0, lines=1)
                                     for r in rows)
    for name, role in (("Dana CEO", "decision_maker"), ("Eli CFO", "economic_buyer"), ("Fay Buyer", "user")):
        relationships.create_stakeholder(key_account, by=kam, data={"name": name, "buying_role": role})
    services.set_cell(key_account, by=kam, division="Logistics", product_line="Analytics", state="whitespace",
                      estimated_value=50_000)
    accounts.add_team_member(key_account, by=lead, user=lead, role=TeamRole.EXECUTIVE_SPONSOR)
    answers = {a.code: a for a in charter.charter_view().readiness}
    assert answers["concentration"].verdict == "yes"
    assert answers["concentration"].figures["vital_few"] == 1
    assert answers["concentration"].figures["key_revenue_share"] == pytest.approx(90 / 98)
    assert answers["buying_center"].figures["decision_makers_median"] == 2 and answers["buying_center"].verdict == "yes"
    assert answers["relationship_age"].figures["known"] == 1  # from the first revenue month
    assert answers["growth_room"].figures["whitespace_value"] == 50_000 and answers["growth_room"].verdict == "yes"
    assert answers["investment"].verdict == "yes"
    assert "1 of 9 accounts with revenue" in charter.evidence(answers["concentration"])


def test_selection_is_read_live_from_the_selection_settings(lead):
    scoring.update_settings(by=lead, review_cadence="monthly")
    assert charter.charter_view().selection.cadence == "monthly"
    scoring.update_settings(by=lead, review_cadence="quarterly")
    assert charter.charter_dict(charter.charter_view())["selection"]["review_cadence"] == "quarterly"


# ---------------------------------------------------------------- pages


def test_everyone_signed_in_reads_the_charter_and_only_leads_see_edit(lead, kam, viewer):
    charter.update_charter(by=lead, version=1, changes={"objectives": ["Every key account has a living plan"]})
    charter.add_step(by=lead, data={"phase": "Pilot", "title": "Train the KAMs", "start": datetime.date(2027, 1, 4),
                                    "due": datetime.date(2027, 2, 26), "owner": lead})
    for user, editor in ((lead, True), (kam, False), (viewer, False)):
        response = client_for(user).get(reverse("planning:charter"))
        body = response.content.decode()
        assert response.status_code == 200 and "Every key account has a living plan" in body
        assert "Do a few customers bring most of the revenue?" in body and "<svg" in body and "Train the KAMs" in body
        assert ('id="edit-charter"' in body) is editor
    assert client_for(kam).get(reverse("planning:charter_edit")).status_code == 403
    assert client_for(kam).post(reverse("planning:charter_edit"), {"version": 2, "purpose": "x"}).status_code == 403
    assert 'id="charter-link"' in client_for(kam).get(reverse("planning:portfolio")).content.decode()


def test_a_conflicting_charter_save_shows_both_versions(lead, admin):
    url = reverse("planning:charter_edit")
    charter.update_charter(by=admin, version=1, changes={"purpose": "The admin's purpose"})
    charter.update_charter(by=admin, version=2, changes={"objectives": ["One", "Two"]})
    response = client_for(lead).post(url, {"version": 1, "purpose": "The lead's purpose", "objectives": "One\r\nTwo\r\n"})
    body = response.content.decode()
    assert response.status_code == 200 and 'id="conflict"' in body
    assert "Objectives</th>" not in body  # the same lines, only sent with \r\n: no difference shown
    assert "The admin&#x27;s purpose" in body and "The lead&#x27;s purpose" in body
    assert 'name="version" value="3"' in body
    assert charter.charter().content["purpose"] == "The admin's purpose"
    assert client_for(lead).post(url, {"version": 3, "purpose": "The lead's purpose"}).status_code == 302
    assert charter.charter().content["purpose"] == "The lead's purpose"


def test_history_page_restores_a_version(lead, kam):
    charter.update_charter(by=lead, version=1, changes={"purpose": "Old"})
    charter.update_charter(by=lead, version=2, changes={"purpose": "New"})
    old = charter.versions(charter.charter())[1]
    body = client_for(lead).get(reverse("planning:charter_history")).content.decode()
    assert "Restore" in body and "Old" in body
    assert client_for(kam).post(reverse("planning:charter_restore", args=[old.history_id])).status_code == 403
    assert client_for(lead).post(reverse("planning:charter_restore", args=[old.history_id])).status_code == 302
    assert charter.charter().content["purpose"] == "Old"


def test_rollout_step_form_and_timeline_download(lead):
    client = client_for(lead)
    response = client.post(reverse("planning:rollout_create"), {"phase": "Roll-out", "title": "All KAMs write plans",
                                                                 "status": "not_started", "start": "2027-03-01",
                                                                 "due": "2027-02-01"})
    assert response.status_code == 400 and "before it starts" in response.content.decode()
    response = client.post(reverse("planning:rollout_create"), {"phase": "Roll-out", "title": "All KAMs write plans",
                                                                 "status": "not_started", "start": "2027-03-01",
                                                                 "due": "2027-04-30", "milestone": "on"})
    assert response.status_code == 302
    svg = client.get(reverse("planning:charter_timeline"))
    assert svg["Content-Type"].startswith("image/svg+xml") and "All KAMs write plans" in svg.content.decode()


# ---------------------------------------------------------------- API and CLI


def test_api_get_patch_conflict_and_permissions(api_client, lead, kam):
    as_lead, as_kam = api_client(lead), api_client(kam)
    got = as_kam.get("/api/v1/charter").json()
    assert got["version"] == 1 and [a["code"] for a in got["readiness"]] == list(analysis.READINESS)
    assert as_kam.patch("/api/v1/charter", {"version": 1, "content": {"purpose": "x"}}, content_type="application/json").status_code == 403
    ok = as_lead.patch("/api/v1/charter", {"version": 1, "content": {"objectives": ["One", "Two"]}}, content_type="application/json")
    assert ok.status_code == 200 and ok.json()["version"] == 2 and ok.json()["content"]["objectives"] == ["One", "Two"]
    stale = as_lead.patch("/api/v1/charter", {"version": 1, "content": {"objectives": ["Three"]}}, content_type="application/json")
    assert stale.status_code == 409 and stale.json()["version"] == 2
    assert stale.json()["current"]["content"]["objectives"] == ["One", "Two"]
    bad = as_lead.patch("/api/v1/charter", {"version": 2, "content": {"objectives": "x" * 301}}, content_type="application/json")
    assert bad.status_code == 422 and "objectives" in json.dumps(bad.json())
    versions = as_kam.get("/api/v1/charter/versions").json()["items"]
    restored = as_lead.post("/api/v1/charter/restore", {"history_id": versions[-1]["history_id"]}, content_type="application/json")
    assert restored.status_code == 200 and restored.json()["content"]["objectives"] == []


def test_api_rollout_steps(api_client, lead, kam):
    as_lead = api_client(lead)
    made = as_lead.post("/api/v1/charter/rollout/", {"phase": "Pilot", "title": "Pick pilot accounts",
                                                     "owner_id": lead.pk, "due": "2027-01-31"}, content_type="application/json")
    assert made.status_code == 201 and made.json()["owner"]["id"] == lead.pk
    step = made.json()["id"]
    assert api_client(kam).get("/api/v1/charter/rollout/").json()["count"] == 1
    assert as_lead.patch(f"/api/v1/charter/rollout/{step}", {"version": 9, "status": "done"}, content_type="application/json").status_code == 409
    assert as_lead.patch(f"/api/v1/charter/rollout/{step}", {"version": 1, "status": "done"}, content_type="application/json").json()["version"] == 2
    bad = as_lead.post("/api/v1/charter/rollout/", {"phase": "Pilot", "title": "x", "owner_id": 99999}, content_type="application/json")
    assert bad.status_code == 422 and "owner_id" in json.dumps(bad.json())
    assert api_client(kam).delete(f"/api/v1/charter/rollout/{step}").status_code == 403
    assert as_lead.delete(f"/api/v1/charter/rollout/{step}?version=2").status_code == 204
    assert "<svg" in as_lead.get("/api/v1/charter/timeline.svg").content.decode()


def test_cli_charter(lead, capsys):
    charter.update_charter(by=lead, version=1, changes={"objectives": ["Grow the key accounts"]})
    charter.add_step(by=lead, data={"phase": "Pilot", "title": "Pick pilot accounts"})
    assert main(["charter", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["version"] == 2 and out["rollout"][0]["title"] == "Pick pilot accounts" and len(out["readiness"]) == 5
    assert main(["charter"]) == 0
    text = capsys.readouterr().out
    assert "Grow the key accounts" in text and "Pilot" in text and "Do a few customers" in text
