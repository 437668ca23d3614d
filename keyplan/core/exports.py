"""What every CSV and Excel export writes into a cell: never something a spreadsheet runs as a formula.

OWASP's rule for CSV injection: a text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return is taken for a formula by Excel, LibreOffice and Google Sheets (``=HYPERLINK(…)``,
``@SUM(…)``, ``-2+3``). Such a cell gets a leading apostrophe, which spreadsheets show as text and
a person sees at once. A plain number written as text ("-120.50", "+31") is no formula and stays as
it is, so that a file of rejected rows can be fixed and imported again. Numbers, dates and empty
cells pass unchanged.

List pages declare their columns once as a `Table`; `csv_response()` streams a list (what the reader
filtered) as CSV a chunk of rows at a time, so 100,000 rows never sit in memory together.
"""

import csv
import datetime
import functools
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse, StreamingHttpResponse
from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext as _

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


# ---------------------------------------------------------------- lists as CSV, streamed

CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
CHUNK_ROWS = 1000  # rows per database fetch and per piece of the response


@dataclass(frozen=True)
class Column:
    """One column of a list: its heading (translated when the file is written) and how a row gives its value."""

    header: Any
    value: Callable[[Any], Any]


@dataclass(frozen=True)
class Table:
    """A list page's columns, declared once by its app: the page's CSV download and the live feeds use them."""

    name: str  # the file's name and the feed's: "accounts", "risk-queue"
    columns: tuple[Column, ...]

    def headers(self) -> list[str]:
        return [str(column.header) for column in self.columns]

    def row(self, item) -> list:
        return [column.value(item) for column in self.columns]

    def keys(self) -> list[str]:
        """The headings as JSON keys: lower case, words joined by underscores (in the active language)."""
        return [re.sub(r"\W+", "_", header.casefold(), flags=re.UNICODE).strip("_") or f"column_{i}"
                for i, header in enumerate(self.headers(), start=1)]


def plain(value) -> Any:
    """A value as a CSV or JSON export writes it: ISO dates, numbers as numbers, translated labels as text."""
    if value is None:
        return ""
    if isinstance(value, Promise):
        return str(value)
    if isinstance(value, datetime.datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value


@functools.lru_cache(maxsize=4096)
def _label(choices: type, value: str, language: str | None) -> str:
    try:
        return str(choices(value).label)
    except ValueError:  # a value the choices no longer have: shown as stored
        return value


def label(choices: type, value: str) -> str:
    """The label of a stored choice in the active language, looked up once per language and value: a list of
    100,000 rows would otherwise translate every label of every row (``get_FOO_display`` does)."""
    return _label(choices, value, translation.get_language()) if value else ""


def iterate(items: Iterable) -> Iterator:
    """Rows from a queryset in chunks (its prefetches included), never all at once; other iterables as they are."""
    if isinstance(items, QuerySet):
        return items.iterator(chunk_size=CHUNK_ROWS)
    return iter(items)


class _Line:
    """A file-like sink for csv.writer that hands back what was written."""

    def __init__(self):
        self.parts: list[str] = []

    def write(self, text: str) -> None:
        self.parts.append(text)

    def take(self) -> str:
        text = "".join(self.parts)
        self.parts.clear()
        return text


def csv_chunks(table: Table, items: Iterable, *, bom: bool = True) -> Iterator[str]:
    """The CSV text of ``items``: a UTF-8 byte-order mark (Excel then reads the accents right), the headings and
    one line per row, every cell through `safe_cell`; yielded every CHUNK_ROWS rows."""
    sink = _Line()
    writer = csv.writer(sink)
    writer.writerow(safe_row(table.headers()))
    yield ("\ufeff" if bom else "") + sink.take()
    count = 0
    for item in iterate(items):
        writer.writerow(safe_row([plain(value) for value in table.row(item)]))
        count += 1
        if count % CHUNK_ROWS == 0:
            yield sink.take()
    rest = sink.take()
    if rest:
        yield rest


def csv_response(table: Table, items: Iterable, *, filename: str | None = None) -> StreamingHttpResponse:
    """The list as a streamed CSV download: the rows are read, written and sent a chunk at a time."""
    language = translation.get_language()

    def chunks() -> Iterator[bytes]:
        # Sent after the view returned: the headings and labels stay in the reader's language.
        with translation.override(language):
            for chunk in csv_chunks(table, items):
                yield chunk.encode("utf-8")

    response = StreamingHttpResponse(chunks(), content_type=CSV_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename or table.name}.csv"'
    response["Cache-Control"] = "no-store"  # it holds what this user may see
    return response


def wants_csv(request) -> bool:
    """The list page was asked for its CSV (``?format=csv``, the link on the page)."""
    return request.GET.get("format") == "csv"


def csv_query(request) -> str:
    """The page's query string with ``format=csv``: what the reader filtered, as a file."""
    query = request.GET.copy()
    query.pop("page", None)
    query["format"] = "csv"
    return query.urlencode()


def refused(form) -> HttpResponse:
    """400 for a list's CSV asked with filters that are not valid, naming each field (nothing half-filtered)."""
    problems = [f"{form.fields[name].label if name in form.fields else name}: {message}"
                for name, messages in form.errors.items() for message in messages]
    return HttpResponse(_("The CSV was not made:") + "\n" + "\n".join(problems), status=400,
                        content_type="text/plain; charset=utf-8")
