"""Integration: the real handlers, moto's server over HTTP, the Google emulator over loopback."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
import requests
from moto.server import ThreadedMotoServer

from infra.cfn import load_template
from infra.google_emulator import GoogleEmulator
from infra.local_stack.provision import provision_aws
from tests.support.product import TEMPLATE, reset_caches

API_BASE = "http://127.0.0.1:3000"


@dataclass
class Stack:
    environment: dict[str, str]
    google: GoogleEmulator
    email: str

    def items(self, table: str) -> list[dict[str, Any]]:
        return boto3.client("dynamodb").scan(TableName=self.environment[table])["Items"]

    def google_stats(self) -> dict[str, Any]:
        return requests.get(f"{self.google.url}/_emulator/stats", timeout=5).json()

    def google_control(self, path: str, body: dict | None = None) -> requests.Response:
        return requests.post(f"{self.google.url}/_emulator/{path}", json=body or {}, timeout=5)


@pytest.fixture(scope="session")
def _servers() -> Iterator[tuple[ThreadedMotoServer, GoogleEmulator, int]]:
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    google = GoogleEmulator(host="127.0.0.1", port=0, demo=True).start()
    yield moto, google, moto.get_host_and_port()[1]
    google.stop()
    moto.stop()


@pytest.fixture
def stack(_servers, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """A clean AWS account and a reset emulator for every test; the functions' environment set."""
    _, google, port = _servers
    endpoint = f"http://127.0.0.1:{port}"
    requests.post(f"{endpoint}/moto-api/reset", timeout=5)
    requests.post(f"{google.url}/_emulator/reset", timeout=5)
    overrides = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "OAUTHLIB_INSECURE_TRANSPORT": "1",
        "PUBLIC_BASE_URL": API_BASE,
        "ALLOW_LOOPBACK_RETURN_URLS": "1",
        "GOOGLE_REVOKE_URI": f"{google.url}/revoke",
        "GOOGLE_USERINFO_URI": f"{google.url}/v1/userinfo",
        "GMAIL_API_URL": google.url,
    }
    for name, value in overrides.items():
        monkeypatch.setenv(name, value)
    client_config = google.client_config(redirect_uris=[f"{API_BASE}/oauth/callback"])
    environment = provision_aws(load_template(TEMPLATE), client_config)
    for name, value in {**environment, **overrides}.items():
        monkeypatch.setenv(name, value)
    reset_caches()
    email = f"user-{uuid.uuid4().hex[:12]}@example.com"
    created = requests.post(
        f"{google.url}/_emulator/accounts", json={"email": email, "messages": 5}, timeout=5
    )
    assert created.status_code == 201, created.text
    return Stack(environment=environment, google=google, email=email)
