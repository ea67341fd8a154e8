"""OAuth 2.0 against the emulator with the real google-auth-oauthlib, google-auth and requests."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import jwt as google_jwt
from google.auth.transport.requests import Request
from google.oauth2 import id_token as google_id_token
from google_auth_oauthlib.flow import Flow
from oauthlib.oauth2.rfc6749.errors import InvalidGrantError

from infra.google_emulator import GoogleEmulator

from .conftest import (
    DEMO,
    EMAIL,
    OPENID,
    OTHER_REDIRECT_URI,
    PRODUCT_SCOPES,
    PROFILE,
    READONLY,
    REDIRECT_URI,
    Google,
)

EXPIRED_OR_REVOKED = {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}
BAD_GRANT = {"error": "invalid_grant", "error_description": "Bad Request"}


def _with_params(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()} | changes
    return parts._replace(query=urlencode(query)).geturl()


def _code(google: Google, flow: Flow, **params: str | None) -> str:
    return google.decide(google.authorization_url(flow, **params)).params["code"]


# -- consent page -------------------------------------------------------------------------


def test_consent_page_offers_accounts_scopes_and_both_buttons(google: Google) -> None:
    # Given a second account besides the demo one
    created = google.control("POST", "/accounts", {"email": "second@example.com", "name": "Second User"})
    assert created.status_code == 201
    # When the app asks with the short scope names and a login hint
    page = google.open_consent(
        google.authorization_url(google.flow([OPENID, "email", READONLY]), login_hint="second@example.com")
    )
    # Then the hinted account is pre-selected, every scope is ticked (by its full URI), both buttons show
    assert page.status == 200
    assert page.accounts == {DEMO: False, "second@example.com": True}
    assert page.scopes == {OPENID: True, EMAIL: True, READONLY: True}
    assert page.buttons == {"deny": "Deny", "allow": "Allow"}
    assert page.action == f"{google.url}/o/oauth2/v2/auth/decision"
    # and the form carries only an opaque id: client, redirect URI and challenge stay server-side
    assert list(page.hidden) == ["request_id"]
    assert google.config["web"]["client_id"] not in page.hidden["request_id"]
    # Without a hint, the first account is pre-selected
    assert google.open_consent(google.authorization_url(google.flow())).accounts == {
        DEMO: True,
        "second@example.com": False,
    }


def test_allow_redirects_with_code_state_and_granted_scopes(google: Google) -> None:
    redirect = google.decide(google.authorization_url(google.flow(), state="state-123"))
    assert redirect.location.startswith(f"{REDIRECT_URI}?")
    assert redirect.params["state"] == "state-123"
    assert redirect.params["code"].startswith("4/0A")
    assert 60 <= len(redirect.params["code"]) <= 256
    assert redirect.params["scope"].split() == PRODUCT_SCOPES
    assert "error" not in redirect.params


def test_deny_redirects_with_access_denied_and_no_code(google: Google) -> None:
    redirect = google.decide(google.authorization_url(google.flow(), state="s-1"), "deny")
    assert redirect.location.startswith(f"{REDIRECT_URI}?")
    assert redirect.params == {"error": "access_denied", "state": "s-1"}


def test_unticking_every_scope_is_a_deny(google: Google) -> None:
    redirect = google.decide(google.authorization_url(google.flow(), state="s-2"), untick=PRODUCT_SCOPES)
    assert redirect.params == {"error": "access_denied", "state": "s-2"}


def test_an_unticked_scope_is_not_granted(google: Google) -> None:
    flow, token = google.connect(untick=[READONLY])
    assert token["scope"] == [OPENID, EMAIL]
    assert flow.credentials.granted_scopes == [OPENID, EMAIL]
    # the grant recorded at Google has only what the user left ticked
    grants = google.control("GET", f"/accounts/{DEMO}").json()["grants"]
    assert [grant["scopes"] for grant in grants] == [[OPENID, EMAIL]]


@pytest.mark.parametrize(
    ("parameter", "value", "shown"),
    [
        ("client_id", "unknown.apps.googleusercontent.com", "Error 401: invalid_client"),
        ("redirect_uri", "http://127.0.0.1:3000/not-registered", "Error 400: redirect_uri_mismatch"),
        ("response_type", "token", "Error 400: unsupported_response_type"),
        ("scope", "openid not-a-scope", "Error 400: invalid_scope"),
        ("scope", "openid https://www.googleapis.com/auth/gmail.reader", "Error 400: invalid_scope"),
        ("prompt", "none consent", "Error 400: invalid_request"),
        ("code_challenge_method", "S512", "Error 400: invalid_request"),
    ],
)
def test_an_invalid_request_gets_an_error_page_not_a_redirect(
    google: Google, parameter: str, value: str, shown: str
) -> None:
    url = _with_params(google.authorization_url(google.flow()), **{parameter: value})
    page = google.open_consent(url)  # asserts there is no Location header
    assert page.status == 400
    assert shown in page.html
    assert page.accounts == {}
    assert page.buttons == {}


def test_a_misspelt_scope_is_refused_and_named(google: Google) -> None:
    # Given a scope that differs from a real one only in case (Google's names are case-sensitive)
    misspelt = "https://www.googleapis.com/auth/gmail.readOnly"
    # When the app asks for it beside valid ones
    page = google.open_consent(google.authorization_url(google.flow([OPENID, "email", misspelt])))
    # Then Google's error page names the invalid scope and the valid ones, with no redirect
    assert page.status == 400
    assert "Error 400: invalid_scope" in page.html
    assert f"valid=[{OPENID}, {EMAIL}], invalid=[{misspelt}]" in page.html
    assert page.buttons == {}


@pytest.mark.parametrize(
    "scope",
    [
        "https://mail.google.com/",
        "https://www.googleapis.com/auth/gmail.modify",
        "https://www.googleapis.com/auth/gmail.metadata",
        "https://www.googleapis.com/auth/gmail.labels",
        "https://www.googleapis.com/auth/gmail.send",
        "https://www.googleapis.com/auth/gmail.compose",
        "https://www.googleapis.com/auth/gmail.insert",
        "https://www.googleapis.com/auth/gmail.settings.basic",
        "profile",
    ],
)
def test_every_real_gmail_and_identity_scope_is_offered(google: Google, scope: str) -> None:
    page = google.open_consent(google.authorization_url(google.flow([OPENID, scope])))
    assert page.status == 200
    full = PROFILE if scope == "profile" else scope
    assert page.scopes == {OPENID: True, full: True}


def test_a_decision_counts_once_and_cannot_redirect_elsewhere(google: Google) -> None:
    page = google.open_consent(google.authorization_url(google.flow(), state="s-3"))
    form = {
        "request_id": page.hidden["request_id"],
        "account": DEMO,
        "scope": READONLY,
        "decision": "allow",
        "redirect_uri": "https://attacker.example/steal",  # ignored: the server kept the original
    }
    first = google.http.post(page.action, data=form, allow_redirects=False)
    assert first.status_code == 302
    assert first.headers["Location"].startswith(f"{REDIRECT_URI}?")
    second = google.http.post(page.action, data=form, allow_redirects=False)
    assert second.status_code == 400
    assert "Location" not in second.headers
    assert "already answered" in second.text


# -- authorization codes ------------------------------------------------------------------


def test_a_code_is_single_use_and_a_replay_revokes_what_it_issued(google: Google) -> None:
    flow = google.flow()
    code = _code(google, flow)
    token = flow.fetch_token(code=code)
    assert google.api("/v1/userinfo", token["access_token"]).status_code == 200
    # When the same code comes back
    replay = google.token_request(
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT_URI,
        code_verifier=flow.code_verifier,
    )
    # Then it is refused, and the tokens it produced are dead (RFC 6749 4.1.2)
    assert replay.status_code == 400
    assert replay.json() == BAD_GRANT
    assert google.api("/v1/userinfo", token["access_token"]).status_code == 401
    refresh = google.token_request(grant_type="refresh_token", refresh_token=token["refresh_token"])
    assert refresh.json() == EXPIRED_OR_REVOKED


def test_a_code_expires_after_ten_minutes_of_emulator_time(google: Google) -> None:
    young_flow, old_flow = google.flow(), google.flow()
    young, old = _code(google, young_flow), _code(google, old_flow)
    google.advance(599)
    assert young_flow.fetch_token(code=young)["access_token"].startswith("ya29.")
    google.advance(2)
    with pytest.raises(InvalidGrantError) as refused:
        old_flow.fetch_token(code=old)
    assert refused.value.description == "Bad Request"


def test_a_code_is_bound_to_its_redirect_uri(google: Google) -> None:
    flow = google.flow()
    code = _code(google, flow)
    wrong = google.token_request(
        grant_type="authorization_code",
        code=code,
        redirect_uri=OTHER_REDIRECT_URI,
        code_verifier=flow.code_verifier,
    )
    assert wrong.status_code == 400
    assert wrong.json() == {"error": "redirect_uri_mismatch", "error_description": "Bad Request"}
    # a failed attempt does not use the code up
    assert flow.fetch_token(code=code)["token_type"] == "Bearer"


def test_a_code_is_bound_to_its_pkce_challenge(google: Google) -> None:
    flow = google.flow()
    code = _code(google, flow)
    exchange = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    missing = google.token_request(**exchange)
    assert (missing.status_code, missing.json()) == (
        400,
        {"error": "invalid_grant", "error_description": "Missing code verifier."},
    )
    wrong = google.token_request(**exchange, code_verifier="w" * 43)
    assert (wrong.status_code, wrong.json()) == (
        400,
        {"error": "invalid_grant", "error_description": "Invalid code verifier."},
    )
    assert flow.code_verifier is not None
    assert flow.fetch_token(code=code)["access_token"]


def test_plain_pkce_and_a_verifier_nobody_asked_for(google: Google) -> None:
    base = {
        "client_id": google.client_id,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": READONLY,
    }
    verifier = "plain-verifier-" + "v" * 40
    plain = google.decide(f"{google.url}/o/oauth2/v2/auth?{urlencode(base | {'code_challenge': verifier})}")
    ok = google.token_request(
        grant_type="authorization_code",
        code=plain.params["code"],
        redirect_uri=REDIRECT_URI,
        code_verifier=verifier,
    )
    assert ok.status_code == 200
    assert ok.json()["scope"] == READONLY
    bare = google.decide(f"{google.url}/o/oauth2/v2/auth?{urlencode(base)}")
    extra = google.token_request(
        grant_type="authorization_code",
        code=bare.params["code"],
        redirect_uri=REDIRECT_URI,
        code_verifier=verifier,
    )
    assert extra.json() == {
        "error": "invalid_grant",
        "error_description": "code_verifier or verifier is not needed.",
    }


def test_a_code_is_bound_to_its_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    first = {"client_id": "first.apps.googleusercontent.com", "client_secret": "first-secret"}
    second = {"client_id": "second.apps.googleusercontent.com", "client_secret": "second-secret"}
    with GoogleEmulator(clients=[first, second]) as emu:
        google = Google(emu)  # registers its redirect URIs for the first client
        assert google.client_id == first["client_id"]
        flow = google.flow()
        code = _code(google, flow)
        exchange = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": flow.code_verifier,
        }
        stolen = requests.post(
            f"{emu.url}/token", data=exchange, auth=(second["client_id"], second["client_secret"]), timeout=10
        )
        assert (stolen.status_code, stolen.json()) == (400, BAD_GRANT)
        # and the second client cannot even start a flow with the first one's redirect URI
        other = _with_params(google.authorization_url(flow), client_id=second["client_id"])
        assert "redirect_uri_mismatch" in google.open_consent(other).html
        assert flow.fetch_token(code=code)["access_token"]


# -- client authentication and grant types ------------------------------------------------


def test_client_authentication_by_basic_or_body(google: Google) -> None:
    flow = google.flow()
    exchange = {
        "grant_type": "authorization_code",
        "code": _code(google, flow),
        "redirect_uri": REDIRECT_URI,
        "code_verifier": flow.code_verifier,
    }
    url = f"{google.url}/token"
    unauthorized = {"error": "invalid_client", "error_description": "Unauthorized"}
    wrong = requests.post(url, data=exchange, auth=(google.client_id, "wrong-secret"), timeout=10)
    assert (wrong.status_code, wrong.json()) == (401, unauthorized)
    no_secret = requests.post(url, data=exchange | {"client_id": google.client_id}, timeout=10)
    assert (no_secret.status_code, no_secret.json()) == (401, unauthorized)
    unknown = requests.post(url, data=exchange, auth=("nobody.apps.googleusercontent.com", "x"), timeout=10)
    assert unknown.json() == {
        "error": "invalid_client",
        "error_description": "The OAuth client was not found.",
    }
    basic = requests.post(url, data=exchange, auth=(google.client_id, google.client_secret), timeout=10)
    assert basic.status_code == 200
    assert set(basic.json()) == {
        "access_token",
        "expires_in",
        "refresh_token",
        "scope",
        "token_type",
        "id_token",
    }


def test_an_unknown_grant_type_is_refused(google: Google) -> None:
    response = google.token_request(grant_type="password", username="u", password="p")
    assert response.status_code == 400
    assert response.json() == {
        "error": "unsupported_grant_type",
        "error_description": "Invalid grant_type: password",
    }


# -- refresh tokens -----------------------------------------------------------------------


def test_refresh_token_only_on_first_consent_or_with_prompt_consent(google: Google) -> None:
    _, first = google.connect(prompt=None)
    _, second = google.connect(prompt=None)
    _, forced = google.connect(prompt="consent")
    _, online = google.connect(prompt="consent", access_type="online")
    assert first["refresh_token"].startswith("1//")
    assert "refresh_token" not in second
    assert second["access_token"] != first["access_token"]
    assert forced["refresh_token"] != first["refresh_token"]
    assert "refresh_token" not in online
    # both refresh tokens stay usable
    for refresh_token in (first["refresh_token"], forced["refresh_token"]):
        assert (
            google.token_request(grant_type="refresh_token", refresh_token=refresh_token).status_code == 200
        )


def test_the_refresh_grant_with_google_auth(google: Google, connected: tuple[Flow, dict[str, Any]]) -> None:
    flow, token = connected
    credentials = flow.credentials
    credentials.refresh(Request())
    assert credentials.token != token["access_token"]
    assert credentials.refresh_token == token["refresh_token"]
    assert credentials.valid
    assert google.api("/gmail/v1/users/me/profile", credentials.token).json()["emailAddress"] == DEMO
    # The raw answer: a new access token and an id_token, never a new refresh token
    raw = google.token_request(grant_type="refresh_token", refresh_token=token["refresh_token"]).json()
    assert set(raw) == {"access_token", "expires_in", "scope", "token_type", "id_token"}
    assert raw["expires_in"] == 3599
    assert raw["scope"].split() == PRODUCT_SCOPES
    assert raw["token_type"] == "Bearer"


def test_a_refresh_may_narrow_but_not_widen_the_scopes(
    google: Google, connected: tuple[Flow, dict[str, Any]]
) -> None:
    refresh_token = connected[1]["refresh_token"]
    narrow = google.token_request(
        grant_type="refresh_token", refresh_token=refresh_token, scope=READONLY
    ).json()
    assert narrow["scope"] == READONLY
    assert "id_token" not in narrow
    wide = google.token_request(
        grant_type="refresh_token", refresh_token=refresh_token, scope=f"{READONLY} {PROFILE}"
    )
    assert (wide.status_code, wide.json()) == (
        400,
        {"error": "invalid_scope", "error_description": "Bad Request"},
    )


def test_include_granted_scopes_returns_the_union(google: Google) -> None:
    google.connect([OPENID, EMAIL])
    _, incremental = google.connect([READONLY], include_granted_scopes="true")
    assert sorted(incremental["scope"]) == sorted([OPENID, EMAIL, READONLY])
    _, alone = google.connect([READONLY])
    assert alone["scope"] == [READONLY]


def test_at_most_100_refresh_tokens_per_account_and_client(google: Google) -> None:
    refresh_tokens = [google.connect(prompt="consent")[1]["refresh_token"] for _ in range(101)]
    assert len(set(refresh_tokens)) == 101
    oldest = google.token_request(grant_type="refresh_token", refresh_token=refresh_tokens[0])
    assert oldest.json() == EXPIRED_OR_REVOKED
    for live in (refresh_tokens[1], refresh_tokens[-1]):
        assert google.token_request(grant_type="refresh_token", refresh_token=live).status_code == 200
    (grant,) = google.control("GET", f"/accounts/{DEMO}").json()["grants"]
    assert grant["refresh_tokens"] == 100


# -- revocation ---------------------------------------------------------------------------


def test_revoke_kills_the_whole_grant(google: Google, connected: tuple[Flow, dict[str, Any]]) -> None:
    token = connected[1]
    revoked = google.http.post(f"{google.url}/revoke", data={"token": token["access_token"]})
    assert (revoked.status_code, revoked.json()) == (200, {})
    # the refresh token of the same grant died with the access token
    refresh = google.token_request(grant_type="refresh_token", refresh_token=token["refresh_token"])
    assert (refresh.status_code, refresh.json()) == (400, EXPIRED_OR_REVOKED)
    assert google.api("/v1/userinfo", token["access_token"]).status_code == 401
    again = google.http.post(f"{google.url}/revoke", data={"token": token["refresh_token"]})
    assert (again.status_code, again.json()) == (
        400,
        {"error": "invalid_token", "error_description": "Token expired or revoked"},
    )
    assert google.control("GET", f"/accounts/{DEMO}").json()["grants"] == []
    # consent after a revocation is a first consent again: a refresh token without prompt=consent
    assert "refresh_token" in google.connect(prompt=None)[1]


def test_revoke_takes_the_token_in_the_query_string_too(
    google: Google, connected: tuple[Flow, dict[str, Any]]
) -> None:
    token = connected[1]
    revoked = google.http.post(f"{google.url}/revoke", params={"token": token["refresh_token"]})
    assert (revoked.status_code, revoked.json()) == (200, {})
    assert google.api("/v1/userinfo", token["access_token"]).status_code == 401


def test_revoke_by_get_is_not_found_and_revokes_nothing(
    google: Google, connected: tuple[Flow, dict[str, Any]]
) -> None:
    token = connected[1]
    # When the app revokes with GET, as an old guide did
    response = google.http.get(f"{google.url}/revoke", params={"token": token["access_token"]})
    # Then Google's 404 page comes back, without echoing the token, and the grant lives on
    assert response.status_code == 404
    assert "Error 404 (Not Found)" in response.text
    assert token["access_token"] not in response.text
    assert google.api("/v1/userinfo", token["access_token"]).status_code == 200
    assert len(google.control("GET", f"/accounts/{DEMO}").json()["grants"]) == 1


def test_the_user_revoking_access_in_account_settings(
    google: Google, connected: tuple[Flow, dict[str, Any]]
) -> None:
    token = connected[1]
    assert len(google.control("GET", f"/accounts/{DEMO}").json()["grants"]) == 1
    assert google.control("POST", f"/accounts/{DEMO}/revoke").status_code == 204
    assert google.control("GET", f"/accounts/{DEMO}").json()["grants"] == []
    refresh = google.token_request(grant_type="refresh_token", refresh_token=token["refresh_token"])
    assert refresh.json() == EXPIRED_OR_REVOKED
    denied = google.api("/gmail/v1/users/me/profile", token["access_token"])
    assert denied.status_code == 401
    assert denied.json()["error"]["status"] == "UNAUTHENTICATED"


def test_an_access_token_expires_and_googleapiclient_refreshes_it(
    google: Google, connected: tuple[Flow, dict[str, Any]], gmail: Any
) -> None:
    token = connected[1]
    google.advance(3600)
    assert google.api("/gmail/v1/users/me/profile", token["access_token"]).status_code == 401
    before = google.stats()["calls"]
    # google-auth still believes its token is fresh (real clock); the 401 makes it refresh and retry
    assert gmail.users().getProfile(userId="me").execute()["emailAddress"] == DEMO
    after = google.stats()["calls"]
    assert after["POST /token"] == before["POST /token"] + 1
    profile = "GET /gmail/v1/users/{userId}/profile"
    assert after[profile] == before[profile] + 2


# -- identity -----------------------------------------------------------------------------


def test_userinfo_answers_what_the_scopes_allow(google: Google) -> None:
    sub = google.control("GET", f"/accounts/{DEMO}").json()["sub"]
    _, full = google.connect([OPENID, EMAIL, PROFILE, READONLY])
    for path in ("/v1/userinfo", "/oauth2/v3/userinfo"):
        body = google.api(path, full["access_token"]).json()
        assert body == {
            "sub": sub,
            "name": "Demo User",
            "given_name": "Demo",
            "family_name": "User",
            "picture": body["picture"],
            "email": DEMO,
            "email_verified": True,
        }
        assert body["picture"].startswith("https://")
    _, email_only = google.connect([OPENID, EMAIL])
    assert google.api("/v1/userinfo", email_only["access_token"]).json() == {
        "sub": sub,
        "email": DEMO,
        "email_verified": True,
    }
    invalid = google.api("/v1/userinfo", "ya29.not-a-token")
    assert invalid.status_code == 401
    assert invalid.json() == {"error": "invalid_request", "error_description": "Invalid Credentials"}


def test_the_id_token_verifies_against_the_published_keys(
    google: Google, connected: tuple[Flow, dict[str, Any]]
) -> None:
    token = connected[1]
    # google-auth's own verification, against the PEM certificates endpoint
    claims = google_id_token.verify_token(
        token["id_token"], Request(), audience=google.client_id, certs_url=f"{google.url}/oauth2/v1/certs"
    )
    account = google.control("GET", f"/accounts/{DEMO}").json()
    assert claims["iss"] == "https://accounts.google.com"
    assert claims["aud"] == claims["azp"] == google.client_id
    assert claims["sub"] == account["sub"]
    assert len(claims["sub"]) == 21
    assert claims["sub"].isdigit()
    assert (claims["email"], claims["email_verified"]) == (DEMO, True)
    assert claims["exp"] - claims["iat"] == 3600
    digest = hashlib.sha256(token["access_token"].encode()).digest()[:16]
    assert claims["at_hash"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    # the JWK Set describes the same key: rebuild it and verify again
    (jwk,) = google.http.get(f"{google.url}/oauth2/v3/certs").json()["keys"]
    assert (jwk["kty"], jwk["alg"], jwk["use"]) == ("RSA", "RS256", "sig")
    assert google_jwt.decode_header(token["id_token"])["kid"] == jwk["kid"]

    def number(value: str) -> int:
        return int.from_bytes(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)), "big")

    public_pem = (
        rsa.RSAPublicNumbers(number(jwk["e"]), number(jwk["n"]))
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    assert (
        google_jwt.decode(token["id_token"], certs={jwk["kid"]: public_pem}, audience=google.client_id)
        == claims
    )
    with pytest.raises(ValueError, match="audience"):
        google_jwt.decode(token["id_token"], certs={jwk["kid"]: public_pem}, audience="someone-else")
    header, _, signature = token["id_token"].split(".")
    forged = json.dumps({**claims, "email": "attacker@example.com"}).encode()
    tampered = f"{header}.{base64.urlsafe_b64encode(forged).rstrip(b'=').decode()}.{signature}"
    with pytest.raises(ValueError, match=r"Could not verify token signature"):
        google_jwt.decode(tampered, certs={jwk["kid"]: public_pem}, audience=google.client_id)


def test_no_id_token_without_openid_and_no_email_claim_without_the_email_scope(google: Google) -> None:
    _, without_openid = google.connect([EMAIL, READONLY])
    assert "id_token" not in without_openid
    _, openid_only = google.connect([OPENID, READONLY])
    claims = google_jwt.decode(openid_only["id_token"], verify=False)
    assert "email" not in claims
    assert claims["sub"] == google.control("GET", f"/accounts/{DEMO}").json()["sub"]
