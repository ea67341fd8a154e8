"""GET /, /console.css, /console.js: the console's page and assets, through the function's handler.

What the browser tests cannot see cheaply: the exact policy and headers, that the page has no
inline code a strict policy would silently break, that assets are cached only under their
current content hash, and that the script never hands text to an HTML parser.
"""

from __future__ import annotations

import hashlib
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.support.product import header, invoke

ASSETS = Path(__file__).resolve().parents[2] / "shared" / "gmail_connect" / "api" / "console"


def policy(response: dict) -> dict[str, list[str]]:
    """The Content-Security-Policy header as directive -> sources."""
    value = header(response, "Content-Security-Policy") or ""
    directives = [part.split() for part in value.split(";") if part.strip()]
    return {words[0]: words[1:] for words in directives}


class _Inline(HTMLParser):
    """Collects what a strict policy would block: inline scripts, styles, handlers, style attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.blocked: list[str] = []
        self.assets: dict[str, str] = {}
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "style":
            self.blocked.append("<style>")
        if tag == "script":
            if not named.get("src"):
                self.blocked.append("inline <script>")
            else:
                self.assets["script"] = named["src"] or ""
        if tag == "link" and named.get("rel") == "stylesheet":
            self.assets["stylesheet"] = named.get("href") or ""
        for name, _ in attrs:
            if name == "style" or name.startswith("on"):
                self.blocked.append(f"{tag}[{name}]")


def page() -> tuple[dict, _Inline]:
    response = invoke("console", "GET", "/")
    parsed = _Inline()
    parsed.feed(response["body"])
    return response, parsed


def test_the_page_is_served_under_a_strict_content_security_policy() -> None:
    # When the browser asks for the console
    response, _ = page()
    # Then it gets HTML that is never cached, framed or sniffed
    assert response["statusCode"] == 200
    assert header(response, "Content-Type") == "text/html; charset=utf-8"
    assert header(response, "Cache-Control") == "no-store"
    assert header(response, "X-Frame-Options") == "DENY"
    assert header(response, "X-Content-Type-Options") == "nosniff"
    assert header(response, "Referrer-Policy") == "no-referrer"
    # And its policy allows code and styles from this origin only: nothing inline, nothing third-party
    directives = policy(response)
    assert directives["default-src"] == ["'none'"]
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["connect-src"] == ["'self'"]
    assert directives["img-src"] == ["'self'", "data:", "https:"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["base-uri"] == ["'none'"]
    assert directives["form-action"] == ["'self'"]
    assert "unsafe" not in (header(response, "Content-Security-Policy") or "")


def test_the_page_has_no_inline_code_the_policy_would_block() -> None:
    # Given the page as served
    _, parsed = page()
    # Then every script and style comes from a file (an inline one would silently not run)
    assert parsed.blocked == []
    assert set(parsed.assets) == {"script", "stylesheet"}


@pytest.mark.parametrize(("kind", "name", "content_type"), [
    ("stylesheet", "console.css", "text/css; charset=utf-8"),
    ("script", "console.js", "text/javascript; charset=utf-8"),
])  # fmt: skip
def test_assets_are_cached_only_under_their_current_content_hash(
    kind: str, name: str, content_type: str
) -> None:
    # Given the asset URL the page links, with its version
    _, parsed = page()
    path, _, query = parsed.assets[kind].partition("?")
    assert path == f"/{name}"
    version = query.removeprefix("v=")
    # When the browser fetches it
    response = invoke("console", "GET", path, query=query)
    # Then it gets the file's bytes, whose hash is the version, cached for good
    assert response["statusCode"] == 200
    assert header(response, "Content-Type") == content_type
    assert header(response, "X-Content-Type-Options") == "nosniff"
    assert response["body"] == (ASSETS / name).read_text(encoding="utf-8")
    assert version == hashlib.sha256(response["body"].encode()).hexdigest()[:16]
    assert header(response, "Cache-Control") == "public, max-age=31536000, immutable"
    # And asked for under another version (a page from an older deploy), it is revalidated each time
    stale = invoke("console", "GET", path, query="v=0000000000000000")
    assert stale["statusCode"] == 200
    assert header(stale, "Cache-Control") == "no-cache"


@pytest.mark.parametrize(
    ("path", "query"), [("/", "debug=1"), ("/", "notice=a&notice=b"), ("/console.js", "x=1")]
)
def test_unknown_or_repeated_parameters_are_refused(path: str, query: str) -> None:
    response = invoke("console", "GET", path, query=query)
    assert response["statusCode"] == 400
    assert '"error":"invalid_request"' in response["body"]


def test_the_landing_notice_parameter_is_accepted() -> None:
    # The callback sends the browser back with ?notice=consent_again after a second consent
    response = invoke("console", "GET", "/", query="notice=consent_again")
    assert response["statusCode"] == 200


def test_the_script_never_parses_text_as_html() -> None:
    # Given the console's script (mail reaches it as JSON: subjects, snippets, headers, events)
    script = (ASSETS / "console.js").read_text(encoding="utf-8")
    # Then nothing in it hands a string to an HTML parser or to the JavaScript compiler
    sinks = r"\.(innerHTML|outerHTML)\b|insertAdjacentHTML|document\.write|\beval\(|new Function\(|DOMParser"
    assert re.findall(sinks, script) == []
