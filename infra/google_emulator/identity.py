"""Who a token belongs to: userinfo (the OpenID v3 shape and the older v2 one) and tokeninfo.

Userinfo answers only what the token's scopes allow. Tokeninfo answers every value as a
string, as Google's does, and one error for any token it cannot vouch for (unknown, expired,
revoked, forged): ``400 {"error": "invalid_token", "error_description": "Invalid Value"}``.
"""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request, Response

from . import errors, scopes
from .accounts import Account
from .auth_header import bearer_token
from .oauth_store import AccessToken
from .state import State

_NO_STORE = {"Cache-Control": "no-cache, no-store, max-age=0, must-revalidate", "Pragma": "no-cache"}


def _caller(state: State, request: Request) -> tuple[AccessToken, Account] | None:
    """The live access token of the Authorization header and its account. Hold the lock."""
    access = state.oauth.valid_access_token(bearer_token(request) or "")
    account = state.account(access.email) if access else None
    if access is None or account is None:
        return None
    return access, account


def userinfo(state: State, request: Request) -> Response:
    """GET /v1/userinfo and /oauth2/v3/userinfo: OpenID claims allowed by the token's scopes."""
    with state.lock:
        caller = _caller(state, request)
        if caller is None:
            response = errors.oauth_error(401, "invalid_request", "Invalid Credentials")
            response.headers["WWW-Authenticate"] = f'{errors.AUTH_REALM}, error="invalid_token"'
            return response
        access, account = caller
        body: dict[str, Any] = {"sub": account.sub}
        if scopes.PROFILE in access.scopes:
            body.update(name=account.name, given_name=account.given_name, family_name=account.family_name)
            body["picture"] = account.picture
        if scopes.EMAIL in access.scopes:
            body.update(email=account.email, email_verified=True)
    return errors.json_response(body)


def userinfo_v2(state: State, request: Request) -> Response:
    """GET /oauth2/v2/userinfo: ``id`` and ``verified_email`` where v3 says ``sub`` and
    ``email_verified``; an API (not OAuth) error envelope for a bad token."""
    with state.lock:
        caller = _caller(state, request)
        if caller is None:
            return errors.unauthenticated()
        access, account = caller
        body: dict[str, Any] = {"id": account.sub}
        if scopes.EMAIL in access.scopes:
            body.update(email=account.email, verified_email=True)
        if scopes.PROFILE in access.scopes:
            body.update(name=account.name, given_name=account.given_name, family_name=account.family_name)
            body["picture"] = account.picture
    return errors.json_response(body)


def _text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _access_token_info(state: State, value: str) -> dict[str, str] | None:
    access = state.oauth.valid_access_token(value)
    account = state.account(access.email) if access else None
    if access is None or account is None:
        return None
    body = {"azp": access.client_id, "aud": access.client_id}
    if access.scopes & scopes.IDENTITY:
        body["sub"] = account.sub
    body["scope"] = " ".join(scope for scope in scopes.KNOWN if scope in access.scopes)
    body["exp"] = str(int(access.expires_at))
    body["expires_in"] = str(max(0, int(access.expires_at - state.clock.now())))
    if scopes.EMAIL in access.scopes:
        body.update(email=account.email, email_verified="true")
    body["access_type"] = "offline" if access.offline else "online"
    return body


def _id_token_info(state: State, value: str) -> dict[str, str] | None:
    verified = state.signer.verify(value)
    if verified is None:
        return None
    header, claims = verified
    if not isinstance(claims.get("exp"), int) or claims["exp"] <= state.clock.now():
        return None
    body = {name: _text(claim) for name, claim in claims.items()}
    body.update({name: _text(header[name]) for name in ("alg", "kid", "typ")})
    return body


def tokeninfo(state: State, request: Request) -> Response:
    """GET or POST /tokeninfo with ``access_token`` or ``id_token`` (query string or form)."""
    access_token, id_token = request.values.get("access_token"), request.values.get("id_token")
    with state.lock:
        if access_token:
            body = _access_token_info(state, access_token)
        elif id_token:
            body = _id_token_info(state, id_token)
        else:
            return errors.oauth_error(
                400, "invalid_request", "Either access_token, id_token, or token_handle required"
            )
    if body is None:
        return errors.oauth_error(400, "invalid_token", "Invalid Value")
    return errors.json_response(body, headers=_NO_STORE)
