"""A fresh deploy's secret holds a placeholder: a clear 503 until the real client is uploaded.

The secret is read through a cache (`GOOGLE_CLIENT_SECRET_MAX_AGE`, 300 s); an unusable value
must never be kept in it, or the upload would only take effect minutes later.
"""

from __future__ import annotations

import json

import boto3
import pytest

from gmail_connect.core.config import get_settings
from infra.cfn import load_template
from tests.conftest import CLIENT_CONFIG
from tests.support.product import TEMPLATE, header, invoke, json_body

ORIGIN = "http://127.0.0.1:3000"


def deployed_placeholder() -> str:
    """The value CloudFormation creates from the template's GenerateSecretString."""
    secret = load_template(TEMPLATE)["Resources"]["GoogleClientSecret"]
    generate = secret["Properties"]["GenerateSecretString"]
    value = json.loads(generate["SecretStringTemplate"])
    value[generate["GenerateStringKey"]] = "Generated0123456789abcdefGenerated"
    return json.dumps(value)


def put_secret(environment: dict[str, str], value: str) -> None:
    boto3.client("secretsmanager").put_secret_value(
        SecretId=environment["GOOGLE_CLIENT_SECRET_ID"], SecretString=value
    )


def authorize() -> dict:
    return invoke("authorize", "GET", "/oauth/authorize")


@pytest.mark.parametrize(
    "value",
    [deployed_placeholder(), "not json at all", json.dumps({"web": {"client_id": "only-an-id"}})],
    ids=["placeholder", "not-json", "incomplete"],
)
def test_an_unusable_secret_answers_a_503_page_that_says_what_to_do(aws: dict[str, str], value: str) -> None:
    # Given the secret as a fresh deploy leaves it (or filled with something unusable)
    put_secret(aws, value)

    # When a browser starts a sign-in
    response = authorize()

    # Then it gets a 503 page naming the fix, not a bare 500 or a stack trace
    assert response["statusCode"] == 503
    assert header(response, "content-type") == "text/html; charset=utf-8"
    assert "not set up yet" in response["body"]
    assert "infra/deploy/put_client_secret.sh" in response["body"]
    assert "only-an-id" not in response["body"]
    assert "Generated0123456789" not in response["body"]


def test_an_api_route_answers_503_json_with_a_stable_code(aws: dict[str, str]) -> None:
    # Given the placeholder secret
    put_secret(aws, deployed_placeholder())

    # When an app calls an API route that needs the client (disconnect checks the origin with it)
    response = invoke("disconnect", "POST", "/oauth/disconnect", headers={"origin": ORIGIN})

    # Then it gets JSON it can act on
    assert response["statusCode"] == 503
    body = json_body(response)
    assert body["error"] == "client_not_configured"
    assert "infra/deploy/put_client_secret.sh" in body["message"]


def test_the_uploaded_client_works_on_the_very_next_request(aws: dict[str, str]) -> None:
    # Given a warm container that has already answered 503 for the placeholder, with the usual cache age
    assert get_settings().secret_max_age_seconds == 300
    put_secret(aws, deployed_placeholder())
    assert authorize()["statusCode"] == 503

    # When the real client_secret.json is uploaded
    put_secret(aws, json.dumps(CLIENT_CONFIG))

    # Then the next request uses it, without waiting out the cache
    response = authorize()
    assert response["statusCode"] == 302
    assert header(response, "location").startswith(CLIENT_CONFIG["web"]["auth_uri"] + "?")


def test_a_usable_client_stays_cached(aws: dict[str, str]) -> None:
    # Given a warm container that has read the valid client once
    assert authorize()["statusCode"] == 302

    # When the secret changes to something unusable within the cache age
    put_secret(aws, deployed_placeholder())

    # Then the cached client keeps serving (the cache still spares Secrets Manager calls)
    assert authorize()["statusCode"] == 302
