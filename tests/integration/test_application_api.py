"""The application API: connect links, /v1 connections and their reads, lifecycle events.

The handlers run as API Gateway would call them after its AWS_IAM authorizer accepted the
application's signature (the local stack's tests check that front); the browser side (authorize
with the link, Google's consent, the callback) is driven over the emulator as in the connect
tests. Events are read from a queue subscribed to the product's bus.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import boto3
import pytest

from tests.support.flow import LIST, REVOKE_ROUTE, callback, consent, new_account, start
from tests.support.product import header, invoke, json_body, set_cookies

APP = "https://app.example.com"
RETURN_URL = "http://127.0.0.1:8080/settings?tab=mail"  # loopback: allowed locally


@pytest.fixture
def events(stack) -> Any:
    """A queue subscribed to every event of the product's bus; `events()` drains it."""
    sqs, bridge = boto3.client("sqs"), boto3.client("events")
    url = sqs.create_queue(QueueName="app-subscriber")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    bus = stack.environment["MAIL_EVENT_BUS_NAME"]
    bridge.put_rule(Name="app", EventBusName=bus, EventPattern=json.dumps({"source": ["gmail-connect"]}))
    bridge.put_targets(Rule="app", EventBusName=bus, Targets=[{"Id": "app", "Arn": arn}])

    def drain() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            found += [json.loads(message["Body"]) for message in messages]
            sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )
        return found

    return drain


def create_link(body: dict[str, Any] | str) -> dict:
    payload = body if isinstance(body, str) else json.dumps(body)
    return invoke(
        "connect_links",
        "POST",
        "/v1/connect-links",
        body=payload,
        headers={"content-type": "application/json"},
    )


def link_for(external_user_id: str, **extra: Any) -> str:
    response = create_link({"external_user_id": external_user_id, "return_url": RETURN_URL, **extra})
    assert response["statusCode"] == 201, response["body"]
    return str(json_body(response)["url"])


def open_link(url: str) -> tuple[dict, str | None]:
    """The browser opens the link: the authorize response and its state-binding cookie."""
    response = invoke("authorize", "GET", "/oauth/authorize", query=urlsplit(url).query)
    binding = set_cookies(response).get("gc_oauth")
    return response, (binding.split(";", 1)[0] if binding else None)


def connect_through(stack, url: str, email: str, **choices: Any) -> dict:
    """Open the link, decide at Google as `email`, come back: the callback's response."""
    response, binding = open_link(url)
    assert response["statusCode"] == 302, response.get("body")
    return callback(consent(stack, header(response, "Location"), email=email, **choices), binding)


def returned(response: dict) -> tuple[str, dict[str, list[str]]]:
    """Where the callback sent the browser back to the application, and with what."""
    assert response["statusCode"] == 302, response.get("body")
    location = header(response, "Location")
    parts = urlsplit(location)
    return f"{parts.scheme}://{parts.netloc}{parts.path}", parse_qs(parts.query)


def v1(method: str, path: str, query: str = "") -> dict:
    return invoke("connections", method, path, query=query)


def test_an_application_connects_its_user_and_reads_their_mail_while_they_are_away(stack, events) -> None:
    # Given a connect link the application's backend asked for its user u_123
    created = create_link({"external_user_id": "u_123", "return_url": RETURN_URL, "login_hint": stack.email})
    assert created["statusCode"] == 201
    body = json_body(created)
    assert set(body) == {"url", "expires_at"}
    assert body["url"].startswith("http://127.0.0.1:3000/oauth/authorize?link=")
    assert (
        0
        < time.mktime(time.strptime(body["expires_at"][:19], "%Y-%m-%dT%H:%M:%S"))
        - time.mktime(time.gmtime())
        <= 30 * 60
    )
    # And the link is stored only hashed
    [stored_link] = stack.items("LINKS_TABLE")
    assert parse_qs(urlsplit(body["url"]).query)["link"][0] not in json.dumps(stored_link)
    # When the user's browser opens it and consents (the link pre-selected their account)
    response, binding = open_link(body["url"])
    assert parse_qs(urlsplit(header(response, "Location")).query)["login_hint"] == [stack.email]
    back = callback(consent(stack, header(response, "Location")), binding)
    # Then the browser returns to the application with the connection, and no session here
    where, query = returned(back)
    assert where == "http://127.0.0.1:8080/settings"
    assert query["tab"] == ["mail"]
    assert query["status"] == ["connected"]
    (connection_id,) = query["connection_id"]
    assert "gc_session" not in set_cookies(back)
    assert stack.items("SESSIONS_TABLE") == []
    # And the application learns it from the bus
    [connected] = events()
    assert connected["detail-type"] == "gmail.connection.connected"
    assert connected["detail"]["connection_id"] == connection_id
    assert connected["detail"]["external_user_id"] == "u_123"
    assert connected["detail"]["email"] == stack.email
    assert connected["detail"]["new_connection"] is True
    # And its backend lists, reads and pages the connection's mail whenever it likes
    listed = json_body(v1("GET", "/v1/connections", urlencode({"external_user_id": "u_123"})))
    assert [c["connection_id"] for c in listed["connections"]] == [connection_id]
    shown = json_body(v1("GET", f"/v1/connections/{connection_id}"))
    assert shown["external_user_id"] == "u_123"
    assert shown["status"] == "connected"
    assert shown["email"] == stack.email
    assert not {"refresh_token", "access_token", "version", "user_id"} & set(shown)
    page = json_body(v1("GET", f"/v1/connections/{connection_id}/messages", "maxResults=2&include=metadata"))
    assert len(page["messages"]) == 2
    assert {"id", "threadId", "subject", "from"} <= set(page["messages"][0])
    assert "nextPageToken" in page


def test_a_link_is_single_use(stack) -> None:
    url = link_for("u_1")
    first, _ = open_link(url)
    assert first["statusCode"] == 302
    again, _ = open_link(url)
    assert again["statusCode"] == 410
    assert "unknown, expired or already used" in again["body"]
    assert len(stack.items("STATES_TABLE")) == 1


def test_an_expired_link_is_refused(stack) -> None:
    url = link_for("u_1")
    [item] = stack.items("LINKS_TABLE")
    boto3.client("dynamodb").update_item(
        TableName=stack.environment["LINKS_TABLE"],
        Key={"link_id": item["link_id"]},
        UpdateExpression="SET expires_at = :past",
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}},
    )
    response, _ = open_link(url)
    assert response["statusCode"] == 410
    assert stack.items("STATES_TABLE") == []


@pytest.mark.parametrize(
    "query",
    ["link=" + "x" * 43, "link=short", "link=abc&return_to=/me", "link=abc&login_hint=a@b.c"],
)
def test_a_malformed_or_unknown_link_changes_nothing(stack, query: str) -> None:
    response = invoke("authorize", "GET", "/oauth/authorize", query=query)
    assert response["statusCode"] in (400, 410)
    assert stack.items("STATES_TABLE") == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"external_user_id": "u", "return_url": RETURN_URL, "extra": 1}, "Unknown field"),
        ({"external_user_id": 5, "return_url": RETURN_URL}, "external_user_id"),
        ({"external_user_id": "", "return_url": RETURN_URL}, "external_user_id"),
        ({"external_user_id": "u" * 129, "return_url": RETURN_URL}, "external_user_id"),
        ({"external_user_id": "u\n1", "return_url": RETURN_URL}, "external_user_id"),
        ({"return_url": RETURN_URL}, "external_user_id"),
        ({"external_user_id": "u"}, "return_url"),
        ({"external_user_id": "u", "return_url": "https://evil.example/cb"}, "allowed origin"),
        ({"external_user_id": "u", "return_url": "http://evil.example/cb"}, "allowed origin"),
        ({"external_user_id": "u", "return_url": "http://127.0.0.1/cb"}, "allowed origin"),
        ({"external_user_id": "u", "return_url": "javascript:alert(1)"}, "allowed origin"),
        ({"external_user_id": "u", "return_url": "http://u:p@127.0.0.1:8080/"}, "credentials"),
        ({"external_user_id": "u", "return_url": RETURN_URL + "#x"}, "fragment"),
        ({"external_user_id": "u", "return_url": RETURN_URL, "login_hint": "nope"}, "login_hint"),
        ({"external_user_id": "u", "return_url": RETURN_URL, "login_hint": 3}, "login_hint"),
        ("[]", "JSON object"),
        ("{not json", "not valid JSON"),
        ("", "JSON object"),
        (json.dumps({"external_user_id": "u", "return_url": RETURN_URL, "login_hint": "a" * 5000}), "4096"),
    ],
)
def test_bad_link_requests_are_refused_and_store_nothing(stack, body, message: str) -> None:
    response = create_link(body)
    assert response["statusCode"] == 400
    assert message in json_body(response)["message"]
    assert json_body(response)["error"] == "invalid_request"
    assert stack.items("LINKS_TABLE") == []


def test_https_return_urls_need_their_origin_allowed(stack, monkeypatch) -> None:
    from tests.support.product import reset_caches

    body = {"external_user_id": "u", "return_url": f"{APP}/done"}
    assert create_link(body)["statusCode"] == 400
    monkeypatch.setenv("ALLOWED_RETURN_ORIGINS", f"{APP},https://other.example")
    monkeypatch.setenv("ALLOW_LOOPBACK_RETURN_URLS", "0")
    reset_caches()
    assert create_link(body)["statusCode"] == 201
    # And, deployed, loopback and plain http are refused
    assert create_link({"external_user_id": "u", "return_url": RETURN_URL})["statusCode"] == 400
    assert (
        create_link({"external_user_id": "u", "return_url": "http://app.example.com/"})["statusCode"] == 400
    )


def test_a_refused_consent_returns_the_error_to_the_application_and_stores_nothing(stack, events) -> None:
    back = connect_through(stack, link_for("u_1"), stack.email, allow=False)
    where, query = returned(back)
    assert where == "http://127.0.0.1:8080/settings"
    assert query["error"] == ["access_denied"]
    assert "connection_id" not in query
    assert stack.items("TOKENS_TABLE") == []
    assert events() == []


def test_an_unticked_gmail_scope_returns_insufficient_scope(stack) -> None:
    back = connect_through(
        stack, link_for("u_1"), stack.email, untick=("https://www.googleapis.com/auth/gmail.readonly",)
    )
    assert returned(back)[1]["error"] == ["insufficient_scope"]
    assert stack.items("TOKENS_TABLE") == []


def test_a_link_made_for_one_user_never_attaches_the_grant_to_another(stack) -> None:
    # Given links for two application users, the second opened in the same browser first
    link_1, link_2 = link_for("u_1"), link_for("u_2")
    open_link(link_2)
    # When the first is completed
    _, query = returned(connect_through(stack, link_1, stack.email))
    # Then the grant belongs to the user the first link was made for
    shown = json_body(v1("GET", f"/v1/connections/{query['connection_id'][0]}"))
    assert shown["external_user_id"] == "u_1"
    assert json_body(v1("GET", "/v1/connections", "external_user_id=u_2"))["connections"] == []


def test_one_google_account_linked_by_another_user_moves_to_them_and_both_hear_it(stack, events) -> None:
    # Given the account connected for u_1
    _, first = returned(connect_through(stack, link_for("u_1"), stack.email))
    events()
    # When u_2 connects the same Google account through their own link
    _, second = returned(connect_through(stack, link_for("u_2"), stack.email))
    # Then it is u_2's, as a new connection; u_1's is gone, and the bus says both
    assert second["connection_id"] != first["connection_id"]
    assert v1("GET", f"/v1/connections/{first['connection_id'][0]}")["statusCode"] == 404
    assert json_body(v1("GET", "/v1/connections", "external_user_id=u_1"))["connections"] == []
    announced = [
        (e["detail-type"], e["detail"]["external_user_id"], e["detail"].get("reason")) for e in events()
    ]
    assert announced == [
        ("gmail.connection.disconnected", "u_1", "moved_to_another_user"),
        ("gmail.connection.connected", "u_2", None),
    ]


def test_one_application_user_may_connect_several_gmail_accounts(stack) -> None:
    other = new_account(stack, 1)
    _, a = returned(connect_through(stack, link_for("u_1"), stack.email))
    _, b = returned(connect_through(stack, link_for("u_1"), other))
    listed = json_body(v1("GET", "/v1/connections", "external_user_id=u_1"))["connections"]
    assert {c["connection_id"] for c in listed} == {a["connection_id"][0], b["connection_id"][0]}
    assert {c["email"] for c in listed} == {stack.email, other}


def test_deleting_a_connection_revokes_forgets_ends_sessions_and_announces(stack, events) -> None:
    # Given a connection the user also has a browser session for
    _, query = returned(connect_through(stack, link_for("u_1"), stack.email))
    connection_id = query["connection_id"][0]
    consent_url, binding = start(urlencode({"login_hint": stack.email}))
    session = set_cookies(callback(consent(stack, consent_url), binding))["gc_session"].split(";", 1)[0]
    assert invoke("me", "GET", "/me", cookies=[session])["statusCode"] == 200
    events()
    stack.google_control("reset")
    # When the application deletes it
    response = v1("DELETE", f"/v1/connections/{connection_id}")
    # Then: 204, revoked at Google, the grant gone, the session ended, and it is announced
    assert response["statusCode"] == 204
    assert stack.google_stats()["calls"] == {REVOKE_ROUTE: 1}
    assert stack.items("TOKENS_TABLE") == []
    assert json_body(invoke("me", "GET", "/me", cookies=[session]))["error"] == "unauthenticated"
    assert v1("GET", f"/v1/connections/{connection_id}")["statusCode"] == 404
    [gone] = events()
    assert gone["detail-type"] == "gmail.connection.disconnected"
    assert gone["detail"]["connection_id"] == connection_id
    assert gone["detail"]["reason"] == "deleted_by_application"
    # And deleting again is a 404
    assert v1("DELETE", f"/v1/connections/{connection_id}")["statusCode"] == 404


def test_a_connection_needing_reconsent_answers_409_and_is_announced(stack, events) -> None:
    _, query = returned(connect_through(stack, link_for("u_1"), stack.email))
    connection_id = query["connection_id"][0]
    events()
    stack.google_control(f"accounts/{stack.email}/revoke")
    response = v1("GET", f"/v1/connections/{connection_id}/messages")
    assert response["statusCode"] == 409
    body = json_body(response)
    assert body["error"] == "reauthorization_required"
    assert "connect-links" in body["message"]
    assert "authorization_url" not in body
    shown = json_body(v1("GET", f"/v1/connections/{connection_id}"))
    assert shown["status"] == "reauthorization_required"
    assert shown["reauthorization"]["reason"] == "invalid_grant"
    [marked] = events()
    assert marked["detail-type"] == "gmail.connection.reauthorization_required"
    assert marked["detail"]["reason"] == "invalid_grant"
    assert marked["detail"]["external_user_id"] == "u_1"
    # And a new link for the same user reconnects the same connection
    _, again = returned(connect_through(stack, link_for("u_1"), stack.email))
    assert again["connection_id"] == [connection_id]
    assert v1("GET", f"/v1/connections/{connection_id}/messages")["statusCode"] == 200


@pytest.mark.parametrize(
    ("method", "path", "query", "status"),
    [
        ("GET", "/v1/connections/not-a-connection", "", 400),
        ("GET", "/v1/connections/conn_0123456789abcdef01234567", "", 404),
        ("DELETE", "/v1/connections/conn_0123456789abcdef01234567", "", 404),
        ("GET", "/v1/connections/conn_0123456789abcdef01234567/messages", "", 404),
        ("GET", "/v1/connections/conn_0123456789abcdef01234567/messages", "maxResults=0", 400),
        ("GET", "/v1/connections", "", 400),
        ("GET", "/v1/connections", "external_user_id=" + "u" * 129, 400),
        ("GET", "/v1/connections", "external_user_id=u&external_user_id=v", 400),
        ("GET", "/v1/connections/conn_0123456789abcdef01234567", "x=1", 400),
    ],
)
def test_bad_connection_requests_are_refused_before_google(stack, method, path, query, status) -> None:
    response = v1(method, path, query)
    assert response["statusCode"] == status
    assert json_body(response)["error"] in ("invalid_request", "not_found")
    assert LIST not in stack.google_stats()["calls"]
