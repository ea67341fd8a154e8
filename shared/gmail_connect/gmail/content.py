"""A Gmail `users.messages.get(format=full)` resource as the API shows a whole message.

Gmail has already undone each part's Content-Transfer-Encoding: `body.data` is base64url of the
decoded bytes (`body.size` counts them), still in the part's own charset. Large bodies, text ones
included, come only as `body.attachmentId`. This module does no I/O: a caller asks
`bodies_to_fetch` which of those it needs, fetches them (`messages.attachments.get`), and passes
their bytes to `message_content`.

Attachments Gmail sent inline (small parts without a filename carry `data`, not `attachmentId`)
get `attachment_id: null`: Gmail cannot serve them separately. `part_id`, Gmail's immutable id of
the part, still names every attachment (Gmail's attachmentIds differ from one fetch to the next);
an inline image among those is shown through a data: URL.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from typing import Any

from gmail_connect.gmail.charsets import decode_text, decode_words
from gmail_connect.gmail.html_text import html_to_text
from gmail_connect.gmail.mime_parts import Part, as_list, b64url, structure
from gmail_connect.gmail.safe_html import sanitise

DEFAULT_MAX_BYTES = 1_000_000
# Our field name -> the header it shows (first occurrence, name case-insensitive).
HEADERS = {
    "from": "from",
    "to": "to",
    "cc": "cc",
    "subject": "subject",
    "date": "date",
    "message_id": "message-id",
    "in_reply_to": "in-reply-to",
}
_RASTER = ("image/png", "image/gif", "image/jpeg", "image/webp", "image/bmp")


def bodies_to_fetch(message: Mapping[str, Any]) -> list[str]:
    """The attachmentIds of the text and HTML bodies Gmail left out of the resource, to fetch first."""
    found = structure(message)
    return [part.attachment_id for part in found.text + found.html if part.attachment_id]


def message_content(
    message: Mapping[str, Any],
    *,
    bodies: Mapping[str, bytes] | None = None,
    cid_url: Callable[[str], str | None] | None = None,
    block_remote_images: bool = False,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> dict[str, Any]:
    """The message's ids, headers, text, sanitised HTML and attachments, ready to serialise.

    `bodies` maps an attachmentId from `bodies_to_fetch` to its decoded bytes (a body not given
    counts as empty). `cid_url(part_id)` is where the API serves an attachment, for `cid:`
    images. `text` and `html` are each cut to `max_bytes` of UTF-8 on a character boundary, HTML
    before it is sanitised; `truncated` says whether either was cut.
    """
    found = structure(message)
    fetched = bodies or {}
    markup, markup_read_in_part = _joined(found.html, fetched, max_bytes, "")
    markup, markup_cut = _cut(markup, max_bytes)
    markup_cut = markup_cut or markup_read_in_part
    html, html_cut, shown = None, False, set[str]()
    if found.html:
        sources = {
            part.content_id: _inline_source(part, cid_url) for part in found.attachments if part.content_id
        }
        html, html_cut, shown = _safe_html(markup, sources, block_remote_images, max_bytes)
    plain, plain_read_in_part = _joined(found.text, fetched, max_bytes, "\n")
    text, text_cut = None, False
    if found.text and (plain.strip() or not found.html):
        text, text_cut = _cut(plain, max_bytes)
        text_cut = text_cut or plain_read_in_part
    elif found.html:
        # HTML only: its readable text, from the same cut markup (so cut whenever that was)
        text, text_cut = _cut(html_to_text(markup), max_bytes)
        text_cut = text_cut or markup_cut
    return {
        "id": message.get("id"),
        "threadId": message.get("threadId"),
        "labelIds": list(as_list(message.get("labelIds"))),
        "snippet": message.get("snippet", ""),
        "internalDate": message.get("internalDate"),
        "headers": _headers(message),
        "text": text,
        "html": html,
        "attachments": [_attachment(part, shown) for part in found.attachments],
        "truncated": markup_cut or html_cut or text_cut,
    }


def _joined(
    parts: list[Part], fetched: Mapping[str, bytes], max_bytes: int, separator: str
) -> tuple[str, bool]:
    """The parts' text in order, CRLF line ends made newlines; and whether a body was read only in part.

    A character's UTF-8 takes at least a quarter of the bytes it was decoded from (UTF-32 spends 4
    on an ASCII letter), so 4 x `max_bytes` of a body always fills the cap: none is decoded whole.
    """
    limit = 4 * max_bytes + 4
    texts, cut = [], False
    for part in parts:
        raw = fetched.get(part.attachment_id, b"") if part.attachment_id else b64url(part.data, limit)
        cut = cut or len(raw) > limit
        # No declared charset means US-ASCII (RFC 2046), read as browsers read it: windows-1252.
        texts.append(decode_text(raw[:limit], part.charset or "us-ascii", complete=len(raw) <= limit))
    return separator.join(texts).replace("\r\n", "\n"), cut


def _cut(text: str, max_bytes: int) -> tuple[str, bool]:
    """At most `max_bytes` of UTF-8, cut on a character boundary; and whether anything was cut."""
    if len(text) <= max_bytes // 4:
        return text, False
    encoded = text.encode("utf-8", "surrogatepass")
    if len(encoded) <= max_bytes:
        return text, False
    return encoded[:max_bytes].decode("utf-8", "ignore"), True


def _safe_html(
    markup: str, sources: Mapping[str, str | None], block_remote_images: bool, max_bytes: int
) -> tuple[str, bool, set[str]]:
    """Sanitised HTML within `max_bytes`, whether more had to be cut for that, and the cids it shows.

    What nh3 adds (rel and target on links, closing tags) can make the output outgrow the cap, so
    the input is cut by the overshoot (and 10 % more) until the output fits; an empty input does.
    """
    cut = False
    while True:
        result = sanitise(markup, inline_images=sources, block_remote_images=block_remote_images)
        size = len(result.html.encode("utf-8"))
        if size <= max_bytes:
            return result.html, cut, result.referenced_cids
        markup, _ = _cut(markup, int(len(markup.encode("utf-8")) * max_bytes / size * 0.9))
        cut = True


def _inline_source(part: Part, cid_url: Callable[[str], str | None] | None) -> str | None:
    """Where an inline image is shown from: the API's attachment route, or its own bytes when small."""
    if part.attachment_id:
        return cid_url(part.part_id) if cid_url else None
    if part.mime_type in _RASTER and part.data:
        payload = base64.b64encode(b64url(part.data, len(part.data))).decode("ascii")
        return f"data:{part.mime_type};base64,{payload}"
    return None


def _headers(message: Mapping[str, Any]) -> dict[str, str | None]:
    payload = message.get("payload")
    first: dict[str, str] = {}
    for header in as_list(payload.get("headers")) if isinstance(payload, Mapping) else []:
        if isinstance(header, Mapping):
            first.setdefault(str(header.get("name", "")).lower(), str(header.get("value", "")))
    # Gmail gives values decoded; an encoded-word that is still there is decoded here.
    return {key: decode_words(first[name]) if name in first else None for key, name in HEADERS.items()}


def _attachment(part: Part, shown: set[str]) -> dict[str, Any]:
    referenced = part.content_id is not None and part.content_id.lower() in shown
    return {
        "attachment_id": part.attachment_id,
        "part_id": part.part_id,
        "filename": part.filename,
        "mime_type": part.mime_type,
        "size": part.size,
        "inline": part.disposition == "inline" or referenced,
        "content_id": part.content_id,
    }
