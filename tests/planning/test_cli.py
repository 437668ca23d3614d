import json

from keyplan.accounts import services as accounts
from keyplan.cli import main
from keyplan.planning import services


def test_plans_json_lists_every_key_account_with_quality(plan, goal, lead, kam, make_account, capsys):
    accounts.set_tier(make_account("Neglected Ltd"), by=lead, tier="key", reason="Big")
    assert main(["plans", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["count"] == 2 and [i["account"]["name"] for i in out["items"]] == ["Neglected Ltd", plan.account.name]
    assert out["items"][1]["plan"]["period"] == plan.period and out["items"][1]["quality"]["total"] == 11
    assert main(["plans", "--as", "kam"]) == 0
    text = capsys.readouterr().out
    assert plan.account.name in text and "draft" in text and "Neglected" not in text


def test_not_living_and_unknown_user(plan, goal, kam, capsys):
    assert main(["plans", "--not-living", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["count"] == 1  # a draft is no living plan
    services.activate_plan(plan, by=kam)  # activating is the first review
    assert main(["plans", "--not-living", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["count"] == 0
    assert main(["plans", "--as", "nobody"]) == 2
    assert "no active user is named 'nobody'" in capsys.readouterr().err
