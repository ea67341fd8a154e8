"""The emulator's own endpoints under ``/_emulator`` (JSON in and out), for tests and demos.

They are never counted in the stats and never faulted.
"""

from __future__ import annotations

import re
from typing import Any

from werkzeug.wrappers import Request, Response

from . import errors
from .accounts import SYSTEM_LABELS, Account
from .state import AccountExists, State

_EMAIL = re.compile(r"[^@\s/]+@[^@\s/]+")
MAX_GENERATED = 5000


class _Invalid(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _body(request: Request) -> dict[str, Any]:
    if not request.get_data():
        return {}
    data = request.get_json(force=True, silent=True)
    if not isinstance(data, dict):
        raise _Invalid(400, "The body must be a JSON object.")
    return data


def _string(data: dict[str, Any], key: str, *, required: bool = False, default: str = "") -> str:
    value = data.get(key)
    if value is None:
        if required:
            raise _Invalid(400, f"'{key}' is required.")
        return default
    if not isinstance(value, str) or (required and not value.strip()):
        raise _Invalid(
            400, f"'{key}' must be a non-empty string." if required else f"'{key}' must be a string."
        )
    return value


def _number(data: dict[str, Any], key: str, default: float | None, *, minimum: float = 0) -> float | None:
    value = data.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise _Invalid(400, f"'{key}' must be a number >= {minimum}.")
    return value


def _labels(data: dict[str, Any], key: str, default: list[str]) -> list[str]:
    value = data.get(key, default)
    if not isinstance(value, list) or not all(isinstance(label, str) for label in value):
        raise _Invalid(400, f"'{key}' must be a list of label ids.")
    unknown = [label for label in value if label not in SYSTEM_LABELS]
    if unknown:
        raise _Invalid(400, f"Unknown label ids: {unknown}; known: {list(SYSTEM_LABELS)}")
    return value


def _account(state: State, email: str) -> Account:
    account = state.account(email)
    if account is None:
        raise _Invalid(404, f"No account {email}.")
    return account


# -- accounts and mail --------------------------------------------------------------------


def _create_account(state: State, request: Request) -> Response:
    data = _body(request)
    email = _string(data, "email", required=True).strip()
    if not _EMAIL.fullmatch(email):
        raise _Invalid(400, f"'{email}' is not an email address.")
    name = _string(data, "name") or None
    count = _number(data, "messages", 0)
    if count is None or count != int(count) or count > MAX_GENERATED:
        raise _Invalid(400, f"'messages' must be an integer between 0 and {MAX_GENERATED}.")
    try:
        account = state.add_account(email, name, int(count))
    except AccountExists:
        raise _Invalid(409, f"Account {email} already exists.") from None
    return errors.json_response({"email": account.email, "sub": account.sub}, 201)


def _list_accounts(state: State, request: Request) -> Response:
    return errors.json_response({"accounts": [a.summary() for a in state.accounts.values()]})


def _get_account(state: State, request: Request, email: str) -> Response:
    account = _account(state, email)
    return errors.json_response({**account.summary(), "grants": state.oauth.describe_grants(account.email)})


def _deliver(state: State, request: Request, email: str) -> Response:
    account = _account(state, email)
    data = _body(request)
    sender = _string(data, "from", required=True)
    thread_id = _string(data, "threadId") or None
    if thread_id and not any(m.thread_id == thread_id for m in account.messages.values()):
        raise _Invalid(400, f"No thread {thread_id} in {account.email}.")
    message = account.deliver(
        sender=sender,
        to=_string(data, "to", default=f"{account.name} <{account.email}>"),
        subject=_string(data, "subject"),
        body=_string(data, "body"),
        label_ids=_labels(data, "labelIds", ["INBOX", "UNREAD", "CATEGORY_PERSONAL"]),
        internal_date_ms=state.clock.now_ms(),
        thread_id=thread_id,
    )
    body = {"id": message.id, "threadId": message.thread_id, "historyId": str(message.history_id)}
    return errors.json_response(body, 201)


def _change_labels(state: State, request: Request, email: str, message_id: str) -> Response:
    account = _account(state, email)
    if message_id not in account.messages:
        raise _Invalid(404, f"No message {message_id} in {account.email}.")
    data = _body(request)
    message = account.change_labels(message_id, _labels(data, "add", []), _labels(data, "remove", []))
    return errors.json_response({**message.ref_with_labels(), "historyId": str(message.history_id)})


def _delete_message(state: State, request: Request, email: str, message_id: str) -> Response:
    account = _account(state, email)
    if message_id not in account.messages:
        raise _Invalid(404, f"No message {message_id} in {account.email}.")
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
    data = _body(request)
    prefix = _string(data, "path_prefix", required=True)
    if not prefix.startswith("/"):
        raise _Invalid(400, "'path_prefix' must start with '/'.")
    status = _number(data, "status", None, minimum=400)
    count = _number(data, "count", 1, minimum=1)
    retry_after = _number(data, "retry_after", None)
    latency_ms = _number(data, "latency_ms", 0)
    reason = _string(data, "reason") or None
    if status is not None and (status != int(status) or status > 599):
        raise _Invalid(400, "'status' must be an HTTP error status (400-599).")
    if status is None and not latency_ms:
        raise _Invalid(400, "Give a 'status' or a 'latency_ms' (or both).")
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
    seconds = _number(_body(request), "advance_seconds", 0)
    return errors.json_response({"now": state.clock.advance(seconds or 0), "offset": state.clock.offset})


def _get_clock(state: State, request: Request) -> Response:
    return errors.json_response({"now": state.clock.now(), "offset": state.clock.offset})


def _stats(state: State, request: Request) -> Response:
    return errors.json_response(state.stats.snapshot())


def _reset(state: State, request: Request) -> Response:
    state.stats.reset()
    state.faults.clear()
    return Response(status=204)


def _guarded(handler: Any) -> Any:
    def run(state: State, request: Request, **kwargs: str) -> Response:
        with state.lock:
            try:
                return handler(state, request, **kwargs)  # type: ignore[no-any-return]
            except _Invalid as exc:
                return errors.control_error(exc.status, str(exc))

    run.__name__ = handler.__name__
    return run


create_account = _guarded(_create_account)
list_accounts = _guarded(_list_accounts)
get_account = _guarded(_get_account)
deliver = _guarded(_deliver)
change_labels = _guarded(_change_labels)
delete_message = _guarded(_delete_message)
revoke_account = _guarded(_revoke_account)
expire_history = _guarded(_expire_history)
add_fault = _guarded(_add_fault)
list_faults = _guarded(_list_faults)
advance_clock = _guarded(_advance_clock)
get_clock = _guarded(_get_clock)
stats = _guarded(_stats)
reset = _guarded(_reset)
