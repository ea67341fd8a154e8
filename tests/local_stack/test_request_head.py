"""The front's request head parsing over raw sockets: what a real front refuses is refused with
a JSON answer (never a dropped connection or a traceback), and the server keeps serving."""

from __future__ import annotations

import json
import logging
import socket
from dataclasses import dataclass

import pytest

from infra.local_stack.request_handler import MAX_HEAD_BYTES
from tests.local_stack.conftest import FrontServer


@dataclass
class RawReply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> object:
        return json.loads(self.body)


def exchange(server: FrontServer, data: bytes, *, then_close: bool = False) -> RawReply:
    """Send ``data`` as is (then end the stream, if ``then_close``), read until the server
    closes, parse the one response."""
    with socket.create_connection(server.address, timeout=10) as sock:
        sock.sendall(data)
        if then_close:
            sock.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    version, status, _ = status_line.split(" ", 2)
    assert version == "HTTP/1.1", status_line
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    assert len(body) == int(headers["content-length"]), "the whole body, as announced"
    return RawReply(int(status), headers, body)


def request(target: bytes = b"/echo", *, method: bytes = b"GET", version: bytes = b"HTTP/1.1") -> bytes:
    return method + b" " + target + b" " + version + b"\r\nHost: local\r\n\r\n"


REFUSED = {
    "raw space in the target": (request(b"/echo?q=a b"), 400, "Bad Request"),
    "raw space in the path": (request(b"/ec ho"), 400, "Bad Request"),
    "control character in the target": (request(b"/echo?q=\x01"), 400, "Bad Request"),
    "non-ASCII byte in the target": (request("/café".encode()), 400, "Bad Request"),
    "empty method": (b" /echo HTTP/1.1\r\nHost: local\r\n\r\n", 400, "Bad Request"),
    "method that is not a token": (request(method=b"GE(T"), 400, "Bad Request"),
    "two spaces between the parts": (b"GET  /echo HTTP/1.1\r\nHost: local\r\n\r\n", 400, "Bad Request"),
    "no version (HTTP/0.9 form)": (b"GET /echo\r\n\r\n", 400, "Bad Request"),
    "malformed version": (request(version=b"HTTP/1"), 400, "Bad Request"),
    "lower-case version": (request(version=b"http/1.1"), 400, "Bad Request"),
    "target neither path nor URL": (request(b"echo"), 400, "Bad Request"),
    "100 KB query": (request(b"/echo?q=" + b"a" * 100_000), 414, "URI Too Long"),
    "100 KB path": (request(b"/" + b"a" * 100_000), 414, "URI Too Long"),
    "request line one byte over the quota": (
        request(b"/" + b"a" * (MAX_HEAD_BYTES - len(b"GET / HTTP/1.1") + 1)),
        414,
        "URI Too Long",
    ),
    "HTTP/2.0 request line": (request(version=b"HTTP/2.0"), 505, "HTTP Version Not Supported"),
    "HTTP/3.0 request line": (request(version=b"HTTP/3.0"), 505, "HTTP Version Not Supported"),
    "HTTP/0.9 version": (request(version=b"HTTP/0.9"), 505, "HTTP Version Not Supported"),
    "header values over the quota": (
        b"GET /echo HTTP/1.1\r\nHost: local\r\n"
        + b"".join(b"X-Pad-%d: %s\r\n" % (i, b"v" * 1000) for i in range(11))
        + b"\r\n",
        431,
        "Request Header Fields Too Large",
    ),
    "one 100 KB header line": (
        b"GET /echo HTTP/1.1\r\nHost: local\r\nX-Big: " + b"v" * 100_000 + b"\r\n\r\n",
        431,
        "Request Header Fields Too Large",
    ),
    "too many header lines": (
        b"GET /echo HTTP/1.1\r\nHost: local\r\n" + b"X-A: b\r\n" * 300 + b"\r\n",
        431,
        "Request Header Fields Too Large",
    ),
    "header line without a colon": (
        b"GET /echo HTTP/1.1\r\nHost: local\r\nNoColon\r\n\r\n",
        400,
        "Bad Request",
    ),
    "space before the colon": (b"GET /echo HTTP/1.1\r\nHost: local\r\nX-A : b\r\n\r\n", 400, "Bad Request"),
    "obsolete line folding": (
        b"GET /echo HTTP/1.1\r\nHost: local\r\nX-A: b\r\n c\r\n\r\n",
        400,
        "Bad Request",
    ),
    "NUL in a header value": (
        b"GET /echo HTTP/1.1\r\nHost: local\r\nX-A: b\x00c\r\n\r\n",
        400,
        "Bad Request",
    ),
    "HTTP/1.1 without Host": (b"GET /echo HTTP/1.1\r\nAccept: */*\r\n\r\n", 400, "Bad Request"),
    "two Host headers": (b"GET /echo HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "Bad Request"),
    "Content-Length not a number": (
        b"POST /echo HTTP/1.1\r\nHost: local\r\nContent-Length: ten\r\n\r\n",
        400,
        "Bad Request",
    ),
    "two different Content-Lengths": (
        b"POST /echo HTTP/1.1\r\nHost: local\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        400,
        "Bad Request",
    ),
    "Content-Length beside Transfer-Encoding": (
        b"POST /echo HTTP/1.1\r\nHost: local\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n0\r\n\r\n",
        400,
        "Bad Request",
    ),
    "unknown transfer coding": (
        b"POST /echo HTTP/1.1\r\nHost: local\r\nTransfer-Encoding: gzip\r\n\r\n",
        501,
        "Not Implemented",
    ),
}


@pytest.mark.parametrize(("data", "status", "message"), REFUSED.values(), ids=REFUSED.keys())
def test_a_malformed_head_is_refused_with_json_and_no_traceback(  # noqa: PLR0917 - fixtures and parameters
    front_server: FrontServer,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    data: bytes,
    status: int,
    message: str,
) -> None:
    # When the malformed request is sent
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        reply = exchange(front_server, data)
    # Then the answer is the status a real front gives, as API Gateway's JSON
    assert (reply.status, reply.json()) == (status, {"message": message})
    assert reply.headers["content-type"] == "application/json"
    assert reply.headers["connection"] == "close"
    # And nothing failed on the server's side
    assert "Traceback" not in capfd.readouterr().err
    assert "Traceback" not in caplog.text
    # And its access log line has the status, but neither the target nor the query
    (line,) = [record.getMessage() for record in caplog.records if record.name == "werkzeug"]
    assert line.endswith(f" {status}")
    assert "aaaa" not in line
    assert "q=" not in line


@pytest.mark.parametrize(
    "data",
    [b"GET /echo HTTP/1.1\r\nHost: local\r\n", b"GET /echo HTT"],
    ids=["in the headers", "in the line"],
)
def test_a_head_cut_off_by_the_client_is_a_400(front_server: FrontServer, data: bytes) -> None:
    # When the client ends its stream before the head is complete
    reply = exchange(front_server, data, then_close=True)
    # Then what it gets (if it still reads) is a 400
    assert (reply.status, reply.json()) == (400, {"message": "Bad Request"})


def test_a_refused_head_request_gets_no_body(front_server: FrontServer) -> None:
    # When a HEAD request with a malformed header is sent
    with socket.create_connection(front_server.address, timeout=10) as sock:
        sock.sendall(b"HEAD /echo HTTP/1.1\r\nHost: local\r\nX-A : b\r\n\r\n")
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    # Then the answer is the 400's head alone, its length announced but no body sent
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ")
    assert f"Content-Length: {len(json.dumps({'message': 'Bad Request'}))}".encode() in head
    assert body == b""


def test_the_server_still_serves_after_refusals(front_server: FrontServer) -> None:
    # Given a refused request
    assert exchange(front_server, request(version=b"HTTP/2.0")).status == 505
    # When a good one follows
    reply = exchange(front_server, request(b"/echo?q=1"))
    # Then it is served
    assert reply.status == 200
    assert json.loads(reply.body)["event"]["rawQueryString"] == "q=1"


ACCEPTED = {
    "request line exactly at the quota": b"GET /"
    + b"a" * (MAX_HEAD_BYTES - len(b"GET / HTTP/1.0"))
    + b" HTTP/1.0\r\n\r\n",
    "HTTP/1.0 without Host": b"GET /nope HTTP/1.0\r\n\r\n",
    "bare LF line endings": b"GET /nope HTTP/1.1\nHost: local\n\n",
    "one empty line before the request line": b"\r\n" + request(b"/nope"),
    "absolute-form target": request(b"http://local/nope"),
    "later HTTP/1 minor version": request(b"/nope", version=b"HTTP/1.2"),
}


@pytest.mark.parametrize("data", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_a_well_formed_head_reaches_the_routes(front_server: FrontServer, data: bytes) -> None:
    # When a request RFC 9112 and the quota allow is sent (to a path with no route)
    reply = exchange(front_server, data)
    # Then it got past the head parser: API Gateway's 404 for an unknown route
    assert (reply.status, reply.json()) == (404, {"message": "Not Found"})
    assert "apigw-requestid" in reply.headers


def test_header_values_exactly_at_the_quota_are_accepted(front_server: FrontServer) -> None:
    # Given a request line and header values adding up to the quota exactly
    line = b"GET /echo HTTP/1.1"
    host = b"local"
    pad = b"v" * (MAX_HEAD_BYTES - len(line) - len(host))
    # When it is sent
    reply = exchange(front_server, line + b"\r\nHost: " + host + b"\r\nX-Pad: " + pad + b"\r\n\r\n")
    # Then the handler sees the whole header
    assert reply.status == 200
    assert json.loads(reply.body)["event"]["headers"]["x-pad"] == pad.decode()
    # And one byte more is too much
    reply = exchange(front_server, line + b"\r\nHost: " + host + b"\r\nX-Pad: " + pad + b"v\r\n\r\n")
    assert reply.status == 431


def test_a_chunked_body_is_read_whole(front_server: FrontServer) -> None:
    # When a body arrives in chunks
    reply = exchange(
        front_server,
        b"POST /echo HTTP/1.1\r\nHost: local\r\nContent-Type: text/plain\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
    )
    # Then the handler gets it joined
    assert reply.status == 200
    assert json.loads(reply.body)["event"]["body"] == "hello world"
