"""Revoked or failing credentials: the guide's "on 401, send the user back to the authorization URL".

`invalid_grant` on refresh is permanent: the account is marked `reauthorization_required` (when
and why), the API answers 401 with the URL that fixes it, and a new consent clears the mark.
Transient refresh failures are retried; a 401 with a freshly refreshed token is not proof of
revocation (503, retried later), and a mark an earlier version made on such 401s is cleared by
the next successful refresh. A stored token KMS refuses to decrypt makes the grant unusable.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest

from gmail_connect.gmail.client import Gmail, HistoryExpired
from gmail_connect.gmail.credentials import StoredCredentials
from gmail_connect.store import accounts, grants
from tests.support.counting import captured_logs
from tests.support.flow import (
    BATCH,
    GET,
    LIST,
    MESSAGES_PREFIX,
    TOKEN,
    callback,
    connect,
    consent,
    deliver,
    new_account,
    start,
)
from tests.support.product import header, invoke, json_body


def connected(stack, count: int = 3) -> tuple[str, str, list[str]]:
    """A connected user with `count` known messages (ids newest first); Google's counters reset."""
    email = new_account(stack)
    ids = [deliver(stack, email, subject=f"message {n}")["id"] for n in range(count)][::-1]
    _, session = connect(stack, email)
    stack.google_control("reset")
    return email, session, ids


def list_messages(session: str, query: str = "") -> dict:
    return invoke("messages", "GET", "/messages", query=query, cookies=[session])


def calls(stack) -> dict[str, int]:
    return stack.google_stats()["calls"]


def the_item(stack) -> dict:
    [item] = stack.items("TOKENS_TABLE")
    return item


def test_revoked_grant_sends_the_user_back_and_a_new_consent_fixes_it(stack) -> None:
    # Given a connected user who then revokes access in their Google account
    email, session, ids = connected(stack)
    before = the_item(stack)
    assert stack.google_control(f"accounts/{email}/revoke").status_code == 204
    # When they list their mail
    response = list_messages(session)
    # Then the answer is 401 with the URL that reconnects them, consent forced, their address hinted
    assert response["statusCode"] == 401
    body = json_body(response)
    assert body["error"] == "reauthorization_required"
    assert body["message"]
    url = body["authorization_url"]
    assert url.startswith("http://127.0.0.1:3000/oauth/authorize?")
    assert parse_qs(urlsplit(url).query) == {"prompt": ["consent"], "login_hint": [email]}
    # And Google saw the 401, one refresh refused with invalid_grant, and nothing retried
    assert calls(stack) == {LIST: 1, TOKEN: 1}
    # And the account is marked, with when and why, for this grant version; the dead access token is gone
    item = the_item(stack)
    assert item["status"] == {"S": "reauthorization_required"}
    assert item["reauth_reason"] == {"S": "invalid_grant"}
    marked_at = datetime.fromisoformat(item["reauth_at"]["S"])
    assert abs((datetime.now(UTC) - marked_at).total_seconds()) < 60
    assert item["version"] == before["version"]
    assert "access_token" not in item
    assert item["refresh_token"] == before["refresh_token"]  # kept so disconnect can still revoke it
    # And /me shows it
    me = json_body(invoke("me", "GET", "/me", cookies=[session]))
    assert me["status"] == "reauthorization_required"
    assert me["reauthorization"] == {
        "reason": "invalid_grant",
        "since": item["reauth_at"]["S"],
        "authorization_url": url,
    }
    # And further calls answer the same at once, without troubling Google
    stack.google_control("reset")
    again = list_messages(session)
    assert json_body(again)["authorization_url"] == url
    assert calls(stack) == {}

    # When the user follows the URL (signed in) and consents again
    consent_url, binding = start(urlsplit(url).query, cookies=[session])
    asked = parse_qs(urlsplit(consent_url).query)
    assert asked["prompt"] == ["consent"]
    assert asked["login_hint"] == [email]
    assert callback(consent(stack, consent_url, email=email), binding)["statusCode"] == 302
    # Then the same session lists mail again and /me is connected, the mark cleared
    assert [m["id"] for m in json_body(list_messages(session))["messages"]] == ids
    me = json_body(invoke("me", "GET", "/me", cookies=[session]))
    assert me["status"] == "connected"
    assert "reauthorization" not in me
    item = the_item(stack)
    assert "reauth_reason" not in item
    assert "reauth_at" not in item
    assert int(item["version"]["N"]) == int(before["version"]["N"]) + 1


def test_401_with_a_freshly_refreshed_token_is_retried_later_not_a_revocation(stack) -> None:
    # Given Gmail refusing the token, and the refreshed one too (a transient 401 storm)
    _, session, ids = connected(stack)
    stack.google_control("faults", {"path_prefix": MESSAGES_PREFIX, "status": 401, "count": 2})
    # When the user lists their mail
    response = list_messages(session)
    # Then one refresh was tried, and the caller is told to come back shortly
    assert response["statusCode"] == 503
    assert json_body(response)["error"] == "google_unavailable"
    assert header(response, "Retry-After") == "10"
    assert calls(stack) == {LIST: 2, TOKEN: 1}
    # And the account is not marked: only invalid_grant proves a revocation
    assert the_item(stack)["status"] == {"S": "connected"}
    # And once the storm passes, the same session reads mail again
    assert [m["id"] for m in json_body(list_messages(session))["messages"]] == ids


def test_a_provisional_mark_is_cleared_by_the_next_successful_refresh(stack) -> None:
    # Given an account an earlier version marked on a 401 storm (reason "revoked", not proof)
    _, session, ids = connected(stack)
    user_id = the_item(stack)["user_id"]["S"]
    version = int(the_item(stack)["version"]["N"])
    assert grants.mark_reauthorization_required(user_id, reason=grants.PROVISIONAL_REASON, version=version)
    # When the user lists their mail
    response = list_messages(session)
    # Then the grant is tried (one refresh), works, and the mark is gone
    assert [m["id"] for m in json_body(response)["messages"]] == ids
    assert calls(stack) == {TOKEN: 1, LIST: 1}
    item = the_item(stack)
    assert item["status"] == {"S": "connected"}
    assert "reauth_reason" not in item
    assert json_body(invoke("me", "GET", "/me", cookies=[session]))["status"] == "connected"


def test_a_provisional_mark_becomes_final_when_google_says_invalid_grant(stack) -> None:
    # Given a provisionally marked account whose grant the user has really revoked
    email, session, _ = connected(stack)
    user_id = the_item(stack)["user_id"]["S"]
    version = int(the_item(stack)["version"]["N"])
    grants.mark_reauthorization_required(user_id, reason=grants.PROVISIONAL_REASON, version=version)
    stack.google_control(f"accounts/{email}/revoke")
    # When listed twice
    first, second = list_messages(session), list_messages(session)
    # Then both send the user back, and only the first asked Google (the mark is now proof)
    assert [first["statusCode"], second["statusCode"]] == [401, 401]
    assert calls(stack) == {TOKEN: 1}
    assert the_item(stack)["reauth_reason"] == {"S": "invalid_grant"}


def test_a_token_kms_refuses_makes_the_grant_unusable_never_a_5xx(stack) -> None:
    # Given two connected users, and user A's refresh token copied onto user B's item
    _, session_a, _ = connected(stack)
    [item_a] = stack.items("TOKENS_TABLE")
    email_b = new_account(stack)
    _, session_b = connect(stack, email_b)
    dynamodb = boto3.client("dynamodb")
    item_b = next(i for i in stack.items("TOKENS_TABLE") if i["email"]["S"] == email_b)
    dynamodb.update_item(
        TableName=stack.environment["TOKENS_TABLE"],
        Key={"user_id": item_b["user_id"]},
        UpdateExpression="SET refresh_token = :stolen, access_token = :stolen",
        ExpressionAttributeValues={":stolen": item_a["refresh_token"]},
    )
    stack.google_control("reset")
    # When B lists mail
    with captured_logs() as logs:
        response = list_messages(session_b)
    # Then KMS refused it (encryption context: another user), and B is asked to reconnect
    assert response["statusCode"] == 401
    body = json_body(response)
    assert body["error"] == "reauthorization_required"
    assert parse_qs(urlsplit(body["authorization_url"]).query)["login_hint"] == [email_b]
    marked = next(i for i in stack.items("TOKENS_TABLE") if i["email"]["S"] == email_b)
    assert marked["reauth_reason"] == {"S": "grant_unusable"}
    assert calls(stack) == {}
    # And the ciphertext never reached the logs
    assert item_a["refresh_token"]["B"].hex() not in logs.getvalue()
    # And user A is untouched
    assert list_messages(session_a)["statusCode"] == 200


def test_401_inside_a_batch_refreshes_once_and_resends_that_call(stack) -> None:
    _, session, ids = connected(stack, 4)
    stack.google_control("faults", {"path_prefix": f"{MESSAGES_PREFIX}/{ids[1]}", "status": 401})
    response = list_messages(session, "include=metadata")
    assert [m["id"] for m in json_body(response)["messages"]] == ids
    stats = stack.google_stats()
    assert stats["calls"] == {LIST: 1, BATCH: 2, TOKEN: 1}
    assert stats["batched_calls"] == {GET: 5}
    assert the_item(stack)["status"] == {"S": "connected"}


def test_transient_refresh_failure_is_retried(stack) -> None:
    # Given an access token Google considers expired, and a token endpoint failing once
    _, session, ids = connected(stack)
    stack.google_control("clock", {"advance_seconds": 3601})
    stack.google_control("faults", {"path_prefix": "/token", "status": 503, "count": 1})
    # When the user lists their mail, the refresh is retried and the page comes back
    assert [m["id"] for m in json_body(list_messages(session))["messages"]] == ids
    assert calls(stack) == {LIST: 2, TOKEN: 2}


def test_token_endpoint_down_is_503_and_does_not_mark_the_account(stack) -> None:
    _, session, _ = connected(stack)
    stack.google_control("clock", {"advance_seconds": 3601})
    stack.google_control("faults", {"path_prefix": "/token", "status": 500, "count": 10})
    response = list_messages(session)
    assert response["statusCode"] == 503
    assert json_body(response)["error"] == "google_unavailable"
    assert calls(stack) == {LIST: 1, TOKEN: 4}
    assert the_item(stack)["status"] == {"S": "connected"}


def test_missing_row_ends_the_session(stack) -> None:
    # Given a session whose account item is gone (disconnected elsewhere)
    _, session, _ = connected(stack)
    boto3.client("dynamodb").delete_item(
        TableName=stack.environment["TOKENS_TABLE"], Key={"user_id": the_item(stack)["user_id"]}
    )
    # Then the session is over: sign in again, and Google is not called
    response = list_messages(session)
    assert response["statusCode"] == 401
    assert json_body(response)["error"] == "unauthenticated"
    assert calls(stack) == {}


def test_missing_refresh_token_is_reauthorization_with_consent_forced(stack) -> None:
    email, session, _ = connected(stack)
    boto3.client("dynamodb").update_item(
        TableName=stack.environment["TOKENS_TABLE"],
        Key={"user_id": the_item(stack)["user_id"]},
        UpdateExpression="REMOVE refresh_token",
    )
    response = list_messages(session)
    assert response["statusCode"] == 401
    url = json_body(response)["authorization_url"]
    assert parse_qs(urlsplit(url).query) == {"prompt": ["consent"], "login_hint": [email]}
    assert calls(stack) == {}


def test_a_mark_never_lands_on_a_newer_grant(stack) -> None:
    # Given a user who re-consented after some code read their grant
    email, session, _ = connected(stack)
    old_version = int(the_item(stack)["version"]["N"])
    consent_url, binding = start("prompt=consent", cookies=[session])
    assert callback(consent(stack, consent_url, email=email), binding)["statusCode"] == 302
    user_id = the_item(stack)["user_id"]["S"]
    # When that code, holding the old version, marks the grant
    grants.mark_reauthorization_required(user_id, reason="invalid_grant", version=old_version)
    # Then the newer grant stays connected
    item = the_item(stack)
    assert item["status"] == {"S": "connected"}
    assert int(item["version"]["N"]) == old_version + 1
    assert "reauth_reason" not in item


def test_refresh_never_overwrites_a_newer_grant(stack) -> None:
    # Given a refresh of the grant as read before a re-consent landed
    email, session, _ = connected(stack)
    user_id = the_item(stack)["user_id"]["S"]
    read = accounts.get(user_id, accounts.CREDENTIAL_ATTRIBUTES)
    assert read is not None
    consent_url, binding = start("prompt=consent", cookies=[session])
    assert callback(consent(stack, consent_url, email=email), binding)["statusCode"] == 302
    newer = the_item(stack)
    # When the refresh stores its token for the version it read
    stored = grants.update_access_token(
        user_id, version=read.version, access_token="ya29.stale", expires_at=int(time.time()) + 3600
    )
    # Then the stale write is refused and the newer grant's token kept
    assert stored is None
    assert the_item(stack)["access_token"] == newer["access_token"]


# --- the layer API the sync worker uses ------------------------------------------------------------


def test_history_and_profile_for_the_sync_worker(stack) -> None:
    # Given a connected user and their mailbox's current history id
    email, _, _ = connected(stack, 2)
    user_id = the_item(stack)["user_id"]["S"]
    gmail = Gmail(StoredCredentials(user_id))
    profile = gmail.profile()
    assert profile["emailAddress"] == email
    # When a message arrives, history since that id shows it
    new = deliver(stack, email, subject="new")
    history = gmail.history(start_history_id=profile["historyId"])
    added = [entry["message"]["id"] for record in history["history"] for entry in record["messagesAdded"]]
    assert added == [new["id"]]
    found = gmail.get_metadata([new["id"], "0123456789abcdef", new["id"]])  # an unknown id is dropped
    assert [message["id"] for message in found] == [new["id"], new["id"]]
    # And when Gmail forgot that history, HistoryExpired says a full sync is needed
    stack.google_control(f"accounts/{email}/expire_history")
    with pytest.raises(HistoryExpired):
        gmail.history(start_history_id=profile["historyId"])
