"""The ledger's key: the day first, then the hash (keyplan.revenue.ledger_keys), and the upgrade that re-keys old lines."""

import datetime

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from keyplan.revenue.importing.validate import line_id_keys
from keyplan.revenue.ledger_keys import FIRST_DAY, LAST_DAY, day_keys, day_of, hash_part, key_range

days = st.dates(FIRST_DAY, LAST_DAY)
hashes = st.integers(-(1 << 63), (1 << 63) - 1)


@given(st.lists(st.tuples(days, hashes), min_size=1, max_size=50))
def test_keys_keep_the_day_and_sort_by_it(lines):
    keys = day_keys(pl.Series([d for d, _ in lines], dtype=pl.Date), pl.Series([h for _, h in lines], dtype=pl.Int64)).to_list()
    assert [day_of(k) for k in keys] == [d for d, _ in lines]
    for key, (day, hashed) in zip(keys, lines):
        low, high = key_range(day, day)
        assert low <= key <= high
        assert hash_part(pl.Series([key]).to_numpy())[0] == hash_part(pl.Series([hashed]).to_numpy())[0]
    by_key = [day_of(k) for k in sorted(keys)]
    assert by_key == sorted(by_key)


@given(days, days)
def test_a_key_range_holds_exactly_its_days(first, last):
    first, last = min(first, last), max(first, last)
    low, high = key_range(first, last)
    assert (day_of(low), day_of(high)) == (first, last)
    if first > FIRST_DAY:
        assert day_of(low - 1) == first - datetime.timedelta(days=1)
    if last < LAST_DAY:
        assert day_of(high + 1) == last + datetime.timedelta(days=1)
    assert -(1 << 63) <= low <= high <= (1 << 63) - 1


BEFORE, AFTER = ("revenue", "0008_batch_worker_broken_off"), ("revenue", "0009_ledger_keys_by_day")


@pytest.mark.django_db(transaction=True)
def test_the_upgrade_gives_old_lines_keys_by_day_that_a_new_import_recognises(tmp_path, lead, migrate_to):
    from keyplan.revenue.services import import_ledger

    old = migrate_to(BEFORE)
    account = old.get_model("accounts", "Account").objects.create(external_id="M-1", name="Migrated", reporting_currency="EUR")
    batch = old.get_model("revenue", "ImportBatch").objects.create(kind="ledger", file_name="old.csv", file_sha256="0" * 64,
                                                                    status="done", created_by_id=lead.pk)
    lines = old.get_model("revenue", "LedgerLine").objects
    old_key = line_id_keys(pl.Series(["OLD-1"]))[0]  # as imports before the upgrade keyed a line with an id
    lines.create(batch=batch, account=account, date=datetime.date(2025, 3, 1), amount=10, currency="EUR",
                 amount_reporting=10, line_id="OLD-1", dedupe_key=old_key)
    lines.create(batch=batch, account=account, date=datetime.date(1999, 12, 31), amount=5, currency="EUR",
                 amount_reporting=5, dedupe_key=-42)
    old.get_model("revenue", "MonthlyRollup").objects.create(account=account, month=datetime.date(2025, 3, 1), revenue=10, lines=1)

    new = migrate_to(AFTER)
    rekeyed = dict(new.get_model("revenue", "LedgerLine").objects.values_list("dedupe_key", "date"))
    assert len(rekeyed) == 2 and {day_of(key) for key in rekeyed} == set(rekeyed.values())
    by_day = {day: key for key, day in rekeyed.items()}
    assert by_day[datetime.date(2025, 3, 1)] == day_keys(pl.Series([datetime.date(2025, 3, 1)]), pl.Series([old_key]))[0]
    assert by_day[datetime.date(1999, 12, 31)] == day_keys(pl.Series([datetime.date(1999, 12, 31)]), pl.Series([-42]))[0]
    migrate_to()

    # The line imported before the upgrade is recognised by its line id.
    path = tmp_path / "again.csv"
    path.write_text("line_id,account_id,date,amount\nOLD-1,M-1,2025-03-01,10\nNEW-1,M-1,2025-03-02,3\n")
    result = import_ledger(path, by=lead)
    assert (result.rows_imported, result.rows_duplicate, result.error_count) == (1, 1, 0)
