"""The feeds added for issue 16's "every analysis and list": the scoring matrix, stakeholders, interactions, who to win,
health, MRR, concentration, lifetime value, and the lists of imports, workload, rounds, reviews of key status and
notifications. Each reads as its token's user, in English columns, with formulas neutralised."""

import datetime

import pytest
from django.urls import reverse

from keyplan.health.models import Notification
from keyplan.reports.feeds import FEEDS
from keyplan.revenue.services import add_subscription, import_ledger
from tests.conftest import client_for
from tests.reports.test_csv_lists import EVIL, accounts, world  # noqa: F401  (fixtures)
from tests.reports.test_feeds import _csv, _excel, _token

TODAY = datetime.date.today()


def _feed(token: str, name: str, **query) -> list[list[str]]:
    return _csv(_excel(token).get(reverse("reports:feed_csv", args=[name]), query))


def _json(token: str, name: str, **query) -> dict:
    response = _excel(token).get(reverse("reports:feed_json", args=[name]), query)
    assert response.status_code == 200, response.content[:300]
    import json

    return json.loads(b"".join(response.streaming_content))


@pytest.fixture
def revenue(world, lead, tmp_path):  # noqa: F811
    """Two years of revenue for the three accounts, and a subscription of F-B."""
    rows = ["line_id,account_id,date,amount,cost"]
    for back in (0, 1):
        for n, key in enumerate("ABC"):
            for month in (1, 4, 7):
                rows.append(f"L{key}{back}{month},F-{key},{datetime.date(TODAY.year - back, month, 10)},{(3 - n) * 100},{(3 - n) * 30}")
    (tmp_path / "ledger.csv").write_text("\n".join(rows) + "\n")
    assert import_ledger(tmp_path / "ledger.csv", by=lead).error_count == 0
    add_subscription(world["B"], by=lead, plan="Pro", monthly_amount=100, currency="EUR", start=datetime.date(TODAY.year - 1, 1, 1))
    return world


def test_stakeholders_interactions_and_who_to_win_across_the_readers_accounts(kam, lead, world):  # noqa: F811
    token = _token(kam)
    people = _feed(token, "stakeholders")
    assert people[0][:3] == ["Account", "External id", "Name"]
    assert {row[1] for row in people[1:]} == {"F-B"} and "'=cmd of F-B" in {row[2] for row in people[1:]}
    assert [row[2] for row in _feed(token, "stakeholders", department="Finance")[1:]] == ["'=cmd of F-B"]
    assert _feed(token, "stakeholders", account="F-A")[1:] == []  # not theirs: nothing, not an error
    log = _json(token, "interactions")
    assert [item["external_id"] for item in log["items"]] == ["F-B"] and log["items"][0]["summary"] == "'+ordered more"
    assert {row[1] for row in _feed(_token(lead), "interactions")[1:]} == {"F-A", "F-B", "F-C"}
    win = _feed(token, "who-to-win")
    assert win[0][:4] == ["Account", "External id", "Rank", "Stakeholder"] and {row[1] for row in win[1:]} == {"F-B"}
    assert win[1][0] == "'" + EVIL


def test_the_scoring_matrix_and_health(kam, lead, world):  # noqa: F811
    from keyplan.health.services import take_snapshot

    matrix = _json(_token(lead), "scoring-matrix")
    assert [item["external_id"] for item in matrix["items"]] == ["F-A", "F-B", "F-C"]
    assert matrix["items"][0]["product_fit"] == 9 and matrix["items"][0]["rank"] == 1
    assert [item["external_id"] for item in _json(_token(kam), "scoring-matrix")["items"]] == ["F-B"]
    take_snapshot()
    health = _feed(_token(kam), "health")
    assert health[0][:5] == ["Account", "External id", "Key status", "Day", "Health score"]
    assert [row[1] for row in health[1:]] == ["F-B"] and health[1][3] == TODAY.isoformat()
    assert int(health[1][4]) in range(0, 101)


def test_mrr_concentration_and_lifetime_value(kam, lead, revenue):
    token = _token(lead)
    months = _json(token, "mrr")
    assert months["columns"][:3] == ["month", "mrr", "arr"] and months["count"] == 12
    assert months["items"][-1]["mrr"] == 100.0 and months["items"][-1]["arr"] == 1200.0
    concentration = _feed(token, "concentration")
    assert concentration[0][:2] == ["External id", "Account"] and f"Revenue {TODAY.year}" in concentration[0]
    assert [row[0] for row in concentration[1:]][:1] == ["F-A"]
    assert {row[0] for row in _feed(_token(kam), "concentration")[1:]} == {"F-B"}
    response = _excel(token).get(reverse("reports:feed_csv", args=["clv"]))
    if response.status_code == 422:  # too few repeat buyers for the models: said, naming the parameter
        assert response.json()["detail"][0]["loc"] == ["query", "from"]
    else:
        rows = _csv(response)
        assert rows[0][:3] == ["External id", "Account", "Purchases"] and len(rows) == 4
    assert _excel(token).get(reverse("reports:feed_csv", args=["mrr"]), {"from": "nonsense"}).status_code == 422


def test_lists_of_imports_workload_rounds_reviews_and_notifications(kam, lead, world):  # noqa: F811
    from keyplan.revenue.models import ImportBatch
    from keyplan.scoring import services as scoring

    ImportBatch.objects.create(kind="ledger", file_name="=evil.csv", file_sha256="0" * 64, status="done", created_by=lead)
    scoring.create_round(by=lead, name="Spring round", refresh=False)
    scoring.run_review(by=lead)
    Notification.objects.create(user=kam, account=world["B"], kind="stale", key="s1",
                                params={"code": "stale_never", "person": "Ann", "account": "F-B"})
    lead_token, kam_token = _token(lead), _token(kam)
    assert _feed(lead_token, "imports")[1][2] == "'=evil.csv"
    assert _excel(kam_token).get(reverse("reports:feed_csv", args=["imports"])).status_code == 403
    assert [row[0] for row in _feed(kam_token, "workload")[1:]] == ["Karl Kam"]
    assert [row[0] for row in _feed(kam_token, "selection-rounds")[1:]] == ["Spring round"]
    assert len(_feed(lead_token, "key-status-reviews")) == 2
    assert [row[2] for row in _feed(kam_token, "notifications")[1:]] == ["F-B"]
    assert _feed(lead_token, "notifications")[1:] == []  # one's own


def test_the_feeds_page_lists_the_new_feeds(lead, db):
    page = client_for(lead).get(reverse("reports:feeds")).content.decode()
    for name in ("scoring-matrix", "stakeholders", "interactions", "who-to-win", "health", "mrr", "concentration", "clv",
                 "imports", "workload", "selection-rounds", "key-status-reviews", "notifications"):
        assert name in FEEDS
        assert f"http://testserver/reports/feeds/{name}.csv" in page and f"/reports/feeds/{name}.json" in page
