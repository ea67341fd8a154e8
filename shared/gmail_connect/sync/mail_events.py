"""`gmail.message.received` events, published to the product's EventBridge bus.

The schema is documented in docs/sync.md. Delivery is at least once: a sync that fails after
publishing some events is retried by SQS and publishes them again, and EventBridge itself
delivers to targets at least once, so subscribers dedupe on `(user_id, message_id)`.

PutEvents takes at most 10 entries per call and can fail some entries of a call while
accepting the rest; only the failed entries are sent again, a bounded number of times.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from gmail_connect.core import aws
from gmail_connect.core.config import get_settings
from gmail_connect.core.errors import GmailConnectError
from gmail_connect.core.observability import logger

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

    status = 503
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
    pending = entries
    for attempt in range(ATTEMPTS):
        response = client.put_events(Entries=pending)
        if not response.get("FailedEntryCount"):
            return len(entries)
        # Results come back in request order; an entry with an ErrorCode was not accepted.
        failed = [
            (entry, result)
            for entry, result in zip(pending, response["Entries"], strict=True)
            if result.get("ErrorCode")
        ]
        codes = sorted({str(result["ErrorCode"]) for _, result in failed})
        logger.warning(
            "PutEvents refused some entries",
            extra={"failed": len(failed), "of": len(pending), "error_codes": codes, "attempt": attempt + 1},
        )
        if not set(codes) <= RETRYABLE:
            raise EventPublishFailed(f"EventBridge refused events permanently: {', '.join(codes)}.")
        pending = [entry for entry, _ in failed]
        if attempt + 1 < ATTEMPTS:
            # Capped, jittered exponential backoff: 0.1, 0.2, 0.4 s at most.
            sleep(random.uniform(0, min(1.0, 0.1 * 2**attempt)))  # noqa: S311 - jitter, not crypto
    raise EventPublishFailed(f"{len(pending)} events were still refused after {ATTEMPTS} attempts.")
