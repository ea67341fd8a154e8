"""Sessions: opaque random tokens handed to the browser (cookie) or app (Bearer), stored hashed.

A session is issued fresh at every successful callback and is bound to the connection it was
issued for (`connection_id`, see `store.accounts`): a disconnect deletes the account item and
with it the connection, so every session of that user ends at once, and a later reconnect makes
a new connection that no old session names. Reads check the expiry themselves because
DynamoDB's TTL deletion is lazy.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from gmail_connect.core import aws
from gmail_connect.core.config import get_settings
from gmail_connect.core.errors import Unauthenticated
from gmail_connect.core.opaque_tokens import digest, is_token_shaped, new_token
from gmail_connect.store.accounts import Account


@dataclass(frozen=True)
class Session:
    user_id: str
    connection_id: str | None

    def ended_for(self, account: Account | None) -> bool:
        """True when the connection this session was issued for is gone (disconnected, replaced)."""
        return account is None or account.connection_id != self.connection_id


def create(user_id: str, connection_id: str | None) -> str:
    settings = get_settings()
    token = new_token()
    now = int(time.time())
    item = {
        "session_id": {"S": digest(token)},
        "user_id": {"S": user_id},
        "created_at": {"S": datetime.fromtimestamp(now, UTC).isoformat()},
        "expires_at": {"N": str(now + settings.session_ttl_seconds)},
    }
    if connection_id:
        item["connection_id"] = {"S": connection_id}
    aws.client("dynamodb").put_item(
        TableName=settings.sessions_table, Item=item, ConditionExpression="attribute_not_exists(session_id)"
    )
    return token


def current(token: str | None) -> Session | None:
    """The live session of `token`, or None for a missing, malformed, unknown or expired token."""
    if not token or not is_token_shaped(token):
        return None
    item = (
        aws.client("dynamodb")
        .get_item(
            TableName=get_settings().sessions_table,
            Key={"session_id": {"S": digest(token)}},
            ProjectionExpression="user_id, connection_id, expires_at",
        )
        .get("Item")
    )
    if not item or int(item["expires_at"]["N"]) <= time.time():
        return None
    return Session(item["user_id"]["S"], item.get("connection_id", {}).get("S"))


def delete(token: str) -> None:
    aws.client("dynamodb").delete_item(
        TableName=get_settings().sessions_table, Key={"session_id": {"S": digest(token)}}
    )


def require(token: str | None) -> Session:
    """The signed-in session; the only source of a user id for the signed-in routes."""
    session = current(token)
    if session is None:
        raise Unauthenticated("Sign in first: no valid session cookie or Bearer token.")
    return session


def ended() -> Unauthenticated:
    """What a session whose connection is gone answers: as if it never existed."""
    return Unauthenticated("This session has ended: the account was disconnected. Sign in again.")
