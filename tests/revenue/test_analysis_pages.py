"""What a user reads on the analysis pages: defaults with data, percentages, charts, errors, empty states."""

import json
import re

import pytest
from django.test import override_settings
from django.urls import reverse

from keyplan.revenue.services import LedgerOptions, import_ledger, import_subscriptions
from tests.conftest import client_for


def figure(body: str, name: str = "analysis-figure") -> dict:
    return json.loads(body.split(f'id="{name}" type="application/json">')[1].split("</script>")[0])


@pytest.fixture
def old_ledger(tmp_path, lead):
    """1997–1998 with numeric account ids (as CDNOW's): 1997 has revenue, 1998 none but a credit note."""
    rows = ["line_id,account_id,date,amount"]
    amounts = {"17": 6000, "4": 2000, "250": 1000, "3": 600, "1000": 400}
    for i, (account, amount) in enumerate(amounts.items()):
        rows.append(f"A{i},{account},1997-0{i + 2}-15,{amount}")
    rows.append("C1,4,1998-03-02,-50")
    rows.append("N1,99,1997-05-05,0")  # an account without revenue
    (tmp_path / "old.csv").write_text("\n".join(rows) + "\n")
    assert import_ledger(tmp_path / "old.csv", by=lead, options=LedgerOptions(create_accounts=True)).error_count == 0


def test_pareto_page_opens_on_the_last_twelve_months_with_data_in_percentages(lead, old_ledger):
    response = client_for(lead).get(reverse("revenue:analysis", args=["pareto"]))
    body = response.content.decode()
    assert response.context["result"]["from"] == "1997-04-01" and response.context["result"]["to"] == "1998-03-02"
    shares = re.findall(r'<td class="num share">([^<]*)</td>', body)
    cumulative = re.findall(r'<td class="num cumulative">([^<]*)</td>', body)
    # April 1997 on: 250 (1,000), 3 (600), 1000 (400); 4's credit note and 99 have none.
    assert shares[:3] == ["50.0%", "30.0%", "20.0%"] and cumulative[:3] == ["50.0%", "80.0%", "100.0%"]
    assert "2 accounts (66.7% of accounts with revenue) bring 80% of revenue; the top 20% of accounts bring 50.0%." in body
    assert "3 accounts had no net revenue in the period (zero or less) and are not counted." in body
    chart = figure(body)
    bars = next(trace for trace in chart["data"] if trace["type"] == "bar")
    assert chart["layout"]["xaxis"]["type"] == "category" and bars["x"][:3] == ["250", "3", "1000"]
    [crossing] = [a for a in chart["layout"]["annotations"] if a.get("name") == "crossing"]
    assert (crossing["x"], crossing["y"]) == (2, 80.0) and "2 accounts" in crossing["text"]


def test_pareto_in_german_and_persian(lead, old_ledger):
    client = client_for(lead)
    client.cookies["django_language"] = "de"
    body = client.get(reverse("revenue:analysis", args=["pareto"]), {"date_from": "1997-01-01", "date_to": "1997-12-31"}).content.decode()
    shares = re.findall(r'<td class="num share">([^<]*)</td>', body)
    assert shares[:2] == ["60,0\xa0%", "20,0\xa0%"]
    assert figure(body)["layout"]["separators"] == ",."
    client.cookies["django_language"] = "fa"
    body = client.get(reverse("revenue:analysis", args=["pareto"])).content.decode()
    assert 'dir="rtl"' in body and "۵۰٫۰٪" in body  # Persian digits, decimal sign and percent sign
    assert figure(body)["layout"]["separators"] == "٫٬"


def test_abc_page_a_year_without_revenue_and_the_chart(lead, old_ledger):
    response = client_for(lead).get(reverse("revenue:analysis", args=["abc"]), {"date_from": "1996-01-01",
                                                                                "date_to": "1998-12-31"})
    result = response.context["result"]
    assert result["no_revenue"] == ["1996", "1998"] and result["years"]["1998"] == {"A": 0, "B": 0, "C": 0}
    assert result["movements"] == {}  # one year with revenue: nothing to move between
    body = response.content.decode()
    assert body.count("no revenue") >= 2
    chart = figure(body)
    assert {trace["name"] for trace in chart["data"] if trace["type"] == "bar"} == {"A", "B", "C"}


def test_abc_and_concentration_say_which_days_their_years_cover(lead, old_ledger):
    """Without a period asked for: the calendar years up to the ledger's last (1997 and 1998 here), in the heading
    and in grey in the date fields, as every other analysis shows its period (they showed today's date)."""
    for name in ("abc", "concentration"):
        response = client_for(lead).get(reverse("revenue:analysis", args=[name]))
        result = response.context["result"]
        assert (result["from"], result["to"]) == ("1997-01-01", "1998-12-31"), name
        body = response.content.decode()
        assert "Jan. 1, 1997 – Dec. 31, 1998" in body and 'placeholder="1997-01-01"' in body, name
    asked = client_for(lead).get(reverse("revenue:analysis", args=["abc"]), {"date_from": "1997-03-01"}).context["result"]
    assert asked["from"] == "1997-03-01"


def test_abc_chart_shows_the_movements_of_the_last_two_years(lead, tmp_path, make_account):
    rows = ["line_id,account_id,date,amount"]
    for year, amounts in ((2023, [900, 50, 50]), (2024, [50, 900, 50])):
        rows += [f"{year}-{i},{i},{year}-06-01,{amount}" for i, amount in enumerate(amounts)]
    (tmp_path / "l.csv").write_text("\n".join(rows) + "\n")
    import_ledger(tmp_path / "l.csv", by=lead, options=LedgerOptions(create_accounts=True))
    body = client_for(lead).get(reverse("revenue:analysis", args=["abc"]), {"date_from": "2023-01-01",
                                                                            "date_to": "2024-12-31"}).content.decode()
    [sankey] = [trace for trace in figure(body)["data"] if trace["type"] == "sankey"]
    assert sankey["node"]["label"] == ["A 2023", "B 2023", "C 2023", "A 2024", "B 2024", "C 2024"]
    moves = dict(zip(zip(sankey["link"]["source"], sankey["link"]["target"]), sankey["link"]["value"]))
    assert moves == {(0, 4): 1, (1, 3): 1, (2, 5): 1}  # A→B, B→A, C stays


def test_mrr_page_stacks_the_plans_and_formats_hovers(lead, tmp_path, make_account):
    make_account("Firm A", external_id="F-A")
    make_account("Firm B", external_id="F-B")
    (tmp_path / "s.csv").write_text("account_id,plan,monthly_amount,start\nF-A,Premium,51821.27,2024-01-01\n"
                                    "F-B,Basic,900,2024-03-01\n")
    import_subscriptions(tmp_path / "s.csv", by=lead)
    client = client_for(lead)
    client.cookies["django_language"] = "de"
    body = client.get(reverse("revenue:analysis", args=["mrr"]), {"date_from": "2024-01-01", "date_to": "2024-06-30"}).content.decode()
    chart = figure(body)
    plans = [trace for trace in chart["data"] if trace["type"] == "bar" and trace.get("legendgroup") == "plans"]
    assert [p["name"] for p in plans] == ["Premium", "Basic"] and chart["layout"]["barmode"] == "relative"
    assert plans[0]["customdata"][0] == "51.821" and "k" not in plans[0]["hovertemplate"]
    assert chart["layout"]["yaxis2"]["domain"][1] < chart["layout"]["yaxis"]["domain"][0]  # movements below, own axis
    assert chart["layout"]["separators"] == ",."


def test_mrr_without_subscriptions_says_so_and_links_the_import(lead, old_ledger):
    body = client_for(lead).get(reverse("revenue:analysis", args=["mrr"])).content.decode()
    assert "No subscriptions were imported" in body and reverse("revenue:imports") + "?kind=subscriptions" in body
    assert 'id="analysis-figure"' not in body
    page = client_for(lead).get(reverse("revenue:imports"), {"kind": "subscriptions"}).content.decode()
    assert '<option value="subscriptions" selected>' in page


def test_a_filter_error_names_the_field_and_shows_no_numbers(lead, old_ledger):
    body = client_for(lead).get(reverse("revenue:analysis", args=["pareto"]),
                                {"date_from": "1998-01-01", "date_to": "1997-01-01"}).content.decode()
    assert "To: The period must end after it starts." in body and "date_to" not in body.split("</form>")[1]
    assert 'class="num share"' not in body and "analysis-figure" not in body
    body = client_for(lead).get(reverse("revenue:analysis", args=["pareto"]), {"date_from": "1998-13-01"}).content.decode()
    assert "From: Enter a valid date." in body and 'class="num share"' not in body
    overview = client_for(lead).get(reverse("revenue:portfolio"), {"date_from": "nonsense"}).content.decode()
    assert "From: Enter a valid date." in overview and "pareto-figure" not in overview


def test_the_empty_overview_has_no_none(lead):
    body = client_for(lead).get(reverse("revenue:portfolio")).content.decode()
    assert "None" not in body and "A accounts" in body
    for name in ("pareto", "abc", "mrr", "profitability", "concentration"):
        assert "None" not in client_for(lead).get(reverse("revenue:analysis", args=[name])).content.decode(), name


@override_settings(KEYPLAN_REPORTING_CURRENCY="CHF")
def test_a_new_account_reports_in_the_configured_currency(lead):
    body = client_for(lead).get(reverse("accounts:create")).content.decode()
    assert '<option value="CHF" selected>' in body and '<option value="ADP" selected>' not in body


def test_profit_matrix_hovers_in_the_reader_format(lead, tmp_path, make_account):
    make_account("Firm A", external_id="F-A")
    (tmp_path / "l.csv").write_text("line_id,account_id,date,amount,cost\nL1,F-A,2024-05-02,621845.20,72726.00\n")
    import_ledger(tmp_path / "l.csv", by=lead)
    client = client_for(lead)
    client.cookies["django_language"] = "de"
    body = client.get(reverse("revenue:analysis", args=["profitability"])).content.decode()
    [point] = [trace for trace in figure(body)["data"] if trace["x"]]
    assert point["customdata"] == ["621.845 · 88,3\xa0%"] and "%{x:" not in point["hovertemplate"]


def test_the_cli_reads_the_pareto_in_words(lead, old_ledger, capsys):
    from keyplan.cli import main

    assert main(["analyze", "pareto", "--as", "lead"]) == 0
    out = capsys.readouterr().out
    assert "2 accounts (66.7% of the 3 accounts with revenue) bring 80%" in out
    assert "3 accounts without net revenue in the period (zero or less) are not counted." in out


def test_mrr_opens_on_the_last_twelve_months_with_subscriptions(lead, tmp_path, make_account, api_client):
    make_account("Firm A", external_id="F-A")
    (tmp_path / "s.csv").write_text("account_id,plan,monthly_amount,start,end\nF-A,Basic,100,1997-02-01,1998-07-01\n")
    import_subscriptions(tmp_path / "s.csv", by=lead)
    payload = api_client(lead).get("/api/v1/analysis/mrr").json()
    assert (payload["from"], payload["to"]) == ("1997-07-01", "1998-06-30")
    assert [m["mrr"] for m in payload["months"]] == [100.0] * 12
