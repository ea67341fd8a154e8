"""Where a connection is found: by its id, its application user, or the Gmail address.

One small table, `ConnectionsTable` (key `connection_id`, indexes `by_external_user` and
`by_email`), points at the TokensTable item that holds the connection. It exists because
CloudFormation cannot add more than one index to an existing table in one update: the tokens
table of a deployed stack could not have gained these three.

The account item is the truth and the index only points: a pointer is written before the item
that it names and deleted after it, and every lookup reads the item back (strongly consistent)
and checks that it still holds that connection. A stale pointer is therefore harmless, and a
connection is never missing from the index.
"""

from __future__ import annotations

from typing import Any

from gmail_connect.core import aws
from gmail_connect.core.config import get_settings

BY_EXTERNAL_USER = "by_external_user"
BY_EMAIL = "by_email"


def put(connection_id: str, user_id: str, email: str, external_user_id: str | None) -> None:
    item: dict[str, Any] = {
        "connection_id": {"S": connection_id},
        "user_id": {"S": user_id},
        "email": {"S": email.lower()},
    }
    if external_user_id:
        item["external_user_id"] = {"S": external_user_id}
    aws.client("dynamodb").put_item(TableName=get_settings().connections_table, Item=item)


def delete(connection_id: str) -> None:
    aws.client("dynamodb").delete_item(
        TableName=get_settings().connections_table, Key={"connection_id": {"S": connection_id}}
    )


def user_of(connection_id: str) -> str | None:
    item = (
        aws.client("dynamodb")
        .get_item(
            TableName=get_settings().connections_table,
            Key={"connection_id": {"S": connection_id}},
            ProjectionExpression="user_id",
        )
        .get("Item")
    )
    return item["user_id"]["S"] if item else None


def users_of_external_user(external_user_id: str, limit: int) -> list[str]:
    return _query(BY_EXTERNAL_USER, "external_user_id", external_user_id, limit)


def users_with_email(email: str, limit: int = 10) -> list[str]:
    return _query(BY_EMAIL, "email", email.lower(), limit)


def _query(index: str, attribute: str, value: str, limit: int) -> list[str]:
    found: list[str] = []
    pages = (
        aws.client("dynamodb")
        .get_paginator("query")
        .paginate(
            TableName=get_settings().connections_table,
            IndexName=index,
            KeyConditionExpression="#key = :value",
            ExpressionAttributeNames={"#key": attribute},
            ExpressionAttributeValues={":value": {"S": value}},
        )
    )
    for page in pages:
        found += [item["user_id"]["S"] for item in page.get("Items", [])]
        if len(found) >= limit:
            break
    return list(dict.fromkeys(found))[:limit]
