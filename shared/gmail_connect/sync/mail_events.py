"""`gmail.message.received` events: new mail, published to the product's bus (`core.events`).

The schema is documented in docs/events.md. Delivery is at least once: a sync that fails after
publishing some events is retried by SQS and publishes them again, so subscribers dedupe on
`(connection_id, message_id)`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gmail_connect.core import events as core_events
from gmail_connect.core.events import ATTEMPTS, EventPublishFailed

__all__ = ["ATTEMPTS", "MESSAGE_RECEIVED", "EventPublishFailed", "MessageReceived", "is_received", "publish"]

MESSAGE_RECEIVED = "gmail.message.received"
# Headers are user-controlled; a subject of 100 KB must not push a call past PutEvents' 256 KB.
MAX_FIELD_CHARS = 1000


@dataclass(frozen=True)
class MessageReceived:
    """One new message in a connected mailbox (the event's `detail`)."""

    user_id: str
    message_id: str
    thread_id: str
    history_id: str
    labels: tuple[str, ...]
    sender: str
    subject: str
    date: str
    connection_id: str | None = None
    external_user_id: str | None = None

    @classmethod
    def of_metadata(
        cls,
        user_id: str,
        item: Mapping[str, Any],
        history_id: str,
        *,
        connection_id: str | None = None,
        external_user_id: str | None = None,
    ) -> MessageReceived:
        """The event for a `format=metadata` message (Gmail's shape, or the API's flattened one)."""
        headers = _headers(item)
        return cls(
            connection_id=connection_id,
            external_user_id=external_user_id,
            user_id=user_id,
            message_id=str(item["id"]),
            thread_id=str(item.get("threadId") or item["id"]),
            history_id=history_id,
            labels=tuple(item.get("labelIds") or ()),
            sender=headers.get("from", ""),
            subject=headers.get("subject", ""),
            date=_iso_date(item, headers.get("date", "")),
        )

    def detail(self) -> dict[str, Any]:
        return {
            "connection_id": self.connection_id,
            "external_user_id": self.external_user_id,
            "user_id": self.user_id,
            "message_id": self.message_id,
            "thread_id": self.thread_id,
            "history_id": self.history_id,
            "labels": list(self.labels),
            "from": self.sender[:MAX_FIELD_CHARS],
            "subject": self.subject[:MAX_FIELD_CHARS],
            "date": self.date,
        }


def _headers(item: Mapping[str, Any]) -> dict[str, str]:
    """From, Subject and Date of a metadata item: flattened (`from`, ...) or Gmail's `payload.headers`."""
    found = {name: str(item[name]) for name in ("from", "subject", "date") if item.get(name) is not None}
    for header in (item.get("payload") or {}).get("headers") or []:
        name = str(header.get("name", "")).lower()
        if name in ("from", "subject", "date") and name not in found:
            found[name] = str(header.get("value", ""))
    return found


def is_received(labels: Sequence[str]) -> bool:
    """Mail that came in: not a draft or chat, and not the user's own sent mail (unless sent to self)."""
    if "DRAFT" in labels or "CHAT" in labels:
        return False
    return "SENT" not in labels or "INBOX" in labels


def _iso_date(item: Mapping[str, Any], date_header: str) -> str:
    """When Gmail received it (`internalDate`, ms), as ISO 8601 UTC; the Date header as a fallback."""
    internal = str(item.get("internalDate") or "")
    if internal.isdigit():
        return datetime.fromtimestamp(int(internal) / 1000, UTC).isoformat(timespec="seconds")
    return date_header


def publish(
    events: Sequence[MessageReceived], *, client: Any = None, sleep: Callable[[float], None] = time.sleep
) -> int:
    """Put `events` on the bus; raises `EventPublishFailed` (the sync then fails, and SQS retries)."""
    return core_events.publish(
        [(MESSAGE_RECEIVED, event.detail()) for event in events], client=client, sleep=sleep
    )
