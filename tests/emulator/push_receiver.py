"""A stand-in for the product's push endpoint: a loopback HTTP server that records every POST.

It answers the statuses it was given, in order, then 204; ``hold`` keeps each request waiting
until released (to show that delivery never waits on the endpoint's caller).
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass
class Push:
    path: str
    headers: dict[str, str]  # names in lower case
    body: dict[str, Any]
    at: float  # time.monotonic() when it arrived

    @property
    def notification(self) -> dict[str, Any]:
        """Gmail's payload, decoded from ``message.data``."""
        return json.loads(base64.b64decode(self.body["message"]["data"], validate=True))  # type: ignore[no-any-return]

    @property
    def token(self) -> str:
        scheme, _, token = self.headers["authorization"].partition(" ")
        assert scheme == "Bearer"
        return token


class PushReceiver:
    def __init__(self, answers: Iterable[int] = ()) -> None:
        self.answers: deque[int] = deque(answers)
        self.pushes: list[Push] = []
        self.hold: threading.Event | None = None
        self.in_flight = threading.Event()
        self._arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                push = Push(
                    self.path,
                    {name.lower(): value for name, value in self.headers.items()},
                    json.loads(self.rfile.read(length)),
                    time.monotonic(),
                )
                receiver.in_flight.set()
                if receiver.hold is not None:
                    receiver.hold.wait(10)
                with receiver._arrived:
                    status = receiver.answers.popleft() if receiver.answers else 204
                    receiver.pushes.append(push)
                    receiver._arrived.notify_all()
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", f"{receiver.url}/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/push/gmail"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Push]:
        """The first ``count`` pushes, once that many have arrived (fails after ``timeout``)."""
        with self._arrived:
            arrived = self._arrived.wait_for(lambda: len(self.pushes) >= count, timeout)
            assert arrived, f"{len(self.pushes)} pushes arrived, expected {count}"
            return list(self.pushes[:count])

    def close(self) -> None:
        if self.hold is not None:
            self.hold.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def eventually(probe: Callable[[], T], done: Callable[[T], bool], timeout: float = 10.0) -> T:
    """Probe until ``done`` holds (for state only visible through the control endpoints)."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if done(value):
            return value
        assert time.monotonic() < deadline, f"still {value!r} after {timeout} s"
        time.sleep(0.02)
