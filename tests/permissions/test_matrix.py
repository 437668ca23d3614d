"""The permission matrix: every page of the URL configuration and every operation of the OpenAPI document,
as every role, gets the answer tests/permissions/rules.py expects. A new route without a rule fails here.

Reads (GET) are checked for every role. Writes are checked for the roles that must be refused (a rule's
``-`` marks a role that may write; what its write does is tested where the feature is): an empty form for
pages, for the API a body made of the operation's required fields, so that the permission check (a 403, or
404 outside one's reach) answers rather than the body's validation.

Record what the code answers today (to write a new rule, then check it by reading): ::

    KEYPLAN_MATRIX_RECORD=/tmp/matrix.txt .venv/bin/pytest tests/permissions -q
"""

import json
import os

import pytest
from django.test import Client

from keyplan.api.api import api
from tests.routes import routes
from tests.permissions import rules
from tests.permissions.world import ROLES, build_world

DOCUMENT = api.get_openapi_schema()
SCHEMAS = DOCUMENT["components"]["schemas"]
RECORD = os.environ.get("KEYPLAN_MATRIX_RECORD")
SKIPPED_PREFIXES = ("admin/", "api/", "static/")


def page_routes() -> list[tuple[str, str]]:
    """(route, url name) of every page, without the admin (Django's own), the API (its document) and assets."""
    return [(route, name) for route, name, _pattern in routes() if not route.startswith(SKIPPED_PREFIXES) and name]


def api_operations() -> list[tuple[str, str, dict]]:
    return [(method.upper(), path, operation)
            for path, operations in DOCUMENT["paths"].items() for method, operation in operations.items()]


PAGES = page_routes()
OPERATIONS = api_operations()


# ---------------------------------------------------------------- the table covers every route


def test_every_page_has_a_rule():
    missing = sorted({name for _route, name in PAGES} - set(rules.PAGES))
    assert not missing, f"Pages without a rule in tests/permissions/rules.py PAGES: {missing}"
    stale = sorted(set(rules.PAGES) - {name for _route, name in PAGES})
    assert not stale, f"Rules for pages that no longer exist: {stale}"


def test_every_api_operation_has_a_rule():
    keys = {f"{method} {path}" for method, path, _op in OPERATIONS}
    missing = sorted(keys - set(rules.API))
    assert not missing, f"API operations without a rule in tests/permissions/rules.py API: {missing}"
    stale = sorted(set(rules.API) - keys)
    assert not stale, f"Rules for API operations that no longer exist: {stale}"


# ---------------------------------------------------------------- answers


@pytest.fixture
def world(db):
    return build_world()


def _clients(world) -> dict[str, Client]:
    clients = {"anonymous": Client(raise_request_exception=False)}
    for role, user in world["users"].items():
        client = Client(raise_request_exception=False)
        client.force_login(user)
        clients[role] = client
    return clients


def _api_clients(world) -> dict[str, Client]:
    clients = {"anonymous": Client(raise_request_exception=False)}
    for role, token in world["tokens"].items():
        clients[role] = Client(headers={"Authorization": f"Bearer {token}"}, raise_request_exception=False)
    return clients


def _answer(response, *, api: bool) -> str:
    """What a role got, in the table's words: L (login redirect, or 401 in the API) or the status code."""
    if api and response.status_code == 401:
        return "L"
    if not api and response.status_code == 302 and "/login/" in response.get("Location", ""):
        return "L"
    return str(response.status_code)


def _check(key: str, expected: str, answers: dict[str, str], failures: list[str]) -> None:
    wanted = dict(zip(ROLES, expected.split(), strict=True))
    for role, got in answers.items():
        if wanted[role] != "-" and wanted[role] != got:
            failures.append(f"{key} as {role}: expected {wanted[role]}, got {got}")


def _record(key: str, answers: dict[str, str]) -> None:
    with open(RECORD, "a") as out:
        out.write(f"{key!r}: \"{' '.join(answers.get(role, '-') for role in ROLES)}\",\n")


def _page_url(route: str, name: str, world) -> str:
    from django.urls import reverse

    import re

    names = re.findall(r"<(?:\w+:)?(\w+)>", route)
    rule = rules.PAGES.get(name) or rules.Page(None, None)
    keys = {**rules.DEFAULT_ARGS, **rule.args}
    missing = [kwarg for kwarg in names if kwarg not in keys]
    assert not missing, f"Say which object {name}'s {missing} names: Page(args=...) in tests/permissions/rules.py"
    return reverse(name, kwargs={kwarg: world["ids"][keys[kwarg]] for kwarg in names})


@pytest.mark.parametrize("route, name", PAGES, ids=[name for _route, name in PAGES])
def test_page(world, route, name):
    if name not in rules.PAGES and not RECORD:
        pytest.fail(f"No rule for the page {name} ({route}) in tests/permissions/rules.py")
    rule = rules.PAGES.get(name) or rules.Page(None, None)
    url = _page_url(route, name, world)
    clients = _clients(world)
    failures: list[str] = []
    for method, expected in (("GET", rule.get), ("POST", rule.post)):
        answers = {}
        for role in ROLES:
            if expected is not None and not RECORD and dict(zip(ROLES, expected.split()))[role] == "-":
                continue
            if method == "POST" and RECORD and role not in ("anonymous", "viewer", "other", "member"):
                continue
            client = clients[role]
            response = client.get(url) if method == "GET" else client.post(url, {})
            answers[role] = _answer(response, api=False)
        if RECORD:
            _record(f"{method} {name}", answers)
        elif expected is not None:
            _check(f"{method} {url}", expected, answers, failures)
    assert not failures, "\n".join(failures)


def _schema(ref_or_schema: dict) -> dict:
    if "$ref" in ref_or_schema:
        return SCHEMAS[ref_or_schema["$ref"].rsplit("/", 1)[-1]]
    return ref_or_schema


def _sample(name: str, schema: dict, world) -> object:
    """A value of the declared type: enough for the body's schema, so the permission check answers."""
    schema = _schema(schema)
    if "enum" in schema:
        return schema["enum"][0]
    options = [o for o in schema.get("anyOf", []) if o.get("type") != "null"]
    if options:
        return _sample(name, options[0], world)
    kind, fmt = schema.get("type"), schema.get("format")
    if name in world["ids"] and kind == "integer":
        return world["ids"][name]
    if kind == "string":
        return {"date": "2026-01-01", "date-time": "2026-01-01T00:00:00Z", "time": "09:00"}.get(fmt, "x")
    return {"integer": 1, "number": 1, "boolean": False, "array": [], "object": {}}.get(kind, "x")


def _body(key: str, operation, world) -> str | None:
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" not in content:
        return None
    schema = _schema(content["application/json"]["schema"])
    required = schema.get("required", [])
    body = {name: _sample(name, schema["properties"][name], world) for name in required}
    return json.dumps({**body, **rules.BODIES.get(key, {})})


def _api_url(path: str, operation, world) -> str:
    for name, value in world["ids"].items():
        path = path.replace("{" + name + "}", str(value))
    assert "{" not in path, f"Add an object for {path} to tests/permissions/world.py"
    query = [f"{p['name']}={world['ids'][p['name']]}" for p in operation.get("parameters", [])
             if p["in"] == "query" and p.get("required") and p["name"] in world["ids"]]
    return path + ("?" + "&".join(query) if query else "")


@pytest.mark.parametrize("method, path, operation", OPERATIONS, ids=[f"{m} {p}" for m, p, _o in OPERATIONS])
def test_api(world, method, path, operation):
    key = f"{method} {path}"
    if key not in rules.API and not RECORD:
        pytest.fail(f"No rule for {key} in tests/permissions/rules.py")
    expected = rules.API.get(key, "")
    url = _api_url(path, operation, world)
    clients = _api_clients(world)
    body = _body(key, operation, world)
    answers = {}
    for role in ROLES:
        if not RECORD and dict(zip(ROLES, expected.split()))[role] == "-":
            continue
        if method != "GET" and RECORD and role not in ("anonymous", "viewer", "other", "member"):
            continue
        client = clients[role]
        if body is not None:
            response = client.generic(method, url, body, content_type="application/json")
        elif operation.get("requestBody"):
            response = client.generic(method, url)  # a form upload: the permission check comes first
        else:
            response = client.generic(method, url)
        answers[role] = _answer(response, api=True)
    if RECORD:
        _record(key, answers)
        return
    failures: list[str] = []
    _check(key, expected, answers, failures)
    assert not failures, "\n".join(failures)
