import datetime
import json
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from keyplan.planning import analysis, services
from keyplan.planning.models import Opportunity, WhitespaceCell
from keyplan.relationships import services as relationships
from tests.conftest import client_for


def body(response):
    return json.loads(response.content)


def opp(account, by, **data):
    return services.add_opportunity(account, by=by, data={"name": "Deal", **data})


class TestOpportunities:
    def test_expected_value_and_the_plans_totals_for_its_period(self, plan, kam):
        a = plan.account
        ends = plan.ends
        opp(a, kam, name="Service contract", amount=100_000, probability="0.4", expected_close=ends)
        opp(a, kam, name="No date", amount=10_000, probability="0.5")
        opp(a, kam, name="Next year", amount=999_999, probability="0.9", expected_close=ends + datetime.timedelta(days=1))
        opp(a, kam, name="Won", amount=50_000, stage="won", closed_on=plan.starts)
        opp(a, kam, name="Lost", amount=20_000, stage="lost", closed_on=ends, reason="Price")
        opp(a, kam, name="Lost before", amount=7_000, stage="lost", closed_on=plan.starts - datetime.timedelta(days=1), reason="x")
        assert Opportunity.objects.get(name="Service contract").expected_value == Decimal("40000.00")
        totals = services.pipeline(plan)
        assert (totals.open, totals.weighted, totals.won, totals.lost) == (
            Decimal("110000.00"), Decimal("45000.00"), Decimal("50000.00"), Decimal("20000.00"))
        assert (totals.open_count, totals.won_count, totals.lost_count, totals.win_rate) == (2, 1, 1, 0.5)
        won = Opportunity.objects.get(name="Won")
        assert won.probability == 1 and won.closed_on == plan.starts

    @pytest.mark.parametrize("data, field", [
        ({"probability": "1.5"}, "probability"), ({"probability": "-0.1"}, "probability"), ({"amount": -5}, "amount"),
        ({"stage": "lost"}, "reason"), ({"kind": "gift"}, "kind"), ({"name": " "}, "name"),
        ({"expected_close": datetime.date(1900, 1, 1)}, "expected_close"),
    ])
    def test_bad_input_names_the_field_and_writes_nothing(self, plan, kam, data, field):
        with pytest.raises(ValidationError) as error:
            opp(plan.account, kam, **data)
        assert field in error.value.message_dict
        assert not Opportunity.objects.exists()

    def test_api_round_trip_conflict_and_bad_probability(self, plan, kam, lead, api_client):
        url = f"/api/v1/accounts/{plan.account_id}/opportunities/"
        created = api_client(kam).post(url, {"name": "Upsell analytics", "kind": "upsell", "amount": "80000",
                                             "probability": "0.25", "division": "Finance", "product_line": "Analytics"},
                                       content_type="application/json")
        assert created.status_code == 201, created.content
        o = body(created)
        assert o["expected_value"] == "20000.00" or float(o["expected_value"]) == 20000
        bad = api_client(kam).post(url, {"name": "x", "probability": 2}, content_type="application/json")
        assert bad.status_code == 422 and body(bad)["detail"][0]["loc"][-1] == "probability"
        negative = api_client(kam).post(url, {"name": "x", "amount": -1}, content_type="application/json")
        assert negative.status_code == 422 and body(negative)["detail"][0]["loc"][-1] == "amount"
        assert api_client(lead).patch(url + str(o["id"]), {"version": 1, "stage": "propose"}, content_type="application/json").status_code == 200
        stale = api_client(kam).patch(url + str(o["id"]), {"version": 1, "stage": "lost", "reason": "x"}, content_type="application/json")
        assert stale.status_code == 409 and body(stale)["current"]["stage"] == "propose"
        whole = body(api_client(kam).get(f"/api/v1/accounts/{plan.account_id}/plans/{plan.pk}"))
        assert whole["pipeline"]["open"] == 80000 and whole["pipeline"]["weighted"] == 20000
        assert [x["name"] for x in whole["opportunities"]] == ["Upsell analytics"]

    def test_an_action_can_point_to_an_opportunity_of_its_account_only(self, plan, goal, kam, make_account, lead):
        deal = opp(plan.account, kam)
        action = services.add_action(goal, by=kam, data={"title": "Demo for finance", "opportunity": deal})
        assert action.opportunity == deal
        other = services.add_opportunity(make_account("Other"), by=lead, data={"name": "Elsewhere"})
        with pytest.raises(ValidationError) as error:
            services.add_action(goal, by=kam, data={"title": "Wrong", "opportunity": other})
        assert "opportunity" in error.value.message_dict


class TestWhitespace:
    def test_the_grid_from_the_map_marks_and_opportunities(self, plan, kam, lead):
        a = plan.account
        relationships.create_stakeholder(a, by=lead, data={"name": "Fin", "department": "Finance"})
        relationships.create_stakeholder(a, by=lead, data={"name": "Ext", "department": "Consulting", "external_organisation": "Q"})
        services.set_cell(a, by=kam, division="Finance", product_line="Analytics", state="whitespace", estimated_value=30_000)
        services.set_cell(a, by=kam, division="Operations", product_line="Sensors", state="competitor", competitor="Keller")
        services.set_cell(a, by=kam, division="Operations", product_line="Service", state="whitespace", estimated_value=12_000)
        opp(a, kam, name="Sensors won", division="Finance", product_line="sensors", stage="won", amount=5)
        opp(a, kam, name="Service open", division="Finance", product_line="Service", amount=9)
        grid = services.whitespace(a)
        assert grid.divisions == ("Finance", "Operations") and grid.product_lines == ("Analytics", "Sensors", "Service")
        state = {key: cell.state for key, cell in grid.cells.items()}
        assert state == {
            ("Finance", "Analytics"): "whitespace", ("Finance", "Sensors"): "in_use", ("Finance", "Service"): "open_opportunity",
            ("Operations", "Analytics"): "whitespace", ("Operations", "Sensors"): "competitor", ("Operations", "Service"): "whitespace",
        }
        assert grid.cells[("Operations", "Sensors")].competitor == "Keller"
        assert grid.row_totals == {"Finance": Decimal("30000"), "Operations": Decimal("12000")}
        assert grid.column_totals["Service"] == Decimal("12000") and grid.whitespace_value == Decimal("42000")
        # Marking the same cell again (another spelling) changes it, with a version.
        cell = services.set_cell(a, by=kam, division="FINANCE", product_line="analytics", state="not_relevant", version=1)
        assert cell.version == 2 and WhitespaceCell.objects.count() == 3
        with pytest.raises(services.Conflict):
            services.set_cell(a, by=kam, division="Finance", product_line="Analytics", state="whitespace", version=1)
        with pytest.raises(ValidationError) as error:
            services.set_cell(a, by=kam, division="Finance", product_line="X", state="competitor")
        assert "competitor" in error.value.message_dict

    def test_revenue_lines_naming_a_division_and_a_product_put_their_cell_in_use(self, plan, kam, lead, tmp_path):
        from keyplan.revenue.services import import_ledger

        a = plan.account
        services.set_cell(a, by=kam, division="Finance", product_line="Sensors", state="competitor", competitor="Keller")
        ledger = tmp_path / "ledger.csv"
        ledger.write_text("account_id,date,amount,product,division\n"
                          f"{a.external_id},2023-05-01,999,Analytics,Finance\n"      # two years before the last line: not counted
                          f"{a.external_id},2025-03-01,1200,sensors,FINANCE\n"       # another spelling of a marked cell
                          f"{a.external_id},2025-04-01,300,Sensors,Finance\n"
                          f"{a.external_id},2024-12-01,50,Support,Logistics\n"
                          f"{a.external_id},2025-06-30,80,Support,\n")               # no division: in no cell
        import_ledger(ledger, by=lead)
        grid = services.whitespace(a)
        assert grid.divisions == ("Finance", "Logistics") and grid.product_lines == ("Sensors", "Support")
        cells = {key: (cell.state, cell.revenue) for key, cell in grid.cells.items() if cell.revenue or cell.state != "whitespace"}
        assert cells == {("Finance", "Sensors"): ("in_use", Decimal("1500.00")), ("Logistics", "Support"): ("in_use", Decimal("50.00"))}
        page = client_for(kam).get(reverse("planning:whitespace", args=[a.pk, plan.pk])).content.decode()
        assert 'class="ws-detail ws-revenue"' in page and "1,500" in page

    def test_one_click_from_a_whitespace_cell_to_a_new_opportunity(self, plan, kam):
        services.set_cell(plan.account, by=kam, division="Finance", product_line="Analytics", state="whitespace",
                          estimated_value=30_000)
        client = client_for(kam)
        page = client.get(reverse("planning:whitespace", args=[plan.account_id, plan.pk])).content.decode()
        assert 'data-state="whitespace"' in page and "30,000" in page
        link = reverse("planning:opportunity_create", args=[plan.account_id, plan.pk])
        assert f'{link}?division=Finance&amp;product_line=Analytics&amp;amount=30000.00' in page
        form = client.get(link, {"division": "Finance", "product_line": "Analytics", "amount": "30000.00"}).content.decode()
        assert 'value="Finance"' in form and 'value="Analytics"' in form and 'value="30000.00"' in form
        saved = client.post(link, {"name": "Analytics for finance", "kind": "cross_sell", "division": "Finance",
                                   "product_line": "Analytics", "stage": "qualify", "amount": "30000", "probability": "0.2"})
        assert saved.status_code == 302
        assert services.whitespace(plan.account).cells[("Finance", "Analytics")].state == "open_opportunity"

    def test_api_grid_and_cell(self, plan, kam, viewer, api_client):
        url = f"/api/v1/accounts/{plan.account_id}/whitespace"
        put = api_client(kam).put(url + "/cell", {"division": "IT", "product_line": "Cloud", "state": "whitespace",
                                                  "estimated_value": "5000"}, content_type="application/json")
        assert put.status_code == 200 and body(put)["version"] == 1
        grid = body(api_client(viewer).get(url))
        assert grid["divisions"] == ["IT"] and grid["cells"][0]["state"] == "whitespace" and float(grid["whitespace_value"]) == 5000
        assert api_client(viewer).put(url + "/cell", {"division": "IT", "product_line": "Cloud", "state": "in_use"},
                                      content_type="application/json").status_code == 403
        bad = api_client(kam).put(url + "/cell", {"division": "IT", "product_line": "Cloud", "state": "maybe"},
                                  content_type="application/json")
        assert bad.status_code == 422 and body(bad)["detail"][0]["loc"][-1] == "state"


def test_pipeline_is_pure():
    deals = [analysis.Deal(Decimal(100), Decimal("0.5"), "develop", None, None)]
    assert analysis.pipeline(deals, starts=datetime.date(2027, 1, 1), ends=datetime.date(2027, 12, 31)).weighted == Decimal("50.00")
