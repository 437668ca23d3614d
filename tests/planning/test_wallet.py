"""Share of wallet: the customer's estimated wallet on the plan, our revenue of the last 12 months over it."""

import decimal
import json

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from keyplan.planning import analysis, services
from keyplan.revenue.models import MonthlyRollup, YearlyRollup
from tests.conftest import client_for


@pytest.fixture
def revenue(key_account, today):
    first = today.replace(day=1)
    MonthlyRollup.objects.create(account=key_account, month=first, revenue=decimal.Decimal(30_000), cost=0, lines=1)
    YearlyRollup.objects.create(account=key_account, year=first.year, revenue=decimal.Decimal(30_000), cost=0, lines=1)


def test_share_of_wallet_is_revenue_over_wallet():
    assert analysis.share_of_wallet(30_000, decimal.Decimal(120_000)) == 0.25
    assert analysis.share_of_wallet(30_000, None) is None and analysis.share_of_wallet(30_000, 0) is None
    assert analysis.share_of_wallet(-5, 100) == 0.0


def test_the_wallet_measures_a_share_of_wallet_goal(plan, kam, today, revenue):
    goal = services.add_goal(plan, by=kam, data={"title": "A third of their spend", "metric": "share_of_wallet",
                                                 "target_value": 33, "owner": kam})
    view = services.plan_view(plan)
    assert view.value.share_of_wallet is None and view.goals[-1].current is None  # no wallet: not measured
    plan = services.update_plan(plan, by=kam, version=plan.version, changes={"wallet": 120_000})
    view = services.plan_view(plan)
    assert view.value.share_of_wallet == 0.25 and view.value.as_dict()["wallet"] == 120_000
    measured = next(g for g in view.goals if g.goal.pk == goal.pk)
    assert measured.current == 25.0 and measured.progress == pytest.approx(25 / 33)


def test_a_wallet_must_be_above_zero_and_carries_to_the_next_period(plan, kam, today):
    for bad in (0, -10, "lots"):
        with pytest.raises(ValidationError) as caught:
            services.update_plan(plan, by=kam, version=plan.version, changes={"wallet": bad})
        assert "wallet" in caught.value.message_dict
    plan = services.update_plan(plan, by=kam, version=plan.version, changes={"wallet": 500_000})
    following = services.create_plan(plan.account, by=kam, period=f"FY{today.year + 1}")
    assert following.wallet == 500_000


def test_the_plan_page_shows_the_share_and_the_form_takes_the_wallet(plan, kam, revenue):
    client = client_for(kam)
    page = reverse("planning:plan", args=[plan.account_id, plan.pk])
    assert "wallet to see it." in client.get(page).content.decode()
    edit = reverse("planning:edit", args=[plan.account_id, plan.pk])
    response = client.post(edit, {"version": plan.version, "period": plan.period, "starts": plan.starts, "ends": plan.ends,
                                  "summary": "", "wallet": "-1"})
    assert response.status_code == 400
    response = client.post(edit, {"version": plan.version, "period": plan.period, "starts": plan.starts, "ends": plan.ends,
                                  "summary": "", "wallet": "100000"})
    assert response.status_code == 302
    body = client.get(page).content.decode()
    assert 'id="share-of-wallet"' in body and "30%" in body


def test_the_api_sets_the_wallet_and_returns_the_share(plan, kam, api_client, revenue):
    client = api_client(kam)
    url = f"/api/v1/accounts/{plan.account_id}/plans/{plan.pk}"
    patched = client.patch(url, {"version": plan.version, "wallet": "60000"}, content_type="application/json")
    assert patched.status_code == 200 and decimal.Decimal(patched.json()["wallet"]) == 60_000
    assert client.get(url).json()["value"]["share_of_wallet"] == 0.5
    bad = client.patch(url, {"wallet": "0"}, content_type="application/json")
    assert bad.status_code == 422 and "wallet" in json.dumps(bad.json())
