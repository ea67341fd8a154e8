"""Responses in the shapes Google's servers use.

Two families: the Google API error envelope (``{"error": {"code", "message", "errors": [...],
"status", "details"?}}``, used by Gmail and the batch endpoint) and the flat OAuth 2.0 error
object (``{"error": "invalid_grant", "error_description": "..."}``, used by the token, revoke and
userinfo endpoints).

``details`` carries ``google.rpc`` payloads where Google's frontends add them: an ``ErrorInfo``
naming the machine-readable reason (``CREDENTIALS_MISSING``, ``ACCESS_TOKEN_TYPE_UNSUPPORTED``,
``ACCESS_TOKEN_SCOPE_INSUFFICIENT``, ``RATE_LIMIT_EXCEEDED``), the service and the backend
method (Gmail's are ``caribou.api.proto.MailboxService.*``), as captured from gmail.googleapis.com.
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
GMAIL_SERVICE = "gmail.googleapis.com"
GMAIL_RPC_PREFIX = "caribou.api.proto.MailboxService."
ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"
_SIGN_IN_HELP = "See https://developers.google.com/identity/sign-in/web/devconsole-project."
BAD_TOKEN_MESSAGE = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie "
    f"or other valid authentication credential. {_SIGN_IN_HELP}"
)
MISSING_CREDENTIALS_MESSAGE = (
    "Request is missing required authentication credential. Expected OAuth 2 access token, login "
    f"cookie or other valid authentication credential. {_SIGN_IN_HELP}"
)


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
    details: list[dict[str, Any]] | None = None,
) -> Response:
    """A Google API error envelope (Gmail, batch)."""
    item: dict[str, str] = {"message": item_message or message, "domain": domain, "reason": reason}
    if location:
        item["location"] = location
        item["locationType"] = "header" if location == "Authorization" else "parameter"
    error: dict[str, Any] = {
        "code": code,
        "message": message,
        "errors": [item],
        "status": RPC_STATUS.get(code, "UNKNOWN"),
    }
    if details:
        error["details"] = details
    return json_response({"error": error}, code, headers)


def error_info(
    reason: str, metadata: dict[str, str], *, domain: str | None = "googleapis.com"
) -> dict[str, Any]:
    """A ``google.rpc.ErrorInfo`` detail."""
    info: dict[str, Any] = {"@type": ERROR_INFO, "reason": reason}
    if domain:
        info["domain"] = domain
    info["metadata"] = metadata
    return info


def _gmail_method(rpc: str | None) -> dict[str, str]:
    return {"method": GMAIL_RPC_PREFIX + rpc, "service": GMAIL_SERVICE} if rpc else {"service": GMAIL_SERVICE}


def unauthenticated(rpc: str | None = None, *, missing: bool = False) -> Response:
    """No credential (``CREDENTIALS_MISSING``), or one Google does not accept: malformed, expired,
    revoked (``ACCESS_TOKEN_TYPE_UNSUPPORTED``). ``rpc`` names the Gmail method, e.g. ``GetMessage``."""
    if missing:
        return api_error(
            401,
            MISSING_CREDENTIALS_MESSAGE,
            "required",
            item_message="Login Required.",
            location="Authorization",
            headers={"WWW-Authenticate": AUTH_REALM},
            details=[error_info("CREDENTIALS_MISSING", _gmail_method(rpc))],
        )
    return api_error(
        401,
        BAD_TOKEN_MESSAGE,
        "authError",
        item_message="Invalid Credentials",
        location="Authorization",
        headers={"WWW-Authenticate": f'{AUTH_REALM}, error="invalid_token"'},
        details=[error_info("ACCESS_TOKEN_TYPE_UNSUPPORTED", _gmail_method(rpc), domain=None)],
    )


def insufficient_scopes(required: list[str], rpc: str | None = None) -> Response:
    return api_error(
        403,
        "Request had insufficient authentication scopes.",
        "insufficientPermissions",
        item_message="Insufficient Permission",
        headers={
            "WWW-Authenticate": f'{AUTH_REALM}, error="insufficient_scope", scope="{" ".join(required)}"'
        },
        details=[error_info("ACCESS_TOKEN_SCOPE_INSUFFICIENT", _gmail_method(rpc))],
    )


def user_rate_limited(status: int, reason: str, units_per_minute: int, project_number: str) -> Response:
    """The per-user quota (units per minute) is used up: 429 RESOURCE_EXHAUSTED or 403 PERMISSION_DENIED."""
    message = (
        "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user' of service "
        f"'{GMAIL_SERVICE}' for consumer 'project_number:{project_number}'."
    )
    metadata = {
        "quota_metric": f"{GMAIL_SERVICE}/default",
        "quota_limit_value": str(units_per_minute),
        "service": GMAIL_SERVICE,
        "consumer": f"projects/{project_number}",
        "quota_location": "global",
        "quota_limit": "defaultPerMinutePerUser",
    }
    help_link = {
        "@type": "type.googleapis.com/google.rpc.Help",
        "links": [
            {
                "description": "Request a higher quota limit.",
                "url": "https://cloud.google.com/docs/quota#requesting_higher_quota",
            }
        ],
    }
    return api_error(
        status,
        message,
        reason,
        domain="usageLimits",
        details=[error_info("RATE_LIMIT_EXCEEDED", metadata), help_link],
    )


def too_many_concurrent_requests() -> Response:
    """What a Gmail batch answers for calls past the user's concurrency limit."""
    return api_error(429, "Too many concurrent requests for user.", "rateLimitExceeded", domain="usageLimits")


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
