"""Connect links: an application's backend starts a connection for one of its own users.

`POST /v1/connect-links` stores a link; the browser opens it (`/oauth/authorize?link=…`), which
consumes it. A link is 256 random bits, stored only as its SHA-256 (a table read gives nothing to
replay), single use (consumed by a conditional delete), short-lived (at most 30 minutes; reads
check the expiry because TTL deletion is lazy), and bound to one `external_user_id` and one
`return_url`: nothing in the browser can change who the connection is for or where it returns.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from botocore.exceptions import ClientError

from gmail_connect.core import aws
from gmail_connect.core.config import get_settings
from gmail_connect.core.errors import RequestError
from gmail_connect.core.opaque_tokens import digest, is_token_shaped, new_token


class InvalidLink(RequestError):
    """The link is unknown, expired or already used."""

    status = 410
    code = "invalid_link"


@dataclass(frozen=True)
class ConnectLink:
    external_user_id: str
    return_url: str
    login_hint: str | None = None


@dataclass(frozen=True)
class Created:
    token: str
    expires_at: str  # ISO 8601, UTC


def create(link: ConnectLink) -> Created:
    settings = get_settings()
    token = new_token()
    expires = int(time.time()) + settings.connect_link_ttl_seconds
    item = {
        "link_id": {"S": digest(token)},
        "external_user_id": {"S": link.external_user_id},
        "return_url": {"S": link.return_url},
        "expires_at": {"N": str(expires)},
    }
    if link.login_hint:
        item["login_hint"] = {"S": link.login_hint}
    aws.client("dynamodb").put_item(
        TableName=settings.links_table, Item=item, ConditionExpression="attribute_not_exists(link_id)"
    )
    return Created(token, datetime.fromtimestamp(expires, UTC).isoformat(timespec="seconds"))


def consume(token: str | None) -> ConnectLink:
    """Delete the link if it is known and unexpired, and return what it was for; else InvalidLink."""
    refused = InvalidLink("This connect link is unknown, expired or already used. Ask the app for a new one.")
    if not token or not is_token_shaped(token):
        raise refused
    try:
        result = aws.client("dynamodb").delete_item(
            TableName=get_settings().links_table,
            Key={"link_id": {"S": digest(token)}},
            ConditionExpression="attribute_exists(link_id) AND expires_at > :now",
            ExpressionAttributeValues={":now": {"N": str(int(time.time()))}},
            ReturnValues="ALL_OLD",
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            raise refused from None
        raise
    item = result["Attributes"]
    return ConnectLink(
        external_user_id=item["external_user_id"]["S"],
        return_url=item["return_url"]["S"],
        login_hint=item.get("login_hint", {}).get("S"),
    )
