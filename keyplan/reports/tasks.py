"""Background tasks of the reports app, run by `keyplan worker`: the portfolio workbook of a `WorkbookJob`."""

import datetime
import io
import logging

from django.utils import timezone, translation
from django_tasks import task

from keyplan.core.worker import current_worker_id
from keyplan.reports import workbook
from keyplan.reports.models import JobStatus, WorkbookJob

logger = logging.getLogger(__name__)


@task()
def build_workbook(job_id: int) -> dict:
    """Build the job's workbook as its user, in their language, moving the job's progress; keep the file on the job."""
    from keyplan.revenue import portfolio

    job = WorkbookJob.objects.select_related("user").defer("content").filter(pk=job_id).first()
    if job is None or job.status != JobStatus.QUEUED:
        return {"job": job_id, "skipped": "the job is gone or had already run"}
    # Which worker holds the job: should it die, the job page and the next worker to start find it through it.
    WorkbookJob.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, worker_id=current_worker_id(),
                                                 started_at=timezone.now(), progress=0)
    options = job.options
    last = [-1]

    def progress(share: float, stage: str) -> None:
        percent = min(99, int(share * 100))  # 100 once the file is kept
        if percent != last[0]:
            last[0] = percent
            WorkbookJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(progress=percent, stage=stage)

    try:
        if not job.user.is_active:
            raise PermissionError("The person who started this workbook can no longer sign in.")
        scope = portfolio.Scope(job.user, industry=options.get("industry") or "", country=options.get("country") or "",
                                tier=options.get("tier") or "", kam=options.get("kam"))
        period = portfolio.Options(start=_day(options.get("from")), end=_day(options.get("to")))
        buffer = io.BytesIO()
        with translation.override(options.get("language") or "en"):
            built = workbook.build(scope, period, buffer, progress=progress)
    except (ValueError, PermissionError) as error:  # the choices (or the person) cannot make a workbook: say why
        _fail(job, str(error))
        return {"job": job.pk, "status": JobStatus.FAILED, "message": str(error)}
    except BaseException as error:
        logger.exception("Workbook job %s broke off", job.pk)
        _fail(job, f"The workbook broke off ({type(error).__name__}: {error}). Run it again.")
        raise
    WorkbookJob.objects.filter(pk=job.pk).update(status=JobStatus.DONE, progress=100, stage="done",
                                                 content=buffer.getvalue(), file_name=workbook.filename(built.period),
                                                 summary=built.as_dict(), finished_at=timezone.now())
    return {"job": job.pk, "status": JobStatus.DONE, **built.as_dict()}


def _day(text: str | None) -> datetime.date | None:
    return datetime.date.fromisoformat(text) if text else None


def _fail(job: WorkbookJob, message: str) -> None:
    WorkbookJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(
        status=JobStatus.FAILED, message=message, finished_at=timezone.now())
