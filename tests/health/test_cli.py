import json

from keyplan.cli import main
from keyplan.health import services


def test_snapshot_twice_analyze_and_queue(key_account, kam, lead, today, capsys, subscribe):
    subscribe(key_account, "Premium", 3900)
    services.add_survey(key_account, by=kam, kind="nps", score=3, responded_on=today)
    assert main(["health", "snapshot", "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert main(["health", "snapshot", "--json"]) == 0
    second = json.loads(capsys.readouterr().out)
    assert first["accounts"] == second["accounts"] == 1 and second["replaced"] and not first["replaced"]
    assert main(["analyze", "health", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    item = out["items"][0]
    assert out["count"] == 1 and item["account"]["name"] == key_account.name
    assert {c["name"] for c in item["components"]} == {"satisfaction", "engagement", "mrr_movement", "overdue_actions",
                                                       "decision_makers", "usage", "tickets", "onboarding", "payments"}
    assert main(["health", "queue", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["count"] == 0
    assert main(["health", "reviews", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["items"][0]["account"]["name"] == key_account.name
