"""infra.local_stack.LocalStack in this process: real HTTP over loopback, real moto, the
fixture template's echoing handlers and a stand-in for the Google emulator."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from infra.local_stack.front import MAX_BODY_BYTES
from infra.local_stack.stack import LocalStack
from tests.local_stack.conftest import FIXTURE_TEMPLATE, Client, StandInGoogle


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    before = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    StandInGoogle.instances.clear()
    local = LocalStack(
        port=0, google_port=0, aws_port=0, template=FIXTURE_TEMPLATE, emulator_factory=StandInGoogle
    )
    local.start()
    yield local
    local.stop()
    after = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    assert after == before, "stop() must restore the environment"


@pytest.fixture
def client(stack: LocalStack) -> Client:
    return Client(stack.api_url)


def echoed(reply: Any) -> dict[str, Any]:
    assert reply.status == 200, reply.body
    return reply.json()


def test_request_becomes_the_payload_2_event_api_gateway_sends(client: Client, stack: LocalStack) -> None:
    # Given a request with repeated query keys, cookies, repeated headers and a binary body
    binary = bytes([0, 255, 1, 254]) * 8
    reply = client.request(
        "POST",
        "/echo?tag=a&tag=b&q=hello%20world&empty=",
        headers=[
            ("Cookie", "gc_session=abc; gc_oauth=xyz"),
            ("X-Custom", "one"),
            ("X-Custom", "two"),
            ("User-Agent", "pytest-agent"),
            ("Content-Type", "application/octet-stream"),
        ],
        body=binary,
    )
    # Then the handler got the event API Gateway builds
    body = echoed(reply)
    event = body["event"]
    assert event["version"] == "2.0"
    assert event["routeKey"] == "POST /echo"
    assert event["rawPath"] == "/echo"
    assert event["rawQueryString"] == "tag=a&tag=b&q=hello%20world&empty="
    assert event["queryStringParameters"] == {"tag": "a,b", "q": "hello world", "empty": ""}
    assert event["cookies"] == ["gc_session=abc", "gc_oauth=xyz"]
    assert "cookie" not in event["headers"]
    assert event["headers"]["x-custom"] == "one,two"
    assert event["headers"]["user-agent"] == "pytest-agent"
    assert event["headers"]["host"] == stack.api_url.removeprefix("http://")
    assert event["headers"]["x-forwarded-for"] == "127.0.0.1"
    assert all(name == name.lower() for name in event["headers"])
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == binary
    context = event["requestContext"]
    assert context["http"] == {
        "method": "POST",
        "path": "/echo",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "pytest-agent",
    }
    assert context["routeKey"] == "POST /echo"
    assert context["stage"] == "$default"
    assert context["domainName"] == stack.api_url.removeprefix("http://")
    assert isinstance(context["timeEpoch"], int)
    assert "pathParameters" not in event
    # And the response's apigw-requestid is the event's requestId
    assert reply.header("apigw-requestid") == context["requestId"]
    # And the Lambda context is the function's
    assert body["context"]["function_name"] == "EchoFunction"
    assert body["context"]["memory_limit_in_mb"] == 256
    assert 0 < body["context"]["remaining_ms"] <= 7000
    assert body["context"]["invoked_function_arn"].endswith(":function:EchoFunction")


def test_text_bodies_stay_text_and_get_requests_have_none(client: Client) -> None:
    event = echoed(
        client.request("POST", "/echo", headers=[("Content-Type", "application/json")], body=b'{"a": 1}')
    )["event"]
    assert (event["body"], event["isBase64Encoded"]) == ('{"a": 1}', False)
    event = echoed(client.request("GET", "/echo"))["event"]
    assert "body" not in event
    assert event["isBase64Encoded"] is False
    assert "cookies" not in event
    assert "queryStringParameters" not in event


def test_each_response_cookie_is_its_own_set_cookie_header(client: Client) -> None:
    reply = client.request("GET", "/echo")
    assert reply.all("Set-Cookie") == ["first=1; Path=/; HttpOnly", "second=2; Path=/; SameSite=Lax"]
    assert reply.all("x-multi") == ["one", "two"]
    assert reply.header("content-type") == "application/json"
    assert reply.header("x-function") == "EchoFunction"


def test_path_parameters_and_route_precedence(client: Client) -> None:
    # A path variable
    event = echoed(client.request("GET", "/items/it%20em"))["event"]
    assert event["routeKey"] == "GET /items/{id}"
    assert event["pathParameters"] == {"id": "it em"}
    # An exact route wins over the path variable
    assert client.request("GET", "/items/new").json() == {"routeKey": "GET /items/new", "fn": "OtherFunction"}
    # A greedy variable under ANY takes every method and the rest of the path
    event = echoed(client.request("DELETE", "/files/a/b/c.txt"))["event"]
    assert event["routeKey"] == "ANY /files/{proxy+}"
    assert event["pathParameters"] == {"proxy": "a/b/c.txt"}


def test_unknown_route_or_method_is_api_gateways_404(client: Client) -> None:
    for method, target in [("GET", "/nope"), ("DELETE", "/echo"), ("GET", "/echo/"), ("GET", "/items/a/b")]:
        reply = client.request(method, target)
        assert (reply.status, reply.json()) == (404, {"message": "Not Found"}), (method, target)
        assert reply.header("content-type") == "application/json"


def test_handler_exception_is_a_500_with_the_traceback_on_stderr(
    client: Client, capfd: pytest.CaptureFixture[str]
) -> None:
    reply = client.request("GET", "/fail")
    assert (reply.status, reply.json()) == (500, {"message": "Internal Server Error"})
    assert b"fixture failure" not in reply.body
    assert "RuntimeError: fixture failure for /fail" in capfd.readouterr().err


def test_body_over_10_mb_is_refused_with_413(client: Client) -> None:
    reply = client.request("POST", "/echo", body=b"x" * (MAX_BODY_BYTES + 1))
    assert (reply.status, reply.json()) == (413, {"message": "Request Entity Too Large"})
    # and exactly 10 MB still goes through
    event = echoed(client.request("POST", "/echo", body=b"x" * MAX_BODY_BYTES))["event"]
    assert len(base64.b64decode(event["body"])) == MAX_BODY_BYTES


def test_responses_without_status_code_and_binary_responses(client: Client) -> None:
    reply = client.request("GET", "/bare")
    assert (reply.status, reply.header("content-type")) == (200, "application/json")
    assert reply.json() == {"hello": "world", "path": "/bare"}
    reply = client.request("GET", "/binary")
    assert (reply.status, reply.body) == (201, bytes(range(256)))


def test_handlers_see_the_local_environment(client: Client, stack: LocalStack) -> None:
    (google,) = StandInGoogle.instances
    environment = echoed(client.request("GET", "/echo"))["environment"]
    assert environment["TOKENS_TABLE"] == "TokensTable"
    assert environment["PUBLIC_BASE_URL"] == stack.api_url
    assert environment["AWS_ENDPOINT_URL"] == stack.aws_url
    assert environment["OAUTHLIB_INSECURE_TRANSPORT"] == "1"
    assert environment["GOOGLE_REVOKE_URI"] == f"{google.url}/revoke"
    assert environment["GOOGLE_USERINFO_URI"] == f"{google.url}/v1/userinfo"
    assert environment["GMAIL_API_URL"] == google.url
    # The emulator knows the callback URL, and the secret holds the emulator's client config
    assert google.redirect_uris == [f"{stack.api_url}/oauth/callback"]
    assert stack.google is google
    secret = boto3.client("secretsmanager").get_secret_value(SecretId=environment["GOOGLE_CLIENT_SECRET_ID"])
    assert json.loads(secret["SecretString"]) == google.client_config([f"{stack.api_url}/oauth/callback"])


def test_events_on_the_templates_bus_arrive_in_the_tap_queue(stack: LocalStack) -> None:
    # Given the stack's event tap on the fixture template's bus
    tap = stack.event_tap
    assert tap is not None
    assert tap.buses == ("fixture-bus",)
    events, sqs = boto3.client("events"), boto3.client("sqs")
    assert tap.queue_url == sqs.get_queue_url(QueueName="local-event-tap")["QueueUrl"]
    # When events of any source are put on that bus, and one on the default bus
    detail = {"connection_id": "c-1", "external_user_id": "42"}
    events.put_events(
        Entries=[
            {
                "EventBusName": "fixture-bus",
                "Source": "gmail-connect",
                "DetailType": "gmail.message.received",
                "Detail": json.dumps(detail),
            },
            {"EventBusName": "fixture-bus", "Source": "someone.else", "DetailType": "other", "Detail": "{}"},
            {
                "EventBusName": "default",
                "Source": "gmail-connect",
                "DetailType": "not-tapped",
                "Detail": "{}",
            },
        ]
    )
    # Then the bus's two arrive in the queue, as EventBridge delivers an event to a target
    received: list[dict[str, Any]] = []
    for _ in range(10):  # bounded: receiving may return fewer messages than are there
        messages = sqs.receive_message(QueueUrl=tap.queue_url, MaxNumberOfMessages=10).get("Messages", [])
        received += [json.loads(message["Body"]) for message in messages]
        if len(received) >= 2:
            break
    by_type = {event["detail-type"]: event for event in received}
    assert set(by_type) == {"gmail.message.received", "other"}
    assert by_type["gmail.message.received"]["source"] == "gmail-connect"
    assert by_type["gmail.message.received"]["detail"] == detail
    assert by_type["other"]["source"] == "someone.else"
