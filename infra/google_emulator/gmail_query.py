"""A subset of Gmail's search syntax for ``users.messages.list?q=``.

Supported: ``from:`` ``to:`` ``subject:`` ``is:unread|read|starred|important``
``label:NAME`` (system or user label; a user label by its name in query form, e.g.
``label:project-x`` for "Project X") ``in:inbox|sent|spam|trash|drafts|starred|important|anywhere``
``category:NAME`` ``has:attachment`` ``filename:NAME`` (a file name or extension)
``after:`` / ``before:`` (``YYYY/MM/DD``, ``YYYY-MM-DD`` or ``MM/DD/YYYY`` are midnight Pacific time,
as Gmail reads them; epoch seconds are exact) ``newer_than:`` / ``older_than:`` (``Nd``, ``Nm``,
``Ny``), ``"quoted phrases"``, bare words (matched as whole words against subject, body text and
sender) and a leading ``-`` for negation. Terms are ANDed. Anything else (``OR``, ``{}``...) is
treated as a bare word, which in practice matches nothing, as such terms would on an emulated
mailbox.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from .accounts import Message
from .labels import SYSTEM_LABELS, Labels

_TOKEN = re.compile(r'(-?)(?:([A-Za-z_]+):)?("([^"]*)"|(\S+))')
_WORD = re.compile(r"\w+")
_UNITS_MS = {"d": 86_400_000, "m": 30 * 86_400_000, "y": 365 * 86_400_000}
_IN_ALIASES = {"drafts": "DRAFT", "draft": "DRAFT", "chats": "CHAT"}
# "All dates used in the search query are interpreted as midnight on that date in the PST timezone."
GMAIL_DATE_ZONE = ZoneInfo("America/Los_Angeles")

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


def label_id_for(name: str, labels: Labels | None = None) -> str | None:
    """A label as a query names it (``inbox``, ``social``, ``CATEGORY_SOCIAL``, a user label) to its id."""
    upper = name.upper().replace("-", "_")
    upper = _IN_ALIASES.get(name.lower(), upper)
    if upper in SYSTEM_LABELS:
        return upper
    if f"CATEGORY_{upper}" in SYSTEM_LABELS:
        return f"CATEGORY_{upper}"
    user_label = labels.user_label_named(name) if labels is not None else None
    return user_label.id if user_label is not None else None


def _parse_date_ms(value: str) -> int | None:
    if value.isdigit() and len(value) > 8:  # epoch seconds
        return int(value) * 1000
    for pattern in ("%Y/%m/%d", "%Y-%m-%d", "%m/%d/%Y"):
        try:
            parsed = datetime.datetime.strptime(value, pattern).replace(tzinfo=GMAIL_DATE_ZONE)
        except ValueError:
            continue
        return int(parsed.timestamp() * 1000)
    return None


def _has_attachment(message: Message) -> bool:
    return bool(message.content.filenames)


def _filename_matches(value: str) -> Predicate:
    """``filename:`` matches a whole file name, its extension, or a word of it."""
    wanted = value.lower()

    def matches(message: Message) -> bool:
        names = [name.lower() for name in message.content.filenames]
        return any(name == wanted or wanted in _WORD.findall(name) for name in names)

    return matches


def _text_of(message: Message) -> str:
    return f"{message.subject}\n{message.body}\n{message.sender}"


def _bare(value: str) -> Predicate:
    return lambda m: _contains_phrase(_text_of(m), value)


_NEVER: Predicate = lambda m: False  # noqa: E731
_FLAGS: dict[str, Predicate] = {
    "unread": lambda m: "UNREAD" in m.label_ids,
    "read": lambda m: "UNREAD" not in m.label_ids,
    "starred": lambda m: "STARRED" in m.label_ids,
    "important": lambda m: "IMPORTANT" in m.label_ids,
}


def _label_term(operator: str, value: str, labels: Labels | None) -> Predicate:
    if operator == "in" and value.lower() == "anywhere":
        return lambda m: True
    if operator == "category":
        label = label_id_for(f"CATEGORY_{value}")
    else:
        label = label_id_for(value, labels if operator == "label" else None)
    return lambda m: label is not None and label in m.label_ids


def _date_term(operator: str, value: str, now_ms: int) -> Predicate:
    if operator in ("after", "before"):
        moment = _parse_date_ms(value)
        if moment is None:
            return _NEVER
        if operator == "after":
            return lambda m: m.internal_date_ms >= moment
        return lambda m: m.internal_date_ms < moment
    match = re.fullmatch(r"(\d+)([dmy])", value.lower())
    if match is None:
        return _NEVER
    cutoff = now_ms - int(match.group(1)) * _UNITS_MS[match.group(2)]
    if operator == "newer_than":
        return lambda m: m.internal_date_ms > cutoff
    return lambda m: m.internal_date_ms <= cutoff


def _term(operator: str, value: str, now_ms: int, labels: Labels | None) -> Predicate:
    lowered = value.lower()
    if operator == "from":
        return lambda m: lowered in m.sender.lower()
    if operator == "to":
        return lambda m: lowered in m.to.lower()
    if operator == "subject":
        return lambda m: _contains_phrase(m.subject, value)
    if operator == "is":
        return _FLAGS.get(lowered, _NEVER)
    if operator in ("label", "in", "category"):
        return _label_term(operator, value, labels)
    if operator == "has":
        return _has_attachment if lowered == "attachment" else _NEVER
    if operator == "filename":
        return _filename_matches(value)
    if operator in ("after", "before", "newer_than", "older_than"):
        return _date_term(operator, value, now_ms)
    return _bare(f"{operator}:{value}")


def parse(q: str, now_ms: int, labels: Labels | None = None) -> Query:
    predicates: list[Predicate] = []
    mentions = False
    for match in _TOKEN.finditer(q or ""):
        negate, operator, _, quoted, plain = match.groups()
        value = quoted if quoted is not None else plain
        operator = (operator or "").lower()
        if operator in ("in", "label") and value.lower() in ("spam", "trash", "anywhere"):
            mentions = True
        predicate = _term(operator, value, now_ms, labels) if operator else _bare(value)
        if negate:
            predicates.append(lambda m, p=predicate: not p(m))  # type: ignore[misc]
        else:
            predicates.append(predicate)
    return Query(predicates, mentions)
