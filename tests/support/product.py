"""Helpers to run the product's handlers in tests exactly as Lambda would."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gmail_connect.core import aws
from gmail_connect.core.config import get_settings
from gmail_connect.oauth import client_config
from gmail_connect.store.token_cache import access_tokens
from infra.local_stack.apigw import http_api_event, lambda_context
from infra.local_stack.handlers import load_handler
from tests.support.openapi import check_response

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"


def reset_caches() -> None:
    """Forget everything a warm container would keep, as a fresh container would."""
    get_settings.cache_clear()
    aws.reset_clients()
    client_config.clear_cache()
    access_tokens.clear()


def invoke(
    function: str,
    method: str,
    path: str,
    *,
    query: str = "",
    headers: dict[str, str] | None = None,
    cookies: list[str] | None = None,
    body: str | None = None,
) -> dict[str, Any]:
    """Call `functions/<function>/app.handler` with an HTTP API event built like API Gateway's.

    The response must be one the OpenAPI document describes for the route (`check_response`).
    """
    handler = load_handler(f"functions/{function}", "app.handler", root=ROOT)
    event = http_api_event(
        method, path, query=query, headers=headers, cookies=cookies, body=body, route_key=f"{method} {path}"
    )
    response = handler(event, lambda_context(function))
    check_response(method, path, response)
    return response


def header(response: dict[str, Any], name: str) -> str | None:
    for key, value in (response.get("headers") or {}).items():
        if key.lower() == name.lower():
            return value
    return None


def set_cookies(response: dict[str, Any]) -> dict[str, str]:
    """name -> full Set-Cookie string, from a payload 2.0 response."""
    return {cookie.split("=", 1)[0]: cookie for cookie in response.get("cookies") or []}


def cookie_value(set_cookie: str) -> str:
    return set_cookie.split(";", 1)[0].split("=", 1)[1]


def json_body(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])


def scheduled_rounds_only(environment: dict[str, str]) -> None:
    """Leave the sync queue to the scheduled rounds: no sync of a new connection at once.

    Tests of what one scheduled round does disable the template's ConnectedToSyncRule, whose
    requests would otherwise sit in the queue beside the round's (tests/integration/test_push.py
    and the e2e tests cover that rule).
    """
    import boto3

    events = boto3.client("events")
    bus = environment["MAIL_EVENT_BUS_NAME"]
    events.remove_targets(Rule="ConnectedToSyncRule", EventBusName=bus, Ids=["sync-queue"], Force=True)
