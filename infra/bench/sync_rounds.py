"""Sync rounds as the benchmark runs them: the real handlers (`infra.local_stack.sync.SyncRound`),
Gmail slowed by a latency, the product's AWS calls counted and its CPU metered.

The worker's CPU is the thread CPU of its handler's own thread (`cpu.Metered`) plus that of its
pool threads (`cpu.ThreadsCpu`, ``sync_*``): not the SQS poller's, not moto's, not the emulator's.
Its AWS calls are counted on the product's own boto3 clients (botocore's ``before-call``), the
fan-out's Scan of the index left out (a round's first half, measured on its own in
`fanout_rate`); the SQS poller's receive and delete calls are Lambda's and are not counted.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import logging
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from infra.bench.cpu import Metered, ThreadsCpu, process_cpu_seconds
from infra.bench.stack import Stack, control, google_stats

LATENCY_PREFIXES = (
    "/gmail/v1/users/me/history",
    "/gmail/v1/users/me/profile",
    "/batch/gmail/v1",
)
WORKER_SERVICES = ("dynamodb", "kms", "secretsmanager", "events")
FANOUT_CALLS = frozenset({"dynamodb:Scan"})


class AwsCounter:
    """Every API call the worker's boto3 clients make (the product's cached clients)."""

    def __init__(self) -> None:
        from gmail_connect.core import aws

        self.calls: Counter[str] = Counter()
        for service in WORKER_SERVICES:
            aws.client(service).meta.events.register("before-call", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        name = f"{model.service_model.service_name}:{model.name}"
        if name not in FANOUT_CALLS:
            self.calls[name] += 1

    def take(self) -> Counter[str]:
        taken, self.calls = self.calls, Counter()
        return taken


@dataclass
class Scenario:
    name: str
    users: int
    wall_s: float  # the worker's invocations, back to back
    google: dict[str, Any]
    aws_calls: Counter[str]
    worker_cpu_s: float
    moto_cpu_s: float
    google_cpu_s: float
    summary: Any

    @property
    def cpu_ms_per_user(self) -> float:
        return self.worker_cpu_s / self.users * 1000

    @property
    def aws_calls_per_user(self) -> float:
        return sum(self.aws_calls.values()) / self.users

    @property
    def quota_units(self) -> int:
        return int(sum(self.google.get("quota_units", {}).values()))

    def as_dict(self) -> dict[str, Any]:
        return {
            "users": self.users,
            "worker_cpu_ms_per_user": round(self.cpu_ms_per_user, 3),
            "aws_calls_per_user": round(self.aws_calls_per_user, 3),
            "aws_calls": dict(self.aws_calls),
            "google_calls": self.google.get("calls", {}),
            "quota_units_per_user": self.quota_units / self.users,
            "wall_s": round(self.wall_s, 3),
            "moto_cpu_ms_per_user": round(self.moto_cpu_s / self.users * 1000, 3),
            "emulator_cpu_ms_per_user": round(self.google_cpu_s / self.users * 1000, 3),
        }

    def lines(self) -> list[str]:
        calls: dict[str, int] = self.google.get("calls", {})
        batched: dict[str, int] = self.google.get("batched_calls", {})
        http = sum(calls.values())
        route = ", ".join(f"{_short(k)} {v}" for k, v in sorted(calls.items())) or "none"
        inner = ", ".join(f"{_short(k)} {v}" for k, v in sorted(batched.items())) or "none"
        aws = ", ".join(f"{name} {count / self.users:.2f}" for name, count in sorted(self.aws_calls.items()))
        per_user = 1000 / self.users
        return [
            f"N={self.users}, {self.name}",
            f"  Google HTTP calls       {http:8d}     {http / self.users:.2f} per user ({route})",
            f"  batched calls           {sum(batched.values()):8d}     ({inner})",
            f"  quota units             {self.quota_units:8d}     "
            f"{self.quota_units / self.users:.2f} per user",
            f"  AWS calls (worker)      {sum(self.aws_calls.values()):8d}     "
            f"{self.aws_calls_per_user:.2f} per user ({aws or 'none'})",
            f"  worker CPU              {self.worker_cpu_s:8.3f} s   {self.cpu_ms_per_user:.2f} ms per user"
            " (its handler's thread + its pool's)",
            f"  emulators' CPU          moto {self.moto_cpu_s * per_user:.2f} ms, Google emulator "
            f"{self.google_cpu_s * per_user:.2f} ms per user (their own processes)",
            f"  worker wall time        {self.wall_s:8.2f} s   (invocations back to back, one container)",
            f"  outcome                 {self.summary.outcomes}, events {self.summary.events_published}, "
            f"failed {self.summary.failed}",
        ]


def _short(route: str) -> str:
    return route.replace("/gmail/v1/users/{userId}", "")


class Rounds:
    """Runs rounds against the stack, metering the worker."""

    def __init__(self, stack: Stack, sync_round: Any, latency_ms: int) -> None:
        self.stack = stack
        self.round = sync_round
        self.latency_ms = latency_ms
        self.counter = AwsCounter()
        self.worker = Metered(sync_round.worker_consumer.handler)
        sync_round.worker_consumer = dataclasses.replace(sync_round.worker_consumer, handler=self.worker)

    @contextlib.contextmanager
    def _slow_gmail(self) -> Iterator[None]:
        control(self.stack, "reset").raise_for_status()
        for prefix in LATENCY_PREFIXES:
            fault = {"path_prefix": prefix, "latency_ms": self.latency_ms, "count": 10**6}
            control(self.stack, "faults", fault).raise_for_status()
        try:
            yield
        finally:
            control(self.stack, "reset")

    def run(self, name: str, users: int) -> Scenario:
        """One round; what the worker did and spent in it."""
        with self._slow_gmail():
            self.counter.take()
            self.worker.take()
            pool = ThreadsCpu("sync")
            pool.start()
            moto, google = (
                process_cpu_seconds(self.stack.moto_pid),
                process_cpu_seconds(self.stack.google_pid),
            )
            summary = self.round.run()
            moto = process_cpu_seconds(self.stack.moto_pid) - moto
            google = process_cpu_seconds(self.stack.google_pid) - google
            worker_cpu = self.worker.take() + pool.stop()
            stats = google_stats(self.stack)
        return Scenario(
            name=name,
            users=users,
            wall_s=summary.worker_seconds,
            google=stats,
            aws_calls=self.counter.take(),
            worker_cpu_s=worker_cpu,
            moto_cpu_s=moto,
            google_cpu_s=google,
            summary=summary,
        )

    def age_positions(self, seconds: int) -> None:
        """Make every recorded sync `seconds` old (the harness's own client: not counted)."""
        import boto3

        dynamodb = boto3.client("dynamodb")
        table = self.stack.environment["TOKENS_TABLE"]
        when = datetime.fromtimestamp(time.time() - seconds, UTC).isoformat(timespec="seconds")
        for page in dynamodb.get_paginator("scan").paginate(TableName=table, ProjectionExpression="user_id"):
            for item in page["Items"]:
                dynamodb.update_item(
                    TableName=table,
                    Key={"user_id": item["user_id"]},
                    UpdateExpression="SET last_sync_at = :t",
                    ExpressionAttributeValues={":t": {"S": when}},
                )

    def log_bytes_per_user(self, users: int) -> float:
        """Bytes an idle round writes to CloudWatch Logs at the deployed level (INFO) per user:
        the log lines and Powertools' metrics blob (EMF, printed once per invocation)."""
        from gmail_connect.core import observability

        logs, printed = io.StringIO(), io.StringIO()
        stream_handler = cast(logging.StreamHandler, observability.logger.registered_handler)  # type: ignore[type-arg]
        previous = stream_handler.setStream(logs)
        level = observability.logger.log_level
        observability.logger.setLevel("INFO")
        quiet, self.round.quiet = self.round.quiet, False
        try:
            with contextlib.redirect_stdout(printed):
                self.round.run()
        finally:
            self.round.quiet = quiet
            observability.logger.setLevel(level)
            stream_handler.setStream(previous)
        return (len(logs.getvalue().encode()) + len(printed.getvalue().encode())) / users
