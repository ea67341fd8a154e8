"""The consent URL and the identity checks, without any network."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from urllib.parse import parse_qs, urlsplit

import pytest

from gmail_connect.core.config import GMAIL_READONLY, SCOPES
from gmail_connect.core.errors import IdentityUnavailable
from gmail_connect.core.opaque_tokens import pkce_pair
from gmail_connect.oauth import flow
from gmail_connect.oauth.client_config import parse_client_config
from tests.conftest import CLIENT_CONFIG

CLIENT = parse_client_config(CLIENT_CONFIG)


def _query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def test_consent_url_asks_for_offline_access_with_pkce_and_state() -> None:
    url = flow.authorization_url(CLIENT, state="s" * 43, code_challenge="c" * 43, login_hint="a@example.com")
    assert url.startswith(CLIENT_CONFIG["web"]["auth_uri"] + "?")
    assert _query(url) == {
        "response_type": ["code"],
        "client_id": [CLIENT.client_id],
        "redirect_uri": ["http://127.0.0.1:3000/oauth/callback"],
        "scope": [" ".join(SCOPES)],
        "state": ["s" * 43],
        "access_type": ["offline"],
        "include_granted_scopes": ["true"],
        "code_challenge": ["c" * 43],
        "code_challenge_method": ["S256"],
        "login_hint": ["a@example.com"],
    }


def test_consent_is_forced_only_when_asked() -> None:
    assert "prompt" not in _query(flow.authorization_url(CLIENT, state="s", code_challenge="c"))
    forced = flow.authorization_url(CLIENT, state="s", code_challenge="c", force_consent=True)
    assert _query(forced)["prompt"] == ["consent"]


def test_pkce_challenge_is_the_s256_of_the_verifier() -> None:
    verifier, challenge = pkce_pair()
    assert 43 <= len(verifier) <= 128
    expected = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    assert challenge == expected
    assert pkce_pair()[0] != verifier


def test_redirect_uri_comes_from_configuration_not_requests() -> None:
    configured = parse_client_config(CLIENT_CONFIG, public_base_url="https://api.example.com")
    assert configured.redirect_uri == "https://api.example.com/oauth/callback"
    assert configured.public_base_url == "https://api.example.com"
    assert CLIENT.redirect_uri == "http://127.0.0.1:3000/oauth/callback"


def test_client_config_without_a_callback_uri_is_refused() -> None:
    broken = {"web": {**CLIENT_CONFIG["web"], "redirect_uris": ["https://elsewhere.example/cb"]}}
    with pytest.raises(ValueError, match="/oauth/callback"):
        parse_client_config(broken)


def test_granted_scopes_reads_partial_grants() -> None:
    assert flow.granted_scopes({"scope": "openid email"}) == ("openid", "email")
    assert GMAIL_READONLY in flow.granted_scopes({"scope": ["openid", GMAIL_READONLY]})


def _id_token(**claims: object) -> str:
    def part(value: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256'})}.{part(claims)}.signature"


def _claims(**overrides: object) -> dict[str, object]:
    return {
        "iss": "https://accounts.google.com",
        "aud": CLIENT.client_id,
        "sub": "110000000000000000001",
        "email": "Ada@Example.com",
        "exp": time.time() + 3600,
    } | overrides


def test_identity_comes_from_the_id_token() -> None:
    identity = flow.identify(CLIENT, {"access_token": "unused", "id_token": _id_token(**_claims())})
    assert identity == flow.Identity(user_id="110000000000000000001", email="ada@example.com")


def test_both_spellings_of_googles_issuer_are_accepted() -> None:
    # Google's OpenID documentation: `iss` is https://accounts.google.com or accounts.google.com
    bare = _id_token(**_claims(iss="accounts.google.com"))
    identity = flow.identify(CLIENT, {"access_token": "unused", "id_token": bare})
    assert identity.user_id == "110000000000000000001"


@pytest.mark.parametrize(
    "wrong",
    [
        {"aud": "someone-else.apps.googleusercontent.com"},
        {"iss": "https://evil.example"},
        {"iss": "https://accounts.google.test"},  # the configured auth_uri's host is not an issuer
        {"iss": "https://accounts.google.com/"},
        {"exp": time.time() - 600},
    ],
)
def test_id_token_for_another_client_or_issuer_or_expired_is_refused(wrong: dict[str, object]) -> None:
    with pytest.raises(IdentityUnavailable):
        flow.identify(CLIENT, {"access_token": "unused", "id_token": _id_token(**_claims(**wrong))})
