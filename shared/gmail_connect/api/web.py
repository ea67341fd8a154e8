"""HTTP concerns shared by the functions: input parsing, cookies, responses, error mapping.

All mapping from domain exceptions to HTTP lives here (`register_error_handlers`), so a
function's `app.py` holds only its routes.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.shared.cookies import Cookie, SameSite
from aws_lambda_powertools.utilities.typing import LambdaContext

from gmail_connect.core.config import get_settings
from gmail_connect.core.errors import (
    ClientNotConfigured,
    CrossSiteRequest,
    GmailConnectError,
    GoogleUnavailable,
    InvalidRequest,
    ReauthorizationRequired,
)
from gmail_connect.core.observability import MetricUnit, logger, metrics

MAX_QUERY_LENGTH = 4096
MAX_PARAM_LENGTH = 2048
MAX_PARAMS = 16
MAX_RETURN_TO = 512
OAUTH_COOKIE = "gc_oauth"
SESSION_COOKIE = "gc_session"

# Never cached, never leak the URL (which may hold a code) to another site, never framed or sniffed.
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
PAGE_HEADERS = {
    **SECURITY_HEADERS,
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
}
_EMAIL = re.compile(r"^[^@\s\x00-\x1f]{1,64}@[^@\s\x00-\x1f]{1,190}$")


# --- input -------------------------------------------------------------------------------------


def query_params(event: Mapping[str, Any], allowed: frozenset[str]) -> dict[str, str]:
    """Query parameters from the raw query string: unknown, repeated or oversized ones are refused.

    API Gateway joins repeated keys with commas in `queryStringParameters`, which would hide
    `?state=a&state=b`; the raw string does not.
    """
    raw = event.get("rawQueryString") or ""
    if len(raw) > MAX_QUERY_LENGTH:
        raise InvalidRequest("The query string is too long.")
    try:
        pairs = parse_qsl(raw, keep_blank_values=True, max_num_fields=MAX_PARAMS, errors="strict")
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequest("The query string is malformed or has too many parameters.") from None
    params: dict[str, str] = {}
    for key, value in pairs:
        if key not in allowed:
            raise InvalidRequest(f"Unknown query parameter: {key[:40]!r}.")
        if key in params:
            raise InvalidRequest(f"The query parameter {key!r} is repeated.")
        if len(value) > MAX_PARAM_LENGTH or any(ord(char) < 32 for char in value):
            raise InvalidRequest(f"The query parameter {key!r} is too long or has control characters.")
        params[key] = value
    return params


def cookie_name(base: str) -> str:
    """`__Host-` cookies are pinned to this host, path `/` and https; only possible when Secure."""
    return f"__Host-{base}" if get_settings().secure_cookies else base


def request_cookie(event: Mapping[str, Any], base: str) -> str | None:
    wanted = cookie_name(base)
    for entry in event.get("cookies") or []:
        for part in str(entry).split(";"):
            name, _, value = part.strip().partition("=")
            if name == wanted and value:
                return value
    return None


def session_token(event: Mapping[str, Any]) -> str | None:
    """The session from `Authorization: Bearer …` (apps) or the session cookie (browsers)."""
    return bearer_token(event) or request_cookie(event, SESSION_COOKIE)


def bearer_token(event: Mapping[str, Any]) -> str | None:
    headers = event.get("headers") or {}
    scheme, _, credentials = str(headers.get("authorization") or "").partition(" ")
    return (credentials.strip() or None) if scheme.lower() == "bearer" else None


def require_same_origin(event: Mapping[str, Any], public_base_url: str) -> None:
    """State-changing routes refuse cross-site requests, on top of SameSite=Lax cookies.

    A present `Origin` must be this API's own. Without one, only a Bearer-authenticated call (an
    app; a cross-site form cannot set that header) is accepted: a cookie alone is refused. A
    request with no credentials at all passes here and gets its 401 from the session check.
    """
    origin = (event.get("headers") or {}).get("origin")
    if origin is not None:
        if str(origin).strip().lower() != _origin_of(public_base_url):
            raise CrossSiteRequest("This request did not come from this site.")
        return
    if bearer_token(event) is None and request_cookie(event, SESSION_COOKIE) is not None:
        raise CrossSiteRequest("A browser request must carry this site's Origin header.")


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def safe_return_to(value: str | None, default: str) -> str:
    """Only a path on this site: `//host`, `/\\host`, schemes and control characters are refused."""
    if value is None or value == "":
        return default
    if (
        len(value) > MAX_RETURN_TO
        or not value.startswith("/")
        or value.startswith("//")
        or "\\" in value
        or any(ord(char) < 33 or ord(char) == 127 for char in value)
    ):
        raise InvalidRequest("return_to must be a relative path on this site, such as /me.")
    return value


def login_hint(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    if not _EMAIL.match(value):
        raise InvalidRequest("login_hint must be an email address.")
    return value


# --- output ------------------------------------------------------------------------------------


def cookie(base: str, value: str, max_age: int) -> Cookie:
    settings = get_settings()
    return Cookie(
        name=cookie_name(base),
        value=value,
        path="/",
        secure=settings.secure_cookies,
        http_only=True,
        max_age=max_age,
        same_site=SameSite.LAX_MODE,  # Strict would drop it on the way back from Google
    )


def expired_cookie(base: str) -> Cookie:
    return cookie(base, "", max_age=0)


def no_content(cookies: list[Cookie] | None = None) -> Response:
    return Response(status_code=204, headers=dict(SECURITY_HEADERS), cookies=cookies or [])


def redirect(location: str, cookies: list[Cookie] | None = None) -> Response:
    return Response(
        status_code=302, headers={**SECURITY_HEADERS, "Location": location}, cookies=cookies or []
    )


def json_response(status: int, body: Mapping[str, Any], cookies: list[Cookie] | None = None) -> Response:
    return Response(
        status_code=status,
        content_type="application/json",
        body=json.dumps(body, separators=(",", ":")),
        headers=dict(SECURITY_HEADERS),
        cookies=cookies or [],
    )


def page(status: int, title: str, message: str, link: tuple[str, str] | None = None) -> Response:
    """A small self-contained HTML page for the browser-facing routes."""
    action = f'<p><a href="{html.escape(link[0])}">{html.escape(link[1])}</a></p>' if link else ""
    body = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:34rem;margin:4rem auto}</style>"
        f"</head><body><h1>{html.escape(title)}</h1><p>{html.escape(message)}</p>{action}</body></html>"
    )
    return Response(
        status_code=status, content_type="text/html; charset=utf-8", body=body, headers=PAGE_HEADERS
    )


def error_body(error: GmailConnectError) -> dict[str, Any]:
    body: dict[str, Any] = {"error": error.code, "message": error.message}
    if isinstance(error, ReauthorizationRequired):
        body["authorization_url"] = error.authorization_url
    if isinstance(error, GoogleUnavailable) and error.retry_after is not None:
        body["retry_after"] = error.retry_after
    return body


_PAGE_TITLES = {
    400: "This sign-in could not be completed",
    401: "Please sign in again",
    403: "Gmail was not connected",
    409: "Please try again",
    502: "Google did not answer as expected",
    503: "Google is not reachable right now",
}
# Where a status alone would mislead (a 503 that is not Google's doing).
_CODE_TITLES = {ClientNotConfigured.code: "This service is not set up yet"}


def register_error_handlers(app: APIGatewayHttpResolver, *, pages: bool = False) -> None:
    """Map domain errors to JSON (API routes) or a small page (browser-facing OAuth routes)."""

    @app.exception_handler(GmailConnectError)
    def _domain_error(error: GmailConnectError) -> Response:
        metrics.add_metric(name=f"Error_{error.code}", unit=MetricUnit.Count, value=1)
        logger.info("Request refused", extra={"error_code": error.code, "status": error.status})
        if pages:
            return page(
                error.status,
                _CODE_TITLES.get(error.code) or _PAGE_TITLES.get(error.status, "Something went wrong"),
                error.message,
                ("/oauth/authorize", "Start again"),
            )
        response = json_response(error.status, error_body(error))
        if isinstance(error, GoogleUnavailable) and error.retry_after is not None:
            response.headers["Retry-After"] = str(error.retry_after)
        return response

    @app.not_found
    def _not_found(_: Exception) -> Response:
        return json_response(404, {"error": "not_found", "message": "No such route."})


def resolve(app: APIGatewayHttpResolver, event: Any, context: LambdaContext) -> dict[str, Any]:
    """`app.resolve` behind a shape check: a malformed event gets a 400, not a stack trace."""
    http = event.get("requestContext", {}).get("http") if isinstance(event, dict) else None
    if (
        not isinstance(http, dict)
        or event.get("version") != "2.0"
        or not isinstance(http.get("method"), str)
        or not isinstance(event.get("rawPath"), str)
        or not isinstance(event.get("rawQueryString", ""), str)
        or not isinstance(event.get("headers", {}), dict)
        or not isinstance(event.get("cookies", []), list)
    ):
        logger.warning("Malformed event refused")
        return {
            "statusCode": 400,
            "headers": {**SECURITY_HEADERS, "Content-Type": "application/json"},
            "body": json.dumps({"error": "invalid_request", "message": "Not an API Gateway HTTP API event."}),
        }
    return app.resolve(event, context)
