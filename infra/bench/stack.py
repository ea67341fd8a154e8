"""The benchmark's stack: moto's server and the Google emulator in processes of their own, and
users connected through a real consent.

Each emulator is its own process on a free loopback port, so its CPU is not the benchmark's
(as AWS's and Google's are not a Lambda's) and can be read apart (`cpu.process_cpu_seconds`).
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

from infra import cfn

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
LOGS = ROOT / ".aws-sam"
REDIRECT_URI = "http://127.0.0.1:3000/oauth/callback"
SCOPES = (
    "openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/gmail.readonly"
)
SETUP_THREADS = 8
MOTO_SETTINGS = {"MOTO_SQS_ENFORCE_STRICT_QUEUE_PURGE_BEHAVIOUR": "false"}
_REQUEST_ID = re.compile(r'name="request_id" value="([^"]+)"')


@dataclass(frozen=True)
class Stack:
    """The emulators as the benchmark sees them: URLs, process ids, the OAuth client in Google's."""

    google_url: str
    client_config: dict[str, Any]
    environment: dict[str, str]
    moto_pid: int
    google_pid: int


@dataclass(frozen=True)
class BenchUser:
    """A connected user, with what the floor script needs to call Gmail without the product."""

    user_id: str
    email: str
    access_token: str


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _server(
    command: list[str], ready_url: str, name: str, env: Mapping[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """A server in its own process (stopped on the way out), once it answers `ready_url`; what it
    writes goes to `.aws-sam/bench-<name>.log`, to look at when a run fails."""
    LOGS.mkdir(parents=True, exist_ok=True)
    log = (LOGS / f"bench-{name}.log").open("wb")
    process = subprocess.Popen(
        command,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": "shared:.", **(env or {})},
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(ready_url, timeout=1)
                break
            except requests.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{name} did not start") from None
                time.sleep(0.1)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@contextmanager
def loopback_stack(concurrency: int | None) -> Iterator[Stack]:
    """moto's server (`python -m moto.server`) and the Google emulator, the template provisioned,
    and this process's environment set as the functions'."""
    from infra.google_emulator.state import DEFAULT_CLIENT
    from infra.local_stack.provision import provision_aws

    aws_port, google_port = _free_port(), _free_port()
    endpoint, google_url = f"http://127.0.0.1:{aws_port}", f"http://127.0.0.1:{google_port}"
    moto_command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(aws_port)]
    google_command = [sys.executable, "-m", "infra.google_emulator", "--port", str(google_port)]
    google_command += ["--no-demo", "--quiet", "--redirect-uri", REDIRECT_URI]
    saved = dict(os.environ)
    with (
        # The fan-out measurement empties the sync queue after each shard (fanout_rate.py).
        _server(moto_command, f"{endpoint}/moto-api/", "moto", MOTO_SETTINGS) as moto,
        _server(google_command, f"{google_url}/_emulator/stats", "google-emulator") as google,
    ):
        client_config = {
            "web": {
                **DEFAULT_CLIENT,
                "auth_uri": f"{google_url}/o/oauth2/v2/auth",
                "token_uri": f"{google_url}/token",
                "redirect_uris": [REDIRECT_URI],
            }
        }
        try:
            base = {
                "AWS_ENDPOINT_URL": endpoint,
                "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_REGION": "us-east-1",
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "OAUTHLIB_INSECURE_TRANSPORT": "1",
                "GOOGLE_REVOKE_URI": f"{google_url}/revoke",
                "GOOGLE_USERINFO_URI": f"{google_url}/v1/userinfo",
                "GMAIL_API_URL": google_url,
                "POWERTOOLS_SERVICE_NAME": "gmail-connect",
                "POWERTOOLS_METRICS_NAMESPACE": "GmailConnect",
            }
            os.environ.update(base)
            environment = {**provision_aws(cfn.load_template(TEMPLATE), client_config), **base}
            # The deployed level (INFO) logs only mailboxes with news; warnings show here too.
            environment["POWERTOOLS_LOG_LEVEL"] = "WARNING"
            if concurrency:
                environment["SYNC_CONCURRENCY"] = str(concurrency)
            os.environ.update(environment)
            yield Stack(google_url, client_config, environment, moto.pid, google.pid)
        finally:
            os.environ.clear()
            os.environ.update(saved)


def control(stack: Stack, path: str, body: Mapping[str, Any] | None = None) -> requests.Response:
    return requests.post(f"{stack.google_url}/_emulator/{path}", json=dict(body or {}), timeout=10)


def google_stats(stack: Stack) -> dict[str, Any]:
    stats: dict[str, Any] = requests.get(f"{stack.google_url}/_emulator/stats", timeout=10).json()
    return stats


def connect_users(stack: Stack, count: int, start: int) -> list[BenchUser]:
    """Create `count` accounts and connect each: consent over HTTP, grant through the token store."""
    from gmail_connect.core import aws
    from gmail_connect.store import grants

    config = stack.client_config["web"]

    def connect(n: int) -> BenchUser:
        email = f"bench-{n:05}@example.com"
        created = control(stack, "accounts", {"email": email})
        created.raise_for_status()
        http = requests.Session()
        state = secrets.token_urlsafe(16)
        consent_url = f"{config['auth_uri']}?" + urlencode(
            {
                "response_type": "code",
                "client_id": config["client_id"],
                "redirect_uri": REDIRECT_URI,
                "scope": SCOPES,
                "state": state,
                "access_type": "offline",
                "prompt": "consent",
                "login_hint": email,
            }
        )
        page = http.get(consent_url, timeout=10)
        match = _REQUEST_ID.search(page.text)
        if page.status_code != 200 or match is None:
            raise RuntimeError(f"no consent page for {email}: {page.status_code}")
        decision = http.post(
            f"{stack.google_url}/o/oauth2/v2/auth/decision",
            data=[("request_id", match.group(1)), ("account", email), ("decision", "allow")]
            + [("scope", scope) for scope in SCOPES.split()],
            allow_redirects=False,
            timeout=10,
        )
        answer = parse_qs(urlsplit(decision.headers["Location"]).query)
        if answer.get("state") != [state]:
            raise RuntimeError(f"consent for {email} came back without our state")
        token = http.post(
            config["token_uri"],
            data={
                "grant_type": "authorization_code",
                "code": answer["code"][0],
                "redirect_uri": REDIRECT_URI,
                "client_id": config["client_id"],
                "client_secret": config["client_secret"],
            },
            timeout=10,
        ).json()
        user_id = created.json()["sub"]
        grants.store_new_grant(
            grants.Grant(
                user_id=user_id,
                email=email,
                scopes=tuple(token["scope"].split()),
                access_token=token["access_token"],
                access_token_expires_at=grants.expires_at(token.get("expires_in")),
                refresh_token=token["refresh_token"],
            )
        )
        return BenchUser(user_id, email, token["access_token"])

    for service in ("dynamodb", "kms"):  # created once, before the threads share them
        aws.client(service)
    with ThreadPoolExecutor(SETUP_THREADS) as pool:
        return list(pool.map(connect, range(start, start + count)))


def deliver_to_all(stack: Stack, users: list[BenchUser]) -> None:
    def deliver(user: BenchUser) -> None:
        body = {"from": "Bench <bench@example.org>", "subject": "bench", "body": "hello"}
        control(stack, f"accounts/{user.email}/messages", body).raise_for_status()

    with ThreadPoolExecutor(SETUP_THREADS) as pool:
        list(pool.map(deliver, users))
