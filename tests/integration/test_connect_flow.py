"""The connect flow end to end through the real handlers: authorize -> Google -> callback -> /me.

Google is the emulator over loopback (real google-auth-oauthlib code paths); AWS is moto's
server. Every failure path must answer 4xx and store nothing.
"""

from __future__ import annotations

import io
from urllib.parse import parse_qs, urlencode, urlsplit

import boto3
import pytest

from gmail_connect.core import observability
from gmail_connect.store import token_crypto
from tests.support.flow import callback, connect, consent, start
from tests.support.product import cookie_value, header, invoke, json_body, set_cookies

GMAIL_READONLY = "https://www.googleapis.com/auth/gmail.readonly"


def assert_nothing_stored(stack) -> None:
    assert stack.items("TOKENS_TABLE") == []
    assert stack.items("SESSIONS_TABLE") == []


def test_consent_connects_the_account_and_signs_in(stack) -> None:
    # Given a browser that starts at /oauth/authorize
    consent_url, binding = start(urlencode({"return_to": "/me", "login_hint": stack.email}))
    asked = parse_qs(urlsplit(consent_url).query)
    assert consent_url.startswith(stack.google.url + "/o/oauth2/v2/auth?")
    assert asked["access_type"] == ["offline"]
    assert asked["code_challenge_method"] == ["S256"]
    assert asked["redirect_uri"] == ["http://127.0.0.1:3000/oauth/callback"]
    assert "code_verifier" not in consent_url
    # When the user allows access at Google and comes back
    answer = consent(stack, consent_url)
    response = callback(answer, binding)
    # Then they land on /me with a fresh session, and the binding cookie is cleared
    assert response["statusCode"] == 302
    assert header(response, "Location") == "/me"
    assert header(response, "Cache-Control") == "no-store"
    assert header(response, "Referrer-Policy") == "no-referrer"
    cookies = set_cookies(response)
    assert "HttpOnly" in cookies["gc_session"]
    assert "SameSite=Lax" in cookies["gc_session"]
    assert "Max-Age=0" in cookies["gc_oauth"]
    session = f"gc_session={cookie_value(cookies['gc_session'])}"
    me = invoke("me", "GET", "/me", cookies=[session])
    assert me["statusCode"] == 200
    profile = json_body(me)
    assert profile["email"] == stack.email
    assert profile["status"] == "connected"
    assert GMAIL_READONLY in profile["scopes"]
    assert profile["user_id"].isdigit()
    assert profile["connected_at"]
    assert "last_sync_at" in profile
    # And the refresh token is stored encrypted, the state consumed, Google asked exactly once
    [item] = stack.items("TOKENS_TABLE")
    assert item["user_id"]["S"] == profile["user_id"]
    assert "refresh_token" in item
    assert "1//" not in repr(item)
    assert "ya29" not in repr(item)
    refresh = token_crypto.decrypt(token_crypto.REFRESH_TOKEN, profile["user_id"], item["refresh_token"]["B"])
    assert refresh
    assert refresh not in repr(item)
    assert stack.items("STATES_TABLE") == []
    calls = stack.google_stats()["calls"]
    assert calls.get("POST /token") == 1
    assert not any("userinfo" in route for route in calls), "identity must come from the id_token"


def test_bearer_session_works_like_the_cookie(stack) -> None:
    _, session = connect(stack)
    bearer = session.split("=", 1)[1]
    me = invoke("me", "GET", "/me", headers={"authorization": f"Bearer {bearer}"})
    assert json_body(me)["email"] == stack.email


def test_deny_stores_nothing(stack) -> None:
    consent_url, binding = start()
    answer = consent(stack, consent_url, allow=False)
    assert answer["error"] == "access_denied"
    response = callback(answer, binding)
    assert response["statusCode"] == 403
    assert "Gmail was not connected" in response["body"]
    assert header(response, "Content-Type").startswith("text/html")
    assert_nothing_stored(stack)
    assert "POST /token" not in stack.google_stats()["calls"]


def test_unticked_gmail_scope_is_not_a_connection(stack) -> None:
    consent_url, binding = start()
    response = callback(consent(stack, consent_url, untick=(GMAIL_READONLY,)), binding)
    assert response["statusCode"] == 403
    assert "Read access to Gmail was not granted" in response["body"]
    assert_nothing_stored(stack)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda answer: {**answer, "state": answer["state"][:-2] + "xx"},
        lambda answer: {key: value for key, value in answer.items() if key != "state"},
        lambda answer: {**answer, "state": "x" * 3000},
        lambda answer: {key: value for key, value in answer.items() if key != "code"},
    ],
    ids=["tampered", "missing", "oversized", "no-code"],
)
def test_bad_state_is_refused_before_any_exchange(stack, tamper) -> None:
    consent_url, binding = start()
    response = callback(tamper(consent(stack, consent_url)), binding)
    assert response["statusCode"] == 400
    assert header(response, "Cache-Control") == "no-store"
    assert_nothing_stored(stack)
    assert "POST /token" not in stack.google_stats()["calls"]


def test_state_issued_to_another_browser_is_refused(stack) -> None:
    consent_url, _ = start()
    _, other_browser = start()
    response = callback(consent(stack, consent_url), other_browser)
    assert response["statusCode"] == 400
    assert "another browser" in response["body"]
    assert_nothing_stored(stack)
    response = callback(consent(stack, consent_url), None)
    assert response["statusCode"] == 400
    assert_nothing_stored(stack)


def test_replayed_callback_fails_and_changes_nothing(stack) -> None:
    consent_url, binding = start()
    answer = consent(stack, consent_url)
    assert callback(answer, binding)["statusCode"] == 302
    sessions_before = stack.items("SESSIONS_TABLE")
    tokens_before = stack.items("TOKENS_TABLE")
    replay = callback(answer, binding)
    assert replay["statusCode"] == 400
    assert "already used" in replay["body"]
    assert stack.items("SESSIONS_TABLE") == sessions_before
    assert stack.items("TOKENS_TABLE") == tokens_before
    assert stack.google_stats()["calls"]["POST /token"] == 1


def test_expired_state_is_refused(stack) -> None:
    consent_url, binding = start()
    dynamodb = boto3.client("dynamodb")
    [state] = stack.items("STATES_TABLE")
    dynamodb.update_item(
        TableName=stack.environment["STATES_TABLE"],
        Key={"state_id": state["state_id"]},
        UpdateExpression="SET expires_at = :past",
        ExpressionAttributeValues={":past": {"N": "1"}},
    )
    assert callback(consent(stack, consent_url), binding)["statusCode"] == 400
    assert_nothing_stored(stack)


def test_code_refused_by_google_is_a_4xx_not_a_5xx(stack) -> None:
    # Given a code bound to one authorization's PKCE challenge, presented with another's state
    first_url, binding = start()
    second_url, _ = start(cookies=[binding])
    code = consent(stack, first_url)["code"]
    second_state = parse_qs(urlsplit(second_url).query)["state"][0]
    response = callback({"code": code, "state": second_state}, binding)
    # Then Google's invalid_grant becomes a clean 400 and nothing is stored
    assert response["statusCode"] == 400
    assert "did not accept this sign-in" in response["body"]
    assert_nothing_stored(stack)


def test_google_outage_during_exchange_is_503_and_stores_nothing(stack) -> None:
    consent_url, binding = start()
    answer = consent(stack, consent_url)
    assert (
        stack.google_control("faults", {"path_prefix": "/token", "status": 500, "count": 1}).status_code
        == 201
    )
    response = callback(answer, binding)
    assert response["statusCode"] == 503
    assert_nothing_stored(stack)


def test_second_connection_without_consent_keeps_the_stored_refresh_token(stack) -> None:
    connect(stack)
    [first] = stack.items("TOKENS_TABLE")
    # Not forced: Google shows no consent and returns no refresh token; the stored one stays.
    consent_url, binding = start(urlencode({"login_hint": stack.email}))
    assert "prompt" not in parse_qs(urlsplit(consent_url).query)
    response = callback(consent(stack, consent_url), binding)
    assert response["statusCode"] == 302
    [second] = stack.items("TOKENS_TABLE")
    assert second["refresh_token"] == first["refresh_token"]
    assert second["version"] == first["version"]
    assert second["access_token"] != first["access_token"]


def test_no_refresh_token_anywhere_sends_the_user_back_with_consent_forced(stack) -> None:
    # Given a user who consented before, whose stored row was lost
    connect(stack)
    sessions_before = stack.items("SESSIONS_TABLE")
    boto3.client("dynamodb").delete_item(
        TableName=stack.environment["TOKENS_TABLE"],
        Key={"user_id": stack.items("TOKENS_TABLE")[0]["user_id"]},
    )
    # When they come back without forced consent, Google sends no refresh token
    consent_url, binding = start(urlencode({"return_to": "/inbox"}))
    response = callback(consent(stack, consent_url), binding)
    # Then they are sent to authorize again with consent forced, and nothing half-done is stored
    assert response["statusCode"] == 302
    location = header(response, "Location")
    assert location.startswith("http://127.0.0.1:3000/oauth/authorize?")
    assert parse_qs(urlsplit(location).query) == {
        "prompt": ["consent"],
        "login_hint": [stack.email],
        "return_to": ["/inbox"],
    }
    assert stack.items("TOKENS_TABLE") == []
    assert stack.items("SESSIONS_TABLE") == sessions_before
    # And following it forces consent, which yields a refresh token
    forced_url, binding = start(urlsplit(location).query, cookies=[binding])
    assert parse_qs(urlsplit(forced_url).query)["prompt"] == ["consent"]
    assert callback(consent(stack, forced_url), binding)["statusCode"] == 302
    assert "refresh_token" in stack.items("TOKENS_TABLE")[0]


def test_signed_in_user_needing_reauthorization_gets_forced_consent(stack) -> None:
    _, session = connect(stack)
    [item] = stack.items("TOKENS_TABLE")
    boto3.client("dynamodb").update_item(
        TableName=stack.environment["TOKENS_TABLE"],
        Key={"user_id": item["user_id"]},
        UpdateExpression="SET #s = :r",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":r": {"S": "reauthorization_required"}},
    )
    consent_url, _ = start(cookies=[session])
    query = parse_qs(urlsplit(consent_url).query)
    assert query["prompt"] == ["consent"]
    assert query["login_hint"] == [stack.email]
    me = json_body(invoke("me", "GET", "/me", cookies=[session]))
    assert me["status"] == "reauthorization_required"
    assert me["reauthorization"]["authorization_url"].startswith("http://127.0.0.1:3000/oauth/authorize?")


@pytest.mark.parametrize(
    "query",
    [
        "return_to=%2F%2Fevil.example",
        "return_to=https%3A%2F%2Fevil.example",
        "return_to=%2F%5Cevil.example",
        "return_to=javascript%3Aalert(1)",
        "login_hint=x&login_hint=y",
        "prompt=none",
        "surprise=1",
    ],
)
def test_authorize_refuses_bad_input_and_stores_nothing(stack, query: str) -> None:
    response = invoke("authorize", "GET", "/oauth/authorize", query=query)
    assert response["statusCode"] == 400
    assert "<h1>" in response["body"]
    assert stack.items("STATES_TABLE") == []


def test_return_to_is_honoured_after_consent(stack) -> None:
    consent_url, binding = start(urlencode({"return_to": "/inbox?tab=2"}))
    response = callback(consent(stack, consent_url), binding)
    assert header(response, "Location") == "/inbox?tab=2"


@pytest.mark.parametrize("look_alike", ["\u3002", "\uff0f", "\u2044", "\u2215", "\U0001f600"])
def test_return_to_beyond_latin_1_completes_the_callback_as_a_local_path(stack, look_alike: str) -> None:
    # Given a sign-in asked to return to a path holding a look-alike of '.' or '/'
    consent_url, binding = start(urlencode({"return_to": f"/{look_alike}evil.com"}))
    # When the user consents
    response = callback(consent(stack, consent_url), binding)
    # Then the callback completes with a percent-encoded path on this site, and one session
    assert response["statusCode"] == 302
    location = header(response, "Location")
    assert location.startswith("/%")
    assert location.isascii()
    assert "gc_session" in set_cookies(response)
    assert len(stack.items("SESSIONS_TABLE")) == 1


def test_a_stored_state_a_header_cannot_carry_stores_nothing(stack) -> None:
    # Given a pending sign-in whose stored return path a Location header cannot carry
    consent_url, binding = start()
    [state] = stack.items("STATES_TABLE")
    boto3.client("dynamodb").update_item(
        TableName=stack.environment["STATES_TABLE"],
        Key={"state_id": state["state_id"]},
        UpdateExpression="SET return_to = :bad",
        ExpressionAttributeValues={":bad": {"S": "/\u3002evil.com"}},
    )
    # When the user consents, Then the callback refuses before exchanging or storing anything
    response = callback(consent(stack, consent_url), binding)
    assert response["statusCode"] == 400
    assert stack.items("TOKENS_TABLE") == []
    assert stack.items("SESSIONS_TABLE") == []
    assert "POST /token" not in stack.google_stats()["calls"]


def test_me_without_session_is_401_json(stack) -> None:
    for cookies in (None, ["gc_session=" + "a" * 43], ["gc_session=garbage"]):
        response = invoke("me", "GET", "/me", cookies=cookies)
        assert response["statusCode"] == 401
        assert json_body(response)["error"] == "unauthenticated"


@pytest.mark.parametrize("function", ["authorize", "callback", "me"])
@pytest.mark.parametrize(
    "event",
    [{}, {"version": "1.0"}, {"version": "2.0", "requestContext": {"http": "GET"}}, ["not", "a", "dict"]],
)
def test_malformed_events_get_a_clear_400(stack, function: str, event) -> None:
    from infra.local_stack.apigw import lambda_context
    from infra.local_stack.handlers import load_handler
    from tests.support.product import ROOT

    handler = load_handler(f"functions/{function}", "app.handler", root=ROOT)
    response = handler(event, lambda_context(function))
    assert response["statusCode"] == 400
    assert json_body(response)["error"] == "invalid_request"
    assert stack.items("STATES_TABLE") == []


def test_logs_never_carry_codes_states_tokens_or_secrets(stack) -> None:
    # The product's log handler is pointed at a buffer: exactly what would reach CloudWatch.
    buffer = io.StringIO()
    previous = observability.logger.registered_handler.setStream(buffer)
    try:
        _connect_replay_and_read(stack, buffer)
    finally:
        observability.logger.registered_handler.setStream(previous)


def _connect_replay_and_read(stack, buffer: io.StringIO) -> None:
    consent_url, binding = start()
    answer = consent(stack, consent_url)
    response = callback(answer, binding)
    session = cookie_value(set_cookies(response)["gc_session"])
    invoke("me", "GET", "/me", cookies=[f"gc_session={session}"])
    callback(answer, binding)  # a replay, logged as refused
    logs = buffer.getvalue()
    assert "Account connected" in logs, "the scan must see the product's logs"
    [item] = stack.items("TOKENS_TABLE")
    user_id = item["user_id"]["S"]
    secrets_seen = [
        answer["code"],
        answer["state"],
        binding.split("=", 1)[1],
        session,
        token_crypto.decrypt(token_crypto.REFRESH_TOKEN, user_id, item["refresh_token"]["B"]),
        token_crypto.decrypt(token_crypto.ACCESS_TOKEN, user_id, item["access_token"]["B"]),
        "local-client-secret",  # the emulator's client secret, as stored in Secrets Manager
    ]
    for secret in secrets_seen:
        assert secret not in logs


def test_unticked_email_scope_still_identifies_the_user_through_gmail(stack) -> None:
    # Given a user who grants Gmail but unticks the email scope
    consent_url, binding = start()
    answer = consent(stack, consent_url, untick=("https://www.googleapis.com/auth/userinfo.email",))
    # When the callback completes
    response = callback(answer, binding)
    # Then the account is connected under its Gmail address, read from Gmail's profile
    assert response["statusCode"] == 302
    [item] = stack.items("TOKENS_TABLE")
    assert item["email"]["S"] == stack.email
    calls = stack.google_stats()["calls"]
    assert calls["GET /gmail/v1/users/{userId}/profile"] == 1


def test_a_users_log_keys_do_not_follow_into_the_next_request(stack) -> None:
    # Given a warm container that just connected a user (the callback appends user_id to its logs)
    connect(stack)
    [item] = stack.items("TOKENS_TABLE")
    buffer = io.StringIO()
    previous = observability.logger.registered_handler.setStream(buffer)
    try:
        # When the same container serves an anonymous, refused callback
        callback({"code": "4/0Aunused", "state": "x" * 43}, "gc_oauth=" + "y" * 43)
    finally:
        observability.logger.registered_handler.setStream(previous)
    # Then its log lines carry no trace of the previous user
    logs = buffer.getvalue()
    assert "Request refused" in logs
    assert item["user_id"]["S"] not in logs


def test_redirect_uri_ignores_the_host_header(stack) -> None:
    # Given a request whose Host header names another site
    response = invoke(
        "authorize",
        "GET",
        "/oauth/authorize",
        headers={"host": "evil.example", "x-forwarded-host": "evil.example"},
    )
    # Then the redirect URI sent to Google is still the configured one
    query = parse_qs(urlsplit(header(response, "Location")).query)
    assert query["redirect_uri"] == ["http://127.0.0.1:3000/oauth/callback"]
