"""The example application backend (examples/app_backend.py) against `make local`, consent in Chromium.

The example runs as an application developer would run it: a separate process talking to the
stack over HTTP (the /v1 API, signed) and to the embedded AWS (the event tap). The test reads
what it prints, line by line with timeouts, and clicks Google's consent in a real browser.
"""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import IO
from urllib.parse import parse_qs, urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.httpsession import URLLib3Session
from werkzeug.datastructures import MultiDict

from infra.google_emulator.gmail import matching_messages
from infra.google_emulator.state import DEMO_EMAIL, State
from tests.e2e.conftest import ROOT, RunningStack

EXAMPLE = ROOT / "examples" / "app_backend.py"
CONNECTION_ID = re.compile(r"conn_[0-9a-f]{24}")
LINK = re.compile(r"^  (http://\S+/oauth/authorize\?link=\S+)$")
RETURN_PAGE = re.compile(r"^Return page: (http://127\.0\.0\.1:\d+/connected)$")
EVENT = re.compile(r"^Event gmail\.connection\.connected: (\{.*\})$")
LISTED = re.compile(r"^(\d+) messages of (\S+) \((conn_[0-9a-f]{24})\), newest first:$")
MESSAGE = re.compile(r"^  - (.*)  \(from (.*)\)$")
WAIT_S = 30


class _Lines:
    """A stream of the example's output, read on a thread so the test can wait with a timeout."""

    def __init__(self, stream: IO[str]) -> None:
        self._lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def expect(self, pattern: re.Pattern[str], timeout_s: float = WAIT_S) -> re.Match[str]:
        """The next line matching `pattern` (earlier lines are passed over); fails on timeout or exit."""
        deadline = time.monotonic() + timeout_s
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                break
            if line is None:
                raise AssertionError(f"the example ended before printing {pattern.pattern!r}: {self.seen}")
            self.seen.append(line)
            if match := pattern.match(line):
                return match
        raise AssertionError(f"no line matching {pattern.pattern!r} within {timeout_s} s: {self.seen}")

    def rest(self, timeout_s: float = WAIT_S) -> list[str]:
        """Every remaining line, once the stream has ended."""
        self._thread.join(timeout_s)
        assert not self._thread.is_alive(), "the example's output did not end"
        while (line := self._lines.get_nowait()) is not None:
            self.seen.append(line)
        return self.seen


class RunningExample:
    def __init__(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        assert process.stderr is not None
        self.process = process
        self.stdout = _Lines(process.stdout)
        self.stderr = _Lines(process.stderr)

    def exit_code(self, timeout_s: float = WAIT_S) -> int:
        return self.process.wait(timeout=timeout_s)


@pytest.fixture
def run_example(local_stack: RunningStack) -> Iterator[Callable[[str], RunningExample]]:
    """Start the example for an external user id, pointed at the running stack."""
    started: list[RunningExample] = []

    def start(external_user_id: str) -> RunningExample:
        environment = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
        environment["PYTHONIOENCODING"] = "utf-8"
        process = subprocess.Popen(
            [
                sys.executable,
                str(EXAMPLE),
                "--external-user-id",
                external_user_id,
                "--login-hint",
                DEMO_EMAIL,
                "--api-url",
                local_stack.api,
                "--aws-endpoint-url",
                local_stack.aws,
                "--port",
                "0",
                "--timeout",
                "60",
            ],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        started.append(RunningExample(process))
        return started[-1]

    yield start
    for example in started:
        if example.process.poll() is None:
            example.process.terminate()
            example.process.wait(timeout=WAIT_S)


def _newest_demo_subjects(count: int) -> list[str]:
    """The demo mailbox's newest subjects, from a fresh copy of the emulator's own (deterministic) model."""
    state = State()
    account = state.account(DEMO_EMAIL)
    assert account is not None
    return [message.subject for message in matching_messages(state, account, MultiDict())[:count]]


def _connections_of(stack: RunningStack, external_user_id: str) -> list[dict]:
    """`GET /v1/connections?external_user_id=` as the application, signed with the local key pair."""
    request = AWSRequest(method="GET", url=f"{stack.api}/v1/connections?external_user_id={external_user_id}")
    SigV4Auth(Credentials("AKIDLOCAL", "local-secret"), "execute-api", "us-east-1").add_auth(request)
    response = URLLib3Session().send(request.prepare())
    assert response.status_code == 200, response.text
    return list(json.loads(response.text)["connections"])


def test_the_example_connects_its_user_hears_the_event_and_reads_the_mail(
    local_stack: RunningStack, run_example, page
) -> None:
    # Given the example backend running for one of its users, with a connect link it printed
    external_user_id = f"u_{uuid.uuid4().hex[:12]}"
    example = run_example(external_user_id)
    link = example.stdout.expect(LINK).group(1)
    return_page = example.stdout.expect(RETURN_PAGE).group(1)
    assert link.startswith(f"{local_stack.api}/oauth/authorize?link=")
    # When the user opens the link and allows access at Google (the demo account, pre-selected)
    page.goto(link)
    assert page.url.startswith(f"{local_stack.google}/o/oauth2/v2/auth")
    assert page.locator(f'input[name="account"][value="{DEMO_EMAIL}"]').is_checked()
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(re.compile(re.escape(return_page) + r"\?.*"))
    # Then the browser lands on the example's return page, which shows the connection
    shown = page.locator("body").inner_text()
    assert "connected" in shown
    connection_id = CONNECTION_ID.search(shown)
    assert connection_id is not None, shown
    assert parse_qs(urlsplit(page.url).query) == {
        "connection_id": [connection_id.group(0)],
        "status": ["connected"],
    }
    # And the example heard the connected event for that user and that connection
    event = json.loads(example.stdout.expect(EVENT).group(1))
    assert event["external_user_id"] == external_user_id
    assert event["connection_id"] == connection_id.group(0)
    assert event["email"] == DEMO_EMAIL
    # And it read the demo mailbox's ten newest messages through the signed /v1 API
    count, email, listed_connection = example.stdout.expect(LISTED).groups()
    assert (count, email, listed_connection) == ("10", DEMO_EMAIL, connection_id.group(0))
    printed = [example.stdout.expect(MESSAGE, timeout_s=5).groups() for _ in range(10)]
    assert [subject for subject, _ in printed] == _newest_demo_subjects(10)
    assert all(sender for _, sender in printed)
    assert example.exit_code() == 0
    # And the application's user now has that connection
    [connection] = _connections_of(local_stack, external_user_id)
    assert (connection["connection_id"], connection["status"]) == (connection_id.group(0), "connected")


def test_a_refused_consent_shows_the_error_and_ends_the_example(
    local_stack: RunningStack, run_example, page
) -> None:
    # Given the example backend running for one of its users, with a connect link it printed
    external_user_id = f"u_{uuid.uuid4().hex[:12]}"
    example = run_example(external_user_id)
    link = example.stdout.expect(LINK).group(1)
    return_page = example.stdout.expect(RETURN_PAGE).group(1)
    # When the user denies access at Google
    page.goto(link)
    page.get_by_role("button", name="Deny").click()
    page.wait_for_url(f"{return_page}?error=access_denied")
    # Then the example's return page shows why nothing was connected
    assert page.locator("h1").inner_text() == "Gmail was not connected"
    assert "access_denied" in page.locator("body").inner_text()
    # And the example ends with a clear message, having read no mail
    assert example.exit_code() == 1
    assert "the user did not connect Gmail: access_denied" in "\n".join(example.stderr.rest())
    assert not any(EVENT.match(line) or LISTED.match(line) for line in example.stdout.rest())
    # And nothing is connected for that user
    assert _connections_of(local_stack, external_user_id) == []
