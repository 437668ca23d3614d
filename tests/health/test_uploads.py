"""Surveys, usage, tickets and payments uploaded in the browser and through the API: the revenue area's upload,
preview and background task running the health imports (all rows or none, a report per bad row, rollback)."""

import datetime

from django.urls import reverse

from keyplan.health.models import Invoice, SurveyResponse, Ticket, UsageRecord
from keyplan.revenue.models import BatchStatus, ImportBatch
from tests.conftest import client_for
from tests.revenue.test_import_pages import csv_file, preview_url, selected, start, upload


def test_a_lead_uploads_usage_and_tickets_in_the_browser(lead, key_account, run_worker):
    ext = key_account.external_id
    client = client_for(lead)
    page = client.get(reverse("revenue:imports")).content.decode()
    for kind in ("surveys", "usage", "tickets", "payments"):
        assert f'value="{kind}"' in page, kind
    url = preview_url(upload(client, f"Kundennummer;Datum;Metrik;Wert\n{ext};01.11.2026;logins;120\n{ext};02.11.2026;logins;80\n",
                             kind="usage", name="usage.csv"))
    html = client.get(url).content.decode()
    assert [selected(html, i) for i in range(4)] == ["account_id", "date", "metric", "value"]
    response = start(client, url)
    assert response.status_code == 302, response.content.decode()[:2000]
    run_worker()
    assert UsageRecord.objects.count() == 2 and ImportBatch.objects.get(kind="usage").status == BatchStatus.DONE
    url = preview_url(upload(client, f"account_id,ticket_id,opened,closed,severity\n{ext},T-1,2026-11-01,,P1\n",
                             kind="tickets", name="tickets.csv"))
    start(client, url)
    run_worker()
    assert Ticket.objects.get().severity == "critical"


def test_a_bad_survey_file_is_reported_by_row_and_writes_nothing(lead, key_account, run_worker):
    ext = key_account.external_id
    client = client_for(lead)
    url = preview_url(upload(client, f"account_id,kind,score,date\n{ext},nps,9,2026-11-01\n{ext},nps,12,2026-11-02\nNOPE,csat,4,2026-11-03\n",
                             kind="surveys", name="answers.csv"))
    response = start(client, url)
    run_worker()
    batch = ImportBatch.objects.get(kind="surveys")
    assert batch.status == BatchStatus.REJECTED and not SurveyResponse.objects.exists()
    assert {(e["line"], e["column"]) for e in batch.report["errors"]} == {(3, "score"), (4, "account_id")}
    page = client.get(response["Location"]).content.decode()
    assert 'id="nothing-written"' in page and "NOPE" in page


def test_the_api_imports_payments_in_the_background_and_rolls_them_back(lead, key_account, api_client, run_worker):
    ext = key_account.external_id
    due = (datetime.date.today() - datetime.timedelta(days=40)).isoformat()
    client = api_client(lead)
    response = client.post("/api/v1/imports/", {"kind": "payments", "file": csv_file(
        f"account_id,invoice_id,due,paid,amount\n{ext},INV-1,{due},,1200\n", "invoices.csv")})
    assert response.status_code == 202, response.content.decode()
    run_worker()
    batch = client.get(f"/api/v1/imports/{response.json()['id']}").json()
    assert batch["status"] == "done" and batch["rows_imported"] == 1 and Invoice.objects.get().invoice_id == "INV-1"
    assert client.post(f"/api/v1/imports/{batch['id']}/rollback").status_code == 200
    assert not Invoice.objects.exists()
