"""A subset of Gmail's search syntax for ``users.messages.list?q=``.

Supported: ``from:`` ``to:`` ``subject:`` ``is:unread|read|starred|important``
``label:NAME`` ``in:inbox|sent|spam|trash|drafts|starred|important|anywhere``
``category:NAME`` ``after:`` / ``before:`` (``YYYY/MM/DD``, ``YYYY-MM-DD`` or epoch seconds,
UTC) ``newer_than:`` / ``older_than:`` (``Nd``, ``Nm``, ``Ny``), ``"quoted phrases"``, bare
words (matched as whole words against subject, snippet/body and sender) and a leading ``-``
for negation. Terms are ANDed. Anything else (``OR``, ``{}``, ``has:``...) is treated as a
bare word, which in practice matches nothing, as such terms would on an emulated mailbox.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass

from .accounts import SYSTEM_LABELS, Message

_TOKEN = re.compile(r'(-?)(?:([A-Za-z_]+):)?("([^"]*)"|(\S+))')
_WORD = re.compile(r"\w+")
_UNITS_MS = {"d": 86_400_000, "m": 30 * 86_400_000, "y": 365 * 86_400_000}
_IN_ALIASES = {"drafts": "DRAFT", "draft": "DRAFT", "chats": "CHAT"}

Predicate = Callable[[Message], bool]


@dataclass
class Query:
    predicates: list[Predicate]
    mentions_spam_or_trash: bool

    def matches(self, message: Message) -> bool:
        return all(predicate(message) for predicate in self.predicates)


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _contains_phrase(text: str, phrase: str) -> bool:
    needle = _words(phrase)
    haystack = _words(text)
    if not needle:
        return True
    return any(haystack[i : i + len(needle)] == needle for i in range(len(haystack) - len(needle) + 1))


def label_id_for(name: str) -> str | None:
    """A label name as typed in a query (``inbox``, ``social``, ``CATEGORY_SOCIAL``) to its id."""
    upper = name.upper().replace("-", "_")
    upper = _IN_ALIASES.get(name.lower(), upper)
    if upper in SYSTEM_LABELS:
        return upper
    if f"CATEGORY_{upper}" in SYSTEM_LABELS:
        return f"CATEGORY_{upper}"
    return None


def _parse_date_ms(value: str) -> int | None:
    if value.isdigit() and len(value) > 8:  # epoch seconds
        return int(value) * 1000
    for pattern in ("%Y/%m/%d", "%Y-%m-%d", "%m/%d/%Y"):
        try:
            parsed = datetime.datetime.strptime(value, pattern).replace(tzinfo=datetime.UTC)
        except ValueError:
            continue
        return int(parsed.timestamp() * 1000)
    return None


def _text_of(message: Message) -> str:
    return f"{message.subject}\n{message.body}\n{message.sender}"


def _bare(value: str) -> Predicate:
    return lambda m: _contains_phrase(_text_of(m), value)


def _term(operator: str, value: str, now_ms: int) -> Predicate:
    lowered = value.lower()
    if operator == "from":
        return lambda m: lowered in m.sender.lower()
    if operator == "to":
        return lambda m: lowered in m.to.lower()
    if operator == "subject":
        return lambda m: _contains_phrase(m.subject, value)
    if operator == "is":
        flags: dict[str, Predicate] = {
            "unread": lambda m: "UNREAD" in m.label_ids,
            "read": lambda m: "UNREAD" not in m.label_ids,
            "starred": lambda m: "STARRED" in m.label_ids,
            "important": lambda m: "IMPORTANT" in m.label_ids,
        }
        return flags.get(lowered, lambda m: False)
    if operator in ("label", "in", "category"):
        if operator == "in" and lowered == "anywhere":
            return lambda m: True
        label = label_id_for(f"CATEGORY_{value}" if operator == "category" else value)
        return lambda m: label is not None and label in m.label_ids
    if operator in ("after", "before"):
        moment = _parse_date_ms(value)
        if moment is None:
            return lambda m: False
        if operator == "after":
            return lambda m: m.internal_date_ms >= moment
        return lambda m: m.internal_date_ms < moment
    if operator in ("newer_than", "older_than"):
        match = re.fullmatch(r"(\d+)([dmy])", lowered)
        if match is None:
            return lambda m: False
        cutoff = now_ms - int(match.group(1)) * _UNITS_MS[match.group(2)]
        if operator == "newer_than":
            return lambda m: m.internal_date_ms > cutoff
        return lambda m: m.internal_date_ms <= cutoff
    return _bare(f"{operator}:{value}")


def parse(q: str, now_ms: int) -> Query:
    predicates: list[Predicate] = []
    mentions = False
    for match in _TOKEN.finditer(q or ""):
        negate, operator, _, quoted, plain = match.groups()
        value = quoted if quoted is not None else plain
        operator = (operator or "").lower()
        if operator in ("in", "label") and value.lower() in ("spam", "trash", "anywhere"):
            mentions = True
        predicate = _term(operator, value, now_ms) if operator else _bare(value)
        if negate:
            predicates.append(lambda m, p=predicate: not p(m))  # type: ignore[misc]
        else:
            predicates.append(predicate)
    return Query(predicates, mentions)
