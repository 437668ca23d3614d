"""The API's error shape, in one place: ``{"detail": [{"loc": [source, field], "msg": …, "type": …}]}``.

``source`` is ``body``, ``query`` or ``path``; ``field`` is the name the client sent (``reports_to_id``,
not the model's ``reports_to``). Other errors are ``{"detail": "message"}`` (see docs/api.md).
"""

import json

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from ninja.parser import Parser


def field_names_for(request) -> set[str]:
    """The top-level field names of the request's JSON body (empty when there is none)."""
    if request.method not in {"POST", "PUT", "PATCH"} or not (request.content_type or "").endswith("json"):
        return set()
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        return set()
    return set(data) if isinstance(data, dict) else set()


def _input_name(field: str, field_names: set[str]) -> str:
    # A model's foreign key `reports_to` is sent as `reports_to_id`.
    if field not in field_names and f"{field}_id" in field_names:
        return f"{field}_id"
    return field


def validation_detail(error: ValidationError, location: str = "body", *, field_names: set[str] = frozenset()) -> list[dict]:
    """Django validation errors in the shape django-ninja uses for schema errors, each naming its field."""
    if hasattr(error, "error_dict"):
        return [
            {
                "loc": [location] if field == NON_FIELD_ERRORS else [location, _input_name(field, field_names)],
                "msg": message,
                "type": "value_error",
            }
            for field, messages in error.message_dict.items()
            for message in messages
        ]
    return [{"loc": [location], "msg": message, "type": "value_error"} for message in error.messages]


_MESSAGES = {
    "extra_forbidden": "Unknown field, or one this endpoint cannot change.",
    "missing": "This field is required.",
}


def contract_errors(error_contexts) -> list[dict]:
    """Schema (pydantic) errors of one request as ``{"loc": [source, field, …], "msg", "type"}``."""
    errors: list[dict] = []
    for context in error_contexts:
        model = context.model
        source = model.__ninja_param_source__
        single = getattr(model, "__read_from_single_attr__", None)
        for error in context.pydantic_validation_error.errors(include_url=False):
            loc = tuple(model.__ninja_flatten_map_reverse__.get(error["loc"], error["loc"]))
            if single and loc[:1] == (single,):
                loc = loc[1:]  # ["body", "payload", "name"] → ["body", "name"]
            if error["type"] == "keyplan_contract":
                for field, message in error["ctx"]["errors"]:
                    errors.append({"loc": [source, *loc, field], "msg": message, "type": "value_error"})
                continue
            if source == "body" and not loc and error["type"] in {"model_attributes_type", "dict_type"}:
                errors.append({"loc": [source, *loc], "msg": "The body must be a JSON object.", "type": "type_error"})
                continue
            errors.append(
                {
                    "loc": [source, *loc],
                    "msg": _MESSAGES.get(error["type"], error["msg"]),
                    "type": error["type"],
                }
            )
    return errors


class JsonOnlyParser(Parser):
    """Request bodies are JSON (``Content-Type: application/json``): anything else is a 415."""

    def parse_body(self, request):
        content_type = (request.content_type or "").lower()
        if content_type != "application/json" and not (content_type.startswith("application/") and content_type.endswith("+json")):
            # django-ninja turns any parser error into a 400; the API's HttpError handler reads this mark.
            request.keyplan_unsupported_media_type = (
                f"The body must be JSON, sent with Content-Type: application/json (not {content_type or 'none'})."
            )
            raise ValueError(request.keyplan_unsupported_media_type)
        return super().parse_body(request)


# Model → function giving the row as the API shows it, for the body of a 409 (each router registers its own).
CONFLICT_SHAPES: dict[type, object] = {}


def conflict_body(conflict) -> dict:
    row = conflict.current
    shape = CONFLICT_SHAPES.get(type(row))
    return {
        "detail": f"Someone saved this since you read it: version {row.version} is current. Nothing was written.",
        "version": row.version,
        "current": shape(row) if shape else {"id": row.pk, "version": row.version},
    }
