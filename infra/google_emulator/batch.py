"""Google's batch protocol: ``multipart/mixed`` in, ``multipart/mixed`` out.

Each request part is ``Content-Type: application/http`` holding a request line, headers and
an optional body. Headers of the outer request (except ``Content-*``) apply to every part
unless the part sets them itself. Each response part carries ``Content-ID:
<response-{request Content-ID}>`` and a full HTTP response (status line, headers, body), in
the layout googleapiclient's ``BatchHttpRequest`` parses.
"""

from __future__ import annotations

import email.message
import email.parser
import email.policy
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import urlsplit

from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request, Response

from . import errors

MAX_PARTS = 100
_SKIP_OUTER = {"host", "content-length", "transfer-encoding", "connection", "accept-encoding"}


class BatchError(ValueError):
    pass


@dataclass
class InnerRequest:
    content_id: str | None
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes


def _parse_part(text: str, content_id: str | None) -> InnerRequest:
    text = text.lstrip("\r\n")
    blank = re.search(r"\r?\n\r?\n", text)
    head, body = (text[: blank.start()], text[blank.end() :]) if blank else (text, "")
    lines = head.splitlines()
    if not lines:
        raise BatchError("Empty part in batch request.")
    request_line = lines[0].split()
    if len(request_line) < 2:
        raise BatchError(f"Invalid request line in batch part: {lines[0]!r}")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and headers:
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {line.strip()}")
        elif ":" in line:
            name, _, value = line.partition(":")
            headers.append((name.strip(), value.strip()))
    return InnerRequest(
        content_id=content_id,
        method=request_line[0].upper(),
        target=request_line[1],
        headers=headers,
        body=body.encode("ascii", "surrogateescape"),
    )


def parse(content_type: str, data: bytes) -> list[InnerRequest]:
    if not content_type.lower().startswith("multipart/"):
        raise BatchError("Content-Type of a batch request must be multipart/mixed.")
    document = b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + data
    message = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(document)
    if not message.is_multipart():
        raise BatchError("Failed to parse batch request: no multipart boundary found.")
    parts = []
    for part in message.get_payload():
        payload = part.get_payload() if isinstance(part, email.message.Message) else None
        if not isinstance(part, email.message.Message) or not isinstance(payload, str):
            raise BatchError("Nested multipart parts are not supported in a batch request.")
        parts.append(_parse_part(payload, part.get("Content-ID")))
    return parts


def _response_id(content_id: str) -> str:
    inner = content_id.strip()
    if inner.startswith("<") and inner.endswith(">"):
        inner = inner[1:-1]
    return f"<response-{inner}>"


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def serialize(responses: list[tuple[str | None, Response]]) -> Response:
    boundary = "batch_" + secrets.token_hex(12)
    chunks: list[bytes] = []
    for content_id, response in responses:
        body = response.get_data()
        head = f"--{boundary}\r\nContent-Type: application/http\r\n"
        if content_id:
            head += f"Content-ID: {_response_id(content_id)}\r\n"
        head += f"\r\nHTTP/1.1 {response.status_code} {_reason(response.status_code)}\r\n"
        for name, value in response.headers.items():
            if name.lower() != "content-length":
                head += f"{name}: {value}\r\n"
        head += f"Content-Length: {len(body)}\r\n\r\n"
        chunks += [head.encode("latin-1"), body, b"\r\n"]
    chunks.append(f"--{boundary}--\r\n".encode("ascii"))
    return Response(b"".join(chunks), status=200, content_type=f"multipart/mixed; boundary={boundary}")


def handle(request: Request, run_inner: Callable[[Request], Response]) -> Response:
    """Answer one batch HTTP request by running every part through ``run_inner``."""
    try:
        parts = parse(request.headers.get("Content-Type", ""), request.get_data())
    except BatchError as exc:
        return errors.bad_request(str(exc))
    if not parts:
        return errors.bad_request("A batch request must contain at least one part.")
    if len(parts) > MAX_PARTS:
        return errors.bad_request(f"Exceeded the maximum of {MAX_PARTS} calls in a single batch request.")
    outer = [
        (name, value)
        for name, value in request.headers.items()
        if not name.lower().startswith("content-") and name.lower() not in _SKIP_OUTER
    ]
    responses = []
    for part in parts:
        own = {name.lower() for name, _ in part.headers}
        headers = [(n, v) for n, v in outer if n.lower() not in own] + part.headers
        target = urlsplit(part.target)
        environ = EnvironBuilder(
            path=target.path or "/",
            query_string=target.query,
            method=part.method,
            headers=headers,
            data=part.body or None,
            base_url=request.host_url,
        ).get_environ()
        responses.append((part.content_id, run_inner(Request(environ))))
    return serialize(responses)
