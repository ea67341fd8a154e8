"""Reading mail, losing and regaining access, disconnecting: in Chromium against `make local`'s stack."""

from __future__ import annotations

import json
import uuid

import requests


def _connected_browser(local_stack, page, messages: int = 3) -> str:
    """A new Google account holding `messages` inbox messages, connected in this browser."""
    email = f"mailbox-{uuid.uuid4().hex[:10]}@example.com"
    created = requests.post(
        f"{local_stack.google}/_emulator/accounts", json={"email": email, "messages": 0}, timeout=5
    )
    assert created.status_code == 201, created.text
    for number in range(messages):
        delivered = requests.post(
            f"{local_stack.google}/_emulator/accounts/{email}/messages",
            json={
                "from": "Ada <ada@example.net>",
                "subject": f"Note {number}",
                "body": "Hello",
                "labelIds": ["INBOX"],
            },
            timeout=5,
        )
        assert delivered.status_code == 201, delivered.text
    page.goto(f"{local_stack.api}/oauth/authorize?login_hint={email}")
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{local_stack.api}/me")
    return email


def _json_page(page, url: str) -> tuple[int, dict]:
    response = page.goto(url)
    return response.status, json.loads(page.locator("body").inner_text())


def test_messages_with_metadata_are_the_users_own(local_stack, page) -> None:
    # Given a browser connected to a mailbox of 3 messages
    email = _connected_browser(local_stack, page, messages=3)
    # When it asks for its messages with metadata
    status, body = _json_page(page, f"{local_stack.api}/messages?include=metadata&maxResults=2")
    # Then it gets one page of 2 with the headers, and a token for the next
    assert status == 200
    assert len(body["messages"]) == 2
    assert all(email in (message["to"] or "") for message in body["messages"])
    assert {message["subject"] for message in body["messages"]} == {"Note 2", "Note 1"}  # newest first
    assert {"id", "threadId", "labelIds", "snippet", "from", "subject", "date"} <= set(body["messages"][0])
    status, rest = _json_page(page, f"{local_stack.api}/messages?pageToken={body['nextPageToken']}")
    assert status == 200
    assert len(rest["messages"]) == 1
    assert rest["messages"][0]["id"] not in {message["id"] for message in body["messages"]}


def test_revoked_access_leads_back_through_consent(local_stack, page) -> None:
    # Given a connected browser whose user then revokes the app in their Google account
    email = _connected_browser(local_stack, page)
    assert (
        requests.post(f"{local_stack.google}/_emulator/accounts/{email}/revoke", timeout=5).status_code == 204
    )
    # When it lists messages, Then it is told to reauthorize, with the URL that does it
    status, body = _json_page(page, f"{local_stack.api}/messages")
    assert status == 401
    assert body["error"] == "reauthorization_required"
    assert body["authorization_url"].startswith(f"{local_stack.api}/oauth/authorize?prompt=consent")
    status, me = _json_page(page, f"{local_stack.api}/me")
    assert me["status"] == "reauthorization_required"
    # And following that URL through Google's consent reconnects the account
    page.goto(body["authorization_url"])
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{local_stack.api}/me")
    assert json.loads(page.locator("body").inner_text())["status"] == "connected"
    status, body = _json_page(page, f"{local_stack.api}/messages")
    assert status == 200
    assert body["messages"]


def test_disconnect_from_the_page_revokes_and_signs_out(local_stack, page) -> None:
    email = _connected_browser(local_stack, page)
    # A same-origin POST from the product's own page, as an app's front end would make it
    status = page.evaluate("fetch('/oauth/disconnect', {method: 'POST'}).then(response => response.status)")
    assert status == 204
    assert page.goto(f"{local_stack.api}/me").status == 401
    grants = requests.get(f"{local_stack.google}/_emulator/accounts/{email}", timeout=5).json()["grants"]
    assert all(grant["refresh_tokens"] == 0 for grant in grants), grants
