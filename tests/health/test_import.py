"""keyplan import surveys: all rows or none, a report naming each bad row, duplicates recognised, a batch to roll back."""

import datetime
import json

from keyplan.cli import main
from keyplan.health.models import SurveyResponse
from keyplan.relationships import services as relationships
from keyplan.revenue.models import ImportBatch


def write(tmp_path, rows: list[str]) -> str:
    path = tmp_path / "surveys.csv"
    path.write_text("\n".join(["account_id,kind,score,date,stakeholder,comment", *rows]) + "\n", encoding="utf-8")
    return str(path)


def test_bad_rows_are_named_and_nothing_is_written(key_account, admin, tmp_path, capsys):
    tomorrow = (datetime.date.today() + datetime.timedelta(days=1)).isoformat()
    ext = key_account.external_id
    path = write(tmp_path, [f"{ext},nps,9,2026-01-10,,fine", f"{ext},nps,11,2026-01-10,,", "NOPE,nps,7,2026-01-10,,",
                            f"{ext},csat,3,{tomorrow},,", f"{ext},ces,3,2026-01-10,,", f"{ext},nps,8,2026-01-10,Nobody Known,"])
    assert main(["import", "surveys", path, "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    problems = {(e["line"], e["column"]) for e in report["errors"]}
    assert problems == {(3, "score"), (4, "account_id"), (5, "date"), (6, "kind"), (7, "stakeholder")}
    assert next(e for e in report["errors"] if e["line"] == 3)["reason"] == "NPS is a whole number from 0 to 10"
    assert not SurveyResponse.objects.exists() and not ImportBatch.objects.exists()


def test_import_then_again_then_roll_back(key_account, admin, kam, tmp_path, capsys):
    relationships.create_stakeholder(key_account, by=kam, data={"name": "Bea Boss", "email": "bea@example.com"})
    ext = key_account.external_id
    path = write(tmp_path, [f"{ext},nps,9,2026-01-10,bea@example.com,great", f"{ext},csat,4,2026-01-11,,"])
    assert main(["import", "surveys", path, "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["rows_imported"] == 2 and first["status"] == "done"
    assert SurveyResponse.objects.get(kind="nps").stakeholder.name == "Bea Boss"
    assert main(["import", "surveys", path, "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["rows_imported"] == 0 and again["rows_duplicate"] == 2
    assert main(["rollback", str(first["batch"])]) == 0
    assert not SurveyResponse.objects.exists()
