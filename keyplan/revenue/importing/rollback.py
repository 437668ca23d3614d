"""Undoing a batch: its lines and its share of the rollups removed in one transaction."""


import polars as pl
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.utils import timezone

from keyplan.core.db import fetch_frame
from keyplan.core.models import User
from keyplan.revenue.importing.batch import _delete_lines, _discard, _refresh_derived
from keyplan.revenue.importing.inspection import can_import
from keyplan.revenue.importing.write import _apply_rollups
from keyplan.revenue.models import (
    BatchStatus,
    ExchangeRate,
    ImportBatch,
    ImportKind,
    LedgerLine,
    Subscription,
)


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
    (status still validating or importing): see `discard_broken_off`. Only for batches no worker
    is running any more; the caller says so.
    """
    if not can_import(by):
        raise PermissionDenied("Only KAM leads and admins roll back imports.")
    if broken_off:
        return discard_broken_off(batch, by=by)
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


def discard_broken_off(batch: ImportBatch, *, by: User | None = None, worker: str = "") -> ImportBatch:
    """Discard an import that will never finish (its worker was killed): in one transaction, the lines it had
    written leave the ledger and the batch is marked broken off, with who (``by``; None is the system,
    when a worker starting up found the batch) and when.

    The rollups hold nothing of such a batch: they take its lines in the same transaction that marks it
    done. Its file can be imported again; the lines are new to the ledger again.
    """
    if by is not None and not can_import(by):
        raise PermissionDenied("Only KAM leads and admins roll back imports.")
    with transaction.atomic():
        batch = ImportBatch.objects.select_for_update().get(pk=batch.pk)
        if batch.status not in (BatchStatus.VALIDATING, BatchStatus.IMPORTING):
            raise ValidationError({"batch": f"Batch {batch.pk} is {batch.get_status_display().lower()}, not an import that broke off."})
        lines = _delete_lines(batch)
        stage = batch.status
        batch.status = BatchStatus.BROKEN_OFF
        batch.rolled_back_by = by
        batch.rolled_back_at = timezone.now()
        batch.finished_at = batch.finished_at or batch.rolled_back_at
        batch.rows_imported = 0
        batch.report = {
            "error_count": 0, "errors": [],
            "message": f"The import broke off at {batch.progress} % ({stage}): "
                       + (f"its worker ({worker}) stopped before it finished. " if worker else "it was discarded by hand. ")
                       + f"The {lines} lines it had written were removed; the numbers are as before it. Upload the file again to import it.",
            "broken_off": {"stage": stage, "progress": batch.progress, "lines_removed": lines, "worker": worker,
                           "by": by.username if by else "system", "at": batch.rolled_back_at.isoformat()},
        }
        batch.save()
    return batch


def _restore(model, pk: int, fields: tuple[str, ...], before: list, after: list) -> None:
    """Put back the values a rolled-back import replaced, unless a later change replaced them in turn."""
    model.objects.filter(pk=pk, **dict(zip(fields, after))).update(**dict(zip(fields, before)))
