"""Gmail push, product side: watch on sync, the push endpoint's answers, stop on disconnect.

The emulator publishes to a Pub/Sub push subscription whose endpoint is a loopback receiver;
what it receives (the body and the OIDC-signed Authorization header) is then handed to the push
function's handler exactly as API Gateway would, and its token verified against the emulator's
certificates with the real google-auth code.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import boto3
import pytest

from gmail_connect.sync import user_sync
from tests.emulator.push_receiver import Push, PushReceiver
from tests.support.flow import connect, deliver
from tests.support.product import invoke, reset_caches

TOPIC = "projects/google-emulator/topics/gmail-push"
ACCOUNT = "gmail-push@google-emulator.iam.gserviceaccount.com"
WATCH = "POST /gmail/v1/users/{userId}/watch"
STOP = "POST /gmail/v1/users/{userId}/stop"


@pytest.fixture
def receiver(stack, monkeypatch) -> Iterator[PushReceiver]:
    receiver = PushReceiver()
    # Push tokens are dated by the emulator's clock, which earlier tests may have moved forward;
    # the product checks them against the real one (as it would Google's), so start in step.
    with stack.google.state.lock:
        stack.google.state.clock.offset = 0.0
    stack.google.push_subscription(
        TOPIC, receiver.url, audience=receiver.url, service_account_email=ACCOUNT, min_backoff_seconds=0.2
    )
    for name, value in {
        "GMAIL_PUSH_TOPIC": TOPIC,
        "PUSH_AUDIENCE": receiver.url,
        "PUSH_SERVICE_ACCOUNT": ACCOUNT,
        "GOOGLE_CERTS_URL": f"{stack.google.url}/oauth2/v1/certs",
    }.items():
        monkeypatch.setenv(name, value)
    reset_caches()
    yield receiver
    receiver.close()


def push_to_product(push: Push) -> dict:
    return invoke(
        "push",
        "POST",
        "/push/gmail",
        body=json.dumps(push.body),
        headers={"authorization": push.headers["authorization"], "content-type": "application/json"},
    )


def queued(stack) -> list[dict]:
    sqs = boto3.client("sqs")
    found = []
    while messages := sqs.receive_message(
        QueueUrl=stack.environment["SYNC_QUEUE_URL"], MaxNumberOfMessages=10
    ).get("Messages", []):
        found += [json.loads(m["Body"]) for m in messages]
        for message in messages:
            sqs.delete_message(
                QueueUrl=stack.environment["SYNC_QUEUE_URL"], ReceiptHandle=message["ReceiptHandle"]
            )
    return found


def user_id(stack) -> str:
    [item] = stack.items("TOKENS_TABLE")
    return str(item["user_id"]["S"])


def test_a_sync_watches_the_mailbox_and_a_push_becomes_one_sync_request(stack, receiver) -> None:
    # Given a connected user whose first sync watched the mailbox (one watch, 100 quota units)
    connect(stack)
    stack.google_control("reset")
    user_sync.sync_user(user_id(stack))
    assert stack.google_stats()["calls"][WATCH] == 1
    assert int(stack.items("TOKENS_TABLE")[0]["watch_expiration"]["N"]) > 0
    [first] = receiver.wait_for(1)  # Gmail sends one notification when a watch starts
    queued(stack)
    # When mail arrives and Pub/Sub pushes the notification
    deliver(stack, stack.email, subject="pushed")
    push = receiver.wait_for(2)[1]
    assert push.notification["emailAddress"] == stack.email
    response = push_to_product(push)
    # Then it is acknowledged and exactly one sync request for that user is queued
    assert response["statusCode"] == 204
    assert [request["user_id"] for request in queued(stack)] == [user_id(stack)]
    # And a second sync does not watch again (the watch lasts 7 days)
    user_sync.sync_user(user_id(stack))
    assert stack.google_stats()["calls"][WATCH] == 1
    # And the same notification once the sync got past it is stale: acknowledged, nothing queued
    assert push_to_product(push)["statusCode"] == 204
    assert queued(stack) == []
    assert first.notification["emailAddress"] == stack.email


def test_unknown_addresses_and_malformed_data_are_acknowledged_and_change_nothing(stack, receiver) -> None:
    connect(stack)
    user_sync.sync_user(user_id(stack))
    [push] = receiver.wait_for(1)
    queued(stack)
    for data in ("bm90IGpzb24=", "", "e30="):  # "not json", empty, "{}"
        body = {**push.body, "message": {**push.body["message"], "data": data}}
        response = invoke(
            "push",
            "POST",
            "/push/gmail",
            body=json.dumps(body),
            headers={"authorization": push.headers["authorization"]},
        )
        assert response["statusCode"] == 204
    stranger = base64.b64encode(
        json.dumps({"emailAddress": "nobody@example.com", "historyId": "99"}).encode()
    )
    body = {**push.body, "message": {**push.body["message"], "data": stranger.decode()}}
    headers = {"authorization": push.headers["authorization"]}
    assert invoke("push", "POST", "/push/gmail", body=json.dumps(body), headers=headers)["statusCode"] == 204
    assert queued(stack) == []


def test_a_token_for_another_audience_is_refused_with_nothing_queued(stack, receiver, monkeypatch) -> None:
    connect(stack)
    user_sync.sync_user(user_id(stack))
    [push] = receiver.wait_for(1)
    queued(stack)
    monkeypatch.setenv("PUSH_AUDIENCE", "https://api.example.com/push/gmail")
    reset_caches()
    assert push_to_product(push)["statusCode"] == 401
    assert queued(stack) == []


def test_disconnect_stops_the_watch(stack, receiver) -> None:
    _, session = connect(stack)
    user_sync.sync_user(user_id(stack))
    stack.google_control("reset")
    response = invoke(
        "disconnect",
        "POST",
        "/oauth/disconnect",
        cookies=[session],
        headers={"origin": "http://127.0.0.1:3000"},
    )
    assert response["statusCode"] == 204
    assert stack.google_stats()["calls"][STOP] == 1
