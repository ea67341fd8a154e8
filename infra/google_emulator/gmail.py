"""Gmail API v1: ``users.messages.list/get``, ``users.history.list``, ``users.getProfile``,
``users.labels.list``.

Every call needs a live Bearer access token with a Gmail read scope; ``userId`` is ``me`` or
the token owner's address. Each authorized call charges its quota units to the account.
"""

from __future__ import annotations

import base64
import re
from typing import Any

from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Request, Response

from . import errors, gmail_query, gmail_render, scopes
from .accounts import SYSTEM_LABELS, Account, HistoryRecord, Message
from .auth_header import bearer_token
from .oauth_store import AccessToken
from .state import State

UNITS = {"messages.list": 5, "messages.get": 5, "history.list": 2, "getProfile": 1, "labels.list": 1}
READ_SCOPES = (*scopes.GMAIL_READ, scopes.GMAIL_METADATA)
HISTORY_TYPES = {
    "messageAdded": "messagesAdded",
    "messageDeleted": "messagesDeleted",
    "labelAdded": "labelsAdded",
    "labelRemoved": "labelsRemoved",
}
_MESSAGE_ID = re.compile(r"[0-9a-fA-F]{1,32}")


class _BadArgument(Exception):
    pass


def _authorize(
    state: State, request: Request, user_id: str, allowed: tuple[str, ...], method: str
) -> tuple[Account, AccessToken] | Response:
    token = state.oauth.valid_access_token(bearer_token(request) or "")
    account = state.account(token.email) if token else None
    if token is None or account is None:
        return errors.unauthenticated()
    if not token.scopes.intersection(allowed):
        return errors.insufficient_scopes(list(allowed))
    if user_id != "me" and user_id.lower() != account.email.lower():
        return errors.forbidden(f"Delegation denied for {account.email}")
    state.stats.charge(account.email, UNITS[method])
    return account, token


def _metadata_only(token: AccessToken) -> bool:
    return not token.scopes.intersection(scopes.GMAIL_READ)


def _int_arg(args: MultiDict[str, str], name: str, default: int, maximum: int) -> int:
    value = args.get(name)
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except ValueError as exc:
        raise _BadArgument(f"Invalid value for {name}: {value}") from exc
    if number < 0:
        raise _BadArgument(f"Invalid value for {name}: {value}")
    return min(number or default, maximum)


def _encode_page(*parts: object) -> str:
    return base64.urlsafe_b64encode(":".join(str(p) for p in parts).encode()).decode().rstrip("=")


def _decode_page(token: str, count: int) -> list[str]:
    try:
        parts = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode().split(":")
    except (ValueError, UnicodeDecodeError) as exc:
        raise _BadArgument("Invalid pageToken") from exc
    if len(parts) != count or not all(parts):
        raise _BadArgument("Invalid pageToken")
    return parts


# -- messages -----------------------------------------------------------------------------


def _visible(message: Message, include_spam_trash: bool) -> bool:
    return include_spam_trash or not ({"SPAM", "TRASH"} & set(message.label_ids))


def _list(state: State, request: Request, user_id: str) -> Response:
    auth = _authorize(state, request, user_id, READ_SCOPES, "messages.list")
    if isinstance(auth, Response):
        return auth
    account, token = auth
    args = request.args
    q = args.get("q", "")
    if q and _metadata_only(token):
        return errors.forbidden("Metadata scope does not support 'q' parameter")
    max_results = _int_arg(args, "maxResults", 100, 500)
    label_ids = args.getlist("labelIds")
    for label in label_ids:
        if label not in SYSTEM_LABELS:
            raise _BadArgument(f"Invalid label: {label}")
    query = gmail_query.parse(q, state.clock.now_ms())
    include_spam_trash = (
        args.get("includeSpamTrash", "false").lower() == "true"
        or query.mentions_spam_or_trash
        or bool({"SPAM", "TRASH"} & set(label_ids))
    )
    ordered = sorted(account.messages.values(), key=lambda m: (m.internal_date_ms, m.id), reverse=True)
    matched = [
        m
        for m in ordered
        if all(label in m.label_ids for label in label_ids)
        and _visible(m, include_spam_trash)
        and query.matches(m)
    ]
    start = 0
    if args.get("pageToken"):
        date, last_id = _decode_page(args["pageToken"], 2)
        if not date.isdigit():
            raise _BadArgument("Invalid pageToken")
        after = (int(date), last_id)
        start = next((i for i, m in enumerate(matched) if (m.internal_date_ms, m.id) < after), len(matched))
    page = matched[start : start + max_results]
    body: dict[str, Any] = {}
    if page:
        body["messages"] = [m.ref() for m in page]
    if start + max_results < len(matched):
        body["nextPageToken"] = _encode_page(page[-1].internal_date_ms, page[-1].id)
    body["resultSizeEstimate"] = len(matched)
    return errors.json_response(body)


def _get(state: State, request: Request, user_id: str, message_id: str) -> Response:
    auth = _authorize(state, request, user_id, READ_SCOPES, "messages.get")
    if isinstance(auth, Response):
        return auth
    account, token = auth
    fmt = request.args.get("format", "full").lower()
    if fmt not in gmail_render.FORMATS:
        raise _BadArgument(f"Invalid value for format: {request.args.get('format')}")
    if fmt in ("full", "raw") and _metadata_only(token):
        return errors.forbidden(f"Metadata scope doesn't allow format {fmt.upper()}")
    if not _MESSAGE_ID.fullmatch(message_id):
        raise _BadArgument("Invalid id value")
    message = account.messages.get(message_id.lower())
    if message is None:
        return errors.not_found()
    return errors.json_response(gmail_render.resource(message, fmt, request.args.getlist("metadataHeaders")))


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
        raise _BadArgument("Missing required parameter: startHistoryId")
    if not start.isdigit():
        raise _BadArgument(f"Invalid value for startHistoryId: {start}")
    return int(start)


def _history_types(args: MultiDict[str, str]) -> set[str]:
    types = set(args.getlist("historyTypes"))
    for kind in types:
        if kind not in HISTORY_TYPES:
            raise _BadArgument(f"Invalid value for historyTypes: {kind}")
    return types


def _history(state: State, request: Request, user_id: str) -> Response:
    auth = _authorize(state, request, user_id, READ_SCOPES, "history.list")
    if isinstance(auth, Response):
        return auth
    account, _ = auth
    args = request.args
    start, types = _history_start(args), _history_types(args)
    max_results = _int_arg(args, "maxResults", 100, 500)
    records = account.records_after(start)
    if records is None:
        return errors.not_found()
    if args.get("pageToken"):
        (last,) = _decode_page(args["pageToken"], 1)
        if not last.isdigit():
            raise _BadArgument("Invalid pageToken")
        records = [record for record in records if record.id > int(last)]
    label_id = args.get("labelId")
    selected = (record for record in records if not label_id or record.touches_label(label_id))
    rendered = [item for item in (_render_record(record, types) for record in selected) if item is not None]
    body: dict[str, Any] = {}
    if rendered:
        body["history"] = rendered[:max_results]
    if len(rendered) > max_results:
        body["nextPageToken"] = _encode_page(rendered[max_results - 1]["id"])
    body["historyId"] = str(account.history_id)
    return errors.json_response(body)


# -- profile, labels ----------------------------------------------------------------------


def _profile(state: State, request: Request, user_id: str) -> Response:
    auth = _authorize(state, request, user_id, READ_SCOPES, "getProfile")
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


def _labels(state: State, request: Request, user_id: str) -> Response:
    auth = _authorize(state, request, user_id, (*READ_SCOPES, scopes.GMAIL_LABELS), "labels.list")
    if isinstance(auth, Response):
        return auth
    labels = []
    for label in SYSTEM_LABELS:
        item = {"id": label, "name": label, "type": "system"}
        if not label.startswith("CATEGORY_"):
            item["messageListVisibility"] = "hide" if label in ("SPAM", "TRASH", "CHAT") else "show"
            item["labelListVisibility"] = "labelHide" if label in ("UNREAD", "CHAT") else "labelShow"
        labels.append(item)
    return errors.json_response({"labels": labels})


def _guarded(handler: Any) -> Any:
    """Run a handler under the state lock and map bad parameters to 400 INVALID_ARGUMENT."""

    def run(state: State, request: Request, **kwargs: str) -> Response:
        with state.lock:
            try:
                return handler(state, request, **kwargs)  # type: ignore[no-any-return]
            except _BadArgument as exc:
                return errors.invalid_argument(str(exc))

    run.__name__ = handler.__name__
    return run


list_messages = _guarded(_list)
get_message = _guarded(_get)
list_history = _guarded(_history)
get_profile = _guarded(_profile)
list_labels = _guarded(_labels)
