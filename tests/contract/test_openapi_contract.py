"""Schemathesis against the running local stack: every response conforms to `GET /openapi.json`.

For every operation of the document, generated requests (valid and invalid ones, a bounded
number) go to `python -m infra.local_stack` over HTTP, signed or signed in as the route requires;
no answer may be a 5xx, and each must be listed for its route with the declared content type,
body schema and headers. One test per route, taken from the committed document (the first test
checks the stack serves exactly that one).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from infra.local_stack.sigv4 import DEFAULT_ACCESS_KEY_ID
from infra.openapi import DOCUMENT_PATH
from tests.contract.conftest import ContractStack

DOCUMENT = json.loads(DOCUMENT_PATH.read_text(encoding="utf-8"))
OPERATIONS = [(method.upper(), path) for path, item in DOCUMENT["paths"].items() for method in item]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXAMPLES_PER_ROUTE = 100
# Routes no generated request can succeed on: the callback needs Google's real code and state,
# deleting the one real connection would leave the other /v1 routes nothing to read, and a push
# needs a token Google signed.
NEVER_SUCCEED = {
    ("GET", "/oauth/callback"),
    ("DELETE", "/v1/connections/{connection_id}"),
    ("POST", "/push/gmail"),
}
SIGNED = f"AWS4-HMAC-SHA256 Credential={DEFAULT_ACCESS_KEY_ID}/"


def test_the_stack_serves_the_committed_document(contract_stack: ContractStack) -> None:
    # When the document is fetched as a client (or Schemathesis) fetches it
    served = requests.get(f"{contract_stack.stack.api}/openapi.json", timeout=10)
    # Then it is the committed one, as JSON, cacheable for five minutes
    assert served.status_code == 200
    assert served.headers["Content-Type"] == "application/json"
    assert served.headers["Cache-Control"] == "public, max-age=300"
    assert served.json() == DOCUMENT


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_every_response_conforms_to_the_document(
    contract_stack: ContractStack, contract_schema: Any, method: str, path: str
) -> None:
    operation = contract_schema[path][method]
    statuses: list[int] = []
    cases = st.one_of(
        operation.as_strategy(schemathesis.GenerationMode.POSITIVE),
        operation.as_strategy(schemathesis.GenerationMode.NEGATIVE),
    )

    # Bounded (the machine is shared); no example database: a failure prints its seed to replay.
    @settings(
        max_examples=EXAMPLES_PER_ROUTE, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(case=cases)
    def send(case: schemathesis.Case) -> None:
        # When a generated request is sent to the stack, with the route's credentials
        response = case.call()
        statuses.append(response.status_code)
        if response.status_code >= 500:  # the traceback is in the stack's log: shown with the failure
            print(f"--- the stack's log ({contract_stack.stack.log}):\n{contract_stack.stack.log_tail()}")
        # Then it is no 5xx, and status, content type, headers and body are as the document says
        case.validate_response(response, checks=CHECKS)
        # Then (besides the checks) a request we signed is never refused for its signature: that 403
        # is documented (negative cases leave the signature out on purpose), so a signing mistake
        # would otherwise pass unnoticed
        if response.request.headers.get("Authorization", "").startswith(SIGNED):
            assert response.status_code != 403, f"SigV4 refused: {case.method} {response.request.url}"

    send()
    # And the route was reached with working credentials: some requests succeeded, so the bodies
    # of its successes were checked too, not only its refusals
    if (method, path) not in NEVER_SUCCEED:
        assert any(200 <= status < 400 for status in statuses), f"nothing succeeded: {sorted(set(statuses))}"
