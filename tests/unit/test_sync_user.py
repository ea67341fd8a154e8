"""Syncing one user (`gmail_connect.sync.user_sync`), with a fake mailbox and publisher passed in.

AWS is moto in-process with TokensTable from template.yaml; no sockets. The fake mailbox keeps
the Gmail rules the sync relies on: history records with increasing, non-contiguous ids, pages
resumed after their last record, 404 (`HistoryExpired`) for a start id older than what is kept,
newest-first message lists.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from gmail_connect.core.aws import client as aws_client
from gmail_connect.core.config import get_settings
from gmail_connect.core.errors import GoogleUnavailable, ReauthorizationRequired
from gmail_connect.gmail.client import HistoryExpired
from gmail_connect.store import accounts, grants
from gmail_connect.sync import user_sync, worker
from gmail_connect.sync.mail_events import EventPublishFailed, MessageReceived
from infra.local_stack.apigw import lambda_context
from tests.support.counting import AwsCalls, captured_logs

# --- fakes ------------------------------------------------------------------------------------------


@dataclass
class FakeMailbox:
    history_id: int = 5000
    page_size: int = 100
    now_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    records: list[dict[str, Any]] = field(default_factory=list)
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    floor: int = 0  # start ids below this get 404
    fail_with: Exception | None = None
    calls: Counter[str] = field(default_factory=Counter)
    queries: list[str | None] = field(default_factory=list)
    metadata_requests: list[list[str]] = field(default_factory=list)

    # -- changes -------------------------------------------------------------------------------
    def _record(self, **changes: Any) -> str:
        self.history_id += 3  # increasing, not contiguous
        self.records.append({"id": str(self.history_id), **changes})
        return str(self.history_id)

    def deliver(
        self,
        message_id: str,
        *,
        labels: Sequence[str] = ("INBOX", "UNREAD"),
        subject: str = "Hello",
        sender: str = "Ann <ann@example.com>",
        record: bool = True,
    ) -> str:
        self.now_ms += 1000
        self.messages[message_id] = {
            "id": message_id,
            "threadId": f"t{message_id}",
            "labelIds": list(labels),
            "snippet": "…",
            "from": sender,
            "to": "me@example.com",
            "subject": subject,
            "date": "Tue, 1 Dec 2026 10:00:00 +0000",
            "internalDate": str(self.now_ms),
        }
        if not record:
            return ""
        ref = {"id": message_id, "threadId": f"t{message_id}", "labelIds": list(labels)}
        return self._record(messages=[ref], messagesAdded=[{"message": ref}])

    def relabel(self, message_id: str, add: Sequence[str]) -> str:
        self.messages[message_id]["labelIds"] += list(add)
        ref = {
            "id": message_id,
            "threadId": f"t{message_id}",
            "labelIds": self.messages[message_id]["labelIds"],
        }
        return self._record(messages=[ref], labelsAdded=[{"message": ref, "labelIds": list(add)}])

    def delete(self, message_id: str) -> str:
        self.messages.pop(message_id)
        ref = {"id": message_id, "threadId": f"t{message_id}"}
        return self._record(messages=[ref], messagesDeleted=[{"message": ref}])

    def expire_history(self) -> None:
        self.records.clear()
        self.floor = self.history_id

    # -- the Gmail API the sync calls -----------------------------------------------------------
    def _maybe_fail(self) -> None:
        if self.fail_with is not None:
            raise self.fail_with

    def profile(self) -> dict[str, Any]:
        self.calls["profile"] += 1
        self._maybe_fail()
        return {
            "emailAddress": "me@example.com",
            "messagesTotal": len(self.messages),
            "historyId": str(self.history_id),
        }

    def history(self, *, start_history_id: str, page_token: str | None = None) -> dict[str, Any]:
        self.calls["history"] += 1
        self._maybe_fail()
        start = int(start_history_id)
        if start < self.floor:
            raise HistoryExpired("404: startHistoryId too old")
        after = int(page_token) if page_token else start
        newer = [record for record in self.records if int(record["id"]) > after]
        page = newer[: self.page_size]
        body: dict[str, Any] = {"historyId": str(self.history_id)}
        if page:
            body["history"] = page
        if len(newer) > self.page_size:
            body["nextPageToken"] = page[-1]["id"]
        return body

    def list_messages(
        self,
        q: str | None = None,
        label_ids: Sequence[str] | None = None,
        page_token: str | None = None,
        max_results: int = 100,
    ) -> dict[str, Any]:
        self.calls["list_messages"] += 1
        self._maybe_fail()
        self.queries.append(q)
        ordered = sorted(self.messages.values(), key=lambda m: int(m["internalDate"]), reverse=True)
        if q and q.startswith("after:"):
            cutoff_ms = int(q.removeprefix("after:")) * 1000
            ordered = [m for m in ordered if int(m["internalDate"]) > cutoff_ms]
        start = int(page_token or 0)
        page = ordered[start : start + max_results]
        body: dict[str, Any] = {"resultSizeEstimate": len(ordered)}
        if page:
            body["messages"] = [{"id": m["id"], "threadId": m["threadId"]} for m in page]
        if start + max_results < len(ordered):
            body["nextPageToken"] = str(start + max_results)
        return body

    def get_metadata(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        self.calls["get_metadata"] += 1
        self._maybe_fail()
        self.metadata_requests.append(list(ids))
        return [dict(self.messages[i]) for i in ids if i in self.messages]


@dataclass
class Published:
    """A publisher that keeps what it was given."""

    events: list[MessageReceived] = field(default_factory=list)
    calls: int = 0
    fail_with: Exception | None = None

    def __call__(self, events: Sequence[MessageReceived]) -> int:
        self.calls += 1
        if self.fail_with is not None:
            raise self.fail_with
        self.events.extend(events)
        return len(events)


# --- fixtures and helpers -------------------------------------------------------------------------

USER = "112233445566778899001"
OTHER = "112233445566778899002"


@pytest.fixture
def mailbox(aws: dict[str, str]) -> FakeMailbox:
    """A connected user with an empty mailbox."""
    connect(USER)
    return FakeMailbox()


def connect(user_id: str) -> None:
    grants.store_new_grant(
        grants.Grant(
            user_id=user_id,
            email=f"{user_id}@example.com",
            scopes=("openid", "https://www.googleapis.com/auth/gmail.readonly"),
            access_token="ya29.access-MARKER",
            access_token_expires_at=int(time.time()) + 3600,
            refresh_token="1//refresh-MARKER",
        )
    )


def run(mailbox: FakeMailbox, publish: Published | None = None, user_id: str = USER) -> user_sync.SyncResult:
    return user_sync.sync_user(user_id, mailbox_factory=lambda _: mailbox, publish=publish or Published())


def stored(user_id: str = USER) -> dict[str, Any]:
    return boto3.client("dynamodb").get_item(
        TableName=get_settings().tokens_table, Key={"user_id": {"S": user_id}}
    )["Item"]


def configure(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()


# --- first sync -------------------------------------------------------------------------------------


def test_first_sync_records_the_mailbox_position_and_announces_nothing_by_default(mailbox) -> None:
    # Given a connected user who already has mail
    mailbox.deliver("a1")
    published = Published()
    # When their mailbox is synced for the first time
    result = run(mailbox, published)
    # Then only the profile was read, nothing announced, and the position stored
    assert mailbox.calls == Counter({"profile": 1})
    assert published.events == []
    assert result == user_sync.SyncResult(USER, user_sync.FIRST_SYNC, 0, mailbox.history_id, True, True, True)
    item = stored()
    assert item["history_id"] == {"N": str(mailbox.history_id)}
    assert item["last_sync_at"]["S"]


def test_first_sync_backfills_the_newest_messages_when_configured(mailbox, monkeypatch) -> None:
    # Given backfill of 3 and a mailbox whose newest message is a draft
    configure(monkeypatch, SYNC_BACKFILL_MESSAGES="3")
    for message_id in ("a1", "a2", "a3", "a4"):
        mailbox.deliver(message_id)
    mailbox.deliver("d5", labels=("DRAFT",))
    published = Published()
    # When synced for the first time
    run(mailbox, published)
    # Then the 3 newest were considered (one page, one metadata batch), announced oldest first, draft skipped
    assert [event.message_id for event in published.events] == ["a3", "a4"]
    assert mailbox.calls == Counter({"profile": 1, "list_messages": 1, "get_metadata": 1})
    assert mailbox.metadata_requests == [["a3", "a4", "d5"]]
    assert {event.history_id for event in published.events} == {str(mailbox.history_id)}


# --- incremental ------------------------------------------------------------------------------------


def test_no_new_mail_costs_one_history_call_and_writes_nothing(mailbox) -> None:
    # Given a user synced a moment ago
    run(mailbox)
    before = stored()
    mailbox.calls.clear()
    published = Published()
    # When synced again with nothing new
    result = run(mailbox, published)
    # Then exactly one history call was made, nothing announced, and the item left as it was
    assert mailbox.calls == Counter({"history": 1})
    assert published.events == []
    assert result == user_sync.SyncResult(
        USER, user_sync.INCREMENTAL, 0, mailbox.history_id, True, True, position_written=False
    )
    assert stored() == before


def set_last_sync(seconds_ago: int, user_id: str = USER) -> str:
    when = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() - seconds_ago))
    boto3.client("dynamodb").update_item(
        TableName=get_settings().tokens_table,
        Key={"user_id": {"S": user_id}},
        UpdateExpression="SET last_sync_at = :t",
        ExpressionAttributeValues={":t": {"S": when}},
    )
    return when


@pytest.mark.parametrize(
    ("seconds_ago", "written"),
    [(user_sync.POSITION_REFRESH_SECONDS - 60, False), (user_sync.POSITION_REFRESH_SECONDS + 60, True)],
    ids=["recent", "due"],
)
def test_an_unchanged_position_is_written_again_only_once_its_sync_time_is_due(
    mailbox, seconds_ago: int, written: bool
) -> None:
    # Given an idle user whose last recorded sync is just inside, or just past, the refresh bound
    run(mailbox)
    recorded = set_last_sync(seconds_ago)
    before = stored()
    # When synced with nothing new
    result = run(mailbox)
    # Then only a due sync time is written, with nothing but the sync time changed
    assert result.position_written is written
    assert result.position_advanced is True
    after = stored()
    assert {k: v for k, v in after.items() if k != "last_sync_at"} == {
        k: v for k, v in before.items() if k != "last_sync_at"
    }
    assert (after["last_sync_at"]["S"] != recorded) is written


def test_new_mail_is_announced_with_the_documented_fields(mailbox) -> None:
    # Given a synced user who then receives mail, sends mail, and has a message come and go
    run(mailbox)
    added_a = mailbox.deliver("a1", subject="Invoice", sender="Ann <ann@example.com>")
    added_b = mailbox.deliver("b2", labels=("INBOX", "CATEGORY_UPDATES"))
    mailbox.relabel("a1", ["STARRED"])
    mailbox.deliver("c3")
    mailbox.delete("c3")
    mailbox.deliver("s4", labels=("SENT",))
    added_e = mailbox.deliver("e5", labels=("SENT", "INBOX"))  # sent to self
    mailbox.deliver("d6", labels=("DRAFT",))
    mailbox.calls.clear()
    published = Published()
    # When synced
    result = run(mailbox, published)
    # Then the received messages are announced in order, with their current labels, in one metadata batch
    assert [event.message_id for event in published.events] == ["a1", "b2", "e5"]
    assert mailbox.calls == Counter({"history": 1, "get_metadata": 1})
    assert mailbox.metadata_requests == [["a1", "b2", "e5"]]
    first = published.events[0]
    assert first.detail() == {
        "connection_id": stored()["connection_id"]["S"],
        "external_user_id": None,
        "user_id": USER,
        "message_id": "a1",
        "thread_id": "ta1",
        "history_id": added_a,
        "labels": ["INBOX", "UNREAD", "STARRED"],
        "from": "Ann <ann@example.com>",
        "subject": "Invoice",
        "date": first.date,
    }
    assert first.date.endswith("+00:00")
    assert [event.history_id for event in published.events] == [added_a, added_b, added_e]
    # And the position moved to the mailbox's current history id
    assert result == user_sync.SyncResult(
        USER, user_sync.INCREMENTAL, 3, mailbox.history_id, True, True, True
    )
    assert stored()["history_id"] == {"N": str(mailbox.history_id)}


def test_label_changes_and_deletions_alone_announce_nothing(mailbox) -> None:
    # Given a synced user whose existing message is then starred and deleted
    mailbox.deliver("x1")
    run(mailbox)
    mailbox.relabel("x1", ["STARRED"])
    mailbox.delete("x1")
    mailbox.calls.clear()
    published = Published()
    # When synced
    run(mailbox, published)
    # Then nothing is announced, no metadata fetched, and the position moved past those changes
    assert published.events == []
    assert mailbox.calls == Counter({"history": 1})
    assert stored()["history_id"] == {"N": str(mailbox.history_id)}


def test_a_long_history_is_consumed_in_bounded_steps(mailbox, monkeypatch) -> None:
    # Given at most 5 messages per run, history pages of 3 records, and 12 new messages
    configure(monkeypatch, SYNC_MAX_MESSAGES="5")
    mailbox.page_size = 3
    run(mailbox)
    for n in range(12):
        mailbox.deliver(f"m{n:02}")
    published = Published()
    # When synced once
    first = run(mailbox, published)
    # Then it stops after the page that reached the bound, remembering the last record it read
    assert mailbox.calls["history"] == 2
    assert first.complete is False
    assert first.new_messages == 6
    assert stored()["history_id"] == {"N": mailbox.records[5]["id"]}
    # And the next runs carry on from there without repeating anything
    second = run(mailbox, published)
    assert second.complete is True
    assert [event.message_id for event in published.events] == [f"m{n:02}" for n in range(12)]
    assert stored()["history_id"] == {"N": str(mailbox.history_id)}


def test_stale_position_resyncs_only_what_arrived_since_the_last_sync(mailbox, monkeypatch) -> None:
    # Given a user synced at a known time, whose history Google then forgets
    mailbox.deliver("old1")
    run(mailbox)
    last_sync = mailbox.now_ms // 1000 + 1000
    boto3.client("dynamodb").update_item(
        TableName=get_settings().tokens_table,
        Key={"user_id": {"S": USER}},
        UpdateExpression="SET last_sync_at = :t",
        ExpressionAttributeValues={
            ":t": {"S": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(last_sync))}
        },
    )
    mailbox.now_ms += 2_000_000
    mailbox.deliver("new1")
    mailbox.deliver("new2")
    mailbox.expire_history()
    mailbox.calls.clear()
    published = Published()
    # When synced
    result = run(mailbox, published)
    # Then one 404, then the mail received since the last sync (minus a small overlap) is announced
    assert result.outcome == user_sync.RESYNC
    assert mailbox.calls == Counter({"history": 1, "profile": 1, "list_messages": 1, "get_metadata": 1})
    assert mailbox.queries == [f"after:{last_sync - user_sync.RESYNC_OVERLAP_SECONDS}"]
    assert [event.message_id for event in published.events] == ["new1", "new2"]
    # And incremental sync resumes from the mailbox's current position
    assert stored()["history_id"] == {"N": str(mailbox.history_id)}
    mailbox.calls.clear()
    run(mailbox)
    assert mailbox.calls == Counter({"history": 1})


def test_resync_is_bounded(mailbox, monkeypatch) -> None:
    # Given at most 4 messages per run and 9 messages since a forgotten position
    configure(monkeypatch, SYNC_MAX_MESSAGES="4")
    run(mailbox)
    for n in range(9):
        mailbox.deliver(f"m{n}")
    mailbox.expire_history()
    published = Published()
    # When resynced
    run(mailbox, published)
    # Then only the 4 newest are announced, from a single list page of 4
    assert [event.message_id for event in published.events] == ["m5", "m6", "m7", "m8"]
    assert mailbox.calls["list_messages"] == 1


# --- failures and skips -----------------------------------------------------------------------------


def test_revoked_grant_is_a_handled_outcome_that_keeps_the_position(mailbox) -> None:
    # Given a synced user whose grant Google no longer honours
    run(mailbox)
    before = stored()["history_id"]
    mailbox.fail_with = ReauthorizationRequired("revoked", email=f"{USER}@example.com")
    published = Published()
    # When synced
    result = run(mailbox, published)
    # Then it is reported as needing reauthorization, not as an error, and nothing changes
    assert result.outcome == user_sync.REAUTHORIZATION_REQUIRED
    assert result.position_advanced is False
    assert published.calls == 0
    assert stored()["history_id"] == before


def test_user_already_marked_for_reauthorization_is_skipped_without_calling_google(aws) -> None:
    # Given a stored account marked reauthorization_required
    connect(USER)
    boto3.client("dynamodb").update_item(
        TableName=get_settings().tokens_table,
        Key={"user_id": {"S": USER}},
        UpdateExpression="SET #s = :r",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":r": {"S": accounts.REAUTHORIZATION_REQUIRED}},
    )

    def factory(_: str) -> FakeMailbox:
        raise AssertionError("Google must not be called")

    # When synced, Then it is skipped
    result = user_sync.sync_user(USER, mailbox_factory=factory, publish=Published())
    assert result.outcome == user_sync.REAUTHORIZATION_REQUIRED


def test_unknown_user_is_an_error(mailbox) -> None:
    with pytest.raises(user_sync.UnknownUser):
        run(mailbox, user_id="999")


def test_google_outage_fails_the_sync_and_keeps_the_position(mailbox) -> None:
    run(mailbox)
    before = stored()
    mailbox.fail_with = GoogleUnavailable("down")
    with pytest.raises(GoogleUnavailable):
        run(mailbox)
    assert stored() == before


def test_failed_publish_keeps_the_position_so_the_retry_announces_again(mailbox) -> None:
    # Given new mail and an event bus that refuses it
    run(mailbox)
    before = stored()["history_id"]
    mailbox.deliver("a1")
    # When synced, Then the sync fails and the position stays
    with pytest.raises(EventPublishFailed):
        run(mailbox, Published(fail_with=EventPublishFailed("refused")))
    assert stored()["history_id"] == before
    # And the retry announces the message
    published = Published()
    run(mailbox, published)
    assert [event.message_id for event in published.events] == ["a1"]


def test_duplicate_delivery_announces_nothing_twice(mailbox) -> None:
    # Given new mail, synced once
    run(mailbox)
    mailbox.deliver("a1")
    published = Published()
    run(mailbox, published)
    # When the same sync message is delivered again
    run(mailbox, published)
    # Then the message was announced once
    assert [event.message_id for event in published.events] == ["a1"]


# --- the stored position ------------------------------------------------------------------------


def test_position_only_moves_forward_and_never_recreates_a_disconnected_row(aws) -> None:
    connect(USER)
    assert accounts.advance_sync_position(USER, 100) is True
    assert accounts.advance_sync_position(USER, 100) is True  # idempotent
    assert accounts.advance_sync_position(USER, 50) is False
    assert stored()["history_id"] == {"N": "100"}
    position = accounts.get(USER, accounts.SYNC_ATTRIBUTES)
    assert position is not None
    assert (position.email, position.connected, position.history_id, position.last_sync_at) == (
        f"{USER}@example.com",
        True,
        100,
        stored()["last_sync_at"]["S"],
    )
    boto3.client("dynamodb").delete_item(TableName=get_settings().tokens_table, Key={"user_id": {"S": USER}})
    assert accounts.advance_sync_position(USER, 200) is False
    assert accounts.get(USER, accounts.SYNC_ATTRIBUTES) is None


def test_position_write_leaves_tokens_alone_and_survives_a_re_consent(aws) -> None:
    # Given a connected user whose position is recorded
    connect(USER)
    before = stored()
    accounts.advance_sync_position(USER, 4242)
    after = stored()
    # Then only the sync attributes changed
    assert {k: v for k, v in after.items() if k not in ("history_id", "last_sync_at")} == before
    # And a re-consent keeps the position
    connect(USER)
    assert stored()["history_id"] == {"N": "4242"}
    assert stored()["version"] == {"N": "2"}


# --- the worker: parsing, concurrency, partial failures -------------------------------------------


@pytest.mark.parametrize(
    "body",
    [None, "", "not json", "[]", '"x"', '{"user": "1"}', '{"user_id": 5}', '{"user_id": ""}',
     '{"user_id": "a b"}', json.dumps({"user_id": "1" * 256})],
)  # fmt: skip
def test_malformed_sync_requests_are_refused(body: str | None) -> None:
    with pytest.raises(worker.InvalidSyncRequest):
        worker.SyncRequest.parse(body)


def test_a_sync_request_is_parsed() -> None:
    body = json.dumps({"user_id": USER, "run_id": "r-1", "scheduled_at": "2026-01-01T00:00:00Z", "x": 1})
    assert worker.SyncRequest.parse(body) == worker.SyncRequest(USER, "r-1", "2026-01-01T00:00:00Z")


def sqs_event(*bodies: str) -> dict[str, Any]:
    """An SQS event as Lambda delivers it."""
    return {
        "Records": [
            {
                "messageId": f"0000000{n}-aaaa-bbbb-cccc-dddddddddddd",
                "receiptHandle": f"receipt-{n}",
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1767000000000",
                    "SenderId": "AIDAEXAMPLE",
                    "ApproximateFirstReceiveTimestamp": "1767000000001",
                },
                "messageAttributes": {},
                "md5OfBody": "0" * 32,
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:SyncQueue",
                "awsRegion": "us-east-1",
            }
            for n, body in enumerate(bodies)
        ]
    }


def request(user_id: str) -> str:
    return json.dumps({"user_id": user_id, "run_id": "run-1"})


def test_users_of_a_batch_are_synced_in_parallel(aws, monkeypatch) -> None:
    # Given a concurrency of 4 and a sync that only finishes once 4 users are in flight at once
    configure(monkeypatch, SYNC_CONCURRENCY="4")
    all_in = threading.Barrier(4, timeout=5)

    def fake_sync(user_id: str, **_: Any) -> user_sync.SyncResult:
        all_in.wait()
        return user_sync.SyncResult(user_id, user_sync.INCREMENTAL, new_messages=1)

    monkeypatch.setattr(user_sync, "sync_user", fake_sync)
    sync_worker = worker.SyncWorker()
    # When a batch of 4 users is processed
    response = sync_worker.handle(
        sqs_event(*(request(f"10{n}") for n in range(4))), lambda_context("sync_worker")
    )
    # Then all succeeded (the barrier would have broken if they ran one by one)
    assert response == {"batchItemFailures": []}
    assert sync_worker.report == worker.BatchReport(
        records=4, failed=0, outcomes={user_sync.INCREMENTAL: 4}, new_messages=4
    )


def test_only_the_failed_records_are_reported(aws, monkeypatch) -> None:
    # Given a batch with a good user, a poison body, an unknown user and a revoked user
    def fake_sync(user_id: str, **_: Any) -> user_sync.SyncResult:
        if user_id == "404":
            raise user_sync.UnknownUser("no such user")
        if user_id == "401":
            return user_sync.SyncResult(user_id, user_sync.REAUTHORIZATION_REQUIRED)
        return user_sync.SyncResult(user_id, user_sync.INCREMENTAL)

    monkeypatch.setattr(user_sync, "sync_user", fake_sync)
    event = sqs_event(request("1"), "{not json", request("404"), request("401"), request("2"))
    sync_worker = worker.SyncWorker()
    # When processed
    response = sync_worker.handle(event, lambda_context("w"))
    # Then exactly the poison and unknown-user records are reported failed
    failed = {failure["itemIdentifier"] for failure in response["batchItemFailures"]}
    assert failed == {event["Records"][1]["messageId"], event["Records"][2]["messageId"]}
    assert sync_worker.report.failed == 2
    assert sync_worker.report.outcomes == {user_sync.INCREMENTAL: 2, user_sync.REAUTHORIZATION_REQUIRED: 1}


def test_records_of_the_same_user_run_one_after_another(aws, monkeypatch) -> None:
    # Given a batch holding the same user twice beside others
    configure(monkeypatch, SYNC_CONCURRENCY="10")
    active: Counter[str] = Counter()
    overlaps: list[str] = []
    seen: list[str] = []
    lock = threading.Lock()

    def fake_sync(user_id: str, **_: Any) -> user_sync.SyncResult:
        with lock:
            active[user_id] += 1
            if active[user_id] > 1:
                overlaps.append(user_id)
            seen.append(user_id)
        time.sleep(0.05)
        with lock:
            active[user_id] -= 1
        return user_sync.SyncResult(user_id, user_sync.INCREMENTAL)

    monkeypatch.setattr(user_sync, "sync_user", fake_sync)
    # When processed
    response = worker.SyncWorker().handle(
        sqs_event(request("7"), request("8"), request("7"), request("9")), lambda_context("w")
    )
    # Then both records succeeded but never overlapped
    assert response == {"batchItemFailures": []}
    assert overlaps == []
    assert seen.count("7") == 2


def test_records_are_handed_back_when_the_invocation_is_nearly_over(aws, monkeypatch) -> None:
    # Given an invocation with less time left than a sync may need
    monkeypatch.setattr(
        user_sync, "sync_user", lambda user_id, **_: user_sync.SyncResult(user_id, user_sync.INCREMENTAL)
    )
    event = sqs_event(request("1"), request("2"))
    # When its batch is processed, Then no user is started and the invocation fails as a whole
    # (every record failed), so SQS delivers the batch again
    with pytest.raises(worker.BatchFailed):
        worker.SyncWorker().handle(event, lambda_context("w", timeout_seconds=5))


# --- the worker at the floor: one read per batch ----------------------------------------------


@pytest.fixture
def synced_users(aws, monkeypatch) -> dict[str, FakeMailbox]:
    """Ten connected users, each synced once; the worker's syncs use their fake mailboxes."""
    mailboxes = {f"10{n:02}": FakeMailbox() for n in range(10)}
    for user_id, mailbox in mailboxes.items():
        connect(user_id)
        run(mailbox, user_id=user_id)
        mailbox.calls.clear()
    real_sync = user_sync.sync_user

    def sync_with_fakes(user_id: str, **kwargs: Any) -> user_sync.SyncResult:
        return real_sync(user_id, mailbox_factory=mailboxes.__getitem__, publish=Published(), **kwargs)

    monkeypatch.setattr(user_sync, "sync_user", sync_with_fakes)
    return mailboxes


def test_a_batch_of_idle_users_costs_one_read_and_no_write(synced_users) -> None:
    # Given ten users synced a moment ago, with no new mail
    calls = AwsCalls()
    # When their batch is processed
    response = worker.SyncWorker().handle(sqs_event(*map(request, synced_users)), lambda_context("w"))
    # Then each cost one history call, and the whole batch one read: 0.1 AWS calls per user
    assert response == {"batchItemFailures": []}
    assert all(mailbox.calls == Counter({"history": 1}) for mailbox in synced_users.values())
    assert calls.calls == ["dynamodb:BatchGetItem"]


def test_a_user_twice_in_a_batch_reads_again_and_sees_the_first_records_position(synced_users) -> None:
    # Given one of the users with new mail, and their sync request twice in a batch beside another
    user_id, other = list(synced_users)[:2]
    synced_users[user_id].deliver("a1")
    calls = AwsCalls()
    # When the batch is processed
    sync_worker = worker.SyncWorker()
    response = sync_worker.handle(
        sqs_event(request(user_id), request(other), request(user_id)), lambda_context("w")
    )
    # Then the message was announced once: the second record read the position the first wrote
    assert response == {"batchItemFailures": []}
    assert sync_worker.report.new_messages == 1
    assert stored(user_id)["history_id"] == {"N": str(synced_users[user_id].history_id)}
    assert Counter(calls.calls) == Counter(
        {"dynamodb:BatchGetItem": 1, "dynamodb:UpdateItem": 1, "dynamodb:GetItem": 1}
    )


def test_when_the_batch_read_fails_each_user_is_read_alone(synced_users) -> None:
    # Given a DynamoDB that refuses the batch read (throttled past botocore's retries)
    def refuse(model: Any, **_: Any) -> None:
        if model.name == "BatchGetItem":
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, model.name)

    calls = AwsCalls()
    aws_client("dynamodb").meta.events.register("before-call", refuse)  # after the counter's hook
    users = list(synced_users)[:3]
    # When a batch of three is processed
    response = worker.SyncWorker().handle(sqs_event(*map(request, users)), lambda_context("w"))
    # Then every user was still synced, each with a read of its own
    assert response == {"batchItemFailures": []}
    assert all(synced_users[user_id].calls == Counter({"history": 1}) for user_id in users)
    assert Counter(calls.calls) == Counter({"dynamodb:BatchGetItem": 1, "dynamodb:GetItem": 3})


def test_idle_mailboxes_log_nothing_at_info_and_new_mail_does(synced_users) -> None:
    # Given ten synced users, one of whom has new mail
    user_id = next(iter(synced_users))
    synced_users[user_id].deliver("a1")
    # When their batch is processed at the deployed log level (INFO)
    with captured_logs() as logs:
        worker.SyncWorker().handle(sqs_event(*map(request, synced_users)), lambda_context("w"))
    # Then only the user with news has a line: the nine idle ones cost no log volume
    lines = [json.loads(line) for line in logs.getvalue().splitlines()]
    assert [(line["message"], line["user_id"], line["new_messages"]) for line in lines] == [
        ("Mailbox synced", user_id, 1)
    ]


def test_after_a_users_record_fails_the_rest_of_theirs_go_back_unrun(aws, monkeypatch) -> None:
    # Given a batch holding user 7 twice (the first sync of 7 fails) and user 8
    ran: list[str] = []

    def fake_sync(user_id: str, **_: object) -> user_sync.SyncResult:
        ran.append(user_id)
        if user_id == "7":
            raise user_sync.UnknownUser("gone")
        return user_sync.SyncResult(user_id, user_sync.INCREMENTAL)

    monkeypatch.setattr(user_sync, "sync_user", fake_sync)
    event = sqs_event(request("7"), request("7"), request("8"))
    # When processed
    response = worker.SyncWorker().handle(event, lambda_context("w"))
    # Then 7's second record was not run, and both of 7's records go back (in order, on FIFO)
    assert sorted(ran) == ["7", "8"]
    failed = [failure["itemIdentifier"] for failure in response["batchItemFailures"]]
    assert failed == [event["Records"][0]["messageId"], event["Records"][1]["messageId"]]


def test_credentials_never_take_another_users_account(aws) -> None:
    from gmail_connect.gmail.credentials import StoredCredentials

    # Given the account read for one user
    connect(USER)
    account = accounts.get(USER, accounts.SYNC_CREDENTIAL_ATTRIBUTES)
    # When it is handed to the credentials of another, Then they refuse it
    with pytest.raises(ValueError, match="another user"):
        StoredCredentials(OTHER, account=account)
