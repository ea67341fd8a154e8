"""The floor: the least work an idle user's sync can be, measured in the same run as the product.

A minimal script, none of the product's code: per user one bare ``history.list`` over httplib2
(the same transport the product uses, a connection per thread, the access token as a header,
the JSON parsed), and around it the DynamoDB calls, with a boto3 client configured as the
product's. Two floors:

- *unbatched*: GetItem (strongly consistent, the same attributes the worker reads) +
  ``history.list`` + a conditional UpdateItem of the position, per user;
- *batched*: one BatchGetItem per 10 users + ``history.list`` per user, nothing written (the
  position did not move).

Users run 10 at a time on a pool of 10 threads, a batch of 10 after another, as the worker runs
an SQS batch. CPU is the thread CPU of every thread doing the work (`cpu.ThreadsCpu` for the
pool, ``time.thread_time`` for the thread that reads the batch).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
import httplib2

from infra.bench.cpu import ThreadsCpu
from infra.bench.stack import BenchUser, Stack

BATCH = 10


@dataclass(frozen=True)
class FloorRun:
    name: str
    users: int
    cpu_s: float
    wall_s: float
    aws_calls: int

    @property
    def cpu_ms_per_user(self) -> float:
        return self.cpu_s / self.users * 1000


class Floor:
    """The floor script for `users`, against the stack's emulators."""

    def __init__(self, stack: Stack, users: Sequence[BenchUser]) -> None:
        from gmail_connect.core.aws import AWS_CLIENT_CONFIG
        from gmail_connect.store.accounts import SYNC_CREDENTIAL_ATTRIBUTES

        self.users = list(users)
        self.gmail = stack.google_url
        self.table = stack.environment["TOKENS_TABLE"]
        self.dynamodb: Any = boto3.client("dynamodb", config=AWS_CLIENT_CONFIG)  # type: ignore[call-overload]
        self.names = {f"#a{i}": name for i, name in enumerate(SYNC_CREDENTIAL_ATTRIBUTES)}
        self.pool = ThreadPoolExecutor(BATCH, thread_name_prefix="floor")
        self.local = threading.local()
        self.positions = self._positions()

    def _positions(self) -> dict[str, str]:
        positions = {}
        for page in self.dynamodb.get_paginator("scan").paginate(TableName=self.table):
            for item in page["Items"]:
                if "history_id" in item:
                    positions[item["user_id"]["S"]] = item["history_id"]["N"]
        return positions

    def close(self) -> None:
        self.pool.shutdown()

    # -- the calls ----------------------------------------------------------------------------
    def _history(self, user: BenchUser) -> dict[str, Any]:
        http = getattr(self.local, "http", None)
        if http is None:
            http = self.local.http = httplib2.Http(timeout=8)
        url = f"{self.gmail}/gmail/v1/users/me/history?startHistoryId={self.positions[user.user_id]}&alt=json"
        response, content = http.request(url, headers={"authorization": f"Bearer {user.access_token}"})
        if response.status != 200:
            raise RuntimeError(f"history.list answered {response.status}")
        page: dict[str, Any] = json.loads(content)
        return page

    def _get(self, user: BenchUser) -> None:
        self.dynamodb.get_item(
            TableName=self.table,
            Key={"user_id": {"S": user.user_id}},
            ProjectionExpression=", ".join(self.names),
            ExpressionAttributeNames=self.names,
            ConsistentRead=True,
        )

    def _write(self, user: BenchUser, history_id: str) -> None:
        self.dynamodb.update_item(
            TableName=self.table,
            Key={"user_id": {"S": user.user_id}},
            UpdateExpression="SET history_id = :history, last_sync_at = :now",
            ConditionExpression=(
                "attribute_exists(user_id) AND (attribute_not_exists(history_id) OR history_id <= :history)"
            ),
            ExpressionAttributeValues={
                ":history": {"N": history_id},
                ":now": {"S": datetime.now(UTC).isoformat(timespec="seconds")},
            },
        )

    def _batch_get(self, users: Sequence[BenchUser]) -> None:
        self.dynamodb.batch_get_item(
            RequestItems={
                self.table: {
                    "Keys": [{"user_id": {"S": user.user_id}} for user in users],
                    "ProjectionExpression": ", ".join(self.names),
                    "ExpressionAttributeNames": self.names,
                    "ConsistentRead": True,
                }
            }
        )

    # -- the two floors ------------------------------------------------------------------------
    def unbatched(self) -> FloorRun:
        def one(user: BenchUser) -> None:
            self._get(user)
            page = self._history(user)
            self._write(user, str(page["historyId"]))

        return self._run("unbatched", one, per_batch=None, calls_per_user=2.0)

    def batched(self) -> FloorRun:
        def one(user: BenchUser) -> None:
            self._history(user)

        return self._run("batched", one, per_batch=self._batch_get, calls_per_user=0.0)

    def _run(
        self,
        name: str,
        per_user: Callable[[BenchUser], None],
        *,
        per_batch: Callable[[Sequence[BenchUser]], None] | None,
        calls_per_user: float,
    ) -> FloorRun:
        meter = ThreadsCpu("floor")
        meter.start()
        main_cpu = 0.0
        started = time.perf_counter()
        batches = 0
        for start in range(0, len(self.users), BATCH):
            batch = self.users[start : start + BATCH]
            began = time.thread_time()
            if per_batch is not None:
                per_batch(batch)
            list(self.pool.map(per_user, batch))
            main_cpu += time.thread_time() - began
            batches += 1
        wall = time.perf_counter() - started
        calls = round(calls_per_user * len(self.users)) + (batches if per_batch is not None else 0)
        return FloorRun(name, len(self.users), meter.stop() + main_cpu, wall, calls)
