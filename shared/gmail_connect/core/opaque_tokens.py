"""Unguessable tokens and the digests under which the server stores them.

States and sessions are stored under SHA-256 of the token, so a read of the tables gives
nothing that can be replayed; 32 random bytes = 256 bits, above the 128 bits required.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets

TOKEN_BYTES = 32
_TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{43}$")


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def is_token_shaped(value: str | None) -> bool:
    """Cheap check before any database lookup: garbage never reaches DynamoDB."""
    return bool(value) and bool(_TOKEN_SHAPE.match(value or ""))


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def pkce_pair() -> tuple[str, str]:
    """RFC 7636 S256: a 86-character verifier and its challenge."""
    verifier = secrets.token_urlsafe(64)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def new_id(prefix: str) -> str:
    """A public identifier (not a secret): `prefix_` + 24 hex characters (96 random bits)."""
    return f"{prefix}_{secrets.token_hex(12)}"
