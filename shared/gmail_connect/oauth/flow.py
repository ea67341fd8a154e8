"""Google's server-side OAuth 2.0 flow: the consent URL, the code exchange, who the user is.

The consent URL is plain URL building, so the authorize function never imports oauthlib,
requests or googleapiclient (its cold-start budget). The exchange runs on google-auth-oauthlib's
`Flow` with the PKCE verifier that the authorize call stored server-side.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from gmail_connect.core.config import SCOPES, get_settings
from gmail_connect.core.errors import CodeExchangeFailed, GoogleUnavailable, IdentityUnavailable
from gmail_connect.core.observability import logger
from gmail_connect.oauth.client_config import GoogleClient

# Errors of the token endpoint that mean "this code will never work": a 4xx for the caller.
_CODE_ERRORS = frozenset(
    {"invalid_grant", "redirect_uri_mismatch", "invalid_request", "unsupported_grant_type"}
)


@dataclass(frozen=True)
class Identity:
    user_id: str
    email: str


def authorization_url(
    client: GoogleClient,
    *,
    state: str,
    code_challenge: str,
    login_hint: str | None = None,
    force_consent: bool = False,
) -> str:
    """Google's consent page: offline access (a refresh token), PKCE S256, incremental scopes.

    `prompt=consent` mints a new refresh token and Google keeps only ~100 per account and client,
    so it is asked for only when no usable refresh token is stored.
    """
    params = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": client.redirect_uri,
        "scope": " ".join(SCOPES),
        "state": state,
        "access_type": "offline",
        "include_granted_scopes": "true",
        "code_challenge": code_challenge,
        "code_challenge_method": "S256",
    }
    if login_hint:
        params["login_hint"] = login_hint
    if force_consent:
        params["prompt"] = "consent"
    return f"{client.auth_uri}?{urlencode(params)}"


def exchange_code(client: GoogleClient, code: str, code_verifier: str) -> dict[str, Any]:
    """Trade the one-time code for tokens; the guide's `exchange_code`, raising domain errors."""
    import requests
    from google_auth_oauthlib.flow import Flow
    from oauthlib.oauth2.rfc6749.errors import OAuth2Error

    flow = Flow.from_client_config(
        client.as_flow_config(),
        scopes=list(SCOPES),
        redirect_uri=client.redirect_uri,
        code_verifier=code_verifier,
        autogenerate_code_verifier=False,
    )
    flow.oauth2session.register_compliance_hook("access_token_response", _reject_server_errors)
    try:
        token: dict[str, Any] = flow.fetch_token(code=code, timeout=get_settings().google_timeout_seconds)
    except Warning as scope_changed:
        # oauthlib raises its "Scope has changed" warning unless OAUTHLIB_RELAX_TOKEN_SCOPE is set;
        # a partial grant is legitimate here and `granted_scopes` judges it.
        token = getattr(scope_changed, "token", None) or {}
        if "access_token" not in token:
            raise
    except OAuth2Error as exc:
        if exc.error in _CODE_ERRORS:
            logger.info("Google refused the authorization code", extra={"oauth_error": exc.error})
            raise CodeExchangeFailed(
                "Google did not accept this sign-in (the link was already used or has expired). Start again."
            ) from None
        logger.error("Token endpoint rejected the exchange", extra={"oauth_error": exc.error})
        raise GoogleUnavailable(
            "Google rejected the sign-in for a reason on our side; try again later."
        ) from None
    except requests.RequestException as exc:
        logger.warning("Token endpoint unreachable", extra={"error_type": type(exc).__name__})
        raise GoogleUnavailable("Google could not be reached to complete the sign-in; try again.") from None
    return token


def _reject_server_errors(response: Any) -> Any:
    """oauthlib parses any body as a token response; a Google 5xx is an outage, not a bad code."""
    if response.status_code >= 500:
        raise GoogleUnavailable("Google's sign-in service is unavailable; try again shortly.")
    return response


def granted_scopes(token: dict[str, Any]) -> tuple[str, ...]:
    """With granular consent the user may untick scopes; the token response says what was granted."""
    scope = token.get("scope")
    if scope is None:
        return SCOPES
    scopes = scope.split() if isinstance(scope, str) else list(scope)
    return tuple(dict.fromkeys(scopes))


def identify(client: GoogleClient, token: dict[str, Any]) -> Identity:
    """Who granted access: the `id_token`, else the userinfo endpoint; the email, if the user
    unticked the email scope, from Gmail's own profile (readable with `gmail.readonly`).

    The id_token came straight from Google's token endpoint over TLS, so its claims are checked
    (issuer, audience, expiry) but its signature need not be (OpenID Connect Core 3.1.3.7).
    """
    claims = _id_token_claims(token.get("id_token"))
    if claims is not None:
        aud = claims.get("aud")
        audiences = aud if isinstance(aud, list) else [aud]
        if (
            client.client_id not in audiences
            or claims.get("iss") not in client.issuers
            or float(claims.get("exp", 0)) < time.time() - 60
        ):
            raise IdentityUnavailable("Google's identity token was not issued for this application.")
    else:
        claims = _get_json(str(get_settings().google_userinfo_uri), token["access_token"])
    user_id, email = str(claims.get("sub") or ""), str(claims.get("email") or "")
    if user_id and not email:
        profile_url = f"{str(get_settings().gmail_api_url).rstrip('/')}/gmail/v1/users/me/profile"
        email = str(_get_json(profile_url, token["access_token"]).get("emailAddress") or "")
    if not user_id or not email:
        raise IdentityUnavailable("Google did not say who the user is; try again.")
    return Identity(user_id=user_id, email=email.lower())


def _id_token_claims(id_token: Any) -> dict[str, Any] | None:
    if not isinstance(id_token, str) or id_token.count(".") != 2:
        return None
    payload = id_token.split(".")[1]
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (binascii.Error, ValueError):
        return None
    return claims if isinstance(claims, dict) else None


def _get_json(url: str, access_token: str) -> dict[str, Any]:
    import requests

    try:
        response = requests.get(
            url,
            headers={"Authorization": f"Bearer {access_token}"},
            timeout=get_settings().google_timeout_seconds,
        )
    except requests.RequestException:
        raise GoogleUnavailable("Google could not be reached to identify the user; try again.") from None
    if response.status_code >= 500 or response.status_code == 429:
        raise GoogleUnavailable("Google could not identify the user right now; try again.")
    if response.status_code != 200:
        raise IdentityUnavailable("Google did not say who the user is.")
    body: dict[str, Any] = response.json()
    return body
