"""The scheduler's half of the sync: one SQS message per connected user, enqueued in parallel shards.

A round is fanned out in two steps, both through SQS, so no invocation ever pages every user:

1. the scheduler (`plan_round`) sends one *shard* message per segment of a parallel Scan of
   TokensTable's `by_status` index (`SYNC_FANOUT_SEGMENTS` of them) to the shard queue;
2. each shard message triggers the fan-out function (`enqueue_segment`), which pages its segment
   (DynamoDB's parallel Scan: `Segment`/`TotalSegments`; Query takes no segments) and sends one
   sync message per connected user to the sync queue. A segment that outlasts its invocation
   hands the rest on as a continuation message (its `LastEvaluatedKey`), so a segment's size is
   bounded by nothing but the table.

Lambda runs the shards side by side (the shard queue's event source): a round takes the time of
one segment, not of the whole table. The index is keys only, so nothing here reads a ciphertext;
users needing reauthorization sit in the same index under another status and are filtered out.
SQS may refuse some entries of a batch and accept the rest: only the refused entries are sent
again (`aws_batches.send_all`), and a shard still missing users fails its record, which SQS
delivers again (a user enqueued twice costs one extra history call: the sync is idempotent).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gmail_connect.core import aws
from gmail_connect.core.aws_batches import Refused, send_all
from gmail_connect.core.config import get_settings
from gmail_connect.core.errors import GmailConnectError
from gmail_connect.core.observability import MetricUnit, logger, metrics
from gmail_connect.store import accounts

STATUS_INDEX = "by_status"
MAX_ENTRIES_PER_CALL = 10  # SendMessageBatch's limit
ATTEMPTS = 3
PAGE_SIZE = 1000  # index entries per Scan call: about a second of sends, so a continuation comes in time
HAND_ON_MS = 20_000  # below this much time left in the invocation, the rest of the segment is handed on
MAX_SEGMENTS = 1_000_000  # DynamoDB's TotalSegments limit


class FanoutIncomplete(GmailConnectError):
    """Some users (or shards) could not be enqueued; the invocation fails so that it runs again."""

    code = "fanout_incomplete"


class InvalidShard(GmailConnectError):
    """A shard message that is not one: a poison message, reported as a failed record."""

    code = "invalid_shard"


@dataclass(frozen=True)
class Shard:
    """One segment of a round: the body of a shard message."""

    run_id: str
    scheduled_at: str
    segment: int
    segments: int
    start_key: Mapping[str, Any] | None = None  # a continuation: where the previous invocation stopped

    def body(self) -> str:
        data: dict[str, Any] = {
            "run_id": self.run_id,
            "scheduled_at": self.scheduled_at,
            "segment": self.segment,
            "segments": self.segments,
        }
        if self.start_key is not None:
            data["start_key"] = dict(self.start_key)
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def parse(cls, body: str | None) -> Shard:
        try:
            data = json.loads(body or "")
        except (TypeError, ValueError):
            raise InvalidShard("The shard message is not JSON.") from None
        if not isinstance(data, dict):
            raise InvalidShard("The shard message is not a JSON object.")
        segment, segments = data.get("segment"), data.get("segments")
        if not (
            isinstance(segments, int)
            and isinstance(segment, int)
            and 0 < segments <= MAX_SEGMENTS
            and 0 <= segment < segments
        ):
            raise InvalidShard("The shard message has no valid segment.")
        run_id, scheduled_at = data.get("run_id"), data.get("scheduled_at")
        if not isinstance(run_id, str) or not isinstance(scheduled_at, str):
            raise InvalidShard("The shard message has no run id or time.")
        start_key = data.get("start_key")
        if start_key is not None and not _is_key(start_key):
            raise InvalidShard("The shard message's start key is not an index key.")
        return cls(run_id, scheduled_at, segment, segments, start_key)


def _is_key(value: Any) -> bool:
    """A `LastEvaluatedKey` of the index: its string attributes in DynamoDB's typed JSON."""
    return (
        isinstance(value, dict)
        and set(value) == {"user_id", "status"}
        and all(isinstance(v, dict) and set(v) == {"S"} and isinstance(v["S"], str) for v in value.values())
    )


@dataclass(frozen=True)
class RoundPlan:
    run_id: str
    segments: int


@dataclass(frozen=True)
class SegmentResult:
    users: int
    enqueued: int
    pages: int
    handed_on: bool  # the rest of the segment went back to the shard queue as a continuation


def sync_message(user_id: str, run_id: str, scheduled_at: str) -> str:
    """The body the worker parses (`worker.SyncRequest`)."""
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


# --- step 1: the scheduler ------------------------------------------------------------------------


def plan_round(
    run_id: str,
    scheduled_at: str,
    *,
    sqs: Any = None,
    sleep: Callable[[float], None] = time.sleep,
) -> RoundPlan:
    """Send one shard message per segment; raise `FanoutIncomplete` if any stayed out."""
    settings = get_settings()
    if not settings.sync_shard_queue_url:
        raise FanoutIncomplete("SYNC_SHARD_QUEUE_URL is not configured.")
    segments = settings.sync_fanout_segments
    bodies = [Shard(run_id, scheduled_at, segment, segments).body() for segment in range(segments)]
    client = sqs or aws.client("sqs")
    missing = 0
    for start in range(0, len(bodies), MAX_ENTRIES_PER_CALL):
        chunk = bodies[start : start + MAX_ENTRIES_PER_CALL]
        missing += len(chunk) - send_bodies(client, settings.sync_shard_queue_url, chunk, sleep=sleep)
    if missing:
        raise FanoutIncomplete(f"{missing} of {segments} shards could not be enqueued.")
    return RoundPlan(run_id, segments)


# --- step 2: one shard ---------------------------------------------------------------------------


def connected_user_ids(
    shard: Shard, *, client: Any = None
) -> Iterator[tuple[list[str], dict[str, Any] | None]]:
    """Page by page, the connected users of the shard's segment, and the key to resume after the page."""
    dynamodb = client or aws.client("dynamodb")
    request: dict[str, Any] = {
        "TableName": get_settings().tokens_table,
        "IndexName": STATUS_INDEX,
        "Segment": shard.segment,
        "TotalSegments": shard.segments,
        "FilterExpression": "#status = :connected",
        "ExpressionAttributeNames": {"#status": "status"},
        "ExpressionAttributeValues": {":connected": {"S": accounts.CONNECTED}},
        "Limit": PAGE_SIZE,
    }
    start_key = shard.start_key
    while True:
        page = dynamodb.scan(**request, **({"ExclusiveStartKey": dict(start_key)} if start_key else {}))
        start_key = page.get("LastEvaluatedKey")
        yield [item["user_id"]["S"] for item in page.get("Items", [])], start_key
        if not start_key:
            return


def enqueue_segment(
    shard: Shard,
    *,
    remaining_ms: Callable[[], int] | None = None,
    dynamodb: Any = None,
    sqs: Any = None,
    sleep: Callable[[float], None] = time.sleep,
) -> SegmentResult:
    """Enqueue one sync message per connected user of the shard's segment.

    With less than `HAND_ON_MS` of the invocation left after a page (`remaining_ms`), the rest
    of the segment is sent to the shard queue as a continuation and this invocation ends well.
    Raises `FanoutIncomplete` (after trying every user) if some users could not be enqueued.
    """
    settings = get_settings()
    if not settings.sync_queue_url or not settings.sync_shard_queue_url:
        raise FanoutIncomplete("SYNC_QUEUE_URL or SYNC_SHARD_QUEUE_URL is not configured.")
    client = sqs or aws.client("sqs")
    users = enqueued = pages = 0
    handed_on = False
    for user_ids, next_key in connected_user_ids(shard, client=dynamodb):
        pages += 1
        users += len(user_ids)
        for start in range(0, len(user_ids), MAX_ENTRIES_PER_CALL):
            chunk = user_ids[start : start + MAX_ENTRIES_PER_CALL]
            bodies = [sync_message(user_id, shard.run_id, shard.scheduled_at) for user_id in chunk]
            enqueued += send_bodies(client, settings.sync_queue_url, bodies, groups=chunk, sleep=sleep)
        if next_key and remaining_ms is not None and remaining_ms() < HAND_ON_MS:
            rest = Shard(shard.run_id, shard.scheduled_at, shard.segment, shard.segments, next_key)
            if send_bodies(client, settings.sync_shard_queue_url, [rest.body()], sleep=sleep) != 1:
                raise FanoutIncomplete("The rest of the segment could not be handed on.")
            handed_on = True
            break
    if enqueued < users:
        raise FanoutIncomplete(f"{users - enqueued} of {users} users could not be enqueued for sync.")
    return SegmentResult(users=users, enqueued=enqueued, pages=pages, handed_on=handed_on)


# --- sending ------------------------------------------------------------------------------------


def send_bodies(
    client: Any,
    queue_url: str,
    bodies: Sequence[str],
    *,
    groups: Sequence[str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Send up to 10 messages in one SendMessageBatch; retry only refused entries. How many were accepted.

    On a FIFO queue `groups` names each message's group (the user: their syncs never overlap);
    the queue deduplicates by content (a round's message for a user is unique to the round).
    """
    fifo = queue_url.endswith(".fifo")
    if fifo and (groups is None or len(groups) != len(bodies)):
        raise ValueError("a FIFO queue needs a message group per message")
    entries = [
        {
            "Id": str(index),
            "MessageBody": body,
            **({"MessageGroupId": groups[index]} if fifo and groups else {}),
        }
        for index, body in enumerate(bodies)
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
    return len(bodies) - len(refused)


# --- the fan-out function's SQS plumbing ---------------------------------------------------------


@dataclass(frozen=True)
class ShardsReport:
    """What one fan-out invocation did (also emitted as metrics)."""

    shards: int = 0
    failed: int = 0
    users: int = 0
    enqueued: int = 0
    handed_on: int = 0


class ShardFanout:
    """One per container: `handle(event, context)` is the fan-out function's body.

    Each record is one shard; a failed shard is reported alone (`ReportBatchItemFailures`) and
    SQS delivers it again; when every record failed the invocation fails, so its alarm sees it.
    """

    def __init__(self) -> None:
        self.report = ShardsReport()

    def handle(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        records = list(event.get("Records") or [])
        remaining = context.get_remaining_time_in_millis if context is not None else None
        failed: list[str] = []
        results: list[SegmentResult] = []
        for record in records:
            try:
                shard = Shard.parse(record.get("body"))
                logger.append_keys(run_id=shard.run_id, segment=shard.segment, segments=shard.segments)
                result = enqueue_segment(shard, remaining_ms=remaining)
            except GmailConnectError as error:
                logger.warning("Shard failed", extra={"error_code": error.code, "reason": error.message})
                failed.append(str(record.get("messageId")))
                continue
            logger.info("Shard enqueued", extra={"users": result.enqueued, "handed_on": result.handed_on})
            results.append(result)
        self.report = ShardsReport(
            shards=len(records),
            failed=len(failed),
            users=sum(result.users for result in results),
            enqueued=sum(result.enqueued for result in results),
            handed_on=sum(result.handed_on for result in results),
        )
        metrics.add_metric(name="SyncsEnqueued", unit=MetricUnit.Count, value=self.report.enqueued)
        metrics.add_metric(name="SyncShardsFailed", unit=MetricUnit.Count, value=self.report.failed)
        if records and len(failed) == len(records):
            raise FanoutIncomplete(f"All {len(records)} shards of the batch failed.")
        return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}
