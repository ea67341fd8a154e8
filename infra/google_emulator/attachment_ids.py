"""Attachment ids: opaque, different on every render (as Gmail's are), each valid for its message.

Gmail hands out a new ``attachmentId`` for the same part on every ``messages.get``, so a client
must not use it as a stable key; any id issued for a message works with ``attachments.get`` on
that message, and an id of another message, or a made-up one, is "Invalid attachment token".
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets

_PREFIX = "ANGjdJ"
_PART_ID = re.compile(r"(\d+(\.\d+)*)?")  # "" is the root: a single-part message


def issue(message_id: str, part_id: str) -> str:
    blob = f"{message_id}:{part_id}:".encode() + secrets.token_bytes(96)
    return _PREFIX + base64.urlsafe_b64encode(blob).decode("ascii").rstrip("=")


def read(token: str) -> tuple[str, str] | None:
    """The (message id, part id) an id was issued for, or None when it is not one of ours."""
    if not token.startswith(_PREFIX):
        return None
    body = token[len(_PREFIX) :]
    try:
        blob = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        return None
    fields = blob.split(b":", 2)
    if len(fields) != 3:
        return None
    try:
        message_id, part_id = fields[0].decode("ascii"), fields[1].decode("ascii")
    except UnicodeDecodeError:
        return None
    if not message_id or not _PART_ID.fullmatch(part_id):
        return None
    return message_id, part_id
