"""Keeping a mailbox's Gmail push watch alive, as part of syncing it.

With push on (`GMAIL_PUSH_TOPIC`), every sync of a user checks the stored watch expiration and
calls `users.watch` (100 quota units) when there is none or it ends within 48 hours: Google asks
for a renewal at least every 7 days. A new connection is synced at once, so it is watched at
once; the scheduled round (the safety net, at least daily) renews the rest through the same SQS
fan-out as the sync. The watch covers INBOX: what the sync announces arrives there (mail filed
elsewhere by a filter is still found by the next round).

A watch that fails never fails the sync: it is logged, counted, and tried again next time.
"""

from __future__ import annotations

import time
from typing import Any, Protocol, runtime_checkable

from gmail_connect.core.config import get_settings
from gmail_connect.core.errors import GmailConnectError
from gmail_connect.core.observability import MetricUnit, logger, metrics
from gmail_connect.store import accounts

RENEW_BEFORE_MS = 48 * 3600 * 1000
WATCHED_LABELS = ("INBOX",)


@runtime_checkable
class Watchable(Protocol):
    def watch(self, topic_name: str, label_ids: Any) -> dict[str, Any]: ...


def ensure(mailbox: Watchable, account: accounts.Account) -> bool:
    """Watch the mailbox if push is on and its watch is missing or ends soon; True if it did."""
    topic = get_settings().gmail_push_topic
    now_ms = int(time.time() * 1000)
    if not topic or (account.watch_expiration or 0) - now_ms > RENEW_BEFORE_MS:
        return False
    try:
        answer = mailbox.watch(topic, WATCHED_LABELS)
        accounts.record_watch(account.user_id, int(answer["expiration"]))
    except (GmailConnectError, KeyError, ValueError) as failure:
        logger.warning("Gmail watch failed; tried again next sync", extra={"reason": type(failure).__name__})
        metrics.add_metric(name="WatchFailures", unit=MetricUnit.Count, value=1)
        return False
    metrics.add_metric(name="WatchesRenewed", unit=MetricUnit.Count, value=1)
    return True
