"""The emulator's own endpoints under ``/_emulator`` (JSON in and out), for tests and demos.

They are never counted in the stats and never faulted.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
from email.utils import parsedate_to_datetime
from typing import Any

from werkzeug.wrappers import Request, Response

from . import errors, mail_compose, mime_wire
from .accounts import Account, Message
from .control_input import (
    Invalid,
    choice_field,
    guarded,
    json_body,
    number_field,
    string_field,
    whole_field,
)
from .labels import InvalidLabelName, LabelExists
from .mime import MailContent
from .realism import PUSH_RATE_EXCESS, RATE_LIMIT_REASONS, RATE_LIMIT_STATUSES
from .state import AccountExists, State

_EMAIL = re.compile(r"[^@\s/]+@[^@\s/]+")
MAX_GENERATED = 5000


def _labels(account: Account, data: dict[str, Any], key: str, default: list[str]) -> list[str]:
    value = data.get(key, default)
    if not isinstance(value, list) or not all(isinstance(label, str) for label in value):
        raise Invalid(400, f"'{key}' must be a list of label ids.")
    unknown = account.labels.unknown(value)
    if unknown:
        known = [label.id for label in account.labels.all()]
        raise Invalid(400, f"Unknown label ids: {unknown}; known: {known}")
    return value


def _account(state: State, email: str) -> Account:
    account = state.account(email)
    if account is None:
        raise Invalid(404, f"No account {email}.")
    return account


# -- accounts and mail --------------------------------------------------------------------


def _create_account(state: State, request: Request) -> Response:
    data = json_body(request)
    email = string_field(data, "email", required=True).strip()
    if not _EMAIL.fullmatch(email):
        raise Invalid(400, f"'{email}' is not an email address.")
    name = string_field(data, "name") or None
    count = number_field(data, "messages", 0)
    if count is None or count != int(count) or count > MAX_GENERATED:
        raise Invalid(400, f"'messages' must be an integer between 0 and {MAX_GENERATED}.")
    try:
        account = state.add_account(email, name, int(count))
    except AccountExists:
        raise Invalid(409, f"Account {email} already exists.") from None
    return errors.json_response({"email": account.email, "sub": account.sub}, 201)


def _list_accounts(state: State, request: Request) -> Response:
    return errors.json_response({"accounts": [a.summary() for a in state.accounts.values()]})


def _get_account(state: State, request: Request, email: str) -> Response:
    account = _account(state, email)
    return errors.json_response({**account.summary(), "grants": state.oauth.describe_grants(account.email)})


DEFAULT_LABELS = ["INBOX", "UNREAD", "CATEGORY_PERSONAL"]


def _existing_thread(account: Account, data: dict[str, Any]) -> str | None:
    thread_id = string_field(data, "threadId") or None
    if thread_id and not account.thread(thread_id):
        raise Invalid(400, f"No thread {thread_id} in {account.email}.")
    return thread_id


def _composed(account: Account, data: dict[str, Any], now_ms: int) -> tuple[MailContent, str | None, str]:
    """``{from, subject, body, to?, threadId?}``: a text+HTML message; a reply when it names a thread."""
    sender = string_field(data, "from", required=True)
    thread_id = _existing_thread(account, data)
    answered = [m.content.message_id for m in account.thread(thread_id)] if thread_id else []
    message_id = account.new_message_id(now_ms)
    content = mail_compose.simple(
        message_id=message_id,
        received=account.email.lower() not in sender.lower(),
        sender=sender,
        to=string_field(data, "to", default=f"{account.name} <{account.email}>"),
        subject=string_field(data, "subject"),
        body=string_field(data, "body"),
        internal_date_ms=now_ms,
        in_reply_to=[reference for reference in answered if reference],
    )
    return content, thread_id, message_id


def _parsed(account: Account, data: dict[str, Any]) -> tuple[MailContent, str | None]:
    """``{raw}``: an RFC 822 message as Gmail reads one; threaded by its headers, as Gmail threads."""
    if "from" in data or "body" in data or "subject" in data:
        raise Invalid(400, "Give either 'raw' or 'from'/'subject'/'body', not both.")
    try:
        content = mime_wire.parse(mime_wire.decode_base64url(string_field(data, "raw", required=True)))
    except mime_wire.RawMessageError as exc:
        raise Invalid(400, str(exc)) from None
    return content, account.thread_for(content, within=_existing_thread(account, data))


def _date_of(content: MailContent, now_ms: int) -> int:
    """``internalDate`` of a raw message: its Date header, or now when it has none (or a bad one)."""
    try:
        moment = parsedate_to_datetime(content.header("Date"))
    except (TypeError, ValueError, IndexError):
        return now_ms
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return int(moment.timestamp() * 1000)


def _deliver(state: State, request: Request, email: str) -> Response:
    account = _account(state, email)
    data = json_body(request)
    label_ids = _labels(account, data, "labelIds", DEFAULT_LABELS)
    now_ms = state.clock.now_ms()
    if "raw" in data:
        content, thread_id = _parsed(account, data)
        internal_date_ms = _date_of(content, now_ms)
        message_id = account.new_message_id(internal_date_ms)
    else:
        internal_date_ms = now_ms
        content, thread_id, message_id = _composed(account, data, now_ms)
    message = account.deliver(
        content,
        label_ids=label_ids,
        internal_date_ms=internal_date_ms,
        thread_id=thread_id,
        message_id=message_id,
    )
    body = {"id": message.id, "threadId": message.thread_id, "historyId": str(message.history_id)}
    return errors.json_response(body, 201)


def _label_change(account: Account, request: Request, messages: list[Message]) -> Response:
    data = json_body(request)
    add, remove = _labels(account, data, "add", []), _labels(account, data, "remove", [])
    changed = account.change_labels([message.id for message in messages], add, remove)
    return errors.json_response(
        {"messages": [{**m.ref_with_labels(), "historyId": str(m.history_id)} for m in changed]}
    )


def _change_labels(state: State, request: Request, email: str, message_id: str) -> Response:
    account = _account(state, email)
    if message_id not in account.messages:
        raise Invalid(404, f"No message {message_id} in {account.email}.")
    data = json_body(request)
    add, remove = _labels(account, data, "add", []), _labels(account, data, "remove", [])
    (message,) = account.change_labels([message_id], add, remove)
    return errors.json_response({**message.ref_with_labels(), "historyId": str(message.history_id)})


def _change_thread_labels(state: State, request: Request, email: str, thread_id: str) -> Response:
    account = _account(state, email)
    messages = account.thread(thread_id)
    if not messages:
        raise Invalid(404, f"No thread {thread_id} in {account.email}.")
    return _label_change(account, request, messages)


def _create_label(state: State, request: Request, email: str) -> Response:
    account = _account(state, email)
    name = string_field(json_body(request), "name", required=True)
    try:
        label = account.labels.add(name)
    except LabelExists as exc:
        raise Invalid(409, str(exc)) from None
    except InvalidLabelName as exc:
        raise Invalid(400, str(exc)) from None
    return errors.json_response({"id": label.id, "name": label.name}, 201)


def _delete_message(state: State, request: Request, email: str, message_id: str) -> Response:
    account = _account(state, email)
    if message_id not in account.messages:
        raise Invalid(404, f"No message {message_id} in {account.email}.")
    account.delete(message_id)
    return Response(status=204)


def _revoke_account(state: State, request: Request, email: str) -> Response:
    account = _account(state, email)
    state.oauth.revoke_account(account.email)
    return Response(status=204)


def _expire_history(state: State, request: Request, email: str) -> Response:
    _account(state, email).expire_history()
    return Response(status=204)


# -- faults, clock, stats -----------------------------------------------------------------


def _add_fault(state: State, request: Request) -> Response:
    data = json_body(request)
    prefix = string_field(data, "path_prefix", required=True)
    if not prefix.startswith("/"):
        raise Invalid(400, "'path_prefix' must start with '/'.")
    status = number_field(data, "status", None, minimum=400)
    count = number_field(data, "count", 1, minimum=1)
    retry_after = number_field(data, "retry_after", None)
    latency_ms = number_field(data, "latency_ms", 0)
    reason = string_field(data, "reason") or None
    if status is not None and (status != int(status) or status > 599):
        raise Invalid(400, "'status' must be an HTTP error status (400-599).")
    if status is None and not latency_ms:
        raise Invalid(400, "Give a 'status' or a 'latency_ms' (or both).")
    fault = state.faults.add(
        prefix,
        status=int(status) if status is not None else None,
        count=int(count or 1),
        retry_after=int(retry_after) if retry_after is not None else None,
        latency_ms=int(latency_ms or 0),
        reason=reason,
    )
    return errors.json_response(fault.describe(), 201)


def _list_faults(state: State, request: Request) -> Response:
    return errors.json_response({"faults": state.faults.pending()})


def _advance_clock(state: State, request: Request) -> Response:
    seconds = number_field(json_body(request), "advance_seconds", 0)
    return errors.json_response({"now": state.clock.advance(seconds or 0), "offset": state.clock.offset})


def _get_clock(state: State, request: Request) -> Response:
    return errors.json_response({"now": state.clock.now(), "offset": state.clock.offset})


def _stats(state: State, request: Request) -> Response:
    return errors.json_response(state.stats.snapshot())


def _configure_realism(state: State, request: Request) -> Response:
    """Change the settings given; all or nothing."""
    data = json_body(request)
    unknown = set(data) - set(state.realism.settings.describe())
    if unknown:
        raise Invalid(400, f"Unknown settings: {sorted(unknown)}")
    settings = dataclasses.replace(state.realism.settings)
    if "per_user_rate_limit" in data:
        if not isinstance(data["per_user_rate_limit"], bool):
            raise Invalid(400, "'per_user_rate_limit' must be true or false.")
        settings.per_user_rate_limit = data["per_user_rate_limit"]
    if "user_units_per_minute" in data:
        settings.user_units_per_minute = whole_field(data, "user_units_per_minute", minimum=1)
    if "rate_limit_status" in data:
        settings.rate_limit_status = choice_field(data, "rate_limit_status", RATE_LIMIT_STATUSES)
    if "rate_limit_reason" in data:
        settings.rate_limit_reason = choice_field(data, "rate_limit_reason", RATE_LIMIT_REASONS)
    if "push_rate_excess" in data:
        settings.push_rate_excess = choice_field(data, "push_rate_excess", PUSH_RATE_EXCESS)
    if data.get("concurrent_batch_limit") is not None:
        settings.concurrent_batch_limit = whole_field(data, "concurrent_batch_limit", minimum=1)
    elif "concurrent_batch_limit" in data:
        settings.concurrent_batch_limit = None
    state.realism.settings = settings
    return errors.json_response(settings.describe())


def _get_realism(state: State, request: Request) -> Response:
    return errors.json_response(state.realism.settings.describe())


def _reset(state: State, request: Request) -> Response:
    state.stats.reset()
    state.faults.clear()
    state.realism.reset()
    state.pubsub.reset()
    state.watches.reset_counts()
    return Response(status=204)


create_account = guarded(_create_account)
list_accounts = guarded(_list_accounts)
get_account = guarded(_get_account)
deliver = guarded(_deliver)
change_labels = guarded(_change_labels)
change_thread_labels = guarded(_change_thread_labels)
create_label = guarded(_create_label)
configure_realism = guarded(_configure_realism)
get_realism = guarded(_get_realism)
delete_message = guarded(_delete_message)
revoke_account = guarded(_revoke_account)
expire_history = guarded(_expire_history)
add_fault = guarded(_add_fault)
list_faults = guarded(_list_faults)
advance_clock = guarded(_advance_clock)
get_clock = guarded(_get_clock)
stats = guarded(_stats)
reset = guarded(_reset)
