"""The portfolio page, the analysis pages, `/api/v1/analysis/NAME` and `keyplan analyze NAME --json` agree."""

import datetime
import json

import pytest
from django.urls import reverse

from keyplan.accounts.services import add_team_member, set_tier
from keyplan.cli import main
from keyplan.revenue.services import import_ledger, import_subscriptions
from tests.conftest import client_for

TODAY = datetime.date.today()


@pytest.fixture
def ledger(tmp_path, lead, make_account):
    """Five accounts with revenue this year and last; one subscription."""
    accounts = [make_account(f"Firm {name}", external_id=f"F-{name}", industry="chemicals" if name in "AB" else "retail")
                for name in "ABCDE"]
    rows = ["line_id,account_id,date,amount,cost"]
    amounts = {"A": 500, "B": 200, "C": 150, "D": 100, "E": 50}
    for year_back in (0, 1):
        day = TODAY.replace(day=1) - datetime.timedelta(days=365 * year_back)
        for name, amount in amounts.items():
            rows.append(f"L{name}{year_back},F-{name},{day.isoformat()},{amount * (1 + year_back)},{amount * 0.6}")
    (tmp_path / "ledger.csv").write_text("\n".join(rows) + "\n")
    assert import_ledger(tmp_path / "ledger.csv", by=lead).error_count == 0
    start = (TODAY.replace(day=1) - datetime.timedelta(days=200)).replace(day=1)
    (tmp_path / "subs.csv").write_text(f"account_id,plan,monthly_amount,start\nF-A,Premium,1000,{start}\n")
    import_subscriptions(tmp_path / "subs.csv", by=lead)
    return accounts


def test_portfolio_page_shows_tiles_charts_and_abc(lead, ledger):
    response = client_for(lead).get(reverse("revenue:portfolio"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "1,000" in body  # this year's revenue: 500 + 200 + 150 + 100 + 50
    assert "12,000" in body  # ARR of the one subscription
    assert 'id="pareto-figure"' in body and 'id="profit-figure"' in body and "plotly/plotly.min.js" in body
    figure = json.loads(body.split('id="pareto-figure" type="application/json">')[1].split("</script>")[0])
    bars = next(trace for trace in figure["data"] if trace["type"] == "bar")
    assert bars["y"][:2] == [500.0, 200.0] and figure["layout"]["xaxis"]["type"] == "category"


def test_the_revenue_tile_nets_credit_notes_of_every_account(lead, ledger, make_account, tmp_path):
    """Revenue is the period's net revenue: an account whose credit notes outweigh its invoices lowers it, though
    the Pareto ranks only accounts with positive revenue."""
    make_account("Refunded", external_id="F-R")
    day = TODAY.replace(day=1).isoformat()
    (tmp_path / "credit.csv").write_text(f"line_id,account_id,date,amount\nR1,F-R,{day},30\nR2,F-R,{day},-45.50\n")
    assert import_ledger(tmp_path / "credit.csv", by=lead).error_count == 0
    response = client_for(lead).get(reverse("revenue:portfolio"))
    assert response.context["tiles"]["revenue"] == 1000 - 15.5
    assert response.context["pareto"]["total"] == 1000  # the Pareto's base: accounts with positive revenue


def test_filters_narrow_the_accounts(lead, ledger):
    body = client_for(lead).get(reverse("revenue:portfolio"), {"industry": "chemicals"}).content.decode()
    assert "700" in body and "1,000" not in body


def test_the_overview_counts_the_company_abc_classes_of_a_selection(lead, ledger, api_client):
    this_year = str(TODAY.year)
    everything = client_for(lead).get(reverse("revenue:portfolio"))
    assert everything.context["abc"]["years"][this_year] == {"A": 3, "B": 1, "C": 1}
    assert "The classes rank the whole portfolio" not in everything.content.decode()
    # Retail holds F-C (A across the portfolio), F-D (B) and F-E (C); ranked on their own, two would be A.
    retail = client_for(lead).get(reverse("revenue:portfolio"), {"industry": "retail"})
    assert retail.context["abc"]["years"][this_year] == {"A": 1, "B": 1, "C": 1}
    assert retail.context["tiles"]["a_accounts"] == 1
    assert "The classes rank the whole portfolio" in retail.content.decode()
    # The ABC analysis (page, API, CLI) ranks the selection on its own.
    own = api_client(lead).get("/api/v1/analysis/abc", {"industry": "retail"}).json()
    assert own["years"][this_year] == {"A": 2, "B": 1, "C": 0}


def test_bad_period_is_explained(lead, ledger):
    response = client_for(lead).get(reverse("revenue:portfolio"), {"date_from": "2026-05-01", "date_to": "2026-01-01"})
    assert response.status_code == 200 and "The period must end after it starts." in response.content.decode()


@pytest.mark.parametrize("name", ["pareto", "abc", "mrr", "profitability", "concentration"])
def test_each_analysis_has_a_page_and_the_api_serves_the_same_payload(lead, ledger, api_client, name):
    page = client_for(lead).get(reverse("revenue:analysis", args=[name]))
    assert page.status_code == 200 and "Firm A" in page.content.decode()
    api = api_client(lead).get(f"/api/v1/analysis/{name}")
    assert api.status_code == 200
    payload = api.json()
    assert payload["currency"] == "EUR"
    if name == "pareto":
        assert [a["external_id"] for a in payload["accounts"]] == ["F-A", "F-B", "F-C", "F-D", "F-E"]
        assert payload["vital_few"] == 3 and payload["total"] == 1000.0


def test_team_member_analyses_cover_only_their_accounts(kam, lead, ledger, api_client):
    add_team_member(ledger[2], by=lead, user=kam, role="kam")
    payload = api_client(kam).get("/api/v1/analysis/pareto").json()
    assert [a["external_id"] for a in payload["accounts"]] == ["F-C"]


def test_api_rejects_nonsense_with_422(lead, ledger, api_client):
    response = api_client(lead).get("/api/v1/analysis/pareto", {"threshold": 2})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"][-1] == "threshold"
    assert api_client(lead).get("/api/v1/analysis/abc", {"a_threshold": 0.99, "b_threshold": 0.5}).status_code == 422


def test_cli_json_is_the_api_payload(lead, ledger, api_client, capsys):
    set_tier(ledger[0], by=lead, tier="key", reason="Selected")
    assert main(["analyze", "pareto", "--json", "--as", "lead"]) == 0
    cli = json.loads(capsys.readouterr().out)
    api = api_client(lead).get("/api/v1/analysis/pareto").json()
    assert cli == api
    assert main(["analyze", "abc", "--json", "--years", "2", "--as", "lead"]) == 0
    abc = json.loads(capsys.readouterr().out)
    assert abc["thresholds"] == [0.8, 0.95] and list(abc["years"]) == [str(TODAY.year - 1), str(TODAY.year)]
    assert {a["external_id"]: a["classes"][str(TODAY.year)] for a in abc["accounts"]} == {
        "F-A": "A", "F-B": "A", "F-C": "A", "F-D": "B", "F-E": "C"}


def _tiles(user, **filters) -> dict:
    return client_for(user).get(reverse("revenue:portfolio"), filters).context["tiles"]


def test_the_cached_overview_follows_every_change_it_shows(lead, kam, ledger, tmp_path):
    """The page keeps its overview in the cache; every write that changes what it shows is seen at once."""
    from keyplan.accounts.services import archive_account, update_account
    from keyplan.revenue.services import add_subscription, rollback_batch

    firm_a, firm_b = ledger[0], ledger[1]
    assert _tiles(lead) == _tiles(lead)  # the second time from the cache
    assert _tiles(lead)["revenue"] == 1000 and _tiles(lead)["arr"] == 12000

    update_account(firm_a, by=lead, changes={"name": "Acme Renamed"})
    assert "Acme Renamed" in client_for(lead).get(reverse("revenue:portfolio")).content.decode()

    set_tier(firm_b, by=lead, tier="key", reason="Selected")
    assert _tiles(lead, tier="key")["revenue"] == 200

    add_team_member(firm_b, by=lead, user=kam, role="kam")
    assert _tiles(lead, kam=kam.pk)["revenue"] == 200
    assert _tiles(kam)["revenue"] == 200  # a team member sees their accounts only

    add_subscription(firm_b, by=lead, plan="Basic", monthly_amount=100, currency="EUR",
                     start=TODAY.replace(day=1) - datetime.timedelta(days=40))
    assert _tiles(lead)["arr"] == 13200

    (tmp_path / "more.csv").write_text(f"line_id,account_id,date,amount\nX1,F-E,{TODAY.replace(day=1)},2000\n")
    batch = import_ledger(tmp_path / "more.csv", by=lead).batch
    assert _tiles(lead)["revenue"] == 3000
    rollback_batch(batch, by=lead)
    assert _tiles(lead)["revenue"] == 1000

    archive_account(firm_a, by=lead)
    assert _tiles(lead)["revenue"] == 500 and _tiles(lead)["accounts"] == 4


def test_an_import_leaves_the_overview_computed_for_the_next_visitor(lead, tmp_path, make_account,
                                                                     django_capture_on_commit_callbacks):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    make_account("Firm Z", external_id="F-Z")
    (tmp_path / "z.csv").write_text(f"line_id,account_id,date,amount\nZ1,F-Z,{TODAY.replace(day=1)},70\n")
    with django_capture_on_commit_callbacks(execute=True):
        import_ledger(tmp_path / "z.csv", by=lead)
    client = client_for(lead)
    with CaptureQueriesContext(connection) as queries:
        page = client.get(reverse("revenue:portfolio"))
    assert page.context["tiles"]["revenue"] == 70
    assert not [q["sql"] for q in queries if "rollup" in q["sql"] or "ledgerline" in q["sql"]]


def test_profit_quadrants_are_translated_where_people_read_them(lead, ledger, api_client):
    english = client_for(lead).get(reverse("revenue:portfolio")).content.decode()  # kept per language, not for all
    figure = json.loads(english.split('id="profit-figure" type="application/json">')[1].split("</script>")[0])
    assert "<b>Protect</b>" in {a["text"] for a in figure["layout"]["annotations"]}
    client = client_for(lead)
    client.cookies["django_language"] = "de"
    page = client.get(reverse("revenue:portfolio")).content.decode()
    figure = json.loads(page.split('id="profit-figure" type="application/json">')[1].split("</script>")[0])
    assert {a["text"] for a in figure["layout"]["annotations"]} == {
        "<b>Schützen</b>", "<b>Betreuungskosten senken</b>", "<b>Entwickeln</b>", "<b>Überprüfen</b>"}
    table = client.get(reverse("revenue:analysis", args=["profitability"])).content.decode()
    assert "Schützen" in table and ">Protect<" not in table
    # The chart above the table still plots every account of the table.
    chart = json.loads(table.split('id="analysis-figure" type="application/json">')[1].split("</script>")[0])
    assert sorted(sum((trace["text"] for trace in chart["data"]), [])) == [f"Firm {name}" for name in "ABCDE"]
    # The API keeps the English names: scripts read them.
    labels = {a["label"] for a in api_client(lead).get("/api/v1/analysis/profitability").json()["accounts"]}
    assert labels <= {"Protect", "Fix the cost to serve", "Develop", "Review"} and labels


def test_counts_on_the_page_agree_in_number_and_language(lead, ledger):
    client = client_for(lead)
    client.cookies["django_language"] = "de"
    page = client.get(reverse("revenue:portfolio")).content.decode()
    assert ("3 Accounts (60,0\xa0% der Accounts mit Umsatz) erzielen 80\xa0% des Umsatzes; "
            "die oberen 20\xa0% der Accounts erzielen 50,0\xa0%.") in page
    set_tier(ledger[0], by=lead, tier="key", reason="Selected")
    one = client.get(reverse("revenue:portfolio"), {"tier": "key"}).content.decode()
    assert ("1 Account (100,0\xa0% der Accounts mit Umsatz) erzielt 80\xa0% des Umsatzes; "
            "die oberen 20\xa0% der Accounts erzielen 100,0\xa0%.") in one
    client.cookies["django_language"] = "fa"
    persian = client.get(reverse("revenue:portfolio")).content.decode()
    assert "۲۰٪ بالای حساب‌ها" in persian and "20%" not in persian  # the fifth in Persian digits and sign


def test_the_tail_bar_is_named_in_the_language_and_told_apart_by_position():
    import polars as pl
    from django.utils import translation

    from keyplan.revenue import analysis, charts

    revenue = pl.DataFrame({"external_id": ["a", "b", "c", "d"], "name": ["Big", "Other Corp", "c", "d"],
                            "revenue": [50.0, 30.0, 15.0, 5.0]})
    with translation.override("de"):
        figure = charts.pareto_figure({**analysis.pareto(revenue), "currency": "EUR"}, max_bars=2)
    bars = next(trace for trace in figure["data"] if trace["type"] == "bar")
    assert bars["x"] == ["Big", "Other Corp", "Sonstige (2 Accounts)"]
    assert bars["marker"]["color"] == [charts.ACCENT, charts.ACCENT, "#9ca3af"]  # an account called "Other …" is a bar
    assert figure["layout"]["xaxis2"]["dtick"] == 1  # four accounts: whole numbers on the curve's axis, never 0.5
    assert figure["layout"]["yaxis"]["tickformat"] == ",.0f"  # amounts in the reader's format, not Plotly's "400k"


def test_the_kept_analyses_follow_every_change_they_show(lead, kam, ledger, tmp_path):
    """The analysis pages keep their results in the cache; every write that changes what they show is seen at once."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from keyplan.accounts.services import archive_account, update_account
    from keyplan.revenue.models import MonthlyRollup, YearlyRollup
    from keyplan.revenue.services import rollback_batch

    def shown(name: str, user=lead) -> dict:
        return client_for(user).get(reverse("revenue:analysis", args=[name])).context["result"]

    def ranked(user=lead) -> list[str]:
        return [a["external_id"] for a in shown("pareto", user)["accounts"]]

    first = shown("pareto")
    with CaptureQueriesContext(connection) as again:
        assert shown("pareto") == first
    rollups = (YearlyRollup._meta.db_table, MonthlyRollup._meta.db_table)
    assert not [q["sql"] for q in again.captured_queries if any(table in q["sql"] for table in rollups)]  # the cache's

    english = client_for(lead).get(reverse("revenue:analysis", args=["pareto"])).content.decode()
    lead.language = "de"
    lead.save()
    german = client_for(lead).get(reverse("revenue:analysis", args=["pareto"])).content.decode()
    assert '<td class="num share">50.0%</td>' in english and '<td class="num share">50,0\xa0%</td>' in german
    lead.language = "en"
    lead.save()

    update_account(ledger[0], by=lead, changes={"name": "Acme Renamed"})
    assert "Acme Renamed" in client_for(lead).get(reverse("revenue:analysis", args=["pareto"])).content.decode()

    add_team_member(ledger[1], by=lead, user=kam, role="kam")
    assert ranked(kam) == ["F-B"] and ranked() == ["F-A", "F-B", "F-C", "F-D", "F-E"]  # each their own

    (tmp_path / "more.csv").write_text(f"line_id,account_id,date,amount\nX1,F-E,{TODAY.replace(day=1)},2000\n")
    batch = import_ledger(tmp_path / "more.csv", by=lead).batch
    assert ranked()[0] == "F-E" and shown("pareto")["total"] == 3000.0
    assert {a["external_id"]: a["classes"][str(TODAY.year)] for a in shown("abc")["accounts"]}["F-E"] == "A"
    rollback_batch(batch, by=lead)
    assert ranked()[0] == "F-A" and shown("pareto")["total"] == 1000.0

    archive_account(ledger[0], by=lead)
    assert "F-A" not in ranked() and "F-A" not in [a["external_id"] for a in shown("abc")["accounts"]]


def test_a_ledger_without_costs_shows_no_margins(lead, tmp_path, make_account):
    """Revenue only (as CDNOW's): every margin would read 100 %, so the pages say why there are none."""
    make_account("Firm A", external_id="F-A")
    (tmp_path / "revenue.csv").write_text(f"line_id,account_id,date,amount\nL1,F-A,{TODAY.replace(day=1)},500\n")
    assert import_ledger(tmp_path / "revenue.csv", by=lead).error_count == 0
    client = client_for(lead)
    overview = client.get(reverse("revenue:portfolio"))
    body = overview.content.decode()
    assert "no-costs" in body and 'id="profit-figure"' not in body and 'id="pareto-figure"' in body
    assert overview.context["no_costs"] and "Margin · 100%" not in body and "Margin: no costs in this period" in body
    page = client.get(reverse("revenue:analysis", args=["profitability"]))
    body = page.content.decode()
    assert page.context["no_costs"] and "no-costs" in body and 'id="analysis-figure"' not in body
    assert "Quadrant" not in body and "Firm A" in body


def test_a_ledger_with_costs_shows_its_margins(lead, ledger):
    client = client_for(lead)
    assert not client.get(reverse("revenue:portfolio")).context["no_costs"]
    body = client.get(reverse("revenue:analysis", args=["profitability"])).content.decode()
    assert "no-costs" not in body and 'id="analysis-figure"' in body and "Quadrant" in body
