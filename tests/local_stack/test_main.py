"""``python -m infra.local_stack`` (what ``make local`` runs) as a real process: it prints what
to open, serves, and stops cleanly on SIGTERM / Ctrl-C; a taken port is a one-line error."""

from __future__ import annotations

import importlib.util
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.httpsession import URLLib3Session

from tests.local_stack.conftest import FIXTURE

ROOT = Path(__file__).resolve().parents[2]
DEADLINE_SECONDS = 60


@dataclass
class Running:
    process: subprocess.Popen[str]
    lines: queue.Queue[str | None] = field(default_factory=queue.Queue)
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    readers: list[threading.Thread] = field(default_factory=list)

    def read_banner(self) -> str:
        """stdout up to the banner's last line, waiting at most DEADLINE_SECONDS."""
        deadline = time.monotonic() + DEADLINE_SECONDS
        seen: list[str] = []
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            seen.append(line)
            if "Ctrl-C stops everything" in line:
                return "".join(seen)
        self.process.kill()
        self.process.wait()
        pytest.fail(f"no banner; stdout={''.join(seen)!r} stderr={''.join(self.stderr)!r}")

    def finish(self, sig: int) -> int:
        self.process.send_signal(sig)
        code = self.process.wait(timeout=DEADLINE_SECONDS)
        for reader in self.readers:
            reader.join(timeout=DEADLINE_SECONDS)
        return code


def _pump(stream: object, sink: list[str], lines: queue.Queue[str | None] | None) -> None:
    for line in stream:  # type: ignore[attr-defined]
        sink.append(line)
        if lines is not None:
            lines.put(line)
    if lines is not None:
        lines.put(None)


def start(extra_environment: dict[str, str]) -> Running:
    inherited = {name: value for name, value in os.environ.items() if name != "GOOGLE_CLIENT_SECRETS"}
    environment = {
        **inherited,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "shared"), str(ROOT)]),
        "PYTHONUNBUFFERED": "1",
        "PORT": "0",
        "GOOGLE_EMULATOR_PORT": "0",
        "AWS_EMULATOR_PORT": "0",
        **extra_environment,
    }
    # The fixture folder has its own template.yaml, read from the working directory as
    # `make local` reads the product's.
    process = subprocess.Popen(
        [sys.executable, "-m", "infra.local_stack"],
        cwd=FIXTURE,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    running = Running(process)
    for stream, sink, lines in (
        (process.stdout, running.stdout, running.lines),
        (process.stderr, running.stderr, None),
    ):
        reader = threading.Thread(target=_pump, args=(stream, sink, lines), daemon=True)
        reader.start()
        running.readers.append(reader)
    return running


def get_json(url: str) -> dict:
    """GET ``url``, retrying refused connections until a bounded deadline."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                return json.loads(response.read())
        except urllib.error.URLError as error:
            if not isinstance(error.reason, ConnectionRefusedError) or time.monotonic() > deadline:
                raise


def refused(url: str) -> bool:
    host, port = url.removeprefix("http://").split("/")[0].split(":")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


@pytest.fixture
def client_secrets(tmp_path: Path) -> Path:
    path = tmp_path / "client_secret.json"
    path.write_text(json.dumps({"web": {"client_id": "real-client", "client_secret": "s"}}), encoding="utf-8")
    return path


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_serves_until_signalled_then_stops_everything(client_secrets: Path, stop_signal: int) -> None:
    # Given `make local` with a real-Google client config (no emulator needed)
    running = start({"GOOGLE_CLIENT_SECRETS": str(client_secrets)})
    banner = running.read_banner()
    # Then the banner says what to open
    api = re.search(r"(http://127\.0\.0\.1:\d+)/oauth/authorize", banner)
    aws = re.search(
        r"aws --endpoint-url (http://127\.0\.0\.1:\d+) dynamodb scan --table-name TokensTable", banner
    )
    assert api, banner
    assert aws, banner
    api_url, aws_url = api.group(1), aws.group(1)
    # And its first line is the console's URL, the page a newcomer opens
    first_line = banner.splitlines()[0]
    assert first_line.startswith(f"Gmail connect is running: open {api_url}/ "), banner
    assert f"{api_url}/me" in banner
    assert f"{api_url}/oauth/callback" in banner  # the redirect URI to allow at Google
    # And the API answers through the template's handlers, with AWS provisioned at moto's URL
    echoed = get_json(f"{api_url}/echo?code=do-not-log-me")
    assert echoed["event"]["routeKey"] == "GET /echo"
    assert echoed["environment"]["AWS_ENDPOINT_URL"] == aws_url
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=aws_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    assert dynamodb.describe_table(TableName="TokensTable")["Table"]["TableStatus"] == "ACTIVE"
    # When it is signalled
    code = running.finish(stop_signal)
    # Then it exits 0 and nothing it started is still listening
    assert code == 0, "".join(running.stderr)
    log = "".join(running.stderr)
    assert "stopped" in log
    # And its access log shows the request without the query string (OAuth codes live there)
    assert '"GET /echo" 200' in log
    assert "do-not-log-me" not in log
    assert refused(api_url)
    assert refused(aws_url)


def _emulator_available() -> bool:
    try:
        spec = importlib.util.find_spec("infra.google_emulator")
    except ModuleNotFoundError:
        return False
    if spec is None:
        return False
    module = importlib.import_module("infra.google_emulator")
    return hasattr(module, "GoogleEmulator")


@pytest.mark.skipif(not _emulator_available(), reason="infra.google_emulator is not written yet")
def test_emulator_mode_points_the_handlers_at_the_emulator() -> None:
    running = start({})
    banner = running.read_banner()
    api = re.search(r"(http://127\.0\.0\.1:\d+)/oauth/authorize", banner)
    google = re.search(r"Google \(emulator\):\s+(http://127\.0\.0\.1:\d+)", banner)
    assert api, banner
    assert google, banner
    environment = get_json(f"{api.group(1)}/echo")["environment"]
    assert environment["GMAIL_API_URL"] == google.group(1)
    assert environment["OAUTHLIB_INSECURE_TRANSPORT"] == "1"
    assert not refused(google.group(1))
    assert running.finish(signal.SIGTERM) == 0, "".join(running.stderr)
    assert refused(google.group(1))


def test_a_taken_port_is_a_one_line_error_and_exit_2(client_secrets: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = subprocess.run(
            [sys.executable, "-m", "infra.local_stack"],
            cwd=FIXTURE,
            env={
                **os.environ,
                "PYTHONPATH": os.pathsep.join([str(ROOT / "shared"), str(ROOT)]),
                "PORT": str(port),
                "GOOGLE_EMULATOR_PORT": "0",
                "AWS_EMULATOR_PORT": "0",
                "GOOGLE_CLIENT_SECRETS": str(client_secrets),
            },
            capture_output=True,
            text=True,
            timeout=DEADLINE_SECONDS,
            check=False,
        )
    assert process.returncode == 2, process.stderr
    assert process.stderr.strip().splitlines() == [
        f"local stack: port {port} for the HTTP API is already in use (set PORT to move it)"
    ]
    assert process.stdout == ""


def test_banner_gives_the_v1_key_pair_the_event_tap_and_the_sam_local_files(client_secrets: Path) -> None:
    # Given `make local` with its own SigV4 key pair
    running = start(
        {
            "GOOGLE_CLIENT_SECRETS": str(client_secrets),
            "LOCAL_SIGV4_ACCESS_KEY_ID": "AKIDMINE",
            "LOCAL_SIGV4_SECRET_ACCESS_KEY": "my-local-secret",
        }
    )
    banner = running.read_banner()
    api = re.search(r"(http://127\.0\.0\.1:\d+)/oauth/authorize", banner)
    queue = re.search(r"sqs receive-message --queue-url (\S+)", banner)
    aws = re.search(r"aws --endpoint-url (http://127\.0\.0\.1:\d+) sqs", banner)
    assert api, banner
    assert queue, banner
    assert aws, banner
    # Then the banner names the key pair /v1 accepts, and it is the one accepted
    assert "access key id AKIDMINE," in banner
    assert "secret access key my-local-secret" in banner
    assert signed_get(f"{api.group(1)}/v1/echo", "AKIDMINE", "my-local-secret") == 200
    assert signed_get(f"{api.group(1)}/v1/echo", "AKIDLOCAL", "local-secret") == 403
    # And an event put on the template's bus can be read at the queue the banner names
    session = boto3.session.Session(
        region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    session.client("events", endpoint_url=aws.group(1)).put_events(
        Entries=[
            {"EventBusName": "fixture-bus", "Source": "gmail-connect", "DetailType": "t", "Detail": "{}"}
        ]
    )
    messages = session.client("sqs", endpoint_url=aws.group(1)).receive_message(
        QueueUrl=queue.group(1), WaitTimeSeconds=5
    )["Messages"]
    assert json.loads(messages[0]["Body"])["source"] == "gmail-connect"
    # And the sam local environment file is written next to the template, pointing containers at AWS
    assert ".aws-sam/local-env.json" in banner
    env_vars = json.loads((FIXTURE / ".aws-sam" / "local-env.json").read_text(encoding="utf-8"))
    port = aws.group(1).rsplit(":", 1)[1]
    assert env_vars["EchoFunction"]["AWS_ENDPOINT_URL"] == f"http://host.docker.internal:{port}"
    assert running.finish(signal.SIGTERM) == 0, "".join(running.stderr)


def signed_get(url: str, key_id: str, secret: str) -> int:
    """The status of a GET signed with botocore for execute-api in us-east-1."""
    request = AWSRequest(method="GET", url=url)
    SigV4Auth(Credentials(key_id, secret), "execute-api", "us-east-1").add_auth(request)
    return URLLib3Session().send(request.prepare()).status_code
