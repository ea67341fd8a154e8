"""Gmail v1 for one user, with Google's retry rules: the guide's `build_service` and calls.

Calls go through googleapiclient (static discovery, endpoint from configuration; see
`transport`) over google-auth's `AuthorizedHttp`, whose credentials carry the access token
from a `TokenSource` and refresh through it: a 401 - on a call or inside a batch - refreshes
once and retries. What the client cannot fix it raises as what Google said (`google_errors`):
`AccessRejected` when Google still refuses the token, and the layer above
(`gmail.credentials`) judges what that means for the account. Transient failures are retried by
`retry.call`; batched calls that fail transiently are re-sent, only they, in a later batch.

googleapiclient is imported on first use, not at import: the messages function's cold start.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from gmail_connect.core.errors import AccessRejected, NotFound
from gmail_connect.gmail import google_errors, retry, transport
from gmail_connect.gmail.batch import BatchGet

METADATA_HEADERS = ("From", "To", "Subject", "Date")


class HistoryExpired(Exception):
    """`history.list` answered 404: the start id is older than Gmail keeps; a full sync is needed."""


class MessageNotFound(NotFound):
    """No such message, thread or attachment in this mailbox (deleted, or never there)."""

    def __init__(self, what: str) -> None:
        super().__init__("No such message, thread or attachment in this mailbox.")
        self.what = what


class TokenSource(Protocol):
    """Where the client gets the user's access token (`gmail.credentials.StoredCredentials`)."""

    def access_token(self, deadline: retry.Deadline) -> str: ...

    def refreshed_token(self, deadline: retry.Deadline) -> tuple[str, datetime.datetime]: ...


class Gmail:
    """One user's mailbox. Cheap to create; the access token is fetched on the first call.

    `deadline` bounds every call and retry made through this object (an API request's budget);
    without it each call gets the retry policy's own deadline.
    """

    def __init__(self, source: TokenSource, *, deadline: retry.Deadline | None = None) -> None:
        self._source = source
        self._deadline = deadline
        self._credentials: Any = None
        self._refreshed = False
        self._call_deadline = retry.Deadline()

    # --- the API ------------------------------------------------------------------------------

    def list_messages(
        self,
        q: str | None = None,
        label_ids: Sequence[str] | None = None,
        page_token: str | None = None,
        max_results: int = 100,
    ) -> dict[str, Any]:
        return self._list("messages", q, label_ids, page_token, max_results)

    def get_metadata(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        """`format=metadata` for each id, in batch requests; order kept, vanished ones gone."""
        deadline = self._begin()
        messages = transport.resource("messages")
        batch = BatchGet(
            lambda message_id: messages.get(
                userId="me", id=message_id, format="metadata", metadataHeaders=list(METADATA_HEADERS)
            ),
            http=lambda: self._authorized_http(deadline),
        )
        found = batch.fetch(ids, deadline)
        return [found[message_id] for message_id in ids if message_id in found]

    def history(self, *, start_history_id: str, page_token: str | None = None) -> dict[str, Any]:
        """Changes since `start_history_id`; raises `HistoryExpired` when Gmail no longer has them."""
        return self._execute(
            "history.list",
            lambda: transport.resource("history").list(
                userId="me", startHistoryId=start_history_id, pageToken=page_token or None
            ),
            not_found=HistoryExpired,
        )

    def profile(self) -> dict[str, Any]:
        return self._execute("getProfile", lambda: transport.resource().getProfile(userId="me"))

    def watch(self, topic_name: str, label_ids: Sequence[str]) -> dict[str, Any]:
        """Push changes of these labels to the Pub/Sub topic: `{"historyId", "expiration"}` (ms)."""
        body = {"topicName": topic_name, "labelIds": list(label_ids), "labelFilterBehavior": "include"}
        return self._execute("watch", lambda: transport.resource().watch(userId="me", body=body))

    def stop(self) -> None:
        """No more push notifications for this mailbox."""
        self._execute("stop", lambda: transport.resource().stop(userId="me"))

    def get_message(self, message_id: str) -> dict[str, Any]:
        """`format=full`: headers and the whole payload tree (large bodies as attachment ids)."""
        return self._execute(
            "messages.get",
            lambda: transport.resource("messages").get(userId="me", id=message_id, format="full"),
            not_found=MessageNotFound,
        )

    def get_attachment(self, message_id: str, attachment_id: str) -> dict[str, Any]:
        """`{"size", "data"}`: the part's bytes, base64url."""
        return self._execute(
            "messages.attachments.get",
            lambda: transport.resource("messages.attachments").get(
                userId="me", messageId=message_id, id=attachment_id
            ),
            not_found=MessageNotFound,
        )

    def list_threads(
        self,
        q: str | None = None,
        label_ids: Sequence[str] | None = None,
        page_token: str | None = None,
        max_results: int = 100,
    ) -> dict[str, Any]:
        return self._list("threads", q, label_ids, page_token, max_results)

    def get_thread(self, thread_id: str) -> dict[str, Any]:
        """`format=metadata`: each message's labels, snippet and the headers the API shows."""
        return self._execute(
            "threads.get",
            lambda: transport.resource("threads").get(
                userId="me", id=thread_id, format="metadata", metadataHeaders=list(METADATA_HEADERS)
            ),
            not_found=MessageNotFound,
        )

    # --- calls, retries, credentials ----------------------------------------------------------

    def _list(
        self,
        collection: str,
        q: str | None,
        label_ids: Sequence[str] | None,
        page_token: str | None,
        max_results: int,
    ) -> dict[str, Any]:
        """One page of `messages.list` or `threads.list`: the same parameters, the same answer shape."""
        return self._execute(
            f"{collection}.list",
            lambda: transport.resource(collection).list(
                userId="me",
                q=q or None,
                labelIds=list(label_ids) if label_ids else None,
                pageToken=page_token or None,
                maxResults=max_results,
            ),
        )

    def _execute(
        self, what: str, make: Callable[[], Any], *, not_found: type[Exception] | None = None
    ) -> dict[str, Any]:
        from googleapiclient.errors import HttpError

        deadline = self._begin()

        def attempt() -> dict[str, Any]:
            try:
                result: dict[str, Any] = make().execute(http=self._authorized_http(deadline))
            except HttpError as error:
                google_errors.raise_for(error, what, not_found)
            except OSError as exc:  # timeouts, resets, refused connections, DNS (httplib2's included)
                transport.drop_connection()
                raise retry.Retryable(f"{what}: {type(exc).__name__}") from None
            return result

        return retry.call(attempt, what=what, deadline=deadline)

    def _begin(self) -> retry.Deadline:
        """The deadline of the call about to start; the access token on the first call."""
        deadline = self._deadline or retry.Deadline()
        self._call_deadline = deadline
        if self._credentials is None:
            from google.oauth2.credentials import Credentials

            # No expiry given: google-auth would refresh 3 min 45 s early; the source already
            # judged the token valid, and a 401 refreshes through the handler.
            self._credentials = Credentials(
                token=self._source.access_token(deadline), refresh_handler=self._refreshed_token
            )
        return deadline

    def _authorized_http(self, deadline: retry.Deadline) -> Any:
        from google_auth_httplib2 import AuthorizedHttp

        return AuthorizedHttp(self._credentials, http=transport.connection(deadline), max_refresh_attempts=1)

    def _refreshed_token(self, request: Any, scopes: Any = None) -> tuple[str, datetime.datetime]:
        """google-auth's refresh handler: called on a 401 (by `AuthorizedHttp` or inside a batch).

        Once per `Gmail`: a 401 with a token refreshed moments ago is not fixed by another refresh.
        """
        if self._refreshed:
            raise AccessRejected(google_errors.TOKEN_REJECTED)
        self._refreshed = True
        return self._source.refreshed_token(self._call_deadline)
