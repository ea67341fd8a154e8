"""Responses in the shapes Google's servers use.

Two families: the Google API error envelope (``{"error": {"code", "message", "errors": [...],
"status"}}``, used by Gmail and the batch endpoint) and the flat OAuth 2.0 error object
(``{"error": "invalid_grant", "error_description": "..."}``, used by the token, revoke and
userinfo endpoints).
"""

from __future__ import annotations

import json
from typing import Any

from werkzeug.wrappers import Response

JSON_TYPE = "application/json; charset=UTF-8"

# google.rpc.Code names Google puts in "status" for each HTTP status.
RPC_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

AUTH_REALM = 'Bearer realm="https://accounts.google.com/"'


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """Serialise like Google's frontends: two-space indented JSON, UTF-8."""
    response = Response(json.dumps(body, indent=2) + "\n", status=status, content_type=JSON_TYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def api_error(
    code: int,
    message: str,
    reason: str,
    *,
    domain: str = "global",
    item_message: str | None = None,
    location: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """A Google API error envelope (Gmail, batch)."""
    item: dict[str, str] = {"message": item_message or message, "domain": domain, "reason": reason}
    if location:
        item["location"] = location
        item["locationType"] = "header" if location == "Authorization" else "parameter"
    body = {
        "error": {
            "code": code,
            "message": message,
            "errors": [item],
            "status": RPC_STATUS.get(code, "UNKNOWN"),
        }
    }
    return json_response(body, code, headers)


def unauthenticated() -> Response:
    """Missing, malformed, expired or revoked access token."""
    return api_error(
        401,
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie "
        "or other valid authentication credential.",
        "authError",
        item_message="Invalid Credentials",
        location="Authorization",
        headers={"WWW-Authenticate": f'{AUTH_REALM}, error="invalid_token"'},
    )


def insufficient_scopes(required: list[str]) -> Response:
    message = "Request had insufficient authentication scopes."
    return api_error(
        403,
        message,
        "insufficientPermissions",
        headers={
            "WWW-Authenticate": f'{AUTH_REALM}, error="insufficient_scope", scope="{" ".join(required)}"'
        },
    )


def forbidden(message: str) -> Response:
    return api_error(403, message, "forbidden")


def not_found() -> Response:
    return api_error(404, "Requested entity was not found.", "notFound")


def invalid_argument(message: str) -> Response:
    return api_error(400, message, "invalidArgument")


def bad_request(message: str) -> Response:
    return api_error(400, message, "badRequest")


def oauth_error(status: int, error: str, description: str) -> Response:
    """The flat error object of Google's OAuth 2.0 endpoints."""
    return json_response(
        {"error": error, "error_description": description},
        status,
        {"Cache-Control": "no-cache, no-store, max-age=0, must-revalidate", "Pragma": "no-cache"},
    )


def control_error(status: int, message: str) -> Response:
    """Errors of the emulator's own control endpoints (not a Google shape)."""
    return json_response({"error": message}, status)
