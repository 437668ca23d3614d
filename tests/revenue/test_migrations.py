"""Upgrading a database that holds a ledger: migration 0003 keys the lines and fills the yearly rollups."""

import datetime

import polars as pl
import pytest

from keyplan.revenue.importing.validate import line_id_keys

BEFORE, AFTER = ("revenue", "0002_abc_class"), ("revenue", "0003_ledger_keys_yearly_rollups")


@pytest.mark.django_db(transaction=True)
def test_lines_get_keys_and_rollups_get_years(migrate_to):
    old = migrate_to(BEFORE)
    account = old.get_model("accounts", "Account").objects.create(external_id="M-1", name="Migrated", reporting_currency="EUR")
    batch = old.get_model("revenue", "ImportBatch").objects.create(kind="ledger", file_name="old.csv", file_sha256="0" * 64,
                                                                    status="done")
    lines = old.get_model("revenue", "LedgerLine").objects
    lines.create(batch=batch, account=account, date=datetime.date(2025, 3, 1), amount=10, currency="EUR",
                 amount_reporting=10, line_id="OLD-1")
    lines.create(batch=batch, account=account, date=datetime.date(2025, 4, 1), amount=5, currency="EUR",
                 amount_reporting=5, dedupe_key=42)
    monthly = old.get_model("revenue", "MonthlyRollup").objects
    for month, revenue, cost in ((datetime.date(2025, 3, 1), 10, 1), (datetime.date(2025, 4, 1), 5, 2),
                                 (datetime.date(2026, 1, 1), 7, 0)):
        monthly.create(account=account, month=month, revenue=revenue, cost=cost, lines=1)

    new = migrate_to(AFTER)
    keys = dict(new.get_model("revenue", "LedgerLine").objects.values_list("line_id", "dedupe_key"))
    assert keys == {"OLD-1": line_id_keys(pl.Series(["OLD-1"]))[0], None: 42}
    yearly = {(r.year, float(r.revenue), float(r.cost), r.lines) for r in new.get_model("revenue", "YearlyRollup").objects.all()}
    assert yearly == {(2025, 15.0, 3.0, 2), (2026, 7.0, 0.0, 1)}
