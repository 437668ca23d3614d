"""Importing ledgers, rates and subscriptions as users do: files on disk, real databases."""

import datetime
import decimal
import logging
import uuid
from pathlib import Path

import polars as pl
import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from openpyxl import Workbook

from keyplan.accounts.models import Account
from keyplan.revenue import portfolio
from keyplan.revenue.models import (
    BatchStatus,
    ExchangeRate,
    ImportBatch,
    LedgerLine,
    MonthlyRollup,
    ProductRollup,
    Subscription,
    YearlyRollup,
)
from keyplan.revenue.reading import ReadError
from keyplan.revenue.services import (
    LedgerOptions,
    import_ledger,
    import_rates,
    import_subscriptions,
    inspect_ledger,
    rollback_batch,
)


@pytest.fixture
def customers(make_account):
    return [make_account(f"Customer {i}", external_id=f"C-{i}") for i in range(1, 4)]


def write(tmp_path: Path, text: str, name: str = "ledger.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def state():
    """Everything an import may change, to prove that a rejected one changed nothing."""
    rollups = sorted((r.account_id, r.month, r.revenue, r.cost, r.lines) for r in MonthlyRollup.objects.all())
    yearly = sorted((r.account_id, r.year, r.revenue, r.cost, r.lines) for r in YearlyRollup.objects.all())
    return LedgerLine.objects.count(), Account.objects.count(), rollups, yearly


def key_of(line_id: str, day: datetime.date) -> int:
    """The ledger key of a line with ``line_id`` on ``day``, as the import makes it."""
    from keyplan.revenue.importing.validate import line_id_keys
    from keyplan.revenue.ledger_keys import day_keys

    return day_keys(pl.Series([day]), line_id_keys(pl.Series([line_id])))[0]


def rollup(external_id: str, month: str):
    row = MonthlyRollup.objects.get(account__external_id=external_id, month=datetime.date.fromisoformat(month))
    return row.revenue, row.cost, row.lines


class TestFormats:
    def test_european_csv_with_bom_semicolons_decimal_comma_and_thousands(self, tmp_path, lead, customers):
        path = write(tmp_path, "\ufeffKundennummer;Rechnungsdatum;Betrag;Kosten\n"
                               "C-1;31.01.2026;1.234,50;100,25\n"
                               "C-1;15.01.2026;10,00;\n"
                               "C-2;01.02.2026;2.000.000,00;1.000,00\n")
        inspection = inspect_ledger(path)
        assert inspection.mapping == {"account_id": "Kundennummer", "date": "Rechnungsdatum", "amount": "Betrag", "cost": "Kosten"}
        assert (inspection.decimal, inspection.date_format, inspection.table.delimiter) == (",", "%d.%m.%Y", ";")
        result = import_ledger(path, by=lead)
        assert (result.error_count, result.rows_imported) == (0, 3)
        assert rollup("C-1", "2026-01-01") == (decimal.Decimal("1244.50"), decimal.Decimal("100.25"), 2)
        assert rollup("C-2", "2026-02-01") == (decimal.Decimal("2000000.00"), decimal.Decimal("1000.00"), 1)

    def test_latin1_file_and_empty_lines(self, tmp_path, lead, customers):
        text = "account_id,date,amount,product\n\nC-1,2026-03-01,10.5,Café crème\n\n\nC-2,2026-03-02,1,Überweisung\n"
        result = import_ledger(write(tmp_path, text, encoding="latin-1"), by=lead)
        assert (result.error_count, result.rows_imported) == (0, 2)
        assert set(LedgerLine.objects.values_list("product", flat=True)) == {"Café crème", "Überweisung"}

    def test_empty_lines_keep_line_numbers_right(self, tmp_path, lead, customers):
        text = "account_id,date,amount\nC-1,2026-03-01,1\n\nC-1,2026-03-01,not money\n"
        result = import_ledger(write(tmp_path, text), by=lead)
        assert [(e.line, e.column, e.value) for e in result.errors] == [(4, "amount", "not money")]

    def test_xlsx_with_a_title_row_above_the_header(self, tmp_path, lead, customers):
        book = Workbook()
        sheet = book.active
        sheet.append(["Revenue export Q1 2026"])
        sheet.append([])
        sheet.append(["Customer", "Invoice date", "Net amount", "Currency"])
        sheet.append(["C-1", datetime.datetime(2026, 1, 5), 1500.75, "EUR"])
        sheet.append(["C-3", datetime.datetime(2026, 2, 6), 99, "EUR"])
        book.save(tmp_path / "export.xlsx")
        inspection = inspect_ledger(tmp_path / "export.xlsx")
        assert inspection.table.header_line == 3
        result = import_ledger(tmp_path / "export.xlsx", by=lead)
        assert (result.error_count, result.rows_imported) == (0, 2)
        assert rollup("C-1", "2026-01-01")[0] == decimal.Decimal("1500.75")

    def test_a_file_with_no_rows_imports_nothing_and_says_so(self, tmp_path, lead, customers):
        result = import_ledger(write(tmp_path, "account_id;date;amount\n"), by=lead)
        assert (result.rows_total, result.rows_imported, result.error_count) == (0, 0, 0)
        assert result.batch.status == BatchStatus.DONE

    def test_missing_required_column_names_it(self, tmp_path, lead, customers):
        with pytest.raises(ReadError, match="No column for amount"):
            import_ledger(write(tmp_path, "account_id,date,value_x\nC-1,2026-01-01,5\n"), by=lead)
        assert not ImportBatch.objects.exists()

    def test_map_option_names_the_columns(self, tmp_path, lead, customers):
        path = write(tmp_path, "wer,wann,wieviel\nC-1,2026-01-01,5\n")
        result = import_ledger(path, by=lead, options=LedgerOptions(mapping={"wer": "account_id", "wann": "date", "wieviel": "amount"}))
        assert result.rows_imported == 1

    def test_empty_file_is_refused(self, tmp_path, lead):
        with pytest.raises(ReadError, match="empty"):
            import_ledger(write(tmp_path, ""), by=lead)


class TestAllOrNothing:
    def test_every_bad_row_is_reported_and_nothing_is_written(self, tmp_path, lead, customers):
        import_ledger(write(tmp_path, "account_id,date,amount\nC-1,2026-01-01,100\n", "first.csv"), by=lead)
        before = state()
        text = ("account_id,date,amount,currency\n"
                "C-1,2026-01-02,50,EUR\n"       # good
                ",2026-01-02,50,EUR\n"          # line 3: missing account id
                "C-9,2026-01-02,50,EUR\n"       # line 4: unknown account
                "C-1,2026-02-30,50,EUR\n"       # line 5: not a date
                "C-1,2026-01-02,fifty,EUR\n"    # line 6: not a number
                "C-1,2026-01-02,50,EURO\n"      # line 7: unknown currency
                "C-1,2026-01-02,50,USD\n")      # line 8: no exchange rate
        result = import_ledger(write(tmp_path, text), by=lead)
        found = {(e.line, e.column): e.reason for e in result.errors}
        assert found.keys() == {(3, "account_id"), (4, "account_id"), (5, "date"), (6, "amount"), (7, "currency"), (8, "currency")}
        assert "unknown account" in found[(4, "account_id")]
        assert "no exchange rate for USD" in found[(8, "currency")]
        assert result.batch.status == BatchStatus.REJECTED and result.rows_imported == 0
        assert state() == before

    def test_a_date_outside_1900_to_2199_is_a_row_error(self, tmp_path, lead, customers):
        before = state()
        text = "account_id,date,amount\nC-1,2026-01-02,50\nC-1,1899-12-31,5\nC-1,2200-01-01,5\nC-1,1900-01-01,1\n"
        result = import_ledger(write(tmp_path, text), by=lead)
        assert [(e.line, e.column, e.code) for e in result.errors] == [(3, "date", "date_out_of_range"), (4, "date", "date_out_of_range")]
        assert "1900-01-01 to 2199-12-31" in result.errors[0].reason
        assert state() == before

    def test_skip_invalid_writes_the_good_rows_and_the_rejected_file(self, tmp_path, lead, customers):
        text = "account_id,date,amount\nC-1,2026-01-02,50\nC-1,yesterday,50\nC-2,2026-01-03,7\n"
        result = import_ledger(write(tmp_path, text), by=lead, options=LedgerOptions(skip_invalid=True))
        assert (result.rows_imported, result.rows_rejected) == (2, 1)
        rejected = result.rejected_file.read_text().splitlines()
        assert rejected[0].startswith("line,reason") and rejected[1].startswith("3,date: not a date")
        assert LedgerLine.objects.count() == 2

    def test_dry_run_writes_nothing(self, tmp_path, lead, customers):
        result = import_ledger(write(tmp_path, "account_id,date,amount\nC-1,2026-01-02,50\n"), by=lead,
                               options=LedgerOptions(dry_run=True))
        assert result.rows_total == 1 and not LedgerLine.objects.exists() and not ImportBatch.objects.exists()

    def test_only_leads_and_admins_import(self, tmp_path, kam, customers):
        with pytest.raises(PermissionDenied):
            import_ledger(write(tmp_path, "account_id,date,amount\nC-1,2026-01-02,50\n"), by=kam)


class TestDuplicates:
    def test_the_same_file_twice_counts_once(self, tmp_path, lead, customers):
        path = write(tmp_path, "account_id,date,amount\nC-1,2026-01-02,50\nC-1,2026-01-02,50\nC-2,2026-01-03,7\n")
        first = import_ledger(path, by=lead)
        second = import_ledger(path, by=lead)
        assert (first.rows_imported, second.rows_imported, second.rows_duplicate) == (3, 0, 3)
        # Two identical lines in one file are two sales: both count, once.
        assert rollup("C-1", "2026-01-01") == (decimal.Decimal("100.00"), decimal.Decimal("0.00"), 2)

    def test_overlapping_exports_add_only_the_new_lines(self, tmp_path, lead, customers):
        import_ledger(write(tmp_path, "line_id,account_id,date,amount\nL1,C-1,2026-01-02,50\nL2,C-1,2026-01-05,10\n", "jan.csv"), by=lead)
        result = import_ledger(write(tmp_path, "line_id,account_id,date,amount\nL2,C-1,2026-01-05,10\nL3,C-1,2026-02-01,5\n", "feb.csv"), by=lead)
        assert (result.rows_imported, result.rows_duplicate) == (1, 1)
        assert rollup("C-1", "2026-01-01")[0] == decimal.Decimal("60.00")

    def test_values_shared_by_every_line_are_stored_as_given(self, tmp_path, lead, customers):
        # One product, division and invoice throughout: stored exactly, quote and blank included.
        result = import_ledger(write(tmp_path, "account_id,date,amount,product,division,invoice_id\n"
                                               "C-1,2026-01-02,50,Men's wear,,INV 1\nC-2,2026-01-03,50,Men's wear,,INV 1\n"), by=lead)
        assert result.rows_imported == 2
        assert set(LedgerLine.objects.values_list("product", "division", "invoice_id", "amount", "currency")) == {
            ("Men's wear", "", "INV 1", decimal.Decimal("50.00"), "EUR")}

    def test_a_dry_run_counts_the_lines_already_imported(self, tmp_path, lead, customers):
        import_ledger(write(tmp_path, "line_id,account_id,date,amount\nL1,C-1,2026-01-02,50\n", "jan.csv"), by=lead)
        path = write(tmp_path, "line_id,account_id,date,amount\nL1,C-1,2026-01-02,50\nL2,C-2,2026-01-03,5\n", "both.csv")
        result = import_ledger(path, by=lead, options=LedgerOptions(dry_run=True))
        assert (result.rows_total, result.rows_duplicate, result.ok) == (2, 1, True)
        assert LedgerLine.objects.count() == 1

    def test_a_key_taken_by_another_line_id_is_an_error_not_a_duplicate(self, tmp_path, lead, customers):
        import_ledger(write(tmp_path, "line_id,account_id,date,amount\nL1,C-1,2026-01-02,50\n", "jan.csv"), by=lead)
        # As if two different line ids of one day had the same hash: the stored line carries L2's key.
        LedgerLine.objects.update(dedupe_key=key_of("L2", datetime.date(2026, 1, 3)))
        before = state()
        result = import_ledger(write(tmp_path, "line_id,account_id,date,amount\nL2,C-2,2026-01-03,5\n", "feb.csv"), by=lead)
        assert [(e.line, e.column, e.value) for e in result.errors] == [(2, "line_id", "L2")]
        assert "collides with line L1" in result.errors[0].reason
        assert state() == before and result.batch.status == BatchStatus.REJECTED

    def test_lines_written_by_another_import_meanwhile_stop_this_one_cleanly(self, tmp_path, lead, customers):
        import_ledger(write(tmp_path, "line_id,account_id,date,amount\nL0,C-1,2026-01-01,1\n", "old.csv"), by=lead)
        other = ImportBatch.objects.create(kind="ledger", file_name="other.csv", file_sha256="0" * 64, created_by=lead)

        def meanwhile(value, message):
            # Between validation and writing, another import writes line L2 of this file.
            if message == "importing" and not LedgerLine.objects.filter(line_id="L2").exists():
                LedgerLine.objects.create(batch=other, account=customers[1], date=datetime.date(2026, 1, 3), amount=5,
                                          currency="EUR", amount_reporting=5, line_id="L2",
                                          dedupe_key=key_of("L2", datetime.date(2026, 1, 3)))

        path = write(tmp_path, "line_id,account_id,date,amount\nL1,C-1,2026-01-02,50\nL2,C-2,2026-01-03,5\n", "jan.csv")
        with pytest.raises(ReadError, match="Another import wrote some of these lines"):
            import_ledger(path, by=lead, progress=meanwhile)
        failed = ImportBatch.objects.get(file_name="jan.csv")
        assert failed.status == BatchStatus.FAILED and not LedgerLine.objects.filter(batch=failed).exists()
        assert rollup("C-1", "2026-01-01") == (decimal.Decimal("1.00"), decimal.Decimal("0.00"), 1)

    def test_a_line_id_twice_in_one_file_is_an_error(self, tmp_path, lead, customers):
        result = import_ledger(write(tmp_path, "line_id,account_id,date,amount\nL1,C-1,2026-01-02,50\nL1,C-2,2026-01-02,60\n"), by=lead)
        assert [(e.line, e.column, e.value) for e in result.errors] == [(3, "line_id", "L1")]
        assert not LedgerLine.objects.exists()

    def test_repeats_are_found_across_chunks_and_on_rows_bad_for_another_reason(self, tmp_path, lead, customers, monkeypatch):
        """A repeat counts wherever the first one stands, and whatever else is wrong with it: fixing and
        importing the bad row later must not find its id taken by the repeat and skip it as a duplicate."""
        from keyplan.revenue import reading

        monkeypatch.setattr(reading, "CHUNK_ROWS", 2)
        rows = ["L1,C-1,2026-01-02,50", "L2,C-1,not a date,5", "L3,C-2,2026-01-03,7", "L1,C-2,2026-01-04,1", "L2,C-1,2026-01-05,9"]
        result = import_ledger(write(tmp_path, "line_id,account_id,date,amount\n" + "\n".join(rows) + "\n"), by=lead,
                               options=LedgerOptions(skip_invalid=True))
        assert [(e.line, e.code) for e in result.errors] == [(3, "not_a_date"), (5, "line_id_repeated"), (6, "line_id_repeated")]
        assert sorted(LedgerLine.objects.values_list("line_id", flat=True)) == ["L1", "L3"]

    def test_two_line_ids_with_one_key_are_reported_not_written(self, tmp_path, lead, customers, monkeypatch):
        """A 64-bit hash collision inside one file (made certain here with a hash of the id's length) is named as such."""
        from keyplan.revenue.importing import validate

        monkeypatch.setattr(validate, "line_id_keys", lambda ids: ids.str.len_chars().cast(pl.Int64).alias("dedupe_key"))
        result = import_ledger(write(tmp_path, "line_id,account_id,date,amount\nAB,C-1,2026-01-02,50\nCD,C-2,2026-01-02,60\n"),
                               by=lead)
        assert [(e.line, e.code, e.value, e.params) for e in result.errors] == [(3, "key_collision_in_file", "CD", {"line_id": "AB"})]
        assert not LedgerLine.objects.exists()


class TestCurrenciesAndAccounts:
    def test_mixed_currencies_are_converted_with_the_rate_in_force(self, tmp_path, lead, customers):
        import_rates(write(tmp_path, "date,currency,rate\n2026-01-01,USD,0.9\n2026-02-01,USD,0.8\n", "rates.csv"), by=lead)
        text = "account_id,date,amount,cost,currency\nC-1,2026-01-15,100,10,USD\nC-1,2026-02-15,100,,USD\nC-1,2026-02-20,100,,EUR\n"
        assert import_ledger(write(tmp_path, text), by=lead).error_count == 0
        assert rollup("C-1", "2026-01-01")[:2] == (decimal.Decimal("90.00"), decimal.Decimal("9.00"))
        assert rollup("C-1", "2026-02-01")[0] == decimal.Decimal("180.00")

    def test_without_a_currency_column_the_accounts_currency_is_used(self, tmp_path, lead, make_account):
        make_account("Yankee", external_id="US-1", reporting_currency="USD")
        import_rates(write(tmp_path, "date,currency,rate\n2025-01-01,USD,0.5\n", "rates.csv"), by=lead)
        import_ledger(write(tmp_path, "account_id,date,amount\nUS-1,2026-01-15,100\n"), by=lead)
        assert LedgerLine.objects.get().currency == "USD"
        assert rollup("US-1", "2026-01-01")[0] == decimal.Decimal("50.00")

    def test_create_accounts_uses_the_name_given(self, tmp_path, lead, customers):
        text = "account_id,account_name,date,amount\nNEW-1,Fresh Fields B.V.,2026-01-02,50\nNEW-1,,2026-01-03,5\n"
        result = import_ledger(write(tmp_path, text), by=lead, options=LedgerOptions(create_accounts=True))
        assert (result.accounts_created, result.rows_imported) == (1, 2)
        account = Account.objects.get(external_id="NEW-1")
        assert account.name == "Fresh Fields B.V." and account.tier_changes.get().reason == "Created by a revenue import"

    def test_created_accounts_are_as_if_created_one_by_one(self, tmp_path, lead, customers):
        """Accounts an import creates in bulk have what create_account() leaves: the defaults, a history row
        saying who created them and when, and their first key status."""
        from django.forms.models import model_to_dict

        from keyplan.accounts.services import change_log, create_account

        text = ("account_id,account_name,date,amount\nNEW-1,Fresh Fields B.V.,2026-01-02,50\nNEW-2,,2026-01-03,5\n"
                "C-1,,2026-01-04,7\nNEW-3,O'Neill & Söhne,2026-01-05,1\n")
        result = import_ledger(write(tmp_path, text), by=lead, options=LedgerOptions(create_accounts=True))
        assert (result.accounts_created, result.rows_imported) == (3, 4)
        created = {a.external_id: a for a in Account.objects.filter(external_id__startswith="NEW-")}
        assert {ext: a.name for ext, a in created.items()} == {"NEW-1": "Fresh Fields B.V.", "NEW-2": "NEW-2",
                                                              "NEW-3": "O'Neill & Söhne"}
        one_by_one = create_account(by=lead, data={"name": "Fresh Fields B.V.", "external_id": "BY-HAND"})
        ignored = ("id", "external_id", "name")
        assert {k: v for k, v in model_to_dict(created["NEW-1"]).items() if k not in ignored} == \
               {k: v for k, v in model_to_dict(one_by_one).items() if k not in ignored}
        for account in created.values():
            assert account.created_at and account.updated_at and account.tier == "standard"
            (record,) = account.history.all()
            assert (record.history_type, record.history_user, record.name, record.tier) == ("+", lead, account.name, "standard")
            assert record.history_date >= result.batch.created_at
            (change,) = account.tier_changes.all()
            assert (change.from_tier, change.to_tier, change.reason, change.changed_by) == \
                   ("", "standard", "Created by a revenue import", lead)
            (entry,) = change_log(account)
            assert (entry.action, entry.who) == ("created", str(lead))
            assert LedgerLine.objects.filter(account=account).count() == 1
        assert Account.history.filter(external_id__in=["C-1", "C-2", "C-3"], history_type="+").count() == 3  # untouched

    def test_bad_rates_are_refused_with_their_line(self, tmp_path, lead):
        result = import_rates(write(tmp_path, "date,currency,rate\n2026-01-01,USD,0.9\n2026-01-01,XYZ,1\n2026-01-01,GBP,-1\n", "r.csv"), by=lead)
        assert [(e.line, e.column) for e in result.errors] == [(3, "currency"), (4, "rate")]
        assert not ExchangeRate.objects.exists()


    def test_an_account_name_too_long_for_the_account_is_a_row_error(self, tmp_path, lead, customers):
        """A new account's name goes into the accounts table (200 characters): longer is named, not a database error."""
        text = f"account_id,account_name,date,amount\nNEW-1,{'N' * 201},2026-01-02,50\nNEW-2,{'N' * 200},2026-01-03,5\n"
        before = state()
        result = import_ledger(write(tmp_path, text), by=lead, options=LedgerOptions(create_accounts=True))
        assert [(e.line, e.column, e.code, e.params) for e in result.errors] == \
               [(2, "account_name", "too_long", {"limit": "200"})]
        assert state() == before and not Account.objects.filter(external_id__startswith="NEW-").exists()


class TestRollback:
    def test_rollback_takes_the_batch_out_of_ledger_and_rollups(self, tmp_path, lead, customers):
        first = import_ledger(write(tmp_path, "account_id,date,amount,cost\nC-1,2026-01-02,50,5\n", "a.csv"), by=lead)
        before = state()
        second = import_ledger(write(tmp_path, "account_id,date,amount,cost\nC-1,2026-01-09,20,2\nC-2,2026-03-01,9,1\n", "b.csv"), by=lead)
        assert rollup("C-1", "2026-01-01") == (decimal.Decimal("70.00"), decimal.Decimal("7.00"), 2)
        rollback_batch(second.batch, by=lead)
        assert state() == before
        second.batch.refresh_from_db()
        assert second.batch.status == BatchStatus.ROLLED_BACK and second.batch.rolled_back_by == lead
        # Rolled back lines can be imported again.
        assert import_ledger(tmp_path / "b.csv", by=lead).rows_imported == 2
        assert first.batch.status == BatchStatus.DONE

    def test_lines_naming_division_and_product_add_up_per_year_and_leave_with_their_batch(self, tmp_path, lead, customers):
        def products():
            return sorted((r.account.external_id, r.year, r.division, r.product, r.revenue, r.lines)
                          for r in ProductRollup.objects.select_related("account"))

        first = import_ledger(write(tmp_path, "account_id,date,amount,product,division\nC-1,2025-12-30,10,Cloud,Finance\n"
                                              "C-1,2026-01-02,50,Cloud,Finance\nC-1,2026-01-03,7,Cloud,\n", "a.csv"), by=lead)
        assert products() == [("C-1", 2025, "Finance", "Cloud", decimal.Decimal("10.00"), 1),
                              ("C-1", 2026, "Finance", "Cloud", decimal.Decimal("50.00"), 1)]  # no division: not in a cell
        before = products()
        second = import_ledger(write(tmp_path, "account_id,date,amount,product,division\nC-1,2026-02-01,5,Cloud,Finance\n"
                                               "C-2,2026-02-01,3,Support,R&D\n", "b.csv"), by=lead)
        assert products() == [("C-1", 2025, "Finance", "Cloud", decimal.Decimal("10.00"), 1),
                              ("C-1", 2026, "Finance", "Cloud", decimal.Decimal("55.00"), 2),
                              ("C-2", 2026, "R&D", "Support", decimal.Decimal("3.00"), 1)]
        rollback_batch(second.batch, by=lead)
        assert products() == before
        rollback_batch(first.batch, by=lead)
        assert products() == []

    def test_a_batch_is_rolled_back_once(self, tmp_path, lead, customers):
        result = import_ledger(write(tmp_path, "account_id,date,amount\nC-1,2026-01-02,50\n"), by=lead)
        rollback_batch(result.batch, by=lead)
        with pytest.raises(Exception, match="only imported batches"):
            rollback_batch(result.batch, by=lead)


class TestSubscriptions:
    def test_import_and_update(self, tmp_path, lead, customers):
        text = "account_id,plan,monthly_amount,start,end\nC-1,Premium,3900,2025-01-01,\nC-2,Basic,490,2025-03-01,2025-09-01\n"
        path = write(tmp_path, text, "subs.csv")
        assert import_subscriptions(path, by=lead).rows_imported == 2
        write(tmp_path, text.replace("3900", "4100"), "subs.csv")
        import_subscriptions(path, by=lead)
        assert Subscription.objects.count() == 2
        assert Subscription.objects.get(account__external_id="C-1").monthly_amount == decimal.Decimal("4100.00")

    def test_rolling_back_an_update_puts_the_values_before_back(self, tmp_path, lead, customers):
        text = "account_id,plan,monthly_amount,start,end\nC-1,Premium,3900,2025-01-01,\n"
        import_subscriptions(write(tmp_path, text, "subs.csv"), by=lead)
        update = import_subscriptions(write(tmp_path, text.replace("3900,2025-01-01,", "4100,2025-01-01,2026-06-30") +
                                            "C-2,Basic,490,2025-03-01,\n", "update.csv"), by=lead)
        assert update.rows_imported == 2
        rollback_batch(update.batch, by=lead)
        assert list(Subscription.objects.values_list("account__external_id", "monthly_amount", "end")) == [
            ("C-1", decimal.Decimal("3900.00"), None)]

    def test_a_rollback_leaves_values_changed_again_later(self, tmp_path, lead, customers):
        rates = "date,currency,rate\n2026-01-01,USD,0.90\n"
        import_rates(write(tmp_path, rates, "r1.csv"), by=lead)
        second = import_rates(write(tmp_path, rates.replace("0.90", "0.92"), "r2.csv"), by=lead)
        import_rates(write(tmp_path, rates.replace("0.90", "0.95"), "r3.csv"), by=lead)
        rollback_batch(second.batch, by=lead)
        assert ExchangeRate.objects.get().rate == decimal.Decimal("0.95")
        # Unchanged values are not counted as changed, nor restored.
        again = import_rates(write(tmp_path, rates.replace("0.90", "0.95"), "r4.csv"), by=lead)
        assert again.rows_imported == 0

    def test_bad_rows_are_refused(self, tmp_path, lead, customers):
        text = "account_id,plan,monthly_amount,start,end\nC-7,Premium,3900,2025-01-01,\nC-1,Basic,-5,2025-03-01,\nC-1,Basic,5,2025-03-01,2025-01-01\n"
        result = import_subscriptions(write(tmp_path, text, "s.csv"), by=lead)
        assert [(e.line, e.column) for e in result.errors] == [(2, "account_id"), (3, "monthly_amount"), (4, "end")]
        assert not Subscription.objects.exists()


class TestAnalysesAgreeWithTheLedger:
    def test_pareto_and_abc_from_rollups_match_a_direct_computation(self, tmp_path, lead, make_account):
        import random

        rng = random.Random(5)
        for i in range(30):
            make_account(f"Firm {i}", external_id=f"F-{i:02d}")
        rows, totals = [], {}
        for n in range(600):
            ext = f"F-{rng.randrange(30):02d}"
            day = datetime.date(2024 + rng.randrange(3), rng.randint(1, 12), rng.randint(1, 28))
            amount = round(rng.lognormvariate(6, 1.5), 2)
            rows.append(f"L{n},{ext},{day},{amount}")
            totals.setdefault((ext, day.year), 0)
            totals[(ext, day.year)] += amount
        import_ledger(write(tmp_path, "line_id,account_id,date,amount\n" + "\n".join(rows) + "\n"), by=lead)
        scope = portfolio.Scope(lead)
        result = portfolio.pareto_report(scope, portfolio.Options(start=datetime.date(2026, 1, 1), end=datetime.date(2026, 12, 31)))
        direct = sorted(((round(totals.get((f"F-{i:02d}", 2026), 0), 2), f"F-{i:02d}") for i in range(30)),
                        key=lambda t: (-t[0], t[1]))
        assert [a["external_id"] for a in result["accounts"]] == [ext for _, ext in direct]
        assert result["total"] == pytest.approx(sum(v for v, _ in direct), abs=0.01)
        running, vital = 0, 0
        for value, _ in direct:
            if running / result["total"] >= 0.8:
                break
            running += value
            vital += 1
        assert result["vital_few"] == vital
        abc = portfolio.abc_report(scope, portfolio.Options(start=datetime.date(2024, 1, 1), end=datetime.date(2026, 12, 31)))
        assert set(abc["years"]) == {"2024", "2025", "2026"}
        assert all(sum(counts.values()) == 30 for counts in abc["years"].values())


class TestRepeatsAcrossChunks:
    def test_identical_lines_in_different_chunks_all_count(self, tmp_path, lead, customers, monkeypatch):
        """Two genuine sales with the same content are two lines, however far apart they stand in the file."""
        from keyplan.revenue import reading

        monkeypatch.setattr(reading, "CHUNK_ROWS", 2)
        rows = ["C-1,2026-01-02,50", "C-2,2026-01-03,7", "C-1,2026-01-02,50", "C-2,2026-01-04,1", "C-1,2026-01-02,50"]
        path = write(tmp_path, "account_id,date,amount\n" + "\n".join(rows) + "\n")
        first = import_ledger(path, by=lead)
        assert (first.rows_imported, first.rows_duplicate) == (5, 0)
        assert rollup("C-1", "2026-01-01") == (decimal.Decimal("150.00"), decimal.Decimal("0.00"), 3)
        again = import_ledger(path, by=lead)
        assert (again.rows_imported, again.rows_duplicate) == (0, 5)


class TestIntoAFullLedger:
    def test_a_second_file_adds_only_its_new_lines_across_many_chunks(self, tmp_path, lead, customers, monkeypatch):
        """The ledger's keys are read once and each chunk's duplicates found among them: lines with and without
        line ids, spread over many chunks and over the whole range of keys."""
        from keyplan.revenue import reading

        monkeypatch.setattr(reading, "CHUNK_ROWS", 50)

        def line(i, with_id=True):
            return (f"L{i}," if with_id else ",") + f"C-{i % 3 + 1},2026-{i % 12 + 1:02d}-{i % 28 + 1:02d},{i}.{i % 100:02d}"

        first = [line(i) for i in range(300)] + [line(i, with_id=False) for i in range(1000, 1030)]
        second = [line(i) for i in range(150, 450)] + [line(i, with_id=False) for i in range(1000, 1040)]
        header = "line_id,account_id,date,amount\n"
        assert import_ledger(write(tmp_path, header + "\n".join(first) + "\n", "a.csv"), by=lead).rows_imported == 330
        path = write(tmp_path, header + "\n".join(second) + "\n", "b.csv")
        dry = import_ledger(path, by=lead, options=LedgerOptions(dry_run=True))
        assert (dry.rows_total, dry.rows_duplicate) == (340, 180)
        result = import_ledger(path, by=lead)
        assert (result.rows_imported, result.rows_duplicate, result.error_count) == (160, 180, 0)
        distinct = {row.split(",")[0] or row: row.split(",") for row in first + second}  # by line id, else by content
        assert LedgerLine.objects.count() == len(distinct) == 490
        for external_id in ("C-1", "C-2", "C-3"):
            expected = sum(decimal.Decimal(amount) for _, account, _, amount in distinct.values() if account == external_id)
            stored = sum(r.revenue for r in MonthlyRollup.objects.filter(account__external_id=external_id))
            assert stored == expected and sum(r.revenue for r in YearlyRollup.objects.filter(account__external_id=external_id)) == expected
        again = import_ledger(path, by=lead)
        assert (again.rows_imported, again.rows_duplicate) == (0, 340)

    def test_the_keys_at_the_ends_of_each_range_are_read(self, tmp_path, lead, customers):
        from keyplan.revenue.importing.validate import LedgerKeys

        import_ledger(write(tmp_path, "line_id,account_id,date,amount\n" + "".join(f"L{i},C-1,2026-01-02,1\n" for i in range(6))),
                      by=lead)
        low, high = -(1 << 63), (1 << 63) - 1
        step = (high - low) // LedgerKeys.RANGES + 1
        ends = [low, low + step - 1, low + step, -1, 0, high]
        for key, stored in zip(ends, LedgerLine.objects.order_by("pk").values_list("pk", flat=True)):
            LedgerLine.objects.filter(pk=stored).update(dedupe_key=key)
        assert LedgerKeys.read().keys.tolist() == sorted(ends)

    def test_a_line_imported_before_under_another_date_is_a_duplicate(self, tmp_path, lead, customers):
        """The key holds the day, so a corrected date gives the line another key; its line id still names it."""
        import_ledger(write(tmp_path, "line_id,account_id,date,amount\nL1,C-1,2026-01-02,50\nL2,C-1,2026-01-02,7\n", "jan.csv"),
                      by=lead)
        again = import_ledger(write(tmp_path, "line_id,account_id,date,amount\nL1,C-1,2026-03-09,50\nL3,C-2,2026-03-09,5\n",
                                    "corrected.csv"), by=lead)
        assert (again.rows_imported, again.rows_duplicate, again.error_count) == (1, 1, 0)
        assert sorted(LedgerLine.objects.values_list("line_id", "date")) == [
            ("L1", datetime.date(2026, 1, 2)), ("L2", datetime.date(2026, 1, 2)), ("L3", datetime.date(2026, 3, 9))]
        assert not MonthlyRollup.objects.filter(account__external_id="C-1", month=datetime.date(2026, 3, 1)).exists()

    def test_lines_without_ids_on_other_days_are_other_lines(self, tmp_path, lead, customers):
        text = "account_id,date,amount\nC-1,2026-01-02,50\n"
        import_ledger(write(tmp_path, text, "a.csv"), by=lead)
        result = import_ledger(write(tmp_path, text + "C-1,2026-01-03,50\n", "b.csv"), by=lead)
        assert (result.rows_imported, result.rows_duplicate) == (1, 1)


class TestProgress:
    def test_the_progress_bar_moves_once_per_chunk_and_never_back(self, tmp_path, lead, customers, monkeypatch):
        from keyplan.revenue import reading

        monkeypatch.setattr(reading, "CHUNK_ROWS", 2)
        rows = "\n".join(f"L{i},C-{i % 3 + 1},2026-{i + 1:02d}-01,{i + 1}" for i in range(9))  # lines go in by runs of days
        seen = []
        import_ledger(write(tmp_path, "line_id,account_id,date,amount\n" + rows + "\n"), by=lead,
                      progress=lambda value, message: seen.append((message, value)))
        assert len({v for m, v in seen if m == "validating"}) == 5  # 9 rows, 2 a chunk
        assert len({v for m, v in seen if m == "importing"}) >= 5
        values = [v for _, v in seen]
        assert values == sorted(values) and seen[-1] == ("done", 1.0)


class TestBrokenOffImports:
    def test_an_import_killed_midway_can_be_discarded(self, tmp_path, lead, customers, capsys):
        from keyplan.cli import main

        batch = ImportBatch.objects.create(kind="ledger", file_name="x.csv", file_sha256="0" * 64, created_by=lead,
                                           status=BatchStatus.IMPORTING)
        account = Account.objects.get(external_id="C-1")
        LedgerLine.objects.create(batch=batch, account=account, date=datetime.date(2026, 1, 1), amount=5, currency="EUR",
                                  amount_reporting=5, line_id="K1", dedupe_key=1)
        assert main(["rollback", str(batch.pk), "--as", "lead"]) == 2
        assert "broken off" in capsys.readouterr().err
        assert main(["rollback", str(batch.pk), "--broken-off", "--as", "lead"]) == 0
        batch.refresh_from_db()
        assert batch.status == BatchStatus.BROKEN_OFF and not LedgerLine.objects.exists()
        assert not MonthlyRollup.objects.exists()
        assert (batch.rolled_back_by, batch.report["broken_off"]["lines_removed"]) == (lead, 1)


def test_a_subscription_entered_twice_is_refused(lead, customers):
    from keyplan.revenue.services import add_subscription

    account = customers[0]
    add_subscription(account, by=lead, plan="Premium", monthly_amount=100, currency="EUR", start=datetime.date(2026, 1, 1))
    with pytest.raises(Exception, match="already has a Premium subscription"):
        add_subscription(account, by=lead, plan="Premium", monthly_amount=100, currency="EUR", start=datetime.date(2026, 1, 1))
    assert Subscription.objects.count() == 1


@pytest.mark.django_db(transaction=True)
class TestOutsideATransaction:
    """As the command line and the worker run an import: committed as it goes. On PostgreSQL the lines then go
    in through a second connection while the first writes the rollups; SQLite writes one after the other."""

    @pytest.fixture
    def several_groups(self, monkeypatch):
        from keyplan.revenue import reading

        monkeypatch.setattr(reading, "CHUNK_ROWS", 2)
        return "line_id,account_id,date,amount,cost\n" + "\n".join(
            f"L{i},C-{i % 3 + 1},2026-0{i % 2 + 1}-0{i % 9 + 1},{10 * (i + 1)},{i}" for i in range(9)) + "\n"

    def test_lines_and_rollups_land_together(self, tmp_path, lead, customers, several_groups, monkeypatch):
        import threading

        from keyplan.revenue.importing import write as line_writing

        threads, insert = set(), line_writing._insert_lines
        monkeypatch.setattr(line_writing, "_insert_lines", lambda *a: (threads.add(threading.current_thread().name), insert(*a)))
        seen = []
        result = import_ledger(write(tmp_path, several_groups), by=lead, progress=lambda v, m: seen.append((m, v)))
        assert (result.rows_imported, result.batch.status) == (9, BatchStatus.DONE)
        alongside = connection.vendor == "postgresql"
        assert (threading.main_thread().name not in threads) is alongside and threads
        assert LedgerLine.objects.count() == 9 and sum(r.lines for r in MonthlyRollup.objects.all()) == 9
        assert rollup("C-1", "2026-01-01") == (decimal.Decimal("80.00"), decimal.Decimal("6.00"), 2)  # lines 0 and 6
        assert [v for m, v in seen if m == "importing"] == sorted(v for m, v in seen if m == "importing") and seen[-1] == ("done", 1.0)

    def test_chunks_validated_before_the_ledgers_keys_arrive_wait_for_them(self, tmp_path, lead, customers, several_groups,
                                                                           monkeypatch):
        """The ledger's keys are read on a thread of their own while the first chunks are validated; those chunks
        then have their lines already in the ledger set aside like any other."""
        import threading

        from keyplan.revenue.importing.validate import LedgerKeys

        import_ledger(write(tmp_path, several_groups, "first.csv"), by=lead)  # L0 … L8
        before = state()
        chunks_validated, read_on, waited_out = threading.Event(), [], []
        read = LedgerKeys.read.__func__

        def read_once_three_chunks_are_validated(cls, **kwargs):
            read_on.append(threading.current_thread().name)
            waited_out.append(not chunks_validated.wait(timeout=30))
            return read(cls, **kwargs)

        monkeypatch.setattr(LedgerKeys, "read", classmethod(read_once_three_chunks_are_validated))
        validated = []

        def progress(value, message):
            if message == "validating":
                validated.append(value)
            if len(validated) == 3:
                chunks_validated.set()

        # Chunks of two rows: L0-L1 … L6-L7 all in the ledger already, then L8-N0 and N1-N2.
        text = several_groups + "".join(f"N{i},C-1,2026-02-1{i},{i + 1},0\n" for i in range(3))
        result = import_ledger(write(tmp_path, text, "second.csv"), by=lead, progress=progress)
        assert read_on and read_on[0] != threading.main_thread().name and waited_out == [False]
        assert (result.rows_total, result.rows_duplicate, result.rows_imported) == (12, 9, 3)
        assert LedgerLine.objects.count() == before[0] + 3 == 12
        assert rollup("C-1", "2026-02-01") == (decimal.Decimal("46.00"), decimal.Decimal("3.00"), 4)  # L3, N0-N2

    def test_lines_that_fail_half_way_leave_nothing(self, tmp_path, lead, customers, several_groups, monkeypatch):
        from keyplan.revenue.importing import write as line_writing

        calls, insert = [], line_writing._insert_lines

        def fails_second_time(*args):
            calls.append(1)
            if len(calls) == 2:
                raise RuntimeError("disk full")
            insert(*args)

        monkeypatch.setattr(line_writing, "_insert_lines", fails_second_time)
        before = state()
        with pytest.raises(RuntimeError, match="disk full"):
            import_ledger(write(tmp_path, several_groups), by=lead)
        assert state() == before and ImportBatch.objects.get().status == BatchStatus.FAILED

    def test_accounts_created_by_the_import_land_with_its_lines(self, tmp_path, lead, customers, several_groups):
        """--create-accounts outside a transaction: on PostgreSQL the new accounts take reserved ids and are written
        while the lines go in; either way each line belongs to its new account, which has its history and key status."""
        text = several_groups.replace("C-3", "N-9").replace("C-2", "N-8")
        result = import_ledger(write(tmp_path, text), by=lead, options=LedgerOptions(create_accounts=True))
        assert (result.accounts_created, result.rows_imported, result.batch.status) == (2, 9, BatchStatus.DONE)
        for external_id in ("N-8", "N-9"):
            account = Account.objects.get(external_id=external_id)
            lines = LedgerLine.objects.filter(account_id=account.pk)
            assert lines.count() == 3 and sum(r.lines for r in MonthlyRollup.objects.filter(account=account)) == 3
            assert account.history.filter(history_type="+").count() == 1 and account.tier_changes.count() == 1
        assert LedgerLine.objects.filter(account_id__in=Account.objects.values("pk")).count() == 9

    def test_accounts_of_an_import_that_fails_are_not_left_behind(self, tmp_path, lead, customers, several_groups, monkeypatch):
        from keyplan.revenue.importing import ledger

        monkeypatch.setattr(ledger, "_apply_rollups", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("rollups refused")))
        before = state()
        with pytest.raises(RuntimeError, match="rollups refused"):
            import_ledger(write(tmp_path, several_groups.replace("C-3", "N-9")), by=lead,
                          options=LedgerOptions(create_accounts=True))
        assert state() == before  # PostgreSQL: written in the transaction that failed; SQLite: written first, taken back
        assert not Account.history.filter(external_id="N-9").exists() and ImportBatch.objects.get().status == BatchStatus.FAILED

    def test_rollups_that_fail_stop_the_lines_and_leave_nothing(self, tmp_path, lead, customers, several_groups, monkeypatch):
        from keyplan.revenue.importing import ledger

        def fails(*args, **kwargs):
            raise RuntimeError("rollups refused")

        monkeypatch.setattr(ledger, "_apply_rollups", fails)
        before = state()
        with pytest.raises(RuntimeError, match="rollups refused"):
            import_ledger(write(tmp_path, several_groups), by=lead)
        assert state() == before and ImportBatch.objects.get().status == BatchStatus.FAILED


class TestRollupTablesBuiltAnew:
    """An import or a rollback that changes most of a monthly or product rollup table's rows builds the table anew on
    PostgreSQL (a sorted load and index builds instead of millions of updates in place) and swaps it in: the same
    sums, the same indexes and constraints under the same names, and a table that later small imports update in
    place.
    On SQLite, which always updates in place, the same imports give the same sums."""

    TABLES = ("revenue_monthlyrollup", "revenue_yearlyrollup", "revenue_productrollup")

    @staticmethod
    def schema() -> set:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = ANY(%s)", [list(TestRollupTablesBuiltAnew.TABLES)])
                indexes = {row[0] for row in cursor.fetchall()}
                cursor.execute("SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
                               "WHERE conrelid::regclass::text = ANY(%s)", [list(TestRollupTablesBuiltAnew.TABLES)])
                constraints = set(cursor.fetchall())
                # The fill factor that leaves room for HOT updates (migration 0020).
                cursor.execute("SELECT relname, array_to_string(reloptions, ',') FROM pg_class WHERE relname = ANY(%s)",
                               [list(TestRollupTablesBuiltAnew.TABLES)])
                return indexes | constraints | set(cursor.fetchall())
            cursor.execute("SELECT type, name, sql FROM sqlite_master WHERE tbl_name IN (%s, %s, %s)", TestRollupTablesBuiltAnew.TABLES)
            return set(cursor.fetchall())

    @staticmethod
    def table_ids() -> list:
        if connection.vendor != "postgresql":
            return []
        with connection.cursor() as cursor:
            cursor.execute("SELECT %s::regclass::oid, %s::regclass::oid, %s::regclass::oid", TestRollupTablesBuiltAnew.TABLES)
            return list(cursor.fetchone())

    @staticmethod
    def sums_of_the_ledger():
        """The monthly and product rollups as a direct sum over the ledger's lines."""
        monthly, products = {}, {}
        for line in LedgerLine.objects.all():
            for sums, key in ((monthly, (line.account_id, line.date.replace(day=1))),
                              (products, (line.account_id, line.date.year, line.division, line.product))):
                if sums is products and not (line.division and line.product):
                    continue
                revenue, cost, lines = sums.get(key, (0, 0, 0))
                sums[key] = (revenue + line.amount_reporting, cost + (line.cost_reporting or 0), lines + 1)
        return monthly, products

    @staticmethod
    def rollups():
        monthly = {(r.account_id, r.month): (r.revenue, r.cost, r.lines) for r in MonthlyRollup.objects.all()}
        products = {(r.account_id, r.year, r.division, r.product): (r.revenue, r.cost, r.lines) for r in ProductRollup.objects.all()}
        return monthly, products

    def test_an_import_and_its_rollback_over_most_rows_give_the_ledgers_sums(self, tmp_path, lead, customers, monkeypatch, caplog):
        from keyplan.revenue.importing import write as write_stage

        header = "line_id,account_id,date,amount,cost,product,division\n"
        first = "".join(f"A{i},C-{i % 3 + 1},2025-{i % 12 + 1:02d}-0{i % 7 + 1},{10 + i}.25,{i % 5},P-{i % 4},D-{i % 2}\n" for i in range(60))
        import_ledger(write(tmp_path, header + first, "a.csv"), by=lead)
        after_first, schema, tables = (state(), self.rollups()), self.schema(), self.table_ids()

        monkeypatch.setattr(write_stage, "REBUILD_MIN_ROWS", 1)  # build anew from the first row: the path millions take
        # The same accounts and months again, one month new, one account's cost only, a line without a product.
        second = "".join(f"B{i},C-{i % 3 + 1},2025-{i % 13 + 1:02d}-1{i % 9},{5 + i}.10,{i % 3},P-{i % 5},D-{i % 2}\n"
                         for i in range(60) if i % 13 != 12) + "B99,C-1,2026-01-03,7.00,,,\n"
        with caplog.at_level(logging.INFO, logger="keyplan.import"):
            batch = import_ledger(write(tmp_path, header + second, "b.csv"), by=lead).batch
        assert self.rollups() == self.sums_of_the_ledger()
        # The import's log says, table by table, how many rollup rows went which way.
        ways = {record.args[0]: record.args[2] for record in caplog.records if record.msg.startswith("rollups ")}
        anew = "built anew" if connection.vendor == "postgresql" else "in place"
        assert ways == {YearlyRollup._meta.db_table: "in place", MonthlyRollup._meta.db_table: anew,
                        ProductRollup._meta.db_table: anew}
        assert YearlyRollup.objects.get(account__external_id="C-1", year=2026).revenue == decimal.Decimal("7.00")
        assert self.schema() == schema
        rebuilt = self.table_ids()
        if connection.vendor == "postgresql":  # new monthly and product tables; the yearly one updated in place
            assert [new != old for new, old in zip(rebuilt, tables)] == [True, False, True]

        rollback_batch(batch, by=lead)
        assert (state(), self.rollups()) == after_first
        assert self.schema() == schema
        in_place = self.table_ids()

        monkeypatch.setattr(write_stage, "REBUILD_MIN_ROWS", 10**9)  # a small import updates the rebuilt tables in place
        import_ledger(write(tmp_path, header + "C1,C-2,2025-03-04,1.50,0.5,P-9,D-9\nC2,C-3,2027-01-01,2,,P-1,D-1\n", "c.csv"), by=lead)
        assert self.rollups() == self.sums_of_the_ledger()
        assert self.table_ids() == in_place and self.schema() == schema

    @pytest.mark.skipif(connection.vendor != "postgresql", reason="HOT updates and fill factors are PostgreSQL's")
    def test_rollups_are_updated_in_place_without_touching_their_indexes(self, tmp_path, lead, customers):
        header = "line_id,account_id,date,amount,cost,product,division\n"
        import_ledger(write(tmp_path, header + "A1,C-1,2025-01-05,10,1,P-1,D-1\nA2,C-2,2025-02-05,20,2,P-2,D-1\n", "a.csv"), by=lead)
        tables = [model._meta.db_table for model in (MonthlyRollup, YearlyRollup, ProductRollup)]

        def updates():  # this transaction's counts: (updated, of which HOT) per table
            with connection.cursor() as cursor:
                cursor.execute("SELECT relname, n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables WHERE relname = ANY(%s)",
                               [tables])
                return {name: (updated, hot) for name, updated, hot in cursor.fetchall()}

        before = updates()
        # The same account-months, -years and -products again: each of the two rows of each table updated in place.
        import_ledger(write(tmp_path, header + "B1,C-1,2025-01-07,5,1,P-1,D-1\nB2,C-2,2025-02-07,7,0,P-2,D-1\n", "b.csv"), by=lead)
        after = updates()
        # Every update HOT: no index holds the sums, and the pages have room for the new row versions.
        assert {name: (after[name][0] - before[name][0], after[name][1] - before[name][1]) for name in tables} == {
            name: (2, 2) for name in tables}
        with connection.cursor() as cursor:
            cursor.execute("SELECT relname, reloptions FROM pg_class WHERE relname = ANY(%s)", [tables])
            assert dict(cursor.fetchall()) == {name: ["fillfactor=60"] for name in tables}
        assert {(r.account.external_id, r.revenue) for r in MonthlyRollup.objects.select_related("account")} == {
            ("C-1", decimal.Decimal("15.00")), ("C-2", decimal.Decimal("27.00"))}

    @pytest.mark.skipif(connection.vendor != "postgresql", reason="only PostgreSQL builds rollup tables anew")
    def test_a_table_built_anew_keeps_what_other_roles_were_granted(self, tmp_path, lead, customers, monkeypatch):
        from keyplan.revenue.importing import write as write_stage

        header = "line_id,account_id,date,amount,product,division\n"
        import_ledger(write(tmp_path, header + "A1,C-1,2025-01-05,10,P-1,D-1\n", "a.csv"), by=lead)
        monthly, products = MonthlyRollup._meta.db_table, ProductRollup._meta.db_table
        reporting, auditor = (f"keyplan_test_{name}_{uuid.uuid4().hex[:8]}" for name in ("reporting", "auditor"))
        with connection.cursor() as cursor:  # roles are made in the test's transaction: its rollback drops them
            cursor.execute(f"CREATE ROLE {reporting} NOLOGIN")
            cursor.execute(f"CREATE ROLE {auditor} NOLOGIN")
            cursor.execute(f"GRANT SELECT ON {monthly}, {products} TO {reporting}")
            cursor.execute(f"GRANT SELECT, UPDATE ON {monthly} TO {auditor} WITH GRANT OPTION")
        tables = self.table_ids()

        monkeypatch.setattr(write_stage, "REBUILD_MIN_ROWS", 1)
        import_ledger(write(tmp_path, header + "B1,C-2,2025-02-05,20,P-1,D-1\nB2,C-3,2025-03-05,30,P-2,D-1\n", "b.csv"), by=lead)
        assert [new != old for new, old in zip(self.table_ids(), tables)] == [True, False, True]  # built anew
        with connection.cursor() as cursor:
            cursor.execute("SELECT grantee, table_name, privilege_type, is_grantable FROM information_schema.table_privileges "
                           "WHERE grantee IN (%s, %s) ORDER BY 1, 2, 3", [reporting, auditor])
            assert cursor.fetchall() == [(auditor, monthly, "SELECT", "YES"), (auditor, monthly, "UPDATE", "YES"),
                                         (reporting, monthly, "SELECT", "NO"), (reporting, products, "SELECT", "NO")]
