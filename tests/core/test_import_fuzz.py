"""Every importer, fed mutated and hostile files through `keyplan import KIND FILE`, as a user runs it.

Hypothesis starts from a valid sample of each kind and breaks it: random bytes, flipped and cut bytes,
other encodings, formula cells, huge fields and numbers, control characters, no columns, thousands of
columns, the same as an Excel workbook. Whatever arrives, the command ends with 0 (imported), 1 (a report of
the bad rows) or 2 (a file it cannot read, with the reason), never a traceback; a dry run writes nothing; a refused file writes nothing (row counts of
every table and a checksum of the ledger before and after).
"""

import io
import json
import traceback
from pathlib import Path

import pytest
from django.apps import apps
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from openpyxl.utils.exceptions import IllegalCharacterError

from keyplan.cli import build_parser, main
from keyplan.revenue.models import ImportBatch, LedgerLine

CRM_SAMPLES = Path(__file__).resolve().parents[1] / "crm" / "data"
SAMPLES = {
    "ledger": "line_id,account_id,date,amount,currency,product\nL1,FZ-1,2026-01-02,50.00,EUR,Widgets\nL2,FZ-2,2026-02-03,7.5,EUR,Gadgets\n",
    "subscriptions": "account_id,plan,monthly_amount,start,end\nFZ-1,Premium,3900,2025-01-01,\nFZ-2,Basic,490,2025-03-01,2025-09-01\n",
    "rates": "date,currency,rate\n2026-01-01,USD,0.9\n2026-02-01,GBP,1.2\n",
    "credit-ratings": "account_id,credit_rating\nFZ-1,AA\nFZ-2,B\n",
    "surveys": "account_id,kind,score,date,stakeholder,comment\nFZ-1,nps,9,2026-01-05,,Great service\n",
    "usage": "account_id,date,metric,value\nFZ-1,2026-01-05,logins,12\nFZ-2,2026-01-06,seats,3\n",
    "tickets": "account_id,ticket_id,opened,closed,severity\nFZ-1,T1,2026-01-05,2026-01-06,high\n",
    "payments": "account_id,invoice,due_date,paid,amount\nFZ-1,I-1,2026-01-05,2026-01-20,100\n",
    "opportunities": "account_id,name,amount\nFZ-1,Upsell,1000\n",
    "accounts": "external_id,name,country\nFZ-3,Fuzz Three,NL\nFZ-1,Fuzz One,DE\n",
    "stakeholders": "Account ID,First Name,Last Name,Email,Title\nFZ-1,Ada,Boss,ada@fz.example,Chair\n",
    "interactions": "date,kind,summary,account_id\n2026-01-05,call,Quarterly call,FZ-1\n",
    "calendar": (CRM_SAMPLES / "outlook.ics").read_text(encoding="utf-8"),
    "mail": (CRM_SAMPLES / "inbox.mbox").read_text(encoding="utf-8"),
}
# Files that are not tables are recognised by their suffix.
SUFFIX = {"calendar": ".ics", "mail": ".mbox"}
# A kind without its own sample gets this one: account ids, a name, a date and a number reach most readers.
GENERIC = "account_id,name,email,date,amount\nFZ-1,Fuzz One,one@example.com,2026-01-05,10\n"


def _kinds() -> list[str]:
    parser = build_parser()
    command = next(action for action in parser._subparsers._group_actions).choices["import"]  # noqa: SLF001
    return next(action.choices for action in command._actions if action.dest == "kind")  # noqa: SLF001


HOSTILE_CELLS = st.sampled_from([
    "=1+2", "+SUM(A1:A9)", "-2+3", "@cmd", "\t=1", "\r=1", "", " ", "NaN", "inf", "-0", "1e309", "9" * 400,
    "1.000.000,50", "12,5", "x" * 70_000, "\x00", "\x1b[31m", "\u202e", "😀" * 50, "2026-02-30", "9999-12-31",
    "0001-01-01", "ACME\nNEXT", '"unbalanced', "O'Brien", "<script>", "FZ-1", "FZ-9",
])


@st.composite
def csv_files(draw, sample: str) -> bytes:
    rows = [line.split(",") for line in sample.strip().split("\n")]
    how = draw(st.sampled_from(["cells", "bytes", "random", "columns", "empty", "encoding"]))
    if how == "random":
        return draw(st.binary(max_size=4000))
    if how == "empty":
        return draw(st.sampled_from([b"", b"\n\n\n", b",,,\n", rows[0][0].encode() + b"\n", ",".join(rows[0]).encode() + b"\n"]))
    if how == "columns":
        count = draw(st.sampled_from([1_000, 20_000, 100_000]))
        return ("\n".join(",".join(row + [f"c{i}" for i in range(count)]) for row in rows) + "\n").encode()
    if how == "cells":
        for _ in range(draw(st.integers(1, 4))):
            row = draw(st.integers(0, len(rows) - 1))
            column = draw(st.integers(0, len(rows[row]) - 1))
            rows[row][column] = draw(HOSTILE_CELLS)
    text = "\n".join(",".join(row) for row in rows) + "\n"
    if how == "encoding":
        codec = draw(st.sampled_from(["utf-16", "utf-16-le", "utf-32", "latin-1", "cp1252", "utf-8-sig"]))
        return text.encode(codec, errors="replace")
    data = bytearray(text.encode())
    if how == "bytes":
        for _ in range(draw(st.integers(1, 8))):
            position = draw(st.integers(0, max(0, len(data) - 1)))
            action = draw(st.sampled_from(["flip", "cut", "insert"]))
            if action == "flip" and data:
                data[position] ^= draw(st.integers(1, 255))
            elif action == "cut":
                del data[position:position + draw(st.integers(1, 20))]
            else:
                data[position:position] = draw(st.binary(min_size=1, max_size=20))
    return bytes(data)


def _workbook(data: bytes) -> bytes:
    """The CSV's cells in the first sheet of an .xlsx (cells openpyxl refuses are left out)."""
    book = Workbook()
    sheet = book.active
    for row in data.decode("utf-8", errors="replace").split("\n")[:200]:
        cells = row.split(",")[:16_384]
        try:
            sheet.append(cells)
        except (ValueError, IllegalCharacterError):  # a control character openpyxl will not write
            sheet.append(["?"] * len(cells))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _state() -> dict:
    """Row counts of every table (except the import log, which records refusals too) and the ledger's sum."""
    counts = {model._meta.label: model.objects.count() for model in apps.get_models() if model is not ImportBatch}
    counts["ledger amount"] = LedgerLine.objects.aggregate(total=Sum("amount_reporting"))["total"]
    return counts


@pytest.fixture
def world(lead, make_account):
    make_account("Fuzz One", external_id="FZ-1")
    make_account("Fuzz Two", external_id="FZ-2")
    return lead


def _run(kind: str, path, dry_run: bool, capsys) -> tuple[int, str, str]:
    arguments = ["import", kind, str(path), "--as", "lead", "--json"] + (["--dry-run"] if dry_run else [])
    try:
        code = main(arguments)
    except SystemExit as stop:  # argparse or a refusal before the command ran
        code = stop.code
    except Exception:  # noqa: BLE001  (the point of the test: show what escaped)
        pytest.fail(f"keyplan import {kind} raised:\n{traceback.format_exc()}")
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("kind", _kinds())
@settings(max_examples=25, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_hostile_files_get_a_report_and_change_nothing(kind, data, world, tmp_path, capsys):
    raw = data.draw(csv_files(SAMPLES.get(kind, GENERIC)), label="file")
    as_workbook = data.draw(st.booleans(), label="xlsx")
    dry_run = data.draw(st.booleans(), label="dry run")
    path = tmp_path / ("fuzz" + SUFFIX.get(kind, ".xlsx" if as_workbook else ".csv"))
    path.write_bytes(_workbook(raw) if as_workbook and data.draw(st.booleans(), label="real workbook") else raw)
    before = _state()
    code, out, err = _run(kind, path, dry_run, capsys)
    assert code in (0, 1, 2), (code, out[-500:], err[-500:])  # imported; a report; a file it cannot read
    assert "Traceback" not in out + err, err[-2000:]
    if code:
        assert (out + err).strip(), "a refusal must say why"
    if out.strip().startswith("{"):
        json.loads(out)  # --json prints one JSON document
    if dry_run or code:
        assert _state() == before, f"{kind}: a {'dry run' if dry_run else 'refused import'} changed the database"


@pytest.mark.parametrize("kind", _kinds())
def test_each_sample_is_a_valid_file(kind, world, tmp_path, capsys):
    """The samples above are what the mutations start from: each must import, or the fuzzing tests little."""
    if kind not in SAMPLES:
        pytest.skip(f"no sample for {kind}: it is fuzzed from the generic one")
    path = tmp_path / ("sample" + SUFFIX.get(kind, ".csv"))
    path.write_text(SAMPLES[kind], encoding="utf-8")
    code, out, err = _run(kind, path, True, capsys)
    assert code == 0, (out, err)


@pytest.mark.parametrize("kind", _kinds())
@pytest.mark.parametrize("shape", ["no columns", "100,000 columns", "16,384 columns in a workbook"])
def test_files_without_columns_or_with_too_many(kind, shape, world, tmp_path, capsys):
    """Excel's own limit is 16,384 columns: a workbook that wide still imports its known columns or says why."""
    if kind in SUFFIX:
        pytest.skip(f"{kind} files have no columns (their hostile shapes are in the test above)")
    sample = SAMPLES.get(kind, GENERIC).split("\n")
    filler = 16_384 - sample[0].count(",") - 1
    if shape == "no columns":
        path = tmp_path / "empty.csv"
        path.write_bytes(b"\n\n\n")
    elif shape == "100,000 columns":
        path = tmp_path / "wide.csv"
        path.write_text("\n".join(line + "," + ",".join(f"c{i}" for i in range(100_000)) for line in sample[:2]) + "\n")
    else:
        path = tmp_path / "wide.xlsx"
        path.write_bytes(_workbook("\n".join(line + "," * filler for line in sample[:2]).encode()))
    before = _state()
    code, out, err = _run(kind, path, False, capsys)
    assert code in (0, 1, 2) and "Traceback" not in out + err, (code, out[-300:], err[-300:])
    if shape != "16,384 columns in a workbook":
        assert code in (1, 2) and (out + err).strip(), (code, out[-300:])
    if code:
        assert _state() == before


@pytest.mark.parametrize("kind", sorted(SUFFIX))
@settings(max_examples=15, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_hostile_calendars_and_mailboxes_on_the_web_get_an_answer_and_change_nothing(kind, data, world, tmp_path):
    """The import page reads a calendar or mailbox when it is uploaded and again for its preview (a dry run):
    a hostile one is refused on the form (400) or previewed, never a server error, and nothing is written."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    from tests.conftest import client_for

    raw = data.draw(csv_files(SAMPLES[kind]), label="file")
    client = client_for(world)
    before = _state()
    response = client.post(reverse("revenue:imports"), {"kind": kind, "file": SimpleUploadedFile("fuzz" + SUFFIX[kind], raw)})
    assert response.status_code in (302, 400), response.status_code
    if response.status_code == 302:
        assert client.get(response["Location"]).status_code == 200
    assert _state() == before
