"""Which parts of a Gmail `format=full` payload are the body, and which are attachments.

As mail clients read a MIME tree: `multipart/alternative` offers one body in several types (its
text/plain part is the text, its last text/html part the HTML); `multipart/related` has its body
first and the images that body shows after; `multipart/mixed` (and any other multipart) has
bodies in order, where a text part after the first body that names a disposition is an
attachment. A part with a filename or `Content-Disposition: attachment` is an attachment anywhere,
and a forwarded `message/rfc822` is one attachment: what it holds is not this message's body.
Every other leaf (an image, a PDF, a calendar invitation) is an attachment too, except the other
renderings of an alternative (AMP, text/enriched), which are the same body again.

Gmail's resource is data from outside: a field of the wrong type counts as absent, never raises.
"""

from __future__ import annotations

import base64
import binascii
import email.message
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gmail_connect.gmail.charsets import decode_words

MAX_DEPTH = 32  # deeper nesting is not mail anyone wrote; what lies below is ignored
_MIME_HEADERS = ("content-type", "content-disposition", "content-id")
_NOT_BASE64 = re.compile(r"[^A-Za-z0-9_+/-]")


@dataclass(frozen=True)
class Part:
    """One MIME part as Gmail describes it, with the header fields that decide its role."""

    part_id: str
    mime_type: str
    charset: str | None
    disposition: str | None
    filename: str
    content_id: str | None
    attachment_id: str | None
    data: str
    size: int
    children: tuple[Mapping[str, Any], ...]

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> Part:
        fields = email.message.Message()
        for header in as_list(raw.get("headers")):
            name = str(header.get("name", "")).lower() if isinstance(header, Mapping) else ""
            if name in _MIME_HEADERS and name not in fields:
                fields[name] = " ".join(str(header.get("value", "")).split())
        body = raw.get("body")
        body = body if isinstance(body, Mapping) else {}
        content_id = str(fields.get("content-id", "")).strip().strip("<>").strip()
        return cls(
            part_id=str(raw.get("partId", "")),
            mime_type=str(raw.get("mimeType") or fields.get_content_type()).lower(),
            charset=fields.get_content_charset(),
            disposition=fields.get_content_disposition(),
            filename=decode_words(str(raw.get("filename") or fields.get_filename() or "")),
            content_id=content_id or None,
            attachment_id=str(body["attachmentId"]) if body.get("attachmentId") else None,
            data=body["data"] if isinstance(body.get("data"), str) else "",
            size=body["size"] if isinstance(body.get("size"), int) else 0,
            children=tuple(child for child in as_list(raw.get("parts")) if isinstance(child, Mapping)),
        )

    @property
    def is_text_body_type(self) -> bool:
        return self.mime_type in ("text/plain", "text/html")

    @property
    def is_multipart(self) -> bool:
        return self.mime_type.startswith("multipart/")


@dataclass
class Structure:
    text: list[Part] = field(default_factory=list)
    html: list[Part] = field(default_factory=list)
    attachments: list[Part] = field(default_factory=list)


def structure(message: Mapping[str, Any]) -> Structure:
    """The message's text body parts, HTML body parts and attachments, each in document order."""
    payload = message.get("payload")
    found = Structure()
    if isinstance(payload, Mapping):
        found.text, found.html = _bodies(Part.of(payload), 0, found.attachments, in_alternative=False)
    return found


def _bodies(
    part: Part, depth: int, attachments: list[Part], *, in_alternative: bool
) -> tuple[list[Part], list[Part]]:
    """The text and HTML body parts under `part`; attachments found on the way go to `attachments`."""
    if depth > MAX_DEPTH:
        return [], []
    if not part.is_multipart:
        return _leaf(part, attachments, in_alternative=in_alternative)
    children = [Part.of(child) for child in part.children]
    if part.mime_type == "multipart/alternative":
        found = [_bodies(child, depth + 1, attachments, in_alternative=True) for child in children]
        first_text = next((text for text, _ in found if text), [])
        return first_text, next((html for _, html in reversed(found) if html), [])
    if part.mime_type == "multipart/related" and children:
        for resource in children[1:]:
            _leaves(resource, depth + 1, attachments)
        return _bodies(children[0], depth + 1, attachments, in_alternative=in_alternative)
    text: list[Part] = []
    html: list[Part] = []
    for child in children:
        if (text or html) and child.is_text_body_type and child.disposition:
            attachments.append(child)
            continue
        more_text, more_html = _bodies(child, depth + 1, attachments, in_alternative=False)
        text, html = text + more_text, html + more_html
    return text, html


def _leaf(part: Part, attachments: list[Part], *, in_alternative: bool) -> tuple[list[Part], list[Part]]:
    named = bool(part.filename) or part.disposition == "attachment"
    if part.is_text_body_type and not named:
        return ([part], []) if part.mime_type == "text/plain" else ([], [part])
    other_rendering = (
        in_alternative and part.mime_type.startswith("text/") and part.mime_type != "text/calendar"
    )
    if named or part.content_id or not other_rendering:
        attachments.append(part)
    return [], []


def _leaves(part: Part, depth: int, attachments: list[Part]) -> None:
    """Every leaf under a related body's resource: the images (and the like) that body shows."""
    if depth > MAX_DEPTH:
        return
    if part.is_multipart:
        for child in part.children:
            _leaves(Part.of(child), depth + 1, attachments)
    else:
        attachments.append(part)


def b64url(data: str, limit: int) -> bytes:
    """Gmail's base64url (padded or not) decoded, about `limit` bytes at most; junk characters skipped."""
    encoded = data[: (limit // 3 + 1) * 4]
    for attempt in (encoded, _NOT_BASE64.sub("", encoded)):
        usable = attempt[: len(attempt) - 1] if len(attempt) % 4 == 1 else attempt
        try:
            return base64.urlsafe_b64decode(usable + "=" * (-len(usable) % 4))
        except (binascii.Error, ValueError):
            continue
    return b""


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
