"""Files that must not hurt the server, generated here: workbooks that expand to gigabytes, random bytes, a line
of 10 MB, an amount of 400 digits, UTF-16. Each gets a clear answer naming the problem, never a 500, never a
batch left validating, and the uploaded file does not stay on the server."""

import codecs
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from keyplan.revenue.models import BatchStatus, ImportBatch, LedgerLine
from tests.conftest import client_for

NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PARTS = {
    "[Content_Types].xml": '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
    'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>',
    "_rels/.rels": '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
    f'relationships"><Relationship Id="rId1" Type="{REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
    "xl/workbook.xml": f'<?xml version="1.0" encoding="UTF-8"?><workbook {NS} xmlns:r="{REL}"><sheets>'
    '<sheet name="Ledger" sheetId="1" r:id="rId1"/></sheets></workbook>',
    "xl/_rels/workbook.xml.rels": '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/'
    f'package/2006/relationships"><Relationship Id="rId1" Type="{REL}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
}


def row(number: int, *cells: str) -> bytes:
    inner = "".join(f'<c r="{chr(65 + i)}{number}" t="inlineStr"><is><t>{value}</t></is></c>' for i, value in enumerate(cells))
    return f'<row r="{number}">{inner}</row>'.encode()


def workbook(path: Path, rows) -> Path:
    """An .xlsx written part by part; ``rows`` yields the sheet's rows as XML bytes (streamed: gigabytes are fine)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, text in PARTS.items():
            archive.writestr(name, text)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(f'<?xml version="1.0" encoding="UTF-8"?><worksheet {NS}><sheetData>'.encode())
            sheet.write(row(1, "account_id", "date", "amount"))
            for data in rows:
                sheet.write(data)
            sheet.write(b"</sheetData></worksheet>")
    return path


def huge_cell(size: int):
    yield b'<row r="2"><c r="A2" t="inlineStr"><is><t>'
    block = b"A" * (1 << 20)
    for _ in range(size // len(block)):
        yield block
    yield b"</t></is></c></row>"


def many_rows(count: int):
    for start in range(2, count + 2, 10_000):
        yield b"".join(row(n, "C-1", "2026-01-02", "5") for n in range(start, min(start + 10_000, count + 2)))


@pytest.fixture
def customers(make_account):
    return [make_account(f"Customer {i}", external_id=f"C-{i}") for i in (1, 2)]


def refused_on_upload(client, path: Path, upload_dir: Path) -> str:
    """Upload on the Imports page: refused with a message on the form (400), nothing kept."""
    with open(path, "rb") as handle:
        response = client.post(reverse("revenue:imports"), {"kind": "ledger", "file": SimpleUploadedFile(path.name, handle.read())})
    assert response.status_code == 400, response.status_code
    assert ImportBatch.objects.count() == 0 and not any(upload_dir.rglob("*.*"))
    return " ".join(response.context["form"].errors["file"])


class TestWorkbooks:
    def test_a_generated_workbook_imports(self, tmp_path, lead, customers, run_worker, upload_dir):
        """The generator makes workbooks openpyxl reads: the refusals below are the limits, not a broken file."""
        path = workbook(tmp_path / "fine.xlsx", [row(2, "C-1", "2026-01-02", "5"), row(3, "C-2", "2026-01-03", "7")])
        client = client_for(lead)
        with open(path, "rb") as handle:
            response = client.post(reverse("revenue:imports"), {"kind": "ledger", "file": SimpleUploadedFile("fine.xlsx", handle.read())})
        assert response.status_code == 302
        page = client.get(response["Location"])
        form = page.context["form"]
        client.post(response["Location"], {name: form[name].value() or "" for name in form.fields})
        run_worker()
        assert ImportBatch.objects.get().status == BatchStatus.DONE and LedgerLine.objects.count() == 2

    def test_one_cell_of_a_gigabyte_is_refused_by_the_expanded_size(self, tmp_path, lead, upload_dir):
        path = workbook(tmp_path / "bomb.xlsx", huge_cell(1 << 30))
        assert path.stat().st_size < 10 << 20  # a few megabytes on disk
        message = refused_on_upload(client_for(lead), path, upload_dir)
        assert "bomb.xlsx expands to 1,024 MB when opened; a workbook may expand to 512 MB" in message

    def test_a_cell_longer_than_excel_writes_is_refused(self, tmp_path, lead, upload_dir):
        path = workbook(tmp_path / "cell.xlsx", huge_cell(3 << 20))
        message = refused_on_upload(client_for(lead), path, upload_dir)
        assert "has a cell of more than 200,000 bytes (xl/worksheets/sheet1.xml)" in message

    def test_a_million_rows_beyond_excels_limit_are_refused(self, tmp_path, lead, upload_dir):
        path = workbook(tmp_path / "rows.xlsx", many_rows(1_100_000))
        message = refused_on_upload(client_for(lead), path, upload_dir)
        assert "more than 1,048,576 rows in a sheet" in message

    def test_random_bytes_named_xlsx(self, tmp_path, lead, upload_dir, api_client):
        path = tmp_path / "random.xlsx"
        path.write_bytes(os.urandom(200_000))
        message = refused_on_upload(client_for(lead), path, upload_dir)
        assert "random.xlsx is not an Excel workbook: an .xlsx file is a ZIP archive and this one is not" in message
        response = api_client(lead).post("/api/v1/imports/", {"kind": "ledger", "file": SimpleUploadedFile("random.xlsx", path.read_bytes())})
        assert response.status_code == 422 and "is not an Excel workbook" in json.loads(response.content)["detail"][0]["msg"]
        assert not any(upload_dir.rglob("*.*"))

    def test_opening_the_bombs_stays_far_below_a_gigabyte(self, tmp_path):
        """What the web and the worker do with each file, in a process of its own: its peak memory."""
        files = [workbook(tmp_path / "bomb.xlsx", huge_cell(1 << 30)), workbook(tmp_path / "rows.xlsx", many_rows(1_100_000))]
        # VmHWM: this process's peak resident memory (ru_maxrss would carry the forking test process's over).
        script = ("import re, sys\nfrom keyplan.revenue.reading import ReadError, open_table\n"
                  "for name in sys.argv[1:]:\n    try:\n        open_table(name)\n    except ReadError:\n        pass\n"
                  "print(re.search(r'VmHWM:\\s+(\\d+) kB', open('/proc/self/status').read()).group(1))")
        done = subprocess.run([sys.executable, "-c", script, *map(str, files)], capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        assert int(done.stdout) < 300 * 1024  # kB: under 300 MB, Polars and openpyxl loaded (measured: about 80 MB)


class TestTextFiles:
    def test_a_line_of_ten_megabytes_among_the_first(self, lead, upload_dir, tmp_path):
        path = tmp_path / "long.csv"
        path.write_text("account_id,date,amount\nC-1,2026-01-02," + "9" * (10 << 20) + "\n")
        message = refused_on_upload(client_for(lead), path, upload_dir)
        assert "Line 2 of long.csv is longer than 100,000 characters" in message

    def test_a_line_of_ten_megabytes_further_down_is_a_row_error(self, lead, customers, run_worker, upload_dir):
        text = "account_id,date,amount,product\n" + "C-1,2026-01-02,5,ok\n" * 60 + "C-2,2026-01-03,6," + "x" * (10 << 20) + "\n"
        batch = run_upload(lead, text, run_worker)
        assert batch.status == BatchStatus.REJECTED and LedgerLine.objects.count() == 0
        [error] = batch.report["errors"]
        assert (error["line"], error["column"], error["code"]) == (62, "product", "too_long")
        assert error["reason"] == "longer than 1,000 characters" and len(error["value"]) == 101
        assert not any(upload_dir.rglob("*.csv"))

    def test_an_amount_of_400_digits(self, lead, customers, run_worker, upload_dir):
        batch = run_upload(lead, "account_id,date,amount\nC-1,2026-01-02,5\nC-2,2026-01-03," + "9" * 400 + "\n", run_worker)
        assert batch.status == BatchStatus.REJECTED and LedgerLine.objects.count() == 0
        [error] = batch.report["errors"]
        assert (error["line"], error["column"], error["code"]) == (3, "amount", "number_too_large")
        page = client_for(lead).get(reverse("revenue:import_batch", args=[batch.pk])).content.decode()
        assert "too large: at most 16 digits before the decimal point" in page

    @pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
    def test_utf16_is_detected_and_read(self, lead, customers, run_worker, upload_dir, encoding):
        text = "Kundennummer;Datum;Betrag;Bemerkung\nC-1;31.01.2026;1.234,50;Größe ✓\nC-2;15.01.2026;10,00;\n"
        data = text.encode(encoding) if encoding != "utf-16" else codecs.BOM_UTF16_LE + text.encode("utf-16-le")
        batch = run_upload(lead, data, run_worker)
        assert (batch.status, batch.rows_imported) == (BatchStatus.DONE, 2)
        assert sorted(LedgerLine.objects.values_list("amount", flat=True)) == [10, 1234.5]

    def test_binary_named_csv(self, lead, upload_dir, tmp_path):
        path = tmp_path / "binary.csv"
        path.write_bytes(bytes(range(256)) * 100)
        message = refused_on_upload(client_for(lead), path, upload_dir)
        assert "binary.csv is not a text file" in message or "cannot be read" in message


def run_upload(lead, text: str | bytes, run_worker) -> ImportBatch:
    """Upload, preview and start on the pages, then let the worker run it."""
    client = client_for(lead)
    data = text.encode() if isinstance(text, str) else text
    response = client.post(reverse("revenue:imports"), {"kind": "ledger", "file": SimpleUploadedFile("ledger.csv", data)})
    assert response.status_code == 302, response.content.decode()[:3000]
    form = client.get(response["Location"]).context["form"]
    started = client.post(response["Location"], {name: form[name].value() or "" for name in form.fields})
    assert started.status_code == 302, started.content.decode()[:3000]
    run_worker()
    batch = ImportBatch.objects.get()
    assert batch.status not in (BatchStatus.VALIDATING, BatchStatus.IMPORTING)
    return batch
