"""Google accounts and their mailboxes: messages, labels, threads and the history log.

Every change to a mailbox (delivery, label change, deletion) appends a history record whose
id is larger than every earlier one, with small gaps as in Gmail ("history IDs increase
chronologically but are not contiguous"). Each message remembers the id of the last record
that touched it. A message joins a thread as Gmail threads received mail: it answers a message
of that thread (``In-Reply-To``/``References``) and its subject matches once ``Re:`` and the
like are set aside.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .labels import Labels
from .mime import MailContent, normalized_subject

# How many history records a mailbox keeps; older start ids then get 404.
HISTORY_WINDOW = 10_000


def stable_sub(email: str) -> str:
    """A 21-digit subject id derived from the address, stable across runs (Google's look)."""
    digest = int.from_bytes(hashlib.sha256(email.lower().encode()).digest()[:16], "big")
    return "1" + str(digest % 10**20).zfill(20)


def default_name(email: str) -> str:
    local = email.split("@", 1)[0]
    return " ".join(part.capitalize() for part in local.replace("_", ".").split(".") if part) or email


@dataclass
class Message:
    id: str
    thread_id: str
    label_ids: list[str]
    content: MailContent
    internal_date_ms: int
    history_id: int = 0

    @property
    def sender(self) -> str:
        return self.content.header("From")

    @property
    def to(self) -> str:
        return self.content.header("To")

    @property
    def subject(self) -> str:
        return self.content.header("Subject")

    @property
    def body(self) -> str:
        """The readable text (for search and the snippet)."""
        return self.content.text

    def ref(self) -> dict[str, Any]:
        return {"id": self.id, "threadId": self.thread_id}

    def ref_with_labels(self) -> dict[str, Any]:
        return {"id": self.id, "threadId": self.thread_id, "labelIds": list(self.label_ids)}


@dataclass
class HistoryRecord:
    """One history entry: its id and the changes it holds, each ``(kind, message, labels)``.

    ``kind`` is a Gmail ``historyTypes`` value (messageAdded, messageDeleted, labelAdded,
    labelRemoved); ``message`` is the message's ``{id, threadId, labelIds}`` at that moment;
    ``labels`` are the label ids added or removed. ``label_ids`` is every label the record
    concerns (the messages' labels at that moment plus those added or removed), what a watch's
    label filter looks at.
    """

    id: int
    changes: list[tuple[str, dict[str, Any], list[str]]] = field(default_factory=list)
    label_ids: set[str] = field(default_factory=set)

    def touches_label(self, label_id: str) -> bool:
        return any(
            label_id in message.get("labelIds", []) or label_id in labels
            for _, message, labels in self.changes
        )


class Account:
    """A Google account: identity plus a Gmail mailbox. The caller holds the state lock."""

    def __init__(self, email: str, name: str | None = None) -> None:
        self.email = email
        self.name = name or default_name(email)
        self.sub = stable_sub(email)
        self.messages: dict[str, Message] = {}
        self.labels = Labels()
        self.history: list[HistoryRecord] = []
        seed = int(self.sub[-8:])
        self._rng = random.Random(seed)
        self.history_id = 100_000 + seed % 900_000
        self.history_floor = self.history_id
        self._sequence = self._rng.randrange(0x1000)
        # Told of every new history record (push notifications); called with the state lock held.
        self.listener: Callable[[Account, HistoryRecord], None] | None = None

    # -- identity -------------------------------------------------------------------------

    @property
    def given_name(self) -> str:
        return self.name.split(" ", 1)[0]

    @property
    def family_name(self) -> str:
        parts = self.name.split(" ", 1)
        return parts[1] if len(parts) > 1 else ""

    @property
    def picture(self) -> str:
        return f"https://lh3.googleusercontent.com/a/emulator-{self.sub[-10:]}=s96-c"

    # -- mailbox --------------------------------------------------------------------------

    def new_message_id(self, internal_date_ms: int) -> str:
        """Gmail-like 16-hex-digit id whose high bits are the delivery time."""
        self._sequence = (self._sequence + 1) & 0xFFFFF
        return format((internal_date_ms << 20) | self._sequence, "016x")

    def _record(self, *changes: tuple[str, Message, list[str]]) -> HistoryRecord:
        self.history_id += self._rng.randint(1, 4)
        record = HistoryRecord(self.history_id)
        for kind, message, labels in changes:
            snapshot = message.ref() if kind == "messageDeleted" else message.ref_with_labels()
            record.changes.append((kind, snapshot, list(labels)))
            record.label_ids.update(message.label_ids, labels)
            message.history_id = self.history_id
        self.history.append(record)
        if self.listener is not None:
            self.listener(self, record)
        if len(self.history) > HISTORY_WINDOW:
            dropped = self.history[: len(self.history) - HISTORY_WINDOW]
            del self.history[: len(dropped)]
            self.history_floor = dropped[-1].id
        return record

    def deliver(
        self,
        content: MailContent,
        *,
        label_ids: list[str],
        internal_date_ms: int,
        thread_id: str | None = None,
        message_id: str | None = None,
    ) -> Message:
        message_id = message_id or self.new_message_id(internal_date_ms)
        message = Message(
            id=message_id,
            thread_id=thread_id or message_id,
            label_ids=list(dict.fromkeys(label_ids)),
            content=content,
            internal_date_ms=internal_date_ms,
        )
        self.messages[message_id] = message
        self._record(("messageAdded", message, []))
        return message

    def thread_for(self, content: MailContent, within: str | None = None) -> str | None:
        """The thread a new message joins: one whose message it answers, with a matching subject."""
        answered = set(content.references)
        if not answered:
            return None
        subject = normalized_subject(content.header("Subject"))
        for message in sorted(self.messages.values(), key=lambda m: m.internal_date_ms, reverse=True):
            if (
                message.content.message_id in answered
                and normalized_subject(message.subject) == subject
                and within in (None, message.thread_id)
            ):
                return message.thread_id
        return None

    def thread(self, thread_id: str) -> list[Message]:
        """A thread's messages, oldest first (empty when there is no such thread)."""
        members = [message for message in self.messages.values() if message.thread_id == thread_id]
        return sorted(members, key=lambda m: (m.internal_date_ms, m.id))

    def _label_changes(
        self, message: Message, add: list[str], remove: list[str]
    ) -> list[tuple[str, Message, list[str]]]:
        added = [label for label in dict.fromkeys(add) if label not in message.label_ids]
        removed = [
            label for label in dict.fromkeys(remove) if label in message.label_ids and label not in add
        ]
        message.label_ids = [label for label in message.label_ids if label not in removed] + added
        changes: list[tuple[str, Message, list[str]]] = []
        if added:
            changes.append(("labelAdded", message, added))
        if removed:
            changes.append(("labelRemoved", message, removed))
        return changes

    def change_labels(self, message_ids: list[str], add: list[str], remove: list[str]) -> list[Message]:
        """One label change over some messages (a message, or a whole thread): one history record."""
        messages = [self.messages[message_id] for message_id in message_ids]
        changes = [change for message in messages for change in self._label_changes(message, add, remove)]
        if changes:
            self._record(*changes)
        return messages

    def delete(self, message_id: str) -> None:
        message = self.messages.pop(message_id)
        self._record(("messageDeleted", message, []))

    def expire_history(self) -> None:
        """Forget every record, so any start id older than now is "too old" (404)."""
        self.history.clear()
        self.history_floor = self.history_id

    def records_after(self, start_history_id: int) -> list[HistoryRecord] | None:
        """Records newer than ``start_history_id``; None when that id is no longer covered."""
        if start_history_id < self.history_floor:
            return None
        return [record for record in self.history if record.id > start_history_id]

    def thread_count(self) -> int:
        return len({message.thread_id for message in self.messages.values()})

    def summary(self) -> dict[str, Any]:
        return {
            "email": self.email,
            "name": self.name,
            "sub": self.sub,
            "historyId": str(self.history_id),
            "messagesTotal": len(self.messages),
            "threadsTotal": self.thread_count(),
        }
