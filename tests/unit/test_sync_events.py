"""`gmail.message.received` events: the documented shape, 10 per PutEvents, partial failures.

moto in-process (MailEventBus from template.yaml, read back through a rule and an SQS queue) for
the real path; a scripted EventBridge client for the failures moto cannot produce. No sockets.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from gmail_connect.core.config import get_settings
from gmail_connect.sync import mail_events
from gmail_connect.sync.mail_events import EventPublishFailed, MessageReceived


def event(n: int = 1, **changes: Any) -> MessageReceived:
    fields: dict[str, Any] = {
        "user_id": "112233",
        "message_id": f"18c{n:013x}",
        "thread_id": f"18c{n:013x}",
        "history_id": str(1000 + n),
        "labels": ("INBOX", "UNREAD"),
        "sender": "Ann <ann@example.com>",
        "subject": f"Message {n}",
        "date": "2026-11-21T10:00:00+00:00",
        "connection_id": "conn_00000000000000000000abcd",
        "external_user_id": "u_123",
    }
    return MessageReceived(**{**fields, **changes})


def subscribe(bus_name: str) -> str:
    """A rule on the bus matching our events, delivering to a fresh queue; returns its URL."""
    sqs, events = boto3.client("sqs"), boto3.client("events")
    url = sqs.create_queue(QueueName="subscriber")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(
        Name="new-mail",
        EventBusName=bus_name,
        EventPattern=json.dumps({"source": ["gmail-connect"], "detail-type": ["gmail.message.received"]}),
    )
    events.put_targets(Rule="new-mail", EventBusName=bus_name, Targets=[{"Id": "queue", "Arn": arn}])
    return url


def received(url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs")
    found: list[dict[str, Any]] = []
    for _ in range(50):
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            break
        found += [json.loads(message["Body"]) for message in messages]
    return found


def test_events_reach_a_subscriber_with_the_documented_shape(aws: dict[str, str]) -> None:
    # Given a rule on the mail bus delivering to a queue
    url = subscribe(aws["MAIL_EVENT_BUS_NAME"])
    # When 23 events are published
    published = mail_events.publish([event(n) for n in range(23)])
    # Then all arrive, with the documented source, detail-type and detail
    assert published == 23
    arrived = received(url)
    assert len(arrived) == 23
    first = next(e for e in arrived if e["detail"]["message_id"] == event(0).message_id)
    assert first["source"] == "gmail-connect"
    assert first["detail-type"] == "gmail.message.received"
    assert first["detail"] == {
        "connection_id": "conn_00000000000000000000abcd",
        "external_user_id": "u_123",
        "user_id": "112233",
        "message_id": event(0).message_id,
        "thread_id": event(0).thread_id,
        "history_id": "1000",
        "labels": ["INBOX", "UNREAD"],
        "from": "Ann <ann@example.com>",
        "subject": "Message 0",
        "date": "2026-11-21T10:00:00+00:00",
    }


def test_oversized_headers_are_cut_so_a_call_stays_under_the_limit() -> None:
    detail = event(subject="x" * 100_000, sender="y" * 5000).detail()
    assert len(detail["subject"]) == mail_events.MAX_FIELD_CHARS
    assert len(detail["from"]) == mail_events.MAX_FIELD_CHARS


class ScriptedEvents:
    """PutEvents answers from a script: per call, the positions to refuse and their error codes."""

    def __init__(self, *script: dict[int, str]) -> None:
        self.script = list(script)
        self.calls: list[list[str]] = []

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        assert len(Entries) <= 10
        self.calls.append([json.loads(entry["Detail"])["message_id"] for entry in Entries])
        refuse = self.script.pop(0) if self.script else {}
        results = [
            {"ErrorCode": refuse[i], "ErrorMessage": "no"} if i in refuse else {"EventId": f"e{i}"}
            for i in range(len(Entries))
        ]
        return {"FailedEntryCount": len(refuse), "Entries": results}


@pytest.fixture
def bus(aws: dict[str, str]) -> str:
    return get_settings().mail_event_bus_name


def test_events_go_out_ten_per_call(bus: str) -> None:
    client = ScriptedEvents()
    assert mail_events.publish([event(n) for n in range(23)], client=client) == 23
    assert [len(call) for call in client.calls] == [10, 10, 3]


def test_only_refused_entries_are_put_again(bus: str) -> None:
    # Given EventBridge refusing the 2nd and 7th entries once
    client = ScriptedEvents({1: "ThrottlingException", 6: "InternalFailure"})
    events = [event(n) for n in range(10)]
    # When published
    published = mail_events.publish(events, client=client, sleep=lambda _: None)
    # Then only those two were sent again
    assert published == 10
    assert client.calls[1] == [events[1].message_id, events[6].message_id]


def test_persistent_refusal_fails_after_bounded_attempts(bus: str) -> None:
    client = ScriptedEvents(*({0: "ThrottlingException"} for _ in range(10)))
    sleeps: list[float] = []
    with pytest.raises(EventPublishFailed, match="after 4 attempts"):
        mail_events.publish([event(1), event(2)], client=client, sleep=sleeps.append)
    assert len(client.calls) == mail_events.ATTEMPTS
    assert len(sleeps) == mail_events.ATTEMPTS - 1


def test_a_permanent_error_fails_at_once(bus: str) -> None:
    client = ScriptedEvents({0: "MalformedDetail"})
    with pytest.raises(EventPublishFailed, match="MalformedDetail"):
        mail_events.publish([event(1)], client=client, sleep=lambda _: None)
    assert len(client.calls) == 1


def test_nothing_to_publish_makes_no_call(bus: str) -> None:
    client = ScriptedEvents()
    assert mail_events.publish([], client=client) == 0
    assert client.calls == []
