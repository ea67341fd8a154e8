"""``python -m infra.local_stack.session_event`` against a LocalStack of the product's template: the
printed event carries a real session of the right connected account, which the product accepts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from infra.local_stack.stack import LocalStack
from tests.local_stack.conftest import StandInGoogle

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    StandInGoogle.instances.clear()
    local = LocalStack(
        port=0, google_port=0, aws_port=0, template=ROOT / "template.yaml", emulator_factory=StandInGoogle
    )
    local.start()
    yield local
    local.stop()


@pytest.fixture
def accounts(stack: LocalStack) -> Iterator[None]:
    """Three accounts: two connected (the newer one updated later), one needing re-authorization."""
    dynamodb = boto3.client("dynamodb")
    table = stack.environment["TOKENS_TABLE"]
    rows = [
        ("100000000000000000001", "old@example.com", "connected", "2026-01-01T00:00:00+00:00"),
        ("100000000000000000002", "new@example.com", "connected", "2026-02-01T00:00:00+00:00"),
        (
            "100000000000000000003",
            "later@example.com",
            "reauthorization_required",
            "2026-03-01T00:00:00+00:00",
        ),
    ]
    for user_id, email, status, updated_at in rows:
        dynamodb.put_item(
            TableName=table,
            Item={
                "user_id": {"S": user_id},
                "email": {"S": email},
                "status": {"S": status},
                "connected_at": {"S": "2026-01-01T00:00:00+00:00"},
                "updated_at": {"S": updated_at},
            },
        )
    yield
    for user_id, *_ in rows:
        dynamodb.delete_item(TableName=table, Key={"user_id": {"S": user_id}})


def run(stack: LocalStack, *arguments: str) -> subprocess.CompletedProcess[str]:
    environment = {
        name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "GOOGLE_"))
    }
    environment |= {"PYTHONPATH": f"{ROOT / 'shared'}:{ROOT}", "AWS_ENDPOINT_URL": stack.aws_url}
    return subprocess.run(
        [sys.executable, "-m", "infra.local_stack.session_event", *arguments],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def session_user(token: str) -> str | None:
    """Whom the product's own session store says ``token`` belongs to."""
    from gmail_connect.core import aws
    from gmail_connect.core.config import get_settings
    from gmail_connect.store import sessions

    get_settings.cache_clear()
    aws.reset_clients()
    session = sessions.current(token)
    return session.user_id if session else None


def bearer(event: dict[str, object]) -> str:
    headers = event["headers"]
    assert isinstance(headers, dict)
    scheme, _, token = headers["authorization"].partition(" ")
    assert scheme == "Bearer"
    return token


@pytest.mark.usefixtures("accounts")
def test_prints_the_event_signed_in_as_the_latest_connected_account(stack: LocalStack) -> None:
    # When the helper is run on a sample event with a made-up session cookie
    completed = run(stack, "events/messages.json")
    # Then it prints that event, signed in with a real session of the newest connected account
    assert completed.returncode == 0, completed.stderr
    event = json.loads(completed.stdout)
    original = json.loads((ROOT / "events" / "messages.json").read_text(encoding="utf-8"))
    assert session_user(bearer(event)) == "100000000000000000002"
    # And the rest of the event is the sample's, minus the made-up cookie
    assert "cookies" not in event
    assert {k: v for k, v in event.items() if k not in {"headers", "cookies"}} == {
        k: v for k, v in original.items() if k not in {"headers", "cookies"}
    }
    assert {k: v for k, v in event["headers"].items() if k != "authorization"} == original["headers"]


@pytest.mark.usefixtures("accounts")
def test_email_chooses_the_account(stack: LocalStack) -> None:
    completed = run(stack, "events/me.json", "--email", "OLD@example.com")
    assert completed.returncode == 0, completed.stderr
    assert session_user(bearer(json.loads(completed.stdout))) == "100000000000000000001"
    # An account that needs re-authorization is not connected: no session for it
    refused = run(stack, "events/me.json", "--email", "later@example.com")
    assert refused.returncode == 1
    assert refused.stdout == ""
    assert "no account is connected as later@example.com" in refused.stderr


def test_without_a_running_stack_it_says_so() -> None:
    environment = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    environment |= {"PYTHONPATH": f"{ROOT / 'shared'}:{ROOT}", "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}
    completed = subprocess.run(
        [sys.executable, "-m", "infra.local_stack.session_event", "events/me.json"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 2
    assert "Is `make local` running?" in completed.stderr
