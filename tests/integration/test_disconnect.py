"""POST /oauth/disconnect: revoke at Google (RFC 7009), delete the tokens and the session, 204.

The row goes whatever Google says; cross-site requests are refused before anything is read.
Also here: the log scan over a whole life (connect, list, refresh, disconnect) for planted secrets.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from gmail_connect.core.config import get_settings
from gmail_connect.store import token_crypto
from gmail_connect.store.token_cache import access_tokens
from tests.support.counting import captured_logs
from tests.support.flow import connect, deliver, new_account, session_of
from tests.support.product import header, invoke, json_body, set_cookies

ORIGIN = "http://127.0.0.1:3000"  # the stack's PUBLIC_BASE_URL
REVOKE = "POST /revoke"


@pytest.fixture(autouse=True)
def _cold_token_cache() -> Iterator[None]:
    access_tokens.clear()
    yield
    access_tokens.clear()


def disconnect(session: str | None = None, *, origin: str | None = ORIGIN, bearer: str | None = None) -> dict:
    headers = {}
    if origin is not None:
        headers["origin"] = origin
    if bearer is not None:
        headers["authorization"] = f"Bearer {bearer}"
    return invoke(
        "disconnect", "POST", "/oauth/disconnect", cookies=[session] if session else None, headers=headers
    )


def stored_refresh_token(stack) -> str:
    [item] = stack.items("TOKENS_TABLE")
    return token_crypto.decrypt(token_crypto.REFRESH_TOKEN, item["user_id"]["S"], item["refresh_token"]["B"])


def refresh_at_google(stack, refresh_token: str) -> requests.Response:
    """Try the refresh token at the emulator's token endpoint, as the product would."""
    client = stack.google.client_config()["web"]
    return requests.post(
        f"{stack.google.url}/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": client["client_id"],
            "client_secret": client["client_secret"],
        },
        timeout=5,
    )


def assert_everything_forgotten(stack, session: str) -> None:
    assert stack.items("TOKENS_TABLE") == []
    assert stack.items("SESSIONS_TABLE") == []
    assert json_body(invoke("me", "GET", "/me", cookies=[session]))["error"] == "unauthenticated"
    assert json_body(invoke("messages", "GET", "/messages", cookies=[session]))["error"] == "unauthenticated"


def assert_session_cookie_expired(response: dict) -> None:
    assert response["statusCode"] == 204
    assert not response.get("body")
    assert "Max-Age=0" in set_cookies(response)["gc_session"]
    assert header(response, "Cache-Control") == "no-store"


def test_disconnect_revokes_at_google_and_forgets_everything(stack) -> None:
    # Given a connected user whose refresh token works at Google
    _, session = connect(stack)
    refresh_token = stored_refresh_token(stack)
    assert refresh_at_google(stack, refresh_token).status_code == 200
    stack.google_control("reset")
    # When they disconnect from the site's own page
    response = disconnect(session)
    # Then the answer is 204 with the session cookie expired
    assert_session_cookie_expired(response)
    # And the grant was revoked at Google: the refresh token no longer works, no grant is left
    assert stack.google_stats()["calls"] == {REVOKE: 1}
    refused = refresh_at_google(stack, refresh_token)
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"
    assert (
        requests.get(f"{stack.google.url}/_emulator/accounts/{stack.email}", timeout=5).json()["grants"] == []
    )
    # And the tokens row and the session are gone
    assert_everything_forgotten(stack, session)


@pytest.mark.parametrize(
    "fault",
    [{"status": 503, "count": 5}, {"latency_ms": 1500, "count": 5}],
    ids=["google-5xx", "google-timeout"],
)
def test_disconnect_with_google_down_still_deletes(stack, monkeypatch, fault) -> None:
    # Given a connected user, and Google's revocation endpoint failing or hanging
    monkeypatch.setenv("GOOGLE_TIMEOUT_SECONDS", "0.5")
    get_settings.cache_clear()
    _, session = connect(stack)
    stack.google_control("reset")
    stack.google_control("faults", {"path_prefix": "/revoke", **fault})
    # When they disconnect
    with captured_logs() as logs:
        response = disconnect(session)
    # Then the revocation was tried twice (one retry), and everything is deleted anyway
    assert_session_cookie_expired(response)
    assert stack.google_stats()["calls"] == {REVOKE: 2}
    assert_everything_forgotten(stack, session)
    assert '"revocation":"unavailable"' in logs.getvalue()


def test_grant_already_revoked_at_google_is_still_disconnected(stack) -> None:
    _, session = connect(stack)
    stack.google_control(f"accounts/{stack.email}/revoke")
    stack.google_control("reset")
    with captured_logs() as logs:
        response = disconnect(session)
    assert_session_cookie_expired(response)
    assert stack.google_stats()["calls"] == {REVOKE: 1}  # Google's 400 invalid_token is not retried
    assert '"revocation":"already_invalid"' in logs.getvalue()
    assert_everything_forgotten(stack, session)


@pytest.mark.parametrize(
    ("origin", "bearer"),
    [
        ("https://evil.example", False),
        (None, False),  # a cookie alone, no Origin: a cross-site form in an old browser
        ("null", False),
        ("http://127.0.0.1:3000.evil.example", False),
        ("http://127.0.0.1:3001", False),
        ("https://127.0.0.1:3000", False),
        ("https://evil.example", True),
    ],
)
def test_cross_site_requests_are_refused_and_change_nothing(stack, origin, bearer) -> None:
    # Given a connected user
    _, session = connect(stack)
    tokens_before = stack.items("TOKENS_TABLE")
    sessions_before = stack.items("SESSIONS_TABLE")
    stack.google_control("reset")
    # When a request that did not come from the site tries to disconnect them
    response = disconnect(session, origin=origin, bearer=session_of(session) if bearer else None)
    # Then it is refused with 403 and nothing is revoked or deleted
    assert response["statusCode"] == 403
    assert json_body(response)["error"] == "forbidden_origin"
    assert "gc_session" not in set_cookies(response)
    assert stack.google_stats()["calls"] == {}
    assert stack.items("TOKENS_TABLE") == tokens_before
    assert stack.items("SESSIONS_TABLE") == sessions_before
    assert json_body(invoke("me", "GET", "/me", cookies=[session]))["status"] == "connected"


def test_an_app_with_a_bearer_token_needs_no_origin(stack) -> None:
    _, session = connect(stack)
    response = disconnect(origin=None, bearer=session_of(session))
    assert response["statusCode"] == 204
    assert_everything_forgotten(stack, session)


@pytest.mark.parametrize(
    ("cookies", "bearer"),
    [(None, None), (["gc_session=" + "a" * 43], None), (None, "b" * 43), (["gc_session=garbage"], None)],
)
def test_disconnect_without_a_session_is_401_and_changes_nothing(stack, cookies, bearer) -> None:
    connect(stack)
    before = stack.items("TOKENS_TABLE")
    stack.google_control("reset")
    headers = {"origin": ORIGIN} | ({"authorization": f"Bearer {bearer}"} if bearer else {})
    response = invoke("disconnect", "POST", "/oauth/disconnect", cookies=cookies, headers=headers)
    assert response["statusCode"] == 401
    assert json_body(response)["error"] == "unauthenticated"
    assert stack.items("TOKENS_TABLE") == before
    assert stack.google_stats()["calls"] == {}


def test_disconnect_is_post_only(stack) -> None:
    _, session = connect(stack)
    response = invoke("disconnect", "GET", "/oauth/disconnect", cookies=[session], headers={"origin": ORIGIN})
    assert response["statusCode"] == 404
    assert json_body(response)["error"] == "not_found"
    assert len(stack.items("TOKENS_TABLE")) == 1


def test_disconnect_refuses_query_parameters(stack) -> None:
    _, session = connect(stack)
    response = invoke(
        "disconnect",
        "POST",
        "/oauth/disconnect",
        query="user_id=1",
        cookies=[session],
        headers={"origin": ORIGIN},
    )
    assert response["statusCode"] == 400
    assert len(stack.items("TOKENS_TABLE")) == 1


def test_logs_never_carry_tokens_sessions_or_secrets(stack) -> None:
    # Given a user's whole life: connect, list with metadata, an access token refreshed, disconnect
    email = new_account(stack)
    deliver(stack, email, subject="hello")
    with captured_logs() as buffer:
        _, session = connect(stack, email)
        [item] = stack.items("TOKENS_TABLE")
        user_id = item["user_id"]["S"]
        first_access = token_crypto.decrypt(token_crypto.ACCESS_TOKEN, user_id, item["access_token"]["B"])
        refresh_token = token_crypto.decrypt(token_crypto.REFRESH_TOKEN, user_id, item["refresh_token"]["B"])
        invoke("messages", "GET", "/messages", query="include=metadata", cookies=[session])
        stack.google_control("clock", {"advance_seconds": 3601})
        stack.google_control(
            "faults", {"path_prefix": "/gmail/v1/users/me/messages", "status": 429, "count": 1}
        )
        invoke("messages", "GET", "/messages", cookies=[session])
        [item] = stack.items("TOKENS_TABLE")
        second_access = token_crypto.decrypt(token_crypto.ACCESS_TOKEN, user_id, item["access_token"]["B"])
        invoke("disconnect", "POST", "/oauth/disconnect", cookies=[session], headers={"origin": ORIGIN})
    logs = buffer.getvalue()
    # Then the logs tell the story (the scan sees the product's output)...
    assert first_access != second_access
    assert "Retrying a Google call" in logs
    assert '"revocation":"revoked"' in logs
    # ...and carry none of the secrets
    for secret in (
        session_of(session),
        refresh_token,
        first_access,
        second_access,
        "local-client-secret",  # the emulator's client secret, as stored in Secrets Manager
    ):
        assert secret not in logs


def test_sample_event_is_refused_cleanly(stack) -> None:
    # The sample event for `sam local invoke` comes from the deployed API's origin, not this one
    import json

    from infra.local_stack.apigw import lambda_context
    from infra.local_stack.handlers import load_handler
    from tests.support.product import ROOT

    event = json.loads((ROOT / "events" / "disconnect.json").read_text(encoding="utf-8"))
    response = load_handler("functions/disconnect", root=ROOT)(event, lambda_context("disconnect"))
    assert response["statusCode"] == 403
    assert json_body(response)["error"] == "forbidden_origin"


def test_disconnect_ends_every_session_and_a_reconnect_revives_none(stack) -> None:
    # Given the same account signed in twice (two browsers: s1 and s2)
    _, first = connect(stack)
    _, second = connect(stack)
    assert invoke("me", "GET", "/me", cookies=[first])["statusCode"] == 200
    # When the user disconnects with s2
    assert disconnect(second)["statusCode"] == 204
    # Then s1 is over too
    assert json_body(invoke("me", "GET", "/me", cookies=[first]))["error"] == "unauthenticated"
    # And after the user connects again, s1 stays dead while the new session works
    _, third = connect(stack)
    for route, path in (("me", "/me"), ("messages", "/messages")):
        assert json_body(invoke(route, "GET", path, cookies=[first]))["error"] == "unauthenticated"
    assert invoke("messages", "GET", "/messages", cookies=[third])["statusCode"] == 200
    # And an old session cannot disconnect the new connection either
    assert disconnect(first)["statusCode"] == 401
    assert len(stack.items("TOKENS_TABLE")) == 1
