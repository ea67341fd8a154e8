"""Fixtures for the local stack's own tests: a fixture template with an echoing handler,
a stand-in for the Google emulator, an HTTP helper that keeps repeated headers, and the front
alone on a loopback server (no AWS: the fixture's handlers only echo)."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import pytest
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from infra import cfn
from infra.local_stack import sigv4
from infra.local_stack.front import Front
from infra.local_stack.request_handler import FrontRequestHandler

FIXTURE = Path(__file__).parent / "fixture"
FIXTURE_TEMPLATE = FIXTURE / "template.yaml"


class StandInGoogle:
    """The Google emulator's public API (``start``/``url``/``client_config``/``stop``/``app``) over
    a real loopback server that only answers ``GET /`` — enough for the local stack's wiring."""

    instances: ClassVar[list[StandInGoogle]] = []

    def __init__(self, host: str = "127.0.0.1", port: int = 0, demo: bool = True) -> None:
        self.host, self.port, self.demo = host, port, demo
        self.redirect_uris: list[str] = []
        self.demo_email = "demo@example.com"
        self.stopped = False
        self.app = self._app
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        StandInGoogle.instances.append(self)

    def start(self) -> StandInGoogle:
        self._server = make_server(self.host, self.port, self.app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://{self.host}:{self._server.server_port}"

    def client_config(self, redirect_uris: list[str]) -> dict[str, Any]:
        self.redirect_uris = list(redirect_uris)
        return {
            "web": {
                "client_id": "stand-in.apps.googleusercontent.com",
                "client_secret": "stand-in-secret",
                "auth_uri": f"{self.url}/o/oauth2/v2/auth",
                "token_uri": f"{self.url}/token",
                "redirect_uris": list(redirect_uris),
            }
        }

    def stop(self) -> None:
        assert self._server is not None
        assert self._thread is not None
        self._server.shutdown()
        self._thread.join()
        self.stopped = True

    @staticmethod
    @Request.application
    def _app(request: Request) -> Response:
        return Response(json.dumps({"stand_in": True}), content_type="application/json")


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = self.all(name)
        return values[0] if values else None

    def all(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name.lower()]

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Client:
    """``http.client`` over loopback: raw paths and repeated headers go out as written."""

    base_url: str
    timeout: float = 10.0
    sent: list[str] = field(default_factory=list)

    def request(
        self,
        method: str,
        target: str,
        *,
        headers: list[tuple[str, str]] | None = None,
        body: bytes | None = None,
    ) -> Reply:
        split = urlsplit(self.base_url)
        connection = http.client.HTTPConnection(split.hostname, split.port, timeout=self.timeout)
        try:
            connection.putrequest(method, target, skip_accept_encoding=True)
            for name, value in headers or []:
                connection.putheader(name, value)
            if body is not None:
                connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body)
            response = connection.getresponse()
            return Reply(response.status, response.getheaders(), response.read())
        finally:
            connection.close()


@pytest.fixture
def stand_in_google() -> type[StandInGoogle]:
    StandInGoogle.instances.clear()
    return StandInGoogle


@pytest.fixture
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """None of the variables a LocalStack sets, so a test can see them set and restored."""
    for name in ("AWS_ENDPOINT_URL", "OAUTHLIB_INSECURE_TRANSPORT", "PUBLIC_BASE_URL", "TOKENS_TABLE"):
        monkeypatch.delenv(name, raising=False)


class ShiftedClock:
    """The real clock moved by ``offset`` seconds: the front's view of "now" for signature expiry."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@dataclass
class FrontServer:
    url: str
    clock: ShiftedClock

    @property
    def address(self) -> tuple[str, int]:
        split = urlsplit(self.url)
        assert split.hostname is not None
        assert split.port is not None
        return split.hostname, split.port


@pytest.fixture(scope="module")
def front_server() -> Iterator[FrontServer]:
    """The fixture template's front with the make-local request handler, on a loopback port."""
    clock = ShiftedClock()
    credentials = sigv4.local_credentials({})  # the defaults, whatever this shell exports
    front = Front(cfn.load_template(FIXTURE_TEMPLATE), root=FIXTURE, credentials=credentials, clock=clock)
    server = make_server("127.0.0.1", 0, front, threaded=True, request_handler=FrontRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield FrontServer(f"http://127.0.0.1:{server.server_port}", clock)
    server.shutdown()
    thread.join()
    server.server_close()
