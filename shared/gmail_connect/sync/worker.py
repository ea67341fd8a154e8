"""The sync worker's SQS plumbing: a batch of sync requests in, the failed records out.

Lambda hands the worker up to 10 SQS records. Each is parsed once, and the batch's accounts are
read in one BatchGetItem (strongly consistent: sync position and grant together), so an idle
user costs a tenth of a read. Records for the same user run one after another on one thread
(the first uses the batch's read; a duplicate reads again and finds the position the first
one advanced),
different users run in parallel, `SYNC_CONCURRENCY` at a time, on a pool that lives as long as
the container (its threads keep their Gmail connections, `gmail.transport`). The answer is
Lambda's partial batch response (`ReportBatchItemFailures`): only failed records return to the
queue, and after `maxReceiveCount` end in the dead-letter queue. When every record failed the
invocation fails as a whole, so the worker's error alarm sees it.

The loop is ours rather than Powertools' `BatchProcessor`: its public API runs records one
after another, and running them concurrently meant overriding its private methods.
"""

from __future__ import annotations

import contextvars
import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError

from gmail_connect.core import aws
from gmail_connect.core.account_status import REAUTHORIZATION_REQUIRED
from gmail_connect.core.config import get_settings
from gmail_connect.core.errors import GmailConnectError
from gmail_connect.core.observability import MetricUnit, logger, metrics
from gmail_connect.store import accounts
from gmail_connect.sync import user_sync
from gmail_connect.sync.user_sync import INCREMENTAL, RESYNC, SyncResult

CONNECTED_EVENT = "gmail.connection.connected"
MIN_REMAINING_MS = 15_000  # below this, a record is handed back to SQS instead of started
_USER_ID = re.compile(r"[\x21-\x7e]{1,255}")  # Google's `sub`: at most 255 printable ASCII characters


class InvalidSyncRequest(GmailConnectError):
    """The SQS message is not a sync request: a poison message, reported as a failed record."""

    code = "invalid_sync_request"


class SyncDeferred(GmailConnectError):
    """Too little of the invocation is left to start a user; SQS delivers the record again."""

    code = "sync_deferred"


class BatchFailed(GmailConnectError):
    """Every record of the batch failed: the invocation fails, and SQS delivers them all again."""

    code = "batch_failed"


@dataclass(frozen=True)
class SyncRequest:
    """The body of a sync message (`fanout.sync_message`)."""

    user_id: str
    run_id: str | None = None
    scheduled_at: str | None = None

    @classmethod
    def parse(cls, body: str | None) -> SyncRequest:
        try:
            data = json.loads(body or "")
        except (TypeError, ValueError):
            raise InvalidSyncRequest("The message body is not JSON.") from None
        if not isinstance(data, dict):
            raise InvalidSyncRequest("The message body is not a JSON object.")
        if data.get("detail-type") == CONNECTED_EVENT and isinstance(data.get("detail"), dict):
            # A new connection, handed over by EventBridge as is: sync (and watch) it at once.
            data = {
                "user_id": data["detail"].get("user_id"),
                "run_id": data.get("id"),
                "scheduled_at": data.get("time"),
            }
        user_id = data.get("user_id")
        if not isinstance(user_id, str) or not _USER_ID.fullmatch(user_id):
            raise InvalidSyncRequest("The message has no valid user_id.")
        run_id, scheduled_at = data.get("run_id"), data.get("scheduled_at")
        return cls(
            user_id=user_id,
            run_id=run_id if isinstance(run_id, str) else None,
            scheduled_at=scheduled_at if isinstance(scheduled_at, str) else None,
        )


@dataclass(frozen=True)
class _Record:
    message_id: str
    receive_count: str | None
    request: SyncRequest | InvalidSyncRequest

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> _Record:
        try:
            request: SyncRequest | InvalidSyncRequest = SyncRequest.parse(raw.get("body"))
        except InvalidSyncRequest as poison:
            request = poison
        attributes = raw.get("attributes") or {}
        return cls(str(raw.get("messageId")), attributes.get("ApproximateReceiveCount"), request)

    @property
    def group(self) -> str:
        """Records of one user share a group (run in order); a poison record is a group of its own."""
        if isinstance(self.request, SyncRequest):
            return f"user:{self.request.user_id}"
        return f"record:{self.message_id}"


@dataclass(frozen=True)
class BatchReport:
    """What one worker invocation did (also emitted as metrics)."""

    records: int = 0
    failed: int = 0
    outcomes: Mapping[str, int] = field(default_factory=dict)
    new_messages: int = 0

    @classmethod
    def of(cls, results: Sequence[SyncResult | None]) -> BatchReport:
        synced = [result for result in results if result is not None]
        return cls(
            records=len(results),
            failed=len(results) - len(synced),
            outcomes=dict(Counter(result.outcome for result in synced)),
            new_messages=sum(result.new_messages for result in synced),
        )

    def add_metrics(self) -> None:
        handled_reauth = self.outcomes.get(REAUTHORIZATION_REQUIRED, 0)
        metrics.add_metric(
            name="UsersSynced", unit=MetricUnit.Count, value=self.records - self.failed - handled_reauth
        )
        metrics.add_metric(name="UsersNeedingReauthorization", unit=MetricUnit.Count, value=handled_reauth)
        metrics.add_metric(name="FullResyncs", unit=MetricUnit.Count, value=self.outcomes.get(RESYNC, 0))
        metrics.add_metric(name="MessagesPublished", unit=MetricUnit.Count, value=self.new_messages)
        metrics.add_metric(name="SyncFailures", unit=MetricUnit.Count, value=self.failed)


class SyncWorker:
    """One per container: `handle(event, context)` is the Lambda handler's body."""

    def __init__(self) -> None:
        self.report = BatchReport()
        self._pool: ThreadPoolExecutor | None = None
        self._pool_size = 0

    def handle(self, event: Mapping[str, Any], context: LambdaContext | None) -> dict[str, Any]:
        records = [_Record.of(raw) for raw in event.get("Records") or []]
        groups: dict[str, list[_Record]] = {}
        for record in records:
            groups.setdefault(record.group, []).append(record)
        read = _read_accounts(records)
        if len(groups) <= 1:
            done = [self._run_group(group, context, read) for group in groups.values()]
        else:
            pool = self._executor(get_settings().sync_concurrency)
            done = list(pool.map(lambda group: self._run_group(group, context, read), groups.values()))
        results = {message_id: result for group in done for message_id, result in group}
        self.report = BatchReport.of(list(results.values()))
        self.report.add_metrics()
        failed = [record.message_id for record in records if results.get(record.message_id) is None]
        if records and len(failed) == len(records):
            raise BatchFailed(f"All {len(records)} records of the batch failed.")
        return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}

    def _run_group(
        self, group: list[_Record], context: LambdaContext | None, read: Mapping[str, accounts.Account | None]
    ) -> list[tuple[str, SyncResult | None]]:
        # Each record runs in its own copy of this context: per-user log keys vanish after it.
        # Only the group's first record may use the batch's read: a later one must see its writes.
        # After a failure the rest of the user's records go back unrun: on the FIFO sync queue
        # they must follow it, in order (Lambda's rule for FIFO partial batch responses).
        done: list[tuple[str, SyncResult | None]] = []
        for n, record in enumerate(group):
            if any(result is None for _, result in done):
                done.append((record.message_id, None))
                continue
            result = contextvars.copy_context().run(self._run, record, context, read if n == 0 else {})
            done.append((record.message_id, result))
        return done

    @staticmethod
    def _run(
        record: _Record, context: LambdaContext | None, read: Mapping[str, accounts.Account | None]
    ) -> SyncResult | None:
        """One record: its result, or None (logged) when it failed and goes back to the queue.

        `read` holds the accounts the batch read (None: no such account); a user absent from it
        is read by the sync itself."""
        logger.thread_safe_clear_keys()  # pool threads are reused: drop the previous record's user
        try:
            if isinstance(record.request, InvalidSyncRequest):
                raise record.request
            logger.thread_safe_append_keys(
                user_id=record.request.user_id,
                run_id=record.request.run_id,
                receive_count=record.receive_count,
            )
            if context is not None and context.get_remaining_time_in_millis() < MIN_REMAINING_MS:
                raise SyncDeferred("Too little time is left in this invocation; SQS will deliver it again.")
            user_id = record.request.user_id
            if user_id in read:
                result = user_sync.sync_user(user_id, account=read[user_id])
            else:
                result = user_sync.sync_user(user_id)
        except GmailConnectError as error:
            logger.warning("Sync record failed", extra={"error_code": error.code, "reason": error.message})
            return None
        except Exception:
            logger.exception("Sync record failed unexpectedly")
            return None
        # An idle mailbox is the common case: a line per idle user per round would be most of the
        # worker's CloudWatch Logs bill (billed per GB ingested), and the counts are in the metrics.
        idle = result.outcome == INCREMENTAL and not result.new_messages and result.complete
        (logger.debug if idle else logger.info)(
            "Mailbox synced",
            extra={
                "outcome": result.outcome,
                "new_messages": result.new_messages,
                "complete": result.complete,
                "position_advanced": result.position_advanced,
                "position_written": result.position_written,
            },
        )
        return result

    def _executor(self, size: int) -> ThreadPoolExecutor:
        if self._pool is None or self._pool_size != size:
            if self._pool is not None:
                self._pool.shutdown(wait=False)
            _warm_clients()
            self._pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="sync")
            self._pool_size = size
        return self._pool


def _read_accounts(records: Sequence[_Record]) -> Mapping[str, accounts.Account | None]:
    """The batch's accounts in one read; if that read fails, each record reads its own."""
    user_ids = [record.request.user_id for record in records if isinstance(record.request, SyncRequest)]
    if not user_ids:
        return {}
    try:
        return accounts.get_many(user_ids, accounts.SYNC_CREDENTIAL_ATTRIBUTES)
    except (BotoCoreError, ClientError) as error:
        logger.warning(
            "Batch read of the accounts failed; reading them one by one",
            extra={"error_type": type(error).__name__},
        )
        return {}


def _warm_clients() -> None:
    """Create the cached boto3 clients on this thread: creating them concurrently is not thread-safe."""
    for service in ("dynamodb", "kms", "events", "secretsmanager"):
        aws.client(service)
