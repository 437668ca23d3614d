"""The small imports: exchange rates and subscriptions, read whole and written in one transaction.
"""

import decimal
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import F
from simple_history.utils import bulk_create_with_history

from keyplan.accounts.models import Account, currency_codes
from keyplan.core.models import User
from keyplan.revenue.importing.batch import _file_sha256, _finish
from keyplan.revenue.importing.inspection import MAX_REPORTED_ERRORS, ImportResult, RowError, can_import
from keyplan.revenue.models import (
    BatchStatus,
    ExchangeRate,
    ImportBatch,
    ImportKind,
    Subscription,
)
from keyplan.revenue.reading import (
    LEDGER_FIELDS,
    LINE,
    ReadError,
    amount_expr,
    date_expr,
    detect_date_format,
    detect_decimal,
    detect_mapping,
    iter_chunks,
    known_columns,
    open_table,
)

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
    preset: str | None = None  # a kind's named set of column names (a CRM's export), where the kind has them


def _read_small(path: Path, fields: dict, required: tuple[str, ...], options: SmallImportOptions,
                dates: tuple[str, ...], numbers: tuple[str, ...],
                choose=None) -> tuple[pl.DataFrame, dict[str, str], list[RowError]]:
    """Read a reference-data file (rates, subscriptions) whole: typed columns ``_<field>`` and row errors.

    ``choose(headers)``, where given, returns the synonyms to map this header with (a CRM's own names first);
    ``fields`` still finds the header row."""
    table = open_table(path, delimiter=options.delimiter, sheet=options.sheet, fields=known_columns(fields, options.mapping))
    mapping = detect_mapping(table.headers, choose(table.headers) if choose else fields)
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
        for line in changed:
            line.version = F("version") + 1  # a changed subscription is a new version (optimistic concurrency)
        Subscription.objects.bulk_update(changed, ["monthly_amount", "currency", "end", "version"], batch_size=1000)
        result.batch, result.rows_imported = batch, len(new) + len(changed)
        _finish(batch, result, BatchStatus.DONE)
    return result
