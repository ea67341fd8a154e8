"""The scheduler's half of the sync: one SQS message per connected user.

Connected users come from TokensTable's `by_status` index (keys only, so the scheduler never
reads a ciphertext); users needing reauthorization are in another partition of it and are
never enqueued. Messages go out 10 per SendMessageBatch call. SQS may refuse some entries of
a call and accept the rest: only the refused entries are sent again, a bounded number of times,
and the run fails at the end (after trying every user) if any are still refused, so the
schedule's retry policy runs it again; a duplicate message is harmless (the sync is idempotent).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gmail_connect.core import aws
from gmail_connect.core.aws_batches import Refused, send_all
from gmail_connect.core.config import get_settings
from gmail_connect.core.errors import GmailConnectError
from gmail_connect.store import accounts

STATUS_INDEX = "by_status"
MAX_ENTRIES_PER_CALL = 10  # SendMessageBatch's limit
ATTEMPTS = 3


class FanoutIncomplete(GmailConnectError):
    """Some users could not be enqueued; the invocation fails so the schedule retries it."""

    code = "fanout_incomplete"


@dataclass(frozen=True)
class FanoutResult:
    users: int
    enqueued: int
    failed: int


def connected_user_ids(*, client: Any = None) -> Iterator[str]:
    """Every connected user's id, page by page from the `by_status` index."""
    dynamodb = client or aws.client("dynamodb")
    paginator = dynamodb.get_paginator("query")
    pages = paginator.paginate(
        TableName=get_settings().tokens_table,
        IndexName=STATUS_INDEX,
        KeyConditionExpression="#status = :connected",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={":connected": {"S": accounts.CONNECTED}},
    )
    for page in pages:
        for item in page.get("Items", []):
            yield item["user_id"]["S"]


def sync_message(user_id: str, run_id: str, scheduled_at: str) -> str:
    """The body the worker parses (`sync.SyncRequest`)."""
    return json.dumps({"user_id": user_id, "run_id": run_id, "scheduled_at": scheduled_at})


def enqueue_user(user_id: str, *, reason: str, deduplication_id: str) -> None:
    """One sync request outside a round (a push notification, a new connection).

    On a FIFO queue the user is the message group (their syncs never overlap) and
    `deduplication_id` drops a repeat within SQS's five-minute window.
    """
    queue_url = get_settings().sync_queue_url
    if not queue_url:
        raise FanoutIncomplete("SYNC_QUEUE_URL is not configured.")
    now = datetime.now(UTC).isoformat(timespec="seconds")
    extra = (
        {"MessageGroupId": user_id, "MessageDeduplicationId": deduplication_id[:128]}
        if queue_url.endswith(".fifo")
        else {}
    )
    aws.client("sqs").send_message(
        QueueUrl=queue_url, MessageBody=sync_message(user_id, f"{reason}:{deduplication_id}", now), **extra
    )


def enqueue_connected_users(
    run_id: str,
    scheduled_at: str,
    *,
    dynamodb: Any = None,
    sqs: Any = None,
    sleep: Callable[[float], None] = time.sleep,
) -> FanoutResult:
    """Enqueue one sync message per connected user; raise `FanoutIncomplete` if any stayed out."""
    queue_url = get_settings().sync_queue_url
    if not queue_url:
        raise FanoutIncomplete("SYNC_QUEUE_URL is not configured.")
    sqs_client = sqs or aws.client("sqs")
    users = enqueued = failed = 0
    batch: list[str] = []
    for user_id in connected_user_ids(client=dynamodb):
        users += 1
        batch.append(user_id)
        if len(batch) == MAX_ENTRIES_PER_CALL:
            sent = send_batch(
                sqs_client, queue_url, batch, run_id=run_id, scheduled_at=scheduled_at, sleep=sleep
            )
            enqueued, failed, batch = enqueued + sent, failed + len(batch) - sent, []
    if batch:
        sent = send_batch(sqs_client, queue_url, batch, run_id=run_id, scheduled_at=scheduled_at, sleep=sleep)
        enqueued, failed = enqueued + sent, failed + len(batch) - sent
    result = FanoutResult(users=users, enqueued=enqueued, failed=failed)
    if failed:
        raise FanoutIncomplete(f"{failed} of {users} users could not be enqueued for sync.")
    return result


def send_batch(
    client: Any,
    queue_url: str,
    user_ids: Sequence[str],
    *,
    run_id: str,
    scheduled_at: str,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Send up to 10 sync messages; retry only refused entries. Returns how many were accepted."""
    entries = [
        {"Id": str(index), "MessageBody": sync_message(user_id, run_id, scheduled_at)}
        for index, user_id in enumerate(user_ids)
    ]

    def send(pending: list[dict[str, str]]) -> list[Refused[dict[str, str]]]:
        response = client.send_message_batch(QueueUrl=queue_url, Entries=pending)
        by_id = {entry["Id"]: entry for entry in pending}
        # A sender fault (a bad entry) would be refused again; only the service's failures are retried.
        return [
            Refused(by_id[failure["Id"]], str(failure.get("Code")), not failure.get("SenderFault"))
            for failure in response.get("Failed", [])
        ]

    refused = send_all(entries, send, what="SendMessageBatch", attempts=ATTEMPTS, sleep=sleep)
    return len(user_ids) - len(refused)
