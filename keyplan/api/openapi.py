"""What the OpenAPI document declares besides each endpoint's own answers: the errors every operation can give.

The exception handlers in ``keyplan.api.api`` answer the same way on every endpoint (401 without a valid
token, 403 outside one's rights, 404 for an id one cannot see, 422 for input the contract refuses, 503 while
SQLite is busy with an import), so they are declared here once rather than on 135 decorators.
"""

ERROR_SCHEMAS = {
    "ErrorOut": {
        "title": "ErrorOut",
        "type": "object",
        "properties": {"detail": {"title": "Detail", "type": "string"}},
        "required": ["detail"],
    },
    "FieldErrorOut": {
        "title": "FieldErrorOut",
        "type": "object",
        "properties": {
            "loc": {"title": "Loc", "type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                    "description": "Where: the source (body, query, path) and the field's input name."},
            "msg": {"title": "Msg", "type": "string"},
            "type": {"title": "Type", "type": "string"},
        },
        "required": ["loc", "msg", "type"],
    },
    "ValidationErrorOut": {
        "title": "ValidationErrorOut",
        "type": "object",
        "properties": {"detail": {"title": "Detail", "anyOf": [
            {"type": "array", "items": {"$ref": "#/components/schemas/FieldErrorOut"}}, {"type": "string"}]}},
        "required": ["detail"],
    },
}

_WRITES = {"post", "put", "patch", "delete"}


def _error(description: str, schema: str = "ErrorOut") -> dict:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}


def declare_errors(document: dict) -> dict:
    """Add the shared error responses to every operation of ``document`` (in place) and return it."""
    document.setdefault("components", {}).setdefault("schemas", {}).update(ERROR_SCHEMAS)
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = _merge_media_overrides(operation["responses"])
            declared = {
                401: _error("No valid token or session."),
                403: _error("The user may not do this."),
                # Ids in the path, the query or the body: each may name nothing the user can see.
                404: _error("No such object, or one the user may not see."),
            }
            if operation.get("parameters") or operation.get("requestBody"):
                declared[422] = _error("The input was refused; each error names its field.", "ValidationErrorOut")
            if operation.get("requestBody"):
                declared[400] = _error("The body could not be read (not valid JSON, or a broken upload).")
                declared[413] = _error("The body is over the size limit.")
                declared[415] = _error("The body is not JSON (or the upload not multipart).")
            if method in _WRITES:
                declared[503] = _error("The database is busy with an import or a rollback; nothing was saved. See Retry-After.")
            if 422 in responses and 422 in declared:
                # An endpoint's own 422 (an import's report) or, for a bad parameter or file, the usual errors.
                own = responses[422]["content"]["application/json"]["schema"]
                responses[422]["content"]["application/json"]["schema"] = {
                    "anyOf": [own, declared[422]["content"]["application/json"]["schema"]]}
            for status, response in declared.items():
                responses.setdefault(status, response)
            operation["responses"] = dict(sorted(responses.items()))
    return document


def _merge_media_overrides(responses: dict) -> dict:
    """An endpoint that answers with another media type (SVG, iCalendar, a workbook) says so through
    ``openapi_extra`` under the status as text ("200"), beside the status django-ninja keys as a number:
    one entry per status, with the declared media type, so the document has no duplicate keys."""
    merged: dict = {}
    for status, response in responses.items():
        code = int(status)
        if code in merged and isinstance(status, str) and "content" in response:
            merged[code] = {**merged[code], **response}
        elif code in merged:
            merged[code] = {**response, **merged[code]}
        else:
            merged[code] = response
    return merged
