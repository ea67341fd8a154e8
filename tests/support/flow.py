"""The connect flow as the integration tests drive it: authorize -> emulator consent -> callback.

Shared by the connect-flow tests and by every test that needs a connected account first. Each
test has its own emulator accounts (no prior grant), so consent yields a refresh token.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

import requests

from tests.support.consent import decide
from tests.support.product import cookie_value, header, invoke, set_cookies

# Google routes as the emulator counts them (`/_emulator/stats`).
LIST = "GET /gmail/v1/users/{userId}/messages"
GET = "GET /gmail/v1/users/{userId}/messages/{id}"
BATCH = "POST /batch/gmail/v1"
TOKEN = "POST /token"
MESSAGES_PREFIX = "/gmail/v1/users/me/messages"
REVOKE_ROUTE = "POST /revoke"


def start(query: str = "", cookies: list[str] | None = None) -> tuple[str, str]:
    """GET /oauth/authorize; return Google's consent URL and the browser-binding cookie."""
    response = invoke("authorize", "GET", "/oauth/authorize", query=query, cookies=cookies)
    assert response["statusCode"] == 302, response.get("body")
    binding = set_cookies(response)["gc_oauth"]
    return header(response, "Location"), f"gc_oauth={cookie_value(binding)}"


def callback(answer: dict[str, str], binding: str | None) -> dict:
    query = urlencode({key: value for key, value in answer.items() if not key.startswith("_")})
    return invoke("callback", "GET", "/oauth/callback", query=query, cookies=[binding] if binding else None)


def consent(stack: Any, consent_url: str, *, email: str | None = None, **choices: Any) -> dict[str, str]:
    """Decide at Google as `email` (default: the test's own account)."""
    return decide(requests.Session(), consent_url, account=email or stack.email, **choices)


def connect(stack: Any, email: str | None = None) -> tuple[dict, str]:
    """The happy path for `email` (default: the test's account); the callback response and session cookie."""
    email = email or stack.email
    consent_url, binding = start(urlencode({"login_hint": email}))
    response = callback(consent(stack, consent_url, email=email), binding)
    assert response["statusCode"] == 302, response.get("body")
    return response, f"gc_session={cookie_value(set_cookies(response)['gc_session'])}"


def new_account(stack: Any, messages: int = 0) -> str:
    """Another emulator account (a second user), with `messages` generated messages."""
    email = f"user-{uuid.uuid4().hex[:12]}@example.com"
    created = stack.google_control("accounts", {"email": email, "messages": messages})
    assert created.status_code == 201, created.text
    return email


def deliver(stack: Any, email: str, **message: Any) -> dict[str, str]:
    """Deliver one message to `email`'s mailbox; returns its `id`, `threadId`, `historyId`."""
    body = {"from": "Sender <sender@example.org>", "subject": "hello", "body": "hello", **message}
    delivered = stack.google_control(f"accounts/{email}/messages", body)
    assert delivered.status_code == 201, delivered.text
    return delivered.json()  # type: ignore[no-any-return]


def session_of(cookie: str) -> str:
    """The session token in a `gc_session=...` cookie (what an app sends as Bearer)."""
    return cookie.split("=", 1)[1]
