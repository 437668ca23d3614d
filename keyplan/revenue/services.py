"""Imports of revenue ledgers, subscriptions and exchange rates; rollback; manual subscriptions.

An import goes over its file twice. The first pass reads, parses and validates
every row and writes nothing to the database (the parsed chunks wait in a
temporary folder, sorted by dedupe key): with one bad row (and no ``skip_invalid``)
the file is rejected with a report naming each bad row's line, column and reason.
The second pass writes the lines under the import's batch in key order, group by
group, and one transaction adds the batch to the monthly and yearly rollups, which
is the moment the numbers change everywhere: an import that fails half-way never
shows. On PostgreSQL the lines and that transaction are written at the same time,
on two connections; the transaction commits after the last line.
"""

import csv
import datetime
import decimal
import hashlib
import json
import math
import sqlite3
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from itertools import chain
from pathlib import Path

import numpy as np
import polars as pl
import polars_hash
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_noop
from simple_history.utils import bulk_create_with_history

from keyplan.accounts.models import Account, Tier, TierChange, currency_codes
from keyplan.accounts.services import can_edit
from keyplan.core.db import fetch_frame, fetch_rows
from keyplan.core.models import User
from keyplan.revenue import reading
from keyplan.revenue.models import (
    BatchStatus,
    ExchangeRate,
    ImportBatch,
    ImportKind,
    LedgerLine,
    MonthlyRollup,
    Subscription,
    YearlyRollup,
)
from keyplan.revenue.reading import (
    LEDGER_FIELDS,
    LEDGER_REQUIRED,
    LINE,
    ReadError,
    Table,
    amount_expr,
    date_expr,
    detect_date_format,
    detect_decimal,
    detect_mapping,
    iter_chunks,
    open_table,
)

MAX_REPORTED_ERRORS = 1000
Progress = Callable[[float, str], None]


def can_import(user: User) -> bool:
    # An import changes the numbers of every account: leads and admins only.
    return user.is_authenticated and user.edits_all_accounts


def reporting_currency() -> str:
    return settings.KEYPLAN_REPORTING_CURRENCY


# ---------------------------------------------------------------- options and reports


@dataclass
class LedgerOptions:
    mapping: dict[str, str] = field(default_factory=dict)  # source column -> field, overriding detection
    date_format: str | None = None
    decimal: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    create_accounts: bool = False
    skip_invalid: bool = False
    dry_run: bool = False


# Why a row is refused, by code. Marked for translation: the batch page shows them in the user's language.
REASONS = {
    "account_missing": gettext_noop("the account id is missing"),
    "date_missing": gettext_noop("the date is missing"),
    "not_a_date": gettext_noop("not a date in the format %(format)s"),
    "date_format_unknown": gettext_noop("not a recognisable date; give the date format (--date-format)"),
    "amount_missing": gettext_noop("the amount is missing"),
    "value_missing": gettext_noop("the %(field)s is missing"),
    "not_a_number": gettext_noop("not a number"),
    "unknown_currency": gettext_noop("unknown currency; use an ISO 4217 code such as EUR or USD"),
    "unknown_account": gettext_noop("unknown account; create it first or import with --create-accounts"),
    "unknown_account_create_first": gettext_noop("unknown account; create it first"),
    "no_rate": gettext_noop("no exchange rate for %(currency)s on or before %(date)s; import exchange rates first"),
    "line_id_repeated": gettext_noop("this line id appears earlier in the file"),
    "key_collision": gettext_noop("its key collides with line %(line_id)s already imported; change this line id"),
    "key_collision_in_file": gettext_noop("its key collides with line %(line_id)s earlier in the file; change this line id"),
    "rate_not_positive": gettext_noop("a rate must be above 0"),
    "amount_negative": gettext_noop("a monthly amount cannot be negative"),
    "end_before_start": gettext_noop("the end must be after the start"),
}


@dataclass(frozen=True)
class RowError:
    line: int
    column: str
    value: str | None
    reason: str  # in English, as the command line, the API and the file of rejected rows say it
    code: str = ""  # a key of REASONS: the batch page says the reason in the user's language
    params: dict = field(default_factory=dict)

    @classmethod
    def of(cls, line: int, column: str, value: str | None, code: str, **params) -> "RowError":
        return cls(line, column, value, REASONS[code] % params, code, {k: str(v) for k, v in params.items()})

    def __str__(self) -> str:
        shown = "" if self.value is None else f" ({self.value!r})"
        return f"line {self.line}, {self.column}{shown}: {self.reason}"


@dataclass
class Inspection:
    """What Keyplan makes of a file before importing it: shown as the preview."""

    table: Table
    mapping: dict[str, str]  # field -> source column
    decimal: str
    date_format: str | None

    @property
    def missing(self) -> list[str]:
        return [f for f in LEDGER_REQUIRED if f not in self.mapping]


@dataclass
class ImportResult:
    batch: ImportBatch | None
    rows_total: int = 0
    rows_imported: int = 0
    rows_duplicate: int = 0
    rows_rejected: int = 0
    accounts_created: int = 0
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0
    rejected_file: Path | None = None
    dry_run: bool = False
    # Rows of rates or subscriptions that the import changed: [pk, values before, values after],
    # kept in the batch report so that a rollback can put the values before back.
    replaced: list[list] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error_count == 0 or (self.batch is not None and self.batch.status == BatchStatus.DONE)

    def as_dict(self) -> dict:
        return {
            "batch": self.batch.pk if self.batch else None,
            "status": self.batch.status if self.batch else ("dry_run" if self.dry_run else None),
            "rows_total": self.rows_total,
            "rows_imported": self.rows_imported,
            "rows_duplicate": self.rows_duplicate,
            "rows_rejected": self.rows_rejected,
            "accounts_created": self.accounts_created,
            "error_count": self.error_count,
            "errors": [e.__dict__ for e in self.errors],
            "rejected_file": str(self.rejected_file) if self.rejected_file else None,
        }


def _apply_overrides(detected: dict[str, str], headers: list[str], overrides: dict[str, str]) -> dict[str, str]:
    mapping = dict(detected)
    for source, target in overrides.items():
        if not target and source in headers:
            # An empty field ignores the column, even one the detection had mapped (the web preview's "ignore").
            mapping = {f: s for f, s in mapping.items() if s != source}
            continue
        if target not in LEDGER_FIELDS:
            raise ReadError(f"--map {source}={target}: {target!r} is not a field; fields are {', '.join(LEDGER_FIELDS)}.")
        if source not in headers:
            raise ReadError(f"--map {source}={target}: the file has no column {source!r}; its columns are {', '.join(headers)}.")
        mapping = {f: s for f, s in mapping.items() if s != source and f != target}
        mapping[target] = source
    return mapping


def inspect_ledger(path: str | Path, options: LedgerOptions | None = None) -> Inspection:
    """Read the header and the first rows, and detect mapping, decimal separator and date format."""
    options = options or LedgerOptions()
    table = open_table(path, delimiter=options.delimiter, sheet=options.sheet)
    mapping = _apply_overrides(detect_mapping(table.headers), table.headers, options.mapping)
    column = {h: i for i, h in enumerate(table.headers)}

    def sample(name: str) -> list[str | None]:
        if name not in mapping:
            return []
        index = column[mapping[name]]
        return [row[index] if index < len(row) else None for row in table.sample]

    decimal = options.decimal or detect_decimal(sample("amount") + sample("cost"), delimiter=table.delimiter)
    date_format = options.date_format or detect_date_format(sample("date"))
    return Inspection(table, mapping, decimal, date_format)


# ---------------------------------------------------------------- validation


@dataclass
class _Context:
    """Reference data for validating rows, loaded once per import."""

    accounts: dict[str, tuple[int, str]]  # external id -> (pk, account currency)
    rates: pl.DataFrame  # currency, date, rate
    currencies: frozenset[str]
    reporting: str
    create_accounts: bool
    new_accounts: dict[str, str] = field(default_factory=dict)  # external id -> name, for --create-accounts

    @cached_property
    def known(self) -> pl.Series:
        return pl.Series(list(self.accounts), dtype=pl.String)

    @cached_property
    def account_currencies(self) -> pl.DataFrame:
        return pl.DataFrame([(ext, cur) for ext, (_, cur) in self.accounts.items()],
                            schema={"account_id": pl.String, "_account_currency": pl.String}, orient="row")

    @property
    def currency_list(self) -> pl.Series:
        return pl.Series(sorted(self.currencies), dtype=pl.String)

    @classmethod
    def load(cls, *, create_accounts: bool) -> "_Context":
        accounts = {ext: (pk, cur) for pk, ext, cur in Account.objects.values_list("pk", "external_id", "reporting_currency")}
        rates = pl.DataFrame(
            list(ExchangeRate.objects.values_list("currency", "date", "rate")),
            schema={"currency": pl.String, "date": pl.Date, "rate": pl.Float64},
            orient="row",
        ).sort("date")
        return cls(accounts, rates, currency_codes(), reporting_currency(), create_accounts)


def _hash64(texts: pl.Series) -> pl.Series:
    """A stable 64-bit hash of each text: XXH3-64 (seed 0) of its UTF-8 bytes, as signed integers for a BIGINT column.

    Polars' own hash may change between versions; a dedupe key must not. polars-hash computes
    the standard XXH3 in Rust (10M line ids: 0.1 s, against 1 s through Python and xxhash); a
    property test holds it to the reference implementation.
    """
    digests = texts.rename("text").to_frame().select(polars_hash.col("text").nchash.xxh3_64()).to_series()
    return digests.reinterpret(signed=True).rename("dedupe_key")


def line_id_keys(line_ids: pl.Series) -> pl.Series:
    """The dedupe key of lines with a line id. Stored keys depend on it: never change it."""
    return _hash64("#" + line_ids)


def _parse(chunk: pl.DataFrame, inspection: Inspection, context: _Context) -> pl.DataFrame:
    """Typed columns next to the raw ones: ``_date``, ``_amount``, ``_cost``, ``_currency_given``, ``_known``,
    ``_line_key`` (the dedupe key of a line with a line id)."""
    frame = chunk.rename({source: name for name, source in inspection.mapping.items()})
    frame = frame.with_columns(
        [pl.lit(None, dtype=pl.String).alias(name) for name in LEDGER_FIELDS if name not in frame.columns]
    )
    # Cells come trimmed, blanks as nulls (reading.iter_chunks).
    frame = frame.with_columns(
        (date_expr("date", inspection.date_format) if inspection.date_format else pl.lit(None, dtype=pl.Date)).alias("_date"),
        amount_expr("amount", inspection.decimal).alias("_amount"),
        amount_expr("cost", inspection.decimal).alias("_cost"),
        pl.col("currency").str.to_uppercase().alias("_currency_given"),
        pl.col("account_id").is_in(context.known.implode()).alias("_known"),
    )
    # Hashed once: the line's dedupe key, and what finds a line id repeated further down the file.
    has_id = frame["line_id"].is_not_null()
    line_keys = pl.repeat(None, frame.height, dtype=pl.Int64, eager=True).alias("_line_key")
    if has_id.any():
        line_keys = line_keys.scatter(has_id.arg_true(), line_id_keys(frame["line_id"].filter(has_id)))
    return frame.with_columns(line_keys)


def _errors(frame: pl.DataFrame, inspection: Inspection, context: _Context) -> list[RowError]:
    """An error for each bad cell, naming the line, the column as the file calls it, and the reason."""
    date_reason = ("not_a_date", {"format": inspection.date_format}) if inspection.date_format else ("date_format_unknown", {})
    checks = [
        ("account_id", pl.col("account_id").is_null(), ("account_missing", {})),
        ("date", pl.col("date").is_null(), ("date_missing", {})),
        ("date", pl.col("date").is_not_null() & pl.col("_date").is_null(), date_reason),
        ("amount", pl.col("amount").is_null(), ("amount_missing", {})),
        ("amount", pl.col("amount").is_not_null() & pl.col("_amount").is_null(), ("not_a_number", {})),
        ("cost", pl.col("cost").is_not_null() & pl.col("_cost").is_null(), ("not_a_number", {})),
        ("currency", pl.col("_currency_given").is_not_null() & ~pl.col("_currency_given").is_in(context.currency_list.implode()),
         ("unknown_currency", {})),
    ]
    if not context.create_accounts:
        checks.append(("account_id", pl.col("account_id").is_not_null() & ~pl.col("_known"), ("unknown_account", {})))
    flags = frame.select(LINE, *[condition.fill_null(False).alias(f"_check{i}") for i, (_, condition, _) in enumerate(checks)])
    bad_any = flags.select(pl.any_horizontal(pl.exclude(LINE))).to_series()
    if not bad_any.any():
        return []
    errors = []
    for i, (column, _, (code, params)) in enumerate(checks):
        hit = flags[f"_check{i}"]
        if hit.any():
            source = inspection.mapping.get(column, column)
            for line, value in frame.filter(hit).select(LINE, column).iter_rows():
                errors.append(RowError.of(line, source, value, code, **params))
    return errors


def _convert(frame: pl.DataFrame, context: _Context, inspection: Inspection) -> tuple[pl.DataFrame, list[RowError]]:
    """Currency of each line (given, else the account's) and its amounts in the reporting currency."""
    # Accounts created by this import (--create-accounts) report in the reporting currency.
    frame = frame.join(context.account_currencies, on="account_id", how="left", maintain_order="left").with_columns(
        pl.coalesce("_currency_given", "_account_currency", pl.lit(context.reporting)).alias("_currency")
    )
    is_foreign = pl.col("_currency") != context.reporting
    if frame.select(is_foreign.any()).item():
        foreign = frame.filter(is_foreign).sort("_date").join_asof(
            context.rates.rename({"currency": "_currency", "date": "_rate_date"}),
            left_on="_date", right_on="_rate_date", by="_currency", strategy="backward",
            check_sortedness=False,  # both sides are sorted by date above
        ).drop("_rate_date")
        local = frame.filter(~is_foreign).with_columns(pl.lit(1.0).alias("rate"))
        frame = pl.concat([local, foreign], how="vertical_relaxed").sort(LINE)
    else:
        frame = frame.with_columns(pl.lit(1.0).alias("rate"))
    missing = frame.filter(pl.col("rate").is_null())
    errors = [
        RowError.of(line, inspection.mapping.get("currency", "currency"), currency, "no_rate", currency=currency, date=day)
        for line, currency, day in missing.select(LINE, "_currency", "_date").iter_rows()
    ]
    frame = frame.filter(pl.col("rate").is_not_null()).with_columns(
        pl.col("_amount").round(2),
        pl.col("_cost").round(2),
        (pl.col("_amount") * pl.col("rate")).round(2).alias("_amount_reporting"),
        (pl.col("_cost") * pl.col("rate")).round(2).alias("_cost_reporting"),
    )
    return frame, errors


def _line_id_repeats(ids: list[pl.DataFrame], inspection: Inspection) -> list[RowError]:
    """A line id used twice in one file is an error: two different lines cannot share an id.

    ``ids`` holds each chunk's (line, key of the line id, line id), in file order. The repeats
    are found among the integer keys (10M lines: 0.3 s; among the texts 2 s); a key that
    two different line ids share is a hash collision, reported as such.
    """
    if not ids:
        return []
    every = pl.concat([frame.select(LINE, "_line_key") for frame in ids])
    suspects = every.filter(pl.col("_line_key").is_duplicated())[LINE]
    if suspects.is_empty():
        return []
    rows = pl.concat([frame.filter(pl.col(LINE).is_in(suspects.implode())) for frame in ids]).with_columns(
        pl.col("line_id").first().over("_line_key").alias("_first")  # the id that took the key first in the file
    ).filter(~pl.col("_line_key").is_first_distinct())
    column = inspection.mapping.get("line_id", "line_id")
    return [RowError.of(line, column, value, "line_id_repeated") if value == first else
            RowError.of(line, column, value, "key_collision_in_file", line_id=first)
            for line, value, first in rows.select(LINE, "line_id", "_first").iter_rows()]


def _keys(frame: pl.DataFrame, seen: "Occurrences") -> pl.Series:
    """The dedupe key of each row: the hash of its line id, or, without one, of its content and of how
    often that content occurred before in the file.

    Occurrences count across chunks (``seen``): two equal sales far apart in a big file are
    two lines, not a duplicate.
    """
    has_id = frame["line_id"].is_not_null()
    keys = frame["_line_key"].fill_null(0).alias("dedupe_key")
    if has_id.all():
        return keys
    fingerprint = frame.filter(~has_id).select(pl.concat_str(
        [pl.col("account_id"), pl.col("_date").cast(pl.String), pl.col("_amount").cast(pl.String), pl.col("_currency"),
         pl.col("_cost").cast(pl.String).fill_null("-"), pl.col("product").fill_null("-"),
         pl.col("division").fill_null("-"), pl.col("invoice_id").fill_null("-")],
        separator="|",
    )).to_series()
    occurrence = seen.number(fingerprint)
    return keys.scatter((~has_id).arg_true(), _hash64(fingerprint + "|" + occurrence.cast(pl.String)))


def _in_ledger(frame: pl.DataFrame) -> tuple[pl.DataFrame, list[RowError], pl.DataFrame]:
    """Split off the rows already in the ledger: (new rows, errors, duplicates).

    A key found with another line id is a hash collision, not a duplicate: that row is an error.
    """
    keys = frame["dedupe_key"].to_list()
    table = LedgerLine._meta.db_table
    if connection.vendor == "postgresql":
        found = fetch_rows(f"SELECT dedupe_key, line_id FROM {table} WHERE dedupe_key = ANY(%s::bigint[])", [keys])
    else:  # one parameter for any number of keys
        found = fetch_rows(f"SELECT dedupe_key, line_id FROM {table} WHERE dedupe_key IN (SELECT value FROM json_each(%s))",
                       [json.dumps(keys)])
    if not found:
        return frame, [], frame.clear()
    stored = pl.DataFrame(found, schema={"dedupe_key": pl.Int64, "_stored_line_id": pl.String}, orient="row")
    matched = frame.join(stored, on="dedupe_key", how="left")
    known = pl.col("dedupe_key").is_in(stored["dedupe_key"].implode())
    collides = known & pl.col("line_id").is_not_null() & (pl.col("line_id") != pl.col("_stored_line_id")).fill_null(True)
    errors = [RowError.of(line, "line_id", line_id, "key_collision", line_id=stored_id or "(without id)")
              for line, line_id, stored_id in matched.filter(collides).select(LINE, "line_id", "_stored_line_id").iter_rows()]
    return frame.filter(~known), errors, matched.filter(known & ~collides).drop("_stored_line_id")


class Occurrences:
    """How often each row content occurred in the file so far, by 64-bit hash.

    Sorted arrays of the hashes seen and their counts (10M rows: 120 MB). Each chunk
    looks its hashes up by binary search and merges the new ones in with one copy;
    re-grouping a table of every hash per chunk took 24 s over 10M lines, this 8 s.
    """

    def __init__(self):
        self.hashes = np.empty(0, dtype=np.int64)
        self.counts = np.empty(0, dtype=np.uint32)

    def number(self, texts: pl.Series) -> pl.Series:
        """1 for the first time a text occurs in the file, 2 for the second …"""
        within = _occurrence(texts)
        # The chunk's distinct hashes in sorted order: the binary searches then stay near each other in memory.
        new, row, n = np.unique(_hash64(texts).to_numpy(), return_inverse=True, return_counts=True)
        position = np.searchsorted(self.hashes, new)
        seen = np.zeros(len(new), dtype=bool)
        inside = position < len(self.hashes)
        seen[inside] = self.hashes[position[inside]] == new[inside]
        earlier = np.zeros(len(new), dtype=np.uint32)
        earlier[seen] = self.counts[position[seen]]
        self.counts[position[seen]] += n[seen].astype(np.uint32)
        self.hashes = np.insert(self.hashes, position[~seen], new[~seen])
        self.counts = np.insert(self.counts, position[~seen], n[~seen].astype(np.uint32))
        return within + pl.Series(earlier[row], dtype=pl.UInt32)


def _occurrence(texts: pl.Series) -> pl.Series:
    """1 for the first time a text occurs, 2 for the second … (``cum_count().over(texts)``, 15× faster).

    A window over half a million distinct strings is slow in Polars; sorting by a hash and
    then the text itself puts equal texts next to each other in file order instead.
    """
    rows = pl.DataFrame({"hash": texts.hash(), "text": texts, "row": pl.int_range(len(texts), eager=True, dtype=pl.UInt32)})
    ordered = rows.sort("hash", "text", "row")
    repeat = ((ordered["hash"] == ordered["hash"].shift(1)) & (ordered["text"] == ordered["text"].shift(1))).fill_null(False)
    position = np.arange(len(texts), dtype=np.int64)
    run_start = np.maximum.accumulate(np.where(repeat.to_numpy(), 0, position)) if len(texts) else position
    return pl.zeros(len(texts), pl.UInt32, eager=True).scatter(ordered["row"], position - run_start + 1)


# ---------------------------------------------------------------- the import


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _set_progress(batch: ImportBatch | None, value: float, progress: Progress | None, message: str) -> None:
    percent = max(0, min(100, int(value * 100)))
    if batch is not None and percent != batch.progress:
        batch.progress = percent
        ImportBatch.objects.filter(pk=batch.pk).update(progress=percent)
    if progress:
        progress(value, message)


def import_ledger(
    path: str | Path,
    *,
    by: User,
    options: LedgerOptions | None = None,
    progress: Progress | None = None,
    batch: ImportBatch | None = None,
) -> ImportResult:
    """Import a revenue ledger file. Raises ReadError when the file as a whole cannot be read."""
    if not can_import(by):
        raise PermissionDenied("Only KAM leads and admins import revenue.")
    options = options or LedgerOptions()
    path = Path(path)
    inspection = inspect_ledger(path, options)
    if inspection.missing:
        columns = ", ".join(inspection.table.headers)
        raise ReadError(
            f"No column for {', '.join(inspection.missing)}; the file has {columns}. "
            f"Map one with --map COLUMN=FIELD (for example --map Kundennummer=account_id)."
        )
    if batch is None and not options.dry_run:
        batch = ImportBatch.objects.create(kind=ImportKind.LEDGER, file_name=path.name, file_sha256=_file_sha256(path),
                                           created_by=by)
    if batch is not None:
        batch.options = {"mapping": inspection.mapping, "decimal": inspection.decimal, "date_format": inspection.date_format,
                         "delimiter": inspection.table.delimiter, "sheet": inspection.table.sheet,
                         "create_accounts": options.create_accounts, "skip_invalid": options.skip_invalid}
        batch.status = BatchStatus.VALIDATING
        batch.save(update_fields=["options", "status"])
    columns = list(inspection.mapping.values())
    result = ImportResult(batch=batch, dry_run=options.dry_run)
    context = _Context.load(create_accounts=options.create_accounts)
    occurrences = Occurrences()
    estimated_lines = _estimate_lines(inspection.table)
    ledger_empty = not LedgerLine.objects.exists()

    # Pass 1: validate everything and set aside the lines already in the ledger; write nothing to the
    # database. Each chunk's new rows wait in a temporary file, so that pass 2 neither reads nor parses
    # the file again.
    with tempfile.TemporaryDirectory(prefix="keyplan-import-") as folder:
        rejected: set[int] = set()
        errors: list[RowError] = []
        line_ids: list[pl.DataFrame] = []
        spilled: list[Spilled] = []
        for chunk in iter_chunks(inspection.table, columns):
            parsed = _parse(chunk, inspection, context)
            chunk_errors = _errors(parsed, inspection, context)
            bad = {e.line for e in chunk_errors}
            good = parsed.filter(~pl.col(LINE).is_in(pl.Series(sorted(bad), dtype=pl.Int64).implode())) if bad else parsed
            if context.create_accounts:
                _collect_new_accounts(good, context)
            converted, conversion_errors = _convert(good, context, inspection)
            converted = converted.with_columns(_keys(converted, occurrences))
            if not ledger_empty:
                converted, collisions, duplicates = _in_ledger(converted)
                conversion_errors += collisions
                result.rows_duplicate += duplicates.height
            chunk_errors += conversion_errors
            line_ids.append(parsed.filter(pl.col("line_id").is_not_null()).select(LINE, "_line_key", "line_id"))
            result.rows_total += chunk.height
            _keep_errors(errors, rejected, chunk_errors)
            if converted.height and not options.dry_run and (options.skip_invalid or not errors):
                spilled.append(_spill(converted, Path(folder) / f"{len(spilled):06d}.arrow"))
            _set_progress(batch, 0.45 * min(1.0, int(chunk[LINE][-1]) / estimated_lines), progress, "validating")
        _keep_errors(errors, rejected, _line_id_repeats(line_ids, inspection))
        del line_ids
        result.errors = sorted(errors, key=lambda e: e.line)[:MAX_REPORTED_ERRORS]
        result.error_count = len(errors)
        result.rows_rejected = len(rejected)

        if errors and not options.skip_invalid:
            _finish(batch, result, BatchStatus.REJECTED)
            return result
        if options.skip_invalid and rejected:
            result.rejected_file = _write_rejected(path, inspection, errors, rejected)
        if options.dry_run:
            result.accounts_created = len(context.new_accounts)
            return result

        # Pass 2: write the new lines, and the rollups, the ABC classes and "done" in one transaction.
        # The rollups are added up from the spilled chunks, so they need not wait for the lines: on
        # PostgreSQL the lines go in through a second connection while this one writes the rollups
        # (two server processes, two cores); the transaction commits once every line is in. An import
        # killed before that leaves lines without rollups, which can be discarded
        # (rollback_batch(..., broken_off=True)).
        stop = threading.Event()
        try:
            batch.status = BatchStatus.IMPORTING
            batch.save(update_fields=["status"])
            _set_progress(batch, 0.45, progress, "importing")
            result.accounts_created = _create_accounts(context, by=by)
            lookup = pl.DataFrame([(ext, pk) for ext, (pk, _) in context.accounts.items()],
                                  schema={"account_id": pl.String, "_account": pl.Int64}, orient="row")
            skip = pl.Series(sorted(rejected), dtype=pl.Int64)
            lines = _LineWriter(spilled, skip, lookup, batch, progress, result, stop)
            with _bulk_writing(), ThreadPoolExecutor(max_workers=2) as pool:
                try:
                    deltas = pool.submit(_rollup_deltas, spilled, skip, lookup)
                    # Alongside only outside a caller's transaction (a test's, say): the second connection
                    # would not see it. SQLite takes one writer at a time.
                    alongside = connection.vendor == "postgresql" and not connection.in_atomic_block
                    writer = pool.submit(_in_own_connection, lines.write) if alongside else None
                    if writer is None:
                        lines.write()
                    with transaction.atomic():
                        _apply_rollups(deltas.result(), sign=1)
                        _refresh_derived()
                        if writer is not None:
                            writer.result()
                        _finish(batch, result, BatchStatus.DONE)
                except BaseException:
                    stop.set()  # the writer stops after its current group; the pool waits for it
                    raise
            _set_progress(batch, 1.0, progress, "done")
        except (IntegrityError, connection.Database.IntegrityError) as exc:  # Django's or, from bulk writes, the driver's
            _discard(batch)
            raise ReadError("Another import wrote some of these lines at the same time, so nothing of this file was "
                            "kept. Import it again: the lines already in the ledger are skipped.") from exc
        except BaseException:
            _discard(batch)
            raise
    return result


# What pass 1 keeps of each chunk for pass 2: the typed columns that the ledger, the dedupe keys and the rollups need.
SPILLED_COLUMNS = [LINE, "account_id", "_date", "_amount", "_currency", "_amount_reporting", "_cost", "_cost_reporting",
                   "product", "division", "invoice_id", "line_id", "dedupe_key"]


def _keep_errors(errors: list[RowError], rejected: set[int], new: list[RowError]) -> None:
    # Count every error, keep the first ones for the report (a 10-million-line file can be all wrong).
    rejected.update(e.line for e in new)
    errors.extend(new)


def _estimate_lines(table: Table) -> int:
    if table.kind == "xlsx" or not table.sample:
        return max(1, table.path.stat().st_size // 60)
    average = sum(len(table.delimiter.join(c or "" for c in row)) + 1 for row in table.sample) / len(table.sample)
    return max(1, int(table.path.stat().st_size / max(average, 1)))


def _collect_new_accounts(good: pl.DataFrame, context: _Context) -> None:
    new = (good.filter(~pl.col("_known")).group_by("account_id", maintain_order=True)
           .agg(pl.col("account_name").drop_nulls().first()))
    for external_id, name in new.iter_rows():
        context.new_accounts.setdefault(external_id, (name or external_id).strip())


def _refresh_derived() -> None:
    """What is computed from the rollups for everyone follows every change to them: the ABC classes per
    year in the same transaction (so that no page sees new rollups beside old classes), the portfolio
    page's overview once the change is committed, under the fingerprint of the committed data (a
    failure there is logged; the change stands)."""
    from keyplan.revenue.portfolio import refresh_abc_classes, warm_overview  # portfolio reads services: import late

    refresh_abc_classes()
    transaction.on_commit(warm_overview, robust=True)


def _finish(batch: ImportBatch | None, result: ImportResult, status: str) -> None:
    if batch is None:
        return
    batch.status = status
    batch.rows_total = result.rows_total
    batch.rows_imported = result.rows_imported
    batch.rows_duplicate = result.rows_duplicate
    batch.rows_rejected = result.rows_rejected
    batch.accounts_created = result.accounts_created
    batch.report = {"error_count": result.error_count, "errors": [e.__dict__ for e in result.errors],
                    "rejected_file": str(result.rejected_file) if result.rejected_file else None,
                    **({"replaced": result.replaced} if result.replaced else {})}
    batch.finished_at = timezone.now()
    if status in (BatchStatus.DONE, BatchStatus.REJECTED):
        batch.progress = 100
    batch.save()


def _discard(batch: ImportBatch | None) -> None:
    """An import that broke off leaves nothing behind but its batch, marked failed."""
    if batch is None:
        return
    _delete_lines(batch)
    ImportBatch.objects.filter(pk=batch.pk).update(status=BatchStatus.FAILED, finished_at=timezone.now())


def _write_rejected(path: Path, inspection: Inspection, errors: list[RowError], lines: set[int]) -> Path:
    """The rejected rows beside the input, with the reason first, so they can be fixed and imported again."""
    target = path.with_name(f"{path.stem}.rejected.csv")
    reasons: dict[int, list[str]] = {}
    for error in errors:
        reasons.setdefault(error.line, []).append(f"{error.column}: {error.reason}")
    columns = list(inspection.mapping.values())
    with open(target, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=inspection.table.delimiter if inspection.table.kind == "csv" else ",")
        writer.writerow(["line", "reason", *columns])
        for chunk in iter_chunks(inspection.table, columns):
            for row in chunk.filter(pl.col(LINE).is_in(pl.Series(sorted(lines)).implode())).iter_rows():
                writer.writerow([row[0], "; ".join(reasons.get(row[0], ["see the import report"])), *row[1:]])
    return target


def _create_accounts(context: _Context, *, by: User) -> int:
    if not context.new_accounts:
        return 0
    new = [Account(external_id=ext, name=name[:200] or ext, reporting_currency=context.reporting)
           for ext, name in context.new_accounts.items()]
    with transaction.atomic():
        created = bulk_create_with_history(new, Account, batch_size=1000, default_user=by)
        if not all(a.pk for a in created):
            created = list(Account.objects.filter(external_id__in=context.new_accounts))
        TierChange.objects.bulk_create(
            [TierChange(account=a, from_tier="", to_tier=Tier.STANDARD, reason="Created by a revenue import",
                        effective_date=timezone.localdate(), changed_by=by) for a in created],
            batch_size=1000,
        )
    for account in created:
        context.accounts[account.external_id] = (account.pk, account.reporting_currency)
    context.new_accounts.clear()
    return len(created)


def _rows(frame: pl.DataFrame, batch: ImportBatch) -> pl.DataFrame:
    return frame.select(
        pl.lit(batch.pk).alias("batch_id"),
        pl.col("_account").alias("account_id"),
        pl.col("_date").alias("date"),
        pl.col("_amount").alias("amount"),
        pl.col("_currency").alias("currency"),
        pl.col("_amount_reporting").alias("amount_reporting"),
        pl.col("_cost").alias("cost"),
        pl.col("_cost_reporting").alias("cost_reporting"),
        *(pl.col(c).fill_null("").str.slice(0, n).alias(c) for c, n in
          (("product", 100), ("division", 100), ("invoice_id", 64))),
        pl.col("line_id").str.slice(0, 128),
        pl.col("dedupe_key"),
    )


@contextmanager
def _bulk_writing():
    """Give SQLite a larger page cache while it writes millions of lines.

    128 MiB holds the pages the ledger's and rollups' indexes are appended to; 512 MiB
    wrote 10M lines no faster and took the import's peak memory to 2.1 GB.
    """
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        previous = cursor.fetchone()[0]
        cursor.execute("PRAGMA cache_size = -131072")  # 128 MiB
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {int(previous)}")


# Lines are written in the order of their dedupe key across the whole file, not chunk by chunk:
# the key is a hash, so chunk after chunk would each reach into every part of the key's index
# (PostgreSQL: a COPY of 10M lines 29.7 s, in key order 19.6 s; SQLite 24.7 s and 14.3 s).
# Pass 1 sorts each spilled chunk by key and notes where each of KEY_BUCKETS equal ranges of
# keys starts in it; pass 2 writes group after group of consecutive ranges, each about a chunk.
KEY_BUCKETS = 4096
_BUCKET_STARTS = np.array([-(1 << 63) + i * ((1 << 64) // KEY_BUCKETS) for i in range(1, KEY_BUCKETS)], dtype=np.int64)


@dataclass(frozen=True)
class Spilled:
    """A validated chunk in a temporary file, sorted by dedupe key, and the row where each key range starts."""

    path: Path
    starts: np.ndarray  # KEY_BUCKETS + 1 row offsets


def _spill(converted: pl.DataFrame, path: Path) -> Spilled:
    ordered = converted.select(SPILLED_COLUMNS).sort("dedupe_key")
    ordered.write_ipc(path)
    inner = np.searchsorted(ordered["dedupe_key"].to_numpy(), _BUCKET_STARTS)
    return Spilled(path, np.concatenate([[0], inner, [ordered.height]]))


def _key_groups(spilled: list[Spilled]) -> list[tuple[int, int, int]]:
    """Consecutive key ranges taken together up to about a chunk of rows: (first range, end range, rows)."""
    counts = sum((np.diff(part.starts) for part in spilled), np.zeros(KEY_BUCKETS, dtype=np.int64))
    groups, first, rows = [], 0, 0
    for bucket, count in enumerate(counts.tolist()):
        if rows and rows + count > reading.CHUNK_ROWS:  # read at run time: tests make chunks small
            groups.append((first, bucket, rows))
            first, rows = bucket, 0
        rows += count
    if rows:
        groups.append((first, KEY_BUCKETS, rows))
    return groups


class _LineWriter:
    """Writes the spilled lines group by group, in key order, and moves the progress bar."""

    def __init__(self, spilled: list[Spilled], skip: pl.Series, lookup: pl.DataFrame, batch: ImportBatch,
                 progress: Progress | None, result: ImportResult, stop: threading.Event):
        self.spilled, self.skip, self.lookup, self.batch = spilled, skip, lookup, batch
        self.progress, self.result, self.stop = progress, result, stop
        self.vendor = connection.vendor  # read here: prepare() runs in a thread of its own

    def write(self) -> None:
        groups = _key_groups(self.spilled)
        to_write, written = max(1, sum(rows for _, _, rows in groups)), 0
        with ThreadPoolExecutor(max_workers=1) as reader:
            # The next group is read and prepared (Polars, without the GIL) while the database writes this one.
            ahead = [reader.submit(self.prepare, group) for group in groups[:1]]
            for index, (_, _, rows_in_group) in enumerate(groups):
                rows, copy_data = ahead.pop().result()
                if self.stop.is_set():
                    return
                ahead += [reader.submit(self.prepare, group) for group in groups[index + 1:index + 2]]
                if rows is not None:
                    _insert_lines(rows, copy_data)
                    self.result.rows_imported += rows.height
                written += rows_in_group
                _set_progress(self.batch, 0.45 + 0.5 * written / to_write, self.progress, "importing")

    def prepare(self, group: tuple[int, int, int]) -> tuple[pl.DataFrame | None, bytes | None]:
        """One key group's lines as ledger rows and, for PostgreSQL, their COPY data. No database access: runs
        in a thread."""
        first, end, _ = group
        parts = [pl.scan_ipc(part.path).slice(part.starts[first], part.starts[end] - part.starts[first]).collect()
                 for part in self.spilled if part.starts[end] > part.starts[first]]
        good = _without(pl.concat(parts), self.skip) if parts else None
        if good is None or not good.height:
            return None, None
        rows = _rows(good.join(self.lookup, on="account_id", how="left"), self.batch).sort("dedupe_key")
        return rows, _copy_csv(rows) if self.vendor == "postgresql" else None


def _without(frame: pl.DataFrame | pl.LazyFrame, skip: pl.Series) -> pl.DataFrame | pl.LazyFrame:
    # Rows found bad after their chunk was kept (a line id repeated further down) stay out.
    return frame.filter(~pl.col(LINE).is_in(skip.implode())) if len(skip) else frame


def _rollup_deltas(spilled: list[Spilled], skip: pl.Series, lookup: pl.DataFrame) -> pl.DataFrame | None:
    """What the import adds to the monthly rollups, per account and month, from the spilled chunks."""
    if not spilled:
        return None
    lines = _without(pl.scan_ipc([part.path for part in spilled]).select(LINE, "account_id", "_date", "_amount_reporting",
                                                                          "_cost_reporting"), skip)
    return lines.join(lookup.lazy(), on="account_id").group_by(
        pl.col("_account").alias("account_id"), pl.col("_date").dt.month_start().alias("month")  # half truncate's time
    ).agg(
        pl.col("_amount_reporting").sum().alias("revenue"),
        pl.col("_cost_reporting").fill_null(0).sum().alias("cost"),
        pl.len().alias("lines"),
    ).collect(engine="streaming")


def _in_own_connection(function: Callable[[], None]) -> None:
    """Run ``function`` in this thread on the thread's own database connection, closed afterwards."""
    try:
        function()
    finally:
        connection.close()


def _insert_lines(rows: pl.DataFrame, csv: bytes | None) -> None:
    """Insert a chunk of new lines (pass 1 set aside the ones already in the ledger)."""
    with transaction.atomic():
        bulk_insert(LedgerLine._meta.db_table, rows, csv=csv)


def _sqlite_insert(head: str, frame: pl.DataFrame, tail: str) -> None:
    """``head VALUES (…), (…), … tail`` for the rows of ``frame`` (its columns in order), many rows per statement.

    sqlite3's executemany runs one statement per row; SQLite's fixed cost per statement
    made that about 60 % slower than 200 rows per statement. Binding is the other cost, per value: a column
    with one value throughout (the batch, a single currency) goes in as a literal.
    Dates go in as ISO text, as Django stores them.
    """
    connection.ensure_connection()
    frame = frame.with_columns(pl.col(pl.Date).cast(pl.String))
    literals = [_sql_literal(column) for column in frame.get_columns()]
    row = f"({', '.join('?' if literal is None else literal for literal in literals)})"
    bound_names = [column.name for column, literal in zip(frame.get_columns(), literals) if literal is None]
    size = len(bound_names)
    per_statement = min(SQLITE_ROWS_PER_STATEMENT, _sqlite_max_variables() // max(size, 1))
    for part in frame.iter_slices(50_000):  # bounds the Python objects alive at once
        rows = part.height
        values = list(chain.from_iterable(zip(*(part[name].to_list() for name in bound_names))))
        full = rows - rows % per_statement
        if full:
            step = per_statement * size
            connection.connection.executemany(
                f"{head} VALUES {', '.join([row] * per_statement)} {tail}",
                (values[i:i + step] for i in range(0, full * size, step)) if size else ([] for _ in range(full // per_statement)))
        if full < rows:
            connection.connection.execute(f"{head} VALUES {', '.join([row] * (rows - full))} {tail}", values[full * size:])


def _sql_literal(column: pl.Series) -> str | None:
    """The SQL literal of a column's only value, or None when it has several (or a type not inlined)."""
    if column.len() == 0:
        return None
    value = column[0]
    if value is None:
        return "NULL" if column.null_count() == column.len() else None
    if column.null_count() or not (column == value).all():  # cheaper than n_unique() on a column of texts
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    if isinstance(value, str):
        return None if "\x00" in value else "'" + value.replace("'", "''") + "'"
    return repr(value) if isinstance(value, int) or math.isfinite(value) else None


SQLITE_ROWS_PER_STATEMENT = 200


def _postgres_staged(table: str, frame: pl.DataFrame, statement: str) -> int:
    """COPY the rows into a temporary twin of ``table``, then run ``statement`` on it (``{staging}`` names it)."""
    names = ", ".join(frame.columns)
    staging = f"{table}_staging"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {staging} ON COMMIT DELETE ROWS AS "
                       f"SELECT {names} FROM {table} WITH NO DATA")
        # Empty it first: inside an outer transaction (a caller's atomic block, a test) no commit has emptied it.
        cursor.execute(f"TRUNCATE {staging}")
        with cursor.cursor.copy(f"COPY {staging} ({names}) FROM STDIN WITH (FORMAT csv)") as copy:
            copy.write(_copy_csv(frame))
        cursor.execute(statement.format(staging=staging))
        return cursor.rowcount


def _sqlite_max_variables() -> int:
    # SQLite allows 32,766 parameters per statement since 3.32, 999 before.
    return 32_766 if sqlite3.sqlite_version_info >= (3, 32) else 999


def _executemany(sql: str, rows) -> None:
    """executemany with %s placeholders; on SQLite straight through sqlite3, which is several times faster."""
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        connection.connection.executemany(sql.replace("%s", "?"), rows)
    else:
        with connection.cursor() as cursor:
            cursor.executemany(sql, rows)


def _apply_rollups(deltas: pl.DataFrame | None, *, sign: int) -> None:
    """Add (sign=1) or take away (sign=-1) revenue, cost and line counts per account and month, and per
    account and year, in one transaction. ``deltas``: one row per account and month (both callers add
    them up so)."""
    if deltas is None or deltas.height == 0:
        return
    sums = (pl.col("revenue").sum(), pl.col("cost").sum(), pl.col("lines").sum())
    yearly = deltas.group_by("account_id", pl.col("month").dt.year().cast(pl.Int64).alias("year")).agg(*sums)
    with transaction.atomic():
        _apply_sums(MonthlyRollup._meta.db_table, "month", deltas, sign=sign)
        _apply_sums(YearlyRollup._meta.db_table, "year", yearly, sign=sign)


def _apply_sums(table: str, period: str, sums: pl.DataFrame, *, sign: int) -> None:
    """Upsert (sign=1) or subtract (sign=-1) per-account sums into a rollup table keyed by (account_id, ``period``)."""
    # In (account, period) order, the order of the unique index, so that its pages are written in sequence.
    sums = sums.sort("account_id", period).select(
        pl.col("account_id"), pl.col(period), (pl.col("revenue") * sign).round(2),
        (pl.col("cost") * sign).round(2), pl.col("lines").cast(pl.Int64) * sign,
    )
    if sign > 0:
        # Periods new to an account are plain inserts (COPY on PostgreSQL); only the others need the upsert,
        # whose conflict check per row made up most of a first import's rollup time.
        existing = _rollup_keys(table, period, sums)
        bulk_insert(table, sums.join(existing, on=["account_id", period], how="anti"))
        known = sums.join(existing, on=["account_id", period], how="semi")
        bulk_insert(table, known, tail=f"ON CONFLICT (account_id, {period}) DO UPDATE SET revenue = {table}.revenue + "
                                       f"excluded.revenue, cost = {table}.cost + excluded.cost, lines = {table}.lines + excluded.lines")
        return  # adding lines leaves no period at zero lines: nothing to delete
    # Taking a batch away: its periods exist, and an insert of negative counts would break the check.
    if connection.vendor == "postgresql":
        _postgres_staged(table, sums, f"UPDATE {table} t SET revenue = t.revenue + s.revenue, cost = t.cost + s.cost, "
                                      f"lines = t.lines + s.lines FROM {{staging}} s "
                                      f"WHERE t.account_id = s.account_id AND t.{period} = s.{period}")
    else:
        _executemany(
            f"UPDATE {table} SET revenue = revenue + %s, cost = cost + %s, lines = lines + %s "
            f"WHERE account_id = %s AND {period} = %s",
            [(revenue, cost, lines, account, key) for account, key, revenue, cost, lines
             in sums.with_columns(pl.col(period).cast(pl.String)).iter_rows()],
        )
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE lines <= 0")


def _rollup_keys(table: str, period: str, sums: pl.DataFrame) -> pl.DataFrame:
    """The (account_id, period) pairs of ``sums`` that the rollup table has already."""
    bounds = sums.select(pl.col("account_id").min().alias("a0"), pl.col("account_id").max().alias("a1"),
                         pl.col(period).min().alias("p0"), pl.col(period).max().alias("p1")).row(0)
    return fetch_frame(f"SELECT account_id, {period} FROM {table} WHERE account_id BETWEEN %s AND %s "
                       f"AND {period} BETWEEN %s AND %s", list(bounds), {"account_id": pl.Int64, period: sums.schema[period]})


def bulk_insert(table: str, frame: pl.DataFrame, *, tail: str = "", csv: bytes | None = None) -> None:
    """Insert the rows of ``frame`` (named columns) the fastest way each database takes them.

    PostgreSQL: COPY (``csv`` when the caller prepared it already); with a ``tail`` such as
    ``ON CONFLICT …``, which COPY does not take, COPY into a staging table and one ``INSERT …
    SELECT … tail``. SQLite: many rows per INSERT.
    """
    if not frame.height:
        return
    names = ", ".join(frame.columns)
    if connection.vendor == "postgresql" and tail:
        _postgres_staged(table, frame, f"INSERT INTO {table} ({names}) SELECT {names} FROM {{staging}} {tail}")
    elif connection.vendor == "postgresql":
        with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN WITH (FORMAT csv)") as copy:
            copy.write(csv if csv is not None else _copy_csv(frame))
    else:
        _sqlite_insert(f"INSERT INTO {table} ({names})", frame, tail)


def _copy_csv(frame: pl.DataFrame) -> bytes:
    return frame.write_csv(include_header=False, null_value="").encode()


def _delete_lines(batch: ImportBatch) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {LedgerLine._meta.db_table} WHERE batch_id = %s", [batch.pk])


def _batch_deltas(batch: ImportBatch) -> pl.DataFrame | None:
    """What a batch added to the rollups, added up again from its lines by the database (to take it away again)."""
    month = "strftime('%%Y-%%m-01', date)" if connection.vendor == "sqlite" else "CAST(date_trunc('month', date) AS date)"
    deltas = fetch_frame(f"SELECT account_id, {month}, CAST(SUM(amount_reporting) AS REAL), "
                         f"CAST(SUM(COALESCE(cost_reporting, 0)) AS REAL), COUNT(*) FROM {LedgerLine._meta.db_table} "
                         f"WHERE batch_id = %s GROUP BY account_id, {month}", [batch.pk],
                         {"account_id": pl.Int64, "month": pl.Date, "revenue": pl.Float64, "cost": pl.Float64, "lines": pl.Int64})
    return deltas if deltas.height else None


def rollback_batch(batch: ImportBatch, *, by: User, broken_off: bool = False) -> ImportBatch:
    """Undo an import: its lines leave the ledger and its amounts leave the rollups, in one transaction.

    ``broken_off`` discards an import that never finished because its worker was killed
    (status still validating or importing): its lines go, the rollups never had them. Only
    for batches no worker is running any more; the caller says so.
    """
    if not can_import(by):
        raise PermissionDenied("Only KAM leads and admins roll back imports.")
    if broken_off:
        batch = ImportBatch.objects.get(pk=batch.pk)
        if batch.status not in (BatchStatus.VALIDATING, BatchStatus.IMPORTING):
            raise ValidationError({"batch": f"Batch {batch.pk} is {batch.get_status_display().lower()}, not an import that broke off."})
        _discard(batch)
        batch.refresh_from_db()
        return batch
    with transaction.atomic():
        batch = ImportBatch.objects.select_for_update().get(pk=batch.pk)
        if batch.status in (BatchStatus.VALIDATING, BatchStatus.IMPORTING):
            raise ValidationError({"batch": f"Batch {batch.pk} is still {batch.get_status_display().lower()}. If its worker was "
                                            "stopped and will not finish it, discard it as broken off (keyplan rollback N --broken-off)."})
        if batch.status != BatchStatus.DONE:
            raise ValidationError({"batch": f"Batch {batch.pk} is {batch.get_status_display().lower()}; only imported batches can be rolled back."})
        if batch.kind == ImportKind.LEDGER:
            _apply_rollups(_batch_deltas(batch), sign=-1)
            _delete_lines(batch)
            _refresh_derived()
        elif batch.kind == ImportKind.SUBSCRIPTIONS:
            Subscription.objects.filter(batch=batch).delete()
            for pk, before, after in batch.report.get("replaced", []):
                _restore(Subscription, pk, ("monthly_amount", "currency", "end"), before, after)
        elif batch.kind == ImportKind.RATES:
            ExchangeRate.objects.filter(batch=batch).delete()
            for pk, before, after in batch.report.get("replaced", []):
                _restore(ExchangeRate, pk, ("rate",), before, after)
        batch.status = BatchStatus.ROLLED_BACK
        batch.rolled_back_by = by
        batch.rolled_back_at = timezone.now()
        batch.save()
    return batch


def _restore(model, pk: int, fields: tuple[str, ...], before: list, after: list) -> None:
    """Put back the values a rolled-back import replaced, unless a later change replaced them in turn."""
    model.objects.filter(pk=pk, **dict(zip(fields, after))).update(**dict(zip(fields, before)))


# ---------------------------------------------------------------- exchange rates and subscriptions

RATE_FIELDS = {
    "date": ("date", "valid_from", "datum", "data"),
    "currency": ("currency", "ccy", "valuta", "wahrung", "waehrung", "divisa"),
    "rate": ("rate", "exchange_rate", "koers", "kurs", "wisselkoers", "tasso", "cambio"),
}
SUBSCRIPTION_FIELDS = {
    "account_id": LEDGER_FIELDS["account_id"],
    "plan": ("plan", "plan_name", "subscription", "product", "abonnement", "tarif", "piano"),
    "monthly_amount": ("monthly_amount", "mrr", "amount", "monthly_fee", "price", "bedrag", "betrag", "importo"),
    "currency": ("currency", "ccy", "valuta", "wahrung", "waehrung", "divisa"),
    "start": ("start", "start_date", "begin", "from", "startdatum", "beginn", "inizio"),
    "end": ("end", "end_date", "until", "to", "einddatum", "ende", "fine"),
}


@dataclass
class SmallImportOptions:
    mapping: dict[str, str] = field(default_factory=dict)
    date_format: str | None = None
    decimal: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    dry_run: bool = False


def _read_small(path: Path, fields: dict, required: tuple[str, ...], options: SmallImportOptions,
                dates: tuple[str, ...], numbers: tuple[str, ...]) -> tuple[pl.DataFrame, dict[str, str], list[RowError]]:
    """Read a reference-data file (rates, subscriptions) whole: typed columns ``_<field>`` and row errors."""
    table = open_table(path, delimiter=options.delimiter, sheet=options.sheet, fields=fields)
    mapping = detect_mapping(table.headers, fields)
    for source, target in options.mapping.items():
        if not target and source in table.headers:
            mapping = {f: s for f, s in mapping.items() if s != source}  # ignore the column
            continue
        if target not in fields or source not in table.headers:
            raise ReadError(f"--map {source}={target}: use a column of the file and one of {', '.join(fields)}.")
        mapping = {f: s for f, s in mapping.items() if s != source and f != target} | {target: source}
    missing = [f for f in required if f not in mapping]
    if missing:
        raise ReadError(f"No column for {', '.join(missing)}; the file has {', '.join(table.headers)}.")
    frames = list(iter_chunks(table, list(mapping.values())))
    frame = pl.concat(frames) if frames else pl.DataFrame(schema={LINE: pl.Int64, **{s: pl.String for s in mapping.values()}})
    frame = frame.rename({source: name for name, source in mapping.items()})
    frame = frame.with_columns([pl.lit(None, dtype=pl.String).alias(f) for f in fields if f not in frame.columns])
    column = {h: i for i, h in enumerate(table.headers)}
    date_samples = [row[column[mapping[d]]] for d in dates if d in mapping for row in table.sample if column[mapping[d]] < len(row)]
    fmt = options.date_format or detect_date_format(date_samples) or "%Y-%m-%d"
    number_samples = [row[column[mapping[n]]] for n in numbers if n in mapping for row in table.sample if column[mapping[n]] < len(row)]
    decimal = options.decimal or detect_decimal(number_samples, delimiter=table.delimiter)
    frame = frame.with_columns(
        *[date_expr(d, fmt).alias(f"_{d}") for d in dates],
        *[amount_expr(n, decimal).alias(f"_{n}") for n in numbers],
    )
    errors = []
    for name in fields:
        source = mapping.get(name, name)
        if name in required:
            for line, value in frame.filter(pl.col(name).is_null()).select(LINE, name).iter_rows():
                errors.append(RowError.of(line, source, value, "value_missing", field=name.replace("_", " ")))
        if name in dates or name in numbers:
            code, params = ("not_a_date", {"format": fmt}) if name in dates else ("not_a_number", {})
            for line, value in frame.filter(pl.col(name).is_not_null() & pl.col(f"_{name}").is_null()).select(LINE, name).iter_rows():
                errors.append(RowError.of(line, source, value, code, **params))
    return frame, mapping, errors


def _small_batch(kind: str, path: Path, by: User, mapping: dict, batch: ImportBatch | None = None) -> ImportBatch:
    if batch is not None:  # made beforehand, e.g. by the web upload so that its page can follow the import
        batch.kind, batch.status, batch.options = kind, BatchStatus.IMPORTING, {"mapping": mapping}
        batch.save(update_fields=["kind", "status", "options"])
        return batch
    return ImportBatch.objects.create(kind=kind, file_name=path.name, file_sha256=_file_sha256(path), created_by=by,
                                      status=BatchStatus.IMPORTING, options={"mapping": mapping})


def _stop_small_import(result: ImportResult, errors: list[RowError], batch: ImportBatch | None, *,
                       dry_run: bool) -> ImportResult:
    """A rates or subscriptions file with bad rows (or a dry run): report them, write nothing."""
    result.errors, result.error_count = sorted(errors, key=lambda e: e.line)[:MAX_REPORTED_ERRORS], len(errors)
    result.rows_rejected = len({e.line for e in errors})
    if batch is not None and errors and not dry_run:
        result.batch = batch
        _finish(batch, result, BatchStatus.REJECTED)
    return result


def import_rates(path: str | Path, *, by: User, options: SmallImportOptions | None = None,
                 batch: ImportBatch | None = None) -> ImportResult:
    """Exchange rates (date, currency, rate to the reporting currency). A later rate for a date replaces the earlier one."""
    if not can_import(by):
        raise PermissionDenied("Only KAM leads and admins import exchange rates.")
    options, path = options or SmallImportOptions(), Path(path)
    frame, mapping, errors = _read_small(path, RATE_FIELDS, ("date", "currency", "rate"), options, ("date",), ("rate",))
    frame = frame.with_columns(pl.col("currency").str.strip_chars().str.to_uppercase())
    codes = pl.Series(sorted(currency_codes()), dtype=pl.String)
    for line, value in frame.filter(pl.col("currency").is_not_null() & ~pl.col("currency").is_in(codes.implode())).select(LINE, "currency").iter_rows():
        errors.append(RowError.of(line, mapping["currency"], value, "unknown_currency"))
    for line, value in frame.filter(pl.col("_rate").is_not_null() & (pl.col("_rate") <= 0)).select(LINE, "rate").iter_rows():
        errors.append(RowError.of(line, mapping["rate"], value, "rate_not_positive"))
    result = ImportResult(batch=None, rows_total=frame.height, dry_run=options.dry_run)
    if errors or options.dry_run:
        return _stop_small_import(result, errors, batch, dry_run=options.dry_run)
    with transaction.atomic():
        batch = _small_batch(ImportKind.RATES, path, by, mapping, batch)
        existing = {(c, d): (pk, r) for pk, c, d, r in ExchangeRate.objects.values_list("pk", "currency", "date", "rate")}
        new, changed = [], []
        for _, currency, day, rate in frame.select(LINE, "currency", "_date", "_rate").iter_rows():
            rate = decimal.Decimal(str(round(rate, 8)))
            if (currency, day) in existing:
                pk, before = existing[(currency, day)]
                if pk is not None and before != rate:
                    changed.append(ExchangeRate(pk=pk, currency=currency, date=day, rate=rate))
                    result.replaced.append([pk, [str(before)], [str(rate)]])
            else:
                new.append(ExchangeRate(currency=currency, date=day, rate=rate, batch=batch))
                existing[(currency, day)] = (None, rate)
        ExchangeRate.objects.bulk_create(new, batch_size=1000)
        ExchangeRate.objects.bulk_update(changed, ["rate"], batch_size=1000)
        result.batch, result.rows_imported, result.rows_duplicate = batch, len(new) + len(changed), 0
        _finish(batch, result, BatchStatus.DONE)
    return result


def import_subscriptions(path: str | Path, *, by: User, options: SmallImportOptions | None = None,
                         batch: ImportBatch | None = None) -> ImportResult:
    """Subscriptions (account, plan, monthly amount, currency, start, end). The same account, plan and start updates the line."""
    if not can_import(by):
        raise PermissionDenied("Only KAM leads and admins import subscriptions.")
    options, path = options or SmallImportOptions(), Path(path)
    frame, mapping, errors = _read_small(path, SUBSCRIPTION_FIELDS, ("account_id", "plan", "monthly_amount", "start"),
                                         options, ("start", "end"), ("monthly_amount",))
    accounts = dict(Account.objects.values_list("external_id", "pk"))
    currencies = dict(Account.objects.values_list("external_id", "reporting_currency"))
    frame = frame.with_columns(pl.col("account_id").str.strip_chars(), pl.col("plan").str.strip_chars(),
                               pl.col("currency").str.strip_chars().str.to_uppercase())
    codes = currency_codes()
    for line, external_id, currency, amount, start, end in frame.select(LINE, "account_id", "currency", "_monthly_amount", "_start", "_end").iter_rows():
        if external_id and external_id not in accounts:
            errors.append(RowError.of(line, mapping["account_id"], external_id, "unknown_account_create_first"))
        if currency and currency not in codes:
            errors.append(RowError.of(line, mapping.get("currency", "currency"), currency, "unknown_currency"))
        if amount is not None and amount < 0:
            errors.append(RowError.of(line, mapping["monthly_amount"], str(amount), "amount_negative"))
        if start and end and end <= start:
            errors.append(RowError.of(line, mapping.get("end", "end"), str(end), "end_before_start"))
    result = ImportResult(batch=None, rows_total=frame.height, dry_run=options.dry_run)
    if errors or options.dry_run:
        return _stop_small_import(result, errors, batch, dry_run=options.dry_run)
    with transaction.atomic():
        batch = _small_batch(ImportKind.SUBSCRIPTIONS, path, by, mapping, batch)
        existing = {(a, p, s): (pk, [f"{m:.2f}", c, e.isoformat() if e else None]) for pk, a, p, s, m, c, e in
                    Subscription.objects.values_list("pk", "account_id", "plan", "start", "monthly_amount", "currency", "end")}
        new, changed = [], []
        for external_id, plan, currency, amount, start, end in frame.select("account_id", "plan", "currency", "_monthly_amount", "_start", "_end").iter_rows():
            account_id = accounts[external_id]
            line = Subscription(account_id=account_id, plan=plan[:100], monthly_amount=decimal.Decimal(str(round(amount, 2))),
                                currency=currency or currencies[external_id], start=start, end=end, batch=batch)
            key = (account_id, line.plan, start)
            if key in existing:
                pk, before = existing[key]
                after = [f"{line.monthly_amount:.2f}", line.currency, end.isoformat() if end else None]
                if pk is not None and before != after:
                    line.pk = pk
                    changed.append(line)
                    result.replaced.append([pk, before, after])
            else:
                new.append(line)
                existing[key] = (None, None)
        bulk_create_with_history(new, Subscription, batch_size=1000, default_user=by)
        Subscription.objects.bulk_update(changed, ["monthly_amount", "currency", "end"], batch_size=1000)
        result.batch, result.rows_imported = batch, len(new) + len(changed)
        _finish(batch, result, BatchStatus.DONE)
    return result


@transaction.atomic
def add_subscription(account: Account, *, by: User, plan: str, monthly_amount, currency: str, start: datetime.date,
                     end: datetime.date | None = None) -> Subscription:
    """A subscription entered on the account page."""
    if not can_edit(by, account):
        raise PermissionDenied("You may not change this account.")
    subscription = Subscription(account=account, plan=(plan or "").strip(), monthly_amount=monthly_amount,
                                currency=(currency or account.reporting_currency).upper(), start=start, end=end)
    if end is not None and start is not None and end <= start:
        raise ValidationError({"end": "The end must be after the start."})
    if Subscription.objects.filter(account=account, plan=subscription.plan, start=start).exists():
        # An import would merge these into one line; entered by hand they would count twice.
        raise ValidationError({"plan": f"{account.name} already has a {subscription.plan} subscription starting {start}."})
    subscription.full_clean()
    subscription._history_user = by
    subscription.save()
    return subscription


@transaction.atomic
def end_subscription(subscription: Subscription, *, by: User, end: datetime.date) -> Subscription:
    if not can_edit(by, subscription.account):
        raise PermissionDenied("You may not change this account.")
    if end <= subscription.start:
        raise ValidationError({"end": "The end must be after the start."})
    subscription.end = end
    subscription._history_user = by
    subscription.save(update_fields=["end"])
    return subscription
