"""Keeping Keyplan in step with a CRM: a batch of up to 10,000 records as JSON, checked and upserted with the
import's rules (keyplan.crm.importing, keyplan.crm.interactions), all or nothing.

Sending the same batch twice changes nothing: the records are compared with what is stored, and only what
differs is written (with history, in a batch that a rollback undoes); an activity already in the log is
recognised by the log's rule for duplicates (the same account, date and kind, a summary in nearly the same words). A batch that changes nothing leaves no
import batch behind; it only notes when each record was last in step.
"""

from __future__ import annotations

import hashlib
import json

import polars as pl
from django.core.exceptions import PermissionDenied
from django.db import transaction

from keyplan.core.models import User
from keyplan.crm import columns
from keyplan.crm.importing import DEFAULT_SYSTEM, CrmImportResult, _accounts, _error, _stakeholders
from keyplan.crm.interactions import INTERACTION_FIELDS, _interactions
from keyplan.crm.interactions import REQUIRED as INTERACTION_REQUIRED
from keyplan.revenue.importing.inspection import MAX_REPORTED_ERRORS, can_import
from keyplan.revenue.models import BatchStatus, ImportBatch
from keyplan.revenue.reading import LINE

MAX_RECORDS = 10_000
KINDS = {"accounts": (columns.ACCOUNT_FIELDS, columns.ACCOUNT_REQUIRED, _accounts),
         "stakeholders": (columns.STAKEHOLDER_FIELDS, columns.STAKEHOLDER_REQUIRED, _stakeholders),
         "interactions": (INTERACTION_FIELDS, INTERACTION_REQUIRED, _interactions)}
LISTS = ("participants", "our_people")
REASONS = {
    "crm_unknown_field": "unknown field; the fields are %(fields)s",
    "crm_not_a_value": "a text, a number, true, false or null",
    "crm_not_a_record": "a record is an object of field: value",
}


def _text(value) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    raise TypeError


def sync(kind: str, records: list, *, by: User, system: str | None = None, dry_run: bool = False) -> CrmImportResult:
    """Check every record, then write all or none. Record numbers in the errors count from 1."""
    from keyplan.revenue.importing.inspection import REASONS as ALL_REASONS

    ALL_REASONS.update(REASONS)
    if not can_import(by):
        raise PermissionDenied("Only KAM leads and admins sync records.")
    fields, required, run = KINDS[kind]
    system = ((system or "").strip() or DEFAULT_SYSTEM)[:40]
    errors, rows = [], []
    for number, record in enumerate(records, start=1):
        row = {LINE: number, **{name: None for name in fields}}
        if not isinstance(record, dict):
            errors.append(_error(number, "record", None, "crm_not_a_record"))
            rows.append(row)
            continue
        for name, value in record.items():
            if name not in fields:
                errors.append(_error(number, str(name)[:64], None, "crm_unknown_field", fields=", ".join(fields)))
                continue
            if name in LISTS and isinstance(value, list) and all(isinstance(v, str) for v in value):
                value = ";".join(value)  # an activity's people as a list of addresses
            try:
                row[name] = _text(value)
            except TypeError:
                errors.append(_error(number, name, str(value)[:100], "crm_not_a_value"))
        for name in required:
            if not (row[name] or "").strip():
                errors.append(_error(number, name, None, "value_missing", field=name.replace("_", " ")))
        rows.append(row)
    frame = pl.DataFrame(rows, schema={LINE: pl.Int64, **{name: pl.String for name in fields}})
    if kind == "accounts":
        frame = frame.with_columns(pl.col("employees").str.strip_chars().cast(pl.Float64, strict=False).alias("_employees"))
        for number, value in frame.filter(pl.col("employees").is_not_null() & pl.col("_employees").is_null()).select(
                LINE, "employees").iter_rows():
            errors.append(_error(number, "employees", value, "not_a_number"))
    if kind == "interactions":  # dates as ISO 8601 (2026-12-01), as JSON carries them
        frame = frame.with_columns(pl.col("date").str.strip_chars().str.to_date("%Y-%m-%d", strict=False).alias("_date"),
                                   pl.col("duration_minutes").str.strip_chars().cast(pl.Float64, strict=False)
                                   .alias("_duration_minutes"))
        for number, value in frame.filter(pl.col("date").is_not_null() & pl.col("_date").is_null()).select(LINE, "date").iter_rows():
            errors.append(_error(number, "date", value, "not_a_date", format="%Y-%m-%d"))
        for number, value in frame.filter(pl.col("duration_minutes").is_not_null() & pl.col("_duration_minutes").is_null()).select(
                LINE, "duration_minutes").iter_rows():
            errors.append(_error(number, "duration_minutes", value, "not_a_number"))
    result = CrmImportResult(batch=None, rows_total=len(records), dry_run=dry_run, system=system)
    mapping = {name: name for name in fields}
    with transaction.atomic():
        digest = hashlib.sha256(json.dumps(records, sort_keys=True, default=str).encode()).hexdigest()
        batch = ImportBatch.objects.create(kind=kind, file_name=f"sync from {system}"[:255], file_sha256=digest, created_by=by,
                                           status=BatchStatus.IMPORTING, options={"sync": True, "system": system})
        result = run(frame, mapping, errors, result, by=by, path=None, batch=batch, dry_run=dry_run, progress=None)
        if result.error_count or dry_run:
            transaction.set_rollback(True)  # nothing of a refused or trial batch is kept, not even its record
            result.batch = None
        elif not (result.created or result.updated):
            batch.delete()  # in step already: only the records' last sync was noted
            result.batch = None
        else:
            ImportBatch.objects.filter(pk=batch.pk).update(options={"sync": True, "system": system, "records": len(records)})
    result.errors = result.errors[:MAX_REPORTED_ERRORS]
    return result
