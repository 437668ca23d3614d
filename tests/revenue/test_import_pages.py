"""The import pages as a lead uses them: upload, preview, start, the real worker, the result, rollback; subscriptions."""

import datetime
import decimal
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django_tasks_db.models import DBTaskResult
from openpyxl import Workbook

from keyplan.accounts.models import Account
from keyplan.revenue import services
from keyplan.revenue.models import BatchStatus, ExchangeRate, ImportBatch, LedgerLine, MonthlyRollup, Subscription
from tests.conftest import client_for

EUROPEAN = ("Kundennummer;Rechnungsdatum;Betrag;Kosten;Bemerkung\n"
            "C-1;31.01.2026;1.234,50;100,25;first\n"
            "C-2;15.01.2026;10,00;;\n"
            "C-1;01.02.2026;2.000,00;1.000,00;big\n")
BAD = ("account_id,date,amount\n"
       "C-1,2026-01-31,100.00\n"
       "C-404,2026-01-15,10.00\n"
       "C-2,2026-02-30,abc\n"
       ",2026-02-01,5.00\n")


@pytest.fixture
def customers(make_account):
    return [make_account(f"Customer {i}", external_id=f"C-{i}") for i in (1, 2)]


def csv_file(text: str, name: str = "ledger.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode("utf-8"), content_type="text/csv")


def upload(client, text: str, *, kind: str = "ledger", name: str = "ledger.csv"):
    return client.post(reverse("revenue:imports"), {"kind": kind, "file": csv_file(text, name)})


def preview_url(response) -> str:
    assert response.status_code == 302, response.content.decode()[:2000]
    return response["Location"]


def start(client, url: str, **fields):
    """Post the preview form as the page shows it (its detected choices), with ``fields`` changed."""
    page = client.get(url)
    form = page.context["form"]
    data = {name: form[name].value() or "" for name in form.fields}
    data.update({k: v for k, v in fields.items() if v is not None})
    for name in [k for k, v in fields.items() if v is None]:
        data.pop(name, None)
    return client.post(url, data)


def selected(html: str, column_index: int) -> str:
    select = re.search(rf'<select name="column_{column_index}".*?</select>', html, re.S).group(0)
    found = re.search(r'<option value="([^"]*)" selected', select)
    return found.group(1) if found else ""


class TestAccess:
    def test_only_leads_and_admins(self, lead, admin, kam, viewer):
        for user in (kam, viewer):
            client = client_for(user)
            assert client.get(reverse("revenue:imports")).status_code == 403
            assert upload(client, EUROPEAN).status_code == 403
        for user in (lead, admin):
            assert client_for(user).get(reverse("revenue:imports")).status_code == 200

    def test_batch_pages_are_for_leads_too(self, lead, kam, customers, tmp_path):
        path = tmp_path / "x.csv"
        path.write_text("account_id,date,amount\nC-1,2026-01-01,1\n")
        batch = services.import_ledger(path, by=lead).batch
        client = client_for(kam)
        for name in ("revenue:import_batch", "revenue:import_rollback", "revenue:import_rejected_rows"):
            assert client.get(reverse(name, args=[batch.pk])).status_code == 403
        assert client.post(reverse("revenue:import_rollback", args=[batch.pk])).status_code == 403
        assert BatchStatus.DONE == ImportBatch.objects.get(pk=batch.pk).status

    def test_anonymous_goes_to_login(self, db):
        from django.test import Client

        response = Client().get(reverse("revenue:imports"))
        assert response.status_code == 302 and "/login/" in response["Location"]


class TestUploadAndPreview:
    def test_preview_shows_rows_detected_mapping_and_formats(self, lead, customers):
        client = client_for(lead)
        page = client.get(preview_url(upload(client, EUROPEAN)))
        html = page.content.decode()
        assert page.status_code == 200
        for text in ("Kundennummer", "Rechnungsdatum", "1.234,50", "big", "delimiter", "Detected: decimal comma", "%d.%m.%Y"):
            assert text in html, text
        assert [selected(html, i) for i in range(5)] == ["account_id", "date", "amount", "cost", ""]
        assert 'value="," selected' in html  # the decimal comma is chosen
        assert ImportBatch.objects.count() == 0  # a preview writes nothing

    def test_not_a_table_file_is_refused_with_the_reason(self, lead, upload_dir):
        client = client_for(lead)
        response = upload(client, "hello", name="notes.pdf")
        assert response.status_code == 400
        assert "upload a CSV or an Excel workbook" in response.content.decode()
        assert not upload_dir.exists() or not any(upload_dir.iterdir())

    def test_unreadable_file_is_explained_and_discarded(self, lead, upload_dir):
        client = client_for(lead)
        response = upload(client, "just one line of prose\n")
        assert response.status_code == 400
        assert "No header row found" in response.content.decode()
        assert not any(upload_dir.iterdir())

    def test_size_limit(self, lead, settings):
        settings.KEYPLAN_UPLOAD_MAX_MB = 0
        response = upload(client_for(lead), EUROPEAN)
        assert response.status_code == 400 and "the limit is 0 MB" in response.content.decode()

    def test_xlsx_with_a_title_row(self, lead, customers):
        workbook = Workbook()
        sheet = workbook.active
        sheet.title = "Umsatz"
        sheet.append(["Revenue export January"])
        sheet.append(["customer", "invoice_date", "net_amount"])
        sheet.append(["C-1", datetime.datetime(2026, 1, 31), 12.5])
        from io import BytesIO

        buffer = BytesIO()
        workbook.save(buffer)
        client = client_for(lead)
        file = SimpleUploadedFile("export.xlsx", buffer.getvalue())
        url = preview_url(client.post(reverse("revenue:imports"), {"kind": "ledger", "file": file}))
        html = client.get(url).content.decode()
        assert "header on line 2" in html and "sheet Umsatz" in html and "2026-01-31" in html
        assert [selected(html, i) for i in range(3)] == ["account_id", "date", "amount"]

    def test_read_again_with_another_delimiter(self, lead, customers):
        client = client_for(lead)
        url = preview_url(upload(client, "account_id|date|amount\nC-1|2026-01-01|5\n"))
        html = client.get(url, {"delimiter": "|"}).content.decode()
        assert [selected(html, i) for i in range(3)] == ["account_id", "date", "amount"]

    def test_discard(self, lead, customers, upload_dir):
        client = client_for(lead)
        url = preview_url(upload(client, EUROPEAN))
        response = client.post(url, {"cancel": "1"})
        assert response.status_code == 302 and not any(upload_dir.iterdir())
        assert client.get(url).status_code == 404

    def test_bad_choices_are_named_and_nothing_is_queued(self, lead, customers):
        client = client_for(lead)
        url = preview_url(upload(client, EUROPEAN))
        twice = start(client, url, column_4="amount")
        assert twice.status_code == 400
        assert "The columns &#x27;Betrag&#x27; and &#x27;Bemerkung&#x27; go to the same field, amount" in twice.content.decode()
        missing = start(client, url, column_0="")
        assert "Choose a column for account_id" in missing.content.decode()
        dates = start(client, url, date_format="%Y-%m-%d")
        assert "None of the dates in the first rows reads as %Y-%m-%d" in dates.content.decode()
        assert ImportBatch.objects.count() == 0 and DBTaskResult.objects.count() == 0


class TestImportRuns:
    def test_start_progress_worker_result(self, lead, customers, run_worker, upload_dir):
        client = client_for(lead)
        response = start(client, preview_url(upload(client, EUROPEAN)))
        assert response.status_code == 302
        batch = ImportBatch.objects.get()
        assert response["Location"] == reverse("revenue:import_batch", args=[batch.pk])
        # Before the worker runs: a progress bar that polls itself every second.
        fragment = client.get(response["Location"], headers={"HX-Request": "true"}).content.decode()
        assert "<progress" in fragment and 'hx-trigger="every 1s"' in fragment and "<html" not in fragment
        run_worker()
        batch.refresh_from_db()
        assert (batch.status, batch.rows_imported, batch.progress) == (BatchStatus.DONE, 3, 100)
        assert batch.options["decimal"] == "," and batch.options["date_format"] == "%d.%m.%Y"
        assert LedgerLine.objects.count() == 3
        assert MonthlyRollup.objects.get(account__external_id="C-1", month="2026-01-01").revenue == decimal.Decimal("1234.50")
        fragment = client.get(response["Location"], headers={"HX-Request": "true"}).content.decode()
        assert "hx-trigger" not in fragment and "<progress" not in fragment  # the polling stops
        assert "imported" in fragment and "Roll back this batch" in fragment
        assert not any(upload_dir.iterdir())  # the uploaded file is gone
        listing = client.get(reverse("revenue:imports")).content.decode()
        assert "ledger.csv" in listing and "Lena Lead" in listing

    def test_edited_mapping_is_what_gets_imported(self, lead, customers, run_worker):
        client = client_for(lead)
        text = "Konto;Datum;Betrag;Kunde\nC-1;2026-01-05;10,00;C-2\n"
        url = preview_url(upload(client, text))
        # "Kunde" is detected as the account; the lead says the account is in "Konto" and Kunde is ignored.
        assert selected(client.get(url).content.decode(), 3) == "account_id"
        start(client, url, column_0="account_id", column_3="")
        run_worker()
        line = LedgerLine.objects.select_related("account").get()
        assert line.account.external_id == "C-1" and line.amount == decimal.Decimal("10.00")

    def test_rejected_file_reports_each_bad_row_and_writes_nothing(self, lead, customers, run_worker):
        client = client_for(lead)
        url = preview_url(upload(client, BAD))
        start(client, url)
        run_worker()
        batch = ImportBatch.objects.get()
        assert batch.status == BatchStatus.REJECTED
        assert LedgerLine.objects.count() == 0 and MonthlyRollup.objects.count() == 0
        html = client.get(reverse("revenue:import_batch", args=[batch.pk])).content.decode()
        assert "Nothing was written." in html
        rows = re.findall(r'<tr><td class="num">(\d+)</td><td class="mono">([^<]*)</td><td class="mono">(.*?)</td><td>([^<]*)</td></tr>', html)
        assert [(line, column) for line, column, _, _ in rows] == [("3", "account_id"), ("4", "date"), ("4", "amount"), ("5", "account_id")]
        assert "unknown account" in rows[0][3] and "C-404" in rows[0][2] and "--create" not in rows[0][3]
        assert "not a date in the format %Y-%m-%d" in rows[1][3] and "not a number" in rows[2][3]
        assert "the account id is missing" in rows[3][3] and "(empty)" in rows[3][2]
        assert "Roll back" not in html
        # The same report read in Dutch: the reasons are translated, their values kept.
        client.cookies["django_language"] = "nl"
        dutch = client.get(reverse("revenue:import_batch", args=[batch.pk])).content.decode()
        assert "onbekend account" in dutch and "geen datum in de notatie %Y-%m-%d" in dutch and "unknown account" not in dutch

    def test_skip_invalid_imports_good_rows_and_offers_the_rejected_ones(self, lead, customers, run_worker, upload_dir):
        client = client_for(lead)
        start(client, preview_url(upload(client, BAD)), skip_invalid="on")
        run_worker()
        batch = ImportBatch.objects.get()
        assert (batch.status, batch.rows_imported, batch.rows_rejected) == (BatchStatus.DONE, 1, 3)
        html = client.get(reverse("revenue:import_batch", args=[batch.pk])).content.decode()
        assert "Download the 3 rejected rows" in html and "Rows set aside" in html
        download = client.get(reverse("revenue:import_rejected_rows", args=[batch.pk]))
        content = b"".join(download.streaming_content).decode()
        assert download["Content-Type"] == "text/csv"
        assert content.splitlines()[0] == "line,reason,account_id,date,amount"
        assert "3,account_id: unknown account" in content and "C-404" in content
        leftovers = [p.name for p in upload_dir.rglob("*") if p.is_file()]
        assert leftovers == ["ledger.rejected.csv"]  # the input is gone; the rejected rows stay for download

    def test_create_accounts_option(self, lead, run_worker):
        client = client_for(lead)
        start(client, preview_url(upload(client, "account_id,account_name,date,amount\nN-1,Newco GmbH,2026-01-01,5\n")),
              create_accounts="on")
        run_worker()
        assert ImportBatch.objects.get().accounts_created == 1
        assert Account.objects.get(external_id="N-1").name == "Newco GmbH"

    def test_same_file_twice_counts_nothing_twice(self, lead, customers, run_worker):
        client = client_for(lead)
        for _ in range(2):
            start(client, preview_url(upload(client, EUROPEAN)))
            run_worker()
        first, second = ImportBatch.objects.order_by("pk")
        assert (first.rows_imported, second.rows_imported, second.rows_duplicate) == (3, 0, 3)
        assert LedgerLine.objects.count() == 3

    def test_waiting_for_a_worker_is_said(self, lead, customers):
        client = client_for(lead)
        start(client, preview_url(upload(client, EUROPEAN)))
        batch = ImportBatch.objects.get()
        url = reverse("revenue:import_batch", args=[batch.pk])
        assert "Queued" in client.get(url).content.decode()
        DBTaskResult.objects.update(enqueued_at=batch.created_at - datetime.timedelta(minutes=1))
        assert "Waiting for a background worker" in client.get(url).content.decode()

    def test_file_gone_before_the_worker_came(self, lead, customers, run_worker, upload_dir):
        client = client_for(lead)
        start(client, preview_url(upload(client, EUROPEAN)))
        for path in upload_dir.rglob("ledger.csv"):
            path.unlink()
        run_worker()
        batch = ImportBatch.objects.get()
        assert batch.status == BatchStatus.REJECTED and "upload it again" in batch.report["message"]
        assert "upload it again" in client.get(reverse("revenue:import_batch", args=[batch.pk])).content.decode()

    def test_rates_and_subscriptions_files(self, lead, customers, run_worker):
        client = client_for(lead)
        start(client, preview_url(upload(client, "date;currency;rate\n01.01.2026;USD;0,92\n", kind="rates", name="rates.csv")))
        run_worker()
        assert ExchangeRate.objects.get().rate == decimal.Decimal("0.92000000")
        text = "customer_id,plan,mrr,start\nC-1,Premium,1200.50,2026-01-01\nC-404,Basic,10,2026-01-01\n"
        start(client, preview_url(upload(client, text, kind="subscriptions", name="subs.csv")))
        run_worker()
        rejected = ImportBatch.objects.get(kind="subscriptions")
        assert rejected.status == BatchStatus.REJECTED and Subscription.objects.count() == 0
        assert rejected.report["errors"][0]["line"] == 3 and "unknown account" in rejected.report["errors"][0]["reason"]
        start(client, preview_url(upload(client, text.splitlines()[0] + "\n" + text.splitlines()[1] + "\n",
                                         kind="subscriptions", name="subs.csv")))
        run_worker()
        assert Subscription.objects.get().monthly_amount == decimal.Decimal("1200.50")


class TestRollback:
    def test_confirm_then_roll_back(self, lead, customers, tmp_path):
        path = tmp_path / "x.csv"
        path.write_text("account_id,date,amount\nC-1,2026-01-01,100\n")
        batch = services.import_ledger(path, by=lead).batch
        client = client_for(lead)
        url = reverse("revenue:import_rollback", args=[batch.pk])
        confirm = client.get(url).content.decode()
        assert "Roll back batch" in confirm and "1 ledger line leaves the ledger" in confirm
        assert LedgerLine.objects.count() == 1  # asking changes nothing
        response = client.post(url)
        assert response.status_code == 302
        batch.refresh_from_db()
        assert batch.status == BatchStatus.ROLLED_BACK and LedgerLine.objects.count() == 0
        assert MonthlyRollup.objects.count() == 0
        again = client.post(url)
        assert again.status_code == 400 and "only imported batches can be rolled back" in again.content.decode()
        assert "Rolled back by Lena Lead" in client.get(reverse("revenue:import_batch", args=[batch.pk])).content.decode()


class TestSubscriptionsCard:
    def test_account_page_loads_the_card_from_revenue(self, lead, account):
        html = client_for(lead).get(reverse("accounts:detail", args=[account.pk])).content.decode()
        url = reverse("revenue:account_subscriptions", args=[account.pk])
        assert f'hx-get="{url}"' in html and 'hx-trigger="load"' in html and f'href="{url}"' in html

    def test_card_fragment_and_plain_page(self, lead, account):
        services.add_subscription(account, by=lead, plan="Premium", monthly_amount=decimal.Decimal("1200"), currency="EUR",
                                  start=datetime.date(2025, 1, 1))
        client = client_for(lead)
        url = reverse("revenue:account_subscriptions", args=[account.pk])
        fragment = client.get(url, headers={"HX-Request": "true"}).content.decode()
        assert 'id="subscriptions"' in fragment and "<html" not in fragment and "Premium" in fragment
        assert "1,200.00" in fragment and "running" in fragment and "Add a subscription" in fragment
        page = client.get(url).content.decode()
        assert "<html" in page and "Acme Manufacturing" in page and "Premium" in page

    def test_add_and_end(self, lead, account):
        client = client_for(lead)
        url = reverse("revenue:account_subscriptions", args=[account.pk])
        response = client.post(url, {"plan": "Standard", "monthly_amount": "490.50", "currency": "USD", "start": "2026-01-01"},
                               headers={"HX-Request": "true"})
        assert response.status_code == 200 and "accountChanged" in response["HX-Trigger"]
        subscription = Subscription.objects.get()
        assert (subscription.plan, subscription.monthly_amount, subscription.currency) == ("Standard", decimal.Decimal("490.50"), "USD")
        assert "Standard" in response.content.decode()
        end_url = reverse("revenue:subscription_end", args=[account.pk, subscription.pk])
        bad = client.post(end_url, {"end": "2025-12-01"}, headers={"HX-Request": "true"})
        assert "The end must be after the start." in bad.content.decode()
        client.post(end_url, {"end": "2026-06-30"}, headers={"HX-Request": "true"})
        subscription.refresh_from_db()
        assert subscription.end == datetime.date(2026, 6, 30)
        assert subscription.history.count() == 2  # who and when, in the history

    def test_bad_input_is_named(self, lead, account):
        response = client_for(lead).post(
            reverse("revenue:account_subscriptions", args=[account.pk]),
            {"plan": "", "monthly_amount": "-5", "currency": "EUR", "start": "2026-02-01", "end": "2026-01-01"},
        )
        assert response.status_code == 400
        html = response.content.decode()
        assert "This field is required." in html and "greater than or equal to 0" in html
        assert Subscription.objects.count() == 0

    def test_end_before_start_is_refused(self, lead, account):
        response = client_for(lead).post(
            reverse("revenue:account_subscriptions", args=[account.pk]),
            {"plan": "Basic", "monthly_amount": "5", "currency": "EUR", "start": "2026-02-01", "end": "2026-01-01"},
            headers={"HX-Request": "true"},
        )
        assert response.status_code == 200 and "The end must be after the start." in response.content.decode()
        assert Subscription.objects.count() == 0

    def test_visibility_and_rights(self, lead, kam, viewer, kam_account, make_account):
        other = make_account("Secret Corp")
        client = client_for(kam)
        assert client.get(reverse("revenue:account_subscriptions", args=[other.pk])).status_code == 404
        assert client.get(reverse("revenue:account_subscriptions", args=[kam_account.pk])).status_code == 200
        data = {"plan": "Basic", "monthly_amount": "5", "currency": "EUR", "start": "2026-01-01"}
        assert client.post(reverse("revenue:account_subscriptions", args=[kam_account.pk]), data).status_code == 302
        reader = client_for(viewer)
        card = reader.get(reverse("revenue:account_subscriptions", args=[kam_account.pk]), headers={"HX-Request": "true"})
        assert "Basic" in card.content.decode() and "Add a subscription" not in card.content.decode()
        assert reader.post(reverse("revenue:account_subscriptions", args=[kam_account.pk]), data).status_code == 403
        subscription = Subscription.objects.get()
        end_url = reverse("revenue:subscription_end", args=[kam_account.pk, subscription.pk])
        assert reader.post(end_url, {"end": "2026-06-01"}).status_code == 403
        assert Subscription.objects.count() == 1 and Subscription.objects.get().end is None


def test_stale_uploads_are_purged_but_rejected_rows_kept_longer(lead, upload_dir):
    import os
    import time

    from keyplan.revenue import uploads

    old, recent, rejected = (uploads.save_upload(csv_file(EUROPEAN), kind="ledger", by=lead) for _ in range(3))
    (rejected.path.parent / "ledger.rejected.csv").write_text("line,reason\n")
    rejected.path.unlink()
    two_days_ago = time.time() - 2 * 86400
    for folder in (old.path.parent, rejected.path.parent):
        os.utime(folder, (two_days_ago, two_days_ago))
    uploads.purge_stale()
    assert uploads.find_upload(old.token) is None and not old.path.parent.exists()
    assert uploads.find_upload(recent.token) is not None
    assert (rejected.path.parent / "ledger.rejected.csv").exists()


def test_a_task_that_could_not_start_stops_the_polling(lead, make_account, run_worker):
    from keyplan.revenue import uploads

    make_account("Acme", external_id="C-1")
    upload = uploads.save_upload(csv_file("account_id,date,amount\nC-1,2026-01-02,5\n"), kind="ledger", by=lead)
    batch = uploads.start_import(upload, by=lead, choices=uploads.ImportChoices(mapping={}))
    # Arguments that no longer fit the task (as after an upgrade with tasks still queued): it fails before it begins.
    DBTaskResult.objects.update(args_kwargs={"args": [], "kwargs": {"batch_id": batch.pk, "path": "x", "options": {}, "bad": 1}})
    run_worker()
    assert DBTaskResult.objects.get().status == "FAILED"
    fragment = client_for(lead).get(reverse("revenue:import_batch", args=[batch.pk]), headers={"HX-Request": "true"})
    html = fragment.content.decode()
    assert "hx-trigger" not in html and "The import broke off." in html
