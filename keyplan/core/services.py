"""Writes on users and tokens: one function, one transaction each."""

import datetime

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from keyplan.core.models import ApiToken, Role, User, token_digest


@transaction.atomic
def create_user(
    *,
    username: str,
    password: str,
    role: str = Role.TEAM_MEMBER,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
    kam_capacity: int | None = None,
    check_password: bool = True,
) -> User:
    if role not in Role.values:
        raise ValidationError({"role": f"Unknown role {role!r}; choose one of {', '.join(Role.values)}."})
    if User.objects.filter(username=username).exists():
        raise ValidationError({"username": f"A user named {username!r} already exists."})
    user = User(
        username=username,
        role=role,
        first_name=first_name,
        last_name=last_name,
        email=email,
        kam_capacity=kam_capacity,
        # Admins also get Django's admin site.
        is_staff=role == Role.ADMIN,
        is_superuser=role == Role.ADMIN,
    )
    if check_password:
        validate_password(password, user)
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    return user


MAX_TOKEN_DAYS = 3650


@transaction.atomic
def create_token(user: User, *, name: str = "", expires_in_days: int | None = None) -> str:
    """Create an API token for ``user`` and return the secret. Only its SHA-256 digest is stored."""
    if expires_in_days is not None and not 1 <= expires_in_days <= MAX_TOKEN_DAYS:
        raise ValidationError({"expires_in_days": _("A token expires after 1 to %(max)s days, or never.") % {"max": MAX_TOKEN_DAYS}})
    name = (name or "").strip()
    if len(name) > 100:
        raise ValidationError({"name": _("At most 100 characters.")})
    secret = ApiToken.new_secret()
    expires_at = timezone.now() + datetime.timedelta(days=expires_in_days) if expires_in_days else None
    ApiToken.objects.create(user=user, name=name, digest=token_digest(secret), hint=secret[:8], expires_at=expires_at)
    return secret


def tokens_of(user: User):
    return ApiToken.objects.filter(user=user).select_related("user")


def can_manage_token(by: User, token: ApiToken) -> bool:
    return token.user_id == by.pk or by.role == Role.ADMIN or by.is_superuser


@transaction.atomic
def revoke_token(token: ApiToken, *, by: User | None) -> ApiToken:
    """Revoke a token (its owner or an admin; ``by=None``: the command line, which runs as the server's operator)."""
    if by is not None and not can_manage_token(by, token):
        raise PermissionDenied(_("Only the token's owner or an admin may revoke it."))
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


def user_for_token(secret: str) -> User | None:
    token = (
        ApiToken.objects.select_related("user")
        .filter(digest=token_digest(secret), revoked_at__isnull=True, user__is_active=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    # Record use at most once a minute, so that a busy script does not write on every call.
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


@transaction.atomic
def set_kam_capacity(kam: User, *, by: User, capacity: int | None) -> User:
    """How many key accounts ``kam`` can carry; ``None`` restores the default."""
    if not by.edits_all_accounts:
        raise PermissionDenied("Only KAM leads and admins set capacity.")
    if capacity is not None and not 0 <= capacity <= 50:
        raise ValidationError({"kam_capacity": "Capacity must be between 0 and 50 key accounts."})
    kam.kam_capacity = capacity
    kam.save(update_fields=["kam_capacity"])
    return kam


def can_unlock_sign_in(user: User) -> bool:
    return user.is_authenticated and user.edits_all_accounts


def sign_in_locks() -> list[dict]:
    """User names and addresses that are locked out now (django-axes' failed attempts within the cool-off)."""
    from axes.models import AccessAttempt
    from django.conf import settings

    recent = AccessAttempt.objects.filter(attempt_time__gte=timezone.now() - settings.AXES_COOLOFF_TIME)
    totals: dict[tuple[str, str], dict] = {}
    for username, ip_address, failures, when in recent.values_list("username", "ip_address", "failures_since_start", "attempt_time"):
        for key in ((username or "", ""), ("", ip_address or "")):
            if key == ("", ""):
                continue
            entry = totals.setdefault(key, {"username": key[0], "ip_address": key[1], "failures": 0, "last_failure": when})
            entry["failures"] += failures
            entry["last_failure"] = max(entry["last_failure"], when)
    locks = [entry for entry in totals.values() if entry["failures"] >= settings.AXES_FAILURE_LIMIT]
    locks.sort(key=lambda entry: entry["last_failure"], reverse=True)
    return locks


def unlock_sign_in(*, by: User, username: str | None = None, ip_address: str | None = None) -> int:
    """Clear the failed sign-ins of a user name or an address; returns how many records went."""
    from axes.utils import reset

    if not can_unlock_sign_in(by):
        raise PermissionDenied(_("Only KAM leads and admins unlock sign-ins."))
    if not username and not ip_address:
        raise ValidationError({"username": _("Give a user name or an address to unlock.")})
    count = 0
    if username:
        count += reset(username=username)
    if ip_address:
        count += reset(ip=ip_address)
    return count
