"""The local stack over plain HTTP: routes as API Gateway answers them, AWS inspectable from outside."""

from __future__ import annotations

import json
import time

import boto3
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.httpsession import URLLib3Session


def test_unknown_route_is_404_json(local_stack) -> None:
    response = requests.get(f"{local_stack.api}/nope", timeout=5)
    assert response.status_code == 404
    assert response.json() == {"message": "Not Found"}


def test_me_without_session_is_401_json(local_stack) -> None:
    response = requests.get(f"{local_stack.api}/me", timeout=5)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthenticated"


def test_authorize_redirects_to_the_emulator_with_a_binding_cookie(local_stack) -> None:
    response = requests.get(f"{local_stack.api}/oauth/authorize", allow_redirects=False, timeout=5)
    assert response.status_code == 302
    assert response.headers["Location"].startswith(f"{local_stack.google}/o/oauth2/v2/auth?")
    assert "gc_oauth" in response.cookies


def test_embedded_aws_is_inspectable_with_the_aws_sdk(local_stack) -> None:
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=local_stack.aws,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    tables = set(dynamodb.list_tables()["TableNames"])
    assert {"TokensTable", "StatesTable", "SessionsTable"} <= tables
    ttl = dynamodb.describe_time_to_live(TableName="StatesTable")["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}


def test_demo_account_has_mail(local_stack) -> None:
    account = requests.get(f"{local_stack.google}/_emulator/accounts/demo@example.com", timeout=5)
    assert account.status_code == 200
    assert account.json()["email"] == "demo@example.com"


def test_v1_is_refused_without_sigv4_and_served_with_the_local_key_pair(local_stack) -> None:
    # Unsigned, even a path with no route yet: API Gateway's answer for an AWS_IAM route
    unsigned = requests.get(f"{local_stack.api}/v1/connections", timeout=5)
    assert unsigned.status_code == 403
    assert unsigned.json() == {"message": "Forbidden"}
    # Signed with the key pair the banner prints (and another region): only the former passes
    assert _signed_get(f"{local_stack.api}/v1/connections", region="us-east-1") != 403
    assert _signed_get(f"{local_stack.api}/v1/connections", region="eu-west-1") == 403


def _signed_get(url: str, *, region: str) -> int:
    request = AWSRequest(method="GET", url=url)
    SigV4Auth(Credentials("AKIDLOCAL", "local-secret"), "execute-api", region).add_auth(request)
    return URLLib3Session().send(request.prepare()).status_code


def test_events_on_the_mail_bus_are_copied_to_the_tap_queue(local_stack) -> None:
    session = boto3.session.Session(
        region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    events = session.client("events", endpoint_url=local_stack.aws)
    sqs = session.client("sqs", endpoint_url=local_stack.aws)
    # Given the product's mail bus and the tap queue the banner names
    queue_url = sqs.get_queue_url(QueueName="local-event-tap")["QueueUrl"]
    # When an event is put on the bus, as the sync worker publishes
    detail = {"user_id": "100000000000000000001", "message_id": "18c2f0a1b2c3d4e5"}
    events.put_events(
        Entries=[
            {
                "EventBusName": "gmail-connect-dev-mail",
                "Source": "gmail-connect",
                "DetailType": "gmail.message.received",
                "Detail": json.dumps(detail),
            }
        ]
    )
    # Then it can be read from the queue, among the events the other tests' connections published
    event = _tapped(sqs, queue_url, lambda event: event["detail"] == detail)
    assert (event["source"], event["detail-type"], event["detail"]) == (
        "gmail-connect",
        "gmail.message.received",
        detail,
    )


def _tapped(sqs, queue_url: str, wanted, deadline_s: float = 15) -> dict:
    """The first event in the shared tap that `wanted` accepts; every event read is deleted."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=2).get(
            "Messages", []
        )
        for message in messages:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        for event in (json.loads(message["Body"]) for message in messages):
            if wanted(event):
                return event
    raise AssertionError(f"no such event in the tap within {deadline_s} s")
