"""What the console's browser tests share: screenshots, the axe-core scan, and mailboxes to show.

Screenshots go to test-results/console/ (ignored by git). axe-core comes from npm (package.json,
installed by `make e2e` into node_modules/); it is injected as an inline script, which the
console's own CSP refuses, so scans run in a separate browser context created with Playwright's
`bypass_csp`. Every other context enforces the policy.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-results" / "console"
AXE_SCRIPT = ROOT / "node_modules" / "axe-core" / "axe.min.js"
# WCAG 2.2 A and AA, plus axe's best practices; a scan fails on serious or critical findings.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
BLOCKING_IMPACTS = {"serious", "critical"}
ATTACHMENT_NAME = "quarterly-report.pdf"
ATTACHMENT_BYTES = b"%PDF-1.4\n% a small stand-in for a report\n" + bytes(range(256)) * 8 + b"\n%%EOF\n"


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@dataclass
class Axe:
    """Scans pages of a `bypass_csp` context with the journey's cookies of the moment."""

    context: Any
    journey: Any

    def scan(self, url: str, ready: str, *, before: Any = None) -> list[dict[str, Any]]:
        """Open `url` here, wait for the selector `ready` to be visible, optionally act (`before(page)`),
        and return axe's serious and critical violations."""
        self.context.clear_cookies()
        self.context.add_cookies(self.journey.cookies())
        page = self.context.new_page()
        try:
            page.goto(url)
            page.locator(ready).first.wait_for(state="visible")
            if before is not None:
                before(page)
            page.add_script_tag(path=str(AXE_SCRIPT))
            result = page.evaluate(
                "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, iframes: false})",
                AXE_TAGS,
            )
        finally:
            page.close()
        return [
            {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]]}
            for v in result["violations"]
            if v["impact"] in BLOCKING_IMPACTS
        ]


def axe_context(browser: Any, journey_context: Any) -> Axe:
    if not AXE_SCRIPT.exists():
        pytest.fail(f"{AXE_SCRIPT} is missing: run `npm ci` (make e2e does)")
    return Axe(browser.new_context(bypass_csp=True), journey_context)


def new_mailbox(google: str, prefix: str = "console") -> str:
    """An empty emulator account of its own (the stack is shared by every browser test)."""
    email = f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"
    created = requests.post(f"{google}/_emulator/accounts", json={"email": email, "messages": 0}, timeout=5)
    assert created.status_code == 201, created.text
    return email


def deliver(google: str, email: str, **message: Any) -> dict[str, str]:
    delivered = requests.post(f"{google}/_emulator/accounts/{email}/messages", json=message, timeout=5)
    assert delivered.status_code == 201, delivered.text
    return delivered.json()  # type: ignore[no-any-return]


def deliver_report(google: str, email: str) -> dict[str, str]:
    """A message with text, HTML and a PDF attachment, delivered as RFC 822 bytes."""
    message = EmailMessage()
    message["From"] = "Grace Hopper <grace@example.org>"
    message["To"] = email
    message["Subject"] = "Quarterly report"
    message.set_content("Hello,\n\nthe quarterly report is attached.\n\nGrace\n")
    message.add_alternative(
        "<p>Hello,</p><p>the <b>quarterly report</b> is attached.</p><p>Grace</p>", subtype="html"
    )
    message.add_attachment(ATTACHMENT_BYTES, maintype="application", subtype="pdf", filename=ATTACHMENT_NAME)
    raw = base64.urlsafe_b64encode(message.as_bytes()).decode().rstrip("=")
    return deliver(google, email, raw=raw)
