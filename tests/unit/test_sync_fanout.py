"""The scheduler: one SQS message per connected user, partial SendMessageBatch failures retried.

moto in-process (TokensTable, SyncQueue from template.yaml) for the real paths; a scripted SQS
client for the failures moto cannot produce. No sockets.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from gmail_connect.core.config import get_settings
from gmail_connect.store import accounts
from gmail_connect.sync import fanout
from infra.local_stack.apigw import lambda_context
from tests.support.product import ROOT

SCHEDULED_EVENT = json.loads((ROOT / "events" / "sync_scheduler.json").read_text(encoding="utf-8"))


def put_account(user_id: str, status: str = accounts.CONNECTED) -> None:
    boto3.client("dynamodb").put_item(
        TableName=get_settings().tokens_table,
        Item={"user_id": {"S": user_id}, "status": {"S": status}, "email": {"S": f"{user_id}@example.com"}},
    )


def queued(queue_url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs")
    bodies: list[dict[str, Any]] = []
    for _ in range(100):
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            break
        bodies += [json.loads(message["Body"]) for message in messages]
    return bodies


def scheduler(event: dict[str, Any]) -> Any:
    from infra.local_stack.handlers import load_handler

    return load_handler("functions/sync_scheduler", "app.handler", root=ROOT)(
        event, lambda_context("SyncSchedulerFunction", timeout_seconds=120)
    )


def test_scheduler_enqueues_exactly_one_message_per_connected_user(aws: dict[str, str]) -> None:
    # Given 23 connected users and 2 that need reauthorization
    connected = [f"1{n:020}" for n in range(23)]
    for user_id in connected:
        put_account(user_id)
    for user_id in ("900", "901"):
        put_account(user_id, accounts.REAUTHORIZATION_REQUIRED)
    # When the schedule fires
    result = scheduler(SCHEDULED_EVENT)
    # Then each connected user is enqueued once, with the run's id and time, and nobody else
    assert result == {"run_id": SCHEDULED_EVENT["id"], "users": 23, "enqueued": 23}
    bodies = queued(aws["SYNC_QUEUE_URL"])
    assert sorted(body["user_id"] for body in bodies) == connected
    assert {body["run_id"] for body in bodies} == {SCHEDULED_EVENT["id"]}
    assert {body["scheduled_at"] for body in bodies} == {SCHEDULED_EVENT["time"]}


def test_a_manual_run_without_an_event_enqueues_too(aws: dict[str, str]) -> None:
    put_account("1")
    assert scheduler({})["enqueued"] == 1
    assert [body["user_id"] for body in queued(aws["SYNC_QUEUE_URL"])] == ["1"]


def test_no_connected_users_sends_nothing(aws: dict[str, str]) -> None:
    put_account("900", accounts.REAUTHORIZATION_REQUIRED)
    assert fanout.enqueue_connected_users("r", "t") == fanout.FanoutResult(0, 0, 0)
    assert queued(aws["SYNC_QUEUE_URL"]) == []


class ScriptedSQS:
    """SendMessageBatch answers from a script: per call, the entry Ids to refuse and how."""

    def __init__(self, *script: dict[str, dict[str, Any]]) -> None:
        self.script = list(script)
        self.calls: list[list[str]] = []

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> dict[str, Any]:
        assert len(Entries) <= 10
        self.calls.append([json.loads(entry["MessageBody"])["user_id"] for entry in Entries])
        refuse = self.script.pop(0) if self.script else {}
        failed = [
            {
                "Id": entry["Id"],
                "Code": refuse[entry["Id"]]["Code"],
                "SenderFault": refuse[entry["Id"]]["Sender"],
            }
            for entry in Entries
            if entry["Id"] in refuse
        ]
        return {"Successful": [], "Failed": failed} if failed else {"Successful": []}


INTERNAL = {"Code": "InternalError", "Sender": False}
BAD_ENTRY = {"Code": "InvalidMessageContents", "Sender": True}


def test_only_refused_entries_are_sent_again(aws: dict[str, str]) -> None:
    # Given SQS refusing entries 2 and 5 of a batch once
    sqs = ScriptedSQS({"2": INTERNAL, "5": INTERNAL})
    users = [str(n) for n in range(10)]
    # When the batch is sent
    sent = fanout.send_batch(sqs, "url", users, run_id="r", scheduled_at="t", sleep=lambda _: None)
    # Then those two alone were sent again, and everyone is enqueued
    assert sent == 10
    assert sqs.calls == [users, ["2", "5"]]


def test_sender_faults_are_not_retried_and_persistent_refusals_give_up(aws: dict[str, str]) -> None:
    # Given one entry refused as malformed, and another refused by SQS on every attempt
    always = {"3": INTERNAL}
    sqs = ScriptedSQS({"1": BAD_ENTRY, "3": INTERNAL}, always, always, always)
    sleeps: list[float] = []
    # When the batch is sent
    sent = fanout.send_batch(
        sqs, "url", ["a", "b", "c", "d"], run_id="r", scheduled_at="t", sleep=sleeps.append
    )
    # Then the malformed one is dropped at once, the other is tried ATTEMPTS times in all, with backoff
    assert sent == 2
    assert sqs.calls == [["a", "b", "c", "d"], ["d"], ["d"]]
    assert len(sleeps) == fanout.ATTEMPTS - 1
    assert all(0 <= delay <= 1.0 for delay in sleeps)


def test_users_left_out_fail_the_run_after_everyone_was_tried(aws: dict[str, str]) -> None:
    # Given 25 connected users and an SQS that refuses one entry of the first batch every time
    for n in range(25):
        put_account(f"{n:03}")
    refuse_first = {"0": INTERNAL}
    sqs = ScriptedSQS(refuse_first, refuse_first, refuse_first)
    # When the run fans out
    with pytest.raises(fanout.FanoutIncomplete, match="1 of 25"):
        fanout.enqueue_connected_users("r", "t", sqs=sqs, sleep=lambda _: None)
    # Then all three batches were still sent (10, 10, 5 users) before failing
    assert [len(call) for call in sqs.calls] == [10, 1, 1, 10, 5]


def test_fanout_refuses_to_run_unconfigured(aws: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNC_QUEUE_URL", "")
    get_settings.cache_clear()
    with pytest.raises(fanout.FanoutIncomplete, match="SYNC_QUEUE_URL"):
        fanout.enqueue_connected_users("r", "t")
