"""A valid Google access token for a user, refreshed and stored as needed: the guide's stored credentials.

The token store keeps the access token encrypted beside the refresh token. A warm container
keeps the plaintext of recently used access tokens in a small LRU, keyed by user id and trusted
only while the stored ciphertext is unchanged, so a warm call costs one DynamoDB read and no
KMS call. A refresh goes through google-auth (`google.oauth2.credentials.Credentials.refresh`)
over httplib2, never google-auth-oauthlib or requests, which this path does not import.

`invalid_grant` on refresh is permanent (revoked, expired, password changed): the account is
marked `reauthorization_required` (conditional on the grant version read, so a newer re-consent
is never marked) and `ReauthorizationRequired` carries the URL that fixes it.
"""

from __future__ import annotations

import calendar
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from gmail_connect.core.config import get_settings
from gmail_connect.core.errors import GoogleUnavailable, ReauthorizationRequired
from gmail_connect.core.observability import MetricUnit, logger, metrics
from gmail_connect.gmail import retry
from gmail_connect.oauth import connect
from gmail_connect.oauth.client_config import google_client
from gmail_connect.store import accounts

# A stored token is used only if it stays valid this much longer (clock skew, a slow call).
MIN_VALIDITY_SECONDS = 60
# A worker syncs up to ~1,000 users per container per round; 2,048 tokens are ~1 MB of memory.
CACHE_SIZE = 2048

REASON_INVALID_GRANT = "invalid_grant"
REASON_REVOKED = "revoked"
REASON_INSUFFICIENT_SCOPE = "insufficient_scope"


@dataclass(frozen=True)
class Access:
    user_id: str
    email: str
    token: str = field(repr=False)
    expires_at: int
    version: int


@dataclass(frozen=True)
class _Cached:
    ciphertext: bytes
    token: str = field(repr=False)


class _LRU:
    """Plaintext access tokens by user id, bounded; thread-safe for a worker syncing users in parallel."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[str, _Cached] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, user_id: str, ciphertext: bytes) -> str | None:
        with self._lock:
            cached = self._items.get(user_id)
            if cached is None or cached.ciphertext != ciphertext:
                return None
            self._items.move_to_end(user_id)
            return cached.token

    def put(self, user_id: str, ciphertext: bytes, token: str) -> None:
        with self._lock:
            self._items[user_id] = _Cached(ciphertext, token)
            self._items.move_to_end(user_id)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def forget(self, user_id: str) -> None:
        with self._lock:
            self._items.pop(user_id, None)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_cache = _LRU(CACHE_SIZE)


def forget(user_id: str) -> None:
    """Drop the user's cached token (disconnect, reauthorization)."""
    _cache.forget(user_id)


def clear_cache() -> None:
    """Forget every cached token, as a fresh container would (tests)."""
    _cache.clear()


def access_for(
    user_id: str, *, force_refresh: bool = False, deadline: retry.Deadline | None = None
) -> Access:
    """A valid access token for the user: the stored one if valid for more than a minute, else refreshed.

    `force_refresh` skips the stored token (Gmail answered 401 with it). `deadline` bounds the
    refresh's retries; by default it gets the policy's own.
    """
    for _ in range(2):  # a second look only when a re-consent raced our invalid_grant
        grant = accounts.load_secrets(user_id)
        if grant is None:
            raise ReauthorizationRequired(
                "No Gmail account is connected for this session.", connect.reauthorization_url(None)
            )
        if not grant.connected or not grant.refresh_token:
            raise ReauthorizationRequired(
                "Google access for this account must be granted again.",
                connect.reauthorization_url(grant.email),
            )
        if (
            not force_refresh
            and grant.access_token
            and grant.access_token_expires_at - time.time() > MIN_VALIDITY_SECONDS
        ):
            token = _plaintext(user_id, grant.access_token)
            return Access(user_id, grant.email, token, grant.access_token_expires_at, grant.version)
        access = _refresh(grant, grant.refresh_token, deadline or retry.Deadline())
        if access is not None:
            return access
        force_refresh = False
    raise ReauthorizationRequired(
        "Google access for this account must be granted again.", connect.reauthorization_url(None)
    )


def mark_reauthorization_required(user_id: str, *, reason: str, version: int) -> None:
    """The grant of `version` no longer works: record when and why (never over a newer grant)."""
    _mark(user_id, reason=reason, version=version)


def _mark(user_id: str, *, reason: str, version: int) -> bool:
    _cache.forget(user_id)
    marked = accounts.mark_reauthorization_required(user_id, reason=reason, version=version)
    logger.info(
        "Account needs reauthorization",
        extra={"user_id": user_id, "reason": reason, "recorded": marked},
    )
    if marked:
        metrics.add_metric(name="ReauthorizationRequired", unit=MetricUnit.Count, value=1)
    return marked


def _plaintext(user_id: str, ciphertext: bytes) -> str:
    """The stored access token, from the LRU while its ciphertext is unchanged, else one KMS Decrypt."""
    token = _cache.get(user_id, ciphertext)
    if token is None:
        token = accounts.decrypt(accounts.ACCESS_TOKEN, user_id, ciphertext)
        _cache.put(user_id, ciphertext, token)
    return token


def _refresh(
    grant: accounts.StoredGrant, refresh_ciphertext: bytes, deadline: retry.Deadline
) -> Access | None:
    """Refresh with the stored refresh token and store the result; None if a re-consent raced us."""
    refresh_token = accounts.decrypt(accounts.REFRESH_TOKEN, grant.user_id, refresh_ciphertext)
    try:
        token, expires_at = retry.call(
            lambda: _refresh_once(refresh_token, deadline), what="token refresh", deadline=deadline
        )
    except _InvalidGrant:
        if not _mark(grant.user_id, reason=REASON_INVALID_GRANT, version=grant.version):
            return None
        raise ReauthorizationRequired(
            "Google no longer accepts this account's authorization; connect it again.",
            connect.reauthorization_url(grant.email),
        ) from None
    metrics.add_metric(name="AccessTokenRefreshed", unit=MetricUnit.Count, value=1)
    stored = accounts.update_access_token(
        grant.user_id, version=grant.version, access_token=token, expires_at=expires_at
    )
    if stored is not None:
        _cache.put(grant.user_id, stored, token)
    else:
        logger.info("Refreshed token not stored: the grant changed", extra={"user_id": grant.user_id})
    return Access(grant.user_id, grant.email, token, expires_at, grant.version)


class _InvalidGrant(Exception):
    """The token endpoint refused the refresh token for good."""


def _refresh_once(refresh_token: str, deadline: retry.Deadline) -> tuple[str, int]:
    """One refresh through google-auth; a transient failure raises `retry.Retryable`."""
    import httplib2
    from google.auth.exceptions import RefreshError, TransportError
    from google.oauth2.credentials import Credentials
    from google_auth_httplib2 import Request

    client = google_client()
    credentials = Credentials(
        token=None,
        refresh_token=refresh_token,
        token_uri=client.token_uri,
        client_id=client.client_id,
        client_secret=client.client_secret,
    )
    timeout = retry.DEFAULT.attempt_timeout(deadline, get_settings().google_timeout_seconds)
    try:
        credentials.refresh(_FailFast(Request(httplib2.Http(timeout=timeout))))
    except RefreshError as exc:
        error = _oauth_error(exc)
        if error == "invalid_grant":
            raise _InvalidGrant from None
        logger.error("Token endpoint refused the refresh", extra={"oauth_error": error})
        raise GoogleUnavailable("Google refused to renew access for a reason on our side.") from None
    except (TransportError, OSError) as exc:
        raise retry.Retryable(f"token endpoint unreachable ({type(exc).__name__})") from None
    token = str(credentials.token)
    if credentials.expiry is None:  # Google always sends expires_in; assume its usual hour
        return token, accounts.expires_at(None)
    return token, calendar.timegm(credentials.expiry.utctimetuple())


class _FailFast:
    """google-auth's transport, but a 429/5xx from the token endpoint raises `retry.Retryable` at once.

    google-auth would otherwise retry such answers itself (1 s, 2 s), blind to our deadline and to
    `Retry-After`; here our one policy decides.
    """

    def __init__(self, request: Any) -> None:
        self._request = request

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        response = self._request(*args, **kwargs)
        if retry.retryable_status(response.status):
            raise retry.Retryable(
                f"token endpoint answered {response.status}",
                retry_after=retry.parse_retry_after(response.headers.get("retry-after")),
            )
        return response


def _oauth_error(exc: Exception) -> str | None:
    """The `error` code of Google's token response carried by a RefreshError (never its text)."""
    for arg in exc.args[1:]:
        if isinstance(arg, dict) and isinstance(arg.get("error"), str):
            return str(arg["error"])
    return None
