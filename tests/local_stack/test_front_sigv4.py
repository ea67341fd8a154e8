"""The front's AWS_IAM authorization over real HTTP, with real SigV4 clients (botocore, aws-requests-auth,
awscurl): signed requests reach the handler with API Gateway's IAM identity; unsigned, mis-signed and
stale ones get API Gateway's 403, and ``/v1/`` is signed before it is routed."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from aws_requests_auth.aws_auth import AWSRequestsAuth
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.httpsession import URLLib3Session

from tests.local_stack.conftest import FrontServer

FORBIDDEN = {"message": "Forbidden"}
LOCAL_IAM = {
    "accessKey": "AKIDLOCAL",
    "accountId": "123456789012",
    "callerId": "AIDALOCALDEVELOPER001",
    "cognitoIdentity": None,
    "principalOrgId": None,
    "userArn": "arn:aws:iam::123456789012:user/local-developer",
    "userId": "AIDALOCALDEVELOPER001",
}
AWSCURL = Path(sys.executable).with_name("awscurl")
LOCAL_SECRET = "local-secret"


def botocore_send(
    server: FrontServer,
    method: str,
    target: str,
    *,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    secret: str = LOCAL_SECRET,
    token: str | None = None,
    service: str = "execute-api",
    region: str = "us-east-1",
    tamper: dict[str, Any] | None = None,
) -> tuple[int, Any]:
    """Sign with botocore's SigV4Auth, optionally change the prepared request after signing
    (``tamper``: ``url``, ``body`` or header values), send with botocore's own HTTP session."""
    request = AWSRequest(method=method, url=server.url + target, data=body, headers=headers or {})
    SigV4Auth(Credentials("AKIDLOCAL", secret, token), service, region).add_auth(request)
    prepared = request.prepare()
    for name, value in (tamper or {}).items():
        if name == "url":
            prepared.url = value
        elif name == "body":
            prepared.body = value
            prepared.headers["Content-Length"] = str(len(value))
        else:
            prepared.headers[name] = value
    response = URLLib3Session().send(prepared)
    return response.status_code, json.loads(response.content)


@pytest.fixture
def http(front_server: FrontServer) -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def awscurl(home: Path, *arguments: str, secret: str = LOCAL_SECRET) -> tuple[int, Any]:
    """awscurl as a user runs it (with an empty home: no AWS config of this machine applies): its
    exit status (22 for an HTTP error, as curl's ``--fail-with-body``) and the JSON body it printed."""
    completed = subprocess.run(
        [
            str(AWSCURL),
            "--fail-with-body",
            "--service",
            "execute-api",
            "--region",
            "us-east-1",
            "--access_key",
            "AKIDLOCAL",
            "--secret_key",
            secret,
            *arguments,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(home)},
    )
    return completed.returncode, json.loads(completed.stdout)


# -- accepted ------------------------------------------------------------------------------------


def test_botocore_signed_get_with_query_reaches_the_handler_with_the_iam_identity(
    front_server: FrontServer,
) -> None:
    # When a GET with a query string is signed by botocore
    status, body = botocore_send(front_server, "GET", "/v1/echo?external_user_id=user%2042&limit=5")
    # Then the handler ran, with API Gateway's event for an AWS_IAM route
    assert status == 200
    event = body["event"]
    assert event["routeKey"] == "GET /v1/echo"
    assert event["queryStringParameters"] == {"external_user_id": "user 42", "limit": "5"}
    assert event["requestContext"]["authorizer"] == {"iam": LOCAL_IAM}
    assert event["headers"]["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDLOCAL/")


def test_botocore_signed_post_with_session_token(front_server: FrontServer) -> None:
    status, body = botocore_send(
        front_server,
        "POST",
        "/v1/echo",
        body=b'{"external_user_id": "42"}',
        headers={"Content-Type": "application/json"},
        token="temporary-session-token",
    )
    assert status == 200
    assert body["event"]["body"] == '{"external_user_id": "42"}'
    assert body["event"]["requestContext"]["authorizer"] == {"iam": LOCAL_IAM}


def test_aws_requests_auth_signed_get_and_post(front_server: FrontServer, http: requests.Session) -> None:
    # Given aws-requests-auth, set up as its README says
    host, port = front_server.address
    auth = AWSRequestsAuth(
        aws_access_key="AKIDLOCAL",
        aws_secret_access_key="local-secret",
        aws_host=f"{host}:{port}",
        aws_region="us-east-1",
        aws_service="execute-api",
    )
    # When it signs a GET with a query and a POST with a JSON body
    got = http.get(
        f"{front_server.url}/v1/echo", params={"limit": "5", "cursor": "abc"}, auth=auth, timeout=10
    )
    posted = http.post(f"{front_server.url}/v1/echo", json={"external_user_id": "42"}, auth=auth, timeout=10)
    # Then both reach the handler
    assert got.status_code == 200, got.text
    assert got.json()["event"]["queryStringParameters"] == {"limit": "5", "cursor": "abc"}
    assert posted.status_code == 200, posted.text
    assert json.loads(posted.json()["event"]["body"]) == {"external_user_id": "42"}
    assert posted.json()["event"]["requestContext"]["authorizer"] == {"iam": LOCAL_IAM}


def test_awscurl_signed_get_and_post(front_server: FrontServer, tmp_path: Path) -> None:
    # When awscurl (a separate process) signs a GET and a POST
    get_status, got = awscurl(tmp_path, f"{front_server.url}/v1/echo?limit=5")
    post_status, posted = awscurl(
        tmp_path,
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "-d",
        '{"a": 1}',
        f"{front_server.url}/v1/echo",
    )
    # Then both reach the handler
    assert get_status == 0, got
    assert got["event"]["rawQueryString"] == "limit=5"
    assert post_status == 0, posted
    assert json.loads(posted["event"]["body"]) == {"a": 1}
    # And a wrong secret is refused the same way for it
    assert awscurl(tmp_path, f"{front_server.url}/v1/echo", secret="wrong") == (22, FORBIDDEN)


def test_an_iam_route_outside_v1_is_signed_too_and_open_routes_stay_open(
    front_server: FrontServer, http: requests.Session
) -> None:
    # An AWS_IAM route outside /v1: unsigned is refused, signed is served
    unsigned = http.get(f"{front_server.url}/private/echo", timeout=10)
    assert (unsigned.status_code, unsigned.json()) == (403, FORBIDDEN)
    status, body = botocore_send(front_server, "GET", "/private/echo")
    assert status == 200
    assert body["event"]["requestContext"]["authorizer"] == {"iam": LOCAL_IAM}
    # An open route: no signature needed, and no authorizer in its event
    event = http.get(f"{front_server.url}/echo", timeout=10).json()["event"]
    assert "authorizer" not in event["requestContext"]


# -- refused ---------------------------------------------------------------------------------------


def test_unsigned_requests_under_v1_are_refused_before_routing(
    front_server: FrontServer, http: requests.Session
) -> None:
    for method, target in [
        ("GET", "/v1/echo"),
        ("POST", "/v1/echo"),
        ("GET", "/v1/open"),  # says Authorizer NONE, but /v1 is signed regardless
        ("GET", "/v1/no-such-route"),
        ("DELETE", "/v1/connections/abc"),
        ("GET", "/v1%2Fecho"),  # the same path, encoded
    ]:
        response = http.request(method, f"{front_server.url}{target}", timeout=10)
        assert (response.status_code, response.json()) == (403, FORBIDDEN), (method, target)
        assert response.headers["content-type"] == "application/json"
        assert response.headers["apigw-requestid"]
    # And a signed request to an unknown /v1 path gets the 404 routing gives
    assert botocore_send(front_server, "GET", "/v1/no-such-route") == (404, {"message": "Not Found"})


REFUSED = {
    "wrong secret": {"secret": "not-the-secret"},
    "wrong service": {"service": "execute-apis"},
    "wrong region": {"region": "eu-west-1"},
    "tampered body": {"tamper": {"body": b'{"a": 2}'}},
    "tampered query": {"tamper": {"url": "{url}/v1/echo?a=2"}},
    "tampered signed header": {"tamper": {"Content-Type": "text/plain"}},
    "tampered session token": {"token": "token", "tamper": {"X-Amz-Security-Token": "other"}},
}


@pytest.mark.parametrize("case", REFUSED.values(), ids=REFUSED.keys())
def test_badly_signed_requests_are_refused(
    front_server: FrontServer, capfd: pytest.CaptureFixture[str], case: dict[str, Any]
) -> None:
    # Given a POST signed wrongly, or changed after signing
    tamper = {
        name: value.format(url=front_server.url) if isinstance(value, str) and name == "url" else value
        for name, value in case.get("tamper", {}).items()
    }
    # When it is sent
    status, body = botocore_send(
        front_server,
        "POST",
        "/v1/echo?a=1",
        body=b'{"a": 1}',
        headers={"Content-Type": "application/json"},
        **{**case, "tamper": tamper},
    )
    # Then it gets API Gateway's 403, and the reason goes to the local log only
    assert (status, body) == (403, FORBIDDEN)
    err = capfd.readouterr().err
    assert "local stack: 403 for POST /v1/echo: " in err
    assert "local-secret" not in err


@pytest.mark.parametrize("minutes", [6, -6])
def test_a_signature_more_than_five_minutes_off_is_refused(front_server: FrontServer, minutes: int) -> None:
    # Given the front's clock 6 minutes away from the signer's
    front_server.clock.offset = minutes * 60
    try:
        # Then a fresh signature is refused
        assert botocore_send(front_server, "GET", "/v1/echo") == (403, FORBIDDEN)
        # And at 4 minutes it is still fine
        front_server.clock.offset = 4 * 60 * (1 if minutes > 0 else -1)
        assert botocore_send(front_server, "GET", "/v1/echo")[0] == 200
    finally:
        front_server.clock.offset = 0
