"""The HTTP front of the local stack: a WSGI app that plays API Gateway's HTTP API.

For each request it finds the template's route (``cfn.http_routes``), builds the payload 2.0
event API Gateway would send, calls that function's handler in this process with a Lambda
context, and writes the response back the way API Gateway would. Like API Gateway:

- a request under ``/v1/``, or to a route whose event says ``Auth: {Authorizer: AWS_IAM}``, must be
  signed with SigV4 (``sigv4``: service ``execute-api``, region ``us-east-1``, the local key pair);
  else 403 ``{"message":"Forbidden"}``, which is what an HTTP API answers for a missing, invalid or
  expired signature alike. ``/v1/`` is checked before routing, so an unsigned request to an
  unknown ``/v1`` path is a 403 too, while a signed one gets the 404. A signed request's event
  carries ``requestContext.authorizer.iam`` (``apigw.iam_authorizer``). Why a signature was refused
  goes to stderr, never to the client;
- no matching route (path or method): 404 ``{"message":"Not Found"}``;
- a request body over 10 MB: 413 ``{"message":"Request Entity Too Large"}``;
- a handler that raises or returns a malformed response: 500
  ``{"message":"Internal Server Error"}`` (the traceback goes to stderr, not to the client);
- every response carries an ``apigw-requestid`` header equal to the event's ``requestId``.

Invocations run one at a time (a lock): a Lambda container handles one event at a time, and
the handlers share process-wide state here (Powertools' resolver, logger keys, metrics) that
concurrent threads would mix up.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from werkzeug.wsgi import get_input_stream

from infra import cfn
from infra.local_stack import apigw, sigv4
from infra.local_stack.handlers import REPO_ROOT, load_handler
from infra.local_stack.request_handler import RAW_HEADERS_KEY

__all__ = ["IAM_AUTHORIZER", "MAX_BODY_BYTES", "SIGNED_PREFIX", "Front", "build_app"]

IAM_AUTHORIZER = "AWS_IAM"
SIGNED_PREFIX = "/v1/"  # the application API: SigV4 only, whatever its routes say

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload quota (10 MB)
_DRAIN_LIMIT = 64 * 1024 * 1024  # read (and drop) at most this much of an oversized body
_CHUNK = 64 * 1024
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
}

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


@dataclass(frozen=True)
class _CompiledRoute:
    route: cfn.Route
    pattern: re.Pattern[str] | None  # None: the $default route
    parameters: tuple[str, ...]
    memory_mb: int
    timeout_seconds: float

    def precedence(self) -> tuple[int, int, int, int]:
        """API Gateway picks the most specific route: exact paths before path variables,
        those before greedy ``{proxy+}``, a method before ``ANY``, ``$default`` last."""
        greedy = int(self.route.path.endswith("+}"))
        return (
            int(self.pattern is None),
            greedy,
            len(self.parameters),
            int(self.route.method == "ANY"),
        )


def _compile(path: str) -> tuple[re.Pattern[str], tuple[str, ...]]:
    regex, names, position = "", [], 0
    for match in re.finditer(r"\{([^}+]+)(\+?)\}", path):
        regex += re.escape(path[position : match.start()])
        name, greedy = match.group(1), match.group(2)
        names.append(name)
        regex += f"(?P<p{len(names) - 1}>.+)" if greedy else f"(?P<p{len(names) - 1}>[^/]+)"
        position = match.end()
    regex += re.escape(path[position:])
    return re.compile(f"^{regex}$"), tuple(names)


def _json_response(status: int, message: str) -> tuple[int, list[tuple[str, str]], bytes]:
    return status, [("content-type", "application/json")], json.dumps({"message": message}).encode()


class Front:
    """WSGI application serving the template's HTTP API routes with in-process handlers."""

    def __init__(
        self,
        template: Mapping[str, Any],
        *,
        root: Path = REPO_ROOT,
        preload: bool = True,
        credentials: sigv4.Credentials | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``credentials``: the key pair signed requests must use (default: ``sigv4.local_credentials``
        of the environment); ``clock``: seconds since the epoch, for the signature's 5 minutes."""
        self.root = Path(root)
        self.credentials = credentials or sigv4.local_credentials(os.environ)
        self.clock = clock
        globals_ = (template.get("Globals") or {}).get("Function") or {}
        resources = template.get("Resources") or {}
        compiled = []
        for route in cfn.http_routes(template):
            properties = resources[route.function_id].get("Properties") or {}
            pattern, parameters = (None, ()) if route.path == "$default" else _compile(route.path)
            compiled.append(
                _CompiledRoute(
                    route=route,
                    pattern=pattern,
                    parameters=parameters,
                    memory_mb=int(properties.get("MemorySize", globals_.get("MemorySize", 128))),
                    timeout_seconds=float(properties.get("Timeout", globals_.get("Timeout", 3))),
                )
            )
        self.routes = sorted(compiled, key=_CompiledRoute.precedence)
        # Held around every handler invocation; the local console's routes (``local_console``)
        # invoke the sync worker under it too.
        self.invoke_lock = threading.Lock()
        if preload:
            # Import every handler now: an import error shows at start, not at first request.
            for item in self.routes:
                load_handler(item.route.code_uri, item.route.handler, self.root)

    def match(self, method: str, path: str) -> tuple[_CompiledRoute, dict[str, str]] | None:
        """The route API Gateway would pick for ``method path`` and its path parameters."""
        for item in self.routes:
            if item.route.method not in {"ANY", method}:
                continue
            if item.pattern is None:
                return item, {}
            found = item.pattern.match(path)
            if found:
                values = {name: found.group(f"p{i}") for i, name in enumerate(item.parameters)}
                return item, values
        return None

    # -- WSGI ---------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        status, headers, body, request_id = self.handle(environ)
        kept = [(name, value) for name, value in headers if name.lower() not in _HOP_BY_HOP]
        kept.append(("apigw-requestid", request_id))
        kept.append(("Content-Length", str(len(body))))
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Unknown"
        start_response(f"{status} {phrase}", kept)
        return [body]

    def handle(self, environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes, str]:
        """Serve one request: ``(status, headers, body, apigw request id)``."""
        method = environ["REQUEST_METHOD"].upper()
        raw_uri = environ.get("RAW_URI") or environ.get("REQUEST_URI") or ""
        if raw_uri.startswith(("http://", "https://")):
            split = urlsplit(raw_uri)
            raw_uri = split.path + (f"?{split.query}" if split.query else "")
        raw_path, _, _ = raw_uri.partition("?")
        raw_path = raw_path or (environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")) or "/"
        query = environ.get("QUERY_STRING", "")

        body, too_large = self._read_body(environ)
        request_id = str(uuid.uuid4())  # API Gateway's id for requests that reach no function
        if too_large:
            return (*_json_response(413, "Request Entity Too Large"), request_id)

        path = unquote(raw_path)
        found = self.match(method, path)
        authorizer = None
        iam_route = found is not None and found[0].route.authorizer == IAM_AUTHORIZER
        if path.startswith(SIGNED_PREFIX) or iam_route:
            signed = sigv4.SignedRequest(method, raw_path, query, _raw_headers(environ), body)
            try:
                access_key_id = sigv4.verify(
                    signed, self.credentials, now=datetime.fromtimestamp(self.clock(), UTC)
                )
            except sigv4.SignatureRejected as rejected:
                print(f"local stack: 403 for {method} {raw_path}: {rejected}", file=sys.stderr)
                return (*_json_response(403, "Forbidden"), request_id)
            authorizer = apigw.iam_authorizer(access_key_id)
        if found is None:
            return (*_json_response(404, "Not Found"), request_id)
        item, path_parameters = found

        event = apigw.http_api_event(
            method,
            raw_path,
            query=query,
            headers=list(_request_headers(environ)),
            body=body,
            route_key=item.route.route_key,
            source_ip=environ.get("REMOTE_ADDR", "127.0.0.1"),
            domain=environ.get("HTTP_HOST") or f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}",
            path_parameters=path_parameters,
            protocol=environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
            authorizer=authorizer,
        )
        request_id = event["requestContext"]["requestId"]
        try:
            handler = load_handler(item.route.code_uri, item.route.handler, self.root)
            context = apigw.lambda_context(
                item.route.function_id,
                memory_limit_in_mb=item.memory_mb,
                timeout_seconds=item.timeout_seconds,
            )
            with self.invoke_lock:
                result = handler(event, context)
            # Lambda serializes the return value to JSON; what cannot be serialized fails.
            result = json.loads(json.dumps(result))
            return (*apigw.to_http_response(result), request_id)
        except Exception:
            print(
                f"local stack: {item.route.function_id} failed for {item.route.route_key}:",
                file=sys.stderr,
            )
            traceback.print_exc(file=sys.stderr)
            return (*_json_response(500, "Internal Server Error"), request_id)

    @staticmethod
    def _read_body(environ: dict[str, Any]) -> tuple[bytes, bool]:
        declared = environ.get("CONTENT_LENGTH")
        if declared and declared.isdigit() and int(declared) > _DRAIN_LIMIT:
            return b"", True  # not worth reading: refuse outright
        stream = get_input_stream(environ)
        chunks, total = [], 0
        while True:
            chunk = stream.read(_CHUNK)
            if not chunk:
                break
            total += len(chunk)
            if total <= MAX_BODY_BYTES:
                chunks.append(chunk)
            elif total > _DRAIN_LIMIT:
                break
        if total > MAX_BODY_BYTES:
            return b"", True
        return b"".join(chunks), False


def _request_headers(environ: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    """The request's headers as ``(name, value)`` pairs. werkzeug's server has already joined
    a repeated header with commas, as API Gateway does; repeated ``Cookie`` headers are split
    apart again (a cookie value cannot contain a comma, RFC 6265 4.1.1)."""
    for key, value in environ.items():
        if key == "HTTP_COOKIE":
            yield from (("cookie", part) for part in value.split(",") if part.strip())
        elif key.startswith("HTTP_"):
            yield key[5:].replace("_", "-").lower(), value
        elif key in {"CONTENT_TYPE", "CONTENT_LENGTH"} and value:
            yield key.replace("_", "-").lower(), value


def _raw_headers(environ: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The header fields as received (``request_handler`` keeps them), else as the environ has them."""
    received = environ.get(RAW_HEADERS_KEY)
    return list(received) if received is not None else list(_request_headers(environ))


def build_app(template: Mapping[str, Any], *, root: Path = REPO_ROOT) -> Front:
    """The front for ``template``; handler code is found at ``root / CodeUri``."""
    return Front(template, root=root)
