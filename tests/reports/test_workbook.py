"""The portfolio workbook (.xlsx) as users get it: `keyplan export workbook`, the button on the portfolio pages
and GET /api/v1/exports/workbook. Each test opens the file with openpyxl and reads what Excel would show."""

import datetime
import io
import json
import shutil
import subprocess

import openpyxl
import pytest
from django.urls import reverse

from keyplan.accounts.services import add_team_member
from keyplan.cli import main
from keyplan.reports.workbook import CONTENT_TYPE
from keyplan.revenue.services import import_ledger
from keyplan.scoring import services as scoring
from tests.conftest import client_for

TODAY = datetime.date.today()
THIS_YEAR = datetime.date(TODAY.year, 1, 1)
SHEETS = ["Summary", "Pareto", "ABC", "ABC accounts", "Profitability", "Scoring matrix", "Criteria", "At-risk queue",
          "Plan quality"]
EVIL = "=HYPERLINK(\"http://evil.example\",\"Click\")"


@pytest.fixture
def ledger(tmp_path, lead, kam, make_account):
    """Five accounts with revenue and cost this year and last; one is named like a formula; the KAM has F-C."""
    names = {"A": "Firm A", "B": EVIL, "C": "Firm C", "D": "@SUM(1+1)", "E": "Firm E"}
    accounts = {key: make_account(name, external_id=f"F-{key}", industry="chemicals" if key in "AB" else "retail")
                for key, name in names.items()}
    rows = ["line_id,account_id,date,amount,cost"]
    amounts = {"A": 500, "B": 200, "C": 150, "D": 100, "E": 50}
    for back in (0, 1):
        day = datetime.date(TODAY.year - back, 1, 15)
        for key, amount in amounts.items():
            rows.append(f"L{key}{back},F-{key},{day.isoformat()},{amount * (1 + back)},{amount * (0.3 + 0.1 * 'ABCDE'.index(key))}")
    (tmp_path / "ledger.csv").write_text("\n".join(rows) + "\n")
    assert import_ledger(tmp_path / "ledger.csv", by=lead).error_count == 0
    add_team_member(accounts["C"], by=lead, user=kam, role="kam")
    fit = scoring.create_criterion(by=lead, name="Product fit", group="growth", weight=100)
    culture = scoring.create_criterion(by=lead, name="Cultural fit", group="harmony", weight=100)
    for key, account in accounts.items():
        scoring.set_score(account, by=lead, criterion=fit, value=10 - "ABCDE".index(key))
        scoring.set_score(account, by=lead, criterion=culture, value=5)
    scoring.create_round(by=lead, name="Spring round", refresh=False)
    return accounts


def _open(content: bytes) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(content))


def _column(sheet, title: str) -> list:
    header = [cell.value for cell in sheet[1]]
    index = header.index(title)
    return [row[index] for row in sheet.iter_rows(min_row=2, values_only=True) if row[0] is not None]


def _period() -> dict:
    return {"from": THIS_YEAR.isoformat(), "to": TODAY.isoformat()}


def test_the_workbook_has_its_sheets_charts_numbers_and_formats(lead, ledger, api_client):
    response = api_client(lead).get("/api/v1/exports/workbook", _period())
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == CONTENT_TYPE
    assert response["Content-Disposition"] == (
        f'attachment; filename="keyplan-portfolio-{THIS_YEAR.isoformat()}-{TODAY.isoformat()}.xlsx"')
    book = _open(response.content)
    assert book.sheetnames == SHEETS
    assert len(book["Pareto"]._charts) == 1 and len(book["Profitability"]._charts) == 1
    # Pareto: bars and, on a second axis, the cumulative share and the 80 % line.
    chart = book["Pareto"]._charts[0]
    assert chart.tagname == "barChart" and len(chart._charts) == 2 and chart._charts[1].tagname == "lineChart"
    assert len(chart._charts[1].series) == 2
    assert {axis.axId for axis in (chart.y_axis, chart._charts[1].y_axis)} == {100, 200}
    assert book["Profitability"]._charts[0].tagname == "scatterChart"

    pareto = book["Pareto"]
    assert pareto.freeze_panes == "A2" and pareto.auto_filter.ref == "A1:G6"
    assert _column(pareto, "External id") == ["F-A", "F-B", "F-C", "F-D", "F-E"]
    assert _column(pareto, "Revenue") == [500, 200, 150, 100, 50]
    revenue = pareto["D2"]
    assert revenue.data_type == "n" and revenue.number_format == '#,##0.00 "EUR"'
    assert pareto["E2"].value == 0.5 and pareto["E2"].number_format == "0.0%"
    assert pareto.column_dimensions["B"].width >= len(EVIL)

    summary = {row[0]: row[1] for row in book["Summary"].iter_rows(values_only=True) if row[0]}
    assert summary["From"] == datetime.datetime.combine(THIS_YEAR, datetime.time())
    assert summary["Reporting currency"] == "EUR" and summary["Filters"] == "None"
    assert summary["Revenue"] == 1000 and summary["Accounts"] == 5
    assert isinstance(summary["Generated at"], datetime.datetime)
    assert summary["Latest selection round"].startswith("Spring round")

    profit = book["Profitability"]
    assert _column(profit, "Margin") == [350, 120, 75, 40, 15]
    assert profit["F2"].number_format == "0.0%" and profit["C2"].data_type == "n"
    abc = book["ABC"]
    assert [row[:4] for row in abc.iter_rows(min_row=2, max_row=2, values_only=True)] == [(TODAY.year, 3, 1, 1)]
    assert abc.auto_filter.ref == "A1:G2"
    assert {row[0]: row[-1] for row in book["ABC accounts"].iter_rows(min_row=2, values_only=True)}["F-A"] == "A"
    scores = book["Scoring matrix"]
    assert _column(scores, "External id")[0] == "F-A" and _column(scores, "Product fit")[0] == 10
    assert _column(scores, "Rank in Spring round")[0] == 1
    assert _column(book["Criteria"], "Weight (%)") == [100, 100]


def test_account_names_cannot_run_as_formulas(lead, ledger, api_client):
    book = _open(api_client(lead).get("/api/v1/exports/workbook", _period()).content)
    for sheet in ("Pareto", "Profitability", "ABC accounts", "Scoring matrix"):
        cells = [cell for row in book[sheet].iter_rows() for cell in row if isinstance(cell.value, str)]
        assert not [cell.coordinate for cell in cells if cell.data_type == "f"], sheet
        texts = {cell.value for cell in cells}
        assert "'" + EVIL in texts and "'@SUM(1+1)" in texts and EVIL not in texts, sheet


def test_a_team_members_workbook_holds_only_their_accounts(kam, ledger, api_client):
    book = _open(api_client(kam).get("/api/v1/exports/workbook", _period()).content)
    everything = {cell.value for sheet in book for row in sheet.iter_rows() for cell in row}
    assert "F-C" in everything and not {"F-A", "F-B", "F-D", "F-E"} & everything
    assert "Firm C" in everything and not {"Firm A", "'" + EVIL, "'@SUM(1+1)", "Firm E"} & everything
    assert _column(book["Pareto"], "Revenue") == [150]
    summary = {row[0]: row[1] for row in book["Summary"].iter_rows(values_only=True) if row[0]}
    assert summary["Revenue"] == 150 and summary["Accounts covered"] == "The accounts Karl Kam may see"


def test_filters_narrow_the_workbook_and_are_written_on_the_summary(lead, ledger, api_client):
    book = _open(api_client(lead).get("/api/v1/exports/workbook", {**_period(), "industry": "chemicals"}).content)
    assert _column(book["Pareto"], "External id") == ["F-A", "F-B"]
    summary = {row[0]: row[1] for row in book["Summary"].iter_rows(values_only=True) if row[0]}
    assert summary["Filters"] == "Industry: Chemicals"


@pytest.mark.parametrize("query, field", [
    ({"from": "2026-13-01"}, "from"),
    ({"to": "yesterday"}, "to"),
    ({"from": "2026-05-01", "to": "2026-01-01"}, "to"),
    ({"from": "0001-01-01"}, "from"),
    ({"kam": "99999999999999999999"}, "kam"),
])
def test_the_api_names_the_bad_field(lead, ledger, api_client, query, field):
    response = api_client(lead).get("/api/v1/exports/workbook", query)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", field]


def test_the_api_needs_a_login(db):
    from django.test import Client

    assert Client().get("/api/v1/exports/workbook").status_code == 401


def test_the_portfolio_pages_offer_the_workbook_of_their_period_and_filters(lead, ledger):
    client = client_for(lead)
    query = {"date_from": THIS_YEAR.isoformat(), "date_to": TODAY.isoformat(), "industry": "retail"}
    for url in (reverse("revenue:portfolio"), reverse("revenue:analysis", args=["pareto"])):
        body = client.get(url, query).content.decode()
        # The button starts a background job with the page's query (tests/reports/test_workbook_jobs.py); the same
        # query on the direct download gives the same workbook.
        query_string = body.split('action="' + reverse("reports:workbook_start"))[1].split('"')[0].replace("&amp;", "&")
        assert query_string.startswith("?") and "industry=retail" in query_string, query_string
        response = client.get(reverse("reports:workbook") + query_string)
        assert response.status_code == 200 and response["Content-Type"] == CONTENT_TYPE
        assert _column(_open(response.content)["Pareto"], "External id") == ["F-C", "F-D", "F-E"]
    bad = client.get(reverse("reports:workbook"), {"date_from": "2026-05-01", "date_to": "2026-01-01"})
    assert bad.status_code == 400 and "To: The period must end after it starts." in bad.content.decode()


def test_the_page_and_the_workbook_speak_the_readers_language(lead, ledger):
    client = client_for(lead)
    client.cookies["django_language"] = "nl"
    page = client.get(reverse("revenue:portfolio"), HTTP_ACCEPT_LANGUAGE="nl").content.decode()
    assert "Excel-werkmap" in page
    book = _open(client.get(reverse("reports:workbook"), HTTP_ACCEPT_LANGUAGE="nl").content)
    assert book.sheetnames[0] == "Samenvatting"


def test_the_cli_writes_the_workbook(lead, kam, ledger, tmp_path, capsys):
    out = tmp_path / "portfolio.xlsx"
    assert main(["export", "workbook", str(out), "--from", THIS_YEAR.isoformat(), "--to", TODAY.isoformat(), "--json"]) == 0
    written = json.loads(capsys.readouterr().out)
    assert written["sheets"] == SHEETS and written["accounts"] == 5 and written["currency"] == "EUR"
    assert _open(out.read_bytes()).sheetnames == SHEETS
    assert main(["export", "workbook", str(out), "--as", "kam", "--from", THIS_YEAR.isoformat()]) == 0
    assert "1 accounts" in capsys.readouterr().out
    assert _column(_open(out.read_bytes())["Pareto"], "External id") == ["F-C"]
    assert [path.name for path in tmp_path.iterdir() if path.suffix == ".xlsx"] == ["portfolio.xlsx"]  # no leftovers


@pytest.mark.parametrize("argv, message", [
    (["--from", "2026-02-30"], "argument --from: '2026-02-30' is not a date like 2026-01-31"),
    (["--from", "2026-05-01", "--to", "2026-01-01"], "--to (2026-01-01) is before --from (2026-05-01)"),
    (["--as", "nobody"], "--as: no active user is named 'nobody'"),
])
def test_the_cli_refuses_bad_arguments_with_exit_2(ledger, tmp_path, capsys, argv, message):
    assert _exit_code(["export", "workbook", str(tmp_path / "x.xlsx"), *argv]) == 2
    assert message in capsys.readouterr().err
    assert not list(tmp_path.glob("*.xlsx"))


def test_the_cli_refuses_a_folder_that_does_not_exist(db, tmp_path, capsys):
    assert main(["export", "workbook", str(tmp_path / "missing" / "x.xlsx")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["export", "workbook", str(tmp_path / "x.csv")]) == 2


def _exit_code(argv: list[str]) -> int:
    """What `keyplan ARGV` exits with: argparse's usage errors leave through SystemExit."""
    try:
        return main(argv)
    except SystemExit as exit_:
        return exit_.code


def test_libreoffice_converts_it_to_pdf(lead, ledger, api_client, tmp_path):
    """Where LibreOffice is installed, it opens the workbook headless and prints it (skipped elsewhere)."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        pytest.skip("LibreOffice is not installed")
    source = tmp_path / "portfolio.xlsx"
    source.write_bytes(api_client(lead).get("/api/v1/exports/workbook", _period()).content)
    result = subprocess.run(
        [soffice, f"-env:UserInstallation=file://{tmp_path}/profile", "--headless", "--convert-to", "pdf",
         "--outdir", str(tmp_path), str(source)], capture_output=True, text=True, timeout=180,
    )
    pdf = tmp_path / "portfolio.pdf"
    assert result.returncode == 0 and pdf.exists(), result.stderr
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 10_000


def test_the_at_risk_queue_and_plan_quality_sheets_hold_what_the_reader_may_see(lead, kam, ledger, api_client):
    from keyplan.accounts.services import set_tier
    from keyplan.health.services import open_case
    from keyplan.planning.services import create_plan

    for key in "AC":
        set_tier(ledger[key], by=lead, tier="key", reason="Selected")
        open_case(ledger[key], by=lead, reason=f"Unhappy {key}")
    create_plan(ledger["C"], by=lead, period=f"FY{TODAY.year}", summary="Grow")
    book = _open(api_client(lead).get("/api/v1/exports/workbook", _period()).content)
    queue = book["At-risk queue"]
    assert queue.freeze_panes == "A2" and queue["D2"].data_type == "n"
    assert sorted(_column(queue, "External id")) == ["F-A", "F-C"]
    assert set(_column(queue, "Reason")) == {"Unhappy A", "Unhappy C"}
    quality = book["Plan quality"]
    rows = {row[1]: row for row in quality.iter_rows(min_row=2, values_only=True) if row[0]}
    assert set(rows) == {"F-A", "F-C"} and rows["F-A"][4] == "no plan" and rows["F-C"][3] == f"FY{TODAY.year}"
    scored = [cell for cell in quality["G"][1:] if cell.value is not None]
    assert len(scored) == 1 and scored[0].number_format == "0.0%" and 0 < scored[0].value < 1

    mine = _open(api_client(kam).get("/api/v1/exports/workbook", _period()).content)
    assert _column(mine["At-risk queue"], "External id") == ["F-C"]
    assert [row[1] for row in mine["Plan quality"].iter_rows(min_row=2, values_only=True) if row[0]] == ["F-C"]
