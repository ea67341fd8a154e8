"""The OpenAPI document against the code, without a server.

- The response check every integration test runs (`tests/support/openapi.py`) refuses what the
  document does not describe: it can fail, and says why.
- The document's parameter and body schemas accept exactly the values the handlers' validation
  accepts, at and just past each limit (the limits come from that code; this checks the
  translation into JSON Schema: anchors, array style, character classes).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from gmail_connect.api import connect_link_request, connections, inputs, messages
from gmail_connect.core.config import get_settings
from gmail_connect.core.errors import InvalidRequest
from tests.support.openapi import DOCUMENT, check_response, problems

CONNECTION_ID = "conn_0123456789abcdef01234567"
ACCOUNT = {
    "user_id": "100000000000000000001",
    "email": "ann@example.com",
    "scopes": ["openid"],
    "status": "connected",
    "connected_at": "2026-11-29T10:00:00+00:00",
    "last_sync_at": None,
}


def response(status: int, body: Any = None, **headers: str) -> dict[str, Any]:
    content = {"Content-Type": "application/json"} if body is not None else {}
    return {
        "statusCode": status,
        "headers": {**content, **headers},
        "body": json.dumps(body) if body is not None else "",
    }


# ---------------------------------------------------------------------------- the response check
def test_a_response_as_documented_passes() -> None:
    assert problems("GET", "/me", response(200, ACCOUNT)) == []
    assert (
        problems(
            "GET", f"/v1/connections/{CONNECTION_ID}", response(404, {"error": "not_found", "message": "x"})
        )
        == []
    )


@pytest.mark.parametrize(
    ("method", "path", "answer", "why"),
    [
        ("GET", "/me", response(200, {**ACCOUNT, "refresh_token": "x"}), "Additional properties"),
        ("GET", "/me", response(200, {**ACCOUNT, "status": "revoked"}), "'revoked' is not one of"),
        ("GET", "/me", response(200, {**ACCOUNT, "connected_at": "yesterday"}), "is not a 'date-time'"),
        ("GET", "/me", response(200, {**ACCOUNT, "status": "reauthorization_required"}), "reauthorization"),
        ("GET", "/me", response(418, {"error": "teapot", "message": "x"}), "status 418 is not listed"),
        ("GET", "/me", response(401, {"error": "forbidden_origin", "message": "x"}), "is not one of"),
        ("GET", "/me", {**response(200, ACCOUNT), "headers": {"Content-Type": "text/html"}}, "Content-Type"),
        ("GET", "/oauth/authorize", response(302), "required header Location"),
        ("DELETE", f"/v1/connections/{CONNECTION_ID}", {**response(204), "body": "{}"}, "no body"),
        (
            "GET",
            "/messages",
            response(503, {"error": "google_unavailable", "message": "x"}, **{"Retry-After": "soon"}),
            "Retry-After",
        ),
    ],
    ids=[
        "undeclared-field",
        "unknown-status-value",
        "bad-timestamp",
        "reauthorization-missing",
        "undocumented-status",
        "wrong-error-code",
        "wrong-content-type",
        "missing-location",
        "body-on-204",
        "bad-retry-after",
    ],
)
def test_a_response_the_document_does_not_describe_fails_and_says_why(
    method: str, path: str, answer: dict[str, Any], why: str
) -> None:
    with pytest.raises(AssertionError) as refused:
        check_response(method, path, answer)
    message = str(refused.value)
    # The failure names the route (as the document has it), the status and the difference
    assert message.startswith(f"{method} ")
    assert f"answered {answer['statusCode']}" in message
    assert why in message


def test_a_route_api_gateway_does_not_have_is_not_checked() -> None:
    # Such an event never reaches a function when deployed (API Gateway answers 404 itself)
    assert problems("GET", "/oauth/disconnect", response(404, {"error": "not_found", "message": "x"})) == []


# ---------------------------------------------------------------------------- request constraints
def parameter(path: str, name: str) -> dict[str, Any]:
    for listed in DOCUMENT["paths"][path]["get"]["parameters"]:
        entry = (
            DOCUMENT["components"]["parameters"][listed["$ref"].rsplit("/", 1)[1]]
            if "$ref" in listed
            else listed
        )
        if entry["name"] == name:
            return entry  # type: ignore[no-any-return]
    raise AssertionError(f"{path} has no parameter {name}")


def schema_accepts(schema: dict[str, Any], value: Any) -> bool:
    return Draft202012Validator(schema).is_valid(value)


def code_accepts_page(params: dict[str, str]) -> bool:
    try:
        messages.parse(params)
    except InvalidRequest:
        return False
    return True


@pytest.mark.parametrize(
    ("name", "raw", "value"),
    [
        ("maxResults", "1", 1),
        ("maxResults", str(messages.MAX_RESULTS), messages.MAX_RESULTS),
        ("maxResults", "0", 0),
        ("maxResults", str(messages.MAX_RESULTS + 1), messages.MAX_RESULTS + 1),
        ("q", "x" * messages.MAX_Q, "x" * messages.MAX_Q),
        ("q", "x" * (messages.MAX_Q + 1), "x" * (messages.MAX_Q + 1)),
        ("q", "", ""),
        ("pageToken", "A-_z09", "A-_z09"),
        ("pageToken", "", ""),
        ("pageToken", "a b", "a b"),
        ("pageToken", "x" * (messages.MAX_PAGE_TOKEN + 1), "x" * (messages.MAX_PAGE_TOKEN + 1)),
        ("include", "metadata", "metadata"),
        ("include", "full", "full"),
        ("labelIds", "INBOX,UNREAD", ["INBOX", "UNREAD"]),
        ("labelIds", ",".join(["L"] * messages.MAX_LABELS), ["L"] * messages.MAX_LABELS),
        ("labelIds", ",".join(["L"] * (messages.MAX_LABELS + 1)), ["L"] * (messages.MAX_LABELS + 1)),
        ("labelIds", "INBOX,in box", ["INBOX", "in box"]),
        ("labelIds", "x" * 65, ["x" * 65]),
    ],
)
def test_message_page_parameters_accept_exactly_what_the_code_accepts(
    name: str, raw: str, value: Any
) -> None:
    # Given a value as the wire carries it (`raw`) and as the document types it (`value`)
    documented = parameter("/messages", name)["schema"]
    # Then the document and `messages.parse` agree on it
    assert schema_accepts(documented, value) == code_accepts_page({name: raw}), (name, raw)


@pytest.mark.parametrize(
    "value",
    ["u_123", " ", "~" * 128, "", "x" * 129, "tab\there", "é", "new\nline"],
)
def test_external_user_id_is_documented_as_the_code_checks_it(value: str) -> None:
    documented = parameter("/v1/connections", "external_user_id")["schema"]
    body = DOCUMENT["components"]["schemas"]["ConnectLinkRequest"]["properties"]["external_user_id"]
    accepted = bool(connections._EXTERNAL_USER_ID.fullmatch(value))
    assert schema_accepts(documented, value) == schema_accepts(body, value) == accepted


@pytest.mark.parametrize(
    "value",
    [CONNECTION_ID, "conn_0123456789ABCDEF01234567", "conn_0123", CONNECTION_ID + "0", "x" + CONNECTION_ID],
)
def test_connection_id_is_documented_as_the_code_checks_it(value: str) -> None:
    documented = DOCUMENT["components"]["parameters"]["ConnectionId"]["schema"]
    assert schema_accepts(documented, value) == bool(connections._CONNECTION_ID.fullmatch(value))


@pytest.mark.parametrize(
    "body",
    [
        {"external_user_id": "u_1", "return_url": "http://127.0.0.1:8080/back"},
        {
            "external_user_id": "u_1",
            "return_url": "http://127.0.0.1:8080/back",
            "login_hint": "ann@example.com",
        },
        {"external_user_id": "u_1", "return_url": "http://127.0.0.1:8080/back", "login_hint": None},
        {"external_user_id": "u_1", "return_url": "http://127.0.0.1:8080/back", "login_hint": ""},
        {"external_user_id": "u_1", "return_url": "http://127.0.0.1:8080/back", "login_hint": "not an email"},
        {"external_user_id": "u_1", "return_url": "http://127.0.0.1:8080/back", "extra": 1},
        {"external_user_id": "", "return_url": "http://127.0.0.1:8080/back"},
        {"external_user_id": 7, "return_url": "http://127.0.0.1:8080/back"},
        {"return_url": "http://127.0.0.1:8080/back"},
        {"external_user_id": "u_1"},
    ],
)
def test_connect_link_bodies_are_documented_as_the_code_checks_them(
    aws: dict[str, str], body: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the local stack's settings (loopback return URLs allowed), so only the shape decides
    monkeypatch.setenv("ALLOW_LOOPBACK_RETURN_URLS", "1")
    get_settings.cache_clear()
    documented = DOCUMENT["components"]["schemas"]["ConnectLinkRequest"]
    # Then the document and `connect_link_request.parse` agree on it
    try:
        connect_link_request.parse(json.dumps(body))
        accepted = True
    except InvalidRequest:
        accepted = False
    assert schema_accepts(documented, body) == accepted


@pytest.mark.parametrize("value", ["ann@example.com", "", "no-at-sign", "a@b@c", "sp ace@example.com"])
def test_login_hint_is_documented_as_the_code_checks_it(value: str) -> None:
    documented = parameter("/oauth/authorize", "login_hint")["schema"]
    try:
        inputs.login_hint(value)
        accepted = True
    except InvalidRequest:
        accepted = False
    assert schema_accepts(documented, value) == accepted
