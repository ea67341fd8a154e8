"""Google's OAuth 2.0 endpoints: consent, token, revoke, keys, discovery.

Behaviour follows "Using OAuth 2.0 for Web Server Applications": error pages (no redirect)
for an unknown client, unregistered redirect URI or unknown scope, ``prompt=none`` answered
without any page, single-use codes bound to client, redirect URI and PKCE challenge, refresh
tokens only on the first offline consent or with ``prompt=consent``, and the flat
``{"error", "error_description"}`` objects of the token endpoint.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit, urlunsplit

from werkzeug.wrappers import Request, Response

from . import consent_page, errors, scopes
from .accounts import Account
from .id_tokens import ISSUER, access_token_hash
from .oauth_store import ACCESS_TTL, AccessToken, AuthRequest, Client, RefreshToken
from .state import State

_NO_STORE = {"Cache-Control": "no-cache, no-store, max-age=0, must-revalidate", "Pragma": "no-cache"}
_PROMPTS = {"none", "consent", "select_account"}
# Google's signing keys are cached by clients for hours; Google says so in these headers.
_CERTS_CACHE = {"Cache-Control": "public, max-age=21600, must-revalidate, no-transform"}


def _error_page(code: int, name: str, detail: str) -> Response:
    """Google shows these instead of redirecting; the HTTP status is always 400."""
    return Response(
        consent_page.error(code, name, detail), status=400, content_type="text/html; charset=utf-8"
    )


def _redirect(uri: str, params: dict[str, str | None]) -> Response:
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [(key, value) for key, value in params.items() if value is not None]
    location = urlunsplit(parts._replace(query=urlencode(query)))
    return Response("", status=302, headers={"Location": location, **_NO_STORE})


# -- consent ------------------------------------------------------------------------------


def _validate_auth_request(state: State, args: Any) -> AuthRequest | Response:  # noqa: PLR0912
    client_id = args.get("client_id")
    if not client_id:
        return _error_page(400, "invalid_request", "Missing required parameter: client_id")
    client = state.clients.get(client_id)
    if client is None:
        return _error_page(401, "invalid_client", "The OAuth client was not found.")
    redirect_uri = args.get("redirect_uri")
    if not redirect_uri:
        return _error_page(400, "invalid_request", "Missing required parameter: redirect_uri")
    if redirect_uri not in client.redirect_uris:
        return _error_page(
            400,
            "redirect_uri_mismatch",
            "You can't sign in to this app because it doesn't comply with Google's OAuth 2.0 policy. "
            f"Register the redirect URI for this client. Request details: redirect_uri={redirect_uri}",
        )
    response_type = args.get("response_type")
    if not response_type:
        return _error_page(400, "invalid_request", "Required parameter is missing: response_type")
    if response_type != "code":
        return _error_page(400, "unsupported_response_type", f"Invalid response_type: {response_type}")
    requested = scopes.parse(args.get("scope"))
    if not requested:
        return _error_page(400, "invalid_request", "Missing required parameter: scope")
    invalid = [scope for scope in requested if not scopes.is_valid(scope)]
    if invalid:
        valid = ", ".join(scope for scope in requested if scopes.is_valid(scope))
        detail = f"Some requested scopes were invalid. {{valid=[{valid}], invalid=[{', '.join(invalid)}]}}"
        return _error_page(400, "invalid_scope", detail)
    access_type = args.get("access_type", "online")
    if access_type not in ("online", "offline"):
        return _error_page(400, "invalid_request", f"Invalid access_type: {access_type}")
    prompt = frozenset(args.get("prompt", "").split())
    if not prompt <= _PROMPTS or ("none" in prompt and len(prompt) > 1):
        return _error_page(400, "invalid_request", f"Invalid prompt: {args.get('prompt')}")
    challenge = args.get("code_challenge") or None
    method = args.get("code_challenge_method") or None
    if method and not challenge:
        return _error_page(400, "invalid_request", "Missing required parameter: code_challenge")
    if challenge:
        method = method or "plain"
        if method not in ("S256", "plain"):
            return _error_page(400, "invalid_request", f"Invalid code_challenge_method: {method}")
    return AuthRequest(
        id=state.oauth.new_request_id(),
        client_id=client_id,
        redirect_uri=redirect_uri,
        scopes=requested,
        state=args.get("state"),
        access_type=access_type,
        prompt=prompt,
        login_hint=args.get("login_hint"),
        include_granted_scopes=args.get("include_granted_scopes", "").lower() == "true",
        code_challenge=challenge,
        code_challenge_method=method,
        nonce=args.get("nonce"),
        created_at=state.clock.now(),
    )


def _approved(state: State, auth: AuthRequest, account: Account, granted: list[str], prompt: str) -> Response:
    """Back to the app with a code; ``prompt`` says whether a consent page was shown."""
    code = state.oauth.approve(auth, account.email, granted)
    authuser = list(state.accounts.values()).index(account)
    return _redirect(
        auth.redirect_uri,
        {
            "state": auth.state,
            "code": code.value,
            "scope": " ".join(code.scopes),
            "authuser": str(authuser),
            "prompt": prompt,
        },
    )


def _authorize_silently(state: State, auth: AuthRequest) -> Response:
    """``prompt=none``: no page at all, so either a code at once or an error redirect.

    The emulator's accounts stand for the accounts signed in to the browser (the consent page
    lists them all). One can be used without a page only if the login hint names it or it is
    the only one, and only if it already granted every requested scope to this client.
    """
    accounts = list(state.accounts.values())
    if auth.login_hint:
        account = state.account(auth.login_hint)
    elif len(accounts) > 1:
        return _redirect(auth.redirect_uri, {"error": "interaction_required", "state": auth.state})
    else:
        account = accounts[0] if accounts else None
    if account is None:
        return _redirect(auth.redirect_uri, {"error": "login_required", "state": auth.state})
    if not state.oauth.has_granted(account.email, auth.client_id, auth.scopes):
        return _redirect(auth.redirect_uri, {"error": "consent_required", "state": auth.state})
    return _approved(state, auth, account, auth.scopes, "none")


def authorize(state: State, request: Request) -> Response:
    """GET /o/oauth2/v2/auth: validate, then show the consent page (or, with ``prompt=none``, none)."""
    with state.lock:
        result = _validate_auth_request(state, request.args)
        if isinstance(result, Response):
            return result
        if "none" in result.prompt:
            return _authorize_silently(state, result)
        state.oauth.add_request(result)
        accounts = list(state.accounts.values())
        hinted = state.account(result.login_hint or "")
        selected = hinted.email if hinted else (accounts[0].email if accounts else None)
        html = consent_page.consent(result, accounts, selected)
    return Response(html, content_type="text/html; charset=utf-8", headers=_NO_STORE)


def decide(state: State, request: Request) -> Response:
    """POST /o/oauth2/v2/auth/decision: the user's Allow / Deny."""
    form = request.form
    with state.lock:
        auth = state.oauth.take_request(form.get("request_id", ""))
        if auth is None:
            return _error_page(
                400, "invalid_request", "This sign-in request has expired or was already answered."
            )
        decision = form.get("decision")
        if decision not in ("allow", "deny"):
            return _error_page(400, "invalid_request", "Choose Allow or Deny.")
        ticked = {scopes.normalize(scope) for scope in form.getlist("scope")}
        granted = [scope for scope in auth.scopes if scope in ticked]
        if decision == "deny" or not granted:
            return _redirect(auth.redirect_uri, {"error": "access_denied", "state": auth.state})
        account = state.account(form.get("account", ""))
        if account is None:
            return _error_page(400, "invalid_request", "Choose one of the listed accounts.")
        return _approved(state, auth, account, granted, "consent")


# -- token endpoint -----------------------------------------------------------------------


def _authenticate_client(state: State, request: Request) -> Client | Response:
    """Client credentials from HTTP Basic (RFC 6749 2.3.1) or from the form body."""
    auth = request.authorization
    if auth is not None and auth.type == "basic":
        client_id, secret = auth.username or "", auth.password or ""
    else:
        client_id, secret = request.form.get("client_id", ""), request.form.get("client_secret", "")
    if not client_id:
        return errors.oauth_error(400, "invalid_request", "Could not determine client ID from request.")
    client = state.clients.get(client_id) or state.clients.get(unquote_plus(client_id))
    if client is None:
        return errors.oauth_error(401, "invalid_client", "The OAuth client was not found.")
    if not secret or not (
        hmac.compare_digest(secret, client.client_secret)
        or hmac.compare_digest(unquote_plus(secret), client.client_secret)
    ):
        return errors.oauth_error(401, "invalid_client", "Unauthorized")
    return client


def _pkce_matches(verifier: str, challenge: str, method: str | None) -> bool:
    if method == "S256":
        digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
        computed = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
        return hmac.compare_digest(computed, challenge)
    return hmac.compare_digest(verifier, challenge)


def _id_token(state: State, access: AccessToken, nonce: str | None) -> str:
    account = state.account(access.email)
    assert account is not None  # noqa: S101 - accounts are never deleted
    now = int(state.clock.now())
    claims: dict[str, Any] = {"iss": ISSUER, "azp": access.client_id, "aud": access.client_id}
    claims["sub"] = account.sub
    if scopes.EMAIL in access.scopes:
        claims["email"] = account.email
        claims["email_verified"] = True
    claims["at_hash"] = access_token_hash(access.value)
    if nonce:
        claims["nonce"] = nonce
    if scopes.PROFILE in access.scopes:
        claims.update(name=account.name, picture=account.picture, given_name=account.given_name)
        claims["family_name"] = account.family_name
    claims["iat"] = now
    claims["exp"] = now + ACCESS_TTL
    return state.signer.sign(claims)


def _token_response(
    state: State,
    access: AccessToken,
    refresh: RefreshToken | None,
    ordered_scopes: tuple[str, ...],
    nonce: str | None,
) -> Response:
    body: dict[str, Any] = {"access_token": access.value, "expires_in": ACCESS_TTL - 1}
    if refresh is not None:
        body["refresh_token"] = refresh.value
    body["scope"] = " ".join(ordered_scopes)
    body["token_type"] = "Bearer"
    if scopes.OPENID in access.scopes:
        body["id_token"] = _id_token(state, access, nonce)
    return errors.json_response(body, 200, _NO_STORE)


def _exchange_code(state: State, client: Client, form: Any) -> Response:
    value = form.get("code")
    if not value:
        return errors.oauth_error(400, "invalid_request", "Missing required parameter: code")
    code = state.oauth.codes.get(value)
    if code is None or code.client_id != client.client_id or code.expires_at <= state.clock.now():
        return errors.oauth_error(400, "invalid_grant", "Bad Request")
    if code.redeemed:
        state.oauth.revoke_code_tokens(code)
        return errors.oauth_error(400, "invalid_grant", "Bad Request")
    redirect_uri = form.get("redirect_uri")
    if not redirect_uri:
        return errors.oauth_error(400, "invalid_request", "Missing required parameter: redirect_uri")
    if redirect_uri != code.redirect_uri:
        return errors.oauth_error(400, "redirect_uri_mismatch", "Bad Request")
    verifier = form.get("code_verifier")
    if code.code_challenge:
        if not verifier:
            return errors.oauth_error(400, "invalid_grant", "Missing code verifier.")
        if not _pkce_matches(verifier, code.code_challenge, code.code_challenge_method):
            return errors.oauth_error(400, "invalid_grant", "Invalid code verifier.")
    elif verifier:
        return errors.oauth_error(400, "invalid_grant", "code_verifier or verifier is not needed.")
    if (code.email, client.client_id) not in state.oauth.grants:  # revoked since the consent
        return errors.oauth_error(400, "invalid_grant", "Bad Request")
    code.redeemed = True
    access, refresh = state.oauth.issue(
        code.email,
        client.client_id,
        code.scopes,
        with_refresh_token=code.with_refresh_token,
        offline=code.offline,
    )
    code.access_token = access.value
    code.refresh_token = refresh.value if refresh else None
    return _token_response(state, access, refresh, code.scopes, code.nonce)


def _refresh(state: State, client: Client, form: Any) -> Response:
    value = form.get("refresh_token")
    if not value:
        return errors.oauth_error(400, "invalid_request", "Missing required parameter: refresh_token")
    token = state.oauth.refresh_tokens.get(value)
    if token is None:
        return errors.oauth_error(400, "invalid_grant", "Token has been expired or revoked.")
    if token.client_id != client.client_id:
        return errors.oauth_error(401, "unauthorized_client", "Unauthorized")
    requested = scopes.parse(form.get("scope"))
    if any(scope not in token.scopes for scope in requested):
        return errors.oauth_error(400, "invalid_scope", "Bad Request")
    granted = tuple(scope for scope in token.scopes if not requested or scope in requested)
    access, _ = state.oauth.issue(
        token.email,
        client.client_id,
        granted,
        with_refresh_token=False,
        offline=True,
        from_refresh_token=value,
    )
    return _token_response(state, access, None, granted, None)


def token(state: State, request: Request) -> Response:
    """POST /token."""
    with state.lock:
        client = _authenticate_client(state, request)
        if isinstance(client, Response):
            return client
        grant_type = request.form.get("grant_type")
        if grant_type == "authorization_code":
            return _exchange_code(state, client, request.form)
        if grant_type == "refresh_token":
            return _refresh(state, client, request.form)
        if not grant_type:
            return errors.oauth_error(400, "invalid_request", "Missing required parameter: grant_type")
        return errors.oauth_error(400, "unsupported_grant_type", f"Invalid grant_type: {grant_type}")


# -- revoke, keys, discovery -------------------------------------------------------------


def revoke(state: State, request: Request) -> Response:
    """POST /revoke (RFC 7009): any token of a grant revokes the whole grant.

    The token may come in the form body or the query string, but only with POST.
    """
    value = request.form.get("token") or request.args.get("token")
    with state.lock:
        if not value:
            return errors.oauth_error(400, "invalid_request", "Missing required parameter: token")
        grant = state.oauth.grant_of_token(value)
        if grant is None:
            return errors.oauth_error(400, "invalid_token", "Token expired or revoked")
        state.oauth.revoke_grant(grant)
    return errors.json_response({}, 200)


def revoke_by_get(state: State, request: Request) -> Response:
    """GET /revoke: Google's revoke endpoint answers anything but POST with its 404 page."""
    return Response(consent_page.not_found(request.path), status=404, content_type="text/html; charset=UTF-8")


def jwks(state: State, request: Request) -> Response:
    """GET /oauth2/v3/certs: the ID-token key as a JWK Set."""
    return errors.json_response(state.signer.jwks(), headers=_CERTS_CACHE)


def pem_certs(state: State, request: Request) -> Response:
    """GET /oauth2/v1/certs: ``{kid: PEM certificate}``, what google-auth's verify_token reads."""
    return errors.json_response(state.signer.pem_certificates(), headers=_CERTS_CACHE)


def openid_configuration(state: State, request: Request) -> Response:
    """Google's discovery document: Google's issuer, the endpoints at the emulator's URL."""
    url = state.base_url
    return errors.json_response(
        {
            "issuer": ISSUER,
            "authorization_endpoint": f"{url}/o/oauth2/v2/auth",
            "token_endpoint": f"{url}/token",
            "userinfo_endpoint": f"{url}/v1/userinfo",
            "revocation_endpoint": f"{url}/revoke",
            "jwks_uri": f"{url}/oauth2/v3/certs",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "claims_supported": [
                "aud",
                "email",
                "email_verified",
                "exp",
                "family_name",
                "given_name",
                "iat",
                "iss",
                "name",
                "picture",
                "sub",
            ],
            "code_challenge_methods_supported": ["plain", "S256"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
        }
    )
