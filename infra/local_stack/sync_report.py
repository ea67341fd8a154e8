"""What ``make sync`` tells a person besides its counts: the events it published, and why it did nothing.

"0 users enqueued" or "new messages: 0" is correct and useless to someone trying the product: the
usual reasons are that nobody is connected yet, or that a user's first sync only records where
the mailbox is. ``explain`` says which, and what to do; ``PublishedEvents`` records every event the
round put on the bus (type, user, subject), read from the product's own EventBridge client.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from infra.local_stack.sync import RoundSummary

__all__ = ["Published", "PublishedEvents", "event_lines", "explain", "lines"]

FIRST_SYNC = "first_sync"  # gmail_connect.sync.user_sync.FIRST_SYNC (not imported: see `recording`)
REAUTHORIZATION_REQUIRED = "reauthorization_required"


@dataclass(frozen=True)
class Published:
    type: str
    detail: dict[str, Any]


@dataclass
class PublishedEvents:
    """The events a round put on the bus, in order (only those EventBridge accepted)."""

    events: list[Published] = field(default_factory=list)

    @contextmanager
    def recording(self) -> Iterator[PublishedEvents]:
        """Record the PutEvents calls of the layer's cached EventBridge client while inside.

        The layer is imported here, not at the top: its modules read their environment when first
        imported, which ``make sync`` sets only once it has attached to the running stack.
        """
        from gmail_connect.core import aws

        client = aws.client("events")
        client.meta.events.register("before-parameter-build.events.PutEvents", self._remember_request)
        client.meta.events.register("after-call.events.PutEvents", self._record_accepted)
        try:
            yield self
        finally:
            client.meta.events.unregister("before-parameter-build.events.PutEvents", self._remember_request)
            client.meta.events.unregister("after-call.events.PutEvents", self._record_accepted)

    @staticmethod
    def _remember_request(params: Mapping[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["published_entries"] = list(params.get("Entries") or [])

    def _record_accepted(self, parsed: Mapping[str, Any], context: Mapping[str, Any], **_: Any) -> None:
        import json

        sent = context.get("published_entries") or []
        for entry, result in zip(sent, parsed.get("Entries") or [], strict=False):
            if result.get("EventId"):  # a refused entry carries an ErrorCode instead
                try:
                    detail = json.loads(entry.get("Detail") or "{}")
                except ValueError:
                    detail = {}
                self.events.append(Published(str(entry.get("DetailType")), detail))


def event_lines(events: list[Published], emails: Mapping[str, str]) -> list[str]:
    """One line per event: its type, its user (the email when known) and, for mail, the subject."""
    lines = []
    for event in events:
        detail = event.detail
        user = detail.get("email") or emails.get(str(detail.get("user_id")), detail.get("user_id") or "?")
        line = f"  {event.type}  {user}"
        if "subject" in detail:
            line += f"  \u201c{detail['subject'] or '(no subject)'}\u201d"
        if detail.get("reason"):
            line += f"  (reason: {detail['reason']})"
        lines.append(line)
    return lines


def explain(summary: RoundSummary, *, console_url: str, backfill: int) -> list[str]:
    """Why the round announced nothing, in words, with what to do about it (nothing when it did)."""
    if summary.enqueued == 0:
        return [f"no connected users: open {console_url} to connect one"]
    lines = []
    first = summary.outcomes.get(FIRST_SYNC, 0)
    if first and backfill == 0:
        users = f"{first} user" + ("" if first == 1 else "s")
        lines.append(
            f"first sync for {users}: positions recorded, nothing announced "
            "(set SYNC_BACKFILL_MESSAGES to announce the newest messages)"
        )
    reauthorization = summary.outcomes.get(REAUTHORIZATION_REQUIRED, 0)
    if reauthorization:
        lines.append(
            f"{reauthorization} user{'' if reauthorization == 1 else 's'} lost Gmail access: "
            f"they reconnect at {console_url}"
        )
    if summary.new_messages == 0 and summary.users_synced > first:
        lines.append(
            "no new mail since the last sync: deliver some with the console's "
            "\u201cDeliver a test message\u201d, or POST /_emulator/accounts/{email}/messages at the emulator"
        )
    return lines


def lines(summary: RoundSummary, published: PublishedEvents, environment: Mapping[str, str]) -> list[str]:
    """What ``make sync`` prints after its counts: the events published, then why there were none.

    Reads the stored accounts for the emails of events that carry only a user id, and the client
    config for the console's URL: call it attached to the stack (``sync.attach``).
    """
    from gmail_connect.oauth.client_config import google_client
    from gmail_connect.store import accounts

    users = {str(event.detail.get("user_id")) for event in published.events if "email" not in event.detail}
    emails = {user: account.email for user in users if (account := accounts.get(user)) is not None}
    printed = [f"events published ({len(published.events)}):"] if published.events else []
    printed += event_lines(published.events, emails)
    backfill = int(environment.get("SYNC_BACKFILL_MESSAGES") or 0)
    return printed + explain(summary, console_url=f"{google_client().public_base_url}/", backfill=backfill)
