"""Schemathesis generates requests from the OpenAPI document and checks every answer against it.

Each operation gets generated path, query and body values, once with the admin's token on objects that
exist (the `world` fixture's ids in the path, so bodies reach the services) and once without a token. No
answer may be a 5xx; every status must be one the document declares; every JSON answer must match its
declared schema. A new endpoint is covered by being in the document.
"""

import pytest
import schemathesis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from keyplan.api.api import api

# Generated cases only (the fuzzing phase, bounded by max_examples below): the coverage phase's hundreds of
# boundary cases per operation repeat what test_contract.py sends on purpose, at minutes per run.
CONFIG = SchemathesisConfig.from_dict({"phases": {"coverage": {"enabled": False}, "examples": {"enabled": False}}})
schema = schemathesis.openapi.from_dict(api.get_openapi_schema(), config=CONFIG)
schema.app = WSGIHandler()

CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
# Enough to reach each field's edges on every run (with the explicit cases of test_contract.py).
EXAMPLES = 6


@pytest.fixture(autouse=True)
def connection_kept_between_requests():
    """The requests go through Django's WSGI handler, whose request signals close the database connection
    (and with it the test's transaction on PostgreSQL). Django's test client detaches them the same way."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def token(admin):
    from keyplan.core.services import create_token

    return create_token(admin)


@pytest.mark.django_db(transaction=False)
@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_answers_match_the_document_with_a_token(case, token, world):
    for name in case.path_parameters or {}:
        if name in world:
            case.path_parameters[name] = world[name]
    case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)


@pytest.mark.django_db(transaction=False)
@schema.parametrize()
@settings(max_examples=2, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
def test_answers_match_the_document_without_a_token(case):
    response = case.call_and_validate(checks=CHECKS)
    assert response.status_code in {401, 404, 405, 413, 415, 422}, (response.status_code, response.text[:200])
