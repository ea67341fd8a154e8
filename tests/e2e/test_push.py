"""Gmail push end to end on `make local`: new mail is announced on the bus within seconds.

The emulator publishes mailbox changes to a Pub/Sub topic whose push subscription POSTs them,
OIDC-signed, to /push/gmail; the push function verifies the token and enqueues a sync; the
worker (fed by the stack's stand-in for Lambda's SQS poller) announces `gmail.message.received`,
which the local event tap copies to an SQS queue. No `make sync` anywhere.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest
import requests

from tests.support.consent import decide


def aws(local_stack, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=local_stack.aws,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def eventually(probe: Callable[[], Any], timeout: float = 20.0) -> Any:
    """Poll `probe` until it returns something truthy (each poll is itself a bounded wait)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
    raise AssertionError("not within the time allowed")


class Tap:
    """The local event tap: every event of the product's bus, read from its SQS queue."""

    def __init__(self, local_stack) -> None:
        self.sqs = aws(local_stack, "sqs")
        self.url = self.sqs.get_queue_url(QueueName="local-event-tap")["QueueUrl"]
        self.seen: list[dict[str, Any]] = []

    def poll(self) -> list[dict[str, Any]]:
        messages = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        )
        for message in messages:
            self.seen.append(json.loads(message["Body"]))
            self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
        return self.seen

    def received(self, email: str) -> list[dict[str, Any]]:
        return [
            e
            for e in self.poll()
            if e["detail-type"] == "gmail.message.received" and e["detail"].get("subject", "").endswith(email)
        ]


@pytest.fixture
def connected(local_stack) -> str:
    """A new emulator account connected through the browser flow over HTTP; its address."""
    email = f"push-{uuid.uuid4().hex[:10]}@example.com"
    assert requests.post(f"{local_stack.google}/_emulator/accounts", json={"email": email}, timeout=5).ok
    browser = requests.Session()
    start = browser.get(
        f"{local_stack.api}/oauth/authorize?{urlencode({'login_hint': email})}",
        allow_redirects=False,
        timeout=5,
    )
    answer = decide(requests.Session(), start.headers["Location"], account=email)
    query = urlencode({key: value for key, value in answer.items() if not key.startswith("_")})
    back = browser.get(
        f"{local_stack.api}/oauth/callback?{query}",
        allow_redirects=False,
        timeout=10,
    )
    assert back.status_code == 302, back.text
    return email


def watched(local_stack, email: str) -> bool:
    listing = requests.get(f"{local_stack.google}/_emulator/pubsub", timeout=5).json()
    return any(watch.get("emailAddress") == email for watch in listing.get("watches", []))


def deliver(local_stack, email: str, subject: str) -> float:
    sent = time.monotonic()
    answer = requests.post(
        f"{local_stack.google}/_emulator/accounts/{email}/messages",
        json={"from": "Sender <s@example.org>", "subject": subject, "body": "hi"},
        timeout=5,
    )
    assert answer.status_code == 201, answer.text
    return sent


def test_a_new_connection_is_watched_and_new_mail_arrives_on_the_bus_within_seconds(local_stack, connected):
    # Given a connection: synced and watched at once (the connected event feeds the sync queue)
    eventually(lambda: watched(local_stack, connected))
    tap = Tap(local_stack)
    # When mail arrives, three times
    latencies = []
    for n in range(3):
        subject = f"push {n} for {connected}"
        sent = deliver(local_stack, connected, subject)
        event = eventually(
            lambda s=subject: [e for e in tap.received(connected) if e["detail"]["subject"] == s]
        )
        latencies.append(time.monotonic() - sent)
        # Then it is announced with the connection's ids, without any scheduled round
        assert event[0]["detail"]["connection_id"].startswith("conn_")
    assert len(tap.received(connected)) == 3  # each once
    assert max(latencies) < 15  # generous: `make bench` measures p50/p99 against the budget


def test_forged_or_unsigned_pushes_are_refused_and_enqueue_nothing(local_stack, connected):
    data = base64.b64encode(json.dumps({"emailAddress": connected, "historyId": "999999"}).encode()).decode()
    body = {"message": {"data": data, "messageId": "1"}, "subscription": "projects/x/subscriptions/y"}
    unsigned = requests.post(f"{local_stack.api}/push/gmail", json=body, timeout=5)
    assert unsigned.status_code == 401
    forged_token = (
        ".".join(
            base64.urlsafe_b64encode(json.dumps(part).encode()).decode().rstrip("=")
            for part in ({"alg": "RS256", "kid": "nope"}, {"iss": "https://accounts.google.com", "aud": "x"})
        )
        + ".c2ln"
    )
    forged = requests.post(
        f"{local_stack.api}/push/gmail",
        json=body,
        headers={"Authorization": f"Bearer {forged_token}"},
        timeout=5,
    )
    assert forged.status_code == 401
