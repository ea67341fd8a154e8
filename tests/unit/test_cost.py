"""The cost model (`make cost`): Lambda's duration from CPU, the worker's memory, a user's monthly usage.

Pure arithmetic on stated inputs: each test checks a figure that follows from the product's
exact counts (one read per sync, the hourly position write, 2 quota units per history.list) or
from Lambda's pricing rules, so a change to the model that breaks them fails here.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest

from infra import cost

NO_MAIL = cost.Workload(messages_per_day=0)
MEMORY = {"SyncWorkerFunction": 512, "SyncFanoutFunction": 512}


def by_unit(model: cost.Model, unit: str) -> float:
    return sum(line.quantity for line in model.lines if line.unit == unit)


def test_below_the_knee_an_invocation_costs_the_same_at_any_memory_and_above_it_more() -> None:
    # Given 50 ms of CPU and 100 ms of I/O wait
    cpu, io = 0.05, 0.1
    # Then below the knee (884 MB here) it is CPU-bound: the same GB-seconds whatever the memory
    assert cost.lambda_duration_s(cpu, io, 256) == pytest.approx(cpu * 1769 / 256)
    assert cost.gb_seconds(cpu, io, 256) == pytest.approx(cost.gb_seconds(cpu, io, 512))
    assert cost.gb_seconds(cpu, io, 512) == pytest.approx(cpu * 1769 / 1024)
    # And above it, it waits for I/O at a price that grows with the memory
    assert cost.lambda_duration_s(cpu, io, 1024) == io
    assert cost.gb_seconds(cpu, io, 2048) == pytest.approx(2 * cost.gb_seconds(cpu, io, 1024))


def test_the_worker_gets_the_largest_of_the_cheapest_sizes_it_fits_in_and_starts_in_time() -> None:
    # Given a worker whose batch is CPU-bound below ~520 MB, 100 MiB resident, 1 s of cold init on a vCPU
    measured = dict(cost.MEASURED, worker_cpu_ms_idle=5.0, worker_cpu_ms_mail=5.0, worker_cpu_ms_refresh=5.0)
    choices = cost.worker_memory(measured, NO_MAIL, rss_mib=100, cold_start_s=1.0)
    # Then sizes without 64 MiB above its footprint are not offered
    assert min(choice.memory_mb for choice in choices) == 256
    # And of the equally cheap sizes the largest is chosen (the same price, less latency)
    best = cost.cheapest(choices, max_cold_start_s=10)
    assert best.memory_mb == 512
    assert all(choice.gb_s_per_user_round >= best.gb_s_per_user_round * 0.9999 for choice in choices)
    # And a size whose cold start takes too long is passed over, at a price
    assert cost.cheapest(choices, max_cold_start_s=2.0).memory_mb == 1024


def test_an_idle_polled_mailbox_costs_one_read_per_round_and_a_write_per_hour() -> None:
    # Given a mailbox that never changes, polled every 15 minutes
    model = cost.model(1_000_000, "polling", cost.MEASURED, NO_MAIL, MEMORY)
    # Then a month is 2,880 reads, 24 position writes and 24 token refreshes a day (2 KB-units each)
    assert by_unit(model, "read units") == pytest.approx(30 * (96 + 96 * 0.005))
    write_units = -(-cost.MEASURED["item_bytes"] // 1024)
    assert by_unit(model, "write units") == pytest.approx(30 * write_units * (24 + 24))
    # And 2 quota units per round; a tenth of a send, receive and delete per user and round
    assert model.gmail_units_per_user_day == 2 * 96
    assert by_unit(model, "requests") >= 30 * 0.3 * 96
    assert by_unit(model, "events") == 0


def test_mail_moves_the_position_and_adds_metadata_and_events() -> None:
    # Given 40 messages a day, each arriving and being read: 80 changes, as a Poisson process
    model = cost.model(1_000_000, "polling", cost.MEASURED, cost.Workload(), MEMORY)
    # Then each message is announced once and costs 5 units of metadata
    assert by_unit(model, "events") == 30 * 40
    assert model.gmail_units_per_user_day == 2 * 96 + 5 * 40
    # And every round that finds a change writes, the quiet hours once each, and 24 refreshes
    moved = 96 * (1 - math.exp(-80 / 96)) + 24 * math.exp(-80 / 24)
    write_units = -(-cost.MEASURED["item_bytes"] // 1024)
    assert by_unit(model, "write units") == pytest.approx(30 * write_units * (moved + 24))


def test_push_syncs_on_notifications_and_a_few_rounds() -> None:
    # Given push with 4 safety-net rounds and a daily watch renewal, and 10 changes a day
    workload = cost.Workload(messages_per_day=5, changes_per_message=2)
    model = cost.model(1_000_000, "push", cost.MEASURED, workload, MEMORY)
    # Then each change is a request to the push endpoint and a FIFO send; a round is a tenth of a call
    assert by_unit(model, "requests") > 30 * 10  # API Gateway, plus Lambda's
    assert by_unit(model, "FIFO requests") == pytest.approx(30 * 0.3 * 10)
    assert model.gmail_units_per_user_day == 2 * (4 + 10) + 5 * 5 + 100
    # And with so little mail, push costs less than polling
    polling = cost.model(1_000_000, "polling", cost.MEASURED, workload, MEMORY)
    assert model.per_thousand() < polling.per_thousand()


def test_fixed_costs_weigh_on_small_deployments_and_kms_dominates_at_scale() -> None:
    small = cost.model(1_000, "polling", cost.MEASURED, cost.Workload(), MEMORY)
    large = cost.model(1_000_000, "polling", cost.MEASURED, cost.Workload(), MEMORY)
    assert small.per_thousand() > large.per_thousand()
    assert large.dominant() == "KMS"
    assert sum(large.by_resource().values()) == pytest.approx(large.per_thousand())


def test_a_warm_token_cache_only_helps_while_every_container_can_hold_every_user() -> None:
    assert cost.token_cache_hit(1_000, cost.Workload(worker_containers=1), syncs_per_token=4) == 0.75
    assert 0 < cost.token_cache_hit(1_000, cost.Workload(worker_containers=5), syncs_per_token=4) < 0.75
    assert cost.token_cache_hit(100_000, cost.Workload(), syncs_per_token=4) == 0


def test_gmails_project_quota_runs_out_at_its_units_per_minute() -> None:
    assert cost.quota_limit_users(2 * 96) == 1_200_000 * 1440 // 192


def test_the_figures_make_bench_wrote_replace_the_defaults(tmp_path: Path) -> None:
    # Given a bench.json with a newer measurement of one figure (and one the model does not use)
    written = tmp_path / "bench.json"
    written.write_text(
        json.dumps({"measured_at": "2030-01-01", "cost_inputs": {"worker_cpu_ms_idle": 9.0, "other": 1}}),
        encoding="utf-8",
    )
    # When loaded, Then that figure is replaced and the others kept
    measured, source = cost.load_measured(written)
    assert measured == dict(cost.MEASURED, worker_cpu_ms_idle=9.0)
    assert "2030-01-01" in source
    # And without the file, the defaults measured once are used
    assert cost.load_measured(tmp_path / "absent.json")[0] == cost.MEASURED


def test_the_template_gives_the_sync_functions_their_memory() -> None:
    assert cost.template_memory("SyncWorkerFunction") >= 128
    assert replace(cost.Workload(), rounds_per_day=48).rounds_per_day == 48
