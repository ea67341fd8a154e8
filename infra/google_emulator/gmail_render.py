"""Gmail ``Message`` and ``Thread`` resources, in the formats ``minimal``, ``metadata``, ``full``, ``raw``.

``payload`` mirrors the message's MIME tree: ``partId`` "" for the root, then "0", "1", "1.0"...;
headers as Gmail shows them (decoded); each leaf's decoded body as base64url ``data`` (padded, as
Gmail sends it) or, for files, non-text and large parts, an ``attachmentId`` (new on every render)
and its ``size`` only. Empty repeated fields are left out, as Gmail leaves them out.
"""

from __future__ import annotations

import base64
import html
import re
from typing import Any

from . import attachment_ids
from .accounts import Message
from .mime import Part

FORMATS = ("minimal", "metadata", "full", "raw")
THREAD_FORMATS = ("minimal", "metadata", "full")
SNIPPET_LENGTH = 140


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii")


def snippet(message: Message) -> str:
    """Gmail's snippet: the start of the readable text, whitespace collapsed, HTML-escaped."""
    text = re.sub(r"\s+", " ", message.body).strip()[:SNIPPET_LENGTH]
    return html.escape(text, quote=False).replace("'", "&#39;").replace('"', "&quot;")


def _headers(part: Part, wanted: set[str] | None = None) -> list[dict[str, str]]:
    return [
        {"name": name, "value": value} for name, value in part.headers if not wanted or name.lower() in wanted
    ]


def _body(message_id: str, part_id: str, part: Part) -> dict[str, Any]:
    if part.is_multipart:
        return {"size": 0}
    if part.is_attachment:
        return {"attachmentId": attachment_ids.issue(message_id, part_id), "size": part.body.size}
    data = part.body.read()
    return {"size": len(data), "data": b64url(data)} if data else {"size": 0}


def _payload(message_id: str, part: Part, part_id: str = "") -> dict[str, Any]:
    rendered: dict[str, Any] = {
        "partId": part_id,
        "mimeType": part.mime_type,
        "filename": part.filename,
        "headers": _headers(part),
        "body": _body(message_id, part_id, part),
    }
    if part.parts:
        rendered["parts"] = [
            _payload(message_id, child, f"{part_id}.{n}" if part_id else str(n))
            for n, child in enumerate(part.parts)
        ]
    return rendered


def resource(message: Message, fmt: str, metadata_headers: list[str] | None = None) -> dict[str, Any]:
    root = message.content.root
    body: dict[str, Any] = {"id": message.id, "threadId": message.thread_id}
    if message.label_ids:
        body["labelIds"] = list(message.label_ids)
    body["snippet"] = snippet(message)
    if fmt == "metadata":
        wanted = {name.lower() for name in metadata_headers or []}
        body["payload"] = {
            "partId": "",
            "mimeType": root.mime_type,
            "filename": root.filename,
            "headers": _headers(root, wanted),
        }
    elif fmt == "full":
        body["payload"] = _payload(message.id, root)
    body["sizeEstimate"] = message.content.size_estimate
    if fmt == "raw":
        body["raw"] = b64url(message.content.raw())
    body["historyId"] = str(message.history_id)
    body["internalDate"] = str(message.internal_date_ms)
    return body


def thread_history_id(messages: list[Message]) -> str:
    return str(max(message.history_id for message in messages))


def thread_resource(
    thread_id: str, messages: list[Message], fmt: str, metadata_headers: list[str] | None = None
) -> dict[str, Any]:
    """``threads.get``: the thread's messages oldest first, each in ``fmt``."""
    return {
        "id": thread_id,
        "historyId": thread_history_id(messages),
        "messages": [resource(message, fmt, metadata_headers) for message in messages],
    }
