"""Connecting an account: the guide's `get_authorization_url` and `get_credentials`, server-side.

`start` records a pending authorization and returns Google's consent URL; `complete` turns the
callback into stored credentials and a session, with the guide's semantics: a refresh token
returned is stored; none returned falls back to the stored one; none stored either raises
`NoRefreshToken`, which the callback answers by sending the browser to consent again.
"""

from __future__ import annotations

from dataclasses import dataclass

from gmail_connect.core.config import GMAIL_READONLY
from gmail_connect.core.errors import AuthorizationDenied, InvalidState, NoRefreshToken, ScopeNotGranted
from gmail_connect.core.observability import logger
from gmail_connect.core.opaque_tokens import new_token, pkce_pair
from gmail_connect.oauth import flow
from gmail_connect.oauth.client_config import google_client
from gmail_connect.store import accounts, grants, sessions, states

DEFAULT_RETURN_TO = "/me"


@dataclass(frozen=True)
class Connected:
    user_id: str
    email: str
    session_token: str
    return_to: str


def start(
    *,
    return_to: str,
    browser_nonce: str,
    login_hint: str | None = None,
    force_consent: bool = False,
    signed_in: sessions.Session | None = None,
) -> str:
    """Record a pending authorization bound to this browser; return Google's consent URL.

    A signed-in user whose grant needs re-consent gets consent forced (Google sends a refresh
    token only when it shows consent) and their account pre-selected.
    """
    if signed_in is not None:
        account = accounts.get(signed_in.user_id, accounts.STATUS_ATTRIBUTES)
        if account is not None and not signed_in.ended_for(account):
            force_consent = force_consent or not account.connected
            login_hint = login_hint or account.email
    state = new_token()
    verifier, challenge = pkce_pair()
    states.save(state, code_verifier=verifier, return_to=return_to, browser_nonce=browser_nonce)
    return flow.authorization_url(
        google_client(),
        state=state,
        code_challenge=challenge,
        login_hint=login_hint,
        force_consent=force_consent,
    )


def complete(*, state: str, browser_nonce: str, code: str | None, error: str | None) -> Connected:
    """Validate and consume the state, exchange the code, identify the user, store, sign in."""
    pending = states.consume(state, browser_nonce=browser_nonce)
    if not _header_safe(pending.return_to):
        # Authorize only stores header-safe paths; refuse anything else before storing a thing.
        raise InvalidState("This sign-in cannot return to where it started. Start again.")
    if error or not code:
        logger.info("Consent ended without a code", extra={"oauth_error": error})
        raise AuthorizationDenied("Access to Gmail was not granted, so nothing was connected.")
    client = google_client()
    token = flow.exchange_code(client, code, pending.code_verifier)
    scopes = flow.granted_scopes(token)
    if GMAIL_READONLY not in scopes:
        raise ScopeNotGranted("Read access to Gmail was not granted, so the account was not connected.")
    identity = flow.identify(client, token)
    logger.append_keys(user_id=identity.user_id)
    grant = grants.Grant(
        user_id=identity.user_id,
        email=identity.email,
        scopes=scopes,
        access_token=token["access_token"],
        access_token_expires_at=grants.expires_at(token.get("expires_in")),
        refresh_token=token.get("refresh_token"),
    )
    stored = grants.store_new_grant(grant) if grant.refresh_token else grants.refresh_connected_grant(grant)
    if stored is None:
        raise NoRefreshToken(
            "Google sent no refresh token and none is stored; consent is needed again.",
            email=identity.email,
            return_to=pending.return_to,
        )
    session_token = sessions.create(identity.user_id, stored.connection_id)
    logger.info("Account connected", extra={"new_refresh_token": bool(grant.refresh_token)})
    return Connected(identity.user_id, identity.email, session_token, pending.return_to)


def _header_safe(path: str) -> bool:
    """A value a `Location` header can carry as is: printable ASCII only."""
    return path.isascii() and path.isprintable() and " " not in path
