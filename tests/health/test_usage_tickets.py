"""keyplan import usage / tickets, and the two components they feed."""

import datetime
import json

from keyplan.cli import main
from keyplan.health import analysis, services
from keyplan.health.analysis import Facts
from keyplan.health.models import Ticket, UsageRecord


def write(tmp_path, name: str, header: str, rows: list[str]) -> str:
    path = tmp_path / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return str(path)


def test_usage_and_ticket_components():
    fell = analysis.score(Facts(usage_change=-0.3))
    usage = next(c for c in fell.components if c.name == "usage")
    assert usage.contribution == -6 and usage.parts == [("usage_fell", {"percent": 30})]  # 10 × 0.3 / 0.5
    tickets = next(c for c in analysis.score(Facts(has_tickets=True, open_high_tickets=1)).components if c.name == "tickets")
    assert tickets.contribution == -2 and tickets.value == 1  # 5 × 1/2, rounded half to even
    none = analysis.score(Facts())
    assert not any(c.counted for c in none.components if c.name in ("usage", "tickets"))


def test_import_usage_then_its_component(key_account, admin, tmp_path, capsys, today):
    ext = key_account.external_id
    rows = []
    for days_ago, logins in ((150, 100), (120, 100), (60, 40), (10, 40)):
        rows.append(f"{ext},{(today - datetime.timedelta(days=days_ago)).isoformat()},logins,{logins}")
    path = write(tmp_path, "usage.csv", "account_id,date,metric,value", rows)
    assert main(["import", "usage", path, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rows_imported"] == 4
    assert main(["import", "usage", path, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rows_duplicate"] == 4 and UsageRecord.objects.count() == 4
    f = services.facts([key_account.pk], today=today)[key_account.pk]
    assert f.usage_change == -0.6  # 80 against 200
    health = services.account_health(key_account, today=today)
    usage = next(c for c in health["components"] if c["name"] == "usage")
    assert usage["explanation"] == "−10: product usage fell 60 % against the 90 days before"


def test_bad_usage_and_ticket_rows_write_nothing(key_account, admin, tmp_path, capsys, today):
    ext = key_account.external_id
    tomorrow = (today + datetime.timedelta(days=1)).isoformat()
    usage = write(tmp_path, "usage.csv", "account_id,date,metric,value",
                  [f"{ext},2026-01-01,logins,12", "NOPE,2026-01-01,logins,3", f"{ext},{tomorrow},logins,3", f"{ext},2026-01-02,logins,many"])
    assert main(["import", "usage", usage, "--json"]) == 1
    problems = {(e["line"], e["column"]) for e in json.loads(capsys.readouterr().out)["errors"]}
    assert problems == {(3, "account_id"), (4, "date"), (5, "value")}
    tickets = write(tmp_path, "tickets.csv", "account_id,ticket_id,opened,closed,severity",
                    [f"{ext},T-1,2026-01-01,,high", f"{ext},T-2,2026-02-01,2026-01-01,low", f"{ext},T-3,2026-01-01,,sometimes"])
    assert main(["import", "tickets", tickets, "--json"]) == 1
    problems = {(e["line"], e["column"]) for e in json.loads(capsys.readouterr().out)["errors"]}
    assert problems == {(3, "closed"), (4, "severity")}
    assert not UsageRecord.objects.exists() and not Ticket.objects.exists()


def test_import_tickets_then_roll_back(key_account, admin, tmp_path, capsys, today):
    ext = key_account.external_id
    path = write(tmp_path, "tickets.csv", "account_id,ticket_id,opened,closed,severity",
                 [f"{ext},T-1,2026-01-01,,P1", f"{ext},T-2,2026-01-05,2026-01-09,high", f"{ext},T-3,2026-01-05,,low"])
    assert main(["import", "tickets", path, "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["rows_imported"] == 3 and Ticket.objects.get(ticket_id="T-1").severity == "critical"
    f = services.facts([key_account.pk], today=today)[key_account.pk]
    assert f.has_tickets and f.open_high_tickets == 1
    assert main(["import", "tickets", path, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rows_duplicate"] == 3
    assert main(["rollback", str(first["batch"])]) == 0
    assert not Ticket.objects.exists()
