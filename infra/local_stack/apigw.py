"""API Gateway HTTP API (payload format 2.0) in both directions, plus a Lambda context.

- ``http_api_event``: the event API Gateway hands a Lambda integration for a request.
- ``lambda_context``: the context object the Lambda runtime passes alongside it.
- ``to_http_response``: what API Gateway sends the client for a function's return value.

Reference: "Create AWS Lambda proxy integrations for HTTP APIs in API Gateway" (AWS docs,
payload format 2.0): header names are lower-cased, repeated headers and repeated query keys
are joined with commas, the ``Cookie`` header moves to ``cookies``, a non-text body arrives
base64-encoded, and each response cookie becomes its own ``Set-Cookie`` header.
"""

from __future__ import annotations

import base64
import json
import os
import time
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

__all__ = [
    "ACCOUNT_ID",
    "API_ID",
    "LOCAL_IAM_USER_ARN",
    "LOCAL_IAM_USER_ID",
    "LambdaContext",
    "http_api_event",
    "iam_authorizer",
    "is_text_content_type",
    "lambda_context",
    "to_http_response",
]

ACCOUNT_ID = "123456789012"
API_ID = "local"
# The caller of every SigV4-signed request locally: one IAM user of the local account. An IAM user
# id is "AIDA" and 17 more characters; for an IAM user API Gateway's callerId is that same id.
LOCAL_IAM_USER_ID = "AIDALOCALDEVELOPER001"
LOCAL_IAM_USER_ARN = f"arn:aws:iam::{ACCOUNT_ID}:user/local-developer"

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_TEXT_TYPES = {
    "application/json",
    "application/javascript",
    "application/ecmascript",
    "application/xml",
    "application/xhtml+xml",
    "application/graphql",
}


def is_text_content_type(content_type: str | None) -> bool:
    """Whether API Gateway passes a body of this type as text (else: base64)."""
    if not content_type:
        return False
    media_type = content_type.split(";", 1)[0].strip().lower()
    return (
        media_type.startswith("text/") or media_type in _TEXT_TYPES or media_type.endswith(("+json", "+xml"))
    )


def _header_pairs(headers: Mapping[str, str] | Iterable[tuple[str, str]] | None) -> list[tuple[str, str]]:
    if headers is None:
        return []
    items = headers.items() if hasattr(headers, "items") else headers
    # werkzeug's ``Headers.items()`` yields a repeated header once per value.
    return [(str(name), str(value)) for name, value in items]


def _split_headers(
    headers: Mapping[str, str] | Iterable[tuple[str, str]] | None, cookies: list[str] | None
) -> tuple[dict[str, list[str]], list[str]]:
    """Lower-cased header values by name, and the cookies (``Cookie`` headers split at ``;``)."""
    collected: dict[str, list[str]] = {}
    all_cookies = list(cookies or [])
    for name, value in _header_pairs(headers):
        lower = name.lower()
        if lower == "cookie":
            all_cookies.extend(part.strip() for part in value.split(";") if part.strip())
        else:
            collected.setdefault(lower, []).append(value)
    return collected, all_cookies


def _request_time(now: datetime) -> str:
    # "12/Mar/2020:19:03:58 +0000", with English month names whatever the locale.
    return f"{now:%d}/{_MONTHS[now.month - 1]}/{now:%Y:%H:%M:%S} +0000"


def http_api_event(
    method: str,
    path: str,
    *,
    query: str = "",
    headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    cookies: list[str] | None = None,
    body: bytes | str | None = None,
    route_key: str | None = None,
    source_ip: str = "127.0.0.1",
    domain: str = "127.0.0.1:3000",
    path_parameters: Mapping[str, str] | None = None,
    protocol: str = "HTTP/1.1",
    authorizer: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The payload 2.0 event API Gateway builds for ``method path?query``.

    ``headers`` may be a mapping or a list of ``(name, value)`` pairs (repeated names are
    comma-joined). A ``Cookie`` header is split into ``cookies`` (after any ``cookies``
    given) and does not appear in ``headers``. ``route_key`` defaults to ``"$default"``.
    ``authorizer`` is ``requestContext.authorizer`` (``iam_authorizer`` for an AWS_IAM route).
    """
    method = method.upper()
    collected, all_cookies = _split_headers(headers, cookies)

    body_bytes = body.encode("utf-8") if isinstance(body, str) else body
    host, _, port = domain.partition(":")
    forwarded_for = collected.pop("x-forwarded-for", [])
    defaults = {
        "host": domain,
        "x-forwarded-proto": "http",
        "x-forwarded-port": port or "80",
        "x-amzn-trace-id": f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}",
    }
    if body_bytes:
        defaults["content-length"] = str(len(body_bytes))
    for name, value in defaults.items():
        collected.setdefault(name, [value])
    # API Gateway appends the caller's address to any X-Forwarded-For it received.
    collected["x-forwarded-for"] = [*forwarded_for, source_ip]
    event_headers = {name: ",".join(values) for name, values in collected.items()}

    query_parameters: dict[str, list[str]] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        query_parameters.setdefault(key, []).append(value)

    now = datetime.now(UTC)
    route_key = route_key or "$default"
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": query,
    }
    if all_cookies:
        event["cookies"] = all_cookies
    event["headers"] = event_headers
    if query_parameters:
        event["queryStringParameters"] = {k: ",".join(v) for k, v in query_parameters.items()}
    event["requestContext"] = {
        "accountId": ACCOUNT_ID,
        "apiId": API_ID,
        **({"authorizer": dict(authorizer)} if authorizer is not None else {}),
        "domainName": domain,
        "domainPrefix": host.split(".", 1)[0],
        "http": {
            "method": method,
            "path": path,
            "protocol": protocol,
            "sourceIp": source_ip,
            "userAgent": event_headers.get("user-agent", ""),
        },
        "requestId": str(uuid.uuid4()),
        "routeKey": route_key,
        "stage": "$default",
        "time": _request_time(now),
        "timeEpoch": int(now.timestamp() * 1000),
    }
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    if body_bytes:
        event["body"], event["isBase64Encoded"] = _event_body(body_bytes, event_headers.get("content-type"))
    else:
        event["isBase64Encoded"] = False
    return event


def iam_authorizer(access_key_id: str) -> dict[str, Any]:
    """``requestContext.authorizer`` of an AWS_IAM route, for a request signed with
    ``access_key_id``: the local IAM user as API Gateway describes an IAM user caller."""
    return {
        "iam": {
            "accessKey": access_key_id,
            "accountId": ACCOUNT_ID,
            "callerId": LOCAL_IAM_USER_ID,
            "cognitoIdentity": None,
            "principalOrgId": None,
            "userArn": LOCAL_IAM_USER_ARN,
            "userId": LOCAL_IAM_USER_ID,
        }
    }


def _event_body(body: bytes, content_type: str | None) -> tuple[str, bool]:
    """``(body, isBase64Encoded)``: text types as text, anything else base64."""
    if is_text_content_type(content_type):
        try:
            return body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(body).decode("ascii"), True


class LambdaContext:
    """The attributes of the Lambda runtime's context object that Powertools and handlers read."""

    def __init__(
        self,
        function_name: str,
        *,
        memory_limit_in_mb: int = 128,
        timeout_seconds: float = 30.0,
        region: str | None = None,
        account_id: str = ACCOUNT_ID,
    ) -> None:
        region = region or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{account_id}:function:{function_name}"
        self.memory_limit_in_mb = memory_limit_in_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
        self.identity = None
        self.client_context = None
        self.tenant_id = None
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))

    def __repr__(self) -> str:
        return f"LambdaContext({self.function_name!r}, aws_request_id={self.aws_request_id!r})"


def lambda_context(
    function_name: str, *, memory_limit_in_mb: int = 128, timeout_seconds: float = 30.0
) -> LambdaContext:
    """A fresh context for one invocation of ``function_name`` (its deadline starts now)."""
    return LambdaContext(
        function_name, memory_limit_in_mb=memory_limit_in_mb, timeout_seconds=timeout_seconds
    )


def _header_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def to_http_response(result: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """A function's payload 2.0 return value -> ``(status, headers, body)`` as API Gateway sends it.

    A value without ``statusCode`` (any JSON value) is, as API Gateway assumes, a 200 with
    ``content-type: application/json`` and the value serialized as the body. A malformed
    response (non-integer status, non-string body, undecodable base64) raises ``ValueError``;
    API Gateway answers such a response with 500.
    """
    if not isinstance(result, dict) or "statusCode" not in result:
        return 200, [("content-type", "application/json")], json.dumps(result).encode("utf-8")

    status = result["statusCode"]
    if isinstance(status, bool) or not isinstance(status, int | str) or not str(status).isdigit():
        raise ValueError(f"malformed Lambda proxy response: statusCode {status!r}")
    status = int(status)
    if not 100 <= status <= 599:
        raise ValueError(f"malformed Lambda proxy response: statusCode {status}")

    headers: list[tuple[str, str]] = []
    for name, value in (result.get("headers") or {}).items():
        headers.append((str(name), _header_value(value)))
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers.extend((str(name), _header_value(value)) for value in values)
    headers.extend(("Set-Cookie", str(cookie)) for cookie in result.get("cookies") or [])

    body = result.get("body")
    if body is None:
        payload = b""
    elif not isinstance(body, str):
        raise ValueError(f"malformed Lambda proxy response: body is {type(body).__name__}, not a string")
    elif result.get("isBase64Encoded"):
        try:
            payload = base64.b64decode(body, validate=True)
        except ValueError as error:
            raise ValueError("malformed Lambda proxy response: body is not valid base64") from error
    else:
        payload = body.encode("utf-8")
    return status, headers, payload
