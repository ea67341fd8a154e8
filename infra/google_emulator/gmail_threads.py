"""Gmail API v1 threads: ``users.threads.list`` and ``users.threads.get``.

A thread is listed when any of its messages matches ``q`` and ``labelIds`` (labels are per
message; a thread "has" a label when one of its messages does), newest matching message first.
Each item carries the snippet of the thread's latest message and the thread's ``historyId`` (the
last record that touched any of its messages). ``threads.get`` returns every message, spam and
trash included, oldest first.
"""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request, Response

from . import errors, gmail_render
from .accounts import Message
from .gmail import MESSAGE_ID, check_format, matching_messages
from .gmail_access import BadArgument, authorize, decode_page, encode_page, guarded, int_arg, metadata_only
from .state import State


def _list(state: State, request: Request, user_id: str) -> Response:
    auth = authorize(state, request, user_id, "threads.list")
    if isinstance(auth, Response):
        return auth
    account, token = auth
    if request.args.get("q") and metadata_only(token):
        return errors.forbidden("Metadata scope does not support 'q' parameter")
    max_results = int_arg(request.args, "maxResults", 100, 500)
    newest: dict[str, Message] = {}  # thread id -> its newest matching message, newest thread first
    for message in matching_messages(state, account, request.args):
        newest.setdefault(message.thread_id, message)
    ordered = list(newest.values())
    start = 0
    if request.args.get("pageToken"):
        date, last_id = decode_page(request.args["pageToken"], 2)
        if not date.isdigit():
            raise BadArgument("Invalid pageToken")
        after = (int(date), last_id)
        start = next((i for i, m in enumerate(ordered) if (m.internal_date_ms, m.id) < after), len(ordered))
    page = ordered[start : start + max_results]
    members: dict[str, list[Message]] = {}
    for message in account.messages.values():
        members.setdefault(message.thread_id, []).append(message)
    body: dict[str, Any] = {}
    if page:
        body["threads"] = [_item(matched.thread_id, members[matched.thread_id]) for matched in page]
    if start + max_results < len(ordered):
        body["nextPageToken"] = encode_page(page[-1].internal_date_ms, page[-1].id)
    body["resultSizeEstimate"] = len(ordered)
    return errors.json_response(body)


def _item(thread_id: str, messages: list[Message]) -> dict[str, str]:
    latest = max(messages, key=lambda m: (m.internal_date_ms, m.id))
    return {
        "id": thread_id,
        "snippet": gmail_render.snippet(latest),
        "historyId": gmail_render.thread_history_id(messages),
    }


def _get(state: State, request: Request, user_id: str, thread_id: str) -> Response:
    auth = authorize(state, request, user_id, "threads.get")
    if isinstance(auth, Response):
        return auth
    account, token = auth
    fmt = request.args.get("format", "full").lower()
    refused = check_format(fmt, gmail_render.THREAD_FORMATS, metadata_only(token))
    if refused is not None:
        return refused
    if not MESSAGE_ID.fullmatch(thread_id):
        raise BadArgument("Invalid id value")
    messages = account.thread(thread_id.lower())
    if not messages:
        return errors.not_found()
    resource = gmail_render.thread_resource(
        thread_id.lower(), messages, fmt, request.args.getlist("metadataHeaders")
    )
    return errors.json_response(resource)


list_threads = guarded(_list)
get_thread = guarded(_get)
