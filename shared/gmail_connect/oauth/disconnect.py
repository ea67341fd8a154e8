"""Ending a connection: revoke the grant at Google (RFC 7009), forget the tokens and the connection.

The stored tokens are deleted whatever Google answers: if it is down, keeping a refresh token
the user asked us to drop would be worse than a grant left live at Google (which the user can
still revoke in their Google account). Deleting the account item also ends every session of
the user (they are bound to its `connection_id`). The outcome is logged and counted, never the
token.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

from gmail_connect.core.config import get_settings
from gmail_connect.core.observability import MetricUnit, logger, metrics
from gmail_connect.oauth.client_config import google_client
from gmail_connect.store import accounts, connection_events, sessions, token_crypto
from gmail_connect.store.token_cache import access_tokens

REVOKED = "revoked"
ALREADY_INVALID = "already_invalid"
UNAVAILABLE = "unavailable"
NOTHING_STORED = "nothing_stored"
BY_USER = "disconnected_by_user"
BY_APPLICATION = "deleted_by_application"
UNUSABLE = "unusable"  # the stored refresh token does not decrypt: nothing to revoke
_REVOKE_ATTEMPTS = 2  # one retry on a 5xx or a timeout; the row goes either way
_REVOKE_TIMEOUT_SECONDS = 3.0


def disconnect(session_token: str | None) -> str:
    """Disconnect the session's user (`POST /oauth/disconnect`); returns the revocation outcome."""
    session = sessions.require(session_token)
    account = accounts.get(session.user_id, accounts.CREDENTIAL_ATTRIBUTES)
    if session.ended_for(account):
        raise sessions.ended()
    outcome = end_connection(session.user_id, account, reason=BY_USER)
    if session_token:
        sessions.delete(session_token)
    return outcome


def end_connection(user_id: str, account: accounts.Account | None, *, reason: str) -> str:
    """Revoke and forget the account's grant; every session bound to it ends with it.

    `reason` (`BY_USER`, `BY_APPLICATION`) is announced with `gmail.connection.disconnected`.
    """
    outcome = NOTHING_STORED
    if account is not None and account.refresh_token:
        try:
            token = token_crypto.decrypt(token_crypto.REFRESH_TOKEN, user_id, account.refresh_token)
        except token_crypto.UndecryptableToken:
            outcome = UNUSABLE
        else:
            if get_settings().gmail_push_topic:
                stop_watch(token)
            outcome = revoke(token)
    accounts.delete(user_id, account.connection_id if account else None)
    access_tokens.forget(user_id)
    if account is not None:
        connection_events.disconnected(account, reason=reason)
    logger.info("Account disconnected", extra={"user_id": user_id, "revocation": outcome})
    metrics.add_metric(name="AccountsDisconnected", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name=f"Revocation_{outcome}", unit=MetricUnit.Count, value=1)
    return outcome


def stop_watch(refresh_token: str) -> bool:
    """Best effort `users.stop` before the revocation: no more push notifications for the mailbox.

    A fresh access token comes from the refresh token (the stored access token needs a key this
    function may not use); either call failing leaves the watch to expire within 7 days.
    """
    import httplib2

    settings = get_settings()
    client = google_client()
    http = httplib2.Http(timeout=min(settings.google_timeout_seconds, _REVOKE_TIMEOUT_SECONDS))
    form = {
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "client_id": client.client_id,
        "client_secret": client.client_secret,
    }
    try:
        response, content = http.request(
            client.token_uri,
            method="POST",
            body=urlencode(form),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        if response.status != 200:
            return False
        access_token = json.loads(content)["access_token"]
        response, _ = http.request(
            f"{settings.gmail_api_url}/gmail/v1/users/me/stop",
            method="POST",
            headers={"Authorization": f"Bearer {access_token}", "Content-Length": "0"},
        )
    except (httplib2.HttpLib2Error, OSError, ValueError, KeyError) as exc:
        logger.warning("Gmail stop failed", extra={"error_type": type(exc).__name__})
        return False
    stopped = response.status in (200, 204)
    logger.info(
        "Gmail push watch stopped" if stopped else "Gmail stop refused", extra={"status": response.status}
    )
    return stopped


def revoke(token: str) -> str:
    """RFC 7009 revocation of the whole grant; retried once on a 5xx or a timeout."""
    import httplib2

    settings = get_settings()
    timeout = min(settings.google_timeout_seconds, _REVOKE_TIMEOUT_SECONDS)
    for attempt in range(1, _REVOKE_ATTEMPTS + 1):
        try:
            response, _ = httplib2.Http(timeout=timeout).request(
                str(settings.google_revoke_uri),
                method="POST",
                body=urlencode({"token": token}),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
        except (httplib2.HttpLib2Error, OSError) as exc:
            logger.warning(
                "Revocation endpoint unreachable",
                extra={"attempt": attempt, "error_type": type(exc).__name__},
            )
            continue
        if response.status == 200:
            return REVOKED
        if response.status == 400:  # invalid_token: already revoked or expired at Google
            return ALREADY_INVALID
        logger.warning("Revocation endpoint failed", extra={"attempt": attempt, "status": response.status})
        if response.status < 500:
            break
    return UNAVAILABLE
