"""Reading a request: query parameters, cookies, credentials, and the few values a user may pass.

Everything here refuses bad input with `InvalidRequest` (a 400 that changes nothing) before the
product reads or writes anything.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from gmail_connect.api.web import SESSION_COOKIE, cookie_name
from gmail_connect.core.errors import CrossSiteRequest, InvalidRequest

MAX_QUERY_LENGTH = 4096
MAX_PARAM_LENGTH = 2048
MAX_PARAMS = 16
MAX_RETURN_TO = 512
_EMAIL = re.compile(r"^[^@\s\x00-\x1f]{1,64}@[^@\s\x00-\x1f]{1,190}$")


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


def body_text(event: Mapping[str, Any]) -> str | None:
    """The request body as text. API Gateway base64-encodes a body whose type is not text; one
    that does not decode, or is not UTF-8, is refused (a 400, not a crash)."""
    body = event.get("body")
    if body is None or not event.get("isBase64Encoded"):
        return body if isinstance(body, str) else None
    try:
        return base64.b64decode(body, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidRequest("The body must be UTF-8 text.") from None


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
    """Only a path on this site: `//host`, `/\\host`, schemes and control characters are refused.

    Characters beyond ASCII are percent-encoded: a `Location` header carries ASCII only, and
    encoded, a look-alike of `/` or `.` (U+FF0F, U+3002, U+2215...) stays part of a path.
    """
    if value is None or value == "":
        return default
    if (
        not value.startswith("/")
        or value.startswith("//")
        or "\\" in value
        or any(not char.isprintable() or char.isspace() for char in value)
    ):
        raise InvalidRequest("return_to must be a relative path on this site, such as /me.")
    encoded = "".join(char if char.isascii() else quote(char, safe="") for char in value)
    if len(encoded) > MAX_RETURN_TO:
        raise InvalidRequest("return_to is too long.")
    return encoded


def login_hint(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    if not _EMAIL.match(value):
        raise InvalidRequest("login_hint must be an email address.")
    return value
