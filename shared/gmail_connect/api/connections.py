"""The application API's connections: list, show, delete (`/v1/connections…`).

The caller is the application's backend, authenticated by API Gateway (AWS_IAM); it names
connections by `connection_id` and its users by `external_user_id`. Nothing here ever shows
token material. A connection that needs re-authorization is shown with why and since when; the
application reconnects it with a new connect link for the same `external_user_id`.
"""

from __future__ import annotations

import re
from typing import Any

from gmail_connect.core.errors import InvalidRequest, NotFound
from gmail_connect.oauth import disconnect
from gmail_connect.store import accounts

_CONNECTION_ID = re.compile(r"conn_[0-9a-f]{24}")
_EXTERNAL_USER_ID = re.compile(r"[\x20-\x7e]{1,128}")


def resolve(
    connection_id: str, attributes: tuple[str, ...] = accounts.CONNECTION_VIEW_ATTRIBUTES
) -> accounts.Account:
    """The account holding `connection_id`; 400 for a malformed id (before any read), 404 if none."""
    if not _CONNECTION_ID.fullmatch(connection_id):
        raise InvalidRequest("connection_id must look like conn_ followed by 24 hex digits.")
    account = accounts.by_connection(connection_id, attributes)
    if account is None:
        raise NotFound("No such connection (it may have been disconnected).")
    return account


def view(account: accounts.Account) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "connection_id": account.connection_id,
        "external_user_id": account.external_user_id,
        "email": account.email,
        "status": account.status,
        "scopes": list(account.scopes),
        "connected_at": account.connected_at,
        "last_sync_at": account.last_sync_at,
    }
    if not account.connected:
        shown["reauthorization"] = {"reason": account.reauth_reason, "since": account.reauth_at}
    return shown


def of_external_user(external_user_id: str | None) -> dict[str, Any]:
    if external_user_id is None or not _EXTERNAL_USER_ID.fullmatch(external_user_id):
        raise InvalidRequest("external_user_id is required: 1-128 printable ASCII characters.")
    return {"connections": [view(account) for account in accounts.of_external_user(external_user_id)]}


def delete(connection_id: str) -> str:
    """Revoke at Google, forget the grant, end every session, announce it; the revocation outcome."""
    account = resolve(connection_id, accounts.CREDENTIAL_ATTRIBUTES)
    return disconnect.end_connection(account.user_id, account, reason=disconnect.BY_APPLICATION)
