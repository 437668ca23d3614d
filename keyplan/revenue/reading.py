"""Reading revenue exports: CSV (any delimiter, UTF-8 with or without BOM, Latin-1) and XLSX.

Turns a file into chunks of string columns with the file line number of each row,
detects the header row, the column mapping, the decimal separator and the date
format, and parses amounts and dates column-wise with Polars. No database here.
"""

import codecs
import csv
import datetime
import re
import shutil
import tempfile
import unicodedata
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

LINE = "__line"  # the file line number of each row, 1-based, as a person counts in an editor
CHUNK_ROWS = 500_000  # rows read, validated and written at a time: one step of the progress bar (~3 s of work)


# Each field and the header names that ERP, billing and CRM exports use for it (normalised).
LEDGER_FIELDS: dict[str, tuple[str, ...]] = {
    "account_id": ("account_id", "account", "external_id", "customer_id", "customer", "customer_number", "customer_no",
                   "client_id", "debtor", "debtor_number", "debiteur", "debiteurnummer", "klant", "klantnummer",
                   "klant_id", "kunde", "kundennummer", "kunden_nr", "codice_cliente", "cliente", "id_cliente"),
    "date": ("date", "invoice_date", "posting_date", "transaction_date", "order_date", "booking_date", "datum",
             "factuurdatum", "boekdatum", "rechnungsdatum", "buchungsdatum", "data", "data_fattura"),
    "amount": ("amount", "revenue", "net_amount", "net_revenue", "sales", "value", "net", "bedrag", "omzet",
               "netto", "betrag", "umsatz", "nettobetrag", "importo", "fatturato", "ricavi"),
    "account_name": ("account_name", "customer_name", "client_name", "name", "company", "klantnaam", "naam",
                     "kundenname", "firma", "ragione_sociale", "nome_cliente"),
    "currency": ("currency", "ccy", "cur", "valuta", "wahrung", "waehrung", "divisa"),
    "cost": ("cost", "costs", "cogs", "cost_to_serve", "cost_of_goods", "kosten", "kostprijs", "costo", "costi"),
    "product": ("product", "product_name", "item", "sku", "article", "artikel", "produkt", "prodotto", "articolo"),
    "division": ("division", "department", "buying_center", "business_unit", "afdeling", "divisie", "abteilung",
                 "bereich", "divisione", "reparto"),
    "invoice_id": ("invoice_id", "invoice", "invoice_number", "invoice_no", "factuur", "factuurnummer",
                   "rechnung", "rechnungsnummer", "fattura", "numero_fattura"),
    "line_id": ("line_id", "line", "id", "transaction_id", "row_id", "regel_id", "regel", "zeile", "riga"),
}
LEDGER_REQUIRED = ("account_id", "date", "amount")

DATE_FORMATS = (
    "%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%d.%m.%Y", "%d-%m-%Y", "%d/%m/%Y",
    "%m/%d/%Y", "%Y/%m/%d", "%Y%m%d", "%d.%m.%y", "%d/%m/%y", "%d-%m-%y",
)


# Bounds on what a file may make the server hold (web and worker stay well under 1 GB). An .xlsx is a
# ZIP of XML: a few megabytes can expand to gigabytes, so a workbook is measured before it is opened.
MAX_LINE_CHARS = 100_000  # a line of the first rows, read to find the header and formats
MAX_CELL_CHARS = 1_000  # a value the import reads (an account id, an amount, a product …)
XLSX_MAX_EXPANDED_BYTES = 512 * 1024 * 1024  # all parts of a workbook together, uncompressed
XLSX_MAX_ROWS = 1_048_576  # Excel's own limit per sheet; larger ledgers come as CSV
XLSX_MAX_CELLS = 20_000_000
XLSX_MAX_TEXT_BYTES = 200_000  # one cell's text as stored (Excel holds at most 32,767 characters)


class ReadError(ValueError):
    """The file as a whole cannot be read (not its rows: those are reported one by one)."""


def normalise(name: str) -> str:
    text = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_")


@dataclass
class Table:
    path: Path
    kind: str  # "csv" or "xlsx"
    headers: list[str]
    header_line: int  # 1-based line (CSV) or row (XLSX) of the header
    delimiter: str = ","
    encoding: str = "utf-8"
    sheet: str | None = None
    sample: list[list[str | None]] = field(default_factory=list)  # first rows after the header, as strings


def detect_mapping(headers: list[str], fields: dict[str, tuple[str, ...]] = LEDGER_FIELDS) -> dict[str, str]:
    """Map each field to the first header that names it; returns {field: header}."""
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for name, synonyms in fields.items():
        for header in headers:
            if header not in taken and normalise(header) in synonyms:
                mapping[name] = header
                taken.add(header)
                break
    return mapping


def known_columns(fields: dict[str, tuple[str, ...]], chosen: dict[str, str] | None) -> dict[str, tuple[str, ...]]:
    """``fields`` with the columns of a mapping a person chose or saved (column -> field, "" for a column they
    ignore) as known names: a file whose header only that mapping recognises (two columns named in the
    person's own words) still has its header row found."""
    known = dict(fields)
    for i, (column, name) in enumerate((chosen or {}).items()):
        key = name if name in known else f"_chosen_{i}"
        known[key] = (*known.get(key, ()), normalise(column))
    return known


def _header_score(cells: list[str | None], fields: dict[str, tuple[str, ...]]) -> int:
    names = {normalise(c) for c in cells if c}
    return sum(1 for synonyms in fields.values() if names & set(synonyms))


def _pick_header(rows: list[list[str | None]], fields) -> int:
    """The row that names the most known fields; else the first row with 3+ filled cells."""
    best, best_score = None, 0
    for index, cells in enumerate(rows):
        score = _header_score(cells, fields)
        if score > best_score:
            best, best_score = index, score
    if best is not None and best_score >= 2:
        return best
    for index, cells in enumerate(rows):
        if sum(1 for c in cells if c not in (None, "")) >= 3:
            return index
    raise ReadError("No header row found: the file needs a row naming its columns (for example account_id, date, amount).")


def _detect_encoding(path: Path) -> str:
    with open(path, "rb") as handle:
        head = handle.read(1 << 20)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and not head.startswith(codecs.BOM_UTF32_LE):
        return "utf-16"  # Excel's "Unicode text" and PowerShell's exports; the BOM says the byte order
    sample = head[:4096]
    if sample.count(b"\x00") * 3 > len(sample):  # a zero byte beside each ASCII character: UTF-16 without its BOM
        return "utf-16-le" if sample[1::2].count(0) > sample[0::2].count(0) else "utf-16-be"
    if b"\x00" in sample:
        raise ReadError(f"{path.name} is not a text file (it holds binary data); export the ledger as CSV or .xlsx.")
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(head, final=False)  # a cut multi-byte character at the end is fine
        return "utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8"
    except UnicodeDecodeError:
        return "cp1252" if _decodes(head, "cp1252") else "latin-1"


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
        return True
    except UnicodeDecodeError:
        return False


def open_table(path: str | Path, *, delimiter: str | None = None, sheet: str | None = None,
               fields: dict[str, tuple[str, ...]] = LEDGER_FIELDS) -> Table:
    path = Path(path)
    if not path.exists():
        raise ReadError(f"{path} does not exist.")
    if path.stat().st_size == 0:
        raise ReadError(f"{path.name} is empty.")
    if path.suffix.lower() in {".xlsx", ".xlsm"}:
        return _open_xlsx(path, sheet=sheet, fields=fields)
    if path.suffix.lower() == ".xls":
        raise ReadError("Old .xls workbooks are not supported: save the sheet as .xlsx or CSV.")
    return _open_csv(path, delimiter=delimiter, fields=fields)


def _open_csv(path: Path, *, delimiter: str | None, fields) -> Table:
    encoding = _detect_encoding(path)
    try:
        with open(path, encoding=encoding, newline="") as handle:
            head = _head_lines(handle, path)
    except UnicodeError as error:
        raise ReadError(f"{path.name} is not readable as {encoding} text ({error.reason}); export it as UTF-8.") from error
    if not delimiter:
        try:
            delimiter = csv.Sniffer().sniff("".join(head[:20]), delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ";" if sum(l.count(";") for l in head) > sum(l.count(",") for l in head) else ","
    if delimiter == "\\t":
        delimiter = "\t"
    rows = [next(csv.reader([line], delimiter=delimiter), []) for line in head]
    header_index = _pick_header(rows, fields)
    headers = [h.strip() for h in rows[header_index]]
    _check_headers(headers)
    sample = [r for r in rows[header_index + 1:] if any(c.strip() for c in r)][:20]
    return Table(path, "csv", headers, header_index + 1, delimiter=delimiter, encoding=encoding, sample=sample)


def _head_lines(handle, path: Path, count: int = 40) -> list[str]:
    """The first lines, to find the header and the formats; a line longer than MAX_LINE_CHARS is refused."""
    lines = []
    for number in range(1, count + 1):
        line = handle.readline(MAX_LINE_CHARS + 1)
        if not line:
            break
        if len(line) > MAX_LINE_CHARS:
            raise ReadError(f"Line {number} of {path.name} is longer than {MAX_LINE_CHARS:,} characters: this is not a "
                            f"ledger export (or its lines do not end where they should). Export it as CSV again.")
        lines.append(line)
    return lines


def _check_headers(headers: list[str]) -> None:
    seen = set()
    for header in headers:
        if header and header in seen:
            raise ReadError(f"The column {header!r} appears twice in the header; name each column once.")
        seen.add(header)


def _cell(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        return value.date().isoformat() if value.time() == datetime.time() else value.isoformat(sep=" ")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value) if not value.is_integer() else str(int(value))
    return str(value).strip()


def _open_xlsx(path: Path, *, sheet: str | None, fields) -> Table:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    check_workbook(path)
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, OSError, KeyError, ValueError, zipfile.BadZipFile) as error:
        raise ReadError(f"{path.name} is not a readable .xlsx workbook ({error}).") from error
    try:
        if sheet and sheet not in workbook.sheetnames:
            raise ReadError(f"No sheet named {sheet!r}; the workbook has: {', '.join(workbook.sheetnames)}.")
        worksheet = workbook[sheet] if sheet else workbook.worksheets[0]
        rows = [[_cell(v) for v in row] for _, row in zip(range(40), worksheet.iter_rows(values_only=True))]
    finally:
        workbook.close()
    header_index = _pick_header(rows, fields)
    headers = [h or "" for h in rows[header_index]]
    while headers and not headers[-1]:
        headers.pop()
    _check_headers(headers)
    sample = [r[:len(headers)] for r in rows[header_index + 1:] if any(c not in (None, "") for c in r)][:20]
    return Table(path, "xlsx", headers, header_index + 1, sheet=worksheet.title, sample=sample)


def check_workbook(path: Path) -> None:
    """Refuse a workbook that would expand beyond the bounds above, before anything of it is expanded in memory.

    The sizes come from the ZIP's directory (what Python's zipfile and openpyxl will expand at most);
    the sheets and shared strings are then streamed once, a megabyte at a time, to count rows and
    cells and to find a cell longer than any Excel writes.
    """
    if not zipfile.is_zipfile(path):
        raise ReadError(f"{path.name} is not an Excel workbook: an .xlsx file is a ZIP archive and this one is not "
                        f"(is it a CSV or an old .xls renamed?). Save it as .xlsx or CSV.")
    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
            expanded = sum(part.file_size for part in parts)
            if expanded > XLSX_MAX_EXPANDED_BYTES:
                raise ReadError(f"{path.name} expands to {expanded / 1048576:,.0f} MB when opened; a workbook may expand to "
                                f"{XLSX_MAX_EXPANDED_BYTES / 1048576:,.0f} MB. Export the ledger as CSV instead.")
            for part in parts:
                if part.filename.startswith("xl/worksheets/") and part.filename.endswith(".xml") or part.filename == "xl/sharedStrings.xml":
                    with archive.open(part) as stream:
                        _check_part(path, part.filename, stream)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as error:
        raise ReadError(f"{path.name} is not a readable .xlsx workbook ({error}).") from error


def _check_part(path: Path, name: str, stream) -> None:
    too_long = re.compile(rb"[^<]{%d}" % XLSX_MAX_TEXT_BYTES)
    run = rows = cells = 0  # run: bytes since the last "<" (text that goes on into the next block)
    tail = b""
    while block := stream.read(1 << 20):
        first = block.find(b"<")
        if too_long.search(block) or run + (len(block) if first < 0 else first) >= XLSX_MAX_TEXT_BYTES:
            raise ReadError(f"{path.name} has a cell of more than {XLSX_MAX_TEXT_BYTES:,} bytes ({name}); Excel holds at most "
                            f"32,767 characters in a cell. This is not a ledger export.")
        run = run + len(block) if first < 0 else len(block) - block.rfind(b"<") - 1
        joined = tail + block  # a tag cut in two by the block boundary is counted once
        rows += joined.count(b"<row") - tail.count(b"<row")
        cells += joined.count(b"<c ") - tail.count(b"<c ")
        tail = block[-3:]
        if rows > XLSX_MAX_ROWS or cells > XLSX_MAX_CELLS:
            limit = f"{XLSX_MAX_ROWS:,} rows" if rows > XLSX_MAX_ROWS else f"{XLSX_MAX_CELLS:,} cells"
            raise ReadError(f"{path.name} has more than {limit} in a sheet ({name}); export a ledger this large as CSV.")


def iter_chunks(table: Table, columns: list[str], *, chunk_rows: int | None = None) -> Iterator[pl.DataFrame]:
    """The chosen columns as strings, chunk by chunk, with the file line number in ``__line``.

    Fully empty rows are dropped here; every other row is kept for validation.
    """
    chunk_rows = chunk_rows or CHUNK_ROWS
    if table.kind == "xlsx":
        yield from _xlsx_chunks(table, columns, chunk_rows)
        return
    source = table.path
    temporary = None
    if table.encoding not in ("utf-8", "utf-8-sig"):
        # Polars reads UTF-8: transcode Latin-1 exports once, in a stream.
        temporary = tempfile.NamedTemporaryFile(suffix=".csv", delete=False)
        try:
            with open(table.path, encoding=table.encoding, newline="") as src, \
                    open(temporary.name, "w", encoding="utf-8", newline="") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        except UnicodeError as error:
            Path(temporary.name).unlink(missing_ok=True)
            raise ReadError(f"{table.path.name} is not readable as {table.encoding} text further down ({error.reason}); "
                            f"export it as UTF-8.") from error
        source = Path(temporary.name)
    try:
        frame = pl.scan_csv(
            source,
            separator=table.delimiter,
            has_header=False,
            skip_rows=table.header_line,  # the header and anything above it
            # An explicit all-text schema: a blank first data line or a header-only file must not make Polars guess.
            schema={f"c{i}": pl.String for i in range(len(table.headers))},
            truncate_ragged_lines=True,
            missing_columns="insert",
            row_index_name=LINE,
            row_index_offset=table.header_line + 1,
            raise_if_empty=False,
            encoding="utf8",
        )
        positions = {h: f"c{i}" for i, h in enumerate(table.headers)}
        selected = frame.select([pl.col(LINE).cast(pl.Int64)] + [pl.col(positions[c]).alias(c) for c in columns])
        for chunk in selected.collect_batches(chunk_size=chunk_rows):
            chunk = _drop_empty(chunk, columns)
            if chunk.height:
                yield chunk
    except pl.exceptions.PolarsError as error:
        raise ReadError(f"{table.path.name} could not be read as CSV: {error}") from error
    finally:
        if temporary is not None:
            Path(temporary.name).unlink(missing_ok=True)


def _drop_empty(chunk: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    stripped = [pl.col(c).str.strip_chars() for c in columns]
    chunk = chunk.with_columns([s.replace("", None).alias(c) for s, c in zip(stripped, columns)])
    return chunk.filter(pl.any_horizontal([pl.col(c).is_not_null() for c in columns])) if columns else chunk


def _xlsx_chunks(table: Table, columns: list[str], chunk_rows: int) -> Iterator[pl.DataFrame]:
    from openpyxl import load_workbook

    positions = [table.headers.index(c) for c in columns]
    workbook = load_workbook(table.path, read_only=True, data_only=True)
    try:
        worksheet = workbook[table.sheet]
        lines, values = [], [[] for _ in columns]
        for number, row in enumerate(worksheet.iter_rows(min_row=table.header_line + 1, values_only=True), start=table.header_line + 1):
            lines.append(number)
            for target, position in zip(values, positions):
                target.append(_cell(row[position]) if position < len(row) else None)
            if len(lines) >= chunk_rows:
                yield _frame(lines, values, columns)
                lines, values = [], [[] for _ in columns]
        if lines:
            yield _frame(lines, values, columns)
    finally:
        workbook.close()


def _frame(lines, values, columns) -> pl.DataFrame:
    frame = pl.DataFrame({LINE: pl.Series(lines, dtype=pl.Int64), **{c: pl.Series(v, dtype=pl.String) for c, v in zip(columns, values)}})
    frame = _drop_empty(frame, columns)
    return frame


# ------------------------------------------------------------------ values


def detect_decimal(values: list[str | None], *, delimiter: str = ",") -> str:
    """Guess whether amounts use a decimal comma ("1.234,50") or a decimal point ("1,234.50").

    When the values do not tell ("1.234" may be either), a file separated by semicolons has a decimal comma
    (Excel's CSV where the comma is the decimal sign), and so has one imported by a user whose language writes
    one (Dutch, German, Italian).
    """
    comma = point = 0
    for value in values:
        if not value:
            continue
        text = re.sub(r"[^\d.,]", "", value)
        last = max(text.rfind(","), text.rfind("."))
        if last < 0:
            continue
        digits_after = len(text) - last - 1
        separator = text[last]
        if digits_after != 3 or ("," in text and "." in text):
            if separator == ",":
                comma += 1
            else:
                point += 1
    if comma != point:
        return "," if comma > point else "."
    from keyplan.core.numbers import writes_decimal_comma  # Babel: only when the values leave it open

    return "," if delimiter == ";" or writes_decimal_comma() else "."


def amount_expr(column: str, decimal: str) -> pl.Expr:
    """Parse amounts like "1.234,50", "1,234.50", "€ 1 234,50", "(120.00)" and "-120"; null when not a number.

    Plain numbers ("1234.50"; with a decimal comma, "1234") are read as they are. Only the
    others go through the clean-up, whose regular expressions took 2 s of a 10M-line import.
    """
    raw = pl.col(column)
    plain = raw.str.contains(r"^[+-]?(\d+\.?\d*|\.\d+)$" if decimal == "." else r"^[+-]?\d+$")
    text = pl.when(~plain).then(raw).str.strip_chars()  # null where plain: the clean-up skips those
    negative = text.str.starts_with("(") & text.str.ends_with(")")
    text = text.str.replace_all(r"[()\s\u00a0'’€$£¥]|EUR|USD|GBP|CHF", "")
    thousands, point = (".", ",") if decimal == "," else (",", ".")
    text = text.str.replace_all(thousands, "", literal=True)
    if point == ",":
        text = text.str.replace(",", ".", literal=True)
    valid = text.str.contains(r"^[+-]?(\d+\.?\d*|\.\d+)$")
    number = pl.when(valid).then(text).otherwise(None).cast(pl.Float64, strict=False)
    cleaned = pl.when(negative).then(-number).otherwise(number)
    return pl.when(plain).then(raw.cast(pl.Float64, strict=False)).otherwise(cleaned)


def detect_date_format(values: list[str | None]) -> str | None:
    """The known format that reads the most sample values (day-first wins ties with month-first).

    Most, not all: a sample with one bad date must still be read in the right format, so that
    the bad row is reported and the good ones are not.
    """
    sample = [v.strip() for v in values if v and v.strip()]
    if not sample:
        return None
    series = pl.Series(sample, dtype=pl.String)
    best, best_count = None, 0
    for fmt in DATE_FORMATS:
        count = len(sample) - series.str.to_datetime(fmt, strict=False).null_count()
        if count > best_count:
            best, best_count = fmt, count
    return best


def date_expr(column: str, fmt: str) -> pl.Expr:
    return pl.col(column).str.strip_chars().str.to_datetime(fmt, strict=False).dt.date()
