"""How fast a round is fanned out: users enqueued per second per shard, and the shard math.

`N` connected users are written straight into moto's TokensTable (items only: the fan-out
reads nothing else), the scheduler's handler plans the round, and each shard message is handed
to the fan-out's handler as Lambda's SQS poller would, one after another (in AWS they run side
by side). Per shard: users, wall time, and the fan-out's own thread CPU.

moto's SQS walks its whole queue on every message sent (its queue attributes are recomputed
per send), so a queue that grows makes moto, not the product, quadratic: the harness empties
the sync queue after each shard (not timed; moto started with its purge limit off), as the
worker drains it in AWS.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Any

import boto3

from infra.bench.cpu import Metered, process_cpu_seconds
from infra.bench.stack import Stack

WRITE_BATCH = 25  # BatchWriteItem's limit


@dataclass(frozen=True)
class ShardRun:
    users: int
    wall_s: float
    cpu_s: float
    moto_cpu_s: float

    @property
    def users_per_s(self) -> float:
        return self.users / self.wall_s if self.wall_s else 0.0


@dataclass(frozen=True)
class FanoutRate:
    users: int
    segments: int
    shards: list[ShardRun]
    scheduler_wall_s: float

    @property
    def wall_s(self) -> float:
        return sum(shard.wall_s for shard in self.shards)

    @property
    def per_shard_users_per_s(self) -> float:
        return statistics.median(shard.users_per_s for shard in self.shards if shard.users)

    @property
    def cpu_ms_per_user(self) -> float:
        return sum(shard.cpu_s for shard in self.shards) / self.users * 1000

    @property
    def moto_cpu_ms_per_user(self) -> float:
        return sum(shard.moto_cpu_s for shard in self.shards) / self.users * 1000

    def as_dict(self) -> dict[str, Any]:
        return {
            "users": self.users,
            "segments": self.segments,
            "per_shard_users_per_s": round(self.per_shard_users_per_s, 1),
            "sequential_users_per_s": round(self.users / self.wall_s, 1),
            "cpu_ms_per_user": round(self.cpu_ms_per_user, 4),
            "moto_cpu_ms_per_user": round(self.moto_cpu_ms_per_user, 4),
            "scheduler_wall_s": round(self.scheduler_wall_s, 3),
        }


def write_users(stack: Stack, count: int) -> None:
    """`count` connected users as bare items (user id and status), straight into the table."""
    dynamodb = boto3.client("dynamodb")
    table = stack.environment["TOKENS_TABLE"]
    for start in range(0, count, WRITE_BATCH):
        items = [
            {"PutRequest": {"Item": {"user_id": {"S": f"9{n:020}"}, "status": {"S": "connected"}}}}
            for n in range(start, min(count, start + WRITE_BATCH))
        ]
        pending: dict[str, Any] = {table: items}
        while pending:
            pending = dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}


def measure(stack: Stack, sync_round: Any, users: int) -> FanoutRate:
    """The scheduler, then every shard through the fan-out's handler; the sync queue emptied after each."""
    from infra.local_stack.apigw import lambda_context
    from infra.local_stack.sync import FANOUT_ID, SCHEDULER_ID, lambda_sqs_event, scheduled_event

    sqs = boto3.client("sqs")
    handler = Metered(sync_round.fanout)
    consumer = dataclasses.replace(sync_round.fanout_consumer, handler=handler)
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # Powertools' metrics blobs
        plan = sync_round.scheduler(scheduled_event(), lambda_context(SCHEDULER_ID, timeout_seconds=30))
    scheduler_wall = time.perf_counter() - started
    shards = []
    while True:
        messages = sqs.receive_message(
            QueueUrl=consumer.queue.url, MaxNumberOfMessages=1, MessageSystemAttributeNames=["All"]
        ).get("Messages", [])
        if not messages:
            break
        event = lambda_sqs_event(messages, consumer.queue.arn)
        moto = process_cpu_seconds(stack.moto_pid)
        handler.take()
        began = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            response = handler(event, lambda_context(FANOUT_ID, timeout_seconds=consumer.timeout))
        wall = time.perf_counter() - began
        if response.get("batchItemFailures"):
            raise RuntimeError("a shard failed during the fan-out measurement")
        report = sys.modules[sync_round.fanout.__module__].shards.report
        shards.append(
            ShardRun(report.enqueued, wall, handler.take(), process_cpu_seconds(stack.moto_pid) - moto)
        )
        sqs.delete_message(QueueUrl=consumer.queue.url, ReceiptHandle=messages[0]["ReceiptHandle"])
        sqs.purge_queue(QueueUrl=sync_round.queue.url)
    return FanoutRate(
        users=sum(shard.users for shard in shards),
        segments=int(plan["segments"]),
        shards=shards,
        scheduler_wall_s=scheduler_wall,
    )
