"""The batch's own record: its file's hash, its progress, its outcome, and what follows a change to the
numbers.
"""

import hashlib
from pathlib import Path

from django.db import connection, transaction
from django.utils import timezone

from keyplan.accounts.services import delete_accounts_in_bulk
from keyplan.revenue.importing.inspection import ImportResult, Progress
from keyplan.revenue.models import (
    BatchStatus,
    ImportBatch,
    LedgerLine,
)


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


def _discard(batch: ImportBatch | None, *, accounts: dict[str, int] | None = None) -> None:
    """An import that broke off leaves nothing behind but its batch, marked failed: not its lines, nor the
    ``accounts`` it had created for them (written before the lines, with their history rows and key status)."""
    if batch is None:
        return
    with transaction.atomic():
        _delete_lines(batch)
        if accounts:
            delete_accounts_in_bulk(list(accounts.values()))
        ImportBatch.objects.filter(pk=batch.pk).update(status=BatchStatus.FAILED, finished_at=timezone.now())


def _delete_lines(batch: ImportBatch) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {LedgerLine._meta.db_table} WHERE batch_id = %s", [batch.pk])
        return cursor.rowcount
