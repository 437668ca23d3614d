"""Ids in a request body turned into the objects they name, or a 422 naming the field."""

from django.core.exceptions import PermissionDenied, ValidationError

from keyplan.accounts.services import can_edit
from keyplan.core.models import User


def require_edit(user: User, account) -> None:
    """403 for a user who may not change ``account``: checked before any id in the body is looked up, so
    that a refusal comes first and a viewer learns nothing (which ids exist, which users are active)."""
    if not can_edit(user, account):
        raise PermissionDenied("You may not change this account.")


def active_user(pk: int | None, field: str) -> User | None:
    """The active user with id ``pk`` (None for None); an unknown or inactive one is an error on ``field``."""
    if pk is None:
        return None
    user = User.objects.filter(pk=pk, is_active=True).first()
    if user is None:
        raise ValidationError({field: f"No active user has id {pk}."})
    return user
