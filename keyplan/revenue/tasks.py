"""Background tasks of the revenue app, run by `keyplan worker` (django-tasks with the database backend)."""

import logging

from django.core.exceptions import PermissionDenied
from django.utils import timezone
from django_tasks import task

from keyplan.revenue import services, uploads
from keyplan.revenue.models import BatchStatus, ImportBatch, ImportKind
from keyplan.revenue.reading import ReadError

logger = logging.getLogger(__name__)
RUNNING = (BatchStatus.VALIDATING, BatchStatus.IMPORTING)


@task()
def run_import(batch_id: int, path: str, options: dict) -> dict:
    """Import an uploaded file into its batch; ``path`` is relative to KEYPLAN_UPLOAD_DIR. The file is deleted after."""
    batch = ImportBatch.objects.select_related("created_by").get(pk=batch_id)
    if batch.status != BatchStatus.VALIDATING:
        return {"batch": batch.pk, "status": batch.status, "skipped": "the batch had already run"}
    try:
        return _run(batch, path, options)
    except (ReadError, PermissionDenied) as error:
        # The file as a whole (or the person) cannot import: nothing was written; say why on the batch.
        _close(batch, BatchStatus.REJECTED, str(error))
        return {"batch": batch.pk, "status": BatchStatus.REJECTED, "message": str(error)}
    except BaseException as error:
        logger.exception("Import batch %s broke off", batch.pk)
        _close(batch, BatchStatus.FAILED, f"The import broke off ({type(error).__name__}: {error}). Nothing of it was kept.")
        raise
    finally:
        uploads.remove_input(path)


def _run(batch: ImportBatch, path: str, options: dict) -> dict:
    user = batch.created_by
    if user is None or not user.is_active:
        raise PermissionDenied("The person who started this import can no longer import.")
    file = uploads.resolve(path)
    if file is None or not file.is_file():
        raise ReadError("The uploaded file is gone (uploads are kept for a day); upload it again.")
    common = {key: options.get(key) or None for key in ("date_format", "decimal", "delimiter", "sheet")}
    mapping = dict(options.get("mapping") or {})  # [[column, field], ...] in the file's order (or an object)
    if batch.kind == ImportKind.LEDGER:
        ledger_options = services.LedgerOptions(mapping=mapping, create_accounts=bool(options.get("create_accounts")),
                                                skip_invalid=bool(options.get("skip_invalid")), **common)
        result = services.import_ledger(file, by=user, options=ledger_options, batch=batch)
    else:
        function = services.import_rates if batch.kind == ImportKind.RATES else services.import_subscriptions
        result = function(file, by=user, options=services.SmallImportOptions(mapping=mapping, **common), batch=batch)
    summary = result.as_dict()
    summary.pop("errors")  # they are on the batch's report
    return summary


def _close(batch: ImportBatch, status: str, message: str) -> None:
    """Mark a batch that did not finish by itself, unless the import already closed it."""
    ImportBatch.objects.filter(pk=batch.pk, status__in=RUNNING).update(
        status=status, progress=100 if status == BatchStatus.REJECTED else batch.progress, finished_at=timezone.now(),
        report={"message": message, "error_count": 0, "errors": []},
    )
