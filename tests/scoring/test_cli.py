import json

from keyplan.cli import main
from keyplan.scoring import services
from keyplan.scoring.models import Review


def test_analyze_scores_json_is_the_api_payload(capsys, admin, lead, worked_example, api_client):
    assert main(["analyze", "scores", "--json", "--as", "lead"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert [(a["name"], a["total"], a["rank"]) for a in payload["accounts"]] == [
        ("Charlie", 7.78, 1), ("Alpha", 7.23, 2), ("Bravo", 6.6, 3)]
    assert payload == api_client(lead).get("/api/v1/analysis/scores").json()
    assert main(["analyze", "scores", "--as", "lead"]) == 0
    assert "Charlie" in capsys.readouterr().out


def test_review_run_saves_a_review(capsys, admin, lead, worked_example):
    services.create_round(by=lead, name="FY2026")
    assert main(["review", "run", "--json", "--as", "lead", "--round", "FY2026"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["round"]["name"] == "FY2026" and payload["too_early"] is True
    assert Review.objects.get().pk == payload["id"]
    assert main(["review", "run", "--round", "nope"]) == 2
    assert "no selection round" in capsys.readouterr().err
    assert main(["review", "run"]) == 0
    assert "Rising accounts" in capsys.readouterr().out


def test_review_run_refuses_a_team_member(capsys, kam, admin):
    assert main(["review", "run", "--as", "kam"]) == 2
    assert "KAM leads" in capsys.readouterr().err
    assert not Review.objects.exists()
