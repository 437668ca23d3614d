"""Optimistic concurrency on accounts and stakeholders: every read carries ``version``; a PATCH or DELETE
with a stale one (in the body, the query or If-Match) is 409 with the row as stored, and nothing is written."""

from django.urls import reverse

from keyplan.accounts.models import Account
from keyplan.relationships import services as relationships
from keyplan.relationships.models import Stakeholder
from tests.conftest import client_for

JSON = "application/json"


def test_account_patch_with_a_stale_version_is_409_and_writes_nothing(api_client, lead, kam, kam_account):
    url = f"/api/v1/accounts/{kam_account.pk}"
    read = api_client(kam).get(url).json()
    first = api_client(lead).patch(url, {"version": read["version"], "city": "Delft"}, content_type=JSON)
    assert first.status_code == 200 and first.json()["version"] == read["version"] + 1
    stale = api_client(kam).patch(url, {"version": read["version"], "city": "Breda"}, content_type=JSON)
    assert stale.status_code == 409
    body = stale.json()
    assert body["version"] == read["version"] + 1 and body["current"]["city"] == "Delft"
    assert Account.objects.get(pk=kam_account.pk).city == "Delft"
    by_header = api_client(kam).patch(url, {"city": "Breda"}, content_type=JSON, headers={"If-Match": f'"{read["version"]}"'})
    assert by_header.status_code == 409
    fresh = api_client(kam).patch(url, {"version": body["version"], "city": "Breda"}, content_type=JSON)
    assert fresh.status_code == 200 and fresh.json()["city"] == "Breda"


def test_a_stale_archive_is_409(api_client, lead, kam_account):
    url = f"/api/v1/accounts/{kam_account.pk}"
    version = api_client(lead).get(url).json()["version"]
    api_client(lead).patch(url, {"city": "Delft"}, content_type=JSON)
    assert api_client(lead).delete(f"{url}?version={version}").status_code == 409
    assert not Account.objects.get(pk=kam_account.pk).is_archived
    assert api_client(lead).delete(f"{url}?version={version + 1}").status_code == 204


def test_stakeholder_patch_and_delete_check_the_version(api_client, lead, kam, kam_account):
    person = relationships.create_stakeholder(kam_account, by=lead, data={"name": "Clara Ceo"})
    url = f"/api/v1/accounts/{kam_account.pk}/stakeholders/{person.pk}"
    read = api_client(kam).get(url).json()
    assert api_client(lead).patch(url, {"version": read["version"], "title": "CEO"}, content_type=JSON).status_code == 200
    stale = api_client(kam).patch(url, {"version": read["version"], "title": "CFO"}, content_type=JSON)
    assert stale.status_code == 409 and stale.json()["current"]["title"] == "CEO"
    assert api_client(kam).delete(f"{url}?version={read['version']}").status_code == 409
    assert Stakeholder.objects.filter(pk=person.pk, title="CEO").exists()


def test_the_account_form_shows_a_conflict_instead_of_overwriting(lead, kam, kam_account):
    client = client_for(kam)
    form = client.get(reverse("accounts:edit", args=[kam_account.pk])).content.decode()
    assert 'name="version"' in form
    client_for(lead).post(reverse("accounts:edit", args=[kam_account.pk]), {
        "name": "Acme", "external_id": kam_account.external_id, "city": "Delft", "lifecycle": "active",
        "onboarding_status": "not_started", "reporting_currency": "EUR", "version": kam_account.version})
    response = client.post(reverse("accounts:edit", args=[kam_account.pk]), {
        "name": "Acme", "external_id": kam_account.external_id, "city": "Breda", "lifecycle": "active",
        "onboarding_status": "not_started", "reporting_currency": "EUR", "version": kam_account.version})
    assert response.status_code == 409
    page = response.content.decode()
    assert "Someone saved this account while you were editing it" in page and "Delft" in page
    assert Account.objects.get(pk=kam_account.pk).city == "Delft"


def test_restoring_a_stakeholder_keeps_their_reporting_line(lead, kam_account):
    boss = relationships.create_stakeholder(kam_account, by=lead, data={"name": "Clara Ceo"})
    person = relationships.create_stakeholder(kam_account, by=lead, data={"name": "Frank Finance", "reports_to": boss})
    relationships.log_interaction(kam_account, by=lead, kind="call", date=person.created_at.date(), summary="Call",
                                  stakeholders=[person])
    removal = relationships.remove_stakeholder(person, by=lead)
    assert removal.archived
    restored = relationships.restore_stakeholder(person, by=lead)
    assert restored.reports_to_id == boss.pk
