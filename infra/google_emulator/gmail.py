"""Gmail API v1 messages: ``users.messages.list/get``, ``users.messages.attachments.get``,
``users.history.list`` and ``users.getProfile``.

Threads are in ``gmail_threads``, labels in ``gmail_labels``; what every call goes through first
(token, scope, throttling, charging) in ``gmail_access``.
"""

from __future__ import annotations

import re
from typing import Any

from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Request, Response

from . import attachment_ids, errors, gmail_query, gmail_render
from .accounts import Account, HistoryRecord, Message
from .gmail_access import (
    BadArgument,
    authorize,
    bool_arg,
    check_label_ids,
    decode_page,
    encode_page,
    guarded,
    int_arg,
    metadata_only,
)
from .state import State

HISTORY_TYPES = {
    "messageAdded": "messagesAdded",
    "messageDeleted": "messagesDeleted",
    "labelAdded": "labelsAdded",
    "labelRemoved": "labelsRemoved",
}
MESSAGE_ID = re.compile(r"[0-9a-fA-F]{1,32}")


# -- messages -----------------------------------------------------------------------------


def _visible(message: Message, include_spam_trash: bool) -> bool:
    return include_spam_trash or not ({"SPAM", "TRASH"} & set(message.label_ids))


def matching_messages(state: State, account: Account, args: MultiDict[str, str]) -> list[Message]:
    """The messages a list call's ``q``, ``labelIds`` and ``includeSpamTrash`` select, newest first."""
    label_ids = args.getlist("labelIds")
    check_label_ids(account, label_ids)
    query = gmail_query.parse(args.get("q", ""), state.clock.now_ms(), account.labels)
    include_spam_trash = (
        bool_arg(args, "includeSpamTrash")
        or query.mentions_spam_or_trash
        or bool({"SPAM", "TRASH"} & set(label_ids))
    )
    ordered = sorted(account.messages.values(), key=lambda m: (m.internal_date_ms, m.id), reverse=True)
    return [
        m
        for m in ordered
        if all(label in m.label_ids for label in label_ids)
        and _visible(m, include_spam_trash)
        and query.matches(m)
    ]


def _list(state: State, request: Request, user_id: str) -> Response:
    auth = authorize(state, request, user_id, "messages.list")
    if isinstance(auth, Response):
        return auth
    account, token = auth
    if request.args.get("q") and metadata_only(token):
        return errors.forbidden("Metadata scope does not support 'q' parameter")
    max_results = int_arg(request.args, "maxResults", 100, 500)
    matched = matching_messages(state, account, request.args)
    start = 0
    if request.args.get("pageToken"):
        date, last_id = decode_page(request.args["pageToken"], 2)
        if not date.isdigit():
            raise BadArgument("Invalid pageToken")
        after = (int(date), last_id)
        start = next((i for i, m in enumerate(matched) if (m.internal_date_ms, m.id) < after), len(matched))
    page = matched[start : start + max_results]
    body: dict[str, Any] = {}
    if page:
        body["messages"] = [m.ref() for m in page]
    if start + max_results < len(matched):
        body["nextPageToken"] = encode_page(page[-1].internal_date_ms, page[-1].id)
    body["resultSizeEstimate"] = len(matched)
    return errors.json_response(body)


def check_format(fmt: str, formats: tuple[str, ...], token_is_metadata_only: bool) -> Response | None:
    if fmt not in formats:
        raise BadArgument(f"Invalid value for format: {fmt}")
    if fmt in ("full", "raw") and token_is_metadata_only:
        return errors.forbidden(f"Metadata scope doesn't allow format {fmt.upper()}")
    return None


def _get(state: State, request: Request, user_id: str, message_id: str) -> Response:
    auth = authorize(state, request, user_id, "messages.get")
    if isinstance(auth, Response):
        return auth
    account, token = auth
    fmt = request.args.get("format", "full").lower()
    refused = check_format(fmt, gmail_render.FORMATS, metadata_only(token))
    if refused is not None:
        return refused
    if not MESSAGE_ID.fullmatch(message_id):
        raise BadArgument("Invalid id value")
    message = account.messages.get(message_id.lower())
    if message is None:
        return errors.not_found()
    return errors.json_response(gmail_render.resource(message, fmt, request.args.getlist("metadataHeaders")))


def _attachment(state: State, request: Request, user_id: str, parent_id: str, attachment_id: str) -> Response:
    """``parent_id`` is the ``messageId`` path parameter (``id`` is the attachment's)."""
    auth = authorize(state, request, user_id, "messages.attachments.get")
    if isinstance(auth, Response):
        return auth
    account, _ = auth
    message_id = parent_id
    if not MESSAGE_ID.fullmatch(message_id):
        raise BadArgument("Invalid id value")
    message = account.messages.get(message_id.lower())
    if message is None:
        return errors.not_found()
    issued = attachment_ids.read(attachment_id)
    part = message.content.root.find(issued[1]) if issued and issued[0] == message.id else None
    if part is None or part.is_multipart:
        raise BadArgument("Invalid attachment token")
    data = part.body.read()
    return errors.json_response({"size": len(data), "data": gmail_render.b64url(data)})


# -- history ------------------------------------------------------------------------------


def _render_record(record: HistoryRecord, types: set[str]) -> dict[str, Any] | None:
    rendered: dict[str, Any] = {"id": str(record.id), "messages": []}
    for kind, message, labels in record.changes:
        if types and kind not in types:
            continue
        entry: dict[str, Any] = {"message": dict(message)}
        if kind in ("labelAdded", "labelRemoved"):
            entry["labelIds"] = list(labels)
        rendered.setdefault(HISTORY_TYPES[kind], []).append(entry)
        ref = {"id": message["id"], "threadId": message["threadId"]}
        if ref not in rendered["messages"]:
            rendered["messages"].append(ref)
    return rendered if len(rendered) > 2 else None


def _history_start(args: MultiDict[str, str]) -> int:
    start = args.get("startHistoryId", "")
    if not start:
        raise BadArgument("Missing required parameter: startHistoryId")
    if not start.isdigit():
        raise BadArgument(f"Invalid value for startHistoryId: {start}")
    return int(start)


def _history_types(args: MultiDict[str, str]) -> set[str]:
    types = set(args.getlist("historyTypes"))
    for kind in types:
        if kind not in HISTORY_TYPES:
            raise BadArgument(f"Invalid value for historyTypes: {kind}")
    return types


def _history(state: State, request: Request, user_id: str) -> Response:
    auth = authorize(state, request, user_id, "history.list")
    if isinstance(auth, Response):
        return auth
    account, _ = auth
    args = request.args
    start, types = _history_start(args), _history_types(args)
    max_results = int_arg(args, "maxResults", 100, 500)
    records = account.records_after(start)
    if records is None:
        return errors.not_found()
    if args.get("pageToken"):
        (last,) = decode_page(args["pageToken"], 1)
        if not last.isdigit():
            raise BadArgument("Invalid pageToken")
        records = [record for record in records if record.id > int(last)]
    label_id = args.get("labelId")
    selected = (record for record in records if not label_id or record.touches_label(label_id))
    rendered = [item for item in (_render_record(record, types) for record in selected) if item is not None]
    body: dict[str, Any] = {}
    if rendered:
        body["history"] = rendered[:max_results]
    if len(rendered) > max_results:
        body["nextPageToken"] = encode_page(rendered[max_results - 1]["id"])
    body["historyId"] = str(account.history_id)
    return errors.json_response(body)


# -- profile ------------------------------------------------------------------------------


def _profile(state: State, request: Request, user_id: str) -> Response:
    auth = authorize(state, request, user_id, "getProfile")
    if isinstance(auth, Response):
        return auth
    account, _ = auth
    return errors.json_response(
        {
            "emailAddress": account.email,
            "messagesTotal": len(account.messages),
            "threadsTotal": account.thread_count(),
            "historyId": str(account.history_id),
        }
    )


list_messages = guarded(_list)
get_message = guarded(_get)
get_attachment = guarded(_attachment)
list_history = guarded(_history)
get_profile = guarded(_profile)
