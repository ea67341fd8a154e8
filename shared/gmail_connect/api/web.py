"""HTTP concerns shared by the functions: cookies, responses, error mapping (input: `api.inputs`).

All mapping from domain exceptions to HTTP lives here (`register_error_handlers`), so a
function's `app.py` holds only its routes. So does building our own authorize URL, which a
`ReauthorizationRequired` answer carries (it depends on where the API is served).
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.shared.cookies import Cookie, SameSite
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError

from gmail_connect.core.config import get_settings
from gmail_connect.core.errors import (
    ClientNotConfigured,
    ReauthorizationRequired,
    RequestError,
    ServiceUnavailable,
)
from gmail_connect.core.observability import MetricUnit, logger, metrics
from gmail_connect.oauth.client_config import google_client

OAUTH_COOKIE = "gc_oauth"
SESSION_COOKIE = "gc_session"
AUTHORIZE_PATH = "/oauth/authorize"
DEFAULT_RETURN_TO = "/me"
CONSOLE_PATH = "/"
# The console explains a second consent screen when it lands with this (its `?notice=` parameter).
CONSENT_AGAIN_RETURN = "/?notice=consent_again"
APPLICATION_REAUTHORIZATION = (
    "Google no longer accepts this connection's grant. Create a connect link "
    "(POST /v1/connect-links) for the same external_user_id and send the user through it."
)
# An AWS service (DynamoDB, KMS, Secrets Manager) failed past botocore's own retries.
AWS_RETRY_AFTER_SECONDS = 2

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


def cookie_name(base: str) -> str:
    """`__Host-` cookies are pinned to this host, path `/` and https; only possible when Secure."""
    return f"__Host-{base}" if get_settings().secure_cookies else base


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


def attachment_path(message_id: str, part_id: str) -> str:
    """Where a session's browser gets an attachment's bytes (a 302 to a short-lived URL)."""
    return f"/messages/{message_id}/attachments/{part_id}?redirect=1"


def with_query(url: str, **params: str) -> str:
    """`url` with `params` added to its query (an application's return URL may have its own)."""
    parts = urlsplit(url)
    query = "&".join(filter(None, [parts.query, urlencode(params)]))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def reauthorization_url(email: str | None, return_to: str | None = None) -> str:
    """Our own authorize route with consent forced: what a client follows to reconnect."""
    params = {"prompt": "consent"}
    if email:
        params["login_hint"] = email
    if return_to and return_to != DEFAULT_RETURN_TO:
        params["return_to"] = return_to
    return f"{google_client().public_base_url}{AUTHORIZE_PATH}?{urlencode(params)}"


def consent_again_return(return_to: str | None) -> str | None:
    """Where a browser lands after Google's consent is forced a second time (no refresh token came).

    The person saw Google's consent screen twice in a row, which needs explaining; the console
    does it on the page they land on. Any other return path is kept as is: an unknown query
    parameter would make a JSON route such as /me refuse the request.
    """
    return CONSENT_AGAIN_RETURN if return_to == CONSOLE_PATH else return_to


def error_body(error: RequestError) -> dict[str, Any]:
    body: dict[str, Any] = {"error": error.code, "message": error.message}
    if isinstance(error, ReauthorizationRequired):
        body["authorization_url"] = reauthorization_url(error.email, error.return_to)
    if isinstance(error, ServiceUnavailable) and error.retry_after is not None:
        body["retry_after"] = error.retry_after
    return body


_PAGE_TITLES = {
    400: "This sign-in could not be completed",
    401: "Please sign in again",
    403: "Gmail was not connected",
    409: "Please try again",
    502: "Google did not answer as expected",
    503: "Please try again in a moment",
}
# Where a status alone would mislead (a 503 that is not Google's doing).
_CODE_TITLES = {ClientNotConfigured.code: "This service is not set up yet"}


def register_error_handlers(
    app: APIGatewayHttpResolver, *, pages: bool = False, application: bool = False
) -> None:
    """Map domain errors to JSON (API routes) or a small page (browser-facing OAuth routes).

    `application`: the `/v1` API, whose caller is an application's backend signed with SigV4. A
    401 or 403 there would mean the caller's own credentials failed, so a connection that needs
    re-authorization is a 409, and its fix is a new connect link rather than a URL to follow.
    """

    @app.exception_handler(RequestError)
    def _domain_error(error: RequestError) -> Response:
        metrics.add_metric(name=f"Error_{error.code}", unit=MetricUnit.Count, value=1)
        logger.info("Request refused", extra={"error_code": error.code, "status": error.status})
        if pages:
            return page(
                error.status,
                _CODE_TITLES.get(error.code) or _PAGE_TITLES.get(error.status, "Something went wrong"),
                error.message,
                ("/oauth/authorize", "Start again"),
            )
        if application and isinstance(error, ReauthorizationRequired):
            return json_response(409, {"error": error.code, "message": APPLICATION_REAUTHORIZATION})
        response = json_response(error.status, error_body(error))
        if isinstance(error, ServiceUnavailable) and error.retry_after is not None:
            response.headers["Retry-After"] = str(error.retry_after)
        return response

    @app.exception_handler([ClientError, BotoCoreError])
    def _aws_error(error: Exception) -> Response:
        # Logged with the service's error code, never the request (it may hold a ciphertext).
        code = error.response["Error"]["Code"] if isinstance(error, ClientError) else type(error).__name__
        logger.error("An AWS call failed", extra={"aws_error": code})
        return _domain_error(
            ServiceUnavailable(
                "A storage service is not answering; try again shortly.", retry_after=AWS_RETRY_AFTER_SECONDS
            )
        )

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
