"""`gmail.message.received` events, published to the product's EventBridge bus.

The schema is documented in docs/sync.md. Delivery is at least once: a sync that fails after
publishing some events is retried by SQS and publishes them again, and EventBridge itself
delivers to targets at least once, so subscribers dedupe on `(user_id, message_id)`.

PutEvents takes at most 10 entries per call and can fail some entries of a call while
accepting the rest; only the failed entries are sent again, a bounded number of times.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gmail_connect.core import aws
from gmail_connect.core.aws_batches import Refused, send_all
from gmail_connect.core.config import get_settings
from gmail_connect.core.errors import GmailConnectError

SOURCE = "gmail-connect"
MESSAGE_RECEIVED = "gmail.message.received"
MAX_ENTRIES_PER_CALL = 10  # PutEvents' limit
ATTEMPTS = 4
# Error codes worth another try; anything else (validation, access) would fail the same way again.
RETRYABLE = frozenset({"InternalFailure", "InternalException", "ThrottlingException", "ServiceUnavailable"})
# Headers are user-controlled; a subject of 100 KB must not push a call past PutEvents' 256 KB.
MAX_FIELD_CHARS = 1000


class EventPublishFailed(GmailConnectError):
    """Some events could not be published; the sync fails so SQS delivers its message again."""

    code = "event_publish_failed"


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

    @classmethod
    def of_metadata(cls, user_id: str, item: Mapping[str, Any], history_id: str) -> MessageReceived:
        """The event for a `format=metadata` message (Gmail's shape, or the API's flattened one)."""
        headers = _headers(item)
        return cls(
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


def _entry(event: MessageReceived, bus_name: str) -> dict[str, Any]:
    return {
        "Source": SOURCE,
        "DetailType": MESSAGE_RECEIVED,
        "Detail": json.dumps(event.detail(), separators=(",", ":"), ensure_ascii=False),
        "EventBusName": bus_name,
    }


def publish(
    events: Sequence[MessageReceived],
    *,
    client: Any = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Put `events` on the mail bus, 10 per call; return how many were accepted (all of them).

    Raises `EventPublishFailed` when entries are still refused after `ATTEMPTS` tries, or at
    once for a non-retryable error code.
    """
    if not events:
        return 0
    bus_name = get_settings().mail_event_bus_name
    if not bus_name:
        raise EventPublishFailed("MAIL_EVENT_BUS_NAME is not configured.")
    events_client = client or aws.client("events")
    published = 0
    for start in range(0, len(events), MAX_ENTRIES_PER_CALL):
        chunk = [_entry(event, bus_name) for event in events[start : start + MAX_ENTRIES_PER_CALL]]
        published += _put_with_retries(events_client, chunk, sleep)
    return published


def _put_with_retries(client: Any, entries: list[dict[str, Any]], sleep: Callable[[float], None]) -> int:
    def send(pending: list[dict[str, Any]]) -> list[Refused[dict[str, Any]]]:
        response = client.put_events(Entries=pending)
        if not response.get("FailedEntryCount"):
            return []
        # Results come back in request order; an entry with an ErrorCode was not accepted.
        refused = [
            Refused(entry, str(result["ErrorCode"]), str(result["ErrorCode"]) in RETRYABLE)
            for entry, result in zip(pending, response["Entries"], strict=True)
            if result.get("ErrorCode")
        ]
        permanent = sorted({r.code for r in refused if not r.retryable})
        if permanent:
            raise EventPublishFailed(f"EventBridge refused events permanently: {', '.join(permanent)}.")
        return refused

    refused = send_all(entries, send, what="PutEvents", attempts=ATTEMPTS, sleep=sleep)
    if refused:
        raise EventPublishFailed(f"{len(refused)} events were still refused after {ATTEMPTS} attempts.")
    return len(entries)
