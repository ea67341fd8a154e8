"""Push requests: the subscription's OIDC token is checked before the body is read; bodies parse safely.

Tokens are signed here with a key of the test's own (as Google signs Pub/Sub's), and the
certificate cache is filled as a fetch of Google's certs URL would fill it: no sockets.
"""

from __future__ import annotations

import base64
import datetime
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from gmail_connect.core.errors import Unauthenticated
from gmail_connect.push import notifications, oidc

AUDIENCE = "https://api.example.com/push/gmail"
SERVICE_ACCOUNT = "gmail-push@my-project.iam.gserviceaccount.com"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Signer:
    def __init__(self, kid: str = "k1") -> None:
        self.kid = kid
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test")])
        now = datetime.datetime.now(datetime.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(1)
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .sign(self.key, hashes.SHA256())
        )
        self.pem = certificate.public_bytes(serialization.Encoding.PEM).decode()

    def token(self, **claims: Any) -> str:
        now = int(time.time())
        body = {
            "iss": "https://accounts.google.com",
            "aud": AUDIENCE,
            "azp": "1234567890",
            "sub": "1234567890",
            "email": SERVICE_ACCOUNT,
            "email_verified": True,
            "iat": now,
            "exp": now + 3600,
            **claims,
        }
        body = {key: value for key, value in body.items() if value is not None}
        header = {"alg": "RS256", "kid": self.kid, "typ": "JWT"}
        signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(body).encode())}"
        signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{b64(signature)}"


@pytest.fixture
def signer(aws: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Signer]:
    signer = Signer()
    monkeypatch.setenv("PUSH_AUDIENCE", AUDIENCE)
    monkeypatch.setenv("PUSH_SERVICE_ACCOUNT", SERVICE_ACCOUNT)
    monkeypatch.setattr(
        oidc, "certificates", oidc._Certificates({signer.kid: signer.pem}, time.time() + 600, time.time())
    )
    from gmail_connect.core.config import get_settings

    get_settings.cache_clear()
    yield signer
    get_settings.cache_clear()


def test_the_subscriptions_token_is_accepted(signer: Signer) -> None:
    claims = oidc.verify(f"Bearer {signer.token()}")
    assert claims["email"] == SERVICE_ACCOUNT
    assert claims["aud"] == AUDIENCE


@pytest.mark.parametrize(
    ("claims", "refusal"),
    [
        ({"aud": "https://evil.example/push"}, Unauthenticated),
        ({"exp": int(time.time()) - 60, "iat": int(time.time()) - 3700}, Unauthenticated),
        ({"iat": int(time.time()) + 600}, Unauthenticated),
        ({"iss": "https://evil.example"}, oidc.PushForbidden),
        ({"email": "someone-else@my-project.iam.gserviceaccount.com"}, oidc.PushForbidden),
        ({"email_verified": False}, oidc.PushForbidden),
        ({"email_verified": None}, oidc.PushForbidden),
    ],
)
def test_a_token_with_the_wrong_claims_is_refused(signer: Signer, claims: dict, refusal: type) -> None:
    with pytest.raises(refusal):
        oidc.verify(f"Bearer {signer.token(**claims)}")


def test_a_token_signed_by_another_key_is_refused(signer: Signer) -> None:
    forger = Signer(kid=signer.kid)
    with pytest.raises(Unauthenticated):
        oidc.verify(f"Bearer {forger.token()}")


@pytest.mark.parametrize("header", [None, "", "Bearer", "Basic abc", "Bearer a.b", "Bearer " + "a." * 3000])
def test_a_missing_or_malformed_token_is_refused(signer: Signer, header: str | None) -> None:
    with pytest.raises(Unauthenticated):
        oidc.verify(header)


def test_without_a_configured_audience_nothing_is_accepted(signer: Signer, monkeypatch) -> None:
    # An empty audience would make jwt.decode skip the audience check: never
    monkeypatch.setenv("PUSH_AUDIENCE", "")
    from gmail_connect.core.config import get_settings

    get_settings.cache_clear()
    with pytest.raises(oidc.PushForbidden):
        oidc.verify(f"Bearer {signer.token()}")


def test_certificates_are_reused_while_their_cache_control_allows(signer: Signer, monkeypatch) -> None:
    fetched: list[float] = []
    monkeypatch.setattr(oidc.certificates, "_fetch", fetched.append)
    for _ in range(5):
        oidc.verify(f"Bearer {signer.token()}")
    assert fetched == []


def envelope(data: str) -> str:
    return json.dumps(
        {"message": {"data": data, "messageId": "1"}, "subscription": "projects/p/subscriptions/s"}
    )


def encoded(payload: Any, *, urlsafe: bool = False) -> str:
    raw = json.dumps(payload).encode()
    return (base64.urlsafe_b64encode(raw) if urlsafe else base64.b64encode(raw)).decode()


@pytest.mark.parametrize("urlsafe", [False, True])
@pytest.mark.parametrize("history", ["1234", 1234])
def test_gmail_notifications_parse_in_either_base64_with_string_or_number_history(urlsafe, history) -> None:
    body = envelope(encoded({"emailAddress": "Ann@Example.com", "historyId": history}, urlsafe=urlsafe))
    assert notifications.parse(body) == notifications.Notification("ann@example.com", 1234)


@pytest.mark.parametrize(
    "body",
    [
        None,
        "",
        "not json",
        "[]",
        json.dumps({"message": {}}),
        envelope("%%%not base64%%%"),
        envelope(encoded(["a list"])),
        envelope(encoded({"emailAddress": "ann@example.com"})),
        envelope(encoded({"emailAddress": "not-an-address", "historyId": "1"})),
        envelope(encoded({"emailAddress": "ann@example.com", "historyId": "12a"})),
        envelope(encoded({"emailAddress": 5, "historyId": "1"})),
        "x" * (notifications.MAX_BODY_BYTES + 1),
    ],
)
def test_malformed_notifications_parse_to_nothing_and_never_raise(body) -> None:
    assert notifications.parse(body) is None
