"""The console at `/`: one static page (HTML, CSS, a little JavaScript) shipped in the layer.

The page holds no data and no credentials: it is the same bytes for everyone, and the browser
calls the API (`/me`, `/messages`, `/oauth/disconnect` …) itself with the session cookie, so the
function serving it needs no AWS permission beyond its logs. No build step: the files in
`console/` are what the browser gets.

The Content-Security-Policy allows scripts and styles only from this origin (the two asset
routes below), no inline code, no third-party origin, and no framing of the console. Mail HTML
(already sanitised by the API) is shown in an `<iframe sandbox srcdoc>`, which inherits this
policy. Asset URLs carry a hash of their content (`?v=`), so a browser may cache them for good
and a new deploy is picked up at the next page load.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from aws_lambda_powertools.event_handler import Response

from gmail_connect.api.web import SECURITY_HEADERS

ASSETS_DIR = Path(__file__).parent / "console"
PAGE_FILE = "index.html"
# The routes serving the page's own CSS and JavaScript, and their content types.
ASSET_TYPES = {
    "console.css": "text/css; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",
}
PAGE_PARAMS = frozenset({"notice"})  # the page reads it (why consent was shown twice)
ASSET_PARAMS = frozenset({"v"})
IMMUTABLE = "public, max-age=31536000, immutable"

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        # Sanitised mail may show images: inline (data:) and remote over https only.
        "img-src 'self' data: https:",
        "connect-src 'self'",  # the page's fetch() calls to the API
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    ]
)
PAGE_HEADERS = {
    **SECURITY_HEADERS,
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}


@dataclass(frozen=True)
class Asset:
    name: str
    content_type: str
    body: str
    version: str  # the first 16 hex digits of the content's SHA-256

    @property
    def url(self) -> str:
        return f"/{self.name}?v={self.version}"


@cache
def asset(name: str) -> Asset:
    """One of the page's assets, read from the layer once per container."""
    body = (ASSETS_DIR / name).read_text(encoding="utf-8")
    version = hashlib.sha256(body.encode("utf-8")).hexdigest()[:16]
    return Asset(name, ASSET_TYPES[name], body, version)


@cache
def page_html() -> str:
    """`index.html` with `{{console.css}}` and `{{console.js}}` replaced by their versioned URLs."""
    html = (ASSETS_DIR / PAGE_FILE).read_text(encoding="utf-8")
    for name in ASSET_TYPES:
        placeholder = "{{" + name + "}}"
        if placeholder not in html:
            raise RuntimeError(f"{PAGE_FILE} does not reference {name}")
        html = html.replace(placeholder, asset(name).url)
    return html


def page() -> Response:
    return Response(
        status_code=200, content_type="text/html; charset=utf-8", body=page_html(), headers=dict(PAGE_HEADERS)
    )


def asset_response(name: str, version: str | None) -> Response:
    """An asset; cached for a year when asked for by its current version, else revalidated."""
    found = asset(name)
    # No Cross-Origin-Resource-Policy: the sandboxed message frame has an opaque origin, and it
    # links console.css too. The files are the same public bytes for everyone.
    headers = {
        "Cache-Control": IMMUTABLE if version == found.version else "no-cache",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }
    return Response(status_code=200, content_type=found.content_type, body=found.body, headers=headers)
