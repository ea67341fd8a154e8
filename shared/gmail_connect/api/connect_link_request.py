"""The body of `POST /v1/connect-links`, checked before anything is stored.

`{"external_user_id", "return_url", "login_hint"?}` and nothing else. `external_user_id` is the
application's own id for its user (1-128 printable ASCII characters); `return_url` must be on an
origin the deployer allowed (`AllowedReturnOrigins`, https only), or, where loopback is allowed
(`make local`), `http://127.0.0.1:<port>` / `http://localhost:<port>`.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from gmail_connect.api.inputs import login_hint
from gmail_connect.core.config import get_settings
from gmail_connect.core.errors import InvalidRequest
from gmail_connect.store.connect_links import ConnectLink

MAX_BODY_BYTES = 4096
MAX_RETURN_URL = 2048
FIELDS = frozenset({"external_user_id", "return_url", "login_hint"})
_EXTERNAL_USER_ID = re.compile(r"[\x20-\x7e]{1,128}")
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost"})


def parse(body: str | None) -> ConnectLink:
    if not body or len(body.encode()) > MAX_BODY_BYTES:
        raise InvalidRequest(f"The body must be a JSON object of at most {MAX_BODY_BYTES} bytes.")
    try:
        data: Any = json.loads(body)
    except ValueError:
        raise InvalidRequest("The body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise InvalidRequest("The body must be a JSON object.")
    unknown = set(data) - FIELDS
    if unknown:
        raise InvalidRequest(f"Unknown field: {sorted(unknown)[0][:40]!r}.")
    external_user_id = data.get("external_user_id")
    if not isinstance(external_user_id, str) or not _EXTERNAL_USER_ID.fullmatch(external_user_id):
        raise InvalidRequest("external_user_id must be a string of 1-128 printable ASCII characters.")
    hint = data.get("login_hint")
    if hint is not None and not isinstance(hint, str):
        raise InvalidRequest("login_hint must be an email address.")
    return ConnectLink(
        external_user_id=external_user_id,
        return_url=return_url(data.get("return_url")),
        login_hint=login_hint(hint),
    )


def return_url(value: Any) -> str:
    """An absolute URL on an allowed origin, without credentials or a fragment."""
    if not isinstance(value, str) or not value or len(value) > MAX_RETURN_URL:
        raise InvalidRequest(f"return_url must be an absolute URL of at most {MAX_RETURN_URL} characters.")
    if not value.isascii() or not value.isprintable() or " " in value:
        raise InvalidRequest("return_url must be printable ASCII (percent-encode anything else).")
    parts = urlsplit(value)
    if parts.username is not None or parts.password is not None or parts.fragment:
        raise InvalidRequest("return_url must carry no credentials and no fragment.")
    try:
        port = parts.port
    except ValueError:
        raise InvalidRequest("return_url has an invalid port.") from None
    origin = f"{parts.scheme}://{parts.netloc}".lower()
    settings = get_settings()
    if parts.scheme == "https" and origin in settings.allowed_return_origins:
        return value
    if (
        settings.allow_loopback_return_urls
        and parts.scheme == "http"
        and (parts.hostname or "") in _LOOPBACK_HOSTS
        and port is not None
    ):
        return value
    raise InvalidRequest("return_url is not on an allowed origin (the AllowedReturnOrigins parameter).")
