"""A valid Google access token for a user, and what Google's refusals mean for the account.

The guide's stored credentials: the token store keeps the access token encrypted beside the
refresh token; a warm container keeps recently used plaintext tokens (`store.token_cache`), so
a warm call costs one DynamoDB read and no KMS call. A refresh goes through google-auth
(`google.oauth2.credentials.Credentials.refresh`) over httplib2, never google-auth-oauthlib or
requests, which this path does not import.

Only proof marks an account `reauthorization_required` (conditional on the grant version read,
so a newer re-consent is never marked):
- `invalid_grant` on refresh (revoked, expired, password changed);
- 403 insufficient scope from Gmail (the grant lacks `gmail.readonly`);
- a stored token KMS refuses to decrypt (the stored grant is unusable).
A 401 with a freshly refreshed token is not proof (Google has transient 401s): the caller gets
`GoogleUnavailable` and retries later. Earlier versions marked such 401s with reason `revoked`;
such a mark is provisional, and the next successful refresh clears it.
"""

from __future__ import annotations

import calendar
import contextlib
import datetime
import time
from collections.abc import Iterator
from typing import Any, NoReturn

from gmail_connect.core.config import get_settings
from gmail_connect.core.errors import AccessRejected, GoogleUnavailable, ReauthorizationRequired
from gmail_connect.core.observability import MetricUnit, logger, metrics
from gmail_connect.gmail import google_errors, retry
from gmail_connect.oauth.client_config import google_client
from gmail_connect.store import accounts, connection_events, grants, sessions, token_crypto
from gmail_connect.store.token_cache import access_tokens

# A stored token is used only if it stays valid this much longer (clock skew, a slow call).
MIN_VALIDITY_SECONDS = 60
# How long to wait after Google refused a freshly refreshed token (a transient 401).
TOKEN_REJECTED_RETRY_AFTER = 10

REASON_INVALID_GRANT = "invalid_grant"
REASON_INSUFFICIENT_SCOPE = google_errors.INSUFFICIENT_SCOPE
REASON_UNUSABLE = token_crypto.UndecryptableToken.code
REASON_PROVISIONAL = grants.PROVISIONAL_REASON


class StoredCredentials:
    """The `gmail.client.TokenSource` of one stored account.

    `session` (optional) is the session the request came with: the account must still be the
    connection that session was issued for. `account` (optional) is the account already read
    with at least `accounts.CREDENTIAL_ATTRIBUTES` (the sync worker reads a batch of users at
    once): the first token is judged from it without reading again; later loads (a refresh
    after a 401) read the item afresh, as without it.
    """

    def __init__(
        self,
        user_id: str,
        *,
        session: sessions.Session | None = None,
        account: accounts.Account | None = None,
    ) -> None:
        if account is not None and account.user_id != user_id:
            raise ValueError("the preloaded account is another user's")
        self.user_id = user_id
        self._session = session
        self._account: accounts.Account | None = None
        self._preloaded = account

    @property
    def email(self) -> str | None:
        return self._account.email if self._account else None

    def access_token(self, deadline: retry.Deadline) -> str:
        """The stored token if valid for more than a minute, else a refreshed one."""
        return self._token(deadline, force_refresh=False)

    def refreshed_token(self, deadline: retry.Deadline) -> tuple[str, datetime.datetime]:
        """After a 401: a new token from Google, stored for the next caller."""
        token, expires_at = self._refresh(self._load(), deadline)
        return token, datetime.datetime.fromtimestamp(expires_at, datetime.UTC).replace(tzinfo=None)

    @contextlib.contextmanager
    def judging(self) -> Iterator[None]:
        """Turn Gmail's refusals of this account's token into what they mean for the account."""
        try:
            yield
        except AccessRejected as rejected:
            if rejected.reason == google_errors.INSUFFICIENT_SCOPE:
                self._reauthorization(REASON_INSUFFICIENT_SCOPE)
            logger.warning("Gmail refused a freshly refreshed access token", extra={"user_id": self.user_id})
            raise GoogleUnavailable(
                "Google refused this account's access for a moment; try again shortly.",
                retry_after=TOKEN_REJECTED_RETRY_AFTER,
            ) from None

    # --- internals ----------------------------------------------------------------------------

    def _load(self) -> accounts.Account:
        account, self._preloaded = self._preloaded, None
        if account is None:
            account = accounts.get(self.user_id, accounts.CREDENTIAL_ATTRIBUTES)
        if self._session is not None and self._session.ended_for(account):
            raise sessions.ended()
        if account is None:
            raise ReauthorizationRequired("No Gmail account is connected for this session.")
        self._account = account
        provisional = not account.connected and account.reauth_reason == REASON_PROVISIONAL
        if (not account.connected and not provisional) or not account.refresh_token:
            raise ReauthorizationRequired(
                "Google access for this account must be granted again.", email=account.email
            )
        return account

    def _token(self, deadline: retry.Deadline, *, force_refresh: bool) -> str:
        account = self._load()
        if (
            account.connected
            and not force_refresh
            and account.access_token
            and account.access_token_expires_at - time.time() > MIN_VALIDITY_SECONDS
        ):
            return self._plaintext(account, account.access_token)
        return self._refresh(account, deadline)[0]

    def _plaintext(self, account: accounts.Account, ciphertext: bytes) -> str:
        """The stored access token, from the container's cache, else one KMS Decrypt."""
        token = access_tokens.get(account.user_id, ciphertext)
        if token is None:
            token = self._decrypt(token_crypto.ACCESS_TOKEN, ciphertext)
            access_tokens.put(account.user_id, ciphertext, token)
        return token

    def _decrypt(self, purpose: str, ciphertext: bytes) -> str:
        try:
            return token_crypto.decrypt(purpose, self.user_id, ciphertext)
        except token_crypto.UndecryptableToken:
            logger.error(
                "A stored token does not decrypt", extra={"user_id": self.user_id, "purpose": purpose}
            )
            self._reauthorization(REASON_UNUSABLE)

    def _refresh(self, account: accounts.Account, deadline: retry.Deadline) -> tuple[str, int]:
        """Refresh with the stored refresh token and store the result (if the grant is unchanged)."""
        refresh_token = self._decrypt(token_crypto.REFRESH_TOKEN, account.refresh_token or b"")
        try:
            token, expires_at = retry.call(
                lambda: _refresh_once(refresh_token, deadline), what="token refresh", deadline=deadline
            )
        except _InvalidGrant:
            self._reauthorization(REASON_INVALID_GRANT)
        metrics.add_metric(name="AccessTokenRefreshed", unit=MetricUnit.Count, value=1)
        if not account.connected and grants.clear_reauthorization_mark(
            account.user_id, reason=REASON_PROVISIONAL, version=account.version
        ):
            logger.info("Provisional reauthorization mark cleared", extra={"user_id": account.user_id})
        stored = grants.update_access_token(
            account.user_id, version=account.version, access_token=token, expires_at=expires_at
        )
        if stored is not None:
            access_tokens.put(account.user_id, stored, token)
        else:
            logger.info("Refreshed token not stored: the grant changed", extra={"user_id": account.user_id})
        return token, expires_at

    def _reauthorization(self, reason: str) -> NoReturn:
        """Record that this grant stopped working (never over a newer grant) and say so."""
        account = self._account
        access_tokens.forget(self.user_id)
        marked = account is not None and grants.mark_reauthorization_required(
            self.user_id, reason=reason, version=account.version
        )
        logger.info("Account needs reauthorization", extra={"user_id": self.user_id, "reason": reason})
        if marked and account is not None:
            metrics.add_metric(name="ReauthorizationRequired", unit=MetricUnit.Count, value=1)
            connection_events.reauthorization_required(account, reason=reason)
        raise ReauthorizationRequired(
            "Read access to Gmail is no longer granted; connect the account again."
            if reason == REASON_INSUFFICIENT_SCOPE
            else "Google no longer accepts this account's authorization; connect it again.",
            email=self.email,
        )


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
        return token, grants.expires_at(None)
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
