"""Users, their roles and API tokens."""

import hashlib
import secrets

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    ADMIN = "admin", _("Admin")
    KAM_LEAD = "kam_lead", _("KAM lead")
    TEAM_MEMBER = "team_member", _("Account team member")
    VIEWER = "viewer", _("Viewer")


class User(AbstractUser):
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.TEAM_MEMBER)
    kam_capacity = models.PositiveSmallIntegerField(
        _("key account capacity"),
        null=True,
        blank=True,
        help_text=_("How many key accounts this person can carry as key account manager. Empty: the default."),
    )
    # Chosen with the language switcher; empty: the browser's language (Accept-Language), else English.
    language = models.CharField(_("language"), max_length=10, blank=True, choices=settings.LANGUAGES)

    class Meta:
        ordering = ["username"]

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    @property
    def capacity(self) -> int:
        if self.kam_capacity is not None:
            return self.kam_capacity
        return settings.KEYPLAN_DEFAULT_KAM_CAPACITY

    @property
    def sees_all_accounts(self) -> bool:
        return self.role in {Role.ADMIN, Role.KAM_LEAD, Role.VIEWER} or self.is_superuser

    @property
    def edits_all_accounts(self) -> bool:
        return self.role in {Role.ADMIN, Role.KAM_LEAD} or self.is_superuser

    @property
    def is_read_only(self) -> bool:
        return self.role == Role.VIEWER and not self.is_superuser


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ApiToken(models.Model):
    """A bearer token for scripts. Only its digest is stored; the token is shown once."""

    PREFIX = "kp_"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True)
    digest = models.CharField(max_length=64, unique=True)
    hint = models.CharField(max_length=12, help_text=_("The first characters, to recognise the token."))
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text=_("Empty: the token does not expire."))

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.hint}… ({self.user})"

    @property
    def status(self) -> str:
        """active, expired or revoked."""
        from django.utils import timezone

        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= timezone.now():
            return "expired"
        return "active"

    @classmethod
    def new_secret(cls) -> str:
        return cls.PREFIX + secrets.token_urlsafe(32)


class WorkerProcess(models.Model):
    """A `keyplan worker` process (or the one `keyplan serve` runs), seen alive by its heartbeat.

    A worker writes ``seen_at`` every few seconds while it runs and ``stopped_at`` when it stops in
    order. Work it held when it died (a kill -9, a power cut) is found through this row: its heartbeat
    stops, or, on the same machine, its process is gone.
    """

    id = models.CharField(primary_key=True, max_length=64)
    host = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    seen_at = models.DateTimeField(db_index=True)
    stopped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-seen_at"]

    def __str__(self) -> str:
        return f"worker {self.pid}@{self.host}"
