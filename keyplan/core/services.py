"""Writes on users and tokens: one function, one transaction each."""

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

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


@transaction.atomic
def create_token(user: User, *, name: str = "") -> str:
    """Create an API token for ``user`` and return the secret (it is not stored)."""
    secret = ApiToken.new_secret()
    ApiToken.objects.create(user=user, name=name, digest=token_digest(secret), hint=secret[:8])
    return secret


def user_for_token(secret: str) -> User | None:
    token = (
        ApiToken.objects.select_related("user")
        .filter(digest=token_digest(secret), revoked_at__isnull=True, user__is_active=True)
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
