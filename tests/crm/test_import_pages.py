"""The import pages with the CRM kinds: upload, preview with the mapping detected, the worker, the result, the
account page's source, a rejected file and the rollback."""

from django.urls import reverse

from keyplan.accounts.models import Account
from keyplan.core.models import Role
from keyplan.relationships.models import Stakeholder
from tests.conftest import client_for
from tests.revenue.test_import_pages import preview_url, selected, start, upload

ACCOUNTS = ("Account ID;Account Name;Parent Account;Industry;Billing Country;Account Owner\n"
            "001-A;Acme Group;;Banking;Germany;karl@example.com\n"
            "001-B;Acme Labs;001-A;Technology;NL;karl@example.com\n")
CONTACTS = ("Account ID,Email,First Name,Last Name,Job Title,Reports To\n"
            "001-A,ada@acme.example,Ada,Boss,CEO,\n"
            "001-A,bo@acme.example,Bo,Middle,CFO,ada@acme.example\n")


def test_a_lead_imports_accounts_then_contacts_on_the_import_pages(lead, make_user, run_worker):
    karl = make_user("karl", Role.TEAM_MEMBER, email="karl@example.com")
    client = client_for(lead)
    page = client.get(reverse("revenue:imports"))
    assert 'value="accounts"' in page.content.decode() and 'value="stakeholders"' in page.content.decode()
    url = preview_url(upload(client, ACCOUNTS, kind="accounts", name="accounts.csv"))
    html = client.get(url).content.decode()
    assert [selected(html, i) for i in range(6)] == ["external_id", "name", "parent", "industry", "country", "kam"]
    assert "Parent account (external id)" in html
    response = start(client, url)
    assert response.status_code == 302, response.content.decode()[:3000]
    run_worker()
    batch_page = client.get(response["Location"]).content.decode()
    assert "Imported. The accounts remember that they came from" in batch_page
    assert 'id="counts"' in batch_page and ">created<" in batch_page
    labs = Account.objects.get(external_id="001-B")
    assert labs.parent.external_id == "001-A" and labs.team_members.get(role="kam").user == karl
    account_page = client.get(reverse("accounts:detail", args=[labs.pk])).content.decode()
    assert 'id="account-source"' in account_page and "last synced" in account_page

    url = preview_url(upload(client, CONTACTS, kind="stakeholders", name="contacts.csv"))
    html = client.get(url).content.decode()
    assert [selected(html, i) for i in range(6)] == ["account_id", "email", "first_name", "last_name", "title", "reports_to"]
    start(client, url)
    run_worker()
    assert Stakeholder.objects.get(name="Bo Middle").reports_to.name == "Ada Boss"


def test_a_rejected_contacts_file_names_each_row_in_the_readers_language_and_writes_nothing(lead, run_worker, make_account):
    make_account("Acme", external_id="001-A")
    client = client_for(lead)
    url = preview_url(upload(client, CONTACTS.replace("ada@acme.example\n", "nobody@acme.example\n"), kind="stakeholders",
                             name="contacts.csv"))
    response = start(client, url)
    run_worker()
    page = client.get(response["Location"], HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert 'id="nothing-written"' in page and "nobody@acme.example" in page
    assert not Stakeholder.objects.exists()


def test_the_rollback_page_says_what_undoing_a_crm_import_means(lead, run_worker, make_user):
    make_user("karl", Role.TEAM_MEMBER, email="karl@example.com")
    client = client_for(lead)
    response = start(client, preview_url(upload(client, ACCOUNTS, kind="accounts", name="accounts.csv")))
    run_worker()
    batch = response["Location"].rstrip("/").split("/")[-1]
    rollback = reverse("revenue:import_rollback", args=[int(batch)])
    assert "What it created is archived, not deleted" in client.get(rollback).content.decode()
    client.post(rollback)
    assert Account.objects.active().count() == 0 and Account.objects.count() == 2


def test_the_preview_recognises_a_crms_export_and_offers_the_presets(lead, kam, run_worker):
    from pathlib import Path

    client = client_for(lead)
    text = (Path(__file__).parent / "data" / "hubspot_companies.csv").read_text()
    url = preview_url(upload(client, text, kind="accounts", name="companies.csv"))
    html = client.get(url).content.decode()
    assert 'id="preset-found"' in html and "HubSpot" in html
    assert [selected(html, i) for i in (0, 2, 4, 10)] == ["external_id", "parent", "employees", "kam"]
    assert '<option value="Dynamics 365">' in html
    # Read as another CRM's export, the columns map as that CRM names them (few do here).
    other = client.get(url, {"preset": "Pipedrive"}).content.decode()
    assert (selected(other, 0), selected(other, 1)) == ("", "name")  # Record ID is HubSpot's; "Company name" anyone's
    response = start(client, url)
    run_worker()
    assert "HubSpot" in client.get(response["Location"]).content.decode()
    assert Account.objects.get(name="Nordwind Holding").source.system == "HubSpot"


def test_the_api_takes_a_preset_and_refuses_an_unknown_one(lead, kam, api_client, run_worker):
    from pathlib import Path

    from django.core.files.uploadedfile import SimpleUploadedFile

    client = api_client(lead)
    data = (Path(__file__).parent / "data" / "odoo_companies.csv").read_bytes()
    bad = client.post("/api/v1/imports/", {"kind": "accounts", "preset": "Zoho",
                                           "file": SimpleUploadedFile("c.csv", data, content_type="text/csv")})
    assert bad.status_code == 422 and "preset" in bad.content.decode()
    ok = client.post("/api/v1/imports/", {"kind": "accounts", "preset": "Odoo",
                                          "file": SimpleUploadedFile("c.csv", data, content_type="text/csv")})
    assert ok.status_code == 202 and ok.json()["options"]["preset"] == "Odoo"
    run_worker()
    report = client.get(f"/api/v1/imports/{ok.json()['id']}").json()["report"]
    assert (report["created"], report["source_system"]) == (3, "Odoo")
