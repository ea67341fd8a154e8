"""The OpenAPI document: current, valid OpenAPI 3.1, and the template's routes exactly.

`shared/gmail_connect/api/openapi.json` is generated from `infra/openapi` and committed (it ships
in the layer and `GET /openapi.json` serves it). These tests refuse a stale file, a route of
`template.yaml` the document misses (or one it invents), and a security requirement that
disagrees with the route's authorization in the template.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate

from infra.cfn import http_routes, load_template
from infra.openapi import DOCUMENT_PATH, render
from infra.openapi.components import APPLICATION_SECURITY, PUBLIC_SECURITY, PUSH_SECURITY, SESSION_SECURITY

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT: dict[str, Any] = json.loads(DOCUMENT_PATH.read_text(encoding="utf-8"))
ROUTES = http_routes(load_template(ROOT / "template.yaml"))
OPERATIONS = {
    (method.upper(), path): operation
    for path, item in DOCUMENT["paths"].items()
    for method, operation in item.items()
}
# What API Gateway itself answers on any route before a function runs.
API_GATEWAY_STATUSES = {"414", "429", "431"}


def test_the_committed_document_is_what_the_source_generates() -> None:
    assert DOCUMENT_PATH.read_text(encoding="utf-8") == render(), (
        "shared/gmail_connect/api/openapi.json is stale: run `make openapi` and commit it"
    )


def test_the_document_is_valid_openapi_3_1() -> None:
    # Every $ref resolves and every object is where OpenAPI 3.1 allows it
    assert DOCUMENT["openapi"].startswith("3.1.")
    validate(DOCUMENT)


def test_every_route_of_the_template_is_in_the_document_and_nothing_else() -> None:
    assert set(OPERATIONS) == {(route.method, route.path) for route in ROUTES}


@pytest.mark.parametrize("route", ROUTES, ids=lambda route: route.route_key)
def test_security_matches_the_routes_authorization(route: Any) -> None:
    # SigV4 exactly where API Gateway's AWS_IAM authorizer sits, and its 403 documented there
    security = OPERATIONS[(route.method, route.path)]["security"]
    responses = OPERATIONS[(route.method, route.path)]["responses"]
    if route.authorizer == "AWS_IAM":
        assert security == APPLICATION_SECURITY
        assert responses["403"] == {"$ref": "#/components/responses/Forbidden"}
    else:
        assert security in (SESSION_SECURITY, PUBLIC_SECURITY, PUSH_SECURITY)
        assert "403" not in responses or responses["403"] != {"$ref": "#/components/responses/Forbidden"}
    # A route that checks a credential can always answer that it is missing; a public one cannot
    assert (security == PUBLIC_SECURITY) == ("401" not in responses and security != APPLICATION_SECURITY)


@pytest.mark.parametrize("key", sorted(OPERATIONS), ids=" ".join)
def test_every_operation_lists_api_gateways_answers_and_a_400(key: tuple[str, str]) -> None:
    responses = OPERATIONS[key]["responses"]
    # Every function refuses an unknown query parameter, and API Gateway has its quotas and throttling
    assert {"400", *API_GATEWAY_STATUSES} <= set(responses)
    # A 5xx is only ever Google's or a dependency's (502, 503): a 500 is a bug, never the contract
    assert {status for status in responses if status.startswith("5")} <= {"502", "503"}


def test_operation_ids_are_unique() -> None:
    ids = [operation["operationId"] for operation in OPERATIONS.values()]
    assert len(ids) == len(set(ids))


# Objects whose shape is not ours to close: this document itself, and Pub/Sub's push envelope.
OPEN_OBJECTS = {"OpenApiDocument", "PushEnvelope"}


def test_our_objects_allow_no_undeclared_properties() -> None:
    # Every object schema of ours says what it holds, and nothing else may appear
    for name, schema in DOCUMENT["components"]["schemas"].items():
        if schema.get("type") == "object" and name not in OPEN_OBJECTS:
            assert schema.get("additionalProperties") is False, name
