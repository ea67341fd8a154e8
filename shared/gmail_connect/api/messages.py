"""`GET /messages`: one page of the signed-in user's mail, the guide's `ListMessages` one page per call.

Parameters are checked before anything is read (a bad one is a 400 that touches nothing); the
user id comes only from the session. The page is the list call, plus one batch request per 50
messages when metadata is asked for, all within one request deadline.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gmail_connect.core.errors import InvalidRequest
from gmail_connect.gmail import retry
from gmail_connect.gmail.client import Gmail
from gmail_connect.gmail.credentials import StoredCredentials

PARAMS = frozenset({"q", "pageToken", "maxResults", "labelIds", "include"})
THREAD_PARAMS = PARAMS - {"include"}
MAX_Q = 512
MAX_PAGE_TOKEN = 256
MAX_LABELS = 10
DEFAULT_MAX_RESULTS = 25
MAX_RESULTS = 500
_PAGE_TOKEN = re.compile(r"[A-Za-z0-9_-]+")
_LABEL = re.compile(r"[A-Za-z0-9_-]{1,64}")
_NUMBER = re.compile(r"[0-9]{1,3}")
# Our field name -> the Gmail header it shows.
_HEADERS = {"from": "From", "to": "To", "subject": "Subject", "date": "Date"}


@dataclass(frozen=True)
class PageRequest:
    q: str | None = None
    page_token: str | None = None
    max_results: int = DEFAULT_MAX_RESULTS
    label_ids: tuple[str, ...] = ()
    metadata: bool = False


def parse(params: Mapping[str, str]) -> PageRequest:
    """Validate the query parameters (already split by `inputs.query_params`); InvalidRequest otherwise."""
    unknown = set(params) - PARAMS
    if unknown:
        raise InvalidRequest(f"Unknown query parameter: {sorted(unknown)[0][:40]!r}.")
    q = params.get("q")
    if q is not None and len(q) > MAX_Q:
        raise InvalidRequest(f"q must be at most {MAX_Q} characters.")
    page_token = params.get("pageToken")
    if page_token is not None and (len(page_token) > MAX_PAGE_TOKEN or not _PAGE_TOKEN.fullmatch(page_token)):
        raise InvalidRequest(f"pageToken must be 1-{MAX_PAGE_TOKEN} characters of A-Z, a-z, 0-9, '_' or '-'.")
    return PageRequest(
        q=q or None,
        page_token=page_token,
        max_results=_max_results(params.get("maxResults")),
        label_ids=_label_ids(params.get("labelIds")),
        metadata=_include(params.get("include")),
    )


def _max_results(value: str | None) -> int:
    if value is None:
        return DEFAULT_MAX_RESULTS
    if not _NUMBER.fullmatch(value) or not 1 <= int(value) <= MAX_RESULTS:
        raise InvalidRequest(f"maxResults must be a whole number from 1 to {MAX_RESULTS}.")
    return int(value)


def _label_ids(value: str | None) -> tuple[str, ...]:
    if value is None:
        return ()
    labels = value.split(",")
    if len(labels) > MAX_LABELS or not all(_LABEL.fullmatch(label) for label in labels):
        raise InvalidRequest(
            f"labelIds must be up to {MAX_LABELS} comma-separated label ids (A-Z, a-z, 0-9, '_', '-')."
        )
    return tuple(dict.fromkeys(labels))


def _include(value: str | None) -> bool:
    if value is None:
        return False
    if value != "metadata":
        raise InvalidRequest("include may only be 'metadata'.")
    return True


def page(credentials: StoredCredentials, request: PageRequest) -> dict[str, Any]:
    """One page of the account's messages, shaped for the API (never Gmail's raw payload)."""
    gmail = Gmail(credentials, deadline=retry.Deadline())
    with credentials.judging():
        listed = gmail.list_messages(
            q=request.q,
            label_ids=list(request.label_ids) or None,
            page_token=request.page_token,
            max_results=request.max_results,
        )
        refs = [
            {"id": str(ref["id"]), "threadId": str(ref.get("threadId", ""))}
            for ref in listed.get("messages") or []
            if isinstance(ref, dict) and ref.get("id")
        ]
        if request.metadata and refs:
            refs = [shape(message) for message in gmail.get_metadata([ref["id"] for ref in refs])]
    body: dict[str, Any] = {"messages": refs}
    if listed.get("nextPageToken"):
        body["nextPageToken"] = listed["nextPageToken"]
    body["resultSizeEstimate"] = int(listed.get("resultSizeEstimate", len(refs)))
    return body


def shape(message: Mapping[str, Any]) -> dict[str, Any]:
    """A `format=metadata` message as the API shows it: ids, labels, snippet, four headers, date."""
    headers: dict[str, str] = {}
    for header in (message.get("payload") or {}).get("headers") or []:
        name = str(header.get("name", "")).lower()
        if name in _HEADERS and name not in headers:
            headers[name] = str(header.get("value", ""))
    return {
        "id": message["id"],
        "threadId": message.get("threadId"),
        "labelIds": list(message.get("labelIds") or []),
        "snippet": message.get("snippet", ""),
        **{field: headers.get(field) for field in _HEADERS},
        "internalDate": message.get("internalDate"),
    }
