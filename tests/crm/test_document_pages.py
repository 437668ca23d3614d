"""Calendars (.ics) and mailboxes (.eml, .mbox) on the import pages and through POST /api/v1/imports/: the
upload, a preview that says what the import would do, the worker, the report, the rollback; bodies off
unless chosen."""

import json
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from keyplan.relationships import services as relationships
from keyplan.relationships.models import Interaction
from keyplan.revenue.models import BatchStatus, ImportBatch
from tests.conftest import client_for
from tests.revenue.test_import_pages import preview_url, start

DATA = Path(__file__).parent / "data"
OUTLOOK, INBOX = DATA / "outlook.ics", DATA / "inbox.mbox"


@pytest.fixture
def people(kam_account, lead, kam):
    kam.email = "karl@example.com"
    kam.save()
    relationships.create_stakeholder(kam_account, by=lead, data={"name": "Ada Boss", "email": "ada@acme.example"})
    relationships.create_stakeholder(kam_account, by=lead, data={"name": "Bo Middle", "email": "bo@acme.example"})


def upload(client, path: Path, kind: str, text: str | None = None, name: str | None = None):
    data = (text if text is not None else path.read_text()).encode()
    return client.post(reverse("revenue:imports"), {"kind": kind, "file": SimpleUploadedFile(name or path.name, data)})


def test_a_calendar_on_the_import_pages_previews_imports_and_rolls_back(people, lead, run_worker):
    client = client_for(lead)
    page = client.get(reverse("revenue:imports")).content.decode()
    assert 'value="calendar"' in page and 'value="mail"' in page and ".ics" in page
    url = preview_url(upload(client, OUTLOOK, "calendar"))
    html = client.get(url).content.decode()
    assert 'id="summary"' in html and "meetings to log" in html and 'id="report"' not in html
    assert "column_0" not in html  # no columns to map
    response = start(client, url)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert not Interaction.objects.exists()  # the preview wrote nothing; the worker does
    run_worker()
    batch = ImportBatch.objects.get(kind="calendar")
    assert batch.status == BatchStatus.DONE and (batch.report["created"], batch.report["skipped_no_customer"]) == (2, 1)
    page = client.get(response["Location"]).content.decode()
    assert 'id="counts"' in page and 'id="skipped"' in page and "contact strengths" in page
    assert Interaction.objects.filter(kind="meeting").count() == 2
    # The same file again: the page warns, and importing it changes nothing.
    url = preview_url(upload(client, OUTLOOK, "calendar"))
    assert 'id="same-file"' in client.get(url).content.decode()
    start(client, url)
    run_worker()
    assert Interaction.objects.count() == 2
    assert client.post(reverse("revenue:import_rollback", args=[batch.pk])).status_code == 302
    assert not Interaction.objects.exists()


def test_a_broken_event_is_named_on_the_preview_and_in_the_batch_report(people, lead, run_worker):
    client = client_for(lead)
    broken = OUTLOOK.read_text().replace("DTSTART:20270115T090000Z\n", "")
    url = preview_url(upload(client, OUTLOOK, "calendar", text=broken))
    html = client.get(url, HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert 'id="summary-problems"' in html and "der Termin hat keinen Beginn (DTSTART)" in html
    assert "Was der Import tun würde" in html and "Termine gelesen" in html and "übersprungen: abgesagt" in html
    response = start(client, url)
    run_worker()
    batch = ImportBatch.objects.get(kind="calendar")
    assert batch.status == BatchStatus.REJECTED and batch.report["errors"][0]["column"] == "DTSTART"
    page = client.get(response["Location"], HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert 'id="nothing-written"' in page and "Contract renewal kick-off" in page
    assert "1 von 4 Terminen oder Nachrichten ist nicht lesbar" in page
    assert not Interaction.objects.exists()


def test_a_file_that_is_no_calendar_is_refused_on_the_upload_form(people, lead):
    client = client_for(lead)
    response = upload(client, OUTLOOK, "calendar", text="hello", name="x.ics")
    assert response.status_code == 400 and "not an iCalendar file" in response.content.decode()
    response = upload(client, OUTLOOK, "calendar", name="outlook.csv")
    assert response.status_code == 400 and "upload a .ics file" in response.content.decode()


def test_a_mailbox_on_the_import_pages_keeps_no_body_unless_chosen(people, lead, run_worker):
    client = client_for(lead)
    url = preview_url(upload(client, INBOX, "mail"))
    html = client.get(url).content.decode()
    assert "e-mails to log" in html and 'name="with_body"' in html and "message text is not stored" in html and "checked" not in html.split('name="with_body"')[1][:40]
    start(client, url)
    run_worker()
    logged = Interaction.objects.get()
    assert logged.summary == "Proposal for 2027" and logged.kind == "email"
    assert ImportBatch.objects.get(kind="mail").options["with_body"] is False
    rollback = client.post(reverse("revenue:import_rollback", args=[ImportBatch.objects.get(kind="mail").pk]))
    assert rollback.status_code == 302 and not Interaction.objects.exists()
    url = preview_url(upload(client, INBOX, "mail"))
    start(client, url, with_body="on")
    run_worker()
    assert "please find the proposal" in Interaction.objects.get().summary


def post_file(client, path: Path, kind: str, **fields):
    return client.post("/api/v1/imports/", {"kind": kind, **fields, "file": SimpleUploadedFile(path.name, path.read_bytes())})


def test_the_api_imports_a_calendar_and_a_mailbox(people, lead, api_client, run_worker):
    client = api_client(lead)
    response = post_file(client, OUTLOOK, "calendar")
    assert response.status_code == 202, response.content
    run_worker()
    batch = json.loads(client.get(f"/api/v1/imports/{json.loads(response.content)['id']}").content)
    assert batch["status"] == "done" and batch["report"]["created"] == 2 and batch["report"]["skipped_cancelled"] == 1
    response = post_file(client, INBOX, "mail", with_body="true")
    assert response.status_code == 202, response.content
    run_worker()
    mail = json.loads(client.get(f"/api/v1/imports/{json.loads(response.content)['id']}").content)
    assert mail["status"] == "done" and mail["report"]["replies"] == 2 and mail["options"]["with_body"] is True
    assert "please find the proposal" in Interaction.objects.get(kind="email").summary
    assert post_file(client, OUTLOOK, "calendar").status_code == 409  # the same file: the caller decides


def test_the_api_refuses_a_file_that_is_no_mailbox_at_once(people, lead, api_client, tmp_path):
    bad = tmp_path / "bad.mbox"
    bad.write_text("just some text\n")
    response = post_file(api_client(lead), bad, "mail")
    assert response.status_code == 422 and "neither an e-mail" in response.content.decode()
    assert not ImportBatch.objects.exists()
