"""Feed tokens (made and revoked by their user; an admin may revoke anyone's) and the portfolio workbook as a
background job (started, followed, run again), one transaction each."""

import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from keyplan.core.models import Role, User, token_digest
from keyplan.reports.models import FeedToken, JobStatus, WorkbookJob

MAX_TOKENS = 50  # active feed tokens per user


@transaction.atomic
def create_feed_token(user: User, *, name: str = "") -> str:
    """A new read-only feed token of ``user``; returns the secret, shown once (only its digest is kept)."""
    name = (name or "").strip()
    if len(name) > 100:
        raise ValidationError({"name": _("A name has at most 100 characters.")})
    if FeedToken.objects.filter(user=user, revoked_at__isnull=True).count() >= MAX_TOKENS:
        raise ValidationError({"name": _("You have %(n)s active feed tokens; revoke one first.") % {"n": MAX_TOKENS}})
    secret = FeedToken.new_secret()
    FeedToken.objects.create(user=user, name=name, digest=token_digest(secret), hint=secret[:8])
    return secret


def feed_tokens_of(user: User):
    return FeedToken.objects.filter(user=user)


@transaction.atomic
def revoke_feed_token(token: FeedToken, *, by: User) -> FeedToken:
    if token.user_id != by.pk and not (by.role == Role.ADMIN or by.is_superuser):
        raise PermissionDenied(_("Only the token's owner or an admin may revoke it."))
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


def user_for_feed_token(secret: str) -> User | None:
    """The active user a feed token reads as; None for an unknown or revoked token."""
    if not secret.startswith(FeedToken.PREFIX) or len(secret) > 100:
        return None
    token = (FeedToken.objects.select_related("user")
             .filter(digest=token_digest(secret), revoked_at__isnull=True, user__is_active=True).first())
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        FeedToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


# ---------------------------------------------------------------- the portfolio workbook as a background job

JOB_KEEP = datetime.timedelta(days=1)  # finished jobs (and their files) are forgotten after a day
MAX_RUNNING_JOBS = 3  # queued or running workbook jobs per user


def start_workbook_job(user: User, *, start: datetime.date | None = None, end: datetime.date | None = None,
                       industry: str = "", country: str = "", tier: str = "", kam: int | None = None,
                       language: str = "en") -> WorkbookJob:
    """Queue the portfolio workbook of what ``user`` may see for the background worker; the job page (or
    ``GET /api/v1/exports/workbook/jobs/ID``) follows its progress and offers the file once it is done.

    A period that makes no sense is refused at once (ValidationError naming ``from`` or ``to``), nothing queued."""
    from keyplan.revenue import portfolio

    if not user.is_active:
        raise PermissionDenied(_("Only active users export workbooks."))
    if start and end and end < start:
        raise ValidationError({"to": _("The period ends before it starts.")})
    try:
        portfolio.Options(start=start, end=end).period()
    except ValueError as error:
        raise ValidationError({"from": str(error)}) from error
    with transaction.atomic():
        WorkbookJob.objects.filter(user=user, created_at__lt=timezone.now() - JOB_KEEP).exclude(
            status__in=(JobStatus.QUEUED, JobStatus.RUNNING)).delete()
        if WorkbookJob.objects.filter(user=user, status__in=(JobStatus.QUEUED, JobStatus.RUNNING)).count() >= MAX_RUNNING_JOBS:
            raise ValidationError({"from": _("%(n)s of your workbooks are still being made; wait for one to finish.")
                                   % {"n": MAX_RUNNING_JOBS}})
        job = WorkbookJob.objects.create(user=user, options={
            "from": start.isoformat() if start else None, "to": end.isoformat() if end else None,
            "industry": industry or "", "country": (country or "").upper(), "tier": tier or "", "kam": kam,
            "language": language or "en"})
        _enqueue(job)
    return job


def _enqueue(job: WorkbookJob) -> None:
    from keyplan.reports.tasks import build_workbook

    transaction.on_commit(lambda: build_workbook.enqueue(job_id=job.pk))


@transaction.atomic
def retry_workbook_job(job: WorkbookJob, *, by: User) -> WorkbookJob:
    """Run a failed (or interrupted) job again with the same choices."""
    if job.user_id != by.pk:
        raise PermissionDenied(_("Only the person who started this workbook runs it again."))
    job = WorkbookJob.objects.select_for_update().get(pk=job.pk)
    if job.status != JobStatus.FAILED:
        raise ValidationError({"status": _("Only a workbook that failed is run again.")})
    job.status, job.progress, job.stage, job.message, job.worker = JobStatus.QUEUED, 0, "", "", None
    job.started_at = job.finished_at = None
    job.save(update_fields=["status", "progress", "stage", "message", "worker", "started_at", "finished_at"])
    _enqueue(job)
    return job


def workbook_job_of(user: User, pk: int) -> WorkbookJob | None:
    """The user's own job (None for another's: it holds what they may see), checked for a worker that is gone."""
    job = WorkbookJob.objects.filter(pk=pk, user=user).select_related("worker").defer("content").first()
    if job is not None and job.status == JobStatus.RUNNING and job.worker is not None:
        from keyplan.core.worker import is_gone

        if is_gone(job.worker):
            _interrupt(job)
            job.refresh_from_db()
    return job


def _interrupt(job: WorkbookJob) -> bool:
    worker = job.worker
    message = (f"The workbook was interrupted at {job.progress} %: its background worker (process {worker.pid} on "
               f"{worker.host}) stopped before it finished. Run it again.") if worker else "The workbook was interrupted."
    return bool(WorkbookJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(
        status=JobStatus.FAILED, message=message, finished_at=timezone.now()))


def recover_broken_workbooks() -> list[WorkbookJob]:
    """Mark failed the workbook jobs whose worker is gone (run by every worker as it starts, beside the imports')."""
    from keyplan.core.worker import is_gone

    found = []
    for job in WorkbookJob.objects.filter(status=JobStatus.RUNNING, worker__isnull=False).select_related("worker").defer("content"):
        if is_gone(job.worker) and _interrupt(job):
            found.append(job)
    return found
