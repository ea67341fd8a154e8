"""``make cost``: what a connected user costs per month, from measured per-user figures.

    python -m infra.cost [--bench .aws-sam/bench.json] [--messages-per-day 40] [--fallback-rounds 4]

What an operator of this service pays AWS to keep a mailbox in step, per 1,000 connected users
and month, at 1k, 100k and 1M users, for two designs: polling every 15 minutes (the schedule
as deployed) and Gmail push plus a safety-net round (issue 11: a watch per user, a notification
per mailbox change, a few scheduled rounds a day). Which resource dominates at each scale, and
the scale at which Google's per-project Gmail quota becomes the limit.

The inputs are in three places, each said once:

- `PRICES`: AWS list prices in us-east-1 (free tiers ignored), with the date they were noted;
- `MEASURED`: per-user figures `make bench` measured (CPU per sync, AWS calls, bytes logged),
  written here with the date; a newer `.aws-sam/bench.json` (what `make bench` writes) replaces
  them when present;
- `Workload`: what is assumed rather than measured (mail volume, Google's latency from Lambda,
  push's notification rate), as command-line options.

Counts that are exact in the product (calls per sync, quota units per method, the one read per
user per round, the hourly position write) are the model's structure; they are asserted in the
tests (tests/integration/test_sync.py). Lambda's duration is modelled from measured CPU: Lambda
gives a function CPU in proportion to its memory (1,769 MB = 1 vCPU), and the worker mostly waits
on Google, so an invocation lasts max(CPU / vCPU share, I/O wait) (`lambda_duration_s`).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from infra import cfn

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
BENCH_JSON = ROOT / ".aws-sam" / "bench.json"

# --- prices: the one place ----------------------------------------------------------------------

PRICES_NOTED = "2026-11-29"
# AWS list prices, us-east-1, on-demand, no free tier, from aws.amazon.com/<service>/pricing/ as
# known on PRICES_NOTED (DynamoDB on-demand after its November 2024 reduction; KMS and
# DynamoDB checked against copies of those pages in this project's reference index; the
# others are AWS's long-standing published rates). Check them before relying on the totals.
PRICES: dict[str, float] = {
    "lambda_gb_second_arm64": 0.0000133334,
    "lambda_request": 0.20 / 1e6,
    "dynamodb_read_request_unit": 0.125 / 1e6,
    "dynamodb_write_request_unit": 0.625 / 1e6,
    "dynamodb_storage_gb_month": 0.25,
    "sqs_request": 0.40 / 1e6,  # standard queue, per 64 KB chunk
    "sqs_fifo_request": 0.50 / 1e6,
    "kms_request": 0.03 / 1e4,  # symmetric Encrypt/Decrypt
    "kms_key_month": 1.00,
    "eventbridge_custom_event": 1.00 / 1e6,
    "secrets_manager_secret_month": 0.40,
    "secrets_manager_call": 0.05 / 1e4,
    "cloudwatch_logs_ingest_gb": 0.50,
    "cloudwatch_custom_metric_month": 0.30,
    "cloudwatch_alarm_month": 0.10,
    "api_gateway_http_request": 1.00 / 1e6,  # HTTP API, first 300 M a month
}

# Gmail API usage limits (developers.google.com/gmail/api/reference/quota).
GMAIL_PROJECT_UNITS_PER_MINUTE = 1_200_000
# Announced on that page in 2026: quota units a project may use per day before charges apply
# (their amount still to be published); not a hard limit, a cost to plan for.
GMAIL_DAILY_BILLING_THRESHOLD = 80_000_000
UNITS = {"history.list": 2, "messages.get": 5, "getProfile": 1, "watch": 100}

LAMBDA_FULL_VCPU_MB = 1769  # Lambda: one vCPU's worth of CPU at 1,769 MB, proportional below
LAMBDA_MEMORY_SIZES_MB = (128, 256, 384, 512, 768, 1024, 1536, 1769, 2048)
ACCESS_TOKEN_LIFETIME_S = 3600  # Google's access tokens last an hour
TOKEN_CACHE_SIZE = 2048  # store/token_cache.py: plaintext access tokens kept per container
DAYS_PER_MONTH = 30

# --- measured: `make bench` -----------------------------------------------------------------------

MEASURED_ON = "2026-11-29"
# `make bench` on this machine (2 shared cores), MEASURED_ON; .aws-sam/bench.json replaces them.
MEASURED: dict[str, float] = {
    "worker_cpu_ms_idle": 0.89,  # per user, no new mail, nothing written (1,000 users)
    "worker_cpu_ms_mail": 4.58,  # per user, one new message (metadata batch, PutEvents, a write)
    "worker_cpu_ms_refresh": 5.39,  # per user, expired access token (a refresh, KMS x2, a write)
    "fanout_cpu_ms": 0.20,  # per user enqueued
    "log_bytes_idle": 59.0,  # per user and idle round, at INFO (metrics blobs: one per invocation)
    "item_bytes": 1036.0,  # a TokensTable item with real-size tokens and KMS ciphertexts
}

# --- assumed --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    """What is assumed, not measured. Each is a command-line option of `make cost`."""

    messages_per_day: float = 40.0  # mail received (announced) per user per day
    changes_per_message: float = 2.0  # mailbox changes per received message (arrival, then read)
    rounds_per_day: float = 96.0  # polling: every 15 minutes
    fallback_rounds_per_day: float = 4.0  # push: the safety-net schedule (every 6 hours)
    watch_renewals_per_day: float = 1.0  # push: Google recommends renewing the watch daily
    google_latency_s: float = 0.15  # one Gmail API request from Lambda (history.list, a batch)
    aws_latency_s: float = 0.01  # one DynamoDB/SQS/KMS request from Lambda
    sqs_send_latency_s: float = 0.02  # SendMessageBatch from Lambda (the fan-out's critical path)
    worker_containers: int = 5  # SyncWorkerMaxConcurrency
    push_cpu_ms: float = 5.0  # push endpoint: OIDC check with cached certificates, one SQS send
    log_bytes_per_message: float = 450.0  # the worker's INFO line for a mailbox with news

    @property
    def changes_per_day(self) -> float:
        return self.messages_per_day * self.changes_per_message


# --- Lambda's duration from CPU -------------------------------------------------------------------


def vcpu_share(memory_mb: float) -> float:
    return min(memory_mb, LAMBDA_FULL_VCPU_MB) / LAMBDA_FULL_VCPU_MB


def lambda_duration_s(cpu_s: float, io_wait_s: float, memory_mb: float) -> float:
    """An invocation's billed duration: its CPU at the memory's vCPU share, or its I/O wait."""
    return max(cpu_s / vcpu_share(memory_mb), io_wait_s)


def gb_seconds(cpu_s: float, io_wait_s: float, memory_mb: float) -> float:
    return memory_mb / 1024 * lambda_duration_s(cpu_s, io_wait_s, memory_mb)


@dataclass(frozen=True)
class MemoryChoice:
    memory_mb: int
    gb_s_per_user_round: float
    duration_s: float
    cold_start_s: float | None


def worker_memory(
    measured: Mapping[str, float], workload: Workload, *, rss_mib: float | None, cold_start_s: float | None
) -> list[MemoryChoice]:
    """GB-seconds per user-round (polling, the workload's mix of idle syncs, mail and refreshes)
    of a batch of 10 at each memory size the worker fits in.

    Below the knee (CPU / vCPU share = I/O wait) an invocation is CPU-bound and costs the same
    GB-seconds at any size (the CPU time x 1,769 MB); above it, it waits on Google at a price that
    grows with the memory. Sizes without 64 MiB above the handler's peak RSS are left out.
    """
    cpu, io_wait = worker_sync(measured, workload, polling_syncs(workload))
    cpu_batch = 10 * cpu
    choices = []
    for memory in LAMBDA_MEMORY_SIZES_MB:
        if rss_mib is not None and memory < rss_mib + 64:
            continue
        init = cold_start_s / vcpu_share(memory) if cold_start_s is not None else None
        choices.append(
            MemoryChoice(
                memory,
                gb_seconds(cpu_batch, io_wait, memory) / 10,
                lambda_duration_s(cpu_batch, io_wait, memory),
                init,
            )
        )
    return choices


def cheapest(choices: list[MemoryChoice], *, max_cold_start_s: float) -> MemoryChoice:
    """The cheapest size whose cold start stays under the bound; of equally cheap ones, the largest."""
    usable = [c for c in choices if c.cold_start_s is None or c.cold_start_s <= max_cold_start_s] or choices
    least = min(c.gb_s_per_user_round for c in usable)
    return max((c for c in usable if c.gb_s_per_user_round <= least * 1.0001), key=lambda c: c.memory_mb)


def template_memory(function_id: str, template_path: Path = TEMPLATE) -> int:
    template = cfn.load_template(template_path)
    properties = template["Resources"][function_id]["Properties"]
    return int(properties.get("MemorySize") or template["Globals"]["Function"]["MemorySize"])


# --- the model ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    resource: str
    quantity: float  # per user and month, in `unit`
    unit: str
    price: float  # per unit

    @property
    def cost(self) -> float:
        return self.quantity * self.price


@dataclass(frozen=True)
class Model:
    users: int
    mode: str
    lines: list[Line]
    fixed: list[Line]
    gmail_units_per_user_day: float

    def per_thousand(self) -> float:
        """Monthly cost per 1,000 connected users (fixed costs shared among the users)."""
        variable = sum(line.cost for line in self.lines)
        fixed = sum(line.cost for line in self.fixed)
        return 1000 * (variable + fixed / self.users)

    def by_resource(self) -> dict[str, float]:
        """Monthly cost per 1,000 users by resource, fixed costs included."""
        totals: dict[str, float] = {}
        for line in self.lines:
            totals[line.resource] = totals.get(line.resource, 0.0) + 1000 * line.cost
        for line in self.fixed:
            totals[line.resource] = totals.get(line.resource, 0.0) + 1000 * line.cost / self.users
        return dict(sorted(totals.items(), key=lambda item: -item[1]))

    def dominant(self) -> str:
        return next(iter(self.by_resource()))


@dataclass(frozen=True)
class Syncs:
    """What a user's syncs come to in a day (the same worker, whatever triggers it)."""

    per_day: float
    with_news: float  # syncs that find a change (the position moves, maybe mail to announce)
    position_writes: float
    refreshes: float


def _syncs(per_day: float, workload: Workload) -> Syncs:
    """Changes arrive as a Poisson process: a sync finds news with probability 1 - e^-(changes per
    sync). An unchanged position is written once an hour (user_sync.POSITION_REFRESH_SECONDS) in
    hours with no change; a sync an hour after the last refresh refreshes the access token."""
    with_news = per_day * (1 - math.exp(-workload.changes_per_day / per_day))
    per_hour = per_day / 24
    quiet_hour = math.exp(-workload.changes_per_day / 24)
    idle_writes = 24 * quiet_hour if per_hour >= 1 else 0.0
    refreshes = min(per_day, 86400 / ACCESS_TOKEN_LIFETIME_S)
    return Syncs(per_day, with_news, with_news + idle_writes, refreshes)


def polling_syncs(workload: Workload) -> Syncs:
    return _syncs(workload.rounds_per_day, workload)


def worker_sync(measured: Mapping[str, float], workload: Workload, syncs: Syncs) -> tuple[float, float]:
    """The worker's CPU seconds per sync, and its I/O wait per batch of 10 (users run in parallel):
    the measured idle sync, plus what mail and refreshes add in the share of syncs that have them
    (mail also waits for a metadata batch)."""
    idle, mail, refresh = (measured[f"worker_cpu_ms_{kind}"] / 1000 for kind in ("idle", "mail", "refresh"))
    news, refreshing = syncs.with_news / syncs.per_day, syncs.refreshes / syncs.per_day
    cpu = idle + news * (mail - idle) + refreshing * (refresh - idle)
    return cpu, workload.google_latency_s * (1 + news) + 2 * workload.aws_latency_s


def token_cache_hit(users: int, workload: Workload, syncs_per_token: float) -> float:
    """The share of syncs whose access token a container already holds in plaintext.

    A token changes hourly (a refresh, cached by the container that refreshed it); each later
    sync lands on one of W containers at random, which holds it if it saw it this hour. Only
    while every container can hold every user (2,048 tokens each): beyond that, never.
    """
    if users > TOKEN_CACHE_SIZE or syncs_per_token <= 1:
        return 0.0
    w = workload.worker_containers
    later = int(syncs_per_token) - 1
    return sum(1 - (1 - 1 / w) ** n for n in range(1, later + 1)) / syncs_per_token


PUSH_MEMORY_MB = 512  # issue 11's push endpoint (not built yet): assumed at the old default


def model(
    users: int,
    mode: str,
    measured: Mapping[str, float],
    workload: Workload,
    memory: Mapping[str, int],
) -> Model:
    """Per-user monthly usage of each resource, for `mode` "polling" or "push"."""
    push = mode == "push"
    notifications = workload.changes_per_day if push else 0.0
    rounds = workload.fallback_rounds_per_day if push else workload.rounds_per_day
    renewals = workload.watch_renewals_per_day if push else 0.0
    syncs = _syncs(rounds + notifications, workload)
    cold = 1 - token_cache_hit(users, workload, syncs.per_day / max(syncs.refreshes, 1e-9))
    # UpdateItem is billed on the larger of the item before and after: whole KB.
    write_units = math.ceil(measured["item_bytes"] / 1024)

    cpu, io = worker_sync(measured, workload, syncs)
    worker_gb_s = syncs.per_day * gb_seconds(10 * cpu, io, memory["SyncWorkerFunction"]) / 10
    fanout_gb_s = rounds * gb_seconds(
        measured["fanout_cpu_ms"] / 1000, workload.sqs_send_latency_s / 10, memory["SyncFanoutFunction"]
    )
    push_gb_s = notifications * gb_seconds(
        workload.push_cpu_ms / 1000, workload.aws_latency_s, PUSH_MEMORY_MB
    )
    kms = 2 * syncs.refreshes + cold * (syncs.per_day - syncs.refreshes) + renewals
    log_bytes = syncs.per_day * measured["log_bytes_idle"]
    log_bytes += workload.messages_per_day * workload.log_bytes_per_message
    d = DAYS_PER_MONTH
    lines = [
        Line("Lambda", d * (worker_gb_s + fanout_gb_s + push_gb_s), "GB-s", PRICES["lambda_gb_second_arm64"]),
        Line("Lambda", d * (syncs.per_day / 10 + notifications), "requests", PRICES["lambda_request"]),
        # A strongly consistent read of an item up to 4 KB per sync; the fan-out's keys-only Scan.
        Line(
            "DynamoDB",
            d * (syncs.per_day + rounds * 0.005),
            "read units",
            PRICES["dynamodb_read_request_unit"],
        ),
        Line(
            "DynamoDB",
            d * write_units * (syncs.position_writes + syncs.refreshes),
            "write units",
            PRICES["dynamodb_write_request_unit"],
        ),
        Line(
            "DynamoDB",
            2 * measured["item_bytes"] / 1e9,
            "GB-month (+PITR)",
            PRICES["dynamodb_storage_gb_month"],
        ),
        # Standard queue: the fan-out's send, Lambda's receive and delete, a tenth of a call each.
        Line("SQS", d * 0.3 * rounds, "requests", PRICES["sqs_request"]),
        Line("SQS", d * 0.3 * notifications, "FIFO requests", PRICES["sqs_fifo_request"]),
        Line("KMS", d * kms, "requests", PRICES["kms_request"]),
        Line("EventBridge", d * workload.messages_per_day, "events", PRICES["eventbridge_custom_event"]),
        Line("CloudWatch Logs", d * log_bytes / 1e9, "GB ingested", PRICES["cloudwatch_logs_ingest_gb"]),
        Line("API Gateway", d * notifications, "requests", PRICES["api_gateway_http_request"]),
    ]
    units_per_day = (
        UNITS["history.list"] * syncs.per_day
        + UNITS["messages.get"] * workload.messages_per_day
        + UNITS["watch"] * renewals
    )
    fixed = [
        Line("KMS", 1, "key-month", PRICES["kms_key_month"]),
        Line("Secrets Manager", 1, "secret-month", PRICES["secrets_manager_secret_month"]),
        # Each worker container reads the client config every 5 minutes it lives.
        Line(
            "Secrets Manager", d * 288 * workload.worker_containers, "calls", PRICES["secrets_manager_call"]
        ),
        Line("CloudWatch", 12, "custom metrics", PRICES["cloudwatch_custom_metric_month"]),
        Line("CloudWatch", 5, "alarms", PRICES["cloudwatch_alarm_month"]),
        # Lambda's pollers long-poll each queue around the clock: ~3 empty receives a minute each.
        Line("SQS", 2 * 5 * 3 * 60 * 24 * d, "empty receives", PRICES["sqs_request"]),
    ]
    return Model(users, mode, lines, fixed, units_per_day)


def quota_limit_users(units_per_user_day: float, *, spread_over_minutes: float = 1440) -> int:
    """Users at which Gmail's per-project quota is used up, the day's units spread evenly."""
    per_minute = units_per_user_day / 1440 * (1440 / spread_over_minutes)
    return int(GMAIL_PROJECT_UNITS_PER_MINUTE / per_minute)


# --- measured figures from `make bench` -----------------------------------------------------------


def load_measured(path: Path = BENCH_JSON) -> tuple[dict[str, float], str]:
    """`MEASURED`, with what `make bench` last wrote to `path` laid over it; and where they came from."""
    measured = dict(MEASURED)
    if not path.is_file():
        return measured, f"defaults measured {MEASURED_ON} (no {path.name})"
    written = json.loads(path.read_text(encoding="utf-8"))
    measured.update({k: float(v) for k, v in (written.get("cost_inputs") or {}).items() if k in MEASURED})
    return measured, f"{shown(path)} of {written.get('measured_at', 'unknown date')}"


def shown(path: Path) -> str:
    """`path` relative to the repository when it is inside it."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


# --- the report -----------------------------------------------------------------------------------


def push_breakeven_messages(
    measured: Mapping[str, float], workload: Workload, memory: Mapping[str, int]
) -> float:
    """Received messages per user per day below which push costs less than polling (at 1M users)."""

    def saving(messages: float) -> float:
        trial = replace(workload, messages_per_day=messages)
        polling = model(1_000_000, "polling", measured, trial, memory).per_thousand()
        return polling - model(1_000_000, "push", measured, trial, memory).per_thousand()

    low, high = 0.01, 1000.0
    if saving(high) > 0:
        return high
    for _ in range(50):
        middle = (low + high) / 2
        low, high = (middle, high) if saving(middle) > 0 else (low, middle)
    return low


def report(
    measured: Mapping[str, float],
    workload: Workload,
    source: str,
    scales: tuple[int, ...] = (1_000, 100_000, 1_000_000),
) -> list[str]:
    memory = {f: template_memory(f) for f in ("SyncWorkerFunction", "SyncFanoutFunction")}
    out = [
        "monthly AWS cost per 1,000 connected users",
        f"  us-east-1 list prices noted {PRICES_NOTED}; measured figures: {source}",
        f"  mail: {workload.messages_per_day:g} messages received per user per day, "
        f"{workload.changes_per_day:g} mailbox changes; a Gmail request from Lambda "
        f"{workload.google_latency_s * 1000:.0f} ms",
        f"  worker at {memory['SyncWorkerFunction']} MB, fan-out at {memory['SyncFanoutFunction']} MB "
        "(template.yaml)",
    ]
    modes = {
        "polling": f"polling every {1440 / workload.rounds_per_day:g} minutes",
        "push": f"push + {workload.fallback_rounds_per_day:g} safety-net rounds a day, "
        f"{workload.watch_renewals_per_day:g} watch renewal(s) a day",
    }
    for mode, title in modes.items():
        out += [
            f"\n{title}:",
            f"  {'users':>10} {'$/1k users':>11}  {'dominant':18s}  top three ($ per 1k users)",
        ]
        for users in scales:
            result = model(users, mode, measured, workload, memory)
            top = ", ".join(f"{name} {cost:.2f}" for name, cost in list(result.by_resource().items())[:3])
            out.append(f"  {users:>10,} {result.per_thousand():>11.2f}  {result.dominant():18s}  {top}")
        units = model(scales[-1], mode, measured, workload, memory).gmail_units_per_user_day
        out += [
            f"  Gmail: {units:.0f} quota units per user per day. The per-project "
            f"{GMAIL_PROJECT_UNITS_PER_MINUTE / 1e6:.1f} M units/minute runs out at",
            f"    {quota_limit_users(units):,} users (each round's syncs spread over its period); the daily"
            f" billing threshold ({GMAIL_DAILY_BILLING_THRESHOLD / 1e6:.0f} M units) is passed at "
            f"{int(GMAIL_DAILY_BILLING_THRESHOLD / units):,} users",
        ]
    breakeven = push_breakeven_messages(measured, workload, memory)
    out.append(f"\npush costs less than polling below {breakeven:.0f} received messages per user per day")
    return out


def main(argv: list[str] | None = None) -> int:
    defaults = Workload()
    parser = argparse.ArgumentParser(description="Monthly cost per connected user (read the output).")
    parser.add_argument("--bench", type=Path, default=BENCH_JSON, help="figures `make bench` wrote")
    options: dict[str, Callable[[str], Any]] = {
        "messages_per_day": float,
        "changes_per_message": float,
        "fallback_rounds_per_day": float,
        "watch_renewals_per_day": float,
        "google_latency_s": float,
        "worker_containers": int,
    }
    for name, kind in options.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=kind, default=getattr(defaults, name))
    args = parser.parse_args(argv)
    workload = replace(defaults, **{name: getattr(args, name) for name in options})
    measured, source = load_measured(args.bench)
    for line in report(measured, workload, source):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
