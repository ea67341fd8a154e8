"""Scheduled sync end to end: the real scheduler and worker handlers, moto's server (TokensTable,
SyncQueue + dead-letter queue and the mail bus, created from template.yaml) and the Google
emulator. Users are connected through the real authorize -> consent -> callback flow.

A round (`infra.local_stack.sync.SyncRound`) is what `make sync` runs: the scheduler's handler
with a Scheduled Event, then the queue drained 10 at a time into the worker's handler as
Lambda's SQS event, processed messages deleted, failed ones left. Published events are read
back through an SQS queue subscribed to the bus with a rule.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
import requests

from gmail_connect.store import accounts
from gmail_connect.store.token_cache import access_tokens
from gmail_connect.sync import user_sync
from infra.cfn import load_template
from infra.local_stack.apigw import lambda_context
from infra.local_stack.sync import RoundSummary, SyncRound, lambda_sqs_event
from tests.support.counting import AwsCalls
from tests.support.flow import connect, deliver, new_account
from tests.support.product import TEMPLATE, reset_caches, scheduled_rounds_only

HISTORY = "GET /gmail/v1/users/{userId}/history"
PROFILE = "GET /gmail/v1/users/{userId}/profile"
LIST = "GET /gmail/v1/users/{userId}/messages"
GET = "GET /gmail/v1/users/{userId}/messages/{id}"
BATCH = "POST /batch/gmail/v1"
TOKEN = "POST /token"


@dataclass
class Sync:
    """The stack plus what a sync test needs: a round runner and a subscriber on the mail bus."""

    stack: Any
    round: SyncRound
    subscriber_url: str

    def run(self) -> RoundSummary:
        return self.round.run()

    def events(self) -> list[dict[str, Any]]:
        """Every event delivered to the subscriber since the last call."""
        sqs = boto3.client("sqs")
        found: list[dict[str, Any]] = []
        for _ in range(100):
            messages = sqs.receive_message(QueueUrl=self.subscriber_url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not messages:
                return found
            found += [json.loads(message["Body"]) for message in messages]
            sqs.delete_message_batch(
                QueueUrl=self.subscriber_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )
        raise AssertionError("the subscriber queue does not drain")

    def account(self, email: str) -> dict[str, Any]:
        """The emulator's view of a mailbox (its current historyId)."""
        return requests.get(f"{self.stack.google.url}/_emulator/accounts/{email}", timeout=5).json()

    def user_id(self, email: str) -> str:
        return str(self.account(email)["sub"])

    def stored(self, email: str) -> dict[str, Any]:
        return boto3.client("dynamodb").get_item(
            TableName=self.stack.environment["TOKENS_TABLE"], Key={"user_id": {"S": self.user_id(email)}}
        )["Item"]

    def reset_google_stats(self) -> None:
        assert requests.post(f"{self.stack.google.url}/_emulator/reset", timeout=5).status_code == 204

    def queue_depth(self, url: str) -> int:
        attributes = boto3.client("sqs").get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )


@pytest.fixture
def sync(stack) -> Sync:
    """A round runner on the stack's template and a queue subscribed to `gmail.message.received`."""
    scheduled_rounds_only(stack.environment)
    sqs, events = boto3.client("sqs"), boto3.client("events")
    url = sqs.create_queue(QueueName="mail-subscriber")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    bus = stack.environment["MAIL_EVENT_BUS_NAME"]
    events.put_rule(
        Name="new-mail",
        EventBusName=bus,
        EventPattern=json.dumps({"source": ["gmail-connect"], "detail-type": ["gmail.message.received"]}),
    )
    events.put_targets(Rule="new-mail", EventBusName=bus, Targets=[{"Id": "subscriber", "Arn": arn}])
    return Sync(stack, SyncRound(load_template(TEMPLATE), stack.environment), url)


def configure(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    reset_caches()


# --- first and incremental sync -------------------------------------------------------------------


def test_first_sync_records_the_mailbox_position_without_announcing_old_mail(sync: Sync) -> None:
    # Given a connected user whose mailbox already holds mail
    connect(sync.stack)
    sync.reset_google_stats()
    # When a sync round runs
    summary = sync.run()
    # Then the mailbox's history id is stored, one profile call made, and nothing announced
    assert summary.outcomes == {"first_sync": 1}
    assert summary.failed == 0
    item = sync.stored(sync.stack.email)
    assert item["history_id"] == {"N": sync.account(sync.stack.email)["historyId"]}
    assert datetime.fromisoformat(item["last_sync_at"]["S"])
    assert sync.events() == []
    assert sync.stack.google_stats()["calls"] == {PROFILE: 1}


def test_first_sync_backfills_the_newest_messages_when_configured(sync: Sync, monkeypatch) -> None:
    # Given backfill of 3 and a connected user with 4 messages
    configure(monkeypatch, SYNC_BACKFILL_MESSAGES="3")
    email = new_account(sync.stack)
    connect(sync.stack, email)
    ids = [deliver(sync.stack, email, subject=f"m{n}")["id"] for n in range(4)]
    # When the first round runs
    summary = sync.run()
    # Then the 3 newest are announced, oldest first (one list page, one metadata batch)
    assert summary.new_messages == summary.events_published == 3
    assert [event["detail"]["message_id"] for event in sync.events()] == ids[1:]
    calls = sync.stack.google_stats()["calls"]
    assert (calls[PROFILE], calls[LIST], calls[BATCH]) == (1, 1, 1)


def test_new_mail_is_published_with_the_documented_fields(sync: Sync) -> None:
    # Given a synced user who then receives two messages
    connect(sync.stack)
    sync.run()
    first = deliver(
        sync.stack, sync.stack.email, subject="Your invoice", **{"from": "Billing <billing@example.org>"}
    )
    second = deliver(sync.stack, sync.stack.email, subject="Lunch?", labelIds=["INBOX", "CATEGORY_SOCIAL"])
    sync.reset_google_stats()
    # When the next round runs
    summary = sync.run()
    # Then both are published, in order, as documented in docs/sync.md
    assert summary.outcomes == {"incremental": 1}
    assert summary.events_published == 2
    events = sync.events()
    assert [event["detail"]["message_id"] for event in events] == [first["id"], second["id"]]
    event = events[0]
    assert event["source"] == "gmail-connect"
    assert event["detail-type"] == "gmail.message.received"
    detail = event["detail"]
    assert set(detail) == {
        "connection_id",
        "external_user_id",
        "user_id",
        "message_id",
        "thread_id",
        "history_id",
        "labels",
        "from",
        "subject",
        "date",
    }
    assert detail["user_id"] == sync.user_id(sync.stack.email)
    assert detail["connection_id"] == sync.stored(sync.stack.email)["connection_id"]["S"]
    assert detail["external_user_id"] is None  # connected in the browser, without a connect link
    assert detail["thread_id"] == first["threadId"]
    assert detail["history_id"] == first["historyId"]
    assert detail["labels"] == ["INBOX", "UNREAD", "CATEGORY_PERSONAL"]
    assert detail["from"] == "Billing <billing@example.org>"
    assert detail["subject"] == "Your invoice"
    assert datetime.fromisoformat(detail["date"]).utcoffset() is not None
    assert events[1]["detail"]["labels"] == ["INBOX", "CATEGORY_SOCIAL"]
    # And Google was asked once for history and once (a batch of 2) for metadata
    stats = sync.stack.google_stats()
    assert stats["calls"] == {HISTORY: 1, BATCH: 1}
    assert stats["batched_calls"] == {GET: 2}
    assert stats["quota_units"] == {sync.stack.email: 2 + 2 * 5}
    assert sync.stored(sync.stack.email)["history_id"] == {"N": sync.account(sync.stack.email)["historyId"]}


def test_label_changes_and_deletions_are_not_published(sync: Sync) -> None:
    # Given a synced user whose new message was published
    connect(sync.stack)
    sync.run()
    message = deliver(sync.stack, sync.stack.email)
    sync.run()
    assert len(sync.events()) == 1
    # When the message is starred, then deleted, and a round runs
    email = sync.stack.email
    starred = sync.stack.google_control(
        f"accounts/{email}/messages/{message['id']}/labels", {"add": ["STARRED"]}
    )
    assert starred.status_code == 200
    deleted = requests.delete(
        f"{sync.stack.google.url}/_emulator/accounts/{email}/messages/{message['id']}", timeout=5
    )
    assert deleted.status_code == 204
    sync.reset_google_stats()
    summary = sync.run()
    # Then nothing is published, no metadata fetched, and the position moves past both changes
    assert summary.events_published == 0
    assert sync.events() == []
    assert sync.stack.google_stats()["calls"] == {HISTORY: 1}
    assert sync.stored(email)["history_id"] == {"N": sync.account(email)["historyId"]}


WORKER_SERVICES = ("dynamodb", "kms", "secretsmanager", "events")  # the fan-out's SQS calls aside


def worker_calls(aws_calls: AwsCalls) -> list[str]:
    """The calls of a round but the fan-out's Scan of the index (the worker never scans)."""
    return [call for call in aws_calls.calls if call != "dynamodb:Scan"]


def age_last_sync(sync: Sync, email: str, seconds: int) -> None:
    when = datetime.fromtimestamp(time.time() - seconds, UTC).isoformat(timespec="seconds")
    boto3.client("dynamodb").update_item(
        TableName=sync.stack.environment["TOKENS_TABLE"],
        Key={"user_id": {"S": sync.user_id(email)}},
        UpdateExpression="SET last_sync_at = :t",
        ExpressionAttributeValues={":t": {"S": when}},
    )


def test_an_idle_user_costs_one_history_call_and_a_tenth_of_a_read(sync: Sync) -> None:
    # Given ten users synced a moment ago (one SQS batch), with no new mail since
    emails = [sync.stack.email] + [new_account(sync.stack) for _ in range(9)]
    for email in emails:
        connect(sync.stack, email)
    sync.run()
    stored = {email: sync.stored(email) for email in emails}
    sync.reset_google_stats()
    aws_calls = AwsCalls(WORKER_SERVICES)
    # When a round runs in the same (warm) worker container
    summary = sync.run()
    # Then each user cost exactly one history.list call (2 quota units) and no token refresh
    assert summary.outcomes == {"incremental": 10}
    stats = sync.stack.google_stats()
    assert stats["calls"] == {HISTORY: 10}
    assert stats["batched_calls"] == {}
    assert stats["quota_units"] == dict.fromkeys(sorted(emails), 2)
    # And on AWS the whole batch cost one read: 0.1 calls per idle user, nothing written or published
    assert worker_calls(aws_calls) == ["dynamodb:BatchGetItem"]
    assert {email: sync.stored(email) for email in emails} == stored
    assert sync.events() == []


def test_an_idle_users_sync_time_is_written_once_it_is_due(sync: Sync) -> None:
    # Given ten synced users whose recorded sync is older than the refresh bound
    emails = [sync.stack.email] + [new_account(sync.stack) for _ in range(9)]
    for email in emails:
        connect(sync.stack, email)
    sync.run()
    for email in emails:
        age_last_sync(sync, email, user_sync.POSITION_REFRESH_SECONDS + 60)
    aws_calls = AwsCalls(WORKER_SERVICES)
    # When a round runs with no new mail
    started = datetime.now(UTC).replace(microsecond=0)
    assert sync.run().outcomes == {"incremental": 10}
    # Then one read for the batch and one conditional write per user: 1.1 calls per user
    assert Counter(worker_calls(aws_calls)) == {"dynamodb:BatchGetItem": 1, "dynamodb:UpdateItem": 10}
    assert all(datetime.fromisoformat(sync.stored(email)["last_sync_at"]["S"]) >= started for email in emails)


def test_a_cold_worker_container_adds_one_decrypt_per_user(sync: Sync) -> None:
    # Given three synced users, and a worker container that has not seen them (no cached token)
    emails = [sync.stack.email, new_account(sync.stack), new_account(sync.stack)]
    for email in emails:
        connect(sync.stack, email)
    sync.run()
    access_tokens.clear()
    sync.reset_google_stats()
    aws_calls = AwsCalls(WORKER_SERVICES)
    # When a round runs with no new mail
    assert sync.run().outcomes == {"incremental": 3}
    # Then each user's access token was decrypted once, still from the batch's one read
    assert Counter(worker_calls(aws_calls)) == {"dynamodb:BatchGetItem": 1, "kms:Decrypt": 3}
    assert sync.stack.google_stats()["calls"] == {HISTORY: 3}


def test_a_token_kms_refuses_marks_the_grant_unusable_from_the_batch_read(sync: Sync) -> None:
    # Given two synced users, and user A's access token copied onto user B's item (cold container)
    alice, bob = sync.stack.email, new_account(sync.stack)
    connect(sync.stack, alice)
    connect(sync.stack, bob)
    sync.run()
    boto3.client("dynamodb").update_item(
        TableName=sync.stack.environment["TOKENS_TABLE"],
        Key={"user_id": {"S": sync.user_id(bob)}},
        UpdateExpression="SET access_token = :stolen",
        ExpressionAttributeValues={":stolen": sync.stored(alice)["access_token"]},
    )
    access_tokens.clear()
    # When a round runs
    summary = sync.run()
    # Then KMS refused it (another user's context), B is marked and skipped, A synced as usual
    assert summary.failed == 0
    assert summary.outcomes == {"incremental": 1, "reauthorization_required": 1}
    marked = sync.stored(bob)
    assert marked["status"] == {"S": accounts.REAUTHORIZATION_REQUIRED}
    assert marked["reauth_reason"] == {"S": "grant_unusable"}
    assert sync.stored(alice)["status"] == {"S": "connected"}


def test_expired_access_tokens_are_refreshed_at_most_once_per_user(sync: Sync) -> None:
    # Given two synced users whose stored access tokens have expired
    emails = [sync.stack.email, new_account(sync.stack)]
    for email in emails:
        connect(sync.stack, email)
    sync.run()
    for email in emails:
        boto3.client("dynamodb").update_item(
            TableName=sync.stack.environment["TOKENS_TABLE"],
            Key={"user_id": {"S": sync.user_id(email)}},
            UpdateExpression="SET access_token_expires_at = :past",
            ExpressionAttributeValues={":past": {"N": "1"}},
        )
    sync.reset_google_stats()
    # When a round runs
    summary = sync.run()
    # Then each user refreshed once and made one history call
    assert summary.failed == 0
    assert sync.stack.google_stats()["calls"] == {TOKEN: 2, HISTORY: 2}


def test_stale_history_means_a_bounded_full_resync(sync: Sync, monkeypatch) -> None:
    # Given a synced user with 3 new messages whose history Google has since dropped
    configure(monkeypatch, SYNC_MAX_MESSAGES="2")
    email = new_account(sync.stack)
    connect(sync.stack, email)
    sync.run()
    ids = [deliver(sync.stack, email, subject=f"m{n}")["id"] for n in range(3)]
    assert sync.stack.google_control(f"accounts/{email}/expire_history").status_code == 204
    sync.reset_google_stats()
    # When a round runs
    summary = sync.run()
    # Then after the 404 the mail since the last sync is listed and announced, at most 2 messages
    assert summary.outcomes == {"resync": 1}
    assert [event["detail"]["message_id"] for event in sync.events()] == ids[1:]
    assert sync.stack.google_stats()["calls"] == {HISTORY: 1, PROFILE: 1, LIST: 1, BATCH: 1}
    # And incremental sync resumes from the current position
    assert sync.stored(email)["history_id"] == {"N": sync.account(email)["historyId"]}
    sync.reset_google_stats()
    sync.run()
    assert sync.stack.google_stats()["calls"] == {HISTORY: 1}


# --- failures ---------------------------------------------------------------------------------


def test_revoked_user_is_marked_and_skipped_while_the_others_sync(sync: Sync) -> None:
    # Given three synced users, one of whom then revokes access at Google, and new mail for the others
    alice, bob, carol = sync.stack.email, new_account(sync.stack), new_account(sync.stack)
    for email in (alice, bob, carol):
        connect(sync.stack, email)
    sync.run()
    assert sync.stack.google_control(f"accounts/{bob}/revoke").status_code == 204
    for email in (alice, bob, carol):
        deliver(sync.stack, email)
    # When a round runs
    summary = sync.run()
    # Then the others' mail is published, the revoked user is marked, and no record failed
    assert summary.failed == 0
    assert summary.outcomes == {"incremental": 2, "reauthorization_required": 1}
    assert {event["detail"]["user_id"] for event in sync.events()} == {
        sync.user_id(alice),
        sync.user_id(carol),
    }
    marked = sync.stored(bob)
    assert marked["status"] == {"S": accounts.REAUTHORIZATION_REQUIRED}
    assert sync.queue_depth(sync.stack.environment["SYNC_QUEUE_URL"]) == 0
    # And the next round does not enqueue them
    assert sync.run().enqueued == 2


def test_rate_limited_history_is_retried_then_succeeds(sync: Sync) -> None:
    # Given a synced user with new mail and Google answering the next history call with 429
    connect(sync.stack)
    sync.run()
    message = deliver(sync.stack, sync.stack.email)
    sync.reset_google_stats()
    fault = {"path_prefix": "/gmail/v1/users/me/history", "status": 429, "count": 1, "retry_after": 0}
    assert sync.stack.google_control("faults", fault).status_code == 201
    # When a round runs
    summary = sync.run()
    # Then the call was retried and the message published
    assert summary.failed == 0
    assert sync.stack.google_stats()["calls"][HISTORY] == 2
    assert [event["detail"]["message_id"] for event in sync.events()] == [message["id"]]


def test_google_down_fails_only_that_user_and_keeps_the_message_for_later(sync: Sync) -> None:
    # Given two synced users and Google failing every call for one of them
    alice, bob = sync.stack.email, new_account(sync.stack)
    connect(sync.stack, alice)
    connect(sync.stack, bob)
    sync.run()
    deliver(sync.stack, alice)
    before = sync.stored(alice)["history_id"]
    # 503s on every history call of the round (the emulator cannot tell users apart by path)
    sync.stack.google_control(
        "faults", {"path_prefix": "/gmail/v1/users/me/history", "status": 503, "count": 8}
    )
    summary = sync.run()
    # Then the records failed (left in the queue for SQS to retry) and no position moved
    assert summary.failed == 2
    assert sync.stored(alice)["history_id"] == before
    assert sync.queue_depth(sync.stack.environment["SYNC_QUEUE_URL"]) == 2
    # And once Google is back, the retried messages deliver the mail
    sync.stack.google_control("reset")
    assert sync.run().failed == 0
    assert len(sync.events()) == 1


def worker_batch(sync: Sync, *bodies: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Send `bodies` to the sync queue, receive them as Lambda would, invoke the worker once."""
    sqs = boto3.client("sqs")
    queue_url = sync.stack.environment["SYNC_QUEUE_URL"]
    for body in bodies:
        # The FIFO queue would drop a repeat: each send has its own deduplication id, so a
        # duplicate reaches the worker as a redelivery would.
        sqs.send_message(
            QueueUrl=queue_url,
            MessageBody=body,
            MessageGroupId="test",
            MessageDeduplicationId=str(uuid.uuid4()),
        )
    messages: list[dict[str, Any]] = []
    while len(messages) < len(bodies):
        received = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
        )
        messages += received.get("Messages", [])
    event = lambda_sqs_event(messages, sync.round.queue_arn)
    return event, sync.round.worker(event, lambda_context("SyncWorkerFunction", timeout_seconds=60))


def test_poison_records_are_the_only_failures_and_end_in_the_dead_letter_queue(sync: Sync) -> None:
    # Given a connected user, and a batch with their sync request, a malformed body and an unknown user
    connect(sync.stack)
    good = json.dumps({"user_id": sync.user_id(sync.stack.email), "run_id": "manual"})
    unknown = json.dumps({"user_id": "100000000000000000000", "run_id": "manual"})
    event, response = worker_batch(sync, good, "{this is not json", unknown)
    # Then exactly the malformed and unknown-user records are reported failed
    by_body = {record["body"]: record["messageId"] for record in event["Records"]}
    failed = {item["itemIdentifier"] for item in response["batchItemFailures"]}
    assert failed == {by_body["{this is not json"], by_body[unknown]}
    # And after maxReceiveCount (5) deliveries SQS moves them to the dead-letter queue
    sqs = boto3.client("sqs")
    queue_url = sync.stack.environment["SYNC_QUEUE_URL"]
    for record in event["Records"]:  # what Lambda does with the response
        if record["messageId"] in failed:
            sqs.change_message_visibility(
                QueueUrl=queue_url, ReceiptHandle=record["receiptHandle"], VisibilityTimeout=0
            )
        else:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=record["receiptHandle"])
    for _ in range(15):  # a FIFO receive may serve one message group at a time: 6 receives each
        for message in sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0
        ).get("Messages", []):
            assert message["Body"] in {"{this is not json", unknown}
    assert sync.queue_depth(queue_url) == 0
    assert sync.queue_depth(sync.round.dead_letter_url) == 2


def test_duplicate_delivery_publishes_each_message_once(sync: Sync) -> None:
    # Given a synced user with one new message
    connect(sync.stack)
    sync.run()
    message = deliver(sync.stack, sync.stack.email)
    body = json.dumps({"user_id": sync.user_id(sync.stack.email), "run_id": "r"})
    # When the same sync request arrives twice in one batch, and that batch is then delivered again
    event, response = worker_batch(sync, body, body)
    again = sync.round.worker(event, lambda_context("SyncWorkerFunction", timeout_seconds=60))
    # Then every record succeeded and the message was published once
    assert response == again == {"batchItemFailures": []}
    assert [event["detail"]["message_id"] for event in sync.events()] == [message["id"]]


def test_scheduler_enqueues_one_message_per_connected_user_only(sync: Sync) -> None:
    # Given two connected users, one of whom is then marked reauthorization_required
    alice, bob = sync.stack.email, new_account(sync.stack)
    connect(sync.stack, alice)
    connect(sync.stack, bob)
    boto3.client("dynamodb").update_item(
        TableName=sync.stack.environment["TOKENS_TABLE"],
        Key={"user_id": {"S": sync.user_id(bob)}},
        UpdateExpression="SET #s = :r",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":r": {"S": accounts.REAUTHORIZATION_REQUIRED}},
    )
    # When the schedule fires and its shards are fanned out
    summary = RoundSummary()
    assert sync.round.fan_out(summary) == []
    # Then exactly one message, for the connected user, is queued
    assert (summary.segments, summary.enqueued) == (int(sync.stack.environment["SYNC_FANOUT_SEGMENTS"]), 1)
    messages = boto3.client("sqs").receive_message(
        QueueUrl=sync.stack.environment["SYNC_QUEUE_URL"], MaxNumberOfMessages=10
    )["Messages"]
    assert [json.loads(m["Body"])["user_id"] for m in messages] == [sync.user_id(alice)]


def test_a_401_storm_fails_the_record_for_a_later_retry_and_marks_nobody(sync: Sync) -> None:
    # Given a synced user with new mail, and Gmail refusing even a freshly refreshed token for a while
    connect(sync.stack)
    sync.run()
    message = deliver(sync.stack, sync.stack.email)
    fault = {"path_prefix": "/gmail/v1/users/me/history", "status": 401, "count": 2}
    assert sync.stack.google_control("faults", fault).status_code == 201
    # When a round runs
    summary = sync.run()
    # Then the record failed (SQS delivers it again) and the account is still connected
    assert summary.failed == 1
    assert sync.stored(sync.stack.email)["status"] == {"S": "connected"}
    assert sync.events() == []
    # And once the storm passed, the next round announces the message
    assert sync.run().failed == 0
    assert [event["detail"]["message_id"] for event in sync.events()] == [message["id"]]
