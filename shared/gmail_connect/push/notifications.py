"""`POST /push/gmail`: a Gmail push notification, delivered by Pub/Sub, becomes a sync request.

Pub/Sub redelivers anything not acknowledged with a 2xx, forever: so every authentic request is
acknowledged, including an unknown address, a stale or duplicate notification and malformed
data (each logged and counted). Only a bad or missing token is refused (`push.oidc`), and then
nothing is read or enqueued.

A notification only says "this mailbox changed up to historyId": the sync request goes to the
sync queue, keyed by the user so a burst never starts overlapping syncs of one mailbox (FIFO
message group), and deduplicated by the notification's historyId.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from gmail_connect.core.observability import MetricUnit, logger, metrics
from gmail_connect.store import accounts
from gmail_connect.sync import fanout

MAX_BODY_BYTES = 64 * 1024
ENQUEUED = "enqueued"
MALFORMED = "malformed"
UNKNOWN_ADDRESS = "unknown_address"
STALE = "stale"


@dataclass(frozen=True)
class Notification:
    email: str
    history_id: int


def receive(body: str | None) -> str:
    """What became of the notification (for the log and the metric); never raises for the body."""
    notification = parse(body)
    if notification is None:
        return _counted(MALFORMED)
    found = [a for a in accounts.with_email(notification.email, _ATTRIBUTES) if a.connected]
    if not found:
        return _counted(UNKNOWN_ADDRESS)
    outcome = STALE
    for account in found:
        if account.history_id is not None and notification.history_id <= account.history_id:
            continue  # the sync already got past this change
        logger.append_keys(user_id=account.user_id)
        fanout.enqueue_user(
            account.user_id,
            reason="push",
            deduplication_id=f"push-{account.user_id}-{notification.history_id}",
        )
        outcome = ENQUEUED
    return _counted(outcome)


_ATTRIBUTES = (*accounts.STATUS_ATTRIBUTES, "history_id")


def parse(body: str | None) -> Notification | None:
    """Pub/Sub's push JSON around Gmail's `{"emailAddress", "historyId"}` (base64 or base64url)."""
    if not body or len(body) > MAX_BODY_BYTES:
        return None
    try:
        envelope: Any = json.loads(body)
        data = envelope["message"]["data"]
        raw = data.encode("ascii")
        decoded = base64.b64decode(
            raw + b"=" * (-len(raw) % 4), altchars=b"-_" if b"-" in raw or b"_" in raw else None
        )
        payload = json.loads(decoded)
        email, history_id = payload["emailAddress"], payload["historyId"]
    except (KeyError, TypeError, ValueError, AttributeError, binascii.Error, UnicodeError):
        return None
    history = str(history_id)
    if not isinstance(email, str) or "@" not in email or len(email) > 320 or not history.isdigit():
        return None
    return Notification(email.lower(), int(history))


def _counted(outcome: str) -> str:
    logger.info("Push notification received", extra={"outcome": outcome})
    metrics.add_metric(name=f"PushNotifications_{outcome}", unit=MetricUnit.Count, value=1)
    return outcome
