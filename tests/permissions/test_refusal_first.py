"""A user who may not write gets the refusal (403, or 404 outside their reach) before anything in the body
is looked up: a body full of ids that do not exist must not tell a viewer which ids, accounts or active
users exist. Every JSON write operation, as every role the matrix refuses, with such a body."""

import json

from tests.permissions import rules
from tests.permissions.test_matrix import OPERATIONS, _api_clients, _api_url, _schema
from tests.permissions.test_matrix import world  # noqa: F401 (the fixture)
from tests.permissions.world import ROLES

UNKNOWN = 987654


def _probing(schema: dict) -> object:
    """A value the schema accepts that names nothing: an unknown id, empty text, the first choice."""
    schema = _schema(schema)
    options = [o for o in schema.get("anyOf", []) if o.get("type") != "null"]
    if options:
        schema = _schema(options[0])
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "integer":
        return UNKNOWN
    if kind == "string":
        return {"date": "2026-01-01", "date-time": "2026-01-01T00:00:00Z", "time": "09:00"}.get(schema.get("format"), "")
    if kind == "array":
        return [UNKNOWN] if _schema(schema.get("items", {})).get("type") == "integer" else []
    return {"number": 0, "boolean": False, "object": {}}.get(kind, "")


def test_a_refused_writer_learns_nothing_from_the_body(world):  # noqa: F811
    clients = _api_clients(world)
    found = []
    for method, path, operation in OPERATIONS:
        content = operation.get("requestBody", {}).get("content", {})
        if method == "GET" or "application/json" not in content:
            continue
        key = f"{method} {path}"
        expected = dict(zip(ROLES, rules.API[key].split()))
        schema = _schema(content["application/json"]["schema"])
        body = json.dumps({name: _probing(prop) for name, prop in schema.get("properties", {}).items()})
        url = _api_url(path, operation, world)
        for role in ("viewer", "other", "member"):
            if expected[role] not in ("403", "404"):
                continue
            response = clients[role].generic(method, url, body, content_type="application/json")
            if response.status_code == 422:
                # The body's shape (types, bounds: the public OpenAPI contract) is checked before the
                # handler runs; what the handler or a service looks up must not answer first.
                looked_up = [e for e in response.json()["detail"] if e["type"] == "value_error"]
                if looked_up:
                    found.append(f"{key} as {role}: 422 before the {expected[role]}: {looked_up[0]['msg']}")
    assert not found, "\n".join(found)
