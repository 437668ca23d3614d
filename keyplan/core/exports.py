"""What every CSV and Excel export writes into a cell: never something a spreadsheet runs as a formula.

OWASP's rule for CSV injection: a text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return is taken for a formula by Excel, LibreOffice and Google Sheets (``=HYPERLINK(…)``,
``@SUM(…)``, ``-2+3``). Such a cell gets a leading apostrophe, which spreadsheets show as text and
a person sees at once. A plain number written as text ("-120.50", "+31") is no formula and stays as
it is, so that a file of rejected rows can be fixed and imported again. Numbers, dates and empty
cells pass unchanged.
"""

import re
from collections.abc import Iterable

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+([.,]\d+)*|[.,]\d+)")


def safe_cell(value):
    """``value`` as an export may write it: a text that a spreadsheet would run gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_START) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def safe_row(values: Iterable) -> list:
    """Each cell of a row through ``safe_cell`` (for ``csv.writer.writerow`` and worksheet rows)."""
    return [safe_cell(value) for value in values]
