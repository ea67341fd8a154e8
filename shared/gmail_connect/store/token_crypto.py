"""KMS encryption of Google tokens, bound to what they are and whose they are.

The encryption context names the purpose and the user id, so a ciphertext copied onto another
user's item (or used as the other kind of token) fails to decrypt, and IAM can restrict each
function to the purposes it needs (template.yaml's `kms:EncryptionContext:purpose` conditions).
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from gmail_connect.core import aws
from gmail_connect.core.config import get_settings
from gmail_connect.core.errors import GmailConnectError

REFRESH_TOKEN = "gmail-refresh-token"
ACCESS_TOKEN = "gmail-access-token"
# KMS's answers meaning "this ciphertext will never decrypt here": tampered, moved to another
# user, encrypted under another key or context. Throttling, an outage or an IAM mistake
# (AccessDenied: every account would look unusable) is not among them.
_UNUSABLE = frozenset({"InvalidCiphertextException", "IncorrectKeyException"})


class UndecryptableToken(GmailConnectError):
    """A stored token does not decrypt under its own context: the stored grant is unusable."""

    code = "grant_unusable"


def _context(purpose: str, user_id: str) -> dict[str, str]:
    return {"purpose": purpose, "user_id": user_id}


def encrypt(purpose: str, user_id: str, plaintext: str) -> bytes:
    blob: bytes = aws.client("kms").encrypt(
        KeyId=get_settings().token_key_id,
        Plaintext=plaintext.encode(),
        EncryptionContext=_context(purpose, user_id),
    )["CiphertextBlob"]
    return blob


def decrypt(purpose: str, user_id: str, ciphertext: bytes) -> str:
    """The plaintext; `UndecryptableToken` when KMS refuses this ciphertext under this context."""
    try:
        plaintext: bytes = aws.client("kms").decrypt(
            KeyId=get_settings().token_key_id,
            CiphertextBlob=ciphertext,
            EncryptionContext=_context(purpose, user_id),
        )["Plaintext"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] in _UNUSABLE:
            raise UndecryptableToken(f"The stored {purpose} does not decrypt for this account.") from None
        raise
    return plaintext.decode()
