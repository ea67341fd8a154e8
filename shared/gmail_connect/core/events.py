"""Publishing the product's events to its EventBridge bus (source `gmail-connect`).

Every event carries `connection_id` and `external_user_id` (docs/events.md has each schema).
Delivery is at least once: a caller that fails after publishing may publish again on retry, and
EventBridge itself delivers to targets at least once, so subscribers dedupe on the event's ids.

PutEvents takes at most 10 entries per call and can fail some entries of a call while
accepting the rest; only the failed entries are sent again (`core.aws_batches`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from gmail_connect.core import aws
from gmail_connect.core.aws_batches import Refused, send_all
from gmail_connect.core.config import get_settings
from gmail_connect.core.errors import GmailConnectError
from gmail_connect.core.observability import MetricUnit, logger, metrics

SOURCE = "gmail-connect"
MAX_ENTRIES_PER_CALL = 10  # PutEvents' limit
ATTEMPTS = 4
# Error codes worth another try; anything else (validation, access) would fail the same way again.
RETRYABLE = frozenset({"InternalFailure", "InternalException", "ThrottlingException", "ServiceUnavailable"})

Event = tuple[str, Mapping[str, Any]]
"""(detail-type, detail)."""


class EventPublishFailed(GmailConnectError):
    """Some events could not be published (the caller decides: retry via SQS, or log and count)."""

    code = "event_publish_failed"


def publish(
    events: Sequence[Event], *, client: Any = None, sleep: Callable[[float], None] = time.sleep
) -> int:
    """Put `events` on the bus, 10 per call; return how many were accepted (all of them).

    Raises `EventPublishFailed` when entries are still refused after `ATTEMPTS` tries, or at
    once for a non-retryable error code.
    """
    if not events:
        return 0
    bus_name = get_settings().mail_event_bus_name
    if not bus_name:
        raise EventPublishFailed("MAIL_EVENT_BUS_NAME is not configured.")
    events_client = client or aws.client("events")
    entries = [
        {
            "Source": SOURCE,
            "DetailType": detail_type,
            "Detail": json.dumps(detail, separators=(",", ":"), ensure_ascii=False),
            "EventBusName": bus_name,
        }
        for detail_type, detail in events
    ]
    published = 0
    for start in range(0, len(entries), MAX_ENTRIES_PER_CALL):
        published += _put(events_client, entries[start : start + MAX_ENTRIES_PER_CALL], sleep)
    return published


def publish_or_count(events: Sequence[Event]) -> bool:
    """Publish events that follow a change already made (a connect, a disconnect, a mark).

    The change stands whatever EventBridge says, so a failure is logged and counted
    (`EventsNotPublished`, alarmed in the template) instead of failing the request. False then.
    """
    try:
        publish(events)
    except (EventPublishFailed, ClientError, BotoCoreError) as failure:
        logger.error(
            "Events could not be published",
            extra={"detail_types": sorted({t for t, _ in events}), "reason": type(failure).__name__},
        )
        metrics.add_metric(name="EventsNotPublished", unit=MetricUnit.Count, value=len(events))
        return False
    return True


def _put(client: Any, entries: list[dict[str, Any]], sleep: Callable[[float], None]) -> int:
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
