"""The local stack's ``/_local/*`` routes for the console's panel: real HTTP, real moto, the fixture
template's bus; delivering mail into a real mailbox is the browser journey's part (tests/e2e)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from infra.local_stack.local_console import CONSOLE_QUEUE_NAME, RING_SIZE
from infra.local_stack.stack import LocalStack
from tests.local_stack.conftest import FIXTURE_TEMPLATE, Client, StandInGoogle

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    local = LocalStack(
        port=0, google_port=0, aws_port=0, template=FIXTURE_TEMPLATE, emulator_factory=StandInGoogle
    )
    local.start()
    yield local
    local.stop()


@pytest.fixture
def client(stack: LocalStack) -> Client:
    return Client(stack.api_url)


def put(*types: str) -> None:
    boto3.client("events").put_events(
        Entries=[
            {
                "EventBusName": "fixture-bus",
                "Source": "gmail-connect",
                "DetailType": kind,
                "Detail": json.dumps({"user_id": "u-1", "subject": f"about {kind}"}),
            }
            for kind in types
        ]
    )


def events(client: Client, after: int = 0) -> dict:
    reply = client.request("GET", f"/_local/events?after={after}")
    assert reply.status == 200, reply.body
    return reply.json()


def test_status_tells_the_console_it_runs_locally(client: Client) -> None:
    # When the console asks whether it runs in `make local`
    reply = client.request("GET", "/_local/status")
    # Then it is told so, and that test mail can be delivered (the Google emulator runs)
    assert reply.status == 200
    assert reply.json() == {"local": True, "deliver": True}
    assert reply.header("Cache-Control") == "no-store"


def test_bus_events_reach_the_panel_in_order_and_each_once(client: Client, stack: LocalStack) -> None:
    # Given what the panel has already seen
    seen = events(client)["last"]
    # When the product puts events on its bus
    put("gmail.connection.connected", "gmail.message.received")
    # Then the panel's next poll gets them, numbered after what it had, with their detail
    answer = events(client, after=seen)
    assert [event["type"] for event in answer["events"]] == [
        "gmail.connection.connected",
        "gmail.message.received",
    ]
    assert [event["seq"] for event in answer["events"]] == [seen + 1, seen + 2]
    assert answer["last"] == seen + 2
    assert answer["events"][1]["detail"] == {"user_id": "u-1", "subject": "about gmail.message.received"}
    assert answer["events"][1]["source"] == "gmail-connect"
    # And the poll after that has nothing new
    assert events(client, after=answer["last"]) == {"events": [], "last": answer["last"]}


def test_the_panel_reads_its_own_queue_and_leaves_the_tap_to_the_cli(
    client: Client, stack: LocalStack
) -> None:
    # Given the event tap queue the banner tells people to read, drained first
    assert stack.event_tap is not None
    sqs = boto3.client("sqs")
    while sqs.receive_message(QueueUrl=stack.event_tap.queue_url, MaxNumberOfMessages=10).get("Messages"):
        sqs.purge_queue(QueueUrl=stack.event_tap.queue_url)
    # When an event is put on the bus and the panel polls
    put("gmail.connection.disconnected")
    assert "gmail.connection.disconnected" in [event["type"] for event in events(client)["events"]]
    # Then the tap queue still holds it for whoever reads it with the AWS CLI
    received = sqs.receive_message(QueueUrl=stack.event_tap.queue_url, WaitTimeSeconds=2).get("Messages", [])
    assert [json.loads(message["Body"])["detail-type"] for message in received] == [
        "gmail.connection.disconnected"
    ]
    assert sqs.get_queue_url(QueueName=CONSOLE_QUEUE_NAME)["QueueUrl"] != stack.event_tap.queue_url


def test_a_page_from_before_a_restart_gets_the_recent_events(client: Client) -> None:
    # Given a page that counted further than this stack has (it was open across a restart)
    put("gmail.message.received")
    last = events(client)["last"]
    # When it polls with its old number
    answer = events(client, after=last + 1000)
    # Then it gets what the stack has, and the stack's own number to continue from
    assert answer["last"] == last
    assert answer["events"]
    assert answer["events"][-1]["seq"] == last


def test_a_burst_is_numbered_whole_and_the_newest_are_answered(client: Client) -> None:
    # Given more events than the ring holds, put 10 at a time (PutEvents' limit)
    first = events(client)["last"] + 1
    for _ in range(RING_SIZE // 10 + 1):
        put(*["gmail.message.received"] * 10)
    # When the panel polls from the start until it has them all (a poll takes a bounded number)
    answer, polls = events(client, after=0), 1
    while answer["last"] < first + RING_SIZE + 9 and polls < 10:
        answer, polls = events(client, after=0), polls + 1
    # Then every event was numbered once, and the answer holds the newest 50
    assert answer["last"] == first + RING_SIZE + 9
    assert [event["seq"] for event in answer["events"]] == list(
        range(answer["last"] - 49, answer["last"] + 1)
    )
    assert polls > 1  # one poll takes at most 200 events from the queue, so a burst cannot stall it


@pytest.mark.parametrize("query", ["after=-1", "after=one"])
def test_a_malformed_position_is_refused(client: Client, query: str) -> None:
    reply = client.request("GET", f"/_local/events?{query}")
    assert reply.status == 400
    assert reply.json()["error"] == "invalid_request"


def test_delivering_needs_this_sites_origin(client: Client, stack: LocalStack) -> None:
    # A cross-site POST (another origin, or none at all from a form or a script elsewhere) is refused
    for headers in ([("Origin", "http://evil.example")], []):
        reply = client.request("POST", "/_local/deliver", headers=headers)
        assert reply.status == 403, reply.body
        assert reply.json()["error"] == "forbidden_origin"


def test_unknown_local_routes_answer_like_api_gateway(client: Client) -> None:
    for method, path in (("GET", "/_local/nothing"), ("POST", "/_local/status"), ("GET", "/_local/deliver")):
        reply = client.request(method, path)
        assert reply.status == 404
        assert reply.json() == {"message": "Not Found"}


def test_importing_the_stack_leaves_the_layer_unconfigured() -> None:
    # The handlers' modules read their environment (Powertools' namespace) when first imported,
    # which must happen after the stack has set it: importing the stack must not import them.
    probe = (
        "import sys, infra.local_stack.stack; "
        "print(sorted(m for m in sys.modules if m.startswith('gmail_connect.')))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "shared"), str(ROOT)])},
        capture_output=True,
        text=True,
        check=True,
    )
    imported = json.loads(completed.stdout.replace("'", '"'))
    assert "gmail_connect.core.observability" not in imported
    assert "gmail_connect.core.config" not in imported
