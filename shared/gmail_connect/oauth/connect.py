"""Connecting an account: the guide's `get_authorization_url` and `get_credentials`, server-side.

`start` records a pending authorization and returns Google's consent URL; `complete` turns the
callback into stored credentials and a session, with the guide's semantics: a refresh token
returned is stored; none returned falls back to the stored one; none stored either raises
`NoRefreshToken` carrying a URL that forces consent.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from gmail_connect.core.config import GMAIL_READONLY
from gmail_connect.core.errors import AuthorizationDenied, NoRefreshToken, ScopeNotGranted
from gmail_connect.core.observability import logger
from gmail_connect.core.opaque_tokens import new_token, pkce_pair
from gmail_connect.oauth import flow
from gmail_connect.oauth.client_config import google_client
from gmail_connect.store import accounts, sessions, states

DEFAULT_RETURN_TO = "/me"
AUTHORIZE_PATH = "/oauth/authorize"


@dataclass(frozen=True)
class Connected:
    user_id: str
    email: str
    session_token: str
    return_to: str


def reauthorization_url(email: str | None, return_to: str | None = None) -> str:
    """Our own authorize route with consent forced: what a client follows to reconnect."""
    params = {"prompt": "consent"}
    if email:
        params["login_hint"] = email
    if return_to and return_to != DEFAULT_RETURN_TO:
        params["return_to"] = return_to
    return f"{google_client().public_base_url}{AUTHORIZE_PATH}?{urlencode(params)}"


def start(
    *,
    return_to: str,
    browser_nonce: str,
    login_hint: str | None = None,
    force_consent: bool = False,
    signed_in_user: str | None = None,
) -> str:
    """Record a pending authorization bound to this browser; return Google's consent URL."""
    if signed_in_user:
        account = accounts.get_account(signed_in_user, accounts.STATUS_ATTRIBUTES)
        force_consent = force_consent or account is None or not account.connected
        login_hint = login_hint or (account.email if account else None)
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
    grant = accounts.Grant(
        user_id=identity.user_id,
        email=identity.email,
        scopes=scopes,
        access_token=token["access_token"],
        access_token_expires_at=accounts.expires_at(token.get("expires_in")),
        refresh_token=token.get("refresh_token"),
    )
    if grant.refresh_token:
        accounts.store_new_grant(grant)
    elif accounts.refresh_connected_grant(grant) is None:
        raise NoRefreshToken(
            "Google sent no refresh token and none is stored; consent is needed again.",
            reauthorization_url(identity.email, pending.return_to),
        )
    session_token = sessions.create(identity.user_id)
    logger.info("Account connected", extra={"new_refresh_token": bool(grant.refresh_token)})
    return Connected(identity.user_id, identity.email, session_token, pending.return_to)
