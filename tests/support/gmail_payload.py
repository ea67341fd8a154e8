"""An RFC 822 message as Gmail's `users.messages.get(format=full)` resource shows it, for tests.

What Gmail does, as its reference and captured responses show: the payload is the root part
(`partId` ""), its children are "0", "1", … and theirs "0.0", "0.1", …; each part keeps its own
headers; `body.data` is base64url (padded) of the part's bytes after the Content-Transfer-Encoding
is undone, and `body.size` counts those bytes; container parts have `{"size": 0}`. A part with a
filename, a forwarded `message/rfc822`, or a body above a size threshold comes as
`body.attachmentId` instead, for `messages.attachments.get`. Gmail does not publish that
threshold; `inline_limit` stands in for it. Header values are given decoded from RFC 2047 as
Gmail gives them, unless `decode_headers=False` (to show an encoded-word that was not decoded).
"""

from __future__ import annotations

import base64
import email
import email.policy
import hashlib
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any

MAIL = Path(__file__).resolve().parents[1] / "fixtures" / "mail"
INLINE_LIMIT = 64 * 1024


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii")


@dataclass
class GmailMessage:
    """The `format=full` resource, and what `messages.attachments.get` would serve for it."""

    resource: dict[str, Any]
    attachments: dict[str, bytes] = field(default_factory=dict)


def load(name: str, **options: Any) -> GmailMessage:
    """A corpus message (tests/fixtures/mail/<name>) as Gmail would return it."""
    return from_bytes((MAIL / name).read_bytes(), message_id=Path(name).stem, **options)


def from_bytes(
    raw: bytes,
    *,
    message_id: str = "18f0c0ffee000001",
    inline_limit: int = INLINE_LIMIT,
    decode_headers: bool = True,
) -> GmailMessage:
    policy = email.policy.default if decode_headers else email.policy.compat32
    parsed = email.message_from_bytes(raw, policy=policy)
    result = GmailMessage({})
    payload = _Converter(message_id, inline_limit, result.attachments).part(parsed, "")
    result.resource = {
        "id": message_id,
        "threadId": message_id,
        "labelIds": ["INBOX", "UNREAD"],
        "snippet": "",
        "payload": payload,
        "sizeEstimate": len(raw),
        "historyId": "1001",
        "internalDate": "1767225600000",
    }
    return result


@dataclass
class _Converter:
    message_id: str
    inline_limit: int
    store: dict[str, bytes]

    def part(self, message: Message, part_id: str) -> dict[str, Any]:
        mime_type = message.get_content_type()
        node: dict[str, Any] = {
            "partId": part_id,
            "mimeType": mime_type,
            "filename": message.get_filename() or "",
            "headers": [
                {"name": name, "value": " ".join(str(value).split())} for name, value in message.items()
            ],
        }
        payload = message.get_payload()
        if message.is_multipart() and isinstance(payload, list):
            children = [child for child in payload if isinstance(child, Message)]
            node["body"] = {"size": 0}
            if mime_type == "message/rfc822":
                # The forwarded message is one attachment; Gmail also shows the tree inside it.
                node["body"] = self.external(part_id, children[0].as_bytes())
                node["parts"] = [self.part(children[0], f"{part_id}.0")]
            else:
                node["parts"] = [
                    self.part(child, self.child_id(part_id, index)) for index, child in enumerate(children)
                ]
            return node
        data = message.get_payload(decode=True)
        data = data if isinstance(data, bytes) else b""
        if node["filename"] or len(data) > self.inline_limit:
            node["body"] = self.external(part_id, data)
        else:
            node["body"] = {"size": len(data), "data": b64url(data)}
        return node

    def external(self, part_id: str, data: bytes) -> dict[str, Any]:
        digest = hashlib.sha256(f"{self.message_id}/{part_id}".encode()).digest()
        attachment_id = "ANGjdJ" + b64url(digest).rstrip("=")
        self.store[attachment_id] = data
        return {"attachmentId": attachment_id, "size": len(data)}

    @staticmethod
    def child_id(parent: str, index: int) -> str:
        return f"{parent}.{index}" if parent else str(index)
