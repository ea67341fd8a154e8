"""Who a token belongs to: ID tokens checked by google-auth itself, userinfo v2, tokeninfo."""

from __future__ import annotations

import base64
import json
import re
import time
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import jwt as google_jwt
from google.auth.transport.requests import Request
from google.oauth2 import id_token as google_id_token
from google_auth_oauthlib.flow import Flow

from .conftest import DEMO, EMAIL, OPENID, PROFILE, READONLY, Google

GOOGLE_ISSUER = "https://accounts.google.com"
INVALID_VALUE = {"error": "invalid_token", "error_description": "Invalid Value"}


def _sub(google: Google) -> str:
    return str(google.control("GET", f"/accounts/{DEMO}").json()["sub"])


def _tampered(id_token: str) -> str:
    """The same header and signature over claims that now name someone else."""
    header, payload, signature = id_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged = json.dumps({**claims, "email": "attacker@example.com"}).encode()
    return f"{header}.{base64.urlsafe_b64encode(forged).rstrip(b'=').decode()}.{signature}"


def _tokeninfo(google: Google, **params: str) -> Any:
    return google.http.get(f"{google.url}/tokeninfo", params=params, timeout=10)


# -- ID tokens and the signing keys -------------------------------------------------------


def test_google_auths_own_verification_accepts_the_id_token(
    google: Google, connected: tuple[Flow, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    id_token = connected[1]["id_token"]
    # Given google-auth reading its Google certificates from the emulator instead of googleapis.com
    monkeypatch.setattr(google_id_token, "_GOOGLE_OAUTH2_CERTS_URL", f"{google.url}/oauth2/v1/certs")
    # When the library verifies the token as it verifies Google's: signature, audience, expiry, issuer
    claims = google_id_token.verify_oauth2_token(id_token, Request(), audience=google.client_id)
    # Then it accepts it, and the issuer is Google's, not the emulator's address
    assert claims["iss"] == GOOGLE_ISSUER
    assert (claims["sub"], claims["email"]) == (_sub(google), DEMO)
    explicit = google_id_token.verify_token(
        id_token, Request(), audience=google.client_id, certs_url=f"{google.url}/oauth2/v1/certs"
    )
    assert explicit == claims


def test_google_auth_refuses_a_tampered_or_misaddressed_id_token(
    google: Google, connected: tuple[Flow, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    id_token = connected[1]["id_token"]
    certs_url = f"{google.url}/oauth2/v1/certs"
    monkeypatch.setattr(google_id_token, "_GOOGLE_OAUTH2_CERTS_URL", certs_url)
    with pytest.raises(ValueError, match="Could not verify token signature"):
        google_id_token.verify_oauth2_token(_tampered(id_token), Request(), audience=google.client_id)
    with pytest.raises(ValueError, match="audience"):
        google_id_token.verify_token(id_token, Request(), audience="someone-else", certs_url=certs_url)


def test_the_signing_keys_are_published_for_clients_to_cache(
    google: Google, connected: tuple[Flow, dict[str, Any]]
) -> None:
    kid = google_jwt.decode_header(connected[1]["id_token"])["kid"]
    pem = google.http.get(f"{google.url}/oauth2/v1/certs", timeout=10)
    jwks = google.http.get(f"{google.url}/oauth2/v3/certs", timeout=10)
    for response in (pem, jwks):
        assert response.status_code == 200
        cache_control = response.headers["Cache-Control"]
        # Google lets clients keep its keys for hours
        assert "public" in cache_control
        assert "must-revalidate" in cache_control
        max_age = re.search(r"max-age=(\d+)", cache_control)
        assert max_age is not None
        assert int(max_age.group(1)) >= 3600
    # both name the key that signed the token, and describe the same public key
    (certificate,) = pem.json().items()
    (jwk,) = jwks.json()["keys"]
    assert certificate[0] == jwk["kid"] == kid
    public_key = x509.load_pem_x509_certificate(certificate[1].encode()).public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    n = int.from_bytes(base64.urlsafe_b64decode(jwk["n"] + "=" * (-len(jwk["n"]) % 4)), "big")
    assert public_key.public_numbers().n == n


# -- userinfo v2 --------------------------------------------------------------------------


def test_userinfo_v2_answers_in_its_own_shape(google: Google) -> None:
    sub = _sub(google)
    _, full = google.connect([OPENID, EMAIL, PROFILE, READONLY])
    body = google.api("/oauth2/v2/userinfo", full["access_token"]).json()
    assert body == {
        "id": sub,
        "email": DEMO,
        "verified_email": True,
        "name": "Demo User",
        "given_name": "Demo",
        "family_name": "User",
        "picture": body["picture"],
    }
    assert body["picture"].startswith("https://")
    _, email_only = google.connect([OPENID, EMAIL])
    assert google.api("/oauth2/v2/userinfo", email_only["access_token"]).json() == {
        "id": sub,
        "email": DEMO,
        "verified_email": True,
    }


def test_userinfo_v2_refuses_a_bad_token_with_the_api_error_envelope(google: Google) -> None:
    refused = google.api("/oauth2/v2/userinfo", "ya29.not-a-token")
    assert refused.status_code == 401
    assert refused.json()["error"]["status"] == "UNAUTHENTICATED"
    assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]
    assert google.api("/oauth2/v2/userinfo", None).status_code == 401


# -- tokeninfo ----------------------------------------------------------------------------


def test_tokeninfo_describes_an_access_token_in_strings(
    google: Google, connected: tuple[Flow, dict[str, Any]]
) -> None:
    access_token = connected[1]["access_token"]
    body = _tokeninfo(google, access_token=access_token).json()
    assert body == {
        "azp": google.client_id,
        "aud": google.client_id,
        "sub": _sub(google),
        "scope": f"{OPENID} {EMAIL} {READONLY}",
        "exp": body["exp"],
        "expires_in": body["expires_in"],
        "email": DEMO,
        "email_verified": "true",
        "access_type": "offline",
    }
    assert 3590 <= int(body["expires_in"]) <= 3600
    assert abs(int(body["exp"]) - (time.time() + 3600)) < 10
    # the same answer to a POST with the token in the body
    posted = google.http.post(f"{google.url}/tokeninfo", data={"access_token": access_token}, timeout=10)
    assert posted.json() | {"expires_in": body["expires_in"]} == body


def test_tokeninfo_shows_no_identity_without_an_identity_scope(google: Google) -> None:
    _, token = google.connect([READONLY], access_type="online")
    body = _tokeninfo(google, access_token=token["access_token"]).json()
    assert body == {
        "azp": google.client_id,
        "aud": google.client_id,
        "scope": READONLY,
        "exp": body["exp"],
        "expires_in": body["expires_in"],
        "access_type": "online",
    }


def test_tokeninfo_refuses_unknown_expired_and_revoked_tokens_alike(
    google: Google, connected: tuple[Flow, dict[str, Any]]
) -> None:
    token = connected[1]
    unknown = _tokeninfo(google, access_token="ya29.not-a-token")
    assert (unknown.status_code, unknown.json()) == (400, INVALID_VALUE)
    google.advance(3600)
    expired = _tokeninfo(google, access_token=token["access_token"])
    assert (expired.status_code, expired.json()) == (400, INVALID_VALUE)
    fresh = google.token_request(grant_type="refresh_token", refresh_token=token["refresh_token"]).json()
    assert _tokeninfo(google, access_token=fresh["access_token"]).status_code == 200
    assert google.http.post(f"{google.url}/revoke", data={"token": fresh["access_token"]}).status_code == 200
    revoked = _tokeninfo(google, access_token=fresh["access_token"])
    assert (revoked.status_code, revoked.json()) == (400, INVALID_VALUE)
    missing = _tokeninfo(google)
    assert missing.status_code == 400
    assert missing.json()["error"] == "invalid_request"


def test_tokeninfo_checks_an_id_token_and_answers_its_claims_in_strings(
    google: Google, connected: tuple[Flow, dict[str, Any]]
) -> None:
    id_token = connected[1]["id_token"]
    body = _tokeninfo(google, id_token=id_token).json()
    claims = google_id_token.verify_token(
        id_token, Request(), audience=google.client_id, certs_url=f"{google.url}/oauth2/v1/certs"
    )
    assert body["iss"] == GOOGLE_ISSUER
    assert (body["aud"], body["azp"], body["sub"]) == (google.client_id, google.client_id, _sub(google))
    assert (body["email"], body["email_verified"]) == (DEMO, "true")
    assert (body["iat"], body["exp"]) == (str(claims["iat"]), str(claims["exp"]))
    (jwk,) = google.http.get(f"{google.url}/oauth2/v3/certs").json()["keys"]
    assert (body["alg"], body["kid"], body["typ"]) == ("RS256", jwk["kid"], "JWT")
    assert all(isinstance(value, str) for value in body.values())
    # a forged token, and the real one once expired, are both "Invalid Value"
    forged = _tokeninfo(google, id_token=_tampered(id_token))
    assert (forged.status_code, forged.json()) == (400, INVALID_VALUE)
    google.advance(3600)
    expired = _tokeninfo(google, id_token=id_token)
    assert (expired.status_code, expired.json()) == (400, INVALID_VALUE)
