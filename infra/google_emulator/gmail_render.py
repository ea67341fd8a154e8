"""Gmail ``Message`` resources in the formats ``minimal``, ``metadata``, ``full`` and ``raw``.

Every message is a ``multipart/alternative`` with a ``text/plain`` part (``partId`` "0") and a
``text/html`` part ("1"); bodies are base64url with padding, as Gmail sends them.
"""

from __future__ import annotations

import base64
import datetime
import email.utils
import html
import re
from typing import Any

from .accounts import Message

FORMATS = ("minimal", "metadata", "full", "raw")
_BOUNDARY_PREFIX = "000000000000"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii")


def snippet(message: Message) -> str:
    """Gmail's snippet: the start of the text, whitespace collapsed, HTML-escaped."""
    text = re.sub(r"\s+", " ", message.body).strip()[:140]
    return html.escape(text, quote=False).replace("'", "&#39;").replace('"', "&quot;")


def _html_body(message: Message) -> str:
    paragraphs = "".join(f"<p>{html.escape(line)}</p>" for line in message.body.splitlines() if line.strip())
    return f'<div dir="ltr">{paragraphs}</div>'


def _date(message: Message) -> str:
    moment = datetime.datetime.fromtimestamp(message.internal_date_ms / 1000, datetime.UTC)
    return email.utils.format_datetime(moment)


def _boundary(message: Message) -> str:
    return f"{_BOUNDARY_PREFIX}{message.id[-12:]}"


def headers(message: Message) -> list[dict[str, str]]:
    sender_domain = email.utils.parseaddr(message.sender)[1].rpartition("@")[2] or "mail.example"
    pairs = [
        ("Delivered-To", email.utils.parseaddr(message.to)[1] or message.to),
        ("MIME-Version", "1.0"),
        ("Date", _date(message)),
        ("Message-ID", f"<{message.id}@{sender_domain}>"),
        ("Subject", message.subject),
        ("From", message.sender),
        ("To", message.to),
        ("Content-Type", f'multipart/alternative; boundary="{_boundary(message)}"'),
    ]
    return [{"name": name, "value": value} for name, value in pairs]


def raw_bytes(message: Message) -> bytes:
    boundary = _boundary(message)
    head = "".join(f"{h['name']}: {h['value']}\r\n" for h in headers(message))
    text = message.body.replace("\n", "\r\n")
    parts = (
        f'--{boundary}\r\nContent-Type: text/plain; charset="UTF-8"\r\n\r\n{text}\r\n'
        f'--{boundary}\r\nContent-Type: text/html; charset="UTF-8"\r\n\r\n{_html_body(message)}\r\n'
        f"--{boundary}--\r\n"
    )
    return (head + "\r\n" + parts).encode("utf-8")


def _part(part_id: str, mime_type: str, content: str) -> dict[str, Any]:
    data = content.encode("utf-8")
    return {
        "partId": part_id,
        "mimeType": mime_type,
        "filename": "",
        "headers": [{"name": "Content-Type", "value": f'{mime_type}; charset="UTF-8"'}],
        "body": {"size": len(data), "data": _b64url(data)},
    }


def resource(message: Message, fmt: str, metadata_headers: list[str] | None = None) -> dict[str, Any]:
    raw = raw_bytes(message)
    body: dict[str, Any] = {
        "id": message.id,
        "threadId": message.thread_id,
        "labelIds": list(message.label_ids),
        "snippet": snippet(message),
    }
    if fmt == "metadata":
        wanted = {name.lower() for name in metadata_headers or []}
        body["payload"] = {
            "partId": "",
            "mimeType": "multipart/alternative",
            "filename": "",
            "headers": [h for h in headers(message) if not wanted or h["name"].lower() in wanted],
        }
    elif fmt == "full":
        body["payload"] = {
            "partId": "",
            "mimeType": "multipart/alternative",
            "filename": "",
            "headers": headers(message),
            "body": {"size": 0},
            "parts": [_part("0", "text/plain", message.body), _part("1", "text/html", _html_body(message))],
        }
    body["sizeEstimate"] = len(raw)
    if fmt == "raw":
        body["raw"] = _b64url(raw)
    body["historyId"] = str(message.history_id)
    body["internalDate"] = str(message.internal_date_ms)
    return body
