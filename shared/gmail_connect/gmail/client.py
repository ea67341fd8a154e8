"""Gmail v1 for one user: the guide's "on 401, refresh, then send the user back", and Google's retry rules.

Calls go through googleapiclient (static discovery, endpoint from configuration) over a
per-thread httplib2 connection (a warm container reuses its TLS connection) wrapped by
google-auth's `AuthorizedHttp`. Its credentials carry the stored access token and refresh
through `credentials.access_for(force_refresh=True)`, so a 401 - on a call or inside a batch -
refreshes once, stores the new token, and retries. A 401 with a token refreshed during this
`Gmail`'s life means the grant is gone: the account is marked `reauthorization_required`
(reason `revoked`). 403 `insufficientPermissions` is marked `insufficient_scope`, never retried.
Transient failures are retried by `retry.call`; batched calls that fail transiently are re-sent,
only they, in a later batch.

googleapiclient is imported on first use, not at import: the messages function's cold start.
"""

from __future__ import annotations

import datetime
import functools
import json
import threading
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from gmail_connect.core.config import get_settings
from gmail_connect.core.errors import GoogleRefused, InvalidRequest, ReauthorizationRequired
from gmail_connect.gmail import credentials, retry
from gmail_connect.gmail.credentials import Access
from gmail_connect.oauth import connect

METADATA_HEADERS = ("From", "To", "Subject", "Date")
# Google: up to 100 calls per batch request, more than 50 not recommended.
BATCH_SIZE = 50
_SCOPE_REASONS = frozenset({"insufficientPermissions", "ACCESS_TOKEN_SCOPE_INSUFFICIENT"})


class HistoryExpired(Exception):
    """`history.list` answered 404: the start id is older than Gmail keeps; a full sync is needed."""


@functools.cache
def _service(api_endpoint: str) -> Any:
    """The Gmail resource tree, built once per container from the packaged discovery document.

    Its own http object is never used to send (every call passes the user's authorized http);
    it only keeps `build` from looking for application default credentials (and has a timeout).
    """
    import httplib2
    from googleapiclient.discovery import build

    return build(
        "gmail",
        "v1",
        http=httplib2.Http(timeout=retry.DEFAULT.min_attempt_seconds),
        static_discovery=True,
        client_options={"api_endpoint": api_endpoint},
    )


_local = threading.local()


def _transport(deadline: retry.Deadline) -> Any:
    """This thread's httplib2 connection to Google, or a one-off one when the deadline is nearer.

    Per thread because httplib2 is not thread-safe (the sync worker syncs users in parallel).
    """
    import httplib2

    ceiling = min(get_settings().google_timeout_seconds, retry.DEFAULT.attempt_timeout_seconds)
    timeout = retry.DEFAULT.attempt_timeout(deadline, ceiling)
    if timeout < ceiling:
        return httplib2.Http(timeout=timeout)
    pooled = getattr(_local, "http", None)
    if pooled is None or pooled.timeout != ceiling:
        pooled = _local.http = httplib2.Http(timeout=ceiling)
    return pooled


def _drop_transport() -> None:
    """After a timeout or reset the pooled connection may hold half a response: start afresh."""
    _local.http = None


def _api_url() -> str:
    return str(get_settings().gmail_api_url).rstrip("/")


def _reasons(content: bytes | str | None) -> set[str]:
    """Google's error reasons, from `error.errors[].reason` and `error.details[].reason`."""
    try:
        error = json.loads(content or b"{}").get("error", {})
    except (ValueError, AttributeError):
        return set()
    if not isinstance(error, dict):
        return set()
    items = [*(error.get("errors") or []), *(error.get("details") or [])]
    return {str(item["reason"]) for item in items if isinstance(item, dict) and item.get("reason")}


def _message(content: bytes | str | None) -> str:
    try:
        text = json.loads(content or b"{}").get("error", {}).get("message", "")
    except (ValueError, AttributeError):
        return ""
    return str(text)[:200]


class Gmail:
    """One user's mailbox. Cheap to create; the access token is fetched on the first call.

    `deadline` bounds every call and retry made through this object (an API request's budget);
    without it each call gets the retry policy's own deadline.
    """

    def __init__(self, user_id: str, *, deadline: retry.Deadline | None = None) -> None:
        self.user_id = user_id
        self._deadline = deadline
        self._access: Access | None = None
        self._credentials: Any = None
        self._refreshed = False
        self._call_deadline: retry.Deadline | None = None

    # --- the API ------------------------------------------------------------------------------

    def list_messages(
        self,
        q: str | None = None,
        label_ids: Sequence[str] | None = None,
        page_token: str | None = None,
        max_results: int = 100,
    ) -> dict[str, Any]:
        return self._execute(
            "messages.list",
            lambda users: users.messages().list(
                userId="me",
                q=q or None,
                labelIds=list(label_ids) if label_ids else None,
                pageToken=page_token or None,
                maxResults=max_results,
            ),
        )

    def get_metadata(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        """`format=metadata` for each id, `BATCH_SIZE` per batch request; order kept, vanished ones gone."""
        unique = list(dict.fromkeys(ids))
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(unique), BATCH_SIZE):
            found.update(self._get_batch(unique[start : start + BATCH_SIZE]))
        return [found[message_id] for message_id in ids if message_id in found]

    def history(self, *, start_history_id: str, page_token: str | None = None) -> dict[str, Any]:
        """Changes since `start_history_id`; raises `HistoryExpired` when Gmail no longer has them."""
        return self._execute(
            "history.list",
            lambda users: users.history().list(
                userId="me", startHistoryId=start_history_id, pageToken=page_token or None
            ),
            not_found=HistoryExpired,
        )

    def profile(self) -> dict[str, Any]:
        return self._execute("getProfile", lambda users: users.getProfile(userId="me"))

    # --- calls, retries, credentials ----------------------------------------------------------

    def _execute(
        self,
        what: str,
        make: Callable[[Any], Any],
        *,
        not_found: type[Exception] | None = None,
    ) -> dict[str, Any]:
        from googleapiclient.errors import HttpError

        deadline = self._begin()

        def attempt() -> dict[str, Any]:
            request = make(_service(_api_url()).users())
            try:
                result: dict[str, Any] = request.execute(http=self._authorized_http(deadline))
            except HttpError as error:
                self._raise_for(error, what, not_found)
            except OSError as exc:  # timeouts, resets, refused connections, DNS (httplib2's included)
                _drop_transport()
                raise retry.Retryable(f"{what}: {type(exc).__name__}") from None
            return result

        return retry.call(attempt, what=what, deadline=deadline)

    def _get_batch(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        from googleapiclient.errors import BatchError, HttpError
        from googleapiclient.http import BatchHttpRequest

        deadline = self._begin()
        found: dict[str, dict[str, Any]] = {}
        pending = list(ids)

        def attempt() -> dict[str, dict[str, Any]]:
            sent = list(pending)
            failed: dict[str, Any] = {}

            def collect(request_id: str, response: Any, exception: Any) -> None:
                message_id = sent[int(request_id)]
                if exception is None:
                    found[message_id] = response
                else:
                    failed[message_id] = exception

            users = _service(_api_url()).users()
            batch = BatchHttpRequest(callback=collect, batch_uri=f"{_api_url()}/batch/gmail/v1")
            for index, message_id in enumerate(sent):
                batch.add(
                    users.messages().get(
                        userId="me", id=message_id, format="metadata", metadataHeaders=list(METADATA_HEADERS)
                    ),
                    request_id=str(index),
                )
            try:
                batch.execute(http=self._authorized_http(deadline))
            except BatchError:
                raise retry.Retryable("batch: malformed response") from None
            except HttpError as error:
                self._raise_for(error, "batch", None)
            except OSError as exc:
                _drop_transport()
                raise retry.Retryable(f"batch: {type(exc).__name__}") from None
            again: list[retry.Retryable] = []
            pending.clear()
            for message_id, failure in failed.items():
                if failure.resp.status == 404:  # deleted since it was listed
                    continue
                try:
                    self._raise_for(failure, "messages.get", None)
                except retry.Retryable as transient:
                    again.append(transient)
                    pending.append(message_id)
            if again:
                waits = [r.retry_after for r in again if r.retry_after is not None]
                raise retry.Retryable(
                    f"batch: {len(again)} of {len(sent)} calls failed", retry_after=max(waits, default=None)
                )
            return found

        return retry.call(attempt, what="messages.get batch", deadline=deadline)

    def _begin(self) -> retry.Deadline:
        """The deadline of the call about to start; the access token on the first call."""
        deadline = self._deadline or retry.Deadline()
        self._call_deadline = deadline
        if self._credentials is None:
            from google.oauth2.credentials import Credentials

            self._access = credentials.access_for(self.user_id, deadline=deadline)
            # No expiry given: google-auth would refresh 3 min 45 s early; `access_for` already
            # judged the token valid, and a 401 refreshes through the handler.
            self._credentials = Credentials(token=self._access.token, refresh_handler=self._refreshed_token)
        return deadline

    def _authorized_http(self, deadline: retry.Deadline) -> Any:
        from google_auth_httplib2 import AuthorizedHttp

        return AuthorizedHttp(self._credentials, http=_transport(deadline), max_refresh_attempts=1)

    def _refreshed_token(self, request: Any, scopes: Any = None) -> tuple[str, datetime.datetime]:
        """google-auth's refresh handler: called on a 401 (by `AuthorizedHttp` or inside a batch)."""
        if self._refreshed:
            self._reauthorization(credentials.REASON_REVOKED)
        self._refreshed = True
        self._access = credentials.access_for(self.user_id, force_refresh=True, deadline=self._call_deadline)
        expiry = datetime.datetime.fromtimestamp(self._access.expires_at, datetime.UTC).replace(tzinfo=None)
        return self._access.token, expiry

    def _raise_for(self, error: Any, what: str, not_found: type[Exception] | None) -> NoReturn:
        """Turn a Gmail error answer into the exception that says what to do about it."""
        status = int(error.resp.status)
        reasons = _reasons(error.content)
        if retry.retryable_status(status, reasons):
            raise retry.Retryable(
                f"{what}: {status}", retry_after=retry.parse_retry_after(error.resp.get("retry-after"))
            )
        if status == 401:  # already refreshed once and retried by AuthorizedHttp / the batch
            self._reauthorization(credentials.REASON_REVOKED)
        if status == 403 and reasons & _SCOPE_REASONS:
            self._reauthorization(credentials.REASON_INSUFFICIENT_SCOPE)
        if status == 404 and not_found is not None:
            raise not_found(f"{what}: not found")
        if status == 400:
            raise InvalidRequest(f"Gmail refused the request: {_message(error.content) or 'bad request'}")
        raise GoogleRefused(f"Gmail refused the request ({status}).")

    def _reauthorization(self, reason: str) -> NoReturn:
        access = self._access
        if access is not None:
            credentials.mark_reauthorization_required(self.user_id, reason=reason, version=access.version)
        raise ReauthorizationRequired(
            "Google no longer accepts this account's authorization; connect it again."
            if reason != credentials.REASON_INSUFFICIENT_SCOPE
            else "Read access to Gmail is no longer granted; connect the account again.",
            connect.reauthorization_url(access.email if access else None),
        )
