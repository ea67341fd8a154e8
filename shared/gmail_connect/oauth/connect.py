"""Connecting an account: the guide's `get_authorization_url` and `get_credentials`, server-side.

`start` records a pending authorization and returns Google's consent URL; `complete` turns the
callback into stored credentials, with the guide's semantics: a refresh token returned is
stored; none returned falls back to the stored one; none stored either raises `NoRefreshToken`,
which the callback answers by sending the browser to consent again.

Two ways in: the browser flow (a person on this site; the callback starts a session) and a
connect link (an application's backend asked for it for one of its users: the grant is stored
for that `external_user_id` and the browser returns to the application's `return_url`, with no
session here). Either way, `gmail.connection.connected` is announced.
"""

from __future__ import annotations

from dataclasses import dataclass

from gmail_connect.core.config import GMAIL_READONLY
from gmail_connect.core.errors import (
    AuthorizationDenied,
    InvalidState,
    NoRefreshToken,
    RequestError,
    ScopeNotGranted,
)
from gmail_connect.core.observability import logger
from gmail_connect.core.opaque_tokens import new_token, pkce_pair
from gmail_connect.oauth import flow
from gmail_connect.oauth.client_config import google_client
from gmail_connect.store import accounts, connection_events, grants, sessions, states
from gmail_connect.store.connect_links import ConnectLink


@dataclass(frozen=True)
class Connected:
    user_id: str
    email: str
    connection_id: str | None
    return_to: str
    session_token: str | None = None  # the browser flow's new session
    return_url: str | None = None  # a connect link's return to the application


class LinkFlowFailed(RequestError):
    """A connect link's consent did not complete: the browser goes back to the application.

    `error` is the OAuth-style code the application receives (`access_denied`, ...).
    """

    def __init__(self, error: RequestError, return_url: str) -> None:
        super().__init__(error.message)
        self.status = error.status
        self.code = error.code
        self.return_url = return_url


class ConsentAgain(Exception):
    """Google must show consent again (it sent no refresh token): go to `consent_url`."""

    def __init__(self, consent_url: str) -> None:
        super().__init__("consent needed again")
        self.consent_url = consent_url


def start(
    *,
    return_to: str,
    browser_nonce: str,
    login_hint: str | None = None,
    force_consent: bool = False,
    signed_in: sessions.Session | None = None,
    link: ConnectLink | None = None,
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
    pending = states.PendingAuthorization(
        verifier,
        return_to,
        external_user_id=link.external_user_id if link else None,
        return_url=link.return_url if link else None,
    )
    states.save(state, pending, browser_nonce=browser_nonce)
    return flow.authorization_url(
        google_client(),
        state=state,
        code_challenge=challenge,
        login_hint=login_hint or (link.login_hint if link else None),
        force_consent=force_consent,
    )


def complete(*, state: str, browser_nonce: str, code: str | None, error: str | None) -> Connected:
    """Validate and consume the state, exchange the code, identify the user, store, sign in."""
    pending = states.consume(state, browser_nonce=browser_nonce)
    if not _header_safe(pending.return_to) or not _header_safe(pending.return_url or ""):
        # Only header-safe values are stored; refuse anything else before storing a thing.
        raise InvalidState("This sign-in cannot return to where it started. Start again.")
    if pending.return_url is None:
        return _complete(pending, code, error)
    try:
        return _complete(pending, code, error)
    except NoRefreshToken as missing:
        # The link was used up opening this consent; ask again, for the same user and return.
        link = ConnectLink(pending.external_user_id or "", pending.return_url, login_hint=missing.email)
        raise ConsentAgain(
            start(return_to=pending.return_to, browser_nonce=browser_nonce, force_consent=True, link=link)
        ) from None
    except RequestError as failure:
        raise LinkFlowFailed(failure, pending.return_url) from None


def _complete(pending: states.PendingAuthorization, code: str | None, error: str | None) -> Connected:
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
    owner = pending.external_user_id
    stored = (
        grants.store_new_grant(grant, owner)
        if grant.refresh_token
        else grants.refresh_connected_grant(grant, owner)
    )
    if stored is None:
        raise NoRefreshToken(
            "Google sent no refresh token and none is stored; consent is needed again.",
            email=identity.email,
            return_to=pending.return_to,
        )
    connection_events.connected(stored.account, previous=stored.previous)
    logger.info(
        "Account connected", extra={"new_refresh_token": bool(grant.refresh_token), "via_link": bool(owner)}
    )
    account = stored.account
    if pending.return_url is not None:
        return Connected(
            identity.user_id,
            identity.email,
            account.connection_id,
            pending.return_to,
            None,
            pending.return_url,
        )
    session_token = sessions.create(identity.user_id, account.connection_id)
    return Connected(
        identity.user_id, identity.email, account.connection_id, pending.return_to, session_token
    )


def _header_safe(value: str) -> bool:
    """A value a `Location` header can carry as is: printable ASCII only."""
    return value.isascii() and value.isprintable() and " " not in value
