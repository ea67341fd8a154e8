"""The console at `/`, in Debian's Chromium against `make local`'s stack: the whole journey a person
takes, each state scanned with axe-core, and the page's own defences (CSP, the sandboxed frame).

Screenshots of every state land in test-results/console/.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from playwright.sync_api import expect

from tests.e2e.console_support import (
    ATTACHMENT_BYTES,
    ATTACHMENT_NAME,
    Axe,
    axe_context,
    deliver,
    deliver_report,
    new_mailbox,
    screenshot,
)

LUNCH = "Fish & chips at 12, 'sharp'."  # Gmail's snippet escapes it: &amp; and &#39;


def _connect_from_the_console(page, api: str, email: str) -> None:
    """From the signed-out console through Google's consent, back to the console."""
    page.get_by_role("link", name="Connect Gmail").click()
    page.locator(f'input[name="account"][value="{email}"]').check()
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{api}/")


def _event(page, kind: str, text: str):
    """The panel's entry of that type mentioning `text`."""
    return page.locator("#event-list li").filter(has_text=kind).filter(has_text=text)


@dataclass
class Journey:
    """One person's way through the console, step by step, in one browser context that enforces the
    page's policy; every state is also scanned with axe-core (in its own `bypass_csp` context)."""

    api: str
    google: str
    email: str
    page: Any
    axe: Axe
    report_id: str
    problems: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def rows(self) -> Any:
        return self.page.locator(".message-row")

    def signed_out(self) -> None:
        # Given a browser with no session at the console
        self.page.goto(f"{self.api}/")
        # Then it says what the service is and offers to connect
        expect(self.page.get_by_role("heading", name="Connect a Gmail account")).to_be_visible()
        connect = self.page.get_by_role("link", name="Connect Gmail")
        expect(connect).to_have_attribute("href", "/oauth/authorize?return_to=%2F")
        screenshot(self.page, "01-signed-out")
        self.problems["signed out"] = self.axe.scan(f"{self.api}/", "#signed-out")

    def connect(self) -> None:
        # When the person connects their Gmail through Google's consent
        _connect_from_the_console(self.page, self.api, self.email)
        # Then the console shows the account and the inbox, newest first, snippets decoded, unread marked
        expect(self.page.locator("#account-email")).to_have_text(self.email)
        expect(self.page.locator("#account-status")).to_have_text("Connected")
        expect(self.rows).to_have_count(2)
        expect(self.rows.nth(0)).to_contain_text("Quarterly report")
        expect(self.rows.nth(1)).to_contain_text("Lunch on Friday")
        expect(self.rows.nth(1).locator(".snippet")).to_have_text("Fish & chips at 12, 'sharp'.")
        expect(self.rows.nth(1)).to_have_class(re.compile(r"\bunread\b"))
        expect(self.rows.nth(1)).to_contain_text("Unread.")
        # And, locally, the events panel shows the connection announced on the bus
        expect(_event(self.page, "gmail.connection.connected", self.email)).to_be_visible()
        screenshot(self.page, "02-inbox")
        self.problems["inbox"] = self.axe.scan(f"{self.api}/", ".message-row")

    def search(self) -> None:
        # When they search with Gmail's syntax, Then only the matching message is listed
        self.page.get_by_label("Search (Gmail syntax)").fill("has:attachment")
        self.page.get_by_role("button", name="Search").click()
        expect(self.rows).to_have_count(1)
        expect(self.rows.first).to_contain_text("Quarterly report")
        screenshot(self.page, "03-search")
        # And a label with nothing in it says so
        self.page.get_by_label("Label").select_option("STARRED")
        self.page.get_by_role("button", name="Search").click()
        expect(self.page.locator("#list-status")).to_have_text("No messages match.")
        self.page.get_by_label("Search (Gmail syntax)").fill("")
        self.page.get_by_label("Label").select_option("INBOX")
        self.page.get_by_role("button", name="Search").click()
        expect(self.rows).to_have_count(2)

    def open_message_with_attachment(self) -> None:
        page = self.page
        # When they open the message with the attachment
        route = re.compile(r"^/messages/[^/]+$")
        with page.expect_response(lambda response: bool(route.match(urlsplit(response.url).path))) as opened:
            self.rows.first.click()
        answer = opened.value
        # Then it opens in place, showing what the server can show of it
        expect(page.locator("#message-subject")).to_have_text("Quarterly report")
        expect(page.locator("#mailbox")).to_be_hidden()
        assert page.url == f"{self.api}/#message={self.report_id}"
        if answer.status == 404 and "error" not in answer.json():
            # (GET /messages/{id} is not on this server: the console says so, with what the list knows)
            expect(page.locator("#message-notices")).to_contain_text(
                "Reading a whole message is not available"
            )
            expect(page.locator("#message-text")).to_contain_text("the quarterly report is attached.")
        else:
            assert answer.status == 200, answer.text()
            expect(page.locator("#message-headers")).to_contain_text("Grace Hopper <grace@example.org>")
            frame = page.locator("#message-html")
            expect(frame).to_be_visible()
            assert frame.get_attribute("sandbox") == "allow-popups allow-popups-to-escape-sandbox"
            expect(page.frame_locator("#message-html").locator("b")).to_have_text("quarterly report")
            # And the attachment downloads through the route's short-lived link, byte for byte
            with page.expect_download() as downloading:
                page.get_by_role("button", name=f"Download {ATTACHMENT_NAME}").click()
            download = downloading.value
            assert download.suggested_filename == ATTACHMENT_NAME
            assert Path(download.path()).read_bytes() == ATTACHMENT_BYTES
        screenshot(page, "04-message")
        self.problems["message"] = self.axe.scan(f"{self.api}/#message={self.report_id}", "#message-subject")
        # And going back returns to the list, focus on the message it came from
        page.get_by_role("link", name="Back to the list").click()
        expect(self.rows.first).to_be_focused()

    def deliver_test_message(self) -> None:
        # When they deliver a test message from the local panel
        self.page.get_by_role("button", name="Deliver a test message").click()
        # Then Gmail push (wired by make local) has it synced and announced on the bus, no make sync
        expect(self.page.locator("#deliver-status")).to_contain_text("Gmail push announces it")
        expect(_event(self.page, "gmail.message.received", "Test message")).to_be_visible()
        expect(self.rows.first).to_contain_text("from the console")
        expect(self.page.locator("#account-synced")).not_to_have_text("Not synced yet")
        screenshot(self.page, "05-event-received")

    def lose_access(self) -> None:
        # When the person revokes the app in their Google account, and comes back
        revoked = requests.post(f"{self.google}/_emulator/accounts/{self.email}/revoke", timeout=5)
        assert revoked.status_code == 204
        self.page.goto(f"{self.api}/")
        # Then the console says access was lost, why, and offers to reconnect
        reauth = self.page.locator("#reauth")
        expect(reauth).to_be_visible()
        expect(reauth).to_contain_text("access was removed in the Google account")
        expect(self.page.locator("#account-status")).to_have_text("Needs reconnecting")
        expect(self.page.locator("#list-status")).to_have_text("Reconnect to read this mailbox.")
        reconnect = self.page.get_by_role("link", name="Reconnect")
        expect(reconnect).to_have_attribute("href", re.compile(r"^/oauth/authorize\?.*prompt=consent"))
        expect(_event(self.page, "gmail.connection.reauthorization_required", self.email)).to_be_visible()
        screenshot(self.page, "06-access-lost")
        self.problems["access lost"] = self.axe.scan(f"{self.api}/", "#reauth")

    def reconnect(self) -> None:
        # When they reconnect through Google's consent (forced, their account pre-selected)
        self.page.get_by_role("link", name="Reconnect").click()
        expect(self.page.locator(f'input[name="account"][value="{self.email}"]')).to_be_checked()
        self.page.get_by_role("button", name="Allow").click()
        self.page.wait_for_url(f"{self.api}/")
        # Then the console is back to the connected inbox
        expect(self.page.locator("#account-status")).to_have_text("Connected")
        expect(self.page.locator("#reauth")).to_be_hidden()
        expect(self.rows).to_have_count(3)

    def disconnect(self) -> None:
        page = self.page
        # When they disconnect, Then a dialog asks first; cancelling keeps everything
        page.get_by_role("button", name="Disconnect…").click()
        dialog = page.get_by_role("dialog", name="Disconnect this Gmail account?")
        expect(dialog).to_be_visible()
        screenshot(page, "07-disconnect-dialog")
        self.problems["disconnect dialog"] = self.axe.scan(
            f"{self.api}/",
            ".message-row",
            before=lambda other: other.get_by_role("button", name="Disconnect…").click(),
        )
        dialog.get_by_role("button", name="Cancel").click()
        expect(dialog).to_be_hidden()
        expect(page.locator("#account-status")).to_have_text("Connected")
        # And confirming revokes the grant at Google and signs out
        page.get_by_role("button", name="Disconnect…").click()
        dialog.get_by_role("button", name="Disconnect", exact=True).click()
        expect(page.get_by_role("heading", name="Connect a Gmail account")).to_be_visible()
        expect(page.locator("#notices")).to_contain_text("Disconnected")
        screenshot(page, "08-disconnected")
        assert page.request.get(f"{self.api}/me").status == 401
        grants = requests.get(f"{self.google}/_emulator/accounts/{self.email}", timeout=5).json()["grants"]
        assert all(grant["refresh_tokens"] == 0 for grant in grants), grants


def test_the_whole_journey_in_the_console(local_stack, browser) -> None:
    # Given a mailbox with a note and a report with an attachment
    google = local_stack.google
    email = new_mailbox(google)
    deliver(google, email, **{"from": "Ada <ada@example.net>", "subject": "Lunch on Friday", "body": LUNCH})
    report = deliver_report(google, email)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    axe = axe_context(browser, context)
    journey = Journey(local_stack.api, google, email, context.new_page(), axe, report["id"])
    # When a person goes through every state of the console, Then each step shows what it should
    journey.signed_out()
    journey.connect()
    journey.search()
    journey.open_message_with_attachment()
    journey.deliver_test_message()
    journey.lose_access()
    journey.reconnect()
    journey.disconnect()
    # And no state had a serious or critical accessibility problem
    assert journey.problems == {state: [] for state in journey.problems}, json.dumps(
        journey.problems, indent=2
    )
    axe.context.close()
    context.close()


def test_the_page_policy_blocks_an_injected_inline_script(local_stack, browser) -> None:
    # Given the console in a context that enforces its Content-Security-Policy
    context = browser.new_context()
    page = context.new_page()
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.goto(f"{local_stack.api}/")
    expect(page.get_by_role("link", name="Connect Gmail")).to_be_visible()
    inject = """() => new Promise(resolve => {
        document.addEventListener('securitypolicyviolation', e => resolve(e.violatedDirective), {once: true});
        const script = document.createElement('script');
        script.textContent = 'window.injected = true';
        document.body.append(script);
    })"""
    # When a script creates an inline <script> in the page (what an injection would do)
    directive = page.evaluate(inject)
    # Then it never runs, and the policy reports why
    assert page.evaluate("window.injected === undefined")
    assert directive == "script-src-elem"
    assert any("script-src 'self'" in text for text in violations), violations
    # While the same injection runs where the policy is bypassed (the probe itself works)
    bypassed = browser.new_context(bypass_csp=True)
    other = bypassed.new_page()
    other.goto(f"{local_stack.api}/")
    other.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = 'window.injected = true';"
        " document.body.append(s); }"
    )
    assert other.evaluate("window.injected === true")
    bypassed.close()
    context.close()


def test_google_unavailable_is_a_readable_message_with_a_retry(local_stack, browser) -> None:
    # Given a connected console
    api, google = local_stack.api, local_stack.google
    email = new_mailbox(google)
    deliver(google, email, **{"from": "Ada <ada@example.net>", "subject": "Still here", "body": "hi"})
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{api}/")
    _connect_from_the_console(page, api, email)
    expect(page.locator(".message-row")).to_have_count(1)
    # When Gmail answers 503 with a Retry-After longer than a request may wait, and the page loads
    fault = {"path_prefix": "/gmail/v1/users/me/messages", "status": 503, "count": 1, "retry_after": 30}
    assert requests.post(f"{google}/_emulator/faults", json=fault, timeout=5).status_code == 201
    page.reload()
    # Then it shows what happened in words, with the wait Google asked for, never the raw answer
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Gmail is not answering right now. Try again in 30 seconds.")
    expect(page.locator("body")).not_to_contain_text("google_unavailable")
    screenshot(page, "09-google-unavailable")
    # And "Try again" loads the mail once Google answers
    alert.get_by_role("button", name="Try again").click()
    expect(page.locator(".message-row")).to_have_count(1)
    expect(page.get_by_role("alert")).to_have_count(0)
    context.close()


def test_a_phone_sized_screen_and_the_keyboard_are_enough(local_stack, browser) -> None:
    # Given a phone-sized, touch screen with a connected console
    api, google = local_stack.api, local_stack.google
    email = new_mailbox(google, prefix="phone")
    for subject in ("First note", "Second note"):
        deliver(google, email, **{"from": "Ada <ada@example.net>", "subject": subject, "body": "hi"})
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(f"{api}/")
    _connect_from_the_console(page, api, email)
    rows = page.locator(".message-row")
    expect(rows).to_have_count(2)
    # Then nothing is wider than the screen
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, "10-phone-inbox")
    # When the person moves with Tab only, Then each stop shows a visible focus outline
    page.locator("body").focus()
    for _ in range(20):  # bounded: the first message is a handful of stops away
        page.keyboard.press("Tab")
        assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
        if page.evaluate("document.activeElement.classList.contains('message-row')"):
            break
    expect(rows.first).to_be_focused()
    # And Enter opens the message, with focus on its subject
    page.keyboard.press("Enter")
    expect(page.locator("#message-subject")).to_be_focused()
    expect(page.locator("#message-subject")).to_have_text("Second note")
    screenshot(page, "11-phone-message")
    # And the way back is one Shift+Tab and Enter away, landing on the same message
    page.keyboard.press("Shift+Tab")
    expect(page.get_by_role("link", name="Back to the list")).to_be_focused()
    page.keyboard.press("Enter")
    expect(rows.first).to_be_focused()
    context.close()


def test_a_message_frame_runs_nothing_even_if_the_html_carried_code(local_stack, browser) -> None:
    """Defence in depth: the API sanitises mail HTML; if it ever let code through, the console's
    sandboxed frame still runs no script and loads no remote image unless asked. The answer of
    GET /messages/{id} is replaced here by a hostile one (this tests the page, not the API)."""
    api, google = local_stack.api, local_stack.google
    email = new_mailbox(google, prefix="frame")
    delivered = deliver(google, email, **{"from": "Mallory <m@example.net>", "subject": "Hi", "body": "hi"})
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{api}/")
    _connect_from_the_console(page, api, email)
    hostile = (
        '<p id="text">Hello</p><img src="https://tracker.example/pixel.png" alt="pixel">'
        '<script>parent.document.title = "ran"; document.title = "ran"</script>'
        '<img src="x" onerror="parent.document.title = \'ran\'" alt="broken">'
    )
    headers = {
        "from": "Mallory <m@example.net>", "to": email, "cc": None, "subject": "Hi <b>there</b>",
        "date": "Tue, 14 Nov 2023 22:13:20 +0000", "message_id": "<x@example.net>", "in_reply_to": None,
    }  # fmt: skip
    body = {
        "id": delivered["id"], "threadId": delivered["threadId"], "labelIds": ["INBOX"], "snippet": "Hello",
        "internalDate": "1700000000000", "truncated": False, "text": "Hello", "html": hostile,
        "attachments": [], "headers": headers,
    }  # fmt: skip
    # (the tracker's host answers through the browser's router: a request that got past the page's
    # policies reaches it; one a policy refused never does, and the browser says which directive)
    fetched: list[str] = []
    page.route(
        "https://tracker.example/**",
        lambda route: (fetched.append(route.request.url), route.fulfill(body=b"")),
    )
    page.route(f"**/messages/{delivered['id']}", lambda route: route.fulfill(json=body))

    def refusal(message) -> bool:
        return "tracker.example" in message.text and "Content Security Policy" in message.text

    # When the message opens
    with page.expect_event("console", refusal) as refused:
        page.locator(".message-row").first.click()
    frame = page.frame_locator("#message-html")
    expect(frame.locator("#text")).to_have_text("Hello")
    # Then the subject is text, no script ran in the frame or the page, and the tracker was refused
    expect(page.locator("#message-subject")).to_have_text("Hi <b>there</b>")
    assert page.title() == "Gmail connect"
    assert frame.locator("body").evaluate("() => document.title") != "ran"
    assert '"img-src data:"' in refused.value.text
    assert fetched == []
    # And remote images load only when the person asks
    with page.expect_event("requestfinished", lambda request: "tracker.example" in request.url):
        page.get_by_role("button", name="Show remote images").click()
    assert fetched == ["https://tracker.example/pixel.png"]
    context.close()


def test_pages_walk_the_mailbox_both_ways(local_stack, browser) -> None:
    # Given a mailbox of 25 messages (the console shows 20 a page)
    api, google = local_stack.api, local_stack.google
    email = new_mailbox(google, prefix="pages")
    for number in range(25):
        deliver(
            google, email, **{"from": "Ada <ada@example.net>", "subject": f"Note {number:02}", "body": "hi"}
        )
    page = browser.new_context().new_page()
    page.goto(f"{api}/")
    _connect_from_the_console(page, api, email)
    rows = page.locator(".message-row")
    newer, older = page.get_by_role("button", name="Newer"), page.get_by_role("button", name="Older")
    # Then the first page holds the 20 newest, and only Older is offered
    expect(rows).to_have_count(20)
    expect(rows.first).to_contain_text("Note 24")
    expect(newer).to_be_disabled()
    # When they go to older mail, Then the last 5 follow, and the list says it is the last page
    older.click()
    expect(rows).to_have_count(5)
    expect(rows.first).to_contain_text("Note 04")
    expect(page.locator("#list-status")).to_have_text("Messages 21\u201325 (the last page).")
    expect(older).to_be_disabled()
    # And Newer goes back to the first page
    newer.click()
    expect(rows).to_have_count(20)
    expect(rows.first).to_contain_text("Note 24")
    page.context.close()


def test_a_second_consent_screen_is_explained_where_it_lands(local_stack, browser) -> None:
    # Given a person who connected once without ticking Gmail (a partial grant at Google)
    api, google = local_stack.api, local_stack.google
    email = new_mailbox(google, prefix="partial")
    page = browser.new_context().new_page()
    page.goto(f"{api}/")
    page.get_by_role("link", name="Connect Gmail").click()
    page.locator(f'input[name="account"][value="{email}"]').check()
    page.locator('input[name="scope"][value="https://www.googleapis.com/auth/gmail.readonly"]').uncheck()
    page.get_by_role("button", name="Allow").click()
    expect(page.locator("body")).to_contain_text("Read access to Gmail was not granted")
    # When they connect again from the console, ticking everything
    page.goto(f"{api}/")
    _connect_from_the_console_via_consent(page, email)
    # Then Google's consent comes a second time in a row (this time with consent forced)
    expect(page.locator(f'input[name="account"][value="{email}"]')).to_be_checked()
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{api}/")
    # And the console they land on says why, connected, with the flag gone from the address
    expect(page.locator("#notices")).to_contain_text("Google showed its consent screen a second time")
    expect(page.locator("#account-status")).to_have_text("Connected")
    assert page.url == f"{api}/"
    screenshot(page, "12-consent-again")
    page.context.close()


def _connect_from_the_console_via_consent(page, email: str) -> None:
    """Connect Gmail, choose the account, Allow: up to the next page, wherever it is."""
    page.get_by_role("link", name="Connect Gmail").click()
    page.locator(f'input[name="account"][value="{email}"]').check()
    with page.expect_navigation():
        page.get_by_role("button", name="Allow").click()
