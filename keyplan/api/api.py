"""The REST API: one NinjaAPI, one router per domain app, one OpenAPI document at /api/v1/openapi.json."""

import json
import logging
from functools import wraps

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import OperationalError
from django.http import Http404, JsonResponse
from django.shortcuts import render
from ninja import NinjaAPI, Swagger
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as SchemaValidationError
from ninja.operation import Operation
from ninja.security import HttpBearer, SessionAuth

from keyplan.api.errors import JsonOnlyParser, conflict_body, contract_errors, field_names_for, validation_detail
from keyplan.api.gates import check_write
from keyplan.api.openapi import declare_errors
from keyplan.core.busy import BUSY_RETRY_AFTER_SECONDS, is_database_busy
from keyplan.core.services import user_for_token
from keyplan.core.versions import Conflict

logger = logging.getLogger("keyplan.api")


class BearerToken(HttpBearer):
    """``Authorization: Bearer <token>``, with a token from ``keyplan token create``."""

    def authenticate(self, request, token):
        user = user_for_token(token)
        if user is not None:
            request.user = user  # services and history see who acts
        return user


class SignedInSession(SessionAuth):
    """The browser's session, with Django's CSRF check. A request with no signed-in session is not checked
    for CSRF (it can change nothing as anyone): it gets the 401 that names the missing token, not "CSRF check
    Failed"."""

    def _get_key(self, request):
        if not request.user.is_authenticated:
            return None
        return super()._get_key(request)


class GatedOperation(Operation):
    """An operation whose write permission is decided after authentication and before any parameter, the body
    above all, is read (keyplan/api/gates.py): a refused writer gets the 403 or 404, never the 422 of a malformed
    body."""

    def _run_checks(self, request):
        refusal = super()._run_checks(request)  # authentication (401) and throttling
        if refusal is not None:
            return refusal
        path = request.resolver_match.kwargs if request.resolver_match is not None else {}
        try:
            check_write(request, self.view_func, path)
        except Exception as error:  # PermissionDenied, Http404, a busy database: the API's own handlers answer
            return self.api.on_exception(request, error)
        return None


class KeyplanAPI(NinjaAPI):
    def _get_bound_routers(self):
        # django-ninja makes every operation a plain Operation; here, once, each becomes a GatedOperation.
        bound = super()._get_bound_routers()
        for router in bound:
            for view in router.path_operations.values():
                for operation in view.operations:
                    if type(operation) is Operation:
                        operation.__class__ = GatedOperation
                    assert type(operation) is GatedOperation, f"{operation.path}: an async operation is not gated"
        return bound

    def validation_error_from_error_contexts(self, error_contexts) -> SchemaValidationError:
        """Every error's ``loc`` is ``[source, field]`` with the field's input name: ``["body", "title"]``,
        never ``["body", "payload", "title"]`` (the handler's parameter name means nothing to a client)."""
        return SchemaValidationError(contract_errors(error_contexts))

    def get_openapi_schema(self, *, path_prefix=None, path_params=None):
        return declare_errors(super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params))


def docs_access(view):
    """The API's documentation and OpenAPI document: open in development, behind a login in production
    (KEYPLAN_API_DOCS_NEED_LOGIN, on with KEYPLAN_PRODUCTION). A session or a bearer token will do."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if settings.KEYPLAN_API_DOCS_NEED_LOGIN and not request.user.is_authenticated:
            header = request.headers.get("Authorization", "")
            user = user_for_token(header[7:].strip()) if header.lower().startswith("bearer ") else None
            if user is None:
                if request.path.endswith(".json"):
                    return JsonResponse({"detail": "Authentication required: log in, or send Authorization: Bearer <token>."}, status=401)
                return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    return wrapper


class OfflineSwagger(Swagger):
    """Swagger UI from django-ninja's own template and scripts (our static files), never its CDN page: ninja picks
    the offline page only when it is an installed app, and it is not one (keyplan/settings.py says why)."""

    def render_page(self, request, api, **kwargs):
        self.settings["url"] = self.get_openapi_url(api, kwargs)
        # "Try it out" with the session cookie needs the CSRF token on writes.
        needs_csrf = any(getattr(auth, "csrf", False) for auth in api.auth)
        return render(request, self.template, {"swagger_settings": json.dumps(self.settings), "api": api,
                                               "add_csrf": needs_csrf})


api = KeyplanAPI(
    title="Keyplan API",
    version="1",
    description="Key account management: accounts, teams and key status. "
    "Authenticate with `Authorization: Bearer <token>` (create one with `keyplan token create USERNAME`).",
    auth=[BearerToken(), SignedInSession()],
    urls_namespace="api",
    docs_url="/docs",
    docs=OfflineSwagger(),
    openapi_url="/openapi.json",
    parser=JsonOnlyParser(),
    docs_decorator=docs_access,
)


@api.exception_handler(ValidationError)
def on_validation_error(request, exc: ValidationError):
    return api.create_response(request, {"detail": validation_detail(exc, field_names=field_names_for(request))}, status=422)


@api.exception_handler(Exception)
def on_unexpected_error(request, exc: Exception):
    # Also with KEYPLAN_DEBUG on: a client never gets a traceback; the server's log has it.
    logger.exception("Unexpected error on %s %s", request.method, request.path)
    return api.create_response(request, {"detail": "Internal error: the request was not carried out. The error is logged on the server."}, status=500)


@api.exception_handler(HttpError)
def on_http_error(request, exc: HttpError):
    if getattr(request, "keyplan_unsupported_media_type", None):
        return api.create_response(request, {"detail": request.keyplan_unsupported_media_type}, status=415)
    return api.create_response(request, {"detail": str(exc)}, status=exc.status_code)


@api.exception_handler(Conflict)
def on_conflict(request, exc: Conflict):
    # A stale version: nothing was written; the row as stored now, so the client can show both.
    response = api.create_response(request, conflict_body(exc), status=409)
    response["ETag"] = f'"{exc.current.version}"'
    return response


@api.exception_handler(PermissionDenied)
def on_permission_denied(request, exc: PermissionDenied):
    return api.create_response(request, {"detail": str(exc) or "You may not do this."}, status=403)


@api.exception_handler(Http404)
def on_not_found(request, exc: Http404):
    return api.create_response(request, {"detail": "Not found."}, status=404)


@api.exception_handler(OperationalError)
def on_database_error(request, exc: OperationalError):
    if not is_database_busy(exc):
        return on_unexpected_error(request, exc)
    response = api.create_response(request, {"detail": "The database is busy with another change (an import or a rollback); "
                                                       "nothing was saved. Try again in a few seconds."}, status=503)
    response["Retry-After"] = str(BUSY_RETRY_AFTER_SECONDS)
    return response


@api.exception_handler(AuthenticationError)
def on_unauthenticated(request, exc: AuthenticationError):
    return api.create_response(request, {"detail": "Authentication required: send Authorization: Bearer <token>."}, status=401)


from keyplan.api import accounts  # noqa: E402  (routers register themselves on `api`)

api.add_router("/accounts/", accounts.router)
api.add_router("/kams/", accounts.kams_router)  # the workload: KAMs and their capacity

from keyplan.api import relationships  # noqa: E402

api.add_router("/", relationships.router)  # /accounts/{id}/stakeholders/ … and /relationships/stale

from keyplan.api import health  # noqa: E402

# Before scoring: its /reviews/{review_id} would otherwise take /reviews/due (URLs resolve in order).
api.add_router("/", health.router)  # /accounts/{id}/health, /risk-queue, /dashboard, /reviews/due, /health/settings …

from keyplan.api import scoring  # noqa: E402

# /analysis/scores is registered before the portfolio analyses' /analysis/{name}: URLs resolve in order, so it wins.
api.add_router("/analysis/", scoring.analysis_router)
api.add_router("/", scoring.router)  # /criteria/, /scores/, /rounds/, /proposals/, /reviews/

from keyplan.api import analysis  # noqa: E402

api.add_router("/analysis/", analysis.router)

from keyplan.api import imports  # noqa: E402

api.add_router("/", imports.router)  # /imports/… and /accounts/{id}/subscriptions/
from keyplan.api import sync  # noqa: E402

api.add_router("/sync/", sync.router)  # /sync/accounts, /sync/stakeholders, /sync/interactions

from keyplan.api import planning  # noqa: E402

api.add_router("/", planning.router)  # /accounts/{id}/plans/… and /plans/

from keyplan.api import exports  # noqa: E402

api.add_router("/exports/", exports.router)  # /exports/workbook
