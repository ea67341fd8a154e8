"""Google accounts and their mailboxes: messages, labels and the history log.

Every change to a mailbox (delivery, label change, deletion) appends a history record whose
id is larger than every earlier one, with small gaps as in Gmail ("history IDs increase
chronologically but are not contiguous"). Each message remembers the id of the last record
that touched it.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from typing import Any

# Gmail's system labels, in the order labels.list returns them.
SYSTEM_LABELS = (
    "CHAT",
    "SENT",
    "INBOX",
    "IMPORTANT",
    "TRASH",
    "DRAFT",
    "SPAM",
    "CATEGORY_FORUMS",
    "CATEGORY_UPDATES",
    "CATEGORY_PERSONAL",
    "CATEGORY_PROMOTIONS",
    "CATEGORY_SOCIAL",
    "STARRED",
    "UNREAD",
)

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
    sender: str
    to: str
    subject: str
    body: str
    internal_date_ms: int
    history_id: int = 0

    def ref(self) -> dict[str, Any]:
        return {"id": self.id, "threadId": self.thread_id}

    def ref_with_labels(self) -> dict[str, Any]:
        return {"id": self.id, "threadId": self.thread_id, "labelIds": list(self.label_ids)}


@dataclass
class HistoryRecord:
    """One history entry: its id and the changes it holds, each ``(kind, message, labels)``.

    ``kind`` is a Gmail ``historyTypes`` value (messageAdded, messageDeleted, labelAdded,
    labelRemoved); ``message`` is the message's ``{id, threadId, labelIds}`` at that moment;
    ``labels`` are the label ids added or removed.
    """

    id: int
    changes: list[tuple[str, dict[str, Any], list[str]]] = field(default_factory=list)

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
        self.history: list[HistoryRecord] = []
        seed = int(self.sub[-8:])
        self._rng = random.Random(seed)
        self.history_id = 100_000 + seed % 900_000
        self.history_floor = self.history_id
        self._sequence = self._rng.randrange(0x1000)

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
            message.history_id = self.history_id
        self.history.append(record)
        if len(self.history) > HISTORY_WINDOW:
            dropped = self.history[: len(self.history) - HISTORY_WINDOW]
            del self.history[: len(dropped)]
            self.history_floor = dropped[-1].id
        return record

    def deliver(
        self,
        *,
        sender: str,
        to: str,
        subject: str,
        body: str,
        label_ids: list[str],
        internal_date_ms: int,
        thread_id: str | None = None,
    ) -> Message:
        message_id = self.new_message_id(internal_date_ms)
        message = Message(
            id=message_id,
            thread_id=thread_id or message_id,
            label_ids=list(dict.fromkeys(label_ids)),
            sender=sender,
            to=to,
            subject=subject,
            body=body,
            internal_date_ms=internal_date_ms,
        )
        self.messages[message_id] = message
        self._record(("messageAdded", message, []))
        return message

    def change_labels(self, message_id: str, add: list[str], remove: list[str]) -> Message:
        message = self.messages[message_id]
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
        if changes:
            self._record(*changes)
        return message

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
