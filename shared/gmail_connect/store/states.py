"""Pending authorizations: state -> PKCE verifier, return path and browser binding.

Written by the authorize function, consumed exactly once by the callback with a conditional
delete that also checks the browser binding and the expiry, so a replay, a state from another
browser and an expired state all fail in one atomic call and nothing else is touched.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from botocore.exceptions import ClientError

from gmail_connect.core import aws
from gmail_connect.core.config import get_settings
from gmail_connect.core.errors import InvalidState
from gmail_connect.core.opaque_tokens import digest


@dataclass(frozen=True)
class PendingAuthorization:
    """A started sign-in. With a connect link, `external_user_id` and the app's `return_url` too."""

    code_verifier: str
    return_to: str
    external_user_id: str | None = None
    return_url: str | None = None


def save(state: str, pending: PendingAuthorization, *, browser_nonce: str) -> None:
    settings = get_settings()
    item = {
        "state_id": {"S": digest(state)},
        "code_verifier": {"S": pending.code_verifier},
        "return_to": {"S": pending.return_to},
        "browser": {"S": digest(browser_nonce)},
        "expires_at": {"N": str(int(time.time()) + settings.state_ttl_seconds)},
    }
    if pending.external_user_id and pending.return_url:
        item["external_user_id"] = {"S": pending.external_user_id}
        item["return_url"] = {"S": pending.return_url}
    aws.client("dynamodb").put_item(
        TableName=settings.states_table, Item=item, ConditionExpression="attribute_not_exists(state_id)"
    )


def consume(state: str, *, browser_nonce: str) -> PendingAuthorization:
    """Delete the state if it is known, unexpired and bound to this browser; else InvalidState.

    TTL deletion is lazy (up to days late), hence the explicit expiry condition.
    """
    try:
        result = aws.client("dynamodb").delete_item(
            TableName=get_settings().states_table,
            Key={"state_id": {"S": digest(state)}},
            ConditionExpression="attribute_exists(state_id) AND browser = :browser AND expires_at > :now",
            ExpressionAttributeValues={
                ":browser": {"S": digest(browser_nonce)},
                ":now": {"N": str(int(time.time()))},
            },
            ReturnValues="ALL_OLD",
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            raise InvalidState(
                "This sign-in link is unknown, expired, already used or was opened in another browser."
            ) from None
        raise
    item = result["Attributes"]
    return PendingAuthorization(
        code_verifier=item["code_verifier"]["S"],
        return_to=item["return_to"]["S"],
        external_user_id=item.get("external_user_id", {}).get("S"),
        return_url=item.get("return_url", {}).get("S"),
    )
