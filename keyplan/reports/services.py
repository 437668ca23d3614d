"""Feed tokens: made and revoked by their user (an admin may revoke anyone's), one transaction each."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from keyplan.core.models import Role, User, token_digest
from keyplan.reports.models import FeedToken

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
