"""What every Gmail call goes through before its handler runs, and the helpers handlers share.

In Google's order: a Bearer access token (401 when missing or not live), a scope the method
accepts (403), ``userId`` ``me`` or the token owner's address (403), then the opt-in throttles
(concurrent calls in a batch, the per-user quota; 429). Only then is the call charged its quota
units (Gmail's table), per account and per route.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Request, Response

from . import errors, scopes
from .accounts import Account
from .auth_header import bearer_token
from .oauth_store import AccessToken
from .realism import BATCH_SLOTS_KEY, BatchSlots
from .state import State
from .stats import ROUTE_KEY

READ_SCOPES = (*scopes.GMAIL_READ, scopes.GMAIL_METADATA)
LABEL_SCOPES = (*READ_SCOPES, scopes.GMAIL_LABELS)


@dataclass(frozen=True)
class Method:
    """A Gmail method: its quota cost, the scopes it accepts and its backend name (for errors)."""

    units: int
    rpc: str
    scopes: tuple[str, ...] = READ_SCOPES


METHODS = {
    "messages.list": Method(5, "ListMessages"),
    "messages.get": Method(5, "GetMessage"),
    "messages.attachments.get": Method(5, "GetAttachment", scopes.GMAIL_READ),
    "threads.list": Method(10, "ListThreads"),
    "threads.get": Method(10, "GetThread"),
    "history.list": Method(2, "ListHistory"),
    "getProfile": Method(1, "GetProfile"),
    "labels.list": Method(1, "ListLabels", LABEL_SCOPES),
    "labels.get": Method(1, "GetLabel", LABEL_SCOPES),
    "watch": Method(100, "Watch"),
    "stop": Method(50, "Stop"),
}


class BadArgument(Exception):
    """A parameter Gmail refuses: 400 INVALID_ARGUMENT."""


def _project_number(client_id: str) -> str:
    """A stable 12-digit project number for a client, as Google names the quota's consumer."""
    return str(int(hashlib.sha256(client_id.encode()).hexdigest(), 16) % 10**12).zfill(12)


def _throttled(state: State, request: Request, token: AccessToken, method: Method) -> Response | None:
    slots = request.environ.get(BATCH_SLOTS_KEY)
    if isinstance(slots, BatchSlots) and not slots.take(token.email):
        return errors.too_many_concurrent_requests()
    if not state.realism.spend(token.client_id, token.email, method.units, state.clock.now()):
        settings = state.realism.settings
        return errors.user_rate_limited(
            settings.rate_limit_status,
            settings.rate_limit_reason,
            settings.user_units_per_minute,
            _project_number(token.client_id),
        )
    return None


def authorize(
    state: State, request: Request, user_id: str, name: str
) -> tuple[Account, AccessToken] | Response:
    """The account and token of an allowed call (charged), or the error Google would answer."""
    method = METHODS[name]
    presented = bearer_token(request)
    token = state.oauth.valid_access_token(presented or "")
    account = state.account(token.email) if token else None
    if token is None or account is None:
        return errors.unauthenticated(method.rpc, missing="Authorization" not in request.headers)
    if not token.scopes.intersection(method.scopes):
        return errors.insufficient_scopes(list(method.scopes), method.rpc)
    if user_id != "me" and user_id.lower() != account.email.lower():
        return errors.forbidden(f"Delegation denied for {account.email}")
    refused = _throttled(state, request, token, method)
    if refused is not None:
        return refused
    state.stats.charge(account.email, method.units, request.environ.get(ROUTE_KEY, name))
    return account, token


def metadata_only(token: AccessToken) -> bool:
    return not token.scopes.intersection(scopes.GMAIL_READ)


def int_arg(args: MultiDict[str, str], name: str, default: int, maximum: int) -> int:
    value = args.get(name)
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except ValueError as exc:
        raise BadArgument(f"Invalid value for {name}: {value}") from exc
    if number < 0:
        raise BadArgument(f"Invalid value for {name}: {value}")
    return min(number or default, maximum)


def bool_arg(args: MultiDict[str, str], name: str) -> bool:
    return args.get(name, "false").lower() == "true"


def encode_page(*parts: object) -> str:
    return base64.urlsafe_b64encode(":".join(str(p) for p in parts).encode()).decode().rstrip("=")


def decode_page(token: str, count: int) -> list[str]:
    try:
        parts = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode().split(":")
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadArgument("Invalid pageToken") from exc
    if len(parts) != count or not all(parts):
        raise BadArgument("Invalid pageToken")
    return parts


def check_label_ids(account: Account, label_ids: list[str]) -> None:
    for label in account.labels.unknown(label_ids):
        raise BadArgument(f"Invalid label: {label}")


def guarded(handler: Callable[..., Response]) -> Callable[..., Response]:
    """Run a handler under the state lock and map bad parameters to 400 INVALID_ARGUMENT."""

    def run(state: State, request: Request, **kwargs: Any) -> Response:
        with state.lock:
            try:
                return handler(state, request, **kwargs)
            except BadArgument as exc:
                return errors.invalid_argument(str(exc))

    run.__name__ = handler.__name__
    return run
