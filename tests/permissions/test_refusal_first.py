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


# ---------------------------------------------------------------- permission before the body is read

WRITES = [(method, path, operation) for method, path, operation in OPERATIONS if method != "GET"]
# Writes whose body names the account: whether a team member may make them is known only once the body is read
# (keyplan/api/gates.py); a viewer is still refused first.
ACCOUNT_IN_THE_BODY = {"POST /api/v1/scores/"}


def _malformed_bodies(operation) -> list[tuple[str, bytes | str, str]]:
    """(what, body, content type) that no schema accepts: not JSON, the wrong JSON, not JSON at all, nothing."""
    content = operation.get("requestBody", {}).get("content", {})
    if "multipart/form-data" in content:
        return [
            ("a broken multipart body", b"--x\r\nnot a part", "multipart/form-data; boundary=x"),
            ("an empty form", b"--x--\r\n", "multipart/form-data; boundary=x"),
            ("JSON instead of a form", b'{"kind": "ledger"}', "application/json"),
        ]
    schema = _schema(content["application/json"]["schema"]) if "application/json" in content else {}
    wrong_types = {name: {"not": ["what", "it", "takes"]} for name in schema.get("properties", {})}
    return [
        ("a body that is not JSON", b'{"name": ', "application/json"),
        ("a JSON list", b"[1, 2]", "application/json"),
        ("every field of the wrong type and an unknown one", json.dumps({**wrong_types, "no_such_field": 1}), "application/json"),
        ("text/plain", b"name=x", "text/plain"),
        ("no body", b"", "application/json"),
    ]


def _malformed_query(operation) -> str:
    """Every declared query parameter with a value of the wrong kind (a number or flag that is neither)."""
    names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
    return "&".join(f"{name}=%00not-a-value" for name in names)


def _url_with(url: str, query: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{query}" if query else url


def test_a_refused_writer_is_refused_before_the_body_is_read(world):  # noqa: F811
    """Every write operation, as every role the matrix refuses, with malformed bodies (and query values): the
    refusal (403, or 404 outside one's reach), never what is wrong with the request (400, 415, 422)."""
    clients = _api_clients(world)
    found = []
    checked = 0
    for method, path, operation in WRITES:
        key = f"{method} {path}"
        expected = dict(zip(ROLES, rules.API[key].split()))
        url = _api_url(path, operation, world)
        query = _malformed_query(operation)
        for role in ("viewer", "other", "member"):
            if expected[role] not in ("403", "404") or (key in ACCOUNT_IN_THE_BODY and role != "viewer"):
                continue
            for what, body, content_type in _malformed_bodies(operation):
                response = clients[role].generic(method, _url_with(url, query), body, content_type=content_type)
                checked += 1
                if str(response.status_code) != expected[role]:
                    found.append(f"{key} as {role} with {what}: {response.status_code} instead of {expected[role]}: "
                                 f"{response.content[:160]!r}")
    assert checked > 300, checked  # every write route is in the walk
    assert not found, "\n".join(found)


def test_the_body_is_still_checked_for_those_who_may_write(world):  # noqa: F811
    """The control: a KAM lead's malformed body is still a 400, 415 or 422 on every write that takes a body (nothing
    is written and nothing answers 2xx)."""
    clients = _api_clients(world)
    found = []
    for method, path, operation in WRITES:
        key = f"{method} {path}"
        if not operation.get("requestBody") or dict(zip(ROLES, rules.API[key].split()))["lead"] != "-":
            continue
        url = _api_url(path, operation, world)
        for what, body, content_type in _malformed_bodies(operation):
            if what == "no body" and not operation["requestBody"].get("required"):
                continue  # an optional body may be left out
            response = clients["lead"].generic(method, url, body, content_type=content_type)
            if response.status_code not in (400, 415, 422):
                found.append(f"{key} with {what}: {response.status_code} {response.content[:160]!r}")
    assert not found, "\n".join(found)
