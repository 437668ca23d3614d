"""The one rule every CSV and Excel export follows: no cell a spreadsheet would run as a formula (OWASP)."""

import csv
import datetime
import decimal
import io

import pytest

from keyplan.core.exports import safe_cell, safe_row


@pytest.mark.parametrize("text", ["=1+1", "=HYPERLINK(\"http://x\",\"click\")", "+cmd|' /C calc'!A0", "-2+3",
                                  "@SUM(A1:A9)", "\tdata", "\r=1", "-", "+", "=", "@"])
def test_text_that_starts_like_a_formula_gets_an_apostrophe(text):
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["Acme", "C-1", "", " =not at the start", "-120.50", "+31", "-1.234,50", "-.5",
                                   12, -3.5, decimal.Decimal("-7.25"), datetime.date(2026, 1, 31), None])
def test_other_cells_and_plain_numbers_stay_as_they_are(value):
    assert safe_cell(value) == value


def test_a_row_written_as_csv_reads_back_as_text():
    out = io.StringIO()
    csv.writer(out).writerow(safe_row(["=1+1", "C-1", -5, "@x"]))
    assert next(csv.reader([out.getvalue()])) == ["'=1+1", "C-1", "-5", "'@x"]
