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
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from gmail_connect.core import aws
from gmail_connect.core.config import get_settings
from gmail_connect.core.errors import GmailConnectError
from gmail_connect.core.observability import logger
from gmail_connect.store import accounts

STATUS_INDEX = "by_status"
MAX_ENTRIES_PER_CALL = 10  # SendMessageBatch's limit
ATTEMPTS = 3


class FanoutIncomplete(GmailConnectError):
    """Some users could not be enqueued; the invocation fails so the schedule retries it."""

    status = 503
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
    pending = [
        {"Id": str(index), "MessageBody": sync_message(user_id, run_id, scheduled_at)}
        for index, user_id in enumerate(user_ids)
    ]
    given_up = 0
    for attempt in range(ATTEMPTS):
        response = client.send_message_batch(QueueUrl=queue_url, Entries=pending)
        refused = {failure["Id"]: failure for failure in response.get("Failed", [])}
        if not refused:
            return len(user_ids) - given_up
        retry = []
        for entry in pending:
            failure = refused.get(entry["Id"])
            if failure is None:
                continue
            # A sender fault (a bad entry) would be refused again; only the service's failures are retried.
            if failure.get("SenderFault"):
                given_up += 1
            else:
                retry.append(entry)
        logger.warning(
            "SendMessageBatch refused some entries",
            extra={
                "failed": len(refused),
                "of": len(pending),
                "retrying": len(retry),
                "error_codes": sorted({str(f.get("Code")) for f in refused.values()}),
                "attempt": attempt + 1,
            },
        )
        pending = retry
        if not pending:
            break
        if attempt + 1 < ATTEMPTS:
            sleep(random.uniform(0, min(1.0, 0.1 * 2**attempt)))  # noqa: S311 - jitter, not crypto
    return len(user_ids) - given_up - len(pending)
