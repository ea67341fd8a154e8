"""The token store: one DynamoDB item per Google account, tokens encrypted under KMS.

Keyed by Google's stable user id (`sub`), with the email beside it. Tokens are encrypted with
KMS under an encryption context naming the purpose and the user id, so a ciphertext copied
onto another user's item fails to decrypt, and IAM can restrict decryption by purpose.

Writes are conditional on `version`, which every new grant bumps: two concurrent writers never
silently lose an update, and an access-token refresh that read an older grant can never
overwrite a newer re-consent.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from gmail_connect.core import aws
from gmail_connect.core.config import get_settings
from gmail_connect.core.errors import ConcurrentUpdate

CONNECTED = "connected"
REAUTHORIZATION_REQUIRED = "reauthorization_required"
REFRESH_TOKEN = "gmail-refresh-token"
ACCESS_TOKEN = "gmail-access-token"
_WRITE_ATTEMPTS = 3

# Reads never fetch a ciphertext unless they decrypt it; the template's IAM conditions allow the
# authorize function STATUS_ATTRIBUTES only and the me function PROFILE_ATTRIBUTES only.
STATUS_ATTRIBUTES = ("user_id", "email", "status")
PROFILE_ATTRIBUTES = (
    *STATUS_ATTRIBUTES,
    "scopes",
    "connected_at",
    "updated_at",
    "last_sync_at",
    "reauth_reason",
    "reauth_at",
)


@dataclass(frozen=True)
class Account:
    user_id: str
    email: str
    scopes: tuple[str, ...]
    status: str
    version: int
    connected_at: str | None = None
    updated_at: str | None = None
    last_sync_at: str | None = None
    reauth_reason: str | None = None
    reauth_at: str | None = None

    @property
    def connected(self) -> bool:
        return self.status == CONNECTED


@dataclass(frozen=True)
class Grant:
    """What a successful code exchange produced, ready to be stored."""

    user_id: str
    email: str
    scopes: tuple[str, ...]
    access_token: str
    access_token_expires_at: int
    refresh_token: str | None


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


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
    """Raises KMS's InvalidCiphertextException when the context (purpose or user) does not match."""
    plaintext: bytes = aws.client("kms").decrypt(
        KeyId=get_settings().token_key_id,
        CiphertextBlob=ciphertext,
        EncryptionContext=_context(purpose, user_id),
    )["Plaintext"]
    return plaintext.decode()


def _account(item: dict[str, Any]) -> Account:
    def text(name: str) -> str | None:
        return item[name]["S"] if name in item else None

    return Account(
        user_id=item["user_id"]["S"],
        email=item.get("email", {}).get("S", ""),
        scopes=tuple(value["S"] for value in item.get("scopes", {}).get("L", [])),
        status=item.get("status", {}).get("S", REAUTHORIZATION_REQUIRED),
        version=int(item.get("version", {}).get("N", "0")),
        connected_at=text("connected_at"),
        updated_at=text("updated_at"),
        last_sync_at=text("last_sync_at"),
        reauth_reason=text("reauth_reason"),
        reauth_at=text("reauth_at"),
    )


def _read(user_id: str, attributes: tuple[str, ...]) -> dict[str, Any] | None:
    """A strongly consistent read of just `attributes` (IAM limits some functions to a subset)."""
    names = {f"#a{index}": name for index, name in enumerate(attributes)}
    item: dict[str, Any] | None = (
        aws.client("dynamodb")
        .get_item(
            TableName=get_settings().tokens_table,
            Key={"user_id": {"S": user_id}},
            ProjectionExpression=", ".join(names),
            ExpressionAttributeNames=names,
            ConsistentRead=True,
        )
        .get("Item")
    )
    return item


def get_account(user_id: str, attributes: tuple[str, ...] = PROFILE_ATTRIBUTES) -> Account | None:
    """The account without any ciphertext (a strongly consistent read of just `attributes`)."""
    item = _read(user_id, attributes)
    return _account(item) if item else None


def _is_conditional_failure(exc: ClientError) -> bool:
    return exc.response["Error"]["Code"] == "ConditionalCheckFailedException"


def store_new_grant(grant: Grant) -> Account:
    """Store a grant that came with a refresh token: a new `version`, status `connected`.

    Supersedes an older or revoked grant, clears any reauthorization mark, keeps the first
    `connected_at` and leaves the sync position alone (an update, not a put: a sync advancing it
    meanwhile is never rewound). Conditional on the version read, so a concurrent writer is
    never overwritten unseen.
    """
    if not grant.refresh_token:
        raise ValueError("store_new_grant needs a refresh token")
    settings = get_settings()
    refresh_ct = encrypt(REFRESH_TOKEN, grant.user_id, grant.refresh_token)
    access_ct = encrypt(ACCESS_TOKEN, grant.user_id, grant.access_token)
    dynamodb = aws.client("dynamodb")
    for _ in range(_WRITE_ATTEMPTS):
        current = dynamodb.get_item(
            TableName=settings.tokens_table,
            Key={"user_id": {"S": grant.user_id}},
            ProjectionExpression="version",
            ConsistentRead=True,
        ).get("Item")
        version = int(current["version"]["N"]) if current else 0
        now = _now_iso()
        try:
            result = dynamodb.update_item(
                TableName=settings.tokens_table,
                Key={"user_id": {"S": grant.user_id}},
                UpdateExpression=(
                    "SET email = :email, scopes = :scopes, #status = :connected, refresh_token = :refresh, "
                    "access_token = :access, access_token_expires_at = :expires, version = :next, "
                    "connected_at = if_not_exists(connected_at, :now), updated_at = :now "
                    "REMOVE reauth_reason, reauth_at"
                ),
                ConditionExpression=("version = :version" if current else "attribute_not_exists(user_id)"),
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":email": {"S": grant.email},
                    ":scopes": {"L": [{"S": scope} for scope in grant.scopes]},
                    ":connected": {"S": CONNECTED},
                    ":refresh": {"B": refresh_ct},
                    ":access": {"B": access_ct},
                    ":expires": {"N": str(grant.access_token_expires_at)},
                    ":next": {"N": str(version + 1)},
                    ":now": {"S": now},
                    **({":version": {"N": str(version)}} if current else {}),
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if _is_conditional_failure(exc):
                continue
            raise
        return _account(result["Attributes"])
    raise ConcurrentUpdate("The account was being updated concurrently; try again.")


def refresh_connected_grant(grant: Grant) -> Account | None:
    """Google returned no refresh token: keep the stored one if the account is still connected.

    Returns None when nothing usable is stored, the guide's NoRefreshTokenException case.
    """
    account = get_account(grant.user_id, (*STATUS_ATTRIBUTES, "version"))
    if account is None or not account.connected:
        return None
    access_ct = encrypt(ACCESS_TOKEN, grant.user_id, grant.access_token)
    try:
        result = aws.client("dynamodb").update_item(
            TableName=get_settings().tokens_table,
            Key={"user_id": {"S": grant.user_id}},
            UpdateExpression=(
                "SET email = :email, scopes = :scopes, access_token = :access, "
                "access_token_expires_at = :expires, updated_at = :now"
            ),
            ConditionExpression="version = :version AND #status = :connected",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":email": {"S": grant.email},
                ":scopes": {"L": [{"S": scope} for scope in grant.scopes]},
                ":access": {"B": access_ct},
                ":expires": {"N": str(grant.access_token_expires_at)},
                ":now": {"S": _now_iso()},
                ":version": {"N": str(account.version)},
                ":connected": {"S": CONNECTED},
            },
            ReturnValues="ALL_NEW",
        )
    except ClientError as exc:
        if _is_conditional_failure(exc):
            return None
        raise
    return _account(result["Attributes"])


def expires_at(expires_in: float | int | None, default: int = 3600) -> int:
    return int(time.time()) + int(expires_in or default)


# --- sync position -------------------------------------------------------------------------------

SYNC_ATTRIBUTES = ("user_id", "email", "status", "history_id", "last_sync_at")


@dataclass(frozen=True)
class SyncPosition:
    """Where the last sync left a mailbox: Gmail's `historyId` (None before the first sync)."""

    user_id: str
    email: str
    status: str
    history_id: int | None
    last_sync_at: str | None

    @property
    def connected(self) -> bool:
        return self.status == CONNECTED


def get_sync_position(user_id: str) -> SyncPosition | None:
    """The account's sync position and status, no ciphertext; None when no such account."""
    item = _read(user_id, SYNC_ATTRIBUTES)
    if not item:
        return None
    history_id = item.get("history_id", {})
    raw = history_id.get("N") or history_id.get("S")
    return SyncPosition(
        user_id=item["user_id"]["S"],
        email=item.get("email", {}).get("S", ""),
        status=item.get("status", {}).get("S", REAUTHORIZATION_REQUIRED),
        history_id=int(raw) if raw and raw.isdigit() else None,
        last_sync_at=item.get("last_sync_at", {}).get("S"),
    )


def advance_sync_position(user_id: str, history_id: int) -> bool:
    """Record that the mailbox is synced up to `history_id`, and when.

    Conditional, so it is idempotent and safe beside other writers: the position only moves
    forward (a late or duplicate sync never rewinds it), the row must still exist (a disconnect
    is never undone by a stub item), and only these two attributes are written (a concurrent
    re-consent's tokens and version are left alone). False when the condition stopped the write.
    """
    try:
        aws.client("dynamodb").update_item(
            TableName=get_settings().tokens_table,
            Key={"user_id": {"S": user_id}},
            UpdateExpression="SET history_id = :history, last_sync_at = :now",
            ConditionExpression=(
                "attribute_exists(user_id) AND (attribute_not_exists(history_id) OR history_id <= :history)"
            ),
            ExpressionAttributeValues={":history": {"N": str(history_id)}, ":now": {"S": _now_iso()}},
        )
    except ClientError as exc:
        if _is_conditional_failure(exc):
            return False
        raise
    return True


# --- using and ending a grant (messages, sync, disconnect) ------------------------------------

SECRET_ATTRIBUTES = (
    *STATUS_ATTRIBUTES,
    "version",
    "access_token",
    "access_token_expires_at",
    "refresh_token",
)


@dataclass(frozen=True)
class StoredGrant:
    """What the functions that act for a user read: the ciphertexts, decrypted only when needed."""

    user_id: str
    email: str
    status: str
    version: int
    access_token: bytes | None = field(default=None, repr=False)
    access_token_expires_at: int = 0
    refresh_token: bytes | None = field(default=None, repr=False)

    @property
    def connected(self) -> bool:
        return self.status == CONNECTED


def load_secrets(user_id: str) -> StoredGrant | None:
    """One strongly consistent read of the grant (a re-consent a moment ago is seen)."""
    item = _read(user_id, SECRET_ATTRIBUTES)
    if not item:
        return None
    return StoredGrant(
        user_id=item["user_id"]["S"],
        email=item.get("email", {}).get("S", ""),
        status=item.get("status", {}).get("S", REAUTHORIZATION_REQUIRED),
        version=int(item.get("version", {}).get("N", "0")),
        access_token=item.get("access_token", {}).get("B"),
        access_token_expires_at=int(item.get("access_token_expires_at", {}).get("N", "0")),
        refresh_token=item.get("refresh_token", {}).get("B"),
    )


def update_access_token(user_id: str, *, version: int, access_token: str, expires_at: int) -> bytes | None:
    """Store a refreshed access token if the grant is still the one refreshed (same version, connected).

    Returns the stored ciphertext, or None when a re-consent or a revocation got there first: the
    newer state wins and nothing is written.
    """
    ciphertext = encrypt(ACCESS_TOKEN, user_id, access_token)
    try:
        aws.client("dynamodb").update_item(
            TableName=get_settings().tokens_table,
            Key={"user_id": {"S": user_id}},
            UpdateExpression=(
                "SET access_token = :access, access_token_expires_at = :expires, updated_at = :now"
            ),
            ConditionExpression="version = :version AND #status = :connected",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":access": {"B": ciphertext},
                ":expires": {"N": str(expires_at)},
                ":now": {"S": _now_iso()},
                ":version": {"N": str(version)},
                ":connected": {"S": CONNECTED},
            },
        )
    except ClientError as exc:
        if _is_conditional_failure(exc):
            return None
        raise
    return ciphertext


def mark_reauthorization_required(user_id: str, *, reason: str, version: int) -> bool:
    """Record that this grant stopped working (when and why) and drop its useless access token.

    Conditional on the grant version read and on it still being connected, so a newer re-consent
    is never marked and the first reason recorded is kept. The refresh token stays: disconnect
    still revokes it. Returns False when the condition failed.
    """
    try:
        aws.client("dynamodb").update_item(
            TableName=get_settings().tokens_table,
            Key={"user_id": {"S": user_id}},
            UpdateExpression=(
                "SET #status = :reauth, reauth_reason = :reason, reauth_at = :now, updated_at = :now "
                "REMOVE access_token, access_token_expires_at"
            ),
            ConditionExpression="version = :version AND #status = :connected",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":reauth": {"S": REAUTHORIZATION_REQUIRED},
                ":reason": {"S": reason},
                ":now": {"S": _now_iso()},
                ":version": {"N": str(version)},
                ":connected": {"S": CONNECTED},
            },
        )
    except ClientError as exc:
        if _is_conditional_failure(exc):
            return False
        raise
    return True


def delete(user_id: str) -> None:
    """Forget the account: tokens, status and sync position (disconnect)."""
    aws.client("dynamodb").delete_item(TableName=get_settings().tokens_table, Key={"user_id": {"S": user_id}})
