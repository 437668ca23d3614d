"""Background tasks of the revenue app, run by `keyplan worker` (django-tasks with the database backend)."""

import logging
import time

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import OperationalError
from django.utils import timezone
from django.utils.module_loading import import_string
from django_tasks import TaskResultStatus, task

from keyplan.core.busy import is_database_busy
from keyplan.core.models import WorkerProcess
from keyplan.core.worker import BUSY_BACKOFF, current_worker_id, is_gone
from keyplan.revenue import services, uploads
from keyplan.revenue.importing.undo import IMPORTERS
from keyplan.revenue.models import BatchStatus, ImportBatch, ImportKind
from keyplan.revenue.reading import ReadError

logger = logging.getLogger(__name__)
RUNNING = (BatchStatus.VALIDATING, BatchStatus.IMPORTING)
BUSY_RETRIES = 5


@task()
def run_import(batch_id: int, path: str, options: dict) -> dict:
    """Import an uploaded file into its batch; ``path`` is relative to KEYPLAN_UPLOAD_DIR. The file is deleted after.

    When SQLite stays busy with another writer beyond its timeout, the import (which then kept nothing)
    starts again after a pause, up to BUSY_RETRIES times, instead of failing.
    """
    batch = ImportBatch.objects.select_related("created_by").get(pk=batch_id)
    if batch.status != BatchStatus.VALIDATING:
        return {"batch": batch.pk, "status": batch.status, "skipped": "the batch had already run"}
    # Which worker holds the batch: should it die, the next worker to start finds the batch through it.
    ImportBatch.objects.filter(pk=batch.pk).update(worker_id=current_worker_id())
    try:
        for attempt in range(BUSY_RETRIES + 1):
            try:
                return _run(batch, path, options)
            except OperationalError as error:
                if not is_database_busy(error) or attempt == BUSY_RETRIES:
                    raise
                wait = BUSY_BACKOFF[min(attempt, len(BUSY_BACKOFF) - 1)]
                logger.warning("Import batch %s: the database is busy (%s); trying again in %s s.", batch.pk, error, wait)
                time.sleep(wait)
                batch = _again(batch)
        raise AssertionError("unreachable")
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


def _again(batch: ImportBatch) -> ImportBatch:
    """The batch of an import that gave up on a busy database (and kept nothing), ready to run again."""
    from keyplan.revenue.importing.batch import _delete_lines

    _delete_lines(batch)  # whatever the attempt wrote before it gave up, should its own clean-up have given up too
    ImportBatch.objects.filter(pk=batch.pk).update(status=BatchStatus.VALIDATING, progress=0, finished_at=None, rows_total=0,
                                                   rows_imported=0, rows_duplicate=0, rows_rejected=0, accounts_created=0,
                                                   report={})
    return ImportBatch.objects.select_related("created_by").get(pk=batch.pk)


def recover_broken_imports() -> list[ImportBatch]:
    """Find the imports whose worker is gone (killed, or its machine stopped) and discard what they wrote.

    Run by every worker as it starts, and by `keyplan serve`. A batch still validating or importing
    whose worker's heartbeat stopped (or, on this machine, whose worker process is gone) is marked
    broken off and its lines removed, in one transaction, by the system; its task is marked failed and
    the uploaded file it left is removed. Imports of workers that are alive are left alone.
    """
    from django_tasks_db.models import DBTaskResult

    workers = {w.pk: w for w in WorkerProcess.objects.all()}
    gone = {pk for pk, w in workers.items() if is_gone(w)}
    found = []
    for batch in ImportBatch.objects.filter(status__in=RUNNING, worker_id__in=gone).select_related("worker"):
        worker = batch.worker
        described = f"process {worker.pid} on {worker.host}, last seen {worker.seen_at.isoformat(timespec='seconds')}"
        try:
            found.append(services.discard_broken_off(batch, by=None, worker=described, pid=worker.pid, host=worker.host))
        except ValidationError:
            continue  # it finished meanwhile
        logger.warning("Import batch %s (%s) broke off: its worker (%s) is gone. Its lines were removed.",
                       batch.pk, batch.file_name, described)
    for result in DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING):
        if not result.worker_ids or result.worker_ids[-1] not in gone:
            continue
        result.set_failed(WorkerGone(f"The worker {result.worker_ids[-1]} stopped while it ran this task."))
        kwargs = (result.args_kwargs or {}).get("kwargs", {})
        if result.task_path == f"{__name__}.run_import" and kwargs.get("path"):
            uploads.remove_input(kwargs["path"])
    return found


class WorkerGone(RuntimeError):
    """The worker that ran a task was killed before the task ended."""


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
    elif batch.kind in IMPORTERS:  # a kind of an area above revenue (CRM accounts, contacts …)
        small = services.SmallImportOptions(mapping=mapping, preset=options.get("preset") or None, **common)
        importer = import_string(IMPORTERS[batch.kind])
        flags = {name: bool(options.get(name)) for name in importer.spec.flags}  # a mailbox's bodies …
        result = importer.run(file, by=user, options=small, batch=batch, **flags)
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
