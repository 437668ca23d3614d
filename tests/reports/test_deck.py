"""The account review deck (.pptx) as users get it: the button on the account page, GET /api/v1/exports/deck/ID and
`keyplan export deck`. Each test opens the file with python-pptx and reads what PowerPoint would show."""

import datetime
import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from django.urls import reverse
from pptx import Presentation
from pptx.enum.shapes import MSO_SHAPE_TYPE

from keyplan.cli import main
from keyplan.health import services as health
from keyplan.planning import services as planning
from keyplan.relationships import services as relationships
from keyplan.reports.deck import CONTENT_TYPE
from keyplan.reports.deck_template import default_template
from keyplan.revenue.services import import_ledger
from keyplan.scoring import services as scoring
from tests.conftest import client_for

TODAY = datetime.date.today()
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
TITLES = ["Acme Manufacturing", "Account snapshot", "Revenue and margin trend", "ABC history and selection scores",
          "Stakeholder map", "Who to win", f"Plan goals · FY{TODAY.year}", "Timeline", "Opportunities", "Whitespace",
          "Risks and next steps"]


@pytest.fixture
def reviewed(tmp_path, key_account, lead, kam, make_account):
    """The KAM's key account with a year of revenue, scores, stakeholders, a plan, an opportunity and a risk case;
    another account (not the KAM's) with revenue too."""
    other = make_account("Other Corp", external_id="O-1")
    rows = ["line_id,account_id,date,amount,cost,division,product_line"]
    for back in range(14):
        day = (TODAY.replace(day=1) - datetime.timedelta(days=30 * back)).replace(day=10)
        rows.append(f"L{back},{key_account.external_id},{day},{1000 + 10 * back},{600},Finance,Analytics")
        rows.append(f"O{back},O-1,{day},5,1,,")
    (tmp_path / "ledger.csv").write_text("\n".join(rows) + "\n")
    assert import_ledger(tmp_path / "ledger.csv", by=lead).error_count == 0
    fit = scoring.create_criterion(by=lead, name="Product fit", group="growth", weight=100)
    culture = scoring.create_criterion(by=lead, name="Cultural fit", group="harmony", weight=100)
    for account in (key_account, other):
        scoring.set_score(account, by=lead, criterion=fit, value=8)
        scoring.set_score(account, by=lead, criterion=culture, value=6)
    ceo = relationships.create_stakeholder(key_account, by=kam, data={
        "name": "Cora Chief", "title": "CEO", "department": "Board", "decision_power": "high", "sentiment": "critic",
        "buying_role": "decision_maker"})
    cfo = relationships.create_stakeholder(key_account, by=kam, data={
        "name": "Finn Ance", "title": "CFO", "department": "Finance", "reports_to": ceo, "sentiment": "supporter",
        "owner": kam, "is_key_contact": True})
    relationships.add_influence_line(key_account, by=kam, source=cfo, target=ceo)
    relationships.log_interaction(key_account, by=kam, kind="meeting", date=TODAY - datetime.timedelta(days=3),
                                  summary="Quarterly review", stakeholders=[cfo], next_step="Send the revised quote",
                                  next_step_owner=kam, next_step_due=TODAY + datetime.timedelta(days=7))
    plan = planning.create_plan(key_account, by=kam, period=f"FY{TODAY.year}")
    goal = planning.add_goal(plan, by=kam, data={"title": "Win the CEO's support", "horizon": "short", "owner": kam,
                                                 "due": TODAY + datetime.timedelta(days=60)})
    planning.add_action(goal, by=kam, data={"title": "CEO meeting with our board", "start": TODAY,
                                            "due": TODAY + datetime.timedelta(days=20), "stakeholder": ceo})
    planning.add_action(goal, by=kam, data={"title": "Reference visit", "due": TODAY + datetime.timedelta(days=40),
                                            "milestone": True})
    planning.add_opportunity(key_account, by=kam, data={"name": "Analytics for the board", "division": "Board",
                                                        "product_line": "Analytics", "stage": "propose",
                                                        "amount": 50_000, "probability": "0.5",
                                                        "expected_close": TODAY + datetime.timedelta(days=45)})
    health.open_case(key_account, by=kam, reason="The CEO is unhappy with delivery")
    return key_account


def _open(content: bytes) -> Presentation:
    return Presentation(io.BytesIO(content))


def _titles(deck) -> list[str]:
    return [slide.shapes.title.text if slide.shapes.title is not None else "" for slide in deck.slides]


def _texts(slide) -> str:
    parts = []
    for shape in slide.shapes:
        if shape.has_text_frame:
            parts.append(shape.text_frame.text)
        if shape.has_table:
            parts += [cell.text for row in shape.table.rows for cell in row.cells]
    return "\n".join(parts)


def _save(name: str, content: bytes) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / name).write_bytes(content)


def test_the_deck_has_every_slide_with_live_numbers_and_native_charts(kam, reviewed, api_client):
    response = api_client(kam).get(f"/api/v1/exports/deck/{reviewed.pk}")
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == CONTENT_TYPE
    assert response["Content-Disposition"] == f'attachment; filename="keyplan-review-T-0001-{TODAY.isoformat()}.pptx"'
    _save("review-deck.pptx", response.content)
    deck = _open(response.content)
    assert _titles(deck) == TITLES
    slides = {title: slide for title, slide in zip(TITLES, deck.slides)}
    assert "Account review" in _texts(slides["Acme Manufacturing"])
    assert "Prepared by Karl Kam" in _texts(slides["Acme Manufacturing"])
    snapshot = _texts(slides["Account snapshot"])
    assert "Key account" in snapshot and "Karl Kam" in snapshot and "Key account manager" in snapshot
    revenue = [s for s in slides["Revenue and margin trend"].shapes if s.has_chart]
    assert len(revenue) == 1
    chart = revenue[0].chart
    assert [s.name for s in chart.plots[0].series] == ["Revenue (EUR)", "Margin (EUR)"]
    values = chart.plots[0].series[0].values
    assert len(values) == 24 and sum(values) > 0 and all(isinstance(v, float) for v in values)
    scores = [s for s in slides["ABC history and selection scores"].shapes if s.has_chart]
    assert len(scores) == 1 and list(scores[0].chart.plots[0].series[0].values) == [8, 6]
    people = _texts(slides["Stakeholder map"])
    assert "Cora Chief" in people and "★ Finn Ance" in people
    assert sum(1 for s in slides["Stakeholder map"].shapes if s.shape_type == MSO_SHAPE_TYPE.LINE) >= 2  # reporting, influence
    assert "Cora Chief, CEO" in _texts(slides["Who to win"])
    assert "Win the CEO's support" in _texts(slides[f"Plan goals · FY{TODAY.year}"])
    assert "CEO meeting with our board" in _texts(slides["Timeline"])
    assert "Analytics for the board" in _texts(slides["Opportunities"]) and "€50,000" in _texts(slides["Opportunities"])
    assert "Board" in _texts(slides["Whitespace"]) and "Open opportunity" in _texts(slides["Whitespace"])
    risks = _texts(slides["Risks and next steps"])
    assert "The CEO is unhappy with delivery" in risks and "Send the revised quote" in risks


def test_sections_without_data_say_so(lead, make_account, api_client):
    bare = make_account("Bare Ltd", external_id="B-1")
    deck = _open(api_client(lead).get(f"/api/v1/exports/deck/{bare.pk}").content)
    titles = _titles(deck)
    assert len(titles) == 11 and titles[6] == "Plan goals"
    texts = {title: _texts(slide) for title, slide in zip(titles, deck.slides)}
    assert "No revenue imported for this account yet." in texts["Revenue and margin trend"]
    assert "No selection scores yet." in texts["ABC history and selection scores"]
    assert "No stakeholders yet." in texts["Stakeholder map"]
    assert "No account plan yet." in texts["Plan goals"] and "No account plan yet." in texts["Timeline"]
    assert "No open opportunities yet." in texts["Opportunities"]
    assert "No whitespace map yet" in texts["Whitespace"]
    assert "No open next steps" in texts["Risks and next steps"]
    assert not any(s.has_chart for slide in deck.slides for s in slide.shapes)


def test_a_team_member_gets_only_the_decks_of_their_accounts(kam, outsider, reviewed, api_client):
    other = reviewed.__class__.objects.get(external_id="O-1")
    assert api_client(kam).get(f"/api/v1/exports/deck/{other.pk}").status_code == 404
    assert api_client(outsider).get(f"/api/v1/exports/deck/{reviewed.pk}").status_code == 404
    assert client_for(kam).get(reverse("reports:deck", args=[other.pk])).status_code == 404
    assert api_client(kam).get("/api/v1/exports/deck/99999999999999999999").status_code == 422


def test_the_account_page_offers_the_deck_in_the_readers_language(kam, reviewed):
    client = client_for(kam)
    page = client.get(reverse("accounts:detail", args=[reviewed.pk])).content.decode()
    link = page.split('id="deck-link"')[0].rsplit('href="', 1)[1].split('"')[0]
    assert link == reverse("reports:deck", args=[reviewed.pk])
    response = client.get(link)
    assert response.status_code == 200 and response["Content-Type"] == CONTENT_TYPE
    assert _titles(_open(response.content))[1] == "Account snapshot"
    client.cookies["django_language"] = "de"
    german = _open(client.get(link, HTTP_ACCEPT_LANGUAGE="de").content)
    assert _titles(german)[1] != "Account snapshot" and "Kontoübersicht" in _titles(german)[1]
    client.cookies["django_language"] = "fa"
    persian = client.get(link, HTTP_ACCEPT_LANGUAGE="fa").content
    _save("review-deck-fa.pptx", persian)
    title = _open(persian).slides[1].shapes.title.text_frame.paragraphs[0]
    assert title._p.pPr.get("rtl") == "1"


def test_the_cli_writes_the_deck(lead, kam, reviewed, tmp_path, capsys):
    out = tmp_path / "review.pptx"
    assert main(["export", "deck", "T-0001", str(out), "--json"]) == 0
    written = json.loads(capsys.readouterr().out)
    assert written["slides"] == 11 and written["titles"] == TITLES
    assert main(["export", "deck", "T-0001", str(out), "--as", "kam", "--language", "nl"]) == 0
    assert "11 slides" in capsys.readouterr().out
    assert _titles(Presentation(str(out)))[1] == "Accountoverzicht"
    assert [p.name for p in tmp_path.glob("*.pptx")] == ["review.pptx"]  # no half-written leftovers


@pytest.mark.parametrize("argv, code, message", [
    (["export", "deck", "O-1", "{out}", "--as", "kam"], 2, "no account that kam may see has the external id 'O-1'"),
    (["export", "deck", "NOPE", "{out}"], 2, "no account has the external id 'NOPE'"),
    (["export", "deck", "T-0001", "{dir}/x.ppt"], 2, "must end in .pptx"),
    (["export", "deck", "T-0001", "{out}", "--as", "nobody"], 2, "--as: no active user is named 'nobody'"),
    (["export", "deck", "T-0001", "{out}", "--template", "{dir}/missing.pptx"], 1, "is not a file"),
])
def test_the_cli_refuses_bad_arguments(reviewed, tmp_path, capsys, argv, code, message):
    argv = [a.format(out=tmp_path / "x.pptx", dir=tmp_path) for a in argv]
    assert main(argv) == code
    assert message in capsys.readouterr().err
    assert not list(tmp_path.glob("*.pptx"))


def test_a_company_template_gives_the_deck_its_look(lead, reviewed, tmp_path, settings, api_client):
    """KEYPLAN_DECK_TEMPLATE: its layouts by name, the Keyplan Body placeholder as the content area, tokens replaced."""
    template = default_template()
    layout = template.slide_layouts.get_by_name("Keyplan Content")
    marker = next(ph for ph in layout.placeholders if ph.placeholder_format.idx == 0)
    marker.text_frame.text = "Contoso title style"
    for shape in layout.shapes:
        if shape.has_text_frame and "{account}" in shape.text_frame.text:
            shape.text_frame.paragraphs[0].runs[0].text = "CONFIDENTIAL · {account} · {prepared_by}"
    template.slides.add_slide(template.slide_layouts[0])  # a sample slide in the template: left out of the deck
    path = tmp_path / "contoso.pptx"
    template.save(path)
    settings.KEYPLAN_DECK_TEMPLATE = str(path)
    deck = _open(api_client(lead).get(f"/api/v1/exports/deck/{reviewed.pk}").content)
    assert len(deck.slides) == 11
    footer = [s.text_frame.text for s in deck.slides[1].slide_layout.shapes if s.has_text_frame and "CONFIDENTIAL" in s.text_frame.text]
    assert footer == ["CONFIDENTIAL · Acme Manufacturing · Lena Lead"]
    settings.KEYPLAN_DECK_TEMPLATE = str(tmp_path / "missing.pptx")
    response = api_client(lead).get(f"/api/v1/exports/deck/{reviewed.pk}")
    assert response.status_code == 503 and "is not a file" in response.json()["detail"]
    page = client_for(lead).get(reverse("reports:deck", args=[reviewed.pk]))
    assert page.status_code == 503 and "The review deck was not made" in page.content.decode()


def test_the_plain_template_is_written_for_companies_to_restyle(db, tmp_path, capsys):
    out = tmp_path / "template.pptx"
    assert main(["export", "deck-template", str(out)]) == 0
    names = [layout.name for layout in Presentation(str(out)).slide_layouts]
    assert "Keyplan Title" in names and "Keyplan Content" in names
    assert len(Presentation(str(out)).slides) == 0


def test_libreoffice_renders_the_deck(kam, reviewed, api_client, tmp_path):
    """Where LibreOffice is installed, it opens the deck headless and prints it (skipped elsewhere)."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        pytest.skip("LibreOffice is not installed")
    source = tmp_path / "review.pptx"
    source.write_bytes(api_client(kam).get(f"/api/v1/exports/deck/{reviewed.pk}").content)
    result = subprocess.run(
        [soffice, f"-env:UserInstallation=file://{tmp_path}/profile", "--headless", "--convert-to", "pdf",
         "--outdir", str(tmp_path), str(source)], capture_output=True, text=True, timeout=180,
    )
    pdf = tmp_path / "review.pdf"
    assert result.returncode == 0 and pdf.exists(), result.stderr
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 10_000
    _save("review-deck.pdf", pdf.read_bytes())


def test_a_persian_deck_writes_solar_hijri_dates_and_persian_digits(kam, reviewed, api_client):
    """Dates in the Solar Hijri calendar with Persian month names and digits (as the pages write them); months of the
    ledger, years and figures in Persian digits; no Latin digit in a date."""
    import re

    import jdatetime

    from keyplan.core.dates import PERSIAN_DIGITS

    client = api_client(kam)
    content = client.get(f"/api/v1/exports/deck/{reviewed.pk}", HTTP_ACCEPT_LANGUAGE="fa").content
    _save("review-deck-fa-dates.pptx", content)
    deck = _open(content)
    today = jdatetime.date.fromgregorian(date=TODAY)
    written = f"{today.day} {jdatetime.date.j_months_fa[today.month - 1]} {today.year}".translate(PERSIAN_DIGITS)
    title = _texts(deck.slides[0])
    assert written in title, title
    assert not re.search(r"[0-9]", title), title  # no Latin digit on the title slide
    revenue = next(shape.chart for slide in deck.slides for shape in slide.shapes if shape.has_chart)
    months = list(revenue.plots[0].categories)
    assert len(months) == 24 and all(re.search("[۰-۹]", m) and not re.search(r"[0-9]", m) for m in months), months
    texts = "\n".join(_texts(slide) for slide in deck.slides)
    due = jdatetime.date.fromgregorian(date=TODAY + datetime.timedelta(days=60))
    assert f"{due.day} {jdatetime.date.j_months_fa[due.month - 1]} {due.year}".translate(PERSIAN_DIGITS) in texts  # a goal's due day
    assert any(str(year).translate(PERSIAN_DIGITS) in texts for year in (TODAY.year, TODAY.year - 1))  # the ABC years
    # The other languages keep their CLDR dates.
    english = _texts(_open(client.get(f"/api/v1/exports/deck/{reviewed.pk}").content).slides[0])
    assert str(TODAY.year) in english
