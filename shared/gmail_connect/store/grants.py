"""Writing grants: a new consent, a refreshed access token, a grant that stopped working.

Every write is conditional on `version` (bumped by every new grant) and the status: two writers
never silently lose an update, and a refresh that read an older grant never overwrites a newer
re-consent or resurrects a revoked one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from gmail_connect.core.account_status import CONNECTED, REAUTHORIZATION_REQUIRED
from gmail_connect.core.errors import ConcurrentUpdate
from gmail_connect.core.opaque_tokens import new_id
from gmail_connect.store import connection_index, token_crypto
from gmail_connect.store.accounts import Account, get, now_iso, parse, update

_WRITE_ATTEMPTS = 3
_STILL_THIS_GRANT = "version = :version AND #status = :connected"
PROVISIONAL_REASON = "revoked"
"""The reason earlier versions recorded for a 401 storm: not proof of revocation, so a later
mark may replace it and a successful refresh clears it (`clear_reauthorization_mark`)."""


@dataclass(frozen=True)
class Grant:
    """What a successful code exchange produced, ready to be stored."""

    user_id: str
    email: str
    scopes: tuple[str, ...]
    access_token: str
    access_token_expires_at: int
    refresh_token: str | None


def expires_at(expires_in: float | int | None, default: int = 3600) -> int:
    return int(time.time()) + int(expires_in or default)


@dataclass(frozen=True)
class Stored:
    """A grant as stored, and the account as it was before (None: a new account)."""

    account: Account
    previous: Account | None

    @property
    def moved_from(self) -> str | None:
        """The application user the connection was taken from, when a link gave it to another one."""
        before = self.previous.external_user_id if self.previous else None
        return before if before and before != self.account.external_user_id else None


_OWNER_ATTRIBUTES = ("user_id", "email", "version", "status", "connection_id", "external_user_id")


def _connection_of(current: Account | None, external_user_id: str | None) -> tuple[str, str | None]:
    """The connection id and owner after this consent.

    A new account gets a new connection. A link for another application user moves the account
    to them as a new connection (the old owner's connection ends); a link for the same user, or
    the browser flow, keeps the connection (the browser flow also keeps its owner).
    """
    owner = current.external_user_id if current else None
    if current is None or not current.connection_id:
        return new_id("conn"), external_user_id or owner
    if external_user_id and owner and external_user_id != owner:
        return new_id("conn"), external_user_id
    return current.connection_id, external_user_id or owner


def _owner_values(connection_id: str, owner: str | None) -> tuple[str, dict[str, Any]]:
    expression = "connection_id = :connection"
    values: dict[str, Any] = {":connection": {"S": connection_id}}
    if owner:
        expression += ", external_user_id = :owner"
        values[":owner"] = {"S": owner}
    return expression, values


def store_new_grant(grant: Grant, external_user_id: str | None = None) -> Stored:
    """Store a grant that came with a refresh token: a new `version`, status `connected`.

    Supersedes an older or revoked grant, clears any reauthorization mark, keeps the first
    `connected_at` and leaves the sync position alone (an update, not a put: a sync advancing it
    meanwhile is never rewound). `external_user_id` (a connect link's) owns the connection
    (`_connection_of`). Conditional on the version read, so a concurrent writer is never
    overwritten unseen.
    """
    if not grant.refresh_token:
        raise ValueError("store_new_grant needs a refresh token")
    refresh_ct = token_crypto.encrypt(token_crypto.REFRESH_TOKEN, grant.user_id, grant.refresh_token)
    access_ct = token_crypto.encrypt(token_crypto.ACCESS_TOKEN, grant.user_id, grant.access_token)
    for _ in range(_WRITE_ATTEMPTS):
        current = get(grant.user_id, _OWNER_ATTRIBUTES)
        connection_id, owner = _connection_of(current, external_user_id)
        connection_index.put(connection_id, grant.user_id, grant.email, owner)  # the pointer first
        owner_expression, owner_values = _owner_values(connection_id, owner)
        result = update(
            grant.user_id,
            UpdateExpression=(
                "SET email = :email, scopes = :scopes, #status = :connected, refresh_token = :refresh, "
                "access_token = :access, access_token_expires_at = :expires, version = :next, "
                f"{owner_expression}, connected_at = if_not_exists(connected_at, :now), updated_at = :now "
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
                ":next": {"N": str((current.version if current else 0) + 1)},
                ":now": {"S": now_iso()},
                **owner_values,
                **({":version": {"N": str(current.version)}} if current else {}),
            },
            ReturnValues="ALL_NEW",
        )
        if result is not None:
            return _stored(parse(result["Attributes"]), current)
    raise ConcurrentUpdate("The account was being updated concurrently; try again.")


def refresh_connected_grant(grant: Grant, external_user_id: str | None = None) -> Stored | None:
    """Google returned no refresh token: keep the stored one if the account is still connected.

    Returns None when nothing usable is stored, the guide's NoRefreshTokenException case.
    """
    current = get(grant.user_id, _OWNER_ATTRIBUTES)
    if current is None or not current.connected:
        return None
    connection_id, owner = _connection_of(current, external_user_id)
    connection_index.put(connection_id, grant.user_id, grant.email, owner)  # the pointer first
    owner_expression, owner_values = _owner_values(connection_id, owner)
    access_ct = token_crypto.encrypt(token_crypto.ACCESS_TOKEN, grant.user_id, grant.access_token)
    result = update(
        grant.user_id,
        UpdateExpression=(
            "SET email = :email, scopes = :scopes, access_token = :access, "
            f"access_token_expires_at = :expires, updated_at = :now, {owner_expression}"
        ),
        ConditionExpression=_STILL_THIS_GRANT,
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={
            ":email": {"S": grant.email},
            ":scopes": {"L": [{"S": scope} for scope in grant.scopes]},
            ":access": {"B": access_ct},
            ":expires": {"N": str(grant.access_token_expires_at)},
            ":now": {"S": now_iso()},
            ":version": {"N": str(current.version)},
            ":connected": {"S": CONNECTED},
            **owner_values,
        },
        ReturnValues="ALL_NEW",
    )
    return _stored(parse(result["Attributes"]), current) if result else None


def _stored(account: Account, previous: Account | None) -> Stored:
    """The write landed: a connection it replaced (moved to another user) loses its pointer."""
    if previous is not None and previous.connection_id and previous.connection_id != account.connection_id:
        connection_index.delete(previous.connection_id)
    return Stored(account, previous)


# --- using a grant (messages, sync) ------------------------------------------------------------


def update_access_token(user_id: str, *, version: int, access_token: str, expires_at: int) -> bytes | None:
    """Store a refreshed access token if the grant is still the one refreshed (same version, connected).

    Returns the stored ciphertext, or None when a re-consent or a revocation got there first: the
    newer state wins and nothing is written.
    """
    ciphertext = token_crypto.encrypt(token_crypto.ACCESS_TOKEN, user_id, access_token)
    result = update(
        user_id,
        UpdateExpression="SET access_token = :access, access_token_expires_at = :expires, updated_at = :now",
        ConditionExpression=_STILL_THIS_GRANT,
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={
            ":access": {"B": ciphertext},
            ":expires": {"N": str(expires_at)},
            ":now": {"S": now_iso()},
            ":version": {"N": str(version)},
            ":connected": {"S": CONNECTED},
        },
    )
    return ciphertext if result is not None else None


def mark_reauthorization_required(user_id: str, *, reason: str, version: int) -> bool:
    """Record that this grant stopped working (when and why) and drop its useless access token.

    Conditional on the grant version read and on it still being connected (or only provisionally
    marked), so a newer re-consent is never marked and the first proven reason is kept. The refresh
    token stays: disconnect still revokes it. Returns False when the condition failed.
    """
    result = update(
        user_id,
        UpdateExpression=(
            "SET #status = :reauth, reauth_reason = :reason, reauth_at = :now, updated_at = :now "
            "REMOVE access_token, access_token_expires_at"
        ),
        ConditionExpression="version = :version AND (#status = :connected OR reauth_reason = :provisional)",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={
            ":reauth": {"S": REAUTHORIZATION_REQUIRED},
            ":reason": {"S": reason},
            ":now": {"S": now_iso()},
            ":version": {"N": str(version)},
            ":connected": {"S": CONNECTED},
            ":provisional": {"S": PROVISIONAL_REASON},
        },
    )
    return result is not None


def clear_reauthorization_mark(user_id: str, *, reason: str, version: int) -> bool:
    """Undo a mark that Google has just proven wrong (a refresh with the same grant succeeded).

    Conditional on the same grant still carrying the same mark, so a newer grant, a newer reason
    or a disconnect is never overwritten. Returns False when the condition failed.
    """
    result = update(
        user_id,
        UpdateExpression="SET #status = :connected, updated_at = :now REMOVE reauth_reason, reauth_at",
        ConditionExpression="version = :version AND #status = :reauth AND reauth_reason = :reason",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={
            ":connected": {"S": CONNECTED},
            ":reauth": {"S": REAUTHORIZATION_REQUIRED},
            ":reason": {"S": reason},
            ":now": {"S": now_iso()},
            ":version": {"N": str(version)},
        },
    )
    return result is not None
