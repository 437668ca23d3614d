"""keyplan import payments: invoices with their due and paid dates, and how late an account pays as a health
signal (the payments component and the payments_late rule), on the account's page and the API."""

import datetime
import json

from django.urls import reverse

from keyplan.cli import main
from keyplan.health import services
from keyplan.health.models import Invoice
from tests.conftest import client_for
from tests.health.test_usage_tickets import write

days = datetime.timedelta


def test_import_payments_then_the_score_and_the_rule(key_account, admin, kam, tmp_path, capsys, today, api_client):
    ext = key_account.external_id
    rows = [f"{ext},INV-1,{(today - days(100)).isoformat()},{(today - days(60)).isoformat()},1200.50",  # 40 days late
            f"{ext},INV-2,{(today - days(70)).isoformat()},,990",  # unpaid, 70 days past due
            f"{ext},INV-3,{(today + days(20)).isoformat()},,500"]  # not yet due: a due date may lie ahead
    path = write(tmp_path, "payments.csv", "account_id,invoice,due_date,paid,amount", rows)
    assert main(["import", "payments", path, "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["rows_imported"] == 3 and Invoice.objects.get(invoice_id="INV-1").amount == 1200.5
    assert main(["import", "payments", path, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rows_duplicate"] == 3 and Invoice.objects.count() == 3
    health = services.account_health(key_account, today=today)
    part = next(c for c in health["components"] if c["name"] == "payments")
    assert part["value"] == 55 and part["contribution"] == -10
    assert part["explanation"] == ("−10: invoices paid 55 days late on average (2 invoices due in 180 days); "
                                   "unpaid past their due date: 1")
    assert "payments_late" in health["endangered"]
    assert "Invoices paid a month late or more on average" in health["endangered_reasons"]
    data = api_client(kam).get(f"/api/v1/accounts/{key_account.pk}/payments").json()
    assert data["invoices"] == 2 and data["overdue"] == 1 and data["days_late"] == 55
    assert [i["invoice_id"] for i in data["latest"]] == ["INV-3", "INV-2", "INV-1"]
    page = client_for(kam).get(reverse("health:account", args=[key_account.pk])).content.decode()
    assert "INV-2" in page and "paid 55 days late on average" in page
    assert main(["rollback", str(first["batch"])]) == 0
    assert not Invoice.objects.exists()


def test_bad_payment_rows_write_nothing(key_account, admin, tmp_path, capsys, today):
    ext = key_account.external_id
    tomorrow = (today + days(1)).isoformat()
    path = write(tmp_path, "payments.csv", "account_id,invoice_id,due,paid,amount",
                 [f"{ext},A-1,2026-01-01,2026-01-10,100", "NOPE,A-2,2026-01-01,,100", f"{ext},A-3,2026-01-01,{tomorrow},100",
                  f"{ext},A-4,someday,,100", f"{ext},A-5,2026-01-01,,lots"])
    assert main(["import", "payments", path, "--json"]) == 1
    problems = {(e["line"], e["column"]) for e in json.loads(capsys.readouterr().out)["errors"]}
    assert problems == {(3, "account_id"), (4, "paid"), (5, "due"), (6, "amount")}
    assert not Invoice.objects.exists()
