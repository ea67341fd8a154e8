"""The token store: one DynamoDB item per Google account, its tokens encrypted under KMS.

Keyed by Google's stable user id (`sub`), with the email beside it. Every read is strongly
consistent and projects only the attributes its caller may see (IAM conditions in
template.yaml allow some functions only some attributes; the tuples below are that contract,
and tests/packaging/test_template.py compares them with the template). One parser turns any
projection into an `Account`.

Writes (here, and the grant writes in `store.grants`) are conditional, so nothing recreates a
disconnected account and no writer silently loses another's update.

`connection_id` names one connection of the account: created with the item and kept across
re-consents, it dies with a disconnect (the item is deleted), so sessions bound to it
(`store.sessions`) end with the disconnect and a later reconnect never revives them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from gmail_connect.core import aws
from gmail_connect.core.account_status import CONNECTED, REAUTHORIZATION_REQUIRED
from gmail_connect.core.aws_batches import Refused, send_all
from gmail_connect.core.config import get_settings
from gmail_connect.store import connection_index

# --- what each caller reads (IAM: template.yaml's dynamodb:Attributes conditions) ----------------

STATUS_ATTRIBUTES = ("user_id", "email", "status", "connection_id")
CONNECTION_ATTRIBUTES = ("external_user_id",)
"""Who the connection belongs to in the application (set by a connect link)."""
"""The authorize function: whether the signed-in user needs consent forced."""
PROFILE_ATTRIBUTES = (
    *STATUS_ATTRIBUTES,
    "scopes",
    "connected_at",
    "updated_at",
    "last_sync_at",
    "reauth_reason",
    "reauth_at",
)
"""The me function: the connection as the user sees it, no ciphertext."""
CONNECTION_VIEW_ATTRIBUTES = (*PROFILE_ATTRIBUTES, *CONNECTION_ATTRIBUTES)
"""The application API: a connection as the application sees it, no ciphertext."""
CREDENTIAL_ATTRIBUTES = (
    *STATUS_ATTRIBUTES,
    "version",
    "access_token",
    "access_token_expires_at",
    "refresh_token",
    "reauth_reason",
    *CONNECTION_ATTRIBUTES,
)
"""Functions that act for the user: the ciphertexts, decrypted only when needed."""
SYNC_ATTRIBUTES = (
    *STATUS_ATTRIBUTES,
    *CONNECTION_ATTRIBUTES,
    "history_id",
    "last_sync_at",
    "watch_expiration",
)
"""The sync worker: where the mailbox's last sync ended."""
SYNC_CREDENTIAL_ATTRIBUTES = tuple(dict.fromkeys((*CREDENTIAL_ATTRIBUTES, *SYNC_ATTRIBUTES)))
"""The sync worker's one read per user: where the last sync ended and the grant to sync with."""
ACCESS_TOKEN_WRITE_ATTRIBUTES = (
    "user_id",
    "status",
    "version",
    "access_token",
    "access_token_expires_at",
    "updated_at",
    "reauth_reason",
    "reauth_at",
)
"""What the functions that refresh tokens may write (UpdateItem), and no refresh token."""


@dataclass(frozen=True)
class Account:
    """A stored account, as much of it as the read projected (absent attributes are None/empty)."""

    user_id: str
    email: str = ""
    status: str = REAUTHORIZATION_REQUIRED
    connection_id: str | None = None
    external_user_id: str | None = None
    scopes: tuple[str, ...] = ()
    version: int = 0
    connected_at: str | None = None
    updated_at: str | None = None
    last_sync_at: str | None = None
    reauth_reason: str | None = None
    reauth_at: str | None = None
    history_id: int | None = None
    watch_expiration: int | None = None  # Gmail push: when the mailbox's watch ends (epoch ms)
    access_token: bytes | None = field(default=None, repr=False)
    access_token_expires_at: int = 0
    refresh_token: bytes | None = field(default=None, repr=False)

    @property
    def connected(self) -> bool:
        return self.status == CONNECTED


def parse(item: dict[str, Any]) -> Account:
    """Any projection of a TokensTable item (DynamoDB's typed JSON) as an `Account`."""

    def text(name: str) -> str | None:
        return item[name]["S"] if name in item else None

    def number(name: str) -> int | None:
        raw = item.get(name, {})
        value = raw.get("N") or raw.get("S")
        return int(value) if value and value.isdigit() else None

    return Account(
        user_id=item["user_id"]["S"],
        email=text("email") or "",
        status=text("status") or REAUTHORIZATION_REQUIRED,
        connection_id=text("connection_id"),
        external_user_id=text("external_user_id"),
        scopes=tuple(value["S"] for value in item.get("scopes", {}).get("L", [])),
        version=number("version") or 0,
        connected_at=text("connected_at"),
        updated_at=text("updated_at"),
        last_sync_at=text("last_sync_at"),
        reauth_reason=text("reauth_reason"),
        reauth_at=text("reauth_at"),
        history_id=number("history_id"),
        watch_expiration=number("watch_expiration"),
        access_token=item.get("access_token", {}).get("B"),
        access_token_expires_at=number("access_token_expires_at") or 0,
        refresh_token=item.get("refresh_token", {}).get("B"),
    )


def get(user_id: str, attributes: tuple[str, ...] = PROFILE_ATTRIBUTES) -> Account | None:
    """A strongly consistent read of just `attributes`; None when there is no such account."""
    names = {f"#a{index}": name for index, name in enumerate(attributes)}
    item = (
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
    return parse(item) if item else None


def by_connection(
    connection_id: str, attributes: tuple[str, ...] = CONNECTION_VIEW_ATTRIBUTES
) -> Account | None:
    """The account that holds this connection, read consistently; None when there is none."""
    user_id = connection_index.user_of(connection_id)
    if user_id is None:
        return None
    account = get(user_id, tuple(dict.fromkeys((*attributes, "connection_id"))))
    return account if account is not None and account.connection_id == connection_id else None


def of_external_user(
    external_user_id: str, attributes: tuple[str, ...] = CONNECTION_VIEW_ATTRIBUTES, limit: int = 100
) -> list[Account]:
    """Every connection of one of the application's users (at most `limit`)."""
    projection = tuple(dict.fromkeys((*attributes, "external_user_id")))
    found = [
        get(user_id, projection)
        for user_id in connection_index.users_of_external_user(external_user_id, limit)
    ]
    return [a for a in found if a is not None and a.external_user_id == external_user_id]


def with_email(email: str, attributes: tuple[str, ...] = STATUS_ATTRIBUTES) -> list[Account]:
    """The connected accounts of this Gmail address (Gmail push names a mailbox by its address)."""
    found = [get(user_id, attributes) for user_id in connection_index.users_with_email(email)]
    return [a for a in found if a is not None and a.email.lower() == email.lower()]


MAX_KEYS_PER_BATCH_GET = 100  # BatchGetItem's limit per call


def get_many(user_ids: Sequence[str], attributes: tuple[str, ...]) -> dict[str, Account | None]:
    """Strongly consistent reads of many accounts, 100 per BatchGetItem call.

    Each id whose read completed maps to its `Account`, or to None when no account is stored.
    Keys DynamoDB leaves unprocessed (throttling, the 16 MB response limit) are read again
    (`aws_batches.send_all`: only those, with backoff); an id still unread after that is absent
    from the answer, and the caller reads it alone (`get`).
    """
    names = {f"#a{index}": name for index, name in enumerate(attributes)}
    table = get_settings().tokens_table
    dynamodb = aws.client("dynamodb")
    found: dict[str, Account] = {}

    def read(pending: list[str]) -> list[Refused[str]]:
        response = dynamodb.batch_get_item(
            RequestItems={
                table: {
                    "Keys": [{"user_id": {"S": user_id}} for user_id in pending],
                    "ProjectionExpression": ", ".join(names),
                    "ExpressionAttributeNames": names,
                    "ConsistentRead": True,
                }
            }
        )
        for item in response.get("Responses", {}).get(table, []):
            account = parse(item)
            found[account.user_id] = account
        unprocessed = response.get("UnprocessedKeys", {}).get(table, {}).get("Keys", [])
        return [Refused(key["user_id"]["S"], "UnprocessedKeys", True) for key in unprocessed]

    unique = list(dict.fromkeys(user_ids))  # BatchGetItem refuses a request with a key twice
    unread: set[str] = set()
    for start in range(0, len(unique), MAX_KEYS_PER_BATCH_GET):
        chunk = unique[start : start + MAX_KEYS_PER_BATCH_GET]
        unread |= {refused.entry for refused in send_all(chunk, read, what="BatchGetItem")}
    return {user_id: found.get(user_id) for user_id in unique if user_id not in unread}


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def update(user_id: str, **request: Any) -> dict[str, Any] | None:
    """A conditional UpdateItem of the account; None when its condition stopped the write."""
    try:
        result: dict[str, Any] = aws.client("dynamodb").update_item(
            TableName=get_settings().tokens_table, Key={"user_id": {"S": user_id}}, **request
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return None
        raise
    return result


def advance_sync_position(user_id: str, history_id: int) -> bool:
    """Record that the mailbox is synced up to `history_id`, and when.

    Conditional, so it is idempotent and safe beside other writers: the position only moves
    forward (a late or duplicate sync never rewinds it), the row must still exist (a disconnect
    is never undone by a stub item), and only these two attributes are written (a concurrent
    re-consent's tokens and version are left alone). False when the condition stopped the write.
    """
    result = update(
        user_id,
        UpdateExpression="SET history_id = :history, last_sync_at = :now",
        ConditionExpression=(
            "attribute_exists(user_id) AND (attribute_not_exists(history_id) OR history_id <= :history)"
        ),
        ExpressionAttributeValues={":history": {"N": str(history_id)}, ":now": {"S": now_iso()}},
    )
    return result is not None


def record_watch(user_id: str, expiration_ms: int) -> bool:
    """Remember until when Gmail pushes this mailbox's changes; never recreates a deleted account."""
    result = update(
        user_id,
        UpdateExpression="SET watch_expiration = :expiration",
        ConditionExpression="attribute_exists(user_id)",
        ExpressionAttributeValues={":expiration": {"N": str(expiration_ms)}},
    )
    return result is not None


def delete(user_id: str, connection_id: str | None = None) -> None:
    """Forget the account: tokens, status, sync position, and then its connection's pointer."""
    aws.client("dynamodb").delete_item(TableName=get_settings().tokens_table, Key={"user_id": {"S": user_id}})
    if connection_id:
        connection_index.delete(connection_id)
