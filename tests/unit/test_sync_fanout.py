"""The fan-out of a round: the scheduler's shards, each shard's segment of the connected users
enqueued one SQS message per user, partial SendMessageBatch failures retried.

moto in-process (TokensTable, the shard and sync queues from template.yaml) for the real paths;
a scripted SQS client for the failures moto cannot produce. No sockets.
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


def handler(function: str, event: dict[str, Any]) -> Any:
    from infra.local_stack.handlers import load_handler

    return load_handler(f"functions/{function}", "app.handler", root=ROOT)(
        event, lambda_context(function, timeout_seconds=60)
    )


def test_a_round_enqueues_exactly_one_message_per_connected_user(aws: dict[str, str]) -> None:
    # Given 60 connected users and 6 that need reauthorization
    connected = [f"1{n:020}" for n in range(60)]
    for user_id in connected:
        put_account(user_id)
    for n in range(6):
        put_account(f"9{n:020}", accounts.REAUTHORIZATION_REQUIRED)
    # When the schedule fires and the fan-out runs every shard the scheduler queued
    planned = handler("sync_scheduler", SCHEDULED_EVENT)
    shards = queued(aws["SYNC_SHARD_QUEUE_URL"])
    for body in shards:
        assert handler("sync_fanout", {"Records": [{"messageId": "m", "body": json.dumps(body)}]}) == {
            "batchItemFailures": []
        }
    # Then the scheduler read no user and queued one shard per segment of the index
    segments = int(aws["SYNC_FANOUT_SEGMENTS"])
    assert planned == {"run_id": SCHEDULED_EVENT["id"], "segments": segments}
    assert sorted(body["segment"] for body in shards) == list(range(segments))
    assert {body["segments"] for body in shards} == {segments}
    # And each connected user is enqueued once, with the run's id and time, and nobody else
    bodies = queued(aws["SYNC_QUEUE_URL"])
    assert sorted(body["user_id"] for body in bodies) == connected
    assert {body["run_id"] for body in bodies} == {SCHEDULED_EVENT["id"]}
    assert {body["scheduled_at"] for body in bodies} == {SCHEDULED_EVENT["time"]}


def test_a_manual_run_without_an_event_enqueues_too(aws: dict[str, str]) -> None:
    put_account("1")
    assert handler("sync_scheduler", {})["segments"] == int(aws["SYNC_FANOUT_SEGMENTS"])
    for body in queued(aws["SYNC_SHARD_QUEUE_URL"]):
        handler("sync_fanout", {"Records": [{"messageId": "m", "body": json.dumps(body)}]})
    assert [body["user_id"] for body in queued(aws["SYNC_QUEUE_URL"])] == ["1"]


def test_no_connected_users_sends_nothing(aws: dict[str, str]) -> None:
    put_account("900", accounts.REAUTHORIZATION_REQUIRED)
    result = fanout.enqueue_segment(fanout.Shard("r", "t", 0, 1))
    assert result == fanout.SegmentResult(users=0, enqueued=0, pages=1, handed_on=False)
    assert queued(aws["SYNC_QUEUE_URL"]) == []


def test_a_segment_running_out_of_time_hands_the_rest_on(aws: dict[str, str], monkeypatch) -> None:
    # Given one segment of 25 connected users read 10 per page, and an invocation short of time
    monkeypatch.setattr(fanout, "PAGE_SIZE", 10)
    users = [f"{n:03}" for n in range(25)]
    for user_id in users:
        put_account(user_id)
    # When the fan-out runs it, Then it stops after the first page and queues the rest as a shard
    first = fanout.enqueue_segment(fanout.Shard("r", "t", 0, 1), remaining_ms=lambda: fanout.HAND_ON_MS - 1)
    assert (first.enqueued, first.pages, first.handed_on) == (10, 1, True)
    [rest] = queued(aws["SYNC_SHARD_QUEUE_URL"])
    assert (rest["run_id"], rest["segment"], rest["segments"]) == ("r", 0, 1)
    # And the continuation, with time to spare, enqueues exactly the others
    second = fanout.enqueue_segment(fanout.Shard.parse(json.dumps(rest)), remaining_ms=lambda: 60_000)
    assert (second.enqueued, second.handed_on) == (15, False)
    assert sorted(body["user_id"] for body in queued(aws["SYNC_QUEUE_URL"])) == users


@pytest.mark.parametrize(
    "body",
    [None, "", "nope", "[]", '{"segment": 0}',
     '{"run_id": "r", "scheduled_at": "t", "segment": 2, "segments": 2}',
     '{"run_id": "r", "scheduled_at": "t", "segment": -1, "segments": 2}',
     '{"run_id": "r", "scheduled_at": "t", "segment": 0, "segments": 1, "start_key": {"user_id": "x"}}',
     '{"run_id": 5, "scheduled_at": "t", "segment": 0, "segments": 1}'],
)  # fmt: skip
def test_malformed_shard_messages_are_refused(body: str | None) -> None:
    with pytest.raises(fanout.InvalidShard):
        fanout.Shard.parse(body)


def test_a_poison_shard_fails_alone_and_a_batch_of_only_poison_fails_the_invocation(
    aws: dict[str, str],
) -> None:
    # Given a batch with a good shard and a malformed one
    put_account("1")
    good = fanout.Shard("r", "t", 0, 1).body()
    records = [{"messageId": "good", "body": good}, {"messageId": "bad", "body": "{"}]
    # When processed, Then only the malformed one is reported, and the good one enqueued its user
    assert handler("sync_fanout", {"Records": records}) == {"batchItemFailures": [{"itemIdentifier": "bad"}]}
    assert [body["user_id"] for body in queued(aws["SYNC_QUEUE_URL"])] == ["1"]
    # And a batch where every shard failed fails the invocation (its errors alarm)
    with pytest.raises(fanout.FanoutIncomplete):
        handler("sync_fanout", {"Records": [{"messageId": "bad", "body": "{"}]})


def body(user_id: str) -> str:
    return fanout.sync_message(user_id, "r", "t")


class ScriptedSQS:
    """SendMessageBatch answers from a script: per call, the entry Ids to refuse and how."""

    def __init__(self, *script: dict[str, dict[str, Any]]) -> None:
        self.script = list(script)
        self.calls: list[list[str]] = []

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> dict[str, Any]:
        assert len(Entries) <= 10
        self.calls.append([json.loads(entry["MessageBody"]).get("user_id") for entry in Entries])
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
    sent = fanout.send_bodies(sqs, "url", [body(user) for user in users], sleep=lambda _: None)
    # Then those two alone were sent again, and everyone is enqueued
    assert sent == 10
    assert sqs.calls == [users, ["2", "5"]]


def test_sender_faults_are_not_retried_and_persistent_refusals_give_up(aws: dict[str, str]) -> None:
    # Given one entry refused as malformed, and another refused by SQS on every attempt
    always = {"3": INTERNAL}
    sqs = ScriptedSQS({"1": BAD_ENTRY, "3": INTERNAL}, always, always, always)
    sleeps: list[float] = []
    # When the batch is sent
    sent = fanout.send_bodies(sqs, "url", [body(user) for user in "abcd"], sleep=sleeps.append)
    # Then the malformed one is dropped at once, the other is tried ATTEMPTS times in all, with backoff
    assert sent == 2
    assert sqs.calls == [["a", "b", "c", "d"], ["d"], ["d"]]
    assert len(sleeps) == fanout.ATTEMPTS - 1
    assert all(0 <= delay <= 1.0 for delay in sleeps)


def test_users_left_out_fail_the_shard_after_everyone_was_tried(aws: dict[str, str]) -> None:
    # Given 25 connected users in one segment and an SQS that refuses one entry of the first batch every time
    for n in range(25):
        put_account(f"{n:03}")
    refuse_first = {"0": INTERNAL}
    sqs = ScriptedSQS(refuse_first, refuse_first, refuse_first)
    # When the segment fans out
    with pytest.raises(fanout.FanoutIncomplete, match="1 of 25"):
        fanout.enqueue_segment(fanout.Shard("r", "t", 0, 1), sqs=sqs, sleep=lambda _: None)
    # Then all three batches were still sent (10, 10, 5 users) before failing
    assert [len(call) for call in sqs.calls] == [10, 1, 1, 10, 5]


def test_shards_left_out_fail_the_round(aws: dict[str, str]) -> None:
    # Given an SQS that refuses one shard message every time
    always = {"1": INTERNAL}
    sqs = ScriptedSQS(always, always, always)
    # When the round is planned, Then it fails after trying every shard
    with pytest.raises(fanout.FanoutIncomplete, match=f"1 of {aws['SYNC_FANOUT_SEGMENTS']} shards"):
        fanout.plan_round("r", "t", sqs=sqs, sleep=lambda _: None)


@pytest.mark.parametrize("variable", ["SYNC_QUEUE_URL", "SYNC_SHARD_QUEUE_URL"])
def test_fanout_refuses_to_run_unconfigured(
    aws: dict[str, str], monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    monkeypatch.setenv(variable, "")
    get_settings.cache_clear()
    with pytest.raises(fanout.FanoutIncomplete, match=variable):
        fanout.enqueue_segment(fanout.Shard("r", "t", 0, 1))
