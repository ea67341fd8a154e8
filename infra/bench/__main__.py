"""``make bench``: what the scheduled sync costs, printed for a person to read (no asserts).

    python -m infra.bench [--users 100,1000] [--latency-ms 50] [--fanout-users 20000] [--no-packaging]

moto's server and the Google emulator run in processes of their own (their CPU is reported
apart); the real scheduler, fan-out and worker handlers run here, driven as ``make sync``
drives them (``infra.local_stack.sync.SyncRound``). For each N, N emulator accounts are
connected by a real consent (consent page, decision, code exchange) and stored through the
product's token store, a first round records their positions, and then, with every Gmail request
slowed by ``--latency-ms``:

- *no new mail* (positions recorded a moment ago), run ``--repeats`` times, each followed by the
  floor script (`infra.bench.floor`): the worker's CPU per user against the floor's, in one run;
- *no new mail, sync time due*: every ``last_sync_at`` older than the hour that makes it written;
- *a cold container*: no access token cached (one KMS Decrypt each);
- *access tokens expired*: one refresh each;
- *new mail*: one message delivered to every user.

Then the fan-out (`infra.bench.fanout_rate`), the layer and cold init (`infra.bench.packaging`),
the memory each function should get, and the cost model (`infra.cost`) with these figures.
Everything measured is written to ``.aws-sam/bench.json``, which ``make cost`` reads.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from infra import cfn, cost
from infra.bench import fanout_rate, packaging
from infra.bench.floor import Floor, FloorRun
from infra.bench.stack import ROOT, TEMPLATE, BenchUser, Stack, connect_users, deliver_to_all, loopback_stack
from infra.bench.sync_rounds import Rounds, Scenario

Out = Callable[[str], None]
# What a real KMS ciphertext adds to its plaintext (header, key reference, IV, tag), and the
# usual length of Google's tokens: the emulator's and moto's differ, DynamoDB bills real ones.
KMS_CIPHERTEXT_OVERHEAD = 152
GOOGLE_TOKEN_LENGTHS = {"access_token": 220, "refresh_token": 103}
BROWSER_FACING = (
    "AuthorizeFunction",
    "CallbackFunction",
    "MeFunction",
    "MessagesFunction",
    "DisconnectFunction",
)
API_COLD_START_TARGET_S = 0.5  # a browser waits on it: a consent click-through should not feel a pause
API_MEMORY_SIZES_MB = (512, 1024, 1769)  # coarse on purpose: a noisy measurement does not flip sizes
SCHEDULER_COLD_START_TARGET_S = 2.0  # once a round, nobody waits on it
WORKER_COLD_START_LIMIT_S = 5.0  # Lambda allows 10 s of init; a worker past half of it is a bad cold start


def item_bytes(item: dict[str, Any]) -> int:
    """An item's size by DynamoDB's rules (names + values), with real-size tokens and ciphertexts."""

    def value_size(value: dict[str, Any]) -> int:
        (kind, raw), *_ = value.items()
        if kind == "S":
            return len(raw.encode())
        if kind == "N":
            return math.ceil(len(raw.lstrip("-").replace(".", "")) / 2) + 1
        if kind == "B":
            return len(raw)
        if kind == "L":
            return 3 + sum(1 + value_size(element) for element in raw)
        return 1

    size = 0
    for name, value in item.items():
        if name in GOOGLE_TOKEN_LENGTHS:
            size += len(name) + GOOGLE_TOKEN_LENGTHS[name] + KMS_CIPHERTEXT_OVERHEAD
        else:
            size += len(name.encode()) + value_size(value)
    return size


def _median_by_cpu(runs: list[Any], key: Callable[[Any], float]) -> Any:
    ordered = sorted(runs, key=key)
    return ordered[len(ordered) // 2]


class Benchmark:
    def __init__(self, stack: Stack, args: argparse.Namespace, out: Out) -> None:
        from infra.local_stack.sync import SyncRound

        self.stack = stack
        self.args = args
        self.out = out
        self.round = SyncRound(cfn.load_template(TEMPLATE), stack.environment, quiet=True)
        self.rounds = Rounds(stack, self.round, args.latency_ms)
        self.results: dict[str, Any] = {"scenarios": {}, "floors": {}}

    def record(self, scenario: Scenario) -> Scenario:
        self.results["scenarios"].setdefault(str(scenario.users), {})[scenario.name] = scenario.as_dict()
        for line in scenario.lines():
            self.out(line)
        return scenario

    def sync(self, users: list[BenchUser]) -> dict[str, Scenario]:
        from gmail_connect.store.token_cache import access_tokens
        from gmail_connect.sync.user_sync import POSITION_REFRESH_SECONDS

        n = len(users)
        first = self.round.run()
        self.out(f"first round (positions recorded, no latency): {first.seconds:.2f} s, {first.outcomes}")
        floor = Floor(self.stack, users)
        idle_runs: list[Scenario] = []
        unbatched: list[FloorRun] = []
        batched: list[FloorRun] = []
        for _ in range(self.args.repeats):  # interleaved: the machine's noise hits each alike
            idle_runs.append(self.rounds.run("no new mail (position recorded < 1 h ago)", n))
            unbatched.append(floor.unbatched())
            batched.append(floor.batched())
        floor.close()
        found = {"idle": self.record(_median_by_cpu(idle_runs, lambda s: s.worker_cpu_s))}
        floors = {
            "unbatched": _median_by_cpu(unbatched, lambda f: f.cpu_s),
            "batched": _median_by_cpu(batched, lambda f: f.cpu_s),
        }
        self._floor_lines(found["idle"], floors)
        self.rounds.age_positions(POSITION_REFRESH_SECONDS + 60)
        found["due"] = self.record(self.rounds.run("no new mail, sync time due (last_sync_at > 1 h old)", n))
        self._goal("AWS calls per idle user with a position write", found["due"].aws_calls_per_user, 1.2)
        self._ratio(found["due"], floors["unbatched"])
        access_tokens.clear()
        found["cold"] = self.record(self.rounds.run("no new mail, a cold container (no token cached)", n))
        self._expire_access_tokens()
        found["refresh"] = self.record(self.rounds.run("access tokens expired (a refresh each)", n))
        deliver_to_all(self.stack, users)
        found["mail"] = self.record(self.rounds.run("new mail (1 message each)", n))
        return found

    def _floor_lines(self, idle: Scenario, floors: dict[str, FloorRun]) -> None:
        self.results["floors"][str(idle.users)] = {
            name: {
                "cpu_ms_per_user": round(run.cpu_ms_per_user, 3),
                "aws_calls_per_user": run.aws_calls / run.users,
            }
            for name, run in floors.items()
        }
        for name, run in floors.items():
            what = (
                "GetItem + history.list + UpdateItem"
                if name == "unbatched"
                else "BatchGetItem per 10 + history.list"
            )
            self.out(
                f"  floor, {name:9s}       {run.cpu_ms_per_user:8.2f} ms per user ({what}; "
                f"{run.aws_calls / run.users:.2f} AWS calls per user; median of {self.args.repeats})"
            )
        self._goal("AWS calls per idle user without a position write", idle.aws_calls_per_user, 0.3)
        self._ratio(idle, floors["unbatched"])
        ratio = idle.cpu_ms_per_user / floors["batched"].cpu_ms_per_user
        self.out(f"  worker CPU / batched floor     {ratio:8.2f} x")

    def _ratio(self, scenario: Scenario, floor: FloorRun) -> None:
        self._goal("worker CPU / unbatched floor", scenario.cpu_ms_per_user / floor.cpu_ms_per_user, 1.3, "x")

    def _goal(self, what: str, value: float, goal: float, unit: str = "") -> None:
        verdict = "met" if value <= goal else "NOT met"
        self.out(f"  {what:30s} {value:8.2f}{(' ' + unit) if unit else ''}   (goal <= {goal:g}: {verdict})")

    def _expire_access_tokens(self) -> None:
        import boto3

        dynamodb = boto3.client("dynamodb")
        table = self.stack.environment["TOKENS_TABLE"]
        for page in dynamodb.get_paginator("scan").paginate(TableName=table, ProjectionExpression="user_id"):
            for item in page["Items"]:
                dynamodb.update_item(
                    TableName=table,
                    Key={"user_id": item["user_id"]},
                    UpdateExpression="SET access_token_expires_at = :past",
                    ExpressionAttributeValues={":past": {"N": "1"}},
                )

    def fanout(self, users: int) -> fanout_rate.FanoutRate:
        started = time.perf_counter()
        fanout_rate.write_users(self.stack, users)
        seconds = time.perf_counter() - started
        self.out(f"\nfan-out: {users:,} connected users written into moto's table in {seconds:.0f} s")
        rate = fanout_rate.measure(self.stack, self.round, users)
        self.results["fanout"] = rate.as_dict()
        per_shard = rate.users / rate.segments
        self.out(
            f"  scheduler: {rate.segments} shard messages in {rate.scheduler_wall_s * 1000:.0f} ms"
            " (it reads no user)"
        )
        self.out(
            f"  {rate.segments} shards of ~{per_shard:,.0f} users, one after another: {rate.users:,} users"
            f" enqueued in {rate.wall_s:.1f} s"
        )
        self.out(
            f"  per shard (median): {rate.per_shard_users_per_s:,.0f} users/s against moto; CPU per user:"
            f" the fan-out's {rate.cpu_ms_per_user * 1000:.0f} us,"
            f" moto's {rate.moto_cpu_ms_per_user * 1000:.0f} us"
        )
        return rate


def _shard_math(
    rate: fanout_rate.FanoutRate, workload: cost.Workload, memory_mb: int, out: Out
) -> dict[str, float]:
    """Users enqueued per second at a million users: per shard rate x shards (in AWS side by side)."""
    segments = rate.segments
    cpu_call = 10 * rate.cpu_ms_per_user / 1000 / cost.vcpu_share(memory_mb)
    aws_rate = 10 / (workload.sqs_send_latency_s + cpu_call)
    measured = rate.per_shard_users_per_s
    math_lines = {
        "measured_per_shard": measured,
        "aws_per_shard": aws_rate,
        "million_measured_s": 1e6 / (measured * segments),
        "million_aws_s": 1e6 / (aws_rate * segments),
    }
    out(
        f"  1M users, {segments} shards side by side: {measured:,.0f} users/s x {segments} = "
        f"{measured * segments:,.0f} users/s -> {math_lines['million_measured_s']:.0f} s at moto's pace;\n"
        f"    in AWS (SendMessageBatch {workload.sqs_send_latency_s * 1000:.0f} ms + the measured CPU at "
        f"{memory_mb} MB): {aws_rate:,.0f} users/s per shard x {segments} -> "
        f"{math_lines['million_aws_s']:.0f} s (goal: <= 300 s)"
    )
    return math_lines


def _memory_lines(measured: dict[str, float], pack: packaging.Packaging, out: Out) -> dict[str, Any]:
    """The memory each function should get, from its measured CPU and cold start (CPU-bound:
    scaled by the vCPU share; this machine's core taken as one Lambda vCPU)."""
    workload = cost.Workload()
    chosen: dict[str, Any] = {}
    worker = "SyncWorkerFunction"
    choices = cost.worker_memory(
        measured, workload, rss_mib=pack.rss_mib.get(worker), cold_start_s=pack.cold_start_s.get(worker)
    )
    cpu, io = cost.worker_sync(measured, workload, cost.polling_syncs(workload))
    out(
        f"\nmemory (Lambda CPU = memory / {cost.LAMBDA_FULL_VCPU_MB} MB x 1 vCPU): the worker's CPU per sync"
        f" {cpu * 1000:.2f} ms (polling: idle, mail and refreshes mixed), its I/O wait per batch"
        f" {io * 1000:.0f} ms (a Gmail request from Lambda {workload.google_latency_s * 1000:.0f} ms)"
    )
    for choice in choices:
        cold = f"{choice.cold_start_s:.1f} s" if choice.cold_start_s is not None else "?"
        price = choice.gb_s_per_user_round * cost.PRICES["lambda_gb_second_arm64"] * 1e9
        out(
            f"  worker {choice.memory_mb:5d} MB: a batch of 10 lasts {choice.duration_s * 1000:4.0f} ms, "
            f"{choice.gb_s_per_user_round * 1e6:5.0f} uGB-s = ${price:5.1f} per 1e9 user-rounds;"
            f" cold start {cold}"
        )
    best = cost.cheapest(choices, max_cold_start_s=WORKER_COLD_START_LIMIT_S)
    chosen[worker] = best.memory_mb
    out(
        f"  -> worker: {best.memory_mb} MB (the cheapest per user-round that holds its"
        f" {pack.rss_mib.get(worker, float('nan')):.0f} MiB + 64 and starts in"
        f" <= {WORKER_COLD_START_LIMIT_S:g} s)"
    )
    fanout_call = 10 * measured["fanout_cpu_ms"] / 1000
    fanout = next(
        (
            m
            for m in cost.LAMBDA_MEMORY_SIZES_MB
            if fanout_call / cost.vcpu_share(m) <= workload.sqs_send_latency_s / 2
        ),
        cost.LAMBDA_FULL_VCPU_MB,
    )
    chosen["SyncFanoutFunction"] = fanout
    out(
        f"  -> fan-out: {fanout} MB (its CPU per SendMessageBatch of 10, {fanout_call * 1000:.1f} ms on a"
        f" vCPU, stays under half the send's {workload.sqs_send_latency_s * 1000:.0f} ms)"
    )
    targets: dict[str, tuple[float, tuple[int, ...]]] = {
        name: (API_COLD_START_TARGET_S, API_MEMORY_SIZES_MB) for name in BROWSER_FACING
    }
    targets["SyncSchedulerFunction"] = (SCHEDULER_COLD_START_TARGET_S, cost.LAMBDA_MEMORY_SIZES_MB)
    for function_id, (target, sizes) in targets.items():
        start = pack.cold_start_s.get(function_id)
        if start is None:
            continue
        floor = pack.rss_mib.get(function_id, 0) + 64
        fits = [m for m in sizes if m >= floor and start / cost.vcpu_share(m) <= target]
        memory = fits[0] if fits else cost.LAMBDA_FULL_VCPU_MB
        chosen[function_id] = memory
        at = ", ".join(f"{m} MB {start / cost.vcpu_share(m):.2f} s" for m in (512, 1024, 1769))
        out(f"  {function_id:22s} cold start {at} -> {memory} MB (<= {target:g} s)")
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Scheduled-sync benchmark (read the output).")
    parser.add_argument("--users", default="100,1000", help="comma-separated N values, ascending")
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3, help="idle rounds and floors, interleaved")
    parser.add_argument(
        "--concurrency", type=int, default=None, help="SYNC_CONCURRENCY (default: the code's)"
    )
    parser.add_argument("--fanout-users", type=int, default=20_000)
    parser.add_argument("--no-packaging", action="store_true", help="skip the builds (layer, cold init)")
    parser.add_argument("--build-dir", type=Path, default=ROOT / ".aws-sam" / "build-packaging-host")
    parser.add_argument("--output", type=Path, default=cost.BENCH_JSON)
    args = parser.parse_args(argv)
    sizes = sorted({int(n) for n in args.users.split(",") if n.strip()})
    if not sizes or sizes[0] < 1 or sizes[-1] > 5000:
        parser.error("--users takes values between 1 and 5000")
    started = time.perf_counter()
    out: Out = lambda line: print(line, flush=True)  # noqa: E731

    with loopback_stack(args.concurrency) as stack:
        from gmail_connect.core.config import get_settings

        get_settings.cache_clear()
        out(
            f"scheduled-sync benchmark: latency {args.latency_ms} ms per Gmail request, SYNC_CONCURRENCY "
            f"{get_settings().sync_concurrency}, batches of 10, one worker container; moto and the Google "
            "emulator in processes of their own"
        )
        bench = Benchmark(stack, args, out)
        users: list[BenchUser] = []
        scenarios: dict[str, Scenario] = {}
        for n in sizes:
            began = time.perf_counter()
            users += connect_users(stack, n - len(users), len(users))
            out(f"\nconnected {n} users in {time.perf_counter() - began:.1f} s (HTTP consent, token store)")
            scenarios = bench.sync(users)
        log_bytes = bench.rounds.log_bytes_per_user(len(users))
        import boto3

        sample = boto3.client("dynamodb").get_item(
            TableName=stack.environment["TOKENS_TABLE"], Key={"user_id": {"S": users[0].user_id}}
        )["Item"]
        rate = bench.fanout(args.fanout_users)
    pack = (
        packaging.measure(args.build_dir)
        if not args.no_packaging
        else packaging.Packaging(error="--no-packaging")
    )
    out("")
    for line in pack.lines():
        out(line)

    measured = {
        "worker_cpu_ms_idle": scenarios["idle"].cpu_ms_per_user,
        "worker_cpu_ms_mail": scenarios["mail"].cpu_ms_per_user,
        "worker_cpu_ms_refresh": scenarios["refresh"].cpu_ms_per_user,
        "fanout_cpu_ms": rate.cpu_ms_per_user,
        "log_bytes_idle": log_bytes,
        "item_bytes": float(item_bytes(sample)),
    }
    out(
        f"\nper idle user-round at INFO: {log_bytes:.0f} bytes logged; a TokensTable item "
        f"{measured['item_bytes']:.0f} bytes (real token and ciphertext sizes) -> "
        f"{math.ceil(measured['item_bytes'] / 1024)} write units per UpdateItem"
    )
    workload = cost.Workload()
    shard_math = _shard_math(rate, workload, cost.template_memory("SyncFanoutFunction"), out)
    memory = _memory_lines(measured, pack, out)
    bench.results.update(
        measured_at=datetime.now(UTC).isoformat(timespec="seconds"),
        latency_ms=args.latency_ms,
        cost_inputs={k: round(v, 4) for k, v in measured.items()},
        shard_math={k: round(v, 2) for k, v in shard_math.items()},
        memory_mb=memory,
        cold_init_s={k: round(v, 4) for k, v in pack.cold_init_s.items()},
        cold_start_s={k: round(v, 4) for k, v in pack.cold_start_s.items()},
        boto3_import_s=pack.boto3_s,
        rss_mib={k: round(v, 1) for k, v in pack.rss_mib.items()},
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(bench.results, indent=2) + "\n", encoding="utf-8")
    out("")
    for line in cost.report(measured, workload, f"this run ({cost.shown(args.output)})"):
        out(line)
    seconds = time.perf_counter() - started
    out(f"\nbenchmark finished in {seconds:.0f} s; figures in {cost.shown(args.output)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
