"""Who a token belongs to: ID tokens checked by google-auth itself."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import jwt as google_jwt
from google.auth.transport.requests import Request
from google.oauth2 import id_token as google_id_token
from google_auth_oauthlib.flow import Flow

from .conftest import DEMO, Google

GOOGLE_ISSUER = "https://accounts.google.com"


def _sub(google: Google) -> str:
    return str(google.control("GET", f"/accounts/{DEMO}").json()["sub"])


def _tampered(id_token: str) -> str:
    """The same header and signature over claims that now name someone else."""
    header, payload, signature = id_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged = json.dumps({**claims, "email": "attacker@example.com"}).encode()
    return f"{header}.{base64.urlsafe_b64encode(forged).rstrip(b'=').decode()}.{signature}"


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
