"""Feed tokens: read-only keys for the live feeds that Excel, Power BI or Google Sheets refresh."""

import secrets

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class FeedToken(models.Model):
    """A key that reads the live feeds as its user, and nothing else: no page, no API call, no write.
    Only its SHA-256 digest is stored; the key is shown once, when it is made."""

    PREFIX = "kpf_"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="feed_tokens")
    name = models.CharField(_("name"), max_length=100, blank=True)
    digest = models.CharField(max_length=64, unique=True)
    hint = models.CharField(max_length=12)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.hint}… ({self.user})"

    @classmethod
    def new_secret(cls) -> str:
        return cls.PREFIX + secrets.token_urlsafe(32)


class JobStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class WorkbookJob(models.Model):
    """A portfolio workbook built by the background worker (`keyplan worker`), with its progress and, once done, the
    file. Only its user reads it: the workbook holds what they may see. A job whose worker is gone (kill -9, a power
    cut) is marked failed, and can be run again."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="workbook_jobs")
    status = models.CharField(max_length=8, choices=JobStatus.choices, default=JobStatus.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    stage = models.CharField(max_length=40, blank=True)  # the step being written: "pareto", "scoring" …
    options = models.JSONField(default=dict)  # from, to, industry, country, tier, kam, language
    worker = models.ForeignKey("core.WorkerProcess", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    message = models.TextField(blank=True)  # why it failed
    content = models.BinaryField(null=True, blank=True, editable=False)  # the .xlsx, in the one store every process shares
    file_name = models.CharField(max_length=120, blank=True)
    summary = models.JSONField(default=dict)  # sheets, accounts, from, to, currency
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=["queued", "running", "done", "failed"]),
                                   name="workbookjob_status_valid"),
            models.CheckConstraint(condition=models.Q(progress__lte=100), name="workbookjob_progress_max_100"),
        ]

    def __str__(self) -> str:
        return f"workbook job {self.pk} ({self.status})"

    @property
    def running(self) -> bool:
        return self.status in (JobStatus.QUEUED, JobStatus.RUNNING)
