"""Attachments handed to a client as short-lived presigned S3 GETs, never through Lambda.

Gmail allows attachments of 25 MB and more; a Lambda response stops at 6 MB. So the function
writes the attachment's bytes to a private bucket (public access blocked, SSE, TLS only, objects
expire after a day: template.yaml) and answers with a presigned GET valid for at most 5 minutes.
The URL carries `Content-Disposition: attachment` and a content type from a short list of inert
types (anything else is `application/octet-stream`): an attachment is never served as HTML,
SVG or script from the bucket's origin, whatever the sender declared.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from gmail_connect.core import aws
from gmail_connect.core.config import get_settings
from gmail_connect.core.errors import ServiceUnavailable

SAFE_TYPES = frozenset(
    {
        "application/pdf",
        "application/zip",
        "application/gzip",
        "application/msword",
        "application/vnd.ms-excel",
        "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
        "text/plain",
        "text/csv",
        "text/calendar",
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "image/bmp",
        "audio/mpeg",
        "audio/ogg",
        "video/mp4",
    }
)
FALLBACK_TYPE = "application/octet-stream"
_FILENAME_UNSAFE = re.compile(r'[\x00-\x1f\x7f"\\/]')


@dataclass(frozen=True)
class Download:
    url: str
    expires_at: str


def safe_content_type(declared: str | None) -> str:
    """The declared type if it is inert, else `application/octet-stream` (never text/html)."""
    base = (declared or "").split(";", 1)[0].strip().lower()
    return base if base in SAFE_TYPES else FALLBACK_TYPE


def safe_filename(name: str | None) -> str:
    cleaned = _FILENAME_UNSAFE.sub("_", (name or "").strip())[:200]
    return cleaned or "attachment"


def disposition(filename: str) -> str:
    """RFC 6266: an ASCII fallback and the UTF-8 name (RFC 5987)."""
    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


def object_key(user_id: str, message_id: str, part_id: str) -> str:
    """Per user (hashed: no Google id in a URL), message and part; the same download overwrites it."""
    owner = hashlib.sha256(user_id.encode()).hexdigest()[:32]
    return f"{owner}/{message_id}/{part_id}"


def store(key: str, data: bytes, *, filename: str, content_type: str) -> Download:
    """Write the bytes and return a presigned GET of them."""
    settings = get_settings()
    if not settings.attachments_bucket:
        raise ServiceUnavailable("Attachment downloads are not configured (ATTACHMENTS_BUCKET).")
    s3 = aws.client("s3")
    headers = {"ContentType": safe_content_type(content_type), "ContentDisposition": disposition(filename)}
    s3.put_object(Bucket=settings.attachments_bucket, Key=key, Body=data, **headers)
    seconds = settings.attachment_url_seconds
    url = s3.generate_presigned_url(
        "get_object",
        Params={
            "Bucket": settings.attachments_bucket,
            "Key": key,
            "ResponseContentType": headers["ContentType"],
            "ResponseContentDisposition": headers["ContentDisposition"],
        },
        ExpiresIn=seconds,
    )
    expires = datetime.now(UTC) + timedelta(seconds=seconds)
    return Download(url=str(url), expires_at=expires.isoformat(timespec="seconds"))
