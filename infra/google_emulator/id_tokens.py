"""RS256 ID tokens signed with a key generated at start, issued as Google issues them.

``iss`` is Google's own issuer, whatever URL the emulator listens on, so a client that checks
the issuer as Google's OpenID documentation asks accepts the emulator's tokens unchanged.

The public key is published both as a JWK Set (``/oauth2/v3/certs``, what OIDC libraries
read) and as ``{kid: PEM certificate}`` (``/oauth2/v1/certs``, what google-auth's
``id_token.verify_token`` reads without PyJWT), as Google does.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import json
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

ISSUER = "https://accounts.google.com"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _int_b64url(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


class IdTokenSigner:
    def __init__(self) -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public_der = self._key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.kid = hashlib.sha1(public_der, usedforsecurity=False).hexdigest()
        self._certificate = self._self_signed_certificate()

    def _self_signed_certificate(self) -> x509.Certificate:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "google-emulator.local")])
        now = datetime.datetime.now(datetime.UTC)
        return (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=365))
            .sign(self._key, hashes.SHA256())
        )

    def jwks(self) -> dict[str, Any]:
        numbers = self._key.public_key().public_numbers()
        key = {
            "kty": "RSA",
            "alg": "RS256",
            "use": "sig",
            "kid": self.kid,
            "n": _int_b64url(numbers.n),
            "e": _int_b64url(numbers.e),
        }
        return {"keys": [key]}

    def pem_certificates(self) -> dict[str, str]:
        return {self.kid: self._certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")}

    def sign(self, claims: dict[str, Any]) -> str:
        header = {"alg": "RS256", "kid": self.kid, "typ": "JWT"}
        signing_input = ".".join(
            b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
        )
        signature = self._key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{b64url(signature)}"

    def verify(self, token: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """The header and claims of a token this signer signed, or None (forged, foreign, garbled)."""
        parts = token.split(".")
        if len(parts) != 3:
            return None
        try:
            header, claims = (json.loads(_b64url_decode(part)) for part in parts[:2])
            signature = _b64url_decode(parts[2])
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None
        if not isinstance(header, dict) or not isinstance(claims, dict) or header.get("kid") != self.kid:
            return None
        signing_input = f"{parts[0]}.{parts[1]}".encode("ascii")
        try:
            self._key.public_key().verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return None
        return header, claims


def access_token_hash(access_token: str) -> str:
    """OIDC ``at_hash``: left half of the SHA-256 of the access token, base64url."""
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return b64url(digest[: len(digest) // 2])
