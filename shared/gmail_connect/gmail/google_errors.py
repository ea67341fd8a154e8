"""What a Gmail error answer means, and the exception that says what to do about it.

Google puts reasons in `error.errors[].reason` (Gmail's legacy shape) and in
`error.details[].reason` (`google.rpc.ErrorInfo`); both are read.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

from gmail_connect.core.errors import AccessRejected, GoogleRefused, InvalidRequest
from gmail_connect.gmail import retry

TOKEN_REJECTED = "token_rejected"
INSUFFICIENT_SCOPE = "insufficient_scope"
_SCOPE_REASONS = frozenset({"insufficientPermissions", "ACCESS_TOKEN_SCOPE_INSUFFICIENT"})


def reasons(content: bytes | str | None) -> set[str]:
    """Google's error reasons, from `error.errors[].reason` and `error.details[].reason`."""
    try:
        error = json.loads(content or b"{}").get("error", {})
    except (ValueError, AttributeError):
        return set()
    if not isinstance(error, dict):
        return set()
    items = [*(error.get("errors") or []), *(error.get("details") or [])]
    return {str(item["reason"]) for item in items if isinstance(item, dict) and item.get("reason")}


def message(content: bytes | str | None) -> str:
    try:
        text = json.loads(content or b"{}").get("error", {}).get("message", "")
    except (ValueError, AttributeError):
        return ""
    return str(text)[:200]


def raise_for(error: Any, what: str, not_found: type[Exception] | None = None) -> NoReturn:
    """Turn googleapiclient's `HttpError` into what the caller acts on.

    A 401 here comes after google-auth has already refreshed the token once and retried, so a
    refresh will not fix it; whether that means the grant is gone is for the layer above to judge
    (`AccessRejected`), not for the client.
    """
    status = int(error.resp.status)
    found = reasons(error.content)
    if retry.retryable_status(status, found):
        raise retry.Retryable(
            f"{what}: {status}", retry_after=retry.parse_retry_after(error.resp.get("retry-after"))
        )
    if status == 401:
        raise AccessRejected(TOKEN_REJECTED)
    if status == 403 and found & _SCOPE_REASONS:
        raise AccessRejected(INSUFFICIENT_SCOPE)
    if status == 404 and not_found is not None:
        raise not_found(f"{what}: not found")
    if status == 400:
        raise InvalidRequest(f"Gmail refused the request: {message(error.content) or 'bad request'}")
    raise GoogleRefused(f"Gmail refused the request ({status}).")
