"""`POST /oauth/disconnect`: revoke the grant at Google (RFC 7009), forget the tokens, end the session.

The stored tokens are deleted whatever Google answers: if it is down, keeping a refresh token
the user asked us to drop would be worse than a grant left live at Google (which the user can
still revoke in their Google account). The outcome is logged and counted, never the token.
"""

from __future__ import annotations

from urllib.parse import urlencode

from gmail_connect.core.config import get_settings
from gmail_connect.core.observability import MetricUnit, logger, metrics
from gmail_connect.gmail import credentials
from gmail_connect.store import accounts, sessions

REVOKED = "revoked"
ALREADY_INVALID = "already_invalid"
UNAVAILABLE = "unavailable"
NOTHING_STORED = "nothing_stored"
_REVOKE_ATTEMPTS = 2  # one retry on a 5xx or a timeout; the row goes either way
_REVOKE_TIMEOUT_SECONDS = 3.0


def disconnect(session_token: str | None) -> str:
    """Disconnect the session's user; returns the revocation outcome (for logs and tests)."""
    user_id = sessions.require_user(session_token)
    grant = accounts.load_secrets(user_id)
    outcome = NOTHING_STORED
    if grant is not None and grant.refresh_token:
        outcome = revoke(accounts.decrypt(accounts.REFRESH_TOKEN, user_id, grant.refresh_token))
    accounts.delete(user_id)
    credentials.forget(user_id)
    if session_token:
        sessions.delete(session_token)
    logger.info("Account disconnected", extra={"user_id": user_id, "revocation": outcome})
    metrics.add_metric(name="AccountsDisconnected", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name=f"Revocation_{outcome}", unit=MetricUnit.Count, value=1)
    return outcome


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
