"""Many `messages.get` calls in one batch HTTP request, re-sending only the transient failures.

Google takes up to 100 calls per batch request and recommends no more than 50. Each call in a
batch succeeds or fails on its own: one that vanished since it was listed (404) is dropped, one
that failed transiently is re-sent in the next attempt with the others that did, and any other
failure ends the whole fetch (`google_errors.raise_for`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from gmail_connect.gmail import google_errors, retry, transport

BATCH_SIZE = 50


class BatchGet:
    """`fetch(ids)`: each id's response, sent `BATCH_SIZE` per batch request within one deadline."""

    def __init__(self, make_request: Callable[[str], Any], *, http: Callable[[], Any]) -> None:
        self._make_request = make_request
        self._http = http

    def fetch(self, ids: Sequence[str], deadline: retry.Deadline) -> dict[str, dict[str, Any]]:
        unique = list(dict.fromkeys(ids))
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(unique), BATCH_SIZE):
            found.update(self._fetch_chunk(unique[start : start + BATCH_SIZE], deadline))
        return found

    def _fetch_chunk(self, ids: list[str], deadline: retry.Deadline) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        pending = list(ids)

        def attempt() -> dict[str, dict[str, Any]]:
            responses, failures = self._send(pending)
            found.update(responses)
            transient = self._transient(failures)
            pending[:] = list(transient)
            if transient:
                waits = [r.retry_after for r in transient.values() if r.retry_after is not None]
                raise retry.Retryable(
                    f"batch: {len(transient)} of {len(ids)} calls failed",
                    retry_after=max(waits, default=None),
                )
            return found

        return retry.call(attempt, what="messages.get batch", deadline=deadline)

    def _send(self, ids: list[str]) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
        """One batch request: the responses and the failures (googleapiclient's `HttpError`s) by id."""
        from googleapiclient.errors import BatchError, HttpError
        from googleapiclient.http import BatchHttpRequest

        responses: dict[str, dict[str, Any]] = {}
        failures: dict[str, Any] = {}

        def collect(request_id: str, response: Any, exception: Any) -> None:
            message_id = ids[int(request_id)]
            if exception is None:
                responses[message_id] = response
            else:
                failures[message_id] = exception

        batch = BatchHttpRequest(callback=collect, batch_uri=f"{transport.api_url()}/batch/gmail/v1")
        for index, message_id in enumerate(ids):
            batch.add(self._make_request(message_id), request_id=str(index))
        try:
            batch.execute(http=self._http())
        except BatchError:
            raise retry.Retryable("batch: malformed response") from None
        except HttpError as error:
            google_errors.raise_for(error, "batch")
        except OSError as exc:
            transport.drop_connection()
            raise retry.Retryable(f"batch: {type(exc).__name__}") from None
        return responses, failures

    @staticmethod
    def _transient(failures: dict[str, Any]) -> dict[str, retry.Retryable]:
        """The failures worth re-sending; a vanished message (404) is dropped, anything else raised."""
        transient: dict[str, retry.Retryable] = {}
        for message_id, failure in failures.items():
            if failure.resp.status == 404:  # deleted since it was listed
                continue
            try:
                google_errors.raise_for(failure, "messages.get")
            except retry.Retryable as exc:
                transient[message_id] = exc
        return transient
