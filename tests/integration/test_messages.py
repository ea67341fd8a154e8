"""GET /messages through the real handler: moto's server for AWS, the Google emulator for Gmail.

Counts are exact (the emulator's stats, botocore's `before-call` on the product's own clients):
they are the performance budget. Faults are the emulator's real ones, with small Retry-After
values; nothing here sleeps to synchronise.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from urllib.parse import urlencode

import boto3
import pytest

from gmail_connect.core.config import get_settings
from gmail_connect.store.token_cache import access_tokens
from tests.support.counting import AwsCalls
from tests.support.flow import (
    BATCH,
    GET,
    LIST,
    MESSAGES_PREFIX,
    TOKEN,
    connect,
    deliver,
    new_account,
    session_of,
)
from tests.support.product import ROOT, header, invoke, json_body


def list_messages(session: str, query: str = "", **headers: str) -> dict:
    return invoke("messages", "GET", "/messages", query=query, cookies=[session], headers=headers or None)


def mailbox(stack, count: int, **message) -> tuple[str, str, list[str]]:
    """A connected user whose mailbox holds exactly `count` known messages; ids newest first."""
    email = new_account(stack)
    ids = [deliver(stack, email, subject=f"message {n}", **message)["id"] for n in range(count)]
    _, session = connect(stack, email)
    stack.google_control("reset")
    return email, session, ids[::-1]


def calls(stack) -> dict[str, int]:
    return stack.google_stats()["calls"]


def page_ids(response: dict) -> list[str]:
    assert response["statusCode"] == 200, response.get("body")
    return [message["id"] for message in json_body(response)["messages"]]


# --- pages ---------------------------------------------------------------------------------------


def test_pages_follow_next_page_token_and_see_every_message_once(stack) -> None:
    # Given a mailbox of 12 known messages
    _, session, ids = mailbox(stack, 12)
    # When the client pages through it 5 at a time
    seen: list[str] = []
    tokens: list[str] = []
    query = "maxResults=5"
    while True:
        response = list_messages(session, query)
        body = json_body(response)
        seen += page_ids(response)
        assert body["resultSizeEstimate"] == 12
        if "nextPageToken" not in body:
            break
        tokens.append(body["nextPageToken"])
        query = urlencode({"maxResults": 5, "pageToken": body["nextPageToken"]})
    # Then three pages (5, 5, 2) give every message once, newest first, with no overlap
    assert len(tokens) == 2
    assert seen == ids
    assert len(set(seen)) == 12
    # And every page was exactly one Gmail call
    assert calls(stack) == {LIST: 3}


def test_default_page_is_25_ids_and_thread_ids_only(stack) -> None:
    _, session, ids = mailbox(stack, 30)
    response = list_messages(session)
    body = json_body(response)
    assert page_ids(response) == ids[:25]
    assert all(set(message) == {"id", "threadId"} for message in body["messages"])
    assert all(message["threadId"] for message in body["messages"])
    assert body["nextPageToken"]
    assert header(response, "Cache-Control") == "no-store"


def test_q_filters_with_gmail_search_syntax(stack) -> None:
    # Given messages from two senders
    email = new_account(stack)
    from_alice = [
        deliver(stack, email, **{"from": "Alice <alice@example.org>"}, subject=f"Invoice {n}")["id"]
        for n in range(3)
    ]
    others = [
        deliver(stack, email, **{"from": "Bob <bob@example.net>"}, subject="Lunch")["id"] for _ in range(2)
    ]
    _, session = connect(stack, email)
    # When the client searches by sender, and by subject word
    by_sender = page_ids(list_messages(session, urlencode({"q": "from:alice@example.org"})))
    by_subject = page_ids(list_messages(session, urlencode({"q": "subject:lunch"})))
    # Then exactly the matching messages come back
    assert set(by_sender) == set(from_alice)
    assert set(by_subject) == set(others)


def test_label_ids_filter_is_an_intersection(stack) -> None:
    email = new_account(stack)
    starred = deliver(stack, email, labelIds=["INBOX", "STARRED"])["id"]
    important = deliver(stack, email, labelIds=["INBOX", "IMPORTANT"])["id"]
    both = deliver(stack, email, labelIds=["INBOX", "STARRED", "IMPORTANT"])["id"]
    _, session = connect(stack, email)
    assert set(page_ids(list_messages(session, "labelIds=STARRED"))) == {starred, both}
    assert page_ids(list_messages(session, "labelIds=STARRED,IMPORTANT")) == [both]
    assert set(page_ids(list_messages(session, "labelIds=INBOX"))) == {starred, important, both}


def test_unknown_label_is_gmails_400_passed_on_as_invalid_request(stack) -> None:
    _, session, _ = mailbox(stack, 1)
    response = list_messages(session, "labelIds=Label_404")
    assert response["statusCode"] == 400
    body = json_body(response)
    assert body["error"] == "invalid_request"
    assert "Gmail refused the request" in body["message"]
    assert calls(stack) == {LIST: 1}  # a 400 is never retried


def test_include_metadata_shapes_each_message(stack) -> None:
    # Given one known message
    email = new_account(stack)
    sent = deliver(
        stack,
        email,
        **{"from": "Alice Martin <alice@example.org>", "to": f"Me <{email}>"},
        subject="Photos from the weekend",
        body="I finally uploaded the photos.",
        labelIds=["INBOX", "UNREAD"],
    )
    _, session = connect(stack, email)
    # When it is listed with metadata
    response = list_messages(session, "include=metadata")
    # Then the page carries its ids, labels, snippet, the four headers and the date
    [message] = json_body(response)["messages"]
    assert set(message) == {
        "id", "threadId", "labelIds", "snippet", "from", "to", "subject", "date", "internalDate"
    }  # fmt: skip
    assert message["id"] == sent["id"]
    assert message["threadId"] == sent["threadId"]
    assert message["labelIds"] == ["INBOX", "UNREAD"]
    assert message["snippet"] == "I finally uploaded the photos."
    assert message["from"] == "Alice Martin <alice@example.org>"
    assert message["to"] == f"Me <{email}>"
    assert message["subject"] == "Photos from the weekend"
    assert message["date"].endswith(("+0000", "GMT", "-0000"))
    assert message["internalDate"].isdigit()
    assert abs(int(message["internalDate"]) / 1000 - time.time()) < 3600 * 24 * 365


def test_metadata_for_a_page_of_50_is_one_list_and_one_batch(stack) -> None:
    # Given a mailbox of 60 messages
    _, session, ids = mailbox(stack, 60)
    # When a page of 50 is asked with metadata
    response = list_messages(session, "maxResults=50&include=metadata")
    # Then it holds the 50 newest in list order, each with its headers
    body = json_body(response)
    assert [message["id"] for message in body["messages"]] == ids[:50]
    assert [message["subject"] for message in body["messages"]] == [f"message {n}" for n in range(59, 9, -1)]
    # And Google saw exactly 2 HTTP requests: the list and one batch of 50 calls
    stats = stack.google_stats()
    assert stats["calls"] == {LIST: 1, BATCH: 1}
    assert stats["batched_calls"] == {GET: 50}


def test_a_page_over_50_is_batched_50_at_a_time(stack) -> None:
    _, session, ids = mailbox(stack, 120)
    response = list_messages(session, "maxResults=120&include=metadata")
    assert page_ids(response) == ids
    stats = stack.google_stats()
    assert stats["calls"] == {LIST: 1, BATCH: 3}
    assert stats["batched_calls"] == {GET: 120}


# --- the budget: exact calls ---------------------------------------------------------------------


def test_warm_call_is_one_google_request_and_two_aws_calls(stack) -> None:
    # Given a connected user and a container that has served them once
    _, session, ids = mailbox(stack, 3)
    aws = AwsCalls()
    assert page_ids(list_messages(session)) == ids
    # The cold call decrypted the stored access token once (no refresh, no secret needed)
    assert sorted(aws.calls) == ["dynamodb:GetItem", "dynamodb:GetItem", "kms:Decrypt"]
    aws.reset()
    stack.google_control("reset")
    # When the same container serves the next page request
    assert page_ids(list_messages(session)) == ids
    # Then it costs exactly the session read and the token read, and one Gmail call
    assert aws.calls == ["dynamodb:GetItem", "dynamodb:GetItem"]
    stats = stack.google_stats()
    assert stats["calls"] == {LIST: 1}
    assert stats["batched_calls"] == {}


def test_expired_access_token_is_refreshed_once_then_stored(stack) -> None:
    # Given a connected user whose access token Google now considers expired
    _, session, ids = mailbox(stack, 2)
    [before] = stack.items("TOKENS_TABLE")
    stack.google_control("clock", {"advance_seconds": 3601})
    # When they list their mail
    response = list_messages(session)
    # Then Gmail's 401 led to exactly one refresh and one retry, and the page came back
    assert page_ids(response) == ids
    assert calls(stack) == {LIST: 2, TOKEN: 1}
    # And the new access token is stored (encrypted) for the same grant version
    [after] = stack.items("TOKENS_TABLE")
    assert after["access_token"] != before["access_token"]
    assert after["version"] == before["version"]
    assert after["status"] == {"S": "connected"}
    assert int(after["access_token_expires_at"]["N"]) > time.time() + 3000
    # And the next call (even from a cold container) uses it without refreshing
    access_tokens.clear()
    assert page_ids(list_messages(session)) == ids
    assert calls(stack) == {LIST: 3, TOKEN: 1}


def test_token_about_to_expire_is_refreshed_before_the_call(stack) -> None:
    # Given a stored access token with 30 s left (under the 60 s margin)
    _, session, ids = mailbox(stack, 2)
    [item] = stack.items("TOKENS_TABLE")
    boto3.client("dynamodb").update_item(
        TableName=stack.environment["TOKENS_TABLE"],
        Key={"user_id": item["user_id"]},
        UpdateExpression="SET access_token_expires_at = :soon",
        ExpressionAttributeValues={":soon": {"N": str(int(time.time()) + 30)}},
    )
    # When they list their mail, the token is refreshed first: no 401 round trip
    assert page_ids(list_messages(session)) == ids
    assert calls(stack) == {TOKEN: 1, LIST: 1}


def test_messages_function_never_imports_oauthlib(stack) -> None:
    # Given a connected user whose access token has expired at Google (so the refresh path runs)
    _, session, _ = mailbox(stack, 1)
    stack.google_control("clock", {"advance_seconds": 3601})
    # When a fresh process (a cold Lambda) loads the messages handler and serves the request
    script = (
        "import json, sys\n"
        "from tests.support.product import invoke, json_body\n"
        f"response = invoke('messages', 'GET', '/messages', cookies=[{session!r}])\n"
        "print(json.dumps({'status': response['statusCode'],"
        " 'modules': sorted(m for m in sys.modules if m.split('.')[0] in"
        " ('google_auth_oauthlib', 'oauthlib', 'requests_oauthlib'))}))\n"
    )
    environment = {**os.environ, "PYTHONPATH": f"{ROOT / 'shared'}{os.pathsep}{ROOT}"}
    ran = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr[-2000:]
    outcome = json.loads(ran.stdout.strip().splitlines()[-1])
    # Then it refreshed and answered without oauthlib ever being imported
    assert outcome == {"status": 200, "modules": []}
    assert calls(stack)[TOKEN] == 1


# --- faults --------------------------------------------------------------------------------------


def test_429_with_retry_after_is_waited_out_then_succeeds(stack) -> None:
    _, session, ids = mailbox(stack, 2)
    fault = {"path_prefix": MESSAGES_PREFIX, "status": 429, "count": 1, "retry_after": 1}
    assert stack.google_control("faults", fault).status_code == 201
    started = time.monotonic()
    response = list_messages(session)
    assert page_ids(response) == ids
    assert time.monotonic() - started >= 1.0  # Retry-After honoured
    assert calls(stack) == {LIST: 2}


def test_403_user_rate_limit_is_retried(stack) -> None:
    _, session, ids = mailbox(stack, 2)
    fault = {"path_prefix": MESSAGES_PREFIX, "status": 403, "reason": "userRateLimitExceeded", "count": 2}
    stack.google_control("faults", fault)
    assert page_ids(list_messages(session)) == ids
    assert calls(stack) == {LIST: 3}


def test_persistent_5xx_gives_up_after_four_attempts_with_503(stack) -> None:
    _, session, _ = mailbox(stack, 2)
    stack.google_control("faults", {"path_prefix": MESSAGES_PREFIX, "status": 500, "count": 10})
    response = list_messages(session)
    assert response["statusCode"] == 503
    body = json_body(response)
    assert body["error"] == "google_unavailable"
    assert body["message"]
    assert "retry_after" not in body  # Google did not say
    assert calls(stack) == {LIST: 4}


def test_retry_after_beyond_the_deadline_gives_up_at_once_and_passes_it_on(stack) -> None:
    _, session, _ = mailbox(stack, 2)
    stack.google_control("faults", {"path_prefix": MESSAGES_PREFIX, "status": 429, "retry_after": 30})
    started = time.monotonic()
    response = list_messages(session)
    assert time.monotonic() - started < 2
    assert response["statusCode"] == 503
    assert json_body(response)["retry_after"] == 30
    assert header(response, "Retry-After") == "30"
    assert calls(stack) == {LIST: 1}


def test_latency_beyond_the_timeout_is_503_within_the_deadline(stack, monkeypatch) -> None:
    # Given Gmail answering slower than the configured timeout, every time
    monkeypatch.setenv("GOOGLE_TIMEOUT_SECONDS", "0.5")
    get_settings.cache_clear()
    _, session, _ = mailbox(stack, 2)
    stack.google_control("faults", {"path_prefix": MESSAGES_PREFIX, "latency_ms": 1500, "count": 4})
    # When the user lists their mail
    started = time.monotonic()
    response = list_messages(session)
    elapsed = time.monotonic() - started
    # Then each of the four attempts timed out and the answer is a clean 503, well inside 7 s
    assert response["statusCode"] == 503
    assert json_body(response)["error"] == "google_unavailable"
    assert calls(stack) == {LIST: 4}
    assert elapsed < 7


def test_batched_call_failing_transiently_is_resent_alone(stack) -> None:
    # Given one message whose metadata call fails once inside the batch
    _, session, ids = mailbox(stack, 5)
    flaky = ids[2]
    fault = {"path_prefix": f"{MESSAGES_PREFIX}/{flaky}", "status": 503, "count": 1}
    stack.google_control("faults", fault)
    # When the page is listed with metadata
    response = list_messages(session, "include=metadata")
    # Then every message is there, in order, and only the failed call went in a second batch
    assert page_ids(response) == ids
    assert all(message["subject"] for message in json_body(response)["messages"])
    stats = stack.google_stats()
    assert stats["calls"] == {LIST: 1, BATCH: 2}
    assert stats["batched_calls"] == {GET: 6}


def test_message_gone_between_list_and_metadata_is_dropped(stack) -> None:
    _, session, ids = mailbox(stack, 4)
    stack.google_control("faults", {"path_prefix": f"{MESSAGES_PREFIX}/{ids[1]}", "status": 404})
    response = list_messages(session, "include=metadata")
    assert page_ids(response) == [ids[0], ids[2], ids[3]]
    assert stack.google_stats()["calls"] == {LIST: 1, BATCH: 1}


def test_insufficient_permissions_is_reauthorization_not_retry(stack) -> None:
    # Given Gmail refusing the token's scope
    _, session, _ = mailbox(stack, 1)
    fault = {"path_prefix": MESSAGES_PREFIX, "status": 403, "reason": "insufficientPermissions"}
    stack.google_control("faults", fault)
    # When the user lists their mail
    response = list_messages(session)
    # Then they are sent to reconnect, once, and /me says why
    assert response["statusCode"] == 401
    assert json_body(response)["error"] == "reauthorization_required"
    assert calls(stack) == {LIST: 1}
    me = json_body(invoke("me", "GET", "/me", cookies=[session]))
    assert me["status"] == "reauthorization_required"
    assert me["reauthorization"]["reason"] == "insufficient_scope"


# --- who may see what ----------------------------------------------------------------------------


def test_a_session_only_ever_reaches_its_own_mailbox(stack) -> None:
    # Given two users with distinct mail, both connected
    email_a = new_account(stack)
    email_b = new_account(stack)
    ids_a = {deliver(stack, email_a, **{"from": "a@example.org"}, subject="for A")["id"] for _ in range(6)}
    ids_b = {deliver(stack, email_b, **{"from": "b@example.org"}, subject="for B")["id"] for _ in range(6)}
    _, session_a = connect(stack, email_a)
    _, session_b = connect(stack, email_b)
    page_a = json_body(list_messages(session_a, "maxResults=3"))
    assert {m["id"] for m in page_a["messages"]} <= ids_a
    # When B's session asks with every parameter it can think of, A's included
    attempts = [
        "",
        "maxResults=500",
        urlencode({"q": "from:a@example.org"}),
        urlencode({"q": f"from:{email_a}"}),
        urlencode({"q": "subject:A"}),
        urlencode({"pageToken": page_a["nextPageToken"]}),
        "labelIds=INBOX&include=metadata",
        urlencode({"q": " ".join(sorted(ids_a))}),
    ]
    seen_by_b: set[str] = set()
    for query in attempts:
        response = list_messages(session_b, query)
        seen_by_b |= set(page_ids(response))
        assert all(m.get("from", "b@example.org") == "b@example.org" for m in json_body(response)["messages"])
    # Then B only ever sees B's messages, and never one of A's ids
    assert seen_by_b <= ids_b
    assert not seen_by_b & ids_a
    # And a parameter naming another user is refused outright
    for query in (f"userId={email_a}", f"user_id={email_a}", f"email={email_a}"):
        assert list_messages(session_b, query)["statusCode"] == 400
    # And Gmail was only ever called with B's token (quota charged to B only, after A's page)
    stack.google_control("reset")
    list_messages(session_b)
    assert set(stack.google_stats()["quota_units"]) == {email_b}


@pytest.mark.parametrize(
    "query",
    [
        "maxResults=0",
        "maxResults=501",
        "maxResults=-1",
        "maxResults=ten",
        "maxResults=1e2",
        "maxResults=",
        "maxResults=5&maxResults=6",
        "q=" + "x" * 513,
        "q=a&q=b",
        "q=a%0Ab",
        "pageToken=",
        "pageToken=" + "a" * 257,
        "pageToken=abc%2Fdef",
        "pageToken=abc.def",
        "labelIds=",
        "labelIds=INBOX,",
        "labelIds=" + ",".join(f"L{n}" for n in range(11)),
        "labelIds=" + "L" * 65,
        "labelIds=IN%20BOX",
        "include=full",
        "include=",
        "include=metadata&include=metadata",
        "format=raw",
        "userId=someone%40example.com",
        "x=1",
    ],
)
def test_bad_parameters_are_400_and_touch_nothing(stack, query: str) -> None:
    # Given a connected user
    _, session = connect(stack)
    stack.google_control("reset")
    aws = AwsCalls()
    # When a request carries a bad parameter
    response = list_messages(session, query)
    # Then it is a clear 400 and neither Google nor AWS was called
    assert response["statusCode"] == 400
    body = json_body(response)
    assert body["error"] == "invalid_request"
    assert body["message"]
    assert aws.calls == []
    assert calls(stack) == {}


def test_unauthenticated_is_401_and_calls_nobody(stack) -> None:
    connect(stack)
    stack.google_control("reset")
    for cookies in (None, ["gc_session=" + "a" * 43], ["gc_session=garbage"]):
        response = invoke("messages", "GET", "/messages", cookies=cookies)
        assert response["statusCode"] == 401
        assert json_body(response)["error"] == "unauthenticated"
    response = invoke("messages", "GET", "/messages", headers={"authorization": "Bearer " + "b" * 43})
    assert json_body(response)["error"] == "unauthenticated"
    assert calls(stack) == {}


def test_bearer_session_works_like_the_cookie(stack) -> None:
    _, session, ids = mailbox(stack, 2)
    response = invoke(
        "messages", "GET", "/messages", headers={"authorization": f"Bearer {session_of(session)}"}
    )
    assert page_ids(response) == ids


def test_sample_event_is_served(stack) -> None:
    # The sample event for `sam local invoke` has a fake session: a clean 401, not a crash
    from infra.local_stack.apigw import lambda_context
    from infra.local_stack.handlers import load_handler

    event = json.loads((ROOT / "events" / "messages.json").read_text(encoding="utf-8"))
    response = load_handler("functions/messages", root=ROOT)(event, lambda_context("messages"))
    assert response["statusCode"] == 401
    assert json_body(response)["error"] == "unauthenticated"
