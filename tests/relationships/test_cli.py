import json
import xml.etree.ElementTree as ET

from keyplan.cli import main


def test_stale_json_and_text(cfo_case, kam_account, log, capsys, make_account, make_stakeholder):
    log(kam_account, cfo_case["cfo"], days_ago=90)
    make_stakeholder(make_account("Other Corp"), "Otto Key", is_key_contact=True)
    assert main(["relationships", "stale", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    # Olga Operations has medium decision power: watched too, although no decision maker.
    assert out["days"] == 60 and {(r["stakeholder"], r["days_since"]) for r in out["stale"]} == {
        ("Clara Ceo", None), ("Frank Finance", 90), ("Olga Operations", None), ("Otto Key", None)}
    # As the KAM sees it: only their account.
    assert main(["relationships", "stale", "--as", "kam", "--days", "100"]) == 0
    text = capsys.readouterr().out
    assert "Clara Ceo" in text and "never contacted" in text and "Frank Finance" not in text and "Otto Key" not in text


def test_who_to_win_map_and_meetings(cfo_case, kam_account, log, capsys, tmp_path):
    assert main(["relationships", "who-to-win", kam_account.external_id, "--json"]) == 0
    first = json.loads(capsys.readouterr().out)["targets"][0]
    assert first["stakeholder"]["name"] == "Frank Finance" and first["paths"][0][0]["name"] == "Olga Operations"
    assert main(["relationships", "who-to-win", kam_account.external_id]) == 0
    assert "path: Olga Operations → Frank Finance (owned by Karl Kam; start never contacted)" in capsys.readouterr().out
    target = tmp_path / "map.svg"
    assert main(["relationships", "map", kam_account.external_id, "-o", str(target)]) == 0
    assert len([g for g in ET.parse(target).getroot().iter("{http://www.w3.org/2000/svg}g") if "node" in (g.get("class") or "").split()]) == 4
    log(kam_account, cfo_case["cfo"], days_ago=-4, summary="Budget talk")
    assert main(["relationships", "meetings", kam_account.external_id]) == 0
    assert "SUMMARY:Meeting: Acme Manufacturing · Budget talk" in capsys.readouterr().out


def test_unknown_account_or_user_is_an_error(kam_account, capsys, make_account):
    hidden = make_account("Hidden")
    assert main(["relationships", "who-to-win", "NOPE"]) == 2
    assert "no account has the external id 'NOPE'" in capsys.readouterr().err
    assert main(["relationships", "map", hidden.external_id, "--as", "kam"]) == 2
    assert main(["relationships", "stale", "--as", "nobody"]) == 2
    assert main(["relationships", "stale", "--days", "0"]) == 2
