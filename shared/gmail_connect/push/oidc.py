"""Is a push request really from our Pub/Sub subscription? Its OIDC token says, once verified.

A Pub/Sub push subscription with authentication sends `Authorization: Bearer <JWT>`, signed by
Google (RS256, keys at Google's certs URL). Before anything is read from the body: the signature
and expiry (google-auth's `jwt.decode`), the audience (always given: `audience=None` would skip
the check), the issuer, the service account `email` configured for the subscription, and
`email_verified`. Google's certificates are cached for as long as their Cache-Control allows,
not fetched per request; an unknown key id refetches them (Google rotates keys), at most once a
minute.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from gmail_connect.core.config import get_settings
from gmail_connect.core.errors import RequestError, ServiceUnavailable, Unauthenticated
from gmail_connect.core.observability import logger
from gmail_connect.oauth.client_config import GOOGLE_ISSUERS

CLOCK_SKEW_SECONDS = 10
MIN_REFETCH_SECONDS = 60
_MAX_AGE = re.compile(r"max-age=(\d+)")


class PushForbidden(RequestError):
    status = 403
    code = "forbidden"


@dataclass
class _Certificates:
    """Google's signing certificates by key id, and until when they may be used."""

    by_kid: dict[str, str] = field(default_factory=dict)
    expires: float = 0.0
    fetched: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, kid: str | None) -> dict[str, str]:
        with self.lock:
            now = time.time()
            stale = now >= self.expires
            missing = kid is not None and kid not in self.by_kid and now - self.fetched >= MIN_REFETCH_SECONDS
            if stale or missing:
                self._fetch(now)
            return dict(self.by_kid)

    def _fetch(self, now: float) -> None:
        import httplib2

        settings = get_settings()
        try:
            response, content = httplib2.Http(timeout=settings.google_timeout_seconds).request(
                settings.google_certs_url, "GET"
            )
        except (httplib2.HttpLib2Error, OSError):
            raise ServiceUnavailable(
                "Google's signing certificates could not be fetched.", retry_after=5
            ) from None
        if response.status != 200:
            raise ServiceUnavailable("Google's signing certificates could not be fetched.", retry_after=5)
        self.by_kid = {str(k): str(v) for k, v in json.loads(content).items()}
        match = _MAX_AGE.search(response.get("cache-control", ""))
        self.expires = now + (int(match.group(1)) if match else 0)
        self.fetched = now


certificates = _Certificates()


def verify(authorization: str | None) -> dict[str, Any]:
    """The token's claims, or `Unauthenticated` / `PushForbidden`. Never skips the audience."""
    from google.auth import exceptions, jwt

    settings = get_settings()
    if not settings.push_audience or not settings.push_service_account:
        raise PushForbidden("Gmail push is not configured on this deployment.")
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or token.count(".") != 2 or len(token) > 4096:
        raise Unauthenticated("A push request needs the subscription's OIDC token.")
    try:
        header = jwt.decode_header(token)
        certs = certificates.get(header.get("kid"))
        claims: dict[str, Any] = jwt.decode(
            token, certs=certs, audience=settings.push_audience, clock_skew_in_seconds=CLOCK_SKEW_SECONDS
        )
    except (exceptions.GoogleAuthError, ValueError) as failure:
        logger.info("Push token refused", extra={"reason": type(failure).__name__})
        raise Unauthenticated("The push request's token is not valid.") from None
    if (
        claims.get("iss") not in GOOGLE_ISSUERS
        or claims.get("email") != settings.push_service_account
        or claims.get("email_verified") is not True
    ):
        logger.info("Push token from an unexpected sender")
        raise PushForbidden("The push request does not come from the configured subscription.")
    return claims
