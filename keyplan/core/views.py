"""The user's own settings pages: API tokens; and, for KAM leads and admins, locked sign-ins."""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.contrib.auth.decorators import login_not_required
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_POST

from keyplan.core import services
from keyplan.core.forms import TextRules
from keyplan.core.models import ApiToken

EXPIRY_CHOICES = [("", _("Never")), ("30", _("30 days")), ("90", _("90 days")), ("365", _("1 year"))]


class TokenForm(TextRules, forms.Form):
    name = forms.CharField(label=_("What the token is for"), max_length=100, required=False,
                           help_text=_("For example: the ERP export script."))
    expires_in_days = forms.TypedChoiceField(label=_("Expires"), choices=EXPIRY_CHOICES, coerce=int,
                                             empty_value=None, required=False, initial="90")


@require_http_methods(["GET", "POST"])
def tokens(request: HttpRequest) -> HttpResponse:
    secret = None
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        secret = services.create_token(request.user, **form.cleaned_data)
        form = TokenForm()
    return render(request, "core/tokens.html", {
        "form": form, "secret": secret, "tokens": services.tokens_of(request.user),
    })


@require_POST
def revoke_token(request: HttpRequest, token_id: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=token_id, user=request.user)
    services.revoke_token(token, by=request.user)
    messages.success(request, _("Token %(hint)s… is revoked: scripts using it get 401 from now on.") % {"hint": token.hint})
    return redirect("tokens")


def _require_unlocker(request: HttpRequest) -> None:
    if not services.can_unlock_sign_in(request.user):
        raise PermissionDenied(_("Only KAM leads and admins unlock sign-ins."))


@require_http_methods(["GET"])
def sign_in_locks(request: HttpRequest) -> HttpResponse:
    _require_unlocker(request)
    return render(request, "core/sign_in_locks.html", {
        "locks": services.sign_in_locks(),
        "limit": settings.AXES_FAILURE_LIMIT,
        "minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60),
    })


@require_POST
def unlock_sign_in(request: HttpRequest) -> HttpResponse:
    _require_unlocker(request)
    username = request.POST.get("username") or None
    ip_address = request.POST.get("ip_address") or None
    services.unlock_sign_in(by=request.user, username=username, ip_address=ip_address)
    messages.success(request, _("Unlocked: %(who)s can sign in again.") % {"who": username or ip_address or "—"})
    return redirect("sign_in_locks")


@login_not_required
@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """For a load balancer: 200 when the database answers, 503 when it does not; whether a task worker's
    heartbeat is recent (imports and exports wait without one). Says nothing about the data."""
    from keyplan.core.models import WorkerProcess
    from keyplan.core.worker import gone_after

    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        seen = WorkerProcess.objects.filter(stopped_at__isnull=True).order_by("-seen_at").values_list("seen_at", flat=True).first()
    except DatabaseError:
        return JsonResponse({"status": "error", "database": "unreachable"}, status=503)
    worker = "ok" if seen is not None and timezone.now() - seen <= gone_after() else "none"
    return JsonResponse({"status": "ok", "database": "ok", "worker": worker})


@login_not_required
def set_language(request: HttpRequest) -> HttpResponse:
    """The language switcher: Django's (a cookie, for everyone), and for a signed-in user their profile too, so
    that the choice follows them to another browser."""
    from django.views.i18n import set_language as remember_in_cookie

    response = remember_in_cookie(request)
    language = request.POST.get("language", "")
    if request.method == "POST" and request.user.is_authenticated and language in dict(settings.LANGUAGES):
        request.user.language = language
        request.user.save(update_fields=["language"])
    return response
