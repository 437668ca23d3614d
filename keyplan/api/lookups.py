"""Ids in a request body turned into the objects they name, or a 422 naming the field."""

from django.core.exceptions import ValidationError

from keyplan.core.models import User


def active_user(pk: int | None, field: str) -> User | None:
    """The active user with id ``pk`` (None for None); an unknown or inactive one is an error on ``field``."""
    if pk is None:
        return None
    user = User.objects.filter(pk=pk, is_active=True).first()
    if user is None:
        raise ValidationError({field: f"No active user has id {pk}."})
    return user
