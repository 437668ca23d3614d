"""Optimistic concurrency on every editable resource (accounts, stakeholders, team members, competitors,
lines, interactions, criteria, risk cases, onboarding stages, subscriptions): every read carries ``version``; a PATCH or DELETE
with a stale one (in the body, the query or If-Match) is 409 with the row as stored, and nothing is written."""

import datetime

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



# ---------------------------------------------------------------- every other editable resource


def _one(client, url: str, pk: int) -> dict:
    """The row ``pk`` as the API reads it: the object itself, a row of a list, or a stage of the onboarding."""
    body = client.get(url).json()
    rows = body.get("items") or body.get("stages")
    return next(row for row in rows if row["id"] == pk) if rows is not None else body


def _resources(lead, account):
    """name, how to read the row (url, pk), how to change it (method, url, field, a value, another value),
    how it is stored, and how to delete it (url or None)."""
    from keyplan.accounts import services as accounts
    from keyplan.accounts.models import TeamRole
    from keyplan.health import onboarding
    from keyplan.health import services as health
    from keyplan.revenue import services as revenue
    from keyplan.scoring import services as scoring

    a = f"/api/v1/accounts/{account.pk}"
    sales = accounts.add_team_member(account, by=lead, user=lead, role=TeamRole.SALES)
    competitor = accounts.add_competitor(account, by=lead, name="Globex")
    boss = relationships.create_stakeholder(account, by=lead, data={"name": "Clara Ceo"})
    cfo = relationships.create_stakeholder(account, by=lead, data={"name": "Frank Finance"})
    line = relationships.add_influence_line(account, by=lead, source=boss, target=cfo)
    call = relationships.log_interaction(account, by=lead, kind="call", date=datetime.date(2026, 1, 5), summary="Call")
    criterion = scoring.create_criterion(by=lead, name="Growth rate", group="growth")
    case = health.open_case(account, by=lead, reason="Usage fell")
    stage = onboarding.add_stage(account, by=lead, name="Kick-off")
    subscription = revenue.add_subscription(account, by=lead, plan="Basic", monthly_amount=100, currency="EUR",
                                            start=datetime.date(2025, 1, 1))
    return [
        ("team member", (f"{a}/team/", sales), ("patch", f"{a}/team/{sales.pk}", "responsibilities", "Pricing", "Legal"),
         f"{a}/team/{sales.pk}"),
        ("competitor", (f"{a}/competitors/", competitor), None, f"{a}/competitors/{competitor.pk}"),
        ("influence line", (f"{a}/influence-lines/{line.pk}", line), ("patch", f"{a}/influence-lines/{line.pk}", "note", "Golf", "Tennis"),
         f"{a}/influence-lines/{line.pk}"),
        ("interaction", (f"{a}/interactions/{call.pk}", call), ("patch", f"{a}/interactions/{call.pk}", "location", "Delft", "Breda"),
         f"{a}/interactions/{call.pk}"),
        ("criterion", (f"/api/v1/criteria/{criterion.pk}", criterion),
         ("patch", f"/api/v1/criteria/{criterion.pk}", "description", "Year on year", "Quarterly"), f"/api/v1/criteria/{criterion.pk}"),
        ("risk case", (f"/api/v1/risk-cases/{case.pk}", case), ("patch", f"/api/v1/risk-cases/{case.pk}", "note", "Call", "Visit"), None),
        ("onboarding stage", (f"{a}/onboarding", stage), ("patch", f"/api/v1/onboarding-stages/{stage.pk}", "name", "Kick-off call", "Start"),
         f"/api/v1/onboarding-stages/{stage.pk}"),
        ("subscription", (f"{a}/subscriptions/", subscription),
         ("post", f"{a}/subscriptions/{subscription.pk}/end", "end", "2026-01-31", "2026-02-28"), None),
    ]


def test_every_editable_resource_reads_a_version_and_refuses_a_stale_write(api_client, lead, kam_account):
    client = api_client(lead)
    for name, (read_url, row), write, delete_url in _resources(lead, kam_account):
        version = _one(client, read_url, row.pk)["version"]
        assert isinstance(version, int), name
        if write is not None:
            method, url, field, value, other = write
            send = getattr(client, method)
            first = send(url, {field: value, "version": version}, content_type=JSON)
            assert first.status_code == 200 and first.json()["version"] == version + 1, (name, first.content)
            stale = send(url, {field: other, "version": version}, content_type=JSON)
            assert stale.status_code == 409, (name, stale.content)
            assert stale.json()["version"] == version + 1 and stale["ETag"] == f'"{version + 1}"', name
            assert stale.json()["current"]["id"] == row.pk, name
            by_header = send(url, {field: other}, content_type=JSON, headers={"If-Match": f'"{version}"'})
            assert by_header.status_code == 409, name
            assert str(getattr(type(row).objects.get(pk=row.pk), field)) == value, name  # nothing of the stale writes
            version += 1
        if delete_url is not None:
            assert client.delete(f"{delete_url}?version={version - 1 or 7}").status_code == 409, name
            assert client.delete(delete_url, headers={"If-Match": f'"{version + 1}"'}).status_code == 409, name
            assert type(row).objects.filter(pk=row.pk).exists(), name
            assert client.delete(f"{delete_url}?version={version}").status_code in (200, 204), name


def test_closing_a_case_with_a_stale_version_is_409(api_client, lead, kam_account):
    from keyplan.health import services as health

    case = health.open_case(kam_account, by=lead, reason="Usage fell")
    client = api_client(lead)
    version = client.get(f"/api/v1/risk-cases/{case.pk}").json()["version"]
    client.patch(f"/api/v1/risk-cases/{case.pk}", {"note": "Call"}, content_type=JSON)
    stale = client.post(f"/api/v1/risk-cases/{case.pk}/close", {"outcome": "saved", "version": version}, content_type=JSON)
    assert stale.status_code == 409 and type(case).objects.get(pk=case.pk).outcome == ""
