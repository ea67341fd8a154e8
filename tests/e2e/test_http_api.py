"""The local stack over plain HTTP: routes as API Gateway answers them, AWS inspectable from outside."""

from __future__ import annotations

import boto3
import requests


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
