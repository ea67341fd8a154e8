"""The front's HTTP/1.1 request handler: the request head is parsed strictly, within API Gateway's size
quota, and whatever is refused gets a JSON answer, never a dropped connection.

http.server (under werkzeug's handler) takes a request line of up to 64 KiB, splits it on any
whitespace (so ``GET /a b HTTP/1.1`` is not seen as one target with a space in it), and answers its
own refusals with an HTML page. Here the head is read as RFC 9112 has it, and refused the way a real
front answers:

- request line over ``MAX_HEAD_BYTES`` (10240 bytes, API Gateway's HTTP API quota "total combined
  size of request line and header values"): 414 ``{"message":"URI Too Long"}``;
- request line and header values together over that quota, or more than ``MAX_HEADER_FIELDS``
  header lines: 431 ``{"message":"Request Header Fields Too Large"}``;
- a request line that is not ``method SP request-target SP HTTP-version`` (a raw space or control
  character in the target, an empty method, a target that is neither a path nor an absolute URL), a
  malformed header line, obsolete line folding, no ``Host`` (or two) in HTTP/1.1, a ``Content-Length``
  that is not one number, or ``Content-Length`` beside ``Transfer-Encoding``: 400
  ``{"message":"Bad Request"}``;
- an HTTP version other than 1.x (``HTTP/2.0`` in an HTTP/1 request line, ``HTTP/0.9``): 505
  ``{"message":"HTTP Version Not Supported"}``;
- a transfer coding other than ``chunked``: 501 ``{"message":"Not Implemented"}``.

A refusal closes the connection after draining what the client still sends (a "lingering close"):
closing with unread bytes makes the kernel answer with a reset, which can destroy the response
before the client reads it.

The access log line is ``"METHOD /path" status`` without the query string (OAuth codes and
states travel there), as the deployed API's access log.
"""

from __future__ import annotations

import http.client
import io
import json
import re
import socket
import time
from typing import Any

from werkzeug.serving import WSGIRequestHandler

__all__ = ["MAX_HEADER_FIELDS", "MAX_HEAD_BYTES", "RAW_HEADERS_KEY", "FrontRequestHandler"]

MAX_HEAD_BYTES = 10240
MAX_HEADER_FIELDS = 200
RAW_HEADERS_KEY = "local_stack.raw_headers"
"""WSGI environ key: the request's header fields as received, ``(name, value)`` in order. The
environ's ``HTTP_*`` keys lose some of that (repeated fields are joined, names with ``_`` dropped),
and a SigV4 signature covers each value as sent."""

_MESSAGES = {
    400: "Bad Request",
    414: "URI Too Long",
    431: "Request Header Fields Too Large",
    501: "Not Implemented",
    505: "HTTP Version Not Supported",
}
_TOKEN = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_VERSION = re.compile(rb"HTTP/([0-9])\.([0-9])")
_TARGET = re.compile(rb"[\x21-\x7e]+")
_FIELD_VALUE = re.compile(rb"[^\x00-\x08\x0a-\x1f\x7f]*")
_LINGER_SECONDS = 2.0
_LINGER_BYTES = 16 * 1024 * 1024


class _Refused(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class FrontRequestHandler(WSGIRequestHandler):
    """werkzeug's WSGI handler with a strict request-head parser in front of it."""

    raw_headers: list[tuple[str, str]]

    def handle_one_request(self) -> None:
        self.command, self.path, self.requestline = "", "", ""
        self.request_version = "HTTP/1.1"
        self.close_connection = True
        self.raw_headers = []
        try:
            try:
                if not self._read_head():
                    return
            except _Refused as refused:
                self._refuse(refused.status)
                return
            self.run_wsgi()
            self.wfile.flush()
        except TimeoutError as error:
            self.log_error("Request timed out: %r", error)

    def make_environ(self) -> dict[str, Any]:
        environ = super().make_environ()
        environ[RAW_HEADERS_KEY] = tuple(self.raw_headers)
        return environ

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        path = self.path.split("?", 1)[0] or "-"
        self.log("info", '"%s %s" %s', self.command or "-", path, getattr(code, "value", code))

    # -- parsing ------------------------------------------------------------------------
    def _read_line(self, limit: int, too_long: int) -> bytes | None:
        """One line without its line ending; ``None`` at end of input."""
        line = self.rfile.readline(limit + 2)
        if not line:
            return None
        if not line.endswith(b"\n"):
            if len(line) < limit + 2:
                raise _Refused(400)  # the client closed mid-line
            raise _Refused(too_long)
        content = line[:-2] if line.endswith(b"\r\n") else line[:-1]  # RFC 9112 2.2: a bare LF is allowed
        if len(content) > limit:
            raise _Refused(too_long)
        return content

    def _read_head(self) -> bool:
        """Parse the request line and header section into werkzeug's attributes; ``False`` when
        the client sent nothing at all."""
        line = self._read_line(MAX_HEAD_BYTES, 414)
        if line == b"":  # RFC 9112 2.2: one empty line before the request line is ignored
            line = self._read_line(MAX_HEAD_BYTES, 414)
        if line is None:
            return False
        self._parse_request_line(line)
        self._parse_header_section(MAX_HEAD_BYTES - len(line))
        return True

    def _parse_request_line(self, line: bytes) -> None:
        parts = line.split(b" ")
        if len(parts) != 3:
            raise _Refused(400)
        method, target, version = parts
        if not _TOKEN.fullmatch(method) or not _TARGET.fullmatch(target):
            raise _Refused(400)
        matched = _VERSION.fullmatch(version)
        if matched is None:
            raise _Refused(400)
        if matched.group(1) != b"1":
            raise _Refused(505)
        if not (target.startswith(b"/") or target.lower().startswith((b"http://", b"https://"))):
            raise _Refused(400)
        path = target.decode("ascii")
        if path.startswith("//"):  # as http.server: never let "//host" read as a network path
            path = "/" + path.lstrip("/")
        self.requestline = line.decode("ascii")
        self.command, self.path = method.decode("ascii"), path
        # A later minor version than 1.1 is handled as 1.1 (RFC 9110 2.5).
        self.request_version = "HTTP/1.0" if version == b"HTTP/1.0" else "HTTP/1.1"

    def _parse_header_section(self, budget: int) -> None:
        fields: list[tuple[bytes, bytes]] = []
        while True:
            line = self._read_line(MAX_HEAD_BYTES, 431)
            if line is None:
                raise _Refused(400)  # the client closed before the end of the head
            if line == b"":
                break
            if line[:1] in (b" ", b"\t"):
                raise _Refused(400)  # obsolete line folding (RFC 9112 5.2)
            name, colon, value = line.partition(b":")
            if not colon or not _TOKEN.fullmatch(name):
                raise _Refused(400)  # includes whitespace before the colon (RFC 9112 5.1)
            value = value.strip(b" \t")
            if not _FIELD_VALUE.fullmatch(value):
                raise _Refused(400)
            budget -= len(value)
            if budget < 0 or len(fields) >= MAX_HEADER_FIELDS:
                raise _Refused(431)
            fields.append((name, value))
        self._check_framing(fields)
        self.raw_headers = [(name.decode("ascii"), value.decode("latin-1")) for name, value in fields]
        block = b"".join(name + b": " + value + b"\r\n" for name, value in fields) + b"\r\n"
        self.headers = http.client.parse_headers(io.BytesIO(block), _class=self.MessageClass)

    def _check_framing(self, fields: list[tuple[bytes, bytes]]) -> None:
        def values(name: bytes) -> list[bytes]:
            return [value for field, value in fields if field.lower() == name]

        if self.request_version != "HTTP/1.0" and len(values(b"host")) != 1:
            raise _Refused(400)  # RFC 9112 3.2
        lengths = {part.strip() for value in values(b"content-length") for part in value.split(b",")}
        if lengths and (len(lengths) != 1 or not next(iter(lengths)).isdigit()):
            raise _Refused(400)  # RFC 9112 6.3
        codings = [
            part.strip().lower() for value in values(b"transfer-encoding") for part in value.split(b",")
        ]
        if codings:
            if lengths:
                raise _Refused(400)  # both framings: a request smuggling attempt (RFC 9112 6.1)
            if codings != [b"chunked"]:
                raise _Refused(501)

    # -- refusing -----------------------------------------------------------------------
    def _refuse(self, status: int) -> None:
        body = json.dumps({"message": _MESSAGES[status]}).encode()
        self.send_response(status, _MESSAGES[status])
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()
        self._linger()

    def _linger(self) -> None:
        """Half-close, then read what the client still sends until it closes (bounded)."""
        try:
            self.connection.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + _LINGER_SECONDS
            drained = 0
            while drained < _LINGER_BYTES:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self.connection.settimeout(remaining)
                chunk = self.connection.recv(64 * 1024)
                if not chunk:
                    break
                drained += len(chunk)
        except OSError:  # includes the timeout: the client is gone or silent; close anyway
            pass
