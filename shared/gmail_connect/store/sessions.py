"""Sessions: opaque random tokens handed to the browser (cookie) or app (Bearer), stored hashed.

A session is issued fresh at every successful callback and deleted at disconnect. Reads check
the expiry themselves because DynamoDB's TTL deletion is lazy.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from gmail_connect.core import aws
from gmail_connect.core.config import get_settings
from gmail_connect.core.errors import Unauthenticated
from gmail_connect.core.opaque_tokens import digest, is_token_shaped, new_token


def create(user_id: str) -> str:
    settings = get_settings()
    token = new_token()
    now = int(time.time())
    aws.client("dynamodb").put_item(
        TableName=settings.sessions_table,
        Item={
            "session_id": {"S": digest(token)},
            "user_id": {"S": user_id},
            "created_at": {"S": datetime.fromtimestamp(now, UTC).isoformat()},
            "expires_at": {"N": str(now + settings.session_ttl_seconds)},
        },
        ConditionExpression="attribute_not_exists(session_id)",
    )
    return token


def user_for(token: str | None) -> str | None:
    """The user id of a live session, or None for a missing, malformed, unknown or expired token."""
    if not token or not is_token_shaped(token):
        return None
    item = (
        aws.client("dynamodb")
        .get_item(
            TableName=get_settings().sessions_table,
            Key={"session_id": {"S": digest(token)}},
            ProjectionExpression="user_id, expires_at",
        )
        .get("Item")
    )
    if not item or int(item["expires_at"]["N"]) <= time.time():
        return None
    return item["user_id"]["S"]


def delete(token: str) -> None:
    aws.client("dynamodb").delete_item(
        TableName=get_settings().sessions_table, Key={"session_id": {"S": digest(token)}}
    )


def require_user(token: str | None) -> str:
    """The signed-in user's id; the only source of a user id for the signed-in routes."""
    user_id = user_for(token)
    if user_id is None:
        raise Unauthenticated("Sign in first: no valid session cookie or Bearer token.")
    return user_id
