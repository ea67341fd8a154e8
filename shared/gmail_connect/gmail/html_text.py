"""A plain-text rendering of a mail's HTML, for messages that carry no text/plain body.

Tags go, entities are decoded, the content of script/style/head elements is dropped, and block
elements become line or paragraph breaks so the text reads as the mail was laid out. The stdlib
`html.parser` is lenient and fast enough for a capped body; the output is text, never markup, so a
parse that differs from a browser's can garble words but cannot make anything active.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

_HIDDEN = frozenset({"script", "style", "head", "title", "template", "noscript", "xml"})
_PARAGRAPH = frozenset(
    {"p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table", "ul", "ol", "dl", "pre", "hr"}
)
_LINE = frozenset(
    {"br", "div", "tr", "li", "dt", "dd", "section", "article", "header", "footer", "address", "center"}
)
_CELL = frozenset({"td", "th"})
_SPACES = re.compile(r"[ \t\r\n\f\v\u00a0]+")
_PARAGRAPH_BREAK = "\x00P"
_LINE_BREAK = "\x00L"
_BREAKS = (_PARAGRAPH_BREAK, _LINE_BREAK, "\n")
_BLANK_LINES = re.compile(r"\n{3,}")
_TAG = re.compile(r"<[^>]*>?")
_HIDDEN_ELEMENT = re.compile(r"<(script|style|head|title)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)


class _Renderer(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self._hidden = 0
        self._pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self._hidden += 1
        elif tag == "pre":
            self._pre += 1
        self._break(tag, opening=True)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._break(tag, opening=True)

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag == "pre":
            self._pre = max(0, self._pre - 1)
        if tag != "br":
            self._break(tag, opening=False)

    def handle_data(self, data: str) -> None:
        if self._hidden:
            return
        data = data.replace("\x00", "")
        if not self._pre:
            # Outside <pre> a run of whitespace is one space, and none opens a line, as a browser shows it.
            data = _SPACES.sub(" ", data)
            if not self.chunks or self.chunks[-1] in _BREAKS:
                data = data.lstrip(" ")
        if data:
            self.chunks.append(data)

    def parse_marked_section(self, i: int, report: bool = True) -> int:
        # A browser reads `<![...>` (Outlook's `<![if !mso]>`, CDATA) as a bogus comment ending at
        # the first `>`; html.parser would parse a marked section, and raise on an unknown keyword.
        end = self.rawdata.find(">", i + 3)
        return -1 if end < 0 else end + 1

    def _break(self, tag: str, *, opening: bool) -> None:
        if tag == "br":
            self.chunks.append("\n")
        elif tag in _PARAGRAPH:
            self._mark(_PARAGRAPH_BREAK)
        elif tag in _LINE:
            self._mark(_LINE_BREAK)
            if tag == "li" and opening:
                self.chunks.append("- ")
        elif tag in _CELL and opening and self.chunks and self.chunks[-1] not in _BREAKS:
            self.chunks.append(" ")

    def _mark(self, marker: str) -> None:
        """Adjacent block boundaries make one break, the wider of them (a <br> always counts)."""
        if self.chunks and self.chunks[-1] in (_PARAGRAPH_BREAK, _LINE_BREAK):
            if marker == _PARAGRAPH_BREAK:
                self.chunks[-1] = marker
            return
        self.chunks.append(marker)


def html_to_text(markup: str) -> str:
    """The readable text of an HTML body; empty when it has none."""
    renderer = _Renderer()
    try:
        renderer.feed(markup)
        renderer.close()
    except (AssertionError, ValueError):
        # Should html.parser give up on some malformed markup, a crude strip keeps the words.
        return _layout(html.unescape(_TAG.sub(" ", _HIDDEN_ELEMENT.sub(" ", markup))))
    return _layout("".join(renderer.chunks))


def _layout(text: str) -> str:
    """Breaks become newlines; no line ends in spaces and there is at most one blank line in a row."""
    text = text.replace(_PARAGRAPH_BREAK, "\n\n").replace(_LINE_BREAK, "\n")
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", text).strip("\n")
