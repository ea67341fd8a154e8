"""An application's backend using gmail-connect: connect a user's Gmail, hear about it, read the mail.

What a backend does with the product's `/v1` API, in the order it happens:

1. `POST /v1/connect-links` for one of its own users (`external_user_id`), signed with SigV4 like
   every `/v1` call (API Gateway's AWS_IAM authorization; in AWS, the credentials of a role
   allowed `execute-api:Invoke`);
2. send the user's browser to the link's `url` (here: print it). After Google's consent the
   browser comes back to the link's `return_url` (here: a tiny page this program serves) with
   `?status=connected&connection_id=…`, or `?error=access_denied` (or another OAuth error code);
3. learn that the connection exists from the `gmail.connection.connected` event. Here it comes
   from `make local`'s SQS queue `local-event-tap`, which receives every event of the product's
   bus; deployed, from your own rule on the bus or the HTTPS delivery (README: "Integrating your
   application");
4. read the mailbox, now or any time later, signed: `GET /v1/connections/{id}/messages`.

With `make local` running:  python examples/app_backend.py --external-user-id u_123
It needs requests, botocore and boto3 only: nothing of the product is imported.
Exit status: 0 connected and read, 1 not connected (refused, timed out, or an API error).
"""

from __future__ import annotations

import argparse
import html
import json
import os
import queue
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import boto3
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import EndpointConnectionError
from requests.auth import AuthBase

CONNECTED = "gmail.connection.connected"
RETURN_PATH = "/connected"
# SQS long polling: each receive waits this long for an event before the loop looks again at
# whether the browser came back with an error (at most 20 s, SQS's limit).
POLL_SECONDS = 2
HTTP_TIMEOUT_SECONDS = 15
# The event is published before the browser is sent back, so the program may be done before the
# browser arrives: the return page stays up this long for it.
RETURN_GRACE_SECONDS = 30


class Failed(Exception):
    """Why the program stops early, in words for the person running it."""


class NotConnected(Failed):
    """The user's Gmail was not connected: refused at Google, or not within the time allowed."""


# --- calling the /v1 API, signed ------------------------------------------------------------------


class SigV4(AuthBase):
    """Signs each request for API Gateway's AWS_IAM authorization (service `execute-api`).

    botocore's SigV4Auth signs what it is given: the method, the URL with its query, the body,
    and the `Host` and `X-Amz-Date` headers; requests then sends the request with the
    `Authorization` header it computed. Temporary credentials (a role's) add their
    `X-Amz-Security-Token` the same way.
    """

    def __init__(self, credentials: Credentials, region: str) -> None:
        self._signer = SigV4Auth(credentials, "execute-api", region)

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        signed = AWSRequest(method=request.method, url=request.url, data=request.body)
        self._signer.add_auth(signed)
        request.headers.update(dict(signed.headers.items()))
        return request


class ApiError(Failed):
    """The API refused a call; the message says what to do about it."""

    def __init__(self, response: requests.Response) -> None:
        try:
            body: dict[str, Any] = response.json()
        except ValueError:
            body = {}
        code = body.get("error") or body.get("message") or response.reason
        hint = {
            # API Gateway's answer when the signature, the key or the IAM policy does not fit.
            403: "the signature was refused: check the credentials, the region and the IAM policy",
            409: "the connection needs re-authorization: make a new connect link for the same user",
        }.get(response.status_code, body.get("message", ""))
        super().__init__(
            f"{response.request.method} {response.url} answered {response.status_code} {code}: {hint}"
        )


class GmailConnect:
    """The product's `/v1` API as an application calls it: JSON in and out, every call signed."""

    def __init__(self, base_url: str, credentials: Credentials, region: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = requests.Session()
        self.http.auth = SigV4(credentials, region)

    def create_connect_link(
        self, external_user_id: str, return_url: str, login_hint: str | None = None
    ) -> dict[str, Any]:
        """`{"url", "expires_at"}`: a single-use link to send this user's browser to."""
        body = {"external_user_id": external_user_id, "return_url": return_url}
        if login_hint:
            body["login_hint"] = login_hint
        return self._call("POST", "/v1/connect-links", json=body, expect=201)

    def messages(self, connection_id: str, max_results: int = 10) -> dict[str, Any]:
        """One page of the connection's messages, newest first, with sender and subject."""
        return self._call(
            "GET",
            f"/v1/connections/{quote(connection_id, safe='')}/messages",
            params={"include": "metadata", "maxResults": str(max_results)},
        )

    def _call(self, method: str, path: str, *, expect: int = 200, **kwargs: Any) -> dict[str, Any]:
        response = self.http.request(method, self.base_url + path, timeout=HTTP_TIMEOUT_SECONDS, **kwargs)
        if response.status_code != expect:
            raise ApiError(response)
        result: dict[str, Any] = response.json()
        return result


# --- where the browser comes back ---------------------------------------------------------------


@dataclass(frozen=True)
class Returned:
    """What the product put on `return_url` when it sent the browser back."""

    status: str | None
    connection_id: str | None
    error: str | None


class ReturnPage:
    """A tiny HTTP server for the connect link's `return_url`, so the browser lands somewhere real.

    It shows the outcome and hands it to the main thread. The query string is only what the
    browser brought: anyone can open `/connected?status=connected`. What the backend trusts is
    the event (or `GET /v1/connections/{id}`, whose `external_user_id` must be this user's).
    """

    def __init__(self, port: int) -> None:
        self.returns: queue.Queue[Returned] = queue.Queue()
        self.visited = threading.Event()
        try:
            handler = _return_handler(self.returns, self.visited)
            self._server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        except OSError as error:
            raise Failed(
                f"cannot serve the return page on port {port} ({error.strerror}): try --port 0"
            ) from None
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{RETURN_PATH}"

    def __enter__(self) -> ReturnPage:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def _return_handler(returns: queue.Queue[Returned], visited: threading.Event) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path != RETURN_PATH:
                self._page(404, "Not found", "")
                return
            query = {name: values[0] for name, values in parse_qs(parts.query).items()}
            returned = Returned(query.get("status"), query.get("connection_id"), query.get("error"))
            if returned.error:
                self._page(
                    200, "Gmail was not connected", f"error: <code>{html.escape(returned.error)}</code>"
                )
            elif returned.status == "connected":
                connection = html.escape(returned.connection_id or "")
                self._page(200, "Gmail connected", f"connected, connection id <code>{connection}</code>")
            else:
                self._page(400, "Unexpected return", "neither a status nor an error came back")
            # Only once the page is sent: the program may exit on it.
            returns.put(returned)
            visited.set()

        def _page(self, status: int, title: str, message: str) -> None:
            body = (
                f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>'
                f"<body><h1>{title}</h1><p>{message}</p></body></html>"
            ).encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return  # quiet: the program's own output tells the story

    return Handler


# --- events ---------------------------------------------------------------------------------------


class EventTap:
    """`make local`'s queue `local-event-tap`: every event of the product's bus, as a rule delivers it.

    The tap is shared: whatever this program receives is deleted, so no other reader of the queue
    gets it (unrelated events included). Deployed, an application has its own rule and queue.
    """

    def __init__(self, endpoint_url: str, region: str, queue_name: str) -> None:
        # The embedded AWS accepts any credentials; these never reach a real account.
        self.sqs = boto3.client(
            "sqs",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        self.queue_url = self.sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]

    def receive(self, wait_seconds: int) -> list[dict[str, Any]]:
        """Up to 10 events, waiting up to `wait_seconds` for the first (long polling); deleted once read."""
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds
        ).get("Messages", [])
        if messages:
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)],
            )
        return [json.loads(message["Body"]) for message in messages]


def wait_for_connection(
    tap: EventTap, returns: queue.Queue[Returned], external_user_id: str, timeout_seconds: float
) -> dict[str, Any]:
    """The `gmail.connection.connected` event's detail for this user; NotConnected otherwise.

    Ends early when the browser comes back with an error (nothing is announced then). Events are
    delivered at least once: a consumer that keeps running dedupes on the event's `id`.
    """
    deadline = time.monotonic() + timeout_seconds
    while (remaining := deadline - time.monotonic()) > 0:
        while not returns.empty():
            returned = returns.get()
            if returned.error:
                raise NotConnected(f"the user did not connect Gmail: {returned.error}")
            print(f"Browser returned: {returned.status}, connection {returned.connection_id}", flush=True)
        for event in tap.receive(wait_seconds=max(1, min(POLL_SECONDS, int(remaining)))):
            detail = event.get("detail") or {}
            if event.get("detail-type") == CONNECTED and detail.get("external_user_id") == external_user_id:
                print(f"Event {CONNECTED}: {json.dumps(detail, ensure_ascii=False)}", flush=True)
                return dict(detail)
            owner = detail.get("external_user_id") or "a connection without an external user"
            print(f"(skipped {event.get('detail-type')} of {owner})", file=sys.stderr)
    raise NotConnected(
        f"{external_user_id} did not connect within {timeout_seconds:g} s (no {CONNECTED} event)"
    )


# --- the program --------------------------------------------------------------------------------


def connect_and_read(args: argparse.Namespace) -> None:
    api = GmailConnect(args.api_url, Credentials(args.access_key_id, args.secret_access_key), args.region)
    tap = EventTap(args.aws_endpoint_url, args.region, args.queue_name)
    with ReturnPage(args.port) as page:
        link = api.create_connect_link(args.external_user_id, page.url, args.login_hint)
        print(f"Connect link for {args.external_user_id} (single use, expires {link['expires_at']}):")
        print(f"  {link['url']}")
        print(f"Return page: {page.url}")
        print(f"Open the link in a browser. Waiting up to {args.timeout:g} s for {CONNECTED} …", flush=True)
        connected = wait_for_connection(tap, page.returns, args.external_user_id, args.timeout)
        print_messages(api, connected)
        page.visited.wait(RETURN_GRACE_SECONDS)


def print_messages(api: GmailConnect, connected: dict[str, Any]) -> None:
    """The connection's ten newest messages: what the backend can read from now on, any time."""
    connection_id = str(connected["connection_id"])
    found = api.messages(connection_id, max_results=10).get("messages", [])
    print(f"{len(found)} messages of {connected['email']} ({connection_id}), newest first:")
    for message in found:
        print(f"  - {message.get('subject') or '(no subject)'}  (from {message.get('from') or '?'})")
    sys.stdout.flush()


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(
        description="Connect a user's Gmail through gmail-connect's /v1 API and read it (make local)."
    )
    parser.add_argument(
        "--external-user-id",
        default=env("EXTERNAL_USER_ID"),
        required=not env("EXTERNAL_USER_ID"),
        help="your application's id for the user (env EXTERNAL_USER_ID)",
    )
    parser.add_argument("--login-hint", default=env("LOGIN_HINT"), help="pre-select this Google account")
    parser.add_argument(
        "--api-url",
        default=env("GMAIL_CONNECT_API_URL", "http://127.0.0.1:3000"),
        help="the product's API (env GMAIL_CONNECT_API_URL)",
    )
    parser.add_argument(
        "--aws-endpoint-url",
        default=env("GMAIL_CONNECT_AWS_ENDPOINT_URL", "http://127.0.0.1:3002"),
        help="the embedded AWS holding the event tap (env GMAIL_CONNECT_AWS_ENDPOINT_URL)",
    )
    parser.add_argument(
        "--queue-name", default=env("GMAIL_CONNECT_EVENT_QUEUE", "local-event-tap"), help="the event queue"
    )
    parser.add_argument(
        "--region",
        default=env("GMAIL_CONNECT_REGION", "us-east-1"),
        help="SigV4 region (env GMAIL_CONNECT_REGION)",
    )
    parser.add_argument(
        "--access-key-id",
        default=env("LOCAL_SIGV4_ACCESS_KEY_ID", "AKIDLOCAL"),
        help="SigV4 key id (env LOCAL_SIGV4_ACCESS_KEY_ID, as make local reads it)",
    )
    parser.add_argument(
        "--secret-access-key",
        default=env("LOCAL_SIGV4_SECRET_ACCESS_KEY", "local-secret"),
        help="SigV4 secret (env LOCAL_SIGV4_SECRET_ACCESS_KEY; prefer the variable to the flag)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=env("RETURN_PORT", "8765"),
        help="port of the return page on 127.0.0.1 (env RETURN_PORT; 0: any free port)",
    )
    parser.add_argument(
        "--timeout", type=float, default=300.0, help="seconds to wait for the user to connect (300)"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        connect_and_read(args)
    except Failed as failure:
        print(f"app_backend: {failure}", file=sys.stderr)
        return 1
    except (requests.ConnectionError, EndpointConnectionError) as unreachable:
        print(
            f"app_backend: cannot reach the API or the event queue (is make local running?): {unreachable}",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
