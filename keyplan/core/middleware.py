import logging
import time

from django.contrib.auth.middleware import (
    LoginRequiredMiddleware as DjangoLoginRequiredMiddleware,
)
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.utils import translation

from keyplan.core.busy import BUSY_RETRY_AFTER_SECONDS, is_database_busy

access_log = logging.getLogger("keyplan.access")


class AccessLogMiddleware:
    """One INFO line per request on the logger keyplan.access: method, path, status, milliseconds, user id
    (KEYPLAN_LOG_LEVEL=INFO shows them; the default WARNING does not). Query strings are left out: they
    may carry search terms about customers."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not access_log.isEnabledFor(logging.INFO):
            return self.get_response(request)
        started = time.perf_counter()
        response = self.get_response(request)
        user = getattr(request, "user", None)
        access_log.info("%s %s %s %.0f ms user=%s", request.method, request.path, response.status_code,
                        (time.perf_counter() - started) * 1000, user.pk if user is not None and user.is_authenticated else "-")
        return response


class LoginRequiredMiddleware(DjangoLoginRequiredMiddleware):
    """Every page needs a login, except the API, which authenticates itself (token or session)."""

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path_info.startswith("/api/"):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)


class DatabaseBusyMiddleware:
    """A page that could not write because SQLite was busy with another writer (a long import or rollback)
    answers 503 with Retry-After and a page saying so, instead of a 500: nothing was saved, try again.
    The API answers the same as JSON (keyplan.api.api)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not is_database_busy(exception):
            return None
        # A page of its own, without the site's frame: that would read the database (the user, the menu) again.
        html = render_to_string("busy.html", {"retry_after": BUSY_RETRY_AFTER_SECONDS, "path": request.get_full_path()})
        response = HttpResponse(html, status=503)
        response["Retry-After"] = str(BUSY_RETRY_AFTER_SECONDS)
        return response


class UserLanguageMiddleware:
    """A signed-in user's own language (chosen with the switcher, kept in their profile) wins over the browser's."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        language = getattr(getattr(request, "user", None), "language", "")
        if language and request.user.is_authenticated:
            translation.activate(language)
            request.LANGUAGE_CODE = language
        return self.get_response(request)
