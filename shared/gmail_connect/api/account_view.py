"""What `GET /me` shows: the signed-in user's connection, never a token."""

from __future__ import annotations

from typing import Any

from gmail_connect.api import web
from gmail_connect.store import accounts, sessions


def describe(session_token: str | None) -> dict[str, Any]:
    session = sessions.require(session_token)
    account = accounts.get(session.user_id)
    if account is None or session.ended_for(account):
        raise sessions.ended()
    view: dict[str, Any] = {
        "user_id": account.user_id,
        "email": account.email,
        "scopes": list(account.scopes),
        "status": account.status,
        "connected_at": account.connected_at,
        "last_sync_at": account.last_sync_at,
    }
    if not account.connected:
        view["reauthorization"] = {
            "reason": account.reauth_reason,
            "since": account.reauth_at,
            "authorization_url": web.reauthorization_url(account.email),
        }
    return view
