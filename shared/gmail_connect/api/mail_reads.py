"""Reading mail beyond a list page: a whole message, an attachment, threads.

Shared by the session routes (`/messages/{id}`, `/threads`...) and the application API
(`/v1/connections/{id}/messages/{id}`...): the caller names the account through its
`StoredCredentials`; ids are checked before Google is called.

Costs, asserted in the tests: a message is one `messages.get` (5 quota units), plus one
`attachments.get` per body Gmail left out because of its size; a thread is one `threads.get`
(10 units); a thread page one `threads.list` (10 units). An attachment download is one
`messages.get` and one `attachments.get`: Gmail's attachment ids change from one read to the
next, so the API names an attachment by its part id (stable) and finds the part again.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from typing import Any

from gmail_connect.api.messages import PageRequest, shape
from gmail_connect.core.errors import InvalidRequest, NotFound
from gmail_connect.gmail import content, retry
from gmail_connect.gmail.client import Gmail
from gmail_connect.gmail.credentials import StoredCredentials
from gmail_connect.gmail.mime_parts import structure
from gmail_connect.store import attachment_files

_GMAIL_ID = re.compile(r"[0-9A-Za-z]{1,64}")
_PART_ID = re.compile(r"[0-9]{1,4}(\.[0-9]{1,4}){0,15}")
CidUrl = Callable[[str, str], str]
"""(message id, part id) -> where this API serves that attachment."""


def message_id(value: str) -> str:
    if not _GMAIL_ID.fullmatch(value):
        raise InvalidRequest("The message or thread id is malformed.")
    return value


def part_id(value: str) -> str:
    if not _PART_ID.fullmatch(value):
        raise InvalidRequest("The attachment id is malformed (a part id such as 1 or 0.2).")
    return value


def message(credentials: StoredCredentials, message_id_: str, *, cid_url: CidUrl) -> dict[str, Any]:
    """The whole message: headers, text, sanitised HTML, attachments (by part id)."""
    message_id(message_id_)
    gmail = Gmail(credentials, deadline=retry.Deadline())
    with credentials.judging():
        resource = gmail.get_message(message_id_)
        bodies = {
            attachment_id: _bytes(gmail.get_attachment(message_id_, attachment_id))
            for attachment_id in content.bodies_to_fetch(resource)
        }
    shown = content.message_content(resource, bodies=bodies, cid_url=lambda part: cid_url(message_id_, part))
    for attachment in shown["attachments"]:
        attachment["attachment_id"] = attachment.pop("part_id")
    return shown


def attachment(credentials: StoredCredentials, message_id_: str, part_id_: str) -> dict[str, Any]:
    """A presigned, short-lived URL of the attachment's bytes, with its name, type and size."""
    message_id(message_id_)
    part_id(part_id_)
    gmail = Gmail(credentials, deadline=retry.Deadline(25.0))
    with credentials.judging():
        resource = gmail.get_message(message_id_)
        part = next((p for p in structure(resource).attachments if p.part_id == part_id_), None)
        if part is None:
            raise NotFound("This message has no such attachment.")
        fetched = gmail.get_attachment(message_id_, part.attachment_id) if part.attachment_id else None
    data = _bytes(fetched if fetched is not None else {"data": part.data})
    filename = attachment_files.safe_filename(part.filename)
    download = attachment_files.store(
        attachment_files.object_key(credentials.user_id, message_id_, part_id_),
        data,
        filename=filename,
        content_type=part.mime_type,
    )
    return {
        "url": download.url,
        "filename": filename,
        "mime_type": attachment_files.safe_content_type(part.mime_type),
        "size": len(data),
        "expires_at": download.expires_at,
    }


def threads_page(credentials: StoredCredentials, request: PageRequest) -> dict[str, Any]:
    """One page of threads: `{"threads": [{"id", "snippet", "historyId"}], "nextPageToken"?}`."""
    gmail = Gmail(credentials, deadline=retry.Deadline())
    with credentials.judging():
        listed = gmail.list_threads(
            q=request.q,
            label_ids=list(request.label_ids) or None,
            page_token=request.page_token,
            max_results=request.max_results,
        )
    body: dict[str, Any] = {
        "threads": [
            {"id": str(t["id"]), "snippet": t.get("snippet", ""), "historyId": t.get("historyId")}
            for t in listed.get("threads") or []
            if isinstance(t, dict) and t.get("id")
        ]
    }
    if listed.get("nextPageToken"):
        body["nextPageToken"] = listed["nextPageToken"]
    body["resultSizeEstimate"] = int(listed.get("resultSizeEstimate", len(body["threads"])))
    return body


def thread(credentials: StoredCredentials, thread_id: str) -> dict[str, Any]:
    """A thread with its messages' metadata, in the shape `/messages?include=metadata` uses."""
    message_id(thread_id)
    gmail = Gmail(credentials, deadline=retry.Deadline())
    with credentials.judging():
        found = gmail.get_thread(thread_id)
    return {
        "id": found.get("id", thread_id),
        "historyId": found.get("historyId"),
        "messages": [shape(m) for m in found.get("messages") or [] if isinstance(m, dict) and m.get("id")],
    }


def _bytes(resource: dict[str, Any]) -> bytes:
    data = str(resource.get("data") or "")
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
