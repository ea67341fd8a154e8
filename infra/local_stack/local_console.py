"""``make local``'s own routes under ``/_local/``: the console's local panel.

The browser cannot read moto's SQS or call the Google emulator's control endpoints itself (other
origins, and credentials it should not hold), so the local stack's server answers these for it,
on the API's own origin. They are not in the template: deployed, ``GET /_local/status`` is API
Gateway's 404 and the console shows no panel.

- ``GET /_local/status``: ``{"local": true, "deliver": bool}`` (``deliver``: the Google emulator runs).
- ``GET /_local/events?after=N``: the events put on the product's bus since number ``N``
  (``{"events": [{"seq", "id", "type", "source", "time", "detail"}], "last": N}``). They come from
  the console's own queue ``local-console-events``, a second target of the event tap's rule, which
  is drained into a ring buffer of the latest ``RING_SIZE``; the ``local-event-tap`` queue is left
  to whoever reads it with the AWS CLI.
- ``POST /_local/deliver``: delivers a test message (text, HTML and a small attachment) to the
  signed-in user's mailbox at the emulator, then syncs that mailbox once with the sync worker's
  handler, invoked as Lambda's SQS poller would, so ``gmail.message.received`` appears on the bus
  without waiting for ``make sync``. A mailbox never synced is synced once before the delivery,
  since a first sync only records where the mailbox is. Like ``POST /oauth/disconnect`` it needs
  the session cookie and this origin's ``Origin`` header.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import sys
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, quote

import boto3
import requests
from werkzeug.wrappers import Request

from infra.local_stack.apigw import lambda_context
from infra.local_stack.handlers import Handler
from infra.local_stack.sync import lambda_sqs_event

__all__ = ["CONSOLE_QUEUE_NAME", "PREFIX", "RING_SIZE", "LocalConsole", "SyncWorker", "test_message"]

PREFIX = "/_local/"
CONSOLE_QUEUE_NAME = "local-console-events"
RING_SIZE = 200
MAX_EVENTS_PER_ANSWER = 50
_DRAIN_ROUNDS = 20  # x 10 messages: what one poll takes from the queue at most
TEST_SENDER = "Gmail connect console <console@example.net>"

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


@dataclass(frozen=True)
class SyncWorker:
    """The sync worker's handler as the local stack loaded it, and the template's settings for it."""

    handler: Handler
    function_id: str
    timeout_seconds: float
    queue_arn: str


def test_message(recipient: str, number: int, now: datetime) -> tuple[str, bytes]:
    """A small real-looking message with text, HTML and a text attachment: ``(subject, RFC 822 bytes)``."""
    subject = f"Test message {number} from the console"
    message = EmailMessage()
    message["From"] = TEST_SENDER
    message["To"] = recipient
    message["Subject"] = subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain="example.net")
    message.set_content(
        f"Hello,\n\nthis is test message {number}, delivered by the console's local panel.\n"
        "The sync that followed announced it as gmail.message.received on the bus.\n"
    )
    message.add_alternative(
        f"<p>Hello,</p><p>this is <b>test message {number}</b>, delivered by the console's local panel.</p>"
        "<p>The sync that followed announced it as <code>gmail.message.received</code> on the bus.</p>",
        subtype="html",
    )
    message.add_attachment(
        f"Attachment of test message {number}.\n".encode(),
        maintype="text",
        subtype="plain",
        filename=f"test-message-{number}.txt",
    )
    return subject, message.as_bytes()


class LocalConsole:
    """WSGI app for ``/_local/*``, beside the front (``LocalStack`` dispatches to it)."""

    def __init__(
        self,
        *,
        api_url: str,
        events_queue_url: str,
        google_url: str | None,
        worker: SyncWorker | None,
        invoke_lock: threading.Lock,
    ) -> None:
        """``google_url``: the Google emulator (None with the real Google: nothing to deliver to);
        ``worker``: None when the template has no sync worker (the message is only delivered);
        ``invoke_lock``: the front's, since the handlers share process-wide state."""
        self.origin = api_url.rstrip("/").lower()
        self.events_queue_url = events_queue_url
        self.google_url = google_url.rstrip("/") if google_url else None
        self.worker = worker
        self.invoke_lock = invoke_lock
        self._ring: deque[dict[str, Any]] = deque(maxlen=RING_SIZE)
        self._sequence = itertools.count(1)
        self._last = 0
        self._ring_lock = threading.Lock()
        self._delivered = itertools.count(1)
        self._sqs: Any = None

    # -- WSGI ---------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        route = (request.method, request.path)
        status: int
        body: dict[str, Any]
        if route == ("GET", "/_local/status"):
            status, body = 200, {"local": True, "deliver": self.google_url is not None}
        elif route == ("GET", "/_local/events"):
            status, body = self.events(request.query_string.decode("latin-1"))
        elif route == ("POST", "/_local/deliver"):
            status, body = self.deliver(request)
        else:
            status, body = 404, {"message": "Not Found"}  # as API Gateway answers unknown routes
        payload = json.dumps(body, separators=(",", ":")).encode()
        start_response(
            f"{status} {HTTPStatus(status).phrase}",
            [
                ("Content-Type", "application/json"),
                ("Cache-Control", "no-store"),
                ("X-Content-Type-Options", "nosniff"),
                ("Content-Length", str(len(payload))),
            ],
        )
        return [payload]

    # -- events -------------------------------------------------------------------------
    def events(self, query: str) -> tuple[int, dict[str, Any]]:
        params = dict(parse_qsl(query))
        after = params.get("after", "0")
        if not after.isdigit():
            return 400, {"error": "invalid_request", "message": "after must be a whole number."}
        with self._ring_lock:
            self._drain()
            since = int(after) if int(after) <= self._last else 0  # a page from before a restart
            found = [event for event in self._ring if event["seq"] > since][-MAX_EVENTS_PER_ANSWER:]
            return 200, {"events": found, "last": self._last}

    def _drain(self) -> None:
        if self._sqs is None:
            self._sqs = boto3.client("sqs")
        for _ in range(_DRAIN_ROUNDS):
            messages = self._sqs.receive_message(
                QueueUrl=self.events_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not messages:
                return
            for message in messages:
                self._remember(json.loads(message["Body"]))
            self._sqs.delete_message_batch(
                QueueUrl=self.events_queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )

    def _remember(self, event: dict[str, Any]) -> None:
        self._last = next(self._sequence)
        self._ring.append(
            {
                "seq": self._last,
                "id": event.get("id"),
                "type": event.get("detail-type"),
                "source": event.get("source"),
                "time": event.get("time"),
                "detail": event.get("detail") or {},
            }
        )

    # -- deliver ------------------------------------------------------------------------
    def deliver(self, request: Request) -> tuple[int, dict[str, Any]]:
        # Imported here, not at the top: the layer reads its environment (Powertools' namespace,
        # the tables) when first imported, which must be after the stack has set it.
        from gmail_connect.api import web
        from gmail_connect.store import accounts, sessions

        origin = (request.headers.get("Origin") or "").strip().lower()
        if origin != self.origin:
            return 403, {"error": "forbidden_origin", "message": "This request did not come from this site."}
        if self.google_url is None:
            return 404, {"error": "not_found", "message": "Delivering needs the Google emulator."}
        session = sessions.current(request.cookies.get(web.cookie_name(web.SESSION_COOKIE)))
        account = accounts.get(session.user_id, accounts.SYNC_ATTRIBUTES) if session else None
        if session is None or account is None or session.ended_for(account):
            return 401, {"error": "unauthenticated", "message": "Sign in first."}
        if account.history_id is None:
            self._sync(account.user_id)  # a first sync records where the mailbox is, and announces nothing
        subject, raw = test_message(account.email, next(self._delivered), datetime.now(UTC))
        delivered = requests.post(
            f"{self.google_url}/_emulator/accounts/{quote(account.email, safe='@')}/messages",
            json={"raw": base64.urlsafe_b64encode(raw).decode().rstrip("=")},
            timeout=10,
        )
        if delivered.status_code != 201:
            message = f"The Google emulator answered {delivered.status_code}."
            return 502, {"error": "emulator_refused", "message": message}
        return 201, {**delivered.json(), "subject": subject, "sync": self._sync(account.user_id)}

    def _sync(self, user_id: str) -> dict[str, Any] | None:
        """One sync of ``user_id`` through the worker's handler; what it reported, or None without one."""
        if self.worker is None:
            return None
        now = datetime.now(UTC)
        run = {"user_id": user_id, "run_id": f"console-{uuid.uuid4()}", "scheduled_at": now.isoformat()}
        body = json.dumps(run)
        message = {
            "MessageId": str(uuid.uuid4()),
            "ReceiptHandle": uuid.uuid4().hex,
            "Body": body,
            "MD5OfBody": hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
            "Attributes": {
                "ApproximateReceiveCount": "1",
                "SentTimestamp": str(int(now.timestamp() * 1000)),
                "ApproximateFirstReceiveTimestamp": str(int(now.timestamp() * 1000)),
            },
        }
        event = lambda_sqs_event([message], self.worker.queue_arn)
        context = lambda_context(self.worker.function_id, timeout_seconds=self.worker.timeout_seconds)
        with self.invoke_lock:
            response = self.worker.handler(event, context)
            # The worker module keeps what its last invocation did (as `make sync` reads it).
            report = getattr(sys.modules[self.worker.handler.__module__].worker, "report", None)
        failed = bool(response.get("batchItemFailures")) if isinstance(response, dict) else True
        return {
            "failed": failed,
            "new_messages": int(getattr(report, "new_messages", 0)),
            "outcomes": dict(getattr(report, "outcomes", {})),
        }
