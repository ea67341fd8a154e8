"""Lifecycle events of a connection: connected, needs re-authorization, disconnected.

Published after the change is stored (`core.events.publish_or_count`: a failure is logged and
counted, never undoes the change). Each carries the connection's ids so an application can act
on it: `connection_id`, `external_user_id` (null for a connection made in the browser without a
connect link), Google's `user_id` and the `email`. Schemas: docs/events.md.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from gmail_connect.core import events
from gmail_connect.store.accounts import Account

CONNECTED = "gmail.connection.connected"
REAUTHORIZATION_REQUIRED = "gmail.connection.reauthorization_required"
DISCONNECTED = "gmail.connection.disconnected"


def _detail(account: Account, **extra: Any) -> dict[str, Any]:
    return {
        "connection_id": account.connection_id,
        "external_user_id": account.external_user_id,
        "user_id": account.user_id,
        "email": account.email,
        "occurred_at": datetime.now(UTC).isoformat(timespec="seconds"),
        **extra,
    }


def connected(account: Account, *, previous: Account | None) -> None:
    """A consent completed; `previous` is the account as it was before (None: a new account).

    When a connect link moved the account to another application user, the previous owner's
    connection is announced as disconnected first.
    """
    announced: list[events.Event] = []
    new_connection = previous is None or previous.connection_id != account.connection_id
    if previous is not None and previous.connection_id and new_connection:
        announced.append((DISCONNECTED, _detail(previous, reason="moved_to_another_user")))
    announced.append(
        (CONNECTED, _detail(account, new_connection=new_connection, scopes=list(account.scopes)))
    )
    events.publish_or_count(announced)


def reauthorization_required(account: Account, *, reason: str) -> None:
    events.publish_or_count([(REAUTHORIZATION_REQUIRED, _detail(account, reason=reason))])


def disconnected(account: Account, *, reason: str) -> None:
    events.publish_or_count([(DISCONNECTED, _detail(account, reason=reason))])
