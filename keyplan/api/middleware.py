"""Everything under /api/ answers in JSON, whatever goes wrong and wherever it goes wrong.

django-ninja answers the errors it meets inside an operation (validation, 401, 403, 404 of an object).
The rest happens around it: a path no operation has (404), a method it does not take (405), a body over
the limit (413, refused before it is read), a number in the path or query that no database column holds
(422 naming the parameter), and an unexpected exception (500, logged, no traceback to the client).
"""

import json
import logging
import re
from functools import cache

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import JsonResponse

from keyplan.core.schemas import MAX_INTEGER

logger = logging.getLogger("keyplan.api")

_REASONS = {
    400: "Bad request.",
    401: "Authentication required: send Authorization: Bearer <token>.",
    403: "You may not do this.",
    404: "Not found: no API endpoint has this path (see /api/v1/docs).",
    405: "Method not allowed.",
    413: "The request body is too large.",
    415: "Unsupported media type: send JSON with Content-Type: application/json.",
    500: "Internal error: the request was not carried out. The error is logged on the server.",
}


def _is_api(request) -> bool:
    return request.path_info.startswith("/api/")


def max_body_bytes(content_type: str, path: str = "") -> int:
    """JSON bodies are small; file uploads may be as large as an import file (KEYPLAN_UPLOAD_MAX_MB), and a sync
    batch of 10,000 records as large as KEYPLAN_SYNC_MAX_BODY_MB."""
    if path.startswith("/api/v1/sync/"):
        return settings.KEYPLAN_SYNC_MAX_BODY_MB * 1024 * 1024
    if content_type.startswith("multipart/"):
        return (settings.KEYPLAN_UPLOAD_MAX_MB + 1) * 1024 * 1024  # the form's other fields and boundaries
    return settings.KEYPLAN_API_MAX_BODY_KB * 1024


@cache
def _integer_parameters() -> dict[tuple[str, str], list[tuple[str, str]]]:
    """(OpenAPI path, method) → the integer parameters of that operation, as (location, name)."""
    from keyplan.api.api import api  # the API imports this module's neighbours, not the other way round

    found: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for path, operations in api.get_openapi_schema()["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                types = {schema.get("type")} | {option.get("type") for option in schema.get("anyOf", [])}
                if "integer" in types:
                    found.setdefault((path, method.upper()), []).append((parameter["in"], parameter["name"]))
    return found


def _openapi_path(route: str) -> str:
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)


class ApiContractMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not _is_api(request):
            return self.get_response(request)
        content_type = request.META.get("CONTENT_TYPE", "").lower()
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > max_body_bytes(content_type, request.path_info):
            limit = max_body_bytes(content_type, request.path_info)
            return _error(413, f"The request body is {length:,} bytes; the limit is {limit:,} bytes.")
        if request.path_info.startswith("/api/v1/sync/") and request.method == "POST":
            # Within its own limit (above), read here: Django's DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB) holds for forms.
            request._body = request.read()
        response = self.get_response(request)
        return _as_json(response)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if not _is_api(request) or request.resolver_match is None:
            return None
        parameters = _integer_parameters().get((_openapi_path(request.resolver_match.route), request.method), [])
        errors = []
        for location, name in parameters:
            value = view_kwargs.get(name) if location == "path" else request.GET.get(name)
            if value is None:
                continue
            try:
                number = int(value)
            except ValueError:
                continue  # not a number at all: the operation's own validation names it
            if not -MAX_INTEGER <= number <= MAX_INTEGER:
                errors.append({"loc": [location, name], "msg": f"The number is out of range (at most {MAX_INTEGER}).", "type": "value_error"})
        if errors:
            return JsonResponse({"detail": errors}, status=422)
        return None

    def process_exception(self, request, exception):
        if not _is_api(request):
            return None
        if isinstance(exception, RequestDataTooBig):
            return _error(413, str(exception) or _REASONS[413])
        if isinstance(exception, SuspiciousOperation):
            return _error(400, _REASONS[400])
        logger.exception("Unexpected error on %s %s", request.method, request.path, exc_info=exception)
        return _error(500, _REASONS[500])


def _error(status: int, detail) -> JsonResponse:
    return JsonResponse({"detail": detail}, status=status)


def _as_json(response):
    """An error answered in HTML or plain text (Django's 404 and 500 pages, an empty 405) becomes JSON."""
    if response.status_code < 400 or response.get("Content-Type", "").startswith("application/json"):
        return response
    detail = _REASONS.get(response.status_code)
    if detail is None:
        detail = "Request failed." if response.status_code < 500 else _REASONS[500]
    converted = JsonResponse({"detail": detail}, status=response.status_code)
    for header in ("Allow", "WWW-Authenticate", "Retry-After"):
        if header in response:
            converted[header] = response[header]
    if response.status_code == 405 and "Allow" in response:
        converted.content = json.dumps({"detail": f"Method not allowed; this path takes {response['Allow']}."}).encode()
    return converted
