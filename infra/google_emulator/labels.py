"""A mailbox's labels: Gmail's fixed system labels plus the user's own (``Label_1``, ``Label_2``...).

User labels get ids in creation order and keep them; names are unique ignoring case, and may not
reuse a system label's name. In search queries Gmail writes a label name in lower case with
spaces and slashes as hyphens (``label:project-x`` for "Project X").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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
MAX_NAME_LENGTH = 225
_QUERY_SEPARATORS = re.compile(r"[\s/]+")


class LabelExists(Exception):
    pass


class InvalidLabelName(ValueError):
    pass


@dataclass(frozen=True)
class Label:
    id: str
    name: str
    type: str  # "system" or "user"

    def resource(self) -> dict[str, str]:
        """The label as ``labels.list`` shows it (no counts)."""
        item = {"id": self.id, "name": self.name}
        if self.type == "user":
            item |= {"messageListVisibility": "show", "labelListVisibility": "labelShow"}
        elif not self.id.startswith("CATEGORY_"):
            item["messageListVisibility"] = "hide" if self.id in ("SPAM", "TRASH", "CHAT") else "show"
            item["labelListVisibility"] = "labelHide" if self.id in ("UNREAD", "CHAT") else "labelShow"
        item["type"] = self.type
        return item


def query_form(name: str) -> str:
    """A label name as a search query spells it: lower case, spaces and slashes as hyphens."""
    return _QUERY_SEPARATORS.sub("-", name.strip().lower())


class Labels:
    """The labels of one mailbox. The caller holds the state lock."""

    def __init__(self) -> None:
        self._user: dict[str, Label] = {}
        self._next = 1

    def add(self, name: str) -> Label:
        name = name.strip()
        if not name or len(name) > MAX_NAME_LENGTH:
            raise InvalidLabelName(f"A label name must have 1 to {MAX_NAME_LENGTH} characters.")
        if name.upper() in SYSTEM_LABELS:
            raise InvalidLabelName(f"Invalid label name: {name!r} is reserved for a system label.")
        if any(label.name.lower() == name.lower() for label in self._user.values()):
            raise LabelExists(f"Label name exists or conflicts: {name}")
        label = Label(f"Label_{self._next}", name, "user")
        self._next += 1
        self._user[label.id] = label
        return label

    def get(self, label_id: str) -> Label | None:
        if label_id in SYSTEM_LABELS:
            return Label(label_id, label_id, "system")
        return self._user.get(label_id)

    def known(self, label_id: str) -> bool:
        return label_id in SYSTEM_LABELS or label_id in self._user

    def unknown(self, label_ids: list[str]) -> list[str]:
        return [label_id for label_id in label_ids if not self.known(label_id)]

    def user_label_named(self, query_name: str) -> Label | None:
        """The user label a query's ``label:`` term names (compared in query form)."""
        wanted = query_form(query_name)
        return next((label for label in self._user.values() if query_form(label.name) == wanted), None)

    def all(self) -> list[Label]:
        return [Label(label_id, label_id, "system") for label_id in SYSTEM_LABELS] + list(self._user.values())
