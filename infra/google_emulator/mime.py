"""Mail content as Gmail exposes it: a tree of MIME parts with decoded headers and decoded bodies.

Gmail's ``payload`` is this tree and ``raw`` its RFC 822 bytes. A message delivered as raw bytes
is parsed into the tree and keeps its exact bytes; a generated message is built as a tree and
serialised when someone asks for ``raw`` or its size (``mime_wire``). A leaf's body may be lazy
(made on demand, deterministically) so a large generated attachment costs no memory while unread.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser

# Bodies bigger than this are served through messages.attachments.get even when they are text
# (Gmail moves large parts out of the message resource; the exact threshold is not documented).
LARGE_PART_BYTES = 1024 * 1024
_MESSAGE_ID = re.compile(r"<[^<>\s]+>")
_REPLY_PREFIX = re.compile(r"^\s*((re|fwd?|aw|sv|wg|tr)(\[\d+\])?\s*:\s*)+", re.IGNORECASE)


class Body:
    """A leaf's decoded content: bytes, or a deterministic maker whose size is known up front."""

    __slots__ = ("_data", "_make", "size")

    def __init__(self, data: bytes = b"", *, make: Callable[[], bytes] | None = None, size: int = 0) -> None:
        self._data = data if make is None else None
        self._make = make
        self.size = len(data) if make is None else size

    def read(self) -> bytes:
        if self._data is not None:
            return self._data
        if self._make is None:
            raise RuntimeError("a body with neither data nor a maker")
        data = self._make()
        if len(data) != self.size:
            raise RuntimeError(f"a lazy body made {len(data)} bytes, not the {self.size} it announced")
        return data


@dataclass
class Part:
    """One MIME entity. ``headers`` are (name, decoded value) in message order."""

    headers: list[tuple[str, str]]
    mime_type: str
    charset: str | None = None
    filename: str = ""
    boundary: str | None = None
    transfer_encoding: str = "7bit"
    parts: list[Part] = field(default_factory=list)
    body: Body = field(default_factory=Body)

    def header(self, name: str) -> str:
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), "")

    @property
    def is_multipart(self) -> bool:
        return self.mime_type.startswith("multipart/")

    @property
    def is_attachment(self) -> bool:
        """Served by ``attachments.get`` rather than inline: named files, non-text and large leaves."""
        if self.is_multipart:
            return False
        return (
            bool(self.filename) or not self.mime_type.startswith("text/") or self.body.size > LARGE_PART_BYTES
        )

    def walk(self, part_id: str = "") -> Iterator[tuple[str, Part]]:
        """Every part with Gmail's ``partId``: "" for the root, "0", "1", "1.0"... below it."""
        yield part_id, self
        for index, child in enumerate(self.parts):
            yield from child.walk(f"{part_id}.{index}" if part_id else str(index))

    def find(self, part_id: str) -> Part | None:
        return next((part for found, part in self.walk() if found == part_id), None)

    def text(self) -> str:
        """The body decoded with its charset (UTF-8 when none is given or it is unknown)."""
        return self.body.read().decode(_codec(self.charset), errors="replace")


def _codec(charset: str | None) -> str:
    try:
        return codecs.lookup(charset or "utf-8").name
    except LookupError:
        return "utf-8"


class _TextOfHtml(HTMLParser):
    """The visible text of an HTML body: tags dropped, entities decoded, head/style/script skipped."""

    _SKIP = frozenset({"head", "style", "script", "title"})
    _BREAKS = frozenset({"br", "p", "div", "tr", "li", "h1", "h2", "h3", "table"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BREAKS:
            self.chunks.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self._skipping:
            self._skipping -= 1
        elif tag in self._BREAKS:
            self.chunks.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.chunks.append(data)


def html_to_text(markup: str) -> str:
    parser = _TextOfHtml()
    parser.feed(markup)
    parser.close()
    return "".join(parser.chunks)


def normalized_subject(subject: str) -> str:
    """The subject without ``Re:``/``Fwd:`` prefixes, case and spacing folded, for threading."""
    return " ".join(_REPLY_PREFIX.sub("", subject).split()).lower()


class MailContent:
    """One message's content: its MIME tree, and its exact bytes when it was delivered as raw."""

    def __init__(self, root: Part, raw: bytes | None = None, header_charset: str = "utf-8") -> None:
        self.root = root
        self.header_charset = header_charset  # how a generated message encodes non-ASCII headers
        self._raw = raw
        self._size: int | None = len(raw) if raw is not None else None
        self._text: str | None = None

    def header(self, name: str) -> str:
        return self.root.header(name)

    def raw(self) -> bytes:
        if self._raw is not None:
            return self._raw
        from .mime_wire import serialize

        data = serialize(self.root, self.header_charset)
        self._size = len(data)
        return data

    @property
    def size_estimate(self) -> int:
        """The raw size; a generated message is serialised once to learn it, then only the number is kept."""
        if self._size is None:
            self._size = len(self.raw())
        return self._size

    @property
    def text(self) -> str:
        """The readable body: the first text/plain part, else the text of the first text/html part."""
        if self._text is None:
            self._text = self._readable_text()
        return self._text

    def _readable_text(self) -> str:
        leaves = [part for _, part in self.root.walk() if not part.is_multipart and not part.is_attachment]
        for mime_type in ("text/plain", "text/html"):
            part = next((leaf for leaf in leaves if leaf.mime_type == mime_type), None)
            if part is not None:
                return part.text() if mime_type == "text/plain" else html_to_text(part.text())
        return ""

    @property
    def filenames(self) -> list[str]:
        return [part.filename for _, part in self.root.walk() if part.filename]

    @property
    def message_id(self) -> str:
        found = _MESSAGE_ID.search(self.header("Message-ID"))
        return found.group(0) if found else ""

    @property
    def references(self) -> list[str]:
        """Message-IDs this message answers (``In-Reply-To`` and ``References``), newest first."""
        ids = (
            _MESSAGE_ID.findall(self.header("In-Reply-To"))
            + _MESSAGE_ID.findall(self.header("References"))[::-1]
        )
        return list(dict.fromkeys(ids))
