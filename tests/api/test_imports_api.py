"""/api/v1/imports/ and /api/v1/accounts/{id}/subscriptions/ as a script uses them, with the real worker."""

import datetime
import decimal
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from keyplan.revenue import services
from keyplan.revenue.models import BatchStatus, ImportBatch, LedgerLine, Subscription

EUROPEAN = "Kundennummer;Rechnungsdatum;Betrag\nC-1;31.01.2026;1.234,50\nC-2;15.01.2026;10,00\n"
BAD = "account_id,date,amount\nC-1,2026-01-31,100.00\nC-404,2026-01-15,10.00\nC-2,2026-01-20,abc\n"


def body(response):
    return json.loads(response.content)


@pytest.fixture
def customers(make_account):
    return [make_account(f"Customer {i}", external_id=f"C-{i}") for i in (1, 2)]


def post_file(client, text: str, *, name: str = "ledger.csv", **fields):
    data = {"kind": "ledger", **fields, "file": SimpleUploadedFile(name, text.encode(), content_type="text/csv")}
    return client.post("/api/v1/imports/", data)


def detail_locations(response) -> list[list[str]]:
    return [d["loc"] for d in body(response)["detail"]]


class TestRoles:
    def test_imports_are_for_leads_and_admins(self, kam, viewer, lead, api_client, customers, tmp_path):
        path = tmp_path / "x.csv"
        path.write_text("account_id,date,amount\nC-1,2026-01-01,1\n")
        batch = services.import_ledger(path, by=lead).batch
        for user in (kam, viewer):
            client = api_client(user)
            assert client.get("/api/v1/imports/").status_code == 403
            assert client.get(f"/api/v1/imports/{batch.pk}").status_code == 403
            assert post_file(client, EUROPEAN).status_code == 403
            response = client.post(f"/api/v1/imports/{batch.pk}/rollback")
            assert response.status_code == 403 and "KAM leads and admins" in body(response)["detail"]
        assert ImportBatch.objects.get(pk=batch.pk).status == BatchStatus.DONE

    def test_unknown_batch_is_404(self, lead, api_client):
        assert api_client(lead).get("/api/v1/imports/999").status_code == 404


class TestImports:
    def test_list_is_paginated(self, lead, api_client, customers, tmp_path):
        for i in range(3):
            path = tmp_path / f"ledger{i}.csv"
            path.write_text(f"account_id,date,amount\nC-1,2026-01-0{i + 1},{i + 1}\n")
            services.import_ledger(path, by=lead)
        page = body(api_client(lead).get("/api/v1/imports/", {"limit": 2}))
        assert page["count"] == 3 and [b["file_name"] for b in page["items"]] == ["ledger2.csv", "ledger1.csv"]
        assert page["items"][0]["created_by"]["username"] == "lead" and "report" not in page["items"][0]

    def test_upload_runs_in_the_background(self, lead, api_client, customers, run_worker, upload_dir):
        client = api_client(lead)
        response = post_file(client, EUROPEAN)
        assert response.status_code == 202
        queued = body(response)
        assert (queued["status"], queued["progress"], queued["kind"]) == ("validating", 0, "ledger")
        run_worker()
        batch = body(client.get(f"/api/v1/imports/{queued['id']}"))
        assert (batch["status"], batch["rows_imported"], batch["progress"]) == ("done", 2, 100)
        assert batch["options"]["decimal"] == "," and batch["options"]["date_format"] == "%d.%m.%Y"
        assert batch["report"]["error_count"] == 0 and batch["report"]["rejected_rows_url"] is None
        assert LedgerLine.objects.count() == 2 and not any(upload_dir.iterdir())

    def test_rejected_file_report(self, lead, api_client, customers, run_worker):
        client = api_client(lead)
        batch_id = body(post_file(client, BAD))["id"]
        run_worker()
        batch = body(client.get(f"/api/v1/imports/{batch_id}"))
        assert batch["status"] == "rejected" and LedgerLine.objects.count() == 0
        assert batch["report"]["error_count"] == 2
        assert batch["report"]["errors"] == [
            {"line": 3, "column": "account_id", "value": "C-404",
             "reason": "unknown account; create it first or import with --create-accounts",
             "code": "unknown_account", "params": {}},
            {"line": 4, "column": "amount", "value": "abc", "reason": "not a number", "code": "not_a_number", "params": {}},
        ]

    def test_skip_invalid_and_the_rejected_rows(self, lead, api_client, customers, run_worker):
        client = api_client(lead)
        batch_id = body(post_file(client, BAD, skip_invalid="true"))["id"]
        run_worker()
        batch = body(client.get(f"/api/v1/imports/{batch_id}"))
        assert (batch["status"], batch["rows_imported"], batch["rows_rejected"]) == ("done", 1, 2)
        assert "rejected_file" not in batch["report"]  # no server paths
        download = client.get(batch["report"]["rejected_rows_url"])
        assert download.status_code == 200
        lines = b"".join(download.streaming_content).decode().splitlines()
        assert lines[0] == "line,reason,account_id,date,amount" and lines[1].startswith("3,account_id: unknown account")

    def test_mapping_and_formats_given(self, lead, api_client, customers, run_worker):
        client = api_client(lead)
        text = "Konto|Tag|Wert|Kunde\nC-1|05/01/2026|10.5|C-2\n"
        response = post_file(client, text, delimiter="|", date_format="%d/%m/%Y", decimal=".",
                             mapping=json.dumps({"Konto": "account_id", "Tag": "date", "Wert": "amount", "Kunde": ""}))
        assert response.status_code == 202, response.content
        run_worker()
        line = LedgerLine.objects.select_related("account").get()
        assert (line.account.external_id, line.date, line.amount) == ("C-1", datetime.date(2026, 1, 5), decimal.Decimal("10.50"))

    def test_bad_requests_name_the_field_and_queue_nothing(self, lead, api_client, customers, upload_dir):
        client = api_client(lead)
        cases = [
            (post_file(client, EUROPEAN, kind="invoices"), "kind"),
            (client.post("/api/v1/imports/", {"kind": "ledger"}), "file"),
            (post_file(client, "prose without columns\n"), "file"),
            (post_file(client, EUROPEAN, name="ledger.pdf"), "file"),
            (post_file(client, EUROPEAN, mapping="{not json"), "mapping"),
            (post_file(client, EUROPEAN, mapping=json.dumps({"Betrag": "revenue"})), "mapping"),
            (post_file(client, EUROPEAN, mapping=json.dumps({"Kundennummer": ""})), "mapping"),
            (post_file(client, EUROPEAN, date_format="%Y-%m-%d"), "date_format"),
            (post_file(client, EUROPEAN, decimal="x"), "decimal"),
        ]
        for response, field in cases:
            assert response.status_code == 422, (field, response.content)
            assert any(loc[-1] == field for loc in detail_locations(response)), (field, body(response))
        message = body(cases[6][0])["detail"][0]["msg"]
        assert "Choose a column for account_id" in message
        assert ImportBatch.objects.count() == 0 and not any(upload_dir.iterdir())

    def test_rollback(self, lead, api_client, customers, tmp_path):
        path = tmp_path / "x.csv"
        path.write_text("account_id,date,amount\nC-1,2026-01-01,100\n")
        batch = services.import_ledger(path, by=lead).batch
        client = api_client(lead)
        response = client.post(f"/api/v1/imports/{batch.pk}/rollback")
        assert response.status_code == 200 and body(response)["status"] == "rolled_back"
        assert body(response)["rolled_back_by"]["username"] == "lead" and LedgerLine.objects.count() == 0
        again = client.post(f"/api/v1/imports/{batch.pk}/rollback")
        assert again.status_code == 422 and detail_locations(again) == [["body", "batch"]]

    def test_openapi_lists_the_endpoints(self, db):
        from django.test import Client

        paths = body(Client().get("/api/v1/openapi.json"))["paths"]
        for path in ("/api/v1/imports/", "/api/v1/imports/{batch_id}", "/api/v1/imports/{batch_id}/rollback",
                     "/api/v1/accounts/{account_id}/subscriptions/", "/api/v1/accounts/{account_id}/subscriptions/{subscription_id}/end"):
            assert path in paths, path
        assert "multipart/form-data" in paths["/api/v1/imports/"]["post"]["requestBody"]["content"]


class TestSubscriptions:
    def test_list_add_end(self, lead, api_client, account):
        client = api_client(lead)
        url = f"/api/v1/accounts/{account.pk}/subscriptions/"
        response = client.post(url, {"plan": "Premium", "monthly_amount": "1200.50", "start": "2026-01-01"}, content_type="application/json")
        assert response.status_code == 201
        created = body(response)
        assert (created["plan"], created["monthly_amount"], created["currency"], created["end"]) == ("Premium", 1200.5, "EUR", None)
        ended = client.post(f"{url}{created['id']}/end", {"end": "2026-12-31"}, content_type="application/json")
        assert ended.status_code == 200 and body(ended)["end"] == "2026-12-31"
        assert [s["plan"] for s in body(client.get(url))["items"]] == ["Premium"]

    def test_bad_input_is_422_naming_the_field(self, lead, api_client, account):
        client = api_client(lead)
        url = f"/api/v1/accounts/{account.pk}/subscriptions/"
        cases = [
            ({"plan": "Basic", "monthly_amount": "5", "start": "2026-02-01", "end": "2026-01-01"}, "end"),
            ({"plan": "Basic", "monthly_amount": "5", "start": "2026-02-01", "currency": "XYZ"}, "currency"),
            ({"plan": "Basic", "monthly_amount": "-5", "start": "2026-02-01"}, "monthly_amount"),
            ({"plan": "", "monthly_amount": "5", "start": "2026-02-01"}, "plan"),
            ({"plan": "Basic", "monthly_amount": "5"}, "start"),
        ]
        for payload, field in cases:
            response = client.post(url, payload, content_type="application/json")
            assert response.status_code == 422, (field, response.content)
            assert any(loc[-1] == field for loc in detail_locations(response)), (field, body(response))
        assert Subscription.objects.count() == 0
        subscription = services.add_subscription(account, by=lead, plan="Basic", monthly_amount=5, currency="EUR",
                                                 start=datetime.date(2026, 2, 1))
        early = client.post(f"{url}{subscription.pk}/end", {"end": "2026-01-01"}, content_type="application/json")
        assert early.status_code == 422 and detail_locations(early) == [["body", "end"]]

    def test_visibility_404_and_rights_403(self, lead, kam, viewer, api_client, kam_account, make_account):
        other = make_account("Secret Corp")
        services.add_subscription(other, by=lead, plan="Basic", monthly_amount=5, currency="EUR", start=datetime.date(2026, 1, 1))
        kam_client = api_client(kam)
        assert kam_client.get(f"/api/v1/accounts/{other.pk}/subscriptions/").status_code == 404
        payload = {"plan": "Basic", "monthly_amount": "5", "start": "2026-01-01"}
        assert kam_client.post(f"/api/v1/accounts/{other.pk}/subscriptions/", payload, content_type="application/json").status_code == 404
        assert kam_client.post(f"/api/v1/accounts/{kam_account.pk}/subscriptions/", payload, content_type="application/json").status_code == 201
        reader = api_client(viewer)
        assert body(reader.get(f"/api/v1/accounts/{kam_account.pk}/subscriptions/"))["count"] == 1
        denied = reader.post(f"/api/v1/accounts/{kam_account.pk}/subscriptions/", payload, content_type="application/json")
        assert denied.status_code == 403
        sub = Subscription.objects.get(account=kam_account)
        assert reader.post(f"/api/v1/accounts/{kam_account.pk}/subscriptions/{sub.pk}/end", {"end": "2026-05-01"},
                           content_type="application/json").status_code == 403
        other_sub = Subscription.objects.get(account=other)
        assert kam_client.post(f"/api/v1/accounts/{kam_account.pk}/subscriptions/{other_sub.pk}/end", {"end": "2026-05-01"},
                               content_type="application/json").status_code == 404
