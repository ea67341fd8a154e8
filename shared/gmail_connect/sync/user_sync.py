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

At the floor, an idle user costs one read and no write: the account (sync position and grant)
is read once, by the worker for its whole SQS batch (`accounts.get_many`) or here, and an
unchanged position is written again only once `last_sync_at` is `POSITION_REFRESH_SECONDS`
old. A write per user per round would be most of the sync's DynamoDB bill (96 writes a day per
user at a 15-minute schedule); skipping it costs nothing in correctness, since an unchanged
position means no mail arrived, so a resync's `after:` window over that hour finds nothing more.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import EllipsisType
from typing import Any, Protocol

from gmail_connect.core.account_status import REAUTHORIZATION_REQUIRED
from gmail_connect.core.config import get_settings
from gmail_connect.core.errors import GmailConnectError, ReauthorizationRequired
from gmail_connect.core.observability import logger
from gmail_connect.store import accounts
from gmail_connect.sync import mail_events, watch
from gmail_connect.sync.mail_events import MessageReceived, is_received

FIRST_SYNC = "first_sync"
INCREMENTAL = "incremental"
RESYNC = "resync"

MAX_HISTORY_PAGES = 50  # x 100 records per page; SYNC_MAX_MESSAGES usually stops it sooner
MAX_LIST_PAGE = 500  # users.messages.list's maxResults ceiling
RESYNC_OVERLAP_SECONDS = 300  # mail that arrived while the last sync was finishing is looked at again
POSITION_REFRESH_SECONDS = 3600
"""An unchanged position is written again (only `last_sync_at` changes) once it is this old.

`GET /me` shows `last_sync_at`: for a healthy idle mailbox it is at most this plus one schedule
period old (75 minutes at the default 15-minute schedule), and a mailbox that got mail shows the
sync that saw it. One hour keeps three of every four idle writes away at that schedule."""


class UnknownUser(GmailConnectError):
    """No account for the message's user id (never connected, or disconnected since)."""

    code = "unknown_user"


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
class SyncResult:
    user_id: str
    outcome: str
    new_messages: int = 0
    history_id: int | None = None
    complete: bool = True  # False: more history is waiting (SYNC_MAX_MESSAGES reached)
    # The stored position is this sync's: False after a skip, or when a newer sync or a disconnect won
    position_advanced: bool = False
    # False when the stored position already was this one, and recent: nothing was written
    position_written: bool = False


@dataclass
class _Plan:
    kind: str
    history_id: int
    events: list[MessageReceived] = field(default_factory=list)
    complete: bool = True


def sync_user(
    user_id: str,
    *,
    account: accounts.Account | EllipsisType | None = ...,
    mailbox_factory: MailboxFactory | None = None,
    publish: Publisher | None = None,
) -> SyncResult:
    """Sync one user; raise for what SQS should retry (Google down, publish failed, unknown user).

    `account` is the user's account as read just before with
    `accounts.SYNC_CREDENTIAL_ATTRIBUTES` (the worker reads its batch at once), None when that
    read found none; left out, it is read here. `mailbox_factory` and `publish` default to the
    real Gmail client and EventBridge.
    """
    from gmail_connect.gmail.client import Gmail, HistoryExpired  # googleapiclient: the worker's only
    from gmail_connect.gmail.credentials import StoredCredentials

    position = accounts.get(user_id, accounts.SYNC_CREDENTIAL_ATTRIBUTES) if account is ... else account
    if position is None:
        raise UnknownUser("No account is stored for this user id.")
    if not position.connected:
        return SyncResult(user_id, REAUTHORIZATION_REQUIRED, history_id=position.history_id)
    limit = get_settings().sync_max_messages
    credentials = StoredCredentials(user_id, account=position)
    mailbox: Mailbox = mailbox_factory(user_id) if mailbox_factory else Gmail(credentials)
    try:
        with credentials.judging():
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
    # Every event names the connection it belongs to (docs/events.md).
    announced = [
        replace(event, connection_id=position.connection_id, external_user_id=position.external_user_id)
        for event in plan.events
    ]
    published = (publish or mail_events.publish)(announced)
    written = _position_due(position, plan.history_id)
    advanced = accounts.advance_sync_position(user_id, plan.history_id) if written else True
    if isinstance(mailbox, watch.Watchable):
        with credentials.judging():
            watch.ensure(mailbox, position)
    if not advanced:
        logger.info("Sync position not advanced: a newer sync or a disconnect came first")
    return SyncResult(
        user_id,
        plan.kind,
        new_messages=published,
        history_id=plan.history_id,
        complete=plan.complete,
        position_advanced=advanced,
        position_written=written,
    )


def _position_due(stored: accounts.Account, history_id: int) -> bool:
    """Whether the position must be written: it moved, or `last_sync_at` is due for a refresh."""
    if stored.history_id != history_id:
        return True
    last_sync = _epoch_seconds(stored.last_sync_at)
    return last_sync is None or time.time() - last_sync >= POSITION_REFRESH_SECONDS


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
        if message_id not in deleted and is_received(added_labels[message_id])
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
        if is_received(item.get("labelIds") or ()):
            events.append(
                MessageReceived.of_metadata(user_id, item, history_ids.get(message_id, default_history_id))
            )
    return events


def _epoch_seconds(iso: str | None) -> int | None:
    if not iso:
        return None
    try:
        return int(datetime.fromisoformat(iso).timestamp())
    except ValueError:
        return None
