"""The consent flow clicked through in headless Chromium against `make local`'s stack."""

from __future__ import annotations

import json
import re
import uuid

import requests

GMAIL_READONLY = "https://www.googleapis.com/auth/gmail.readonly"


def _new_account(local_stack) -> str:
    email = f"browser-{uuid.uuid4().hex[:10]}@example.com"
    created = requests.post(
        f"{local_stack.google}/_emulator/accounts", json={"email": email, "messages": 3}, timeout=5
    )
    assert created.status_code == 201, created.text
    return email


def _me(page) -> dict:
    return json.loads(page.locator("body").inner_text())


def test_allow_connects_and_lands_on_me(local_stack, page) -> None:
    # Given a new Google account and a browser at the product's authorize route
    email = _new_account(local_stack)
    page.goto(f"{local_stack.api}/oauth/authorize?login_hint={email}")
    # Then it shows Google's consent page with the account pre-selected and the scopes to grant
    assert page.url.startswith(f"{local_stack.google}/o/oauth2/v2/auth")
    assert page.locator(f'input[name="account"][value="{email}"]').is_checked()
    assert page.locator(f'input[name="scope"][value="{GMAIL_READONLY}"]').is_checked()
    # When the user allows access
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{local_stack.api}/me")
    # Then /me shows the connected account, and the code is no longer in the address bar
    profile = _me(page)
    assert profile["email"] == email
    assert profile["status"] == "connected"
    assert GMAIL_READONLY in profile["scopes"]
    assert "code=" not in page.url
    cookies = {cookie["name"]: cookie for cookie in page.context.cookies()}
    assert cookies["gc_session"]["httpOnly"] is True
    assert cookies["gc_session"]["sameSite"] == "Lax"


def test_deny_shows_an_error_page_and_connects_nothing(local_stack, page) -> None:
    email = _new_account(local_stack)
    page.goto(f"{local_stack.api}/oauth/authorize?login_hint={email}")
    page.get_by_role("button", name="Deny").click()
    page.wait_for_url(re.compile(r".*/oauth/callback\?.*error=access_denied.*"))
    assert page.locator("h1").inner_text() == "Gmail was not connected"
    me = page.goto(f"{local_stack.api}/me")
    assert me.status == 401


def test_unticking_gmail_does_not_connect(local_stack, page) -> None:
    email = _new_account(local_stack)
    page.goto(f"{local_stack.api}/oauth/authorize?login_hint={email}")
    page.locator(f'input[name="scope"][value="{GMAIL_READONLY}"]').uncheck()
    page.get_by_role("button", name="Allow").click()
    page.wait_for_load_state()
    assert "Read access to Gmail was not granted" in page.locator("body").inner_text()
    assert page.goto(f"{local_stack.api}/me").status == 401


def test_tampered_and_replayed_callbacks_are_refused(local_stack, page) -> None:
    email = _new_account(local_stack)
    callback_urls: list[str] = []
    page.on(
        "request",
        lambda request: callback_urls.append(request.url) if "/oauth/callback?" in request.url else None,
    )
    page.goto(f"{local_stack.api}/oauth/authorize?login_hint={email}")
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{local_stack.api}/me")
    [callback_url] = callback_urls
    profile = _me(page)
    # A replay of the very same callback URL in the same browser (its binding cookie is spent)
    replay = page.goto(callback_url)
    assert replay.status == 400
    assert page.locator("h1").inner_text() == "This sign-in could not be completed"
    # and the connection it made is untouched
    page.goto(f"{local_stack.api}/me")
    # (the connection's own first sync may land meanwhile: only last_sync_at may have moved)
    assert {k: v for k, v in _me(page).items() if k != "last_sync_at"} == {
        k: v for k, v in profile.items() if k != "last_sync_at"
    }
    # A tampered state
    tampered = re.sub(r"state=[^&]+", "state=" + "A" * 43, callback_url)
    response = page.goto(tampered)
    assert response.status == 400
    assert response.headers["cache-control"] == "no-store"
