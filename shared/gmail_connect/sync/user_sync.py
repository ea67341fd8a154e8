"""The worker's half of the sync: bring one user's mailbox up to date and announce new mail.

- First sync: remember where the mailbox is (`getProfile`'s historyId) and, if
  `SYNC_BACKFILL_MESSAGES` > 0, announce that many of the newest messages.
- Later syncs: `users.history.list` from the stored historyId. Messages added (not drafts, not
  the user's own sent mail) are announced with their metadata, fetched 50 per batch request;
  label changes and deletions are not announced. A mailbox with no news costs exactly one
  `history.list` call (2 quota units).
- A stored historyId Google no longer covers (404, history is kept about a week) means a full
  resync, bounded: the messages received since the last sync (`q=after:`), at most
  `SYNC_MAX_MESSAGES`, then the mailbox's current historyId.

Events are published first and the position advanced after, conditionally and only forward
(`accounts.advance_sync_position`). A re-delivered SQS message finds the position advanced and
publishes nothing; a crash between the two publishes again on retry (at least once, as
EventBridge is anyway). A user whose grant is revoked is marked reauthorization_required by the
credentials layer and skipped: that is a handled outcome, not a failed record.
"""

from __future__ import annotations

import contextvars
import json
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from gmail_connect.core import aws
from gmail_connect.core.config import get_settings
from gmail_connect.core.errors import GmailConnectError, ReauthorizationRequired
from gmail_connect.core.observability import MetricUnit, logger, metrics
from gmail_connect.store import accounts
from gmail_connect.sync import mail_events
from gmail_connect.sync.mail_events import MessageReceived

FIRST_SYNC = "first_sync"
INCREMENTAL = "incremental"
RESYNC = "resync"
REAUTHORIZATION_REQUIRED = "reauthorization_required"

MAX_HISTORY_PAGES = 50  # x 100 records per page; SYNC_MAX_MESSAGES usually stops it sooner
MAX_LIST_PAGE = 500  # users.messages.list's maxResults ceiling
RESYNC_OVERLAP_SECONDS = 300  # mail that arrived while the last sync was finishing is looked at again
MIN_REMAINING_MS = 15_000  # below this, a record is handed back to SQS instead of started
_USER_ID = re.compile(r"[\x21-\x7e]{1,255}")  # Google's `sub`: at most 255 printable ASCII characters


class InvalidSyncRequest(GmailConnectError):
    """The SQS message is not a sync request: a poison message, reported as a failed record."""

    code = "invalid_sync_request"


class UnknownUser(GmailConnectError):
    """No account for the message's user id (never connected, or disconnected since)."""

    status = 404
    code = "unknown_user"


class SyncDeferred(GmailConnectError):
    """Too little of the invocation is left to start a user; SQS delivers the record again."""

    status = 503
    code = "sync_deferred"


class Mailbox(Protocol):
    """What the sync needs from `gmail_connect.gmail.client.Gmail` (a fake in unit tests)."""

    def profile(self) -> dict[str, Any]: ...

    def history(self, *, start_history_id: str, page_token: str | None = None) -> dict[str, Any]: ...

    def list_messages(
        self,
        q: str | None = None,
        label_ids: Sequence[str] | None = None,
        page_token: str | None = None,
        max_results: int = 100,
    ) -> dict[str, Any]: ...

    def get_metadata(self, ids: Sequence[str]) -> list[dict[str, Any]]: ...


MailboxFactory = Callable[[str], Mailbox]
Publisher = Callable[[Sequence[MessageReceived]], int]


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
class SyncResult:
    user_id: str
    outcome: str
    new_messages: int = 0
    history_id: int | None = None
    complete: bool = True  # False: more history is waiting (SYNC_MAX_MESSAGES reached)
    position_advanced: bool = False  # False after a skip, or when a newer sync or a disconnect won


@dataclass
class _Plan:
    kind: str
    history_id: int
    events: list[MessageReceived] = field(default_factory=list)
    complete: bool = True


def _gmail(user_id: str) -> Mailbox:
    from gmail_connect.gmail.client import Gmail  # googleapiclient: only the worker pays for it

    mailbox: Mailbox = Gmail(user_id)
    return mailbox


def sync_user(
    user_id: str,
    *,
    mailbox_factory: MailboxFactory | None = None,
    publish: Publisher | None = None,
) -> SyncResult:
    """Sync one user; raise for what SQS should retry (Google down, publish failed, unknown user).

    `mailbox_factory` and `publish` default to the real Gmail client and EventBridge.
    """
    from gmail_connect.gmail.client import HistoryExpired

    position = accounts.get_sync_position(user_id)
    if position is None:
        raise UnknownUser("No account is stored for this user id.")
    if not position.connected:
        return SyncResult(user_id, REAUTHORIZATION_REQUIRED, history_id=position.history_id)
    limit = get_settings().sync_max_messages
    try:
        mailbox = (mailbox_factory or _gmail)(user_id)
        if position.history_id is None:
            plan = _first_sync(mailbox, user_id)
        else:
            try:
                plan = _incremental(mailbox, user_id, position.history_id, limit)
            except HistoryExpired:
                logger.info("History no longer covers the stored position; resyncing")
                plan = _resync(mailbox, user_id, position.last_sync_at, limit)
    except ReauthorizationRequired:
        # The credentials layer has marked the account; the user must consent again.
        return SyncResult(user_id, REAUTHORIZATION_REQUIRED, history_id=position.history_id)
    published = (publish or mail_events.publish)(plan.events)
    advanced = accounts.advance_sync_position(user_id, plan.history_id)
    if not advanced:
        logger.info("Sync position not advanced: a newer sync or a disconnect came first")
    return SyncResult(
        user_id,
        plan.kind,
        new_messages=published,
        history_id=plan.history_id,
        complete=plan.complete,
        position_advanced=advanced,
    )


def _first_sync(mailbox: Mailbox, user_id: str) -> _Plan:
    history_id = int(mailbox.profile()["historyId"])
    backfill = get_settings().sync_backfill_messages
    ids = _list_ids(mailbox, None, backfill) if backfill else []
    events = _events(mailbox, user_id, ids[::-1], {}, str(history_id))  # oldest first
    return _Plan(FIRST_SYNC, history_id, events)


def _resync(mailbox: Mailbox, user_id: str, last_sync_at: str | None, limit: int) -> _Plan:
    history_id = int(mailbox.profile()["historyId"])
    since = _epoch_seconds(last_sync_at)
    if since is None:  # never synced to completion: as a first sync
        backfill = get_settings().sync_backfill_messages
        ids = _list_ids(mailbox, None, backfill) if backfill else []
    else:
        ids = _list_ids(mailbox, f"after:{since - RESYNC_OVERLAP_SECONDS}", limit)
    events = _events(mailbox, user_id, ids[::-1], {}, str(history_id))
    return _Plan(RESYNC, history_id, events)


def _incremental(mailbox: Mailbox, user_id: str, start: int, limit: int) -> _Plan:
    added: dict[str, str] = {}  # message id -> id of the history record that added it
    added_labels: dict[str, list[str]] = {}
    deleted: set[str] = set()
    position, complete, page_token = start, False, None
    for _ in range(MAX_HISTORY_PAGES):
        page = mailbox.history(start_history_id=str(start), page_token=page_token)
        last_record: str | None = None
        for record in page.get("history", []):
            last_record = str(record["id"])
            for change in record.get("messagesAdded", []):
                message = change.get("message") or {}
                if message.get("id") and message["id"] not in added:
                    added[message["id"]] = last_record
                    added_labels[message["id"]] = list(message.get("labelIds") or [])
            for change in record.get("messagesDeleted", []):
                deleted.add((change.get("message") or {}).get("id", ""))
        page_token = page.get("nextPageToken")
        if not page_token:
            position, complete = max(start, int(page["historyId"])), True
            break
        if last_record is not None:
            # Stopping here is safe: history.list(startHistoryId=last_record) resumes after it.
            position = max(position, int(last_record))
        if len(added) >= limit:
            break
    candidates = [
        message_id
        for message_id in added
        if message_id not in deleted and _is_received(added_labels[message_id])
    ]
    events = _events(mailbox, user_id, candidates, added, str(position))
    return _Plan(INCREMENTAL, position, events, complete)


def _list_ids(mailbox: Mailbox, q: str | None, limit: int) -> list[str]:
    """Ids of the newest `limit` messages matching `q`, newest first, in as few pages as possible."""
    ids: list[str] = []
    page_token = None
    while len(ids) < limit:
        page = mailbox.list_messages(
            q=q, page_token=page_token, max_results=min(MAX_LIST_PAGE, limit - len(ids))
        )
        ids.extend(message["id"] for message in page.get("messages", []))
        page_token = page.get("nextPageToken")
        if not page_token:
            break
    return ids[:limit]


def _events(
    mailbox: Mailbox,
    user_id: str,
    ids: Sequence[str],
    history_ids: Mapping[str, str],
    default_history_id: str,
) -> list[MessageReceived]:
    """Metadata for `ids` (one batch request per 50), as events, in the order of `ids`."""
    if not ids:
        return []
    by_id = {item["id"]: item for item in mailbox.get_metadata(list(ids))}
    events = []
    for message_id in ids:
        item = by_id.get(message_id)
        if item is None:  # deleted since
            continue
        labels = tuple(item.get("labelIds") or ())
        if not _is_received(labels):
            continue
        headers = _headers(item)
        events.append(
            MessageReceived(
                user_id=user_id,
                message_id=message_id,
                thread_id=str(item.get("threadId") or message_id),
                history_id=history_ids.get(message_id, default_history_id),
                labels=labels,
                sender=headers.get("from", ""),
                subject=headers.get("subject", ""),
                date=_iso_date(item, headers.get("date", "")),
            )
        )
    return events


def _headers(item: Mapping[str, Any]) -> dict[str, str]:
    """From, Subject and Date of a metadata item: flattened (`from`, ...) or Gmail's `payload.headers`."""
    found = {name: str(item[name]) for name in ("from", "subject", "date") if item.get(name) is not None}
    for header in (item.get("payload") or {}).get("headers") or []:
        name = str(header.get("name", "")).lower()
        if name in ("from", "subject", "date") and name not in found:
            found[name] = str(header.get("value", ""))
    return found


def _is_received(labels: Sequence[str]) -> bool:
    """Mail that came in: not a draft or chat, and not the user's own sent mail (unless sent to self)."""
    if "DRAFT" in labels or "CHAT" in labels:
        return False
    return "SENT" not in labels or "INBOX" in labels


def _iso_date(item: Mapping[str, Any], date_header: str) -> str:
    """When Gmail received it (`internalDate`, ms), as ISO 8601 UTC; the Date header as a fallback."""
    internal = str(item.get("internalDate") or "")
    if internal.isdigit():
        return datetime.fromtimestamp(int(internal) / 1000, UTC).isoformat(timespec="seconds")
    return date_header


def _epoch_seconds(iso: str | None) -> int | None:
    if not iso:
        return None
    try:
        return int(datetime.fromisoformat(iso).timestamp())
    except ValueError:
        return None


# --- the SQS worker -------------------------------------------------------------------------------


def handle_record(record: SQSRecord, lambda_context: LambdaContext | None = None) -> SyncResult:
    """Powertools' record handler: one sync message -> one user synced (or an exception)."""
    logger.thread_safe_clear_keys()  # pool threads are reused: drop the previous record's user
    request = SyncRequest.parse(record.body)
    logger.thread_safe_append_keys(
        user_id=request.user_id,
        run_id=request.run_id,
        receive_count=record.attributes.approximate_receive_count,
    )
    if lambda_context is not None and lambda_context.get_remaining_time_in_millis() < MIN_REMAINING_MS:
        raise SyncDeferred("Too little time is left in this invocation; SQS will deliver it again.")
    result = sync_user(request.user_id)
    logger.info(
        "Mailbox synced",
        extra={
            "outcome": result.outcome,
            "new_messages": result.new_messages,
            "complete": result.complete,
            "position_advanced": result.position_advanced,
        },
    )
    return result


@dataclass(frozen=True)
class BatchReport:
    """What one worker invocation did (also emitted as metrics)."""

    records: int = 0
    failed: int = 0
    outcomes: Mapping[str, int] = field(default_factory=dict)
    new_messages: int = 0

    @classmethod
    def of(cls, results: Sequence[tuple[Any, ...]]) -> BatchReport:
        synced = [result for status, result, _ in results if status == "success"]
        return cls(
            records=len(results),
            failed=len(results) - len(synced),
            outcomes=dict(Counter(result.outcome for result in synced if isinstance(result, SyncResult))),
            new_messages=sum(result.new_messages for result in synced if isinstance(result, SyncResult)),
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


def _user_key(record: Mapping[str, Any]) -> str:
    """Which user a raw record is for, leniently (a poison record gets a key of its own)."""
    try:
        data = json.loads(record.get("body") or "")
        user_id = data.get("user_id") if isinstance(data, dict) else None
    except (TypeError, ValueError):
        user_id = None
    return f"user:{user_id}" if isinstance(user_id, str) else f"record:{record.get('messageId')}"


class ConcurrentBatchProcessor(BatchProcessor):
    """Powertools' `BatchProcessor`, with the users of a batch synced on a bounded thread pool.

    Powertools runs records one after another (its `AsyncBatchProcessor` needs an async
    handler; the Google and AWS clients here block). A sync mostly waits on Google, so users
    run in parallel, `SYNC_CONCURRENCY` at a time; success/failure bookkeeping and the partial
    batch response stay Powertools'. Records for the same user run one after another on one
    thread, so a duplicate inside a batch finds the position the first one advanced.

    The pool lives as long as the container: its threads keep their Gmail connections
    (`gmail._transport` is per thread) from one invocation to the next.
    """

    report: BatchReport

    def __init__(self, event_type: EventType = EventType.SQS) -> None:
        # Powertools' Logger (not a logging.Logger, but the same calls): failed records are logged as JSON.
        super().__init__(event_type=event_type, logger=logger)  # type: ignore[arg-type]
        self.report = BatchReport()
        self._pool: ThreadPoolExecutor | None = None

    def process(self) -> list[tuple[Any, ...]]:
        groups: dict[str, list[tuple[contextvars.Context, dict[str, Any]]]] = {}
        for record in self.records:
            # Each record runs in its own copy of this context: per-user log keys vanish after it.
            groups.setdefault(_user_key(record), []).append((contextvars.copy_context(), record))
        if len(groups) <= 1:
            results = [result for group in groups.values() for result in self._run_group(group)]
        else:
            pool = self._executor(get_settings().sync_concurrency)
            results = [result for done in pool.map(self._run_group, groups.values()) for result in done]
        self.report = BatchReport.of(results)
        self.report.add_metrics()
        return results

    def _executor(self, size: int) -> ThreadPoolExecutor:
        if self._pool is None or self._pool._max_workers != size:
            if self._pool is not None:
                self._pool.shutdown(wait=False)
            _warm_clients()
            self._pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="sync")
        return self._pool

    def _run_group(self, group: list[tuple[contextvars.Context, dict[str, Any]]]) -> list[tuple[Any, ...]]:
        return [context.run(self._process_record, record) for context, record in group]


def _warm_clients() -> None:
    """Create the cached boto3 clients on this thread: creating them concurrently is not thread-safe."""
    for service in ("dynamodb", "kms", "events", "secretsmanager"):
        aws.client(service)
