"""Imports that must not leave wrong numbers or hurt the server: injection in the rejected rows, the same file
twice, a busy SQLite database."""

import json
import sqlite3

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse

from keyplan.accounts.models import Account
from keyplan.revenue import services
from keyplan.revenue.models import ImportBatch, LedgerLine
from keyplan.revenue.services import LedgerOptions, import_ledger
from tests.conftest import client_for

LEDGER = "account_id,date,amount\nC-1,2026-01-31,100.00\nC-2,2026-01-15,10.00\n"


@pytest.fixture
def customers(make_account):
    return [make_account(f"Customer {i}", external_id=f"C-{i}") for i in (1, 2)]


def upload(client, text: str, name: str = "ledger.csv"):
    response = client.post(reverse("revenue:imports"), {"kind": "ledger", "file": SimpleUploadedFile(name, text.encode())})
    assert response.status_code == 302, response.content.decode()[:2000]
    return response["Location"]


def start(client, url: str):
    form = client.get(url).context["form"]
    return client.post(url, {name: form[name].value() or "" for name in form.fields})


class TestRejectedRowsFile:
    def test_cells_that_would_run_as_formulas_are_neutralised(self, tmp_path, lead, customers):
        path = tmp_path / "ledger.csv"
        path.write_text("account_id,date,amount,product\n"
                        "C-1,2026-01-02,50,ok\n"
                        "=HYPERLINK(\"http://evil\"),2026-01-02,5,@SUM(A1)\n"
                        "C-2,yesterday,-7.50,+cmd|' /C calc'!A0\n"
                        "C-2,2026-01-03,-2+3,\tx\n")
        result = import_ledger(path, by=lead, options=LedgerOptions(skip_invalid=True))
        assert (result.rows_imported, result.rows_rejected) == (1, 3)
        import csv

        rows = list(csv.reader(result.rejected_file.read_text().splitlines()))
        assert rows[0] == ["line", "reason", "account_id", "date", "amount", "product"]
        by_line = {row[0]: row for row in rows[1:]}
        assert by_line["3"][2] == "'=HYPERLINK(\"http://evil\")" and by_line["3"][5] == "'@SUM(A1)"
        assert by_line["4"][4] == "-7.50" and by_line["4"][5] == "'+cmd|' /C calc'!A0"  # a plain number stays a number
        assert by_line["5"][4] == "'-2+3"
        for row in rows[1:]:
            assert not any(cell.startswith(("=", "+", "@", "\t", "\r")) for cell in row)


class TestSameFileAgain:
    def test_preview_warns_before_anything_runs(self, lead, customers, run_worker):
        client = client_for(lead)
        start(client, upload(client, LEDGER))
        run_worker()
        first = ImportBatch.objects.get()
        url = upload(client, LEDGER, name="renamed.csv")
        page = client.get(url)
        warning = page.context["same_file"]
        assert warning == first
        html = page.content.decode()
        assert f"This file was imported as <a href=\"/revenue/imports/{first.pk}/\">batch {first.pk}</a>" in html \
            or f"batch {first.pk}</a>" in html
        assert "id=\"same-file\"" in html and ImportBatch.objects.count() == 1  # nothing ran
        other = upload(client, LEDGER.replace("100.00", "101.00"))
        assert client.get(other).context["same_file"] is None

    def test_a_batch_that_added_nothing_says_so(self, lead, customers, run_worker):
        client = client_for(lead)
        for _ in range(2):
            start(client, upload(client, LEDGER))
            run_worker()
        first, second = ImportBatch.objects.order_by("pk")
        page = client.get(reverse("revenue:import_batch", args=[second.pk])).content.decode()
        assert "id=\"nothing-new\"" in page and "all 2 lines of this file were already in the ledger" in page
        assert "The portfolio&#x27;s numbers include these lines now" not in page
        assert "nothing new" in client.get(reverse("revenue:imports")).content.decode()
        services.rollback_batch(first, by=lead)
        page = client.get(reverse("revenue:import_batch", args=[second.pk])).content.decode()
        assert f"Batch {first.pk}</a>, which imported the same file, has since been rolled back" in page
        assert LedgerLine.objects.count() == 0

    def test_api_answers_409_naming_the_batch_unless_repeat(self, lead, customers, api_client, run_worker, upload_dir):
        client = api_client(lead)

        def post(**fields):
            return client.post("/api/v1/imports/", {"kind": "ledger", **fields, "file": SimpleUploadedFile("l.csv", LEDGER.encode())})

        assert post().status_code == 202
        run_worker()
        first = ImportBatch.objects.get()
        response = post()
        assert response.status_code == 409
        answer = json.loads(response.content)
        assert answer["batch"] == first.pk and f"imported as batch {first.pk}" in answer["detail"]
        assert ImportBatch.objects.count() == 1 and not any(upload_dir.iterdir())
        assert post(repeat="true").status_code == 202
        run_worker()
        assert ImportBatch.objects.order_by("-pk").first().rows_duplicate == 2


@pytest.mark.skipif(connection.vendor != "sqlite", reason="only SQLite locks the whole database for one writer")
class TestBusyDatabase:
    """Another connection holds SQLite's write lock (as a long import or rollback does): writers get a clear 'busy'."""

    @pytest.fixture
    def lock(self, transactional_db):
        """Take SQLite's write lock on another connection, as a long import or rollback holds it."""
        name = str(connection.settings_dict["NAME"])  # the test database: a file, or shared in-memory ("file:…?mode=memory")
        other = sqlite3.connect(name, uri=name.startswith("file:"), timeout=0.1, check_same_thread=False)

        def take():
            other.execute("BEGIN IMMEDIATE")
            other.execute("UPDATE accounts_account SET name = name")
            return other

        yield take
        other.rollback()
        other.close()

    def test_api_write_answers_503_json_with_retry_after(self, lead, customers, api_client, lock):
        account = customers[0]
        client = api_client(lead)
        writer = lock()
        response = client.patch(f"/api/v1/accounts/{account.pk}", {"name": "Renamed"}, content_type="application/json")
        assert response.status_code == 503 and response["Retry-After"] == "5"
        assert response["Content-Type"].startswith("application/json")
        assert "busy" in json.loads(response.content)["detail"]
        writer.rollback()
        assert Account.objects.get(pk=account.pk).name != "Renamed"
        assert client.patch(f"/api/v1/accounts/{account.pk}", {"name": "Renamed"}, content_type="application/json").status_code == 200

    def test_page_write_answers_a_readable_503(self, lead, customers, lock):
        account = customers[0]
        client = client_for(lead)
        client.get(reverse("accounts:edit", args=[account.pk]))
        lock()
        response = client.post(reverse("accounts:edit", args=[account.pk]), {"name": "Renamed", "external_id": account.external_id,
                                                                               "reporting_currency": "EUR"})
        assert response.status_code == 503 and response["Retry-After"] == "5"
        html = response.content.decode()
        assert "Busy, try again" in html and "Nothing of it was saved" in html


class TestRollbackAndTheAccountsItCreated:
    def test_accounts_only_the_batch_made_are_archived_and_come_back_with_its_lines(self, tmp_path, lead, customers):
        first = tmp_path / "first.csv"
        first.write_text("account_id,account_name,date,amount\nN-1,Newco,2026-01-02,50\nN-2,Twoco,2026-01-03,7\nC-1,,2026-01-04,1\n")
        batch = import_ledger(first, by=lead, options=LedgerOptions(create_accounts=True)).batch
        assert batch.accounts_created == 2
        other = tmp_path / "other.csv"
        other.write_text("account_id,date,amount\nN-2,2026-02-03,9\n")  # N-2 has revenue of its own from another import
        import_ledger(other, by=lead)
        client = client_for(lead)
        page = client.get(reverse("revenue:import_rollback", args=[batch.pk])).content.decode()
        assert "The import created 2 accounts. Those that nothing else refers to" in page

        assert client.post(reverse("revenue:import_rollback", args=[batch.pk])).status_code == 302
        newco, twoco, acme = (Account.objects.get(external_id=e) for e in ("N-1", "N-2", "C-1"))
        assert newco.archived_at is not None and twoco.archived_at is None and acme.archived_at is None
        record = newco.history.first()
        assert (record.history_user, record.history_change_reason) == (lead, f"Archived: import batch {batch.pk} that created it was rolled back")
        page = client.get(reverse("revenue:import_batch", args=[batch.pk])).content.decode()
        assert "1 account it had created, with nothing else of its own, was archived." in page

        # The same file again: Newco's revenue comes back, and so does Newco, or its revenue would not count.
        again = import_ledger(first, by=lead, options=LedgerOptions(create_accounts=True)).batch
        newco.refresh_from_db()
        assert newco.archived_at is None and again.accounts_created == 0
        assert newco.history.first().history_change_reason == f"Restored: import batch {again.pk} brings its revenue again"
        from keyplan.revenue.models import MonthlyRollup

        assert MonthlyRollup.objects.get(account=newco).revenue == 50

    def test_an_account_a_person_archived_stays_archived(self, tmp_path, lead, customers):
        from keyplan.accounts.services import archive_account

        archive_account(customers[0], by=lead)
        path = tmp_path / "l.csv"
        path.write_text("account_id,date,amount\nC-1,2026-01-02,50\n")
        import_ledger(path, by=lead)
        assert Account.objects.get(pk=customers[0].pk).archived_at is not None
