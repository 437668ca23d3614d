"""The API contract, proven on every operation of the OpenAPI document (a new endpoint is covered by being in it).

Every write endpoint gets bad bodies: unknown fields, wrong types, control characters, numbers past 64 bits,
dates in the year 9999, null where it has no meaning, bodies that are not JSON. Every list gets absurd
offsets and limits, every path a number no database holds. The answer is always JSON, never a 5xx, and a
422 names the field in ``loc`` as ``[source, field]`` with the name the client sent.

A new path parameter needs an object in ``world`` below: the test says so when one is missing.
"""

import json
import logging

import pytest
from django.test import Client

from keyplan.accounts import services as accounts
from keyplan.api.api import api
from keyplan.core.models import Role

DOCUMENT = api.get_openapi_schema()
SCHEMAS = DOCUMENT["components"]["schemas"]


def _operations(*methods: str):
    for path, operations in DOCUMENT["paths"].items():
        for method, operation in operations.items():
            if method.upper() in methods:
                yield pytest.param(path, method.upper(), operation, id=f"{method.upper()} {path}")


def _json_body_schema(operation) -> dict | None:
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" not in content:
        return None
    schema = content["application/json"]["schema"]
    return SCHEMAS[schema["$ref"].rsplit("/", 1)[-1]] if "$ref" in schema else schema


WRITES = [p for p in _operations("POST", "PATCH", "PUT") if _json_body_schema(p.values[2]) is not None]
LISTS = [p for p in _operations("GET") if any(q["name"] == "offset" for q in p.values[2].get("parameters", []))]



def _types(schema: dict) -> set[str]:
    if "$ref" in schema:
        schema = SCHEMAS[schema["$ref"].rsplit("/", 1)[-1]]
    found = {schema["type"]} if "type" in schema else set()
    for option in schema.get("anyOf", []):
        found |= _types(option)
    if "enum" in schema:
        found.add("string")
    return found - {"null"}


def _format(schema: dict) -> str | None:
    if "format" in schema:
        return schema["format"]
    for option in schema.get("anyOf", []):
        if "format" in option:
            return option["format"]
    return None


WITH_INTEGER_PATH = [
    p for p in _operations("GET", "POST", "PATCH", "PUT", "DELETE")
    if any(q["in"] == "path" and "integer" in _types(q["schema"]) for q in p.values[2].get("parameters", []))
]


def _url(path: str, world: dict) -> str:
    names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
    missing = [name for name in names if name not in world]
    assert not missing, f"Add an object for the path parameter(s) {missing} to the `world` fixture of {__name__}."
    for name in names:
        path = path.replace("{" + name + "}", str(world[name]))
    return path


@pytest.fixture
def client(admin):
    from keyplan.core.services import create_token

    return Client(headers={"Authorization": f"Bearer {create_token(admin)}"}, raise_request_exception=False)


def _send(client, method: str, url: str, payload, content_type: str = "application/json"):
    data = payload if isinstance(payload, (bytes, str)) else json.dumps(payload)
    return client.generic(method, url, data, content_type=content_type)


def _detail(response) -> object:
    assert response["Content-Type"].startswith("application/json"), (response.status_code, response.content[:300])
    return json.loads(response.content)["detail"]


def _names(response, field: str) -> bool:
    detail = _detail(response)
    return isinstance(detail, list) and any(error["loc"] == ["body", field] for error in detail)


def _bad_values(schema: dict) -> list[tuple[str, object]]:
    """(what, value) pairs that the field's declared type refuses."""
    types = _types(schema)
    if not types:
        return []  # any JSON value (a score's value): the service checks it
    bad: list[tuple[str, object]] = [("an object", {"a": 1})]
    if "string" in types:
        fmt = _format(schema)
        if fmt == "time":
            bad += [("not a time", "noon")]
        elif fmt in {"date", "date-time"}:
            bad += [("the year 9999", "9999-12-31"), ("the year 1000", "1000-01-01"), ("not a date", "soon")]
        else:
            bad += [("U+0000", "a\x00b"), ("U+001B", "a\x1b[31mb"), ("a lone surrogate", "a\ud800b")]
        if "integer" not in types and "number" not in types:
            bad.append(("a number for text", 12))
    if "boolean" in types:
        bad += [('"yes"', "yes"), ("1", 1)]
    if "integer" in types:
        bad += [("past 64 bits", 10**20), ("text", "twelve"), ("true", True)]
    if "array" in types:
        bad += [("text for a list", "1,2"), ("null in the list", [None])]
    return bad


@pytest.mark.parametrize("path, method, operation", WRITES)
class TestEveryWrite:
    def test_unknown_fields_are_named(self, client, world, path, method, operation):
        response = _send(client, method, _url(path, world), {"no_such_field": 1, "tier_secret": "key"})
        assert response.status_code == 422, response.content
        assert _names(response, "no_such_field") and _names(response, "tier_secret"), _detail(response)

    def test_bad_values_are_422_naming_the_field(self, client, world, path, method, operation):
        schema = _json_body_schema(operation)
        failures = []
        for field, field_schema in schema.get("properties", {}).items():
            for what, value in _bad_values(field_schema):
                response = _send(client, method, _url(path, world), {field: value})
                if response.status_code != 422 or not _names(response, field):
                    failures.append(f"{field} = {what}: {response.status_code} {response.content[:200]!r}")
        assert not failures, "\n".join(failures)

    def test_null_is_empty_text_or_422_naming_the_field(self, client, world, path, method, operation):
        schema = _json_body_schema(operation)
        failures = []
        for field, field_schema in schema.get("properties", {}).items():
            response = _send(client, method, _url(path, world), {field: None})
            if response.status_code >= 500 or not response["Content-Type"].startswith("application/json"):
                failures.append(f"{field} = null: {response.status_code} {response.content[:200]!r}")
            elif response.status_code == 422 and method == "PATCH" and not _names(response, field):
                failures.append(f"{field} = null: 422 about something else: {_detail(response)}")
            elif response.status_code == 200 and method == "PATCH" and _types(field_schema) <= {"string"} and _format(field_schema) is None:
                stored = json.loads(response.content).get(field, "")
                if stored not in ("", None):
                    failures.append(f"{field} = null answered 200 but kept {stored!r}")
            if response.status_code in {200, 201} and _types(field_schema) & {"array", "boolean"}:
                failures.append(f"{field} = null was accepted ({response.status_code}); null has no meaning there")
        assert not failures, "\n".join(failures)

    def test_a_body_that_is_not_json_is_415(self, client, world, path, method, operation):
        url = _url(path, world)
        for content_type, data in [("text/plain", '{"name": "x"}'), ("application/x-www-form-urlencoded", "name=x")]:
            response = _send(client, method, url, data, content_type)
            assert response.status_code == 415, (content_type, response.status_code, response.content)
            assert "application/json" in _detail(response)

    def test_a_body_that_is_not_an_object_is_422(self, client, world, path, method, operation):
        for data in ("[1, 2]", '"text"', "{"):
            response = _send(client, method, _url(path, world), data)
            assert response.status_code in {400, 422}, (data, response.status_code, response.content)
            _detail(response)


@pytest.mark.parametrize("path, method, operation", LISTS)
def test_every_list_bounds_offset_and_limit(client, world, path, method, operation):
    url = _url(path, world)
    # Required query parameters (the account and criterion of a score's history) come from the world.
    required = {q["name"]: world[q["name"]] for q in operation.get("parameters", []) if q["in"] == "query" and q.get("required")}
    for parameter, value in [("offset", "99999999999999999999"), ("offset", "-1"), ("offset", str(10**12)),
                             ("limit", "99999999999999999999"), ("limit", "0"), ("limit", "100000")]:
        response = client.get(url, {**required, parameter: value})
        assert response.status_code == 422, (parameter, value, response.status_code, response.content[:300])
        assert any(error["loc"] == ["query", parameter] for error in _detail(response)), _detail(response)
    page = client.get(url, {**required, "offset": 1_000_000, "limit": 1000})
    assert page.status_code == 200 and json.loads(page.content)["items"] == []


@pytest.mark.parametrize("path, method, operation", WITH_INTEGER_PATH)
def test_numbers_no_database_holds_are_not_a_server_error(client, world, path, method, operation):
    names = [q["name"] for q in operation["parameters"] if q["in"] == "path" and "integer" in _types(q["schema"])]
    for huge in ("99999999999999999999", "-99999999999999999999"):
        url = _url(path, {**world, **{name: huge for name in names}})
        response = _send(client, method, url, {}) if method != "GET" else client.get(url)
        assert response.status_code == 422, (url, response.status_code, response.content[:300])
        assert any(error["loc"] == ["path", names[0]] for error in _detail(response))
    url = _url(path, {**world, **{name: 2**62 for name in names}})
    response = _send(client, method, url, {}) if method != "GET" else client.get(url)
    assert response.status_code in {404, 422}, (url, response.status_code, response.content[:300])


def test_integer_query_parameters_past_64_bits_are_422(client, world):
    response = client.get("/api/v1/accounts/", {"kam": "99999999999999999999"})
    assert response.status_code == 422 and _detail(response)[0]["loc"] == ["query", "kam"]


class TestErrorsAreJson:
    def test_an_unknown_path_is_a_json_404(self, client):
        for path in ("/api/v1/no-such-thing", "/api/v2/accounts/", "/api/"):
            response = client.get(path)
            assert response.status_code == 404 and "Not found" in _detail(response)

    def test_an_unknown_path_without_a_token_is_a_json_404_too(self, db):
        response = Client().get("/api/v1/nothing/here")
        assert response.status_code == 404 and _detail(response)

    def test_a_method_the_path_does_not_take_is_a_json_405(self, client, world):
        response = client.put(f"/api/v1/accounts/{world['account_id']}", "{}", content_type="application/json")
        assert response.status_code == 405
        assert "PATCH" in response["Allow"] and "PATCH" in _detail(response)

    def test_a_body_over_the_limit_is_a_json_413_and_nothing_is_read(self, client, world, settings):
        settings.KEYPLAN_API_MAX_BODY_KB = 1
        big = json.dumps({"notes": "x" * 2000})
        response = client.patch(f"/api/v1/accounts/{world['account_id']}/stakeholders/{world['stakeholder_id']}", big,
                                content_type="application/json")
        assert response.status_code == 413 and "limit" in _detail(response)

    def test_an_unexpected_error_is_a_json_500_without_a_traceback(self, client, world, monkeypatch, caplog):
        def broken(*args, **kwargs):
            raise RuntimeError("secret internals")

        monkeypatch.setattr(accounts, "update_account", broken)
        with caplog.at_level(logging.ERROR, logger="keyplan.api"):
            response = client.patch(f"/api/v1/accounts/{world['account_id']}", {"city": "Delft"}, content_type="application/json")
        assert response.status_code == 500
        assert "secret internals" not in response.content.decode() and "Traceback" not in response.content.decode()
        assert "Internal error" in _detail(response)
        assert "secret internals" in caplog.text  # the server's log has it

    def test_a_500_stays_json_with_debug_on(self, client, world, monkeypatch, settings):
        settings.DEBUG = True
        monkeypatch.setattr(accounts, "update_account", lambda *a, **k: 1 / 0)
        response = client.patch(f"/api/v1/accounts/{world['account_id']}", {"city": "Delft"}, content_type="application/json")
        assert response.status_code == 500 and "ZeroDivisionError" not in response.content.decode()


class TestFindings:
    """The cases found by probing, each as it was reported."""

    def test_null_on_a_stakeholders_text_is_stored_as_empty_text(self, client, world):
        url = f"/api/v1/accounts/{world['account_id']}/stakeholders/{world['stakeholder_id']}"
        for field in ("title", "department", "email", "phone", "notes"):
            response = client.patch(url, {field: None}, content_type="application/json")
            assert response.status_code == 200 and json.loads(response.content)[field] == "", (field, response.content)

    def test_null_on_the_name_is_422_naming_name(self, client, world):
        url = f"/api/v1/accounts/{world['account_id']}/stakeholders/{world['stakeholder_id']}"
        response = client.patch(url, {"name": None}, content_type="application/json")
        assert response.status_code == 422 and _names(response, "name")

    def test_null_on_an_accounts_city_names_city(self, client, world):
        response = client.patch(f"/api/v1/accounts/{world['account_id']}", {"city": None}, content_type="application/json")
        assert response.status_code == 200 and json.loads(response.content)["city"] == ""

    def test_tier_cannot_be_patched_and_is_named(self, client, world):
        response = client.patch(f"/api/v1/accounts/{world['account_id']}", {"tier": "key"}, content_type="application/json")
        assert response.status_code == 422 and _names(response, "tier")
        assert json.loads(client.get(f"/api/v1/accounts/{world['account_id']}").content)["tier"] == "standard"

    def test_a_lines_source_cannot_be_patched(self, client, world):
        url = f"/api/v1/accounts/{world['account_id']}/influence-lines/{world['line_id']}"
        response = client.patch(url, {"source_id": world["stakeholder_id"]}, content_type="application/json")
        assert response.status_code == 422 and _names(response, "source_id")

    def test_yes_is_not_a_boolean(self, client, world):
        url = f"/api/v1/accounts/{world['account_id']}/stakeholders/{world['stakeholder_id']}"
        response = client.patch(url, {"is_key_contact": "yes"}, content_type="application/json")
        assert response.status_code == 422 and _names(response, "is_key_contact")

    def test_null_participants_keep_every_participant(self, client, world):
        url = f"/api/v1/accounts/{world['account_id']}/interactions/{world['interaction_id']}"
        response = client.patch(url, {"stakeholder_ids": None}, content_type="application/json")
        assert response.status_code == 422 and _names(response, "stakeholder_ids")
        assert len(json.loads(client.get(url).content)["stakeholders"]) == 1

    def test_a_meeting_in_9999_is_refused_and_the_calendar_still_exports(self, client, world):
        url = f"/api/v1/accounts/{world['account_id']}/interactions/{world['interaction_id']}"
        response = client.patch(url, {"date": "9999-12-31"}, content_type="application/json")
        assert response.status_code == 422 and _names(response, "date")
        assert client.get(f"/api/v1/accounts/{world['account_id']}/meetings.ics").status_code == 200

    def test_a_control_character_in_a_note_is_refused_and_the_map_stays_valid(self, client, world):
        url = f"/api/v1/accounts/{world['account_id']}/stakeholders/{world['stakeholder_id']}"
        response = client.patch(url, {"title": "CFO\x00"}, content_type="application/json")
        assert response.status_code == 422 and _names(response, "title")
        assert "U+0000" in _detail(response)[0]["msg"]
        assert client.patch(url, {"notes": "line one\n\tline two\r\n"}, content_type="application/json").status_code == 200
        from xml.etree import ElementTree

        ElementTree.fromstring(client.get(f"/api/v1/accounts/{world['account_id']}/map.svg").content)

    def test_loc_has_one_form_for_schema_and_rule_errors(self, client, world):
        url = f"/api/v1/accounts/{world['account_id']}/stakeholders/{world['stakeholder_id']}"
        schema_error = client.patch(url, {"decision_power": 5}, content_type="application/json")
        rule_error = client.patch(url, {"decision_power": "enormous"}, content_type="application/json")
        assert _detail(schema_error)[0]["loc"] == ["body", "decision_power"]
        assert _detail(rule_error)[0]["loc"] == ["body", "decision_power"]

    def test_a_reporting_line_error_names_reports_to_id(self, client, world):
        url = f"/api/v1/accounts/{world['account_id']}/stakeholders/{world['stakeholder_id']}"
        response = client.patch(url, {"reports_to_id": world["stakeholder_id"]}, content_type="application/json")
        assert response.status_code == 422 and _names(response, "reports_to_id")


def test_the_read_only_viewer_gets_json_403_on_writes(make_user, world):
    from keyplan.core.services import create_token

    viewer = make_user("vera", Role.VIEWER)
    client = Client(headers={"Authorization": f"Bearer {create_token(viewer)}"})
    response = client.patch(f"/api/v1/accounts/{world['account_id']}", {"city": "Delft"}, content_type="application/json")
    assert response.status_code in {403, 404} and _detail(response)


def _response_schema(operation) -> dict:
    content = operation.get("responses", {}).get("200", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema", {})
    return SCHEMAS[schema["$ref"].rsplit("/", 1)[-1]] if "$ref" in schema else schema


def test_every_list_is_one_envelope_with_limit_and_offset():
    """No GET answers a bare JSON array: every list is {"items", "count"} and takes limit and offset."""
    bare, unpaged = [], []
    for path, operations in DOCUMENT["paths"].items():
        operation = operations.get("get")
        if operation is None:
            continue
        schema = _response_schema(operation)
        if schema.get("type") == "array":
            bare.append(path)
        if set(schema.get("properties", {})) >= {"items", "count"}:
            names = {q["name"] for q in operation.get("parameters", [])}
            if not {"limit", "offset"} <= names:
                unpaged.append(path)
    assert not bare, f"Lists answered as bare arrays: {bare}"
    assert not unpaged, f"Lists without limit/offset: {unpaged}"


def test_every_schema_name_is_unique():
    """The OpenAPI document keys schemas by class name: two ``ReviewIn`` classes made one operation's body
    be described by another's (the key status review's POST showed the account review's fields)."""
    from ninja import Schema

    seen: dict[str, list[str]] = {}
    stack = list(Schema.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls.__module__.startswith("keyplan."):
            seen.setdefault(cls.__name__, []).append(cls.__module__)
    clashes = {name: modules for name, modules in seen.items() if len(set(modules)) > 1}
    assert not clashes, f"Schema classes sharing a name (rename one): {clashes}"


def test_a_fixed_path_is_not_taken_by_a_parameter(client, world):
    """/reviews/due is its own endpoint, not the key status review with the id "due"."""
    response = client.get("/api/v1/reviews/due")
    assert response.status_code == 200 and "items" in json.loads(response.content)
