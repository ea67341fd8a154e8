"""Bytes of a mail part, or an RFC 2047 header word, to Unicode: never raises, whatever is declared.

Mail lies about its charset often enough that a declared label is a hint, not a rule. The order is
UTF-8 (strict), then the declared charset, then UTF-8 with U+FFFD: a strict UTF-8 decode of text
in a legacy 8-bit charset almost always fails, so trying it first only ever rescues mislabelled
UTF-8. Two kinds of charset must go first instead, because their bytes can also be valid UTF-8:
the 7-bit stateful ones (ISO-2022-JP, UTF-7: pure ASCII bytes) and UTF-16/32 (ASCII text is full
of NULs). Labels map as browsers map them (WHATWG Encoding): a GB2312 label decodes as GB18030,
ISO-8859-1 and US-ASCII as windows-1252, Shift_JIS as windows-31j.
"""

from __future__ import annotations

import codecs
import re
from email.errors import HeaderParseError
from email.header import decode_header

# Declared label (lower case, '_' as '-') -> the Python codec a browser's decoder corresponds to.
_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "euc-cn": "gb18030",
    "csgb2312": "gb18030",
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "l1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "iso-8859-9": "cp1254",
    "iso-8859-11": "cp874",
    "tis-620": "cp874",
    "shift-jis": "cp932",
    "shift_jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "ms-kanji": "cp932",
    "euc-kr": "cp949",
    "ks-c-5601-1987": "cp949",
    "ks-c-5601": "cp949",
    "big5": "big5hkscs",
    "x-mac-roman": "mac-roman",
    "macintosh": "mac-roman",
}
# Codecs that are not a charset a sender can mean (they would rewrite backslashes or refuse).
_REFUSED = frozenset({"unicode-escape", "raw-unicode-escape", "undefined", "idna", "punycode", "mbcs", "oem"})
_STATEFUL_7BIT = ("iso2022", "utf-7", "hz")
_WIDE = ("utf-16", "utf-32")
_SURROGATE = re.compile("[\ud800-\udfff]")


def codec_for(label: str | None) -> str | None:
    """The Python codec for a declared charset label, or None when it names no usable text codec."""
    if not label:
        return None
    name = label.strip().strip("\"'").lower().replace("_", "-")
    name = _ALIASES.get(name, name)
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError):
        return None
    if info.name in _REFUSED or not getattr(info, "_is_text_encoding", True):
        return None
    return info.name


def _try(data: bytes, codec: str, complete: bool) -> str | None:
    try:
        text = codecs.getincrementaldecoder(codec)("strict").decode(data, final=complete)
    except (UnicodeError, LookupError, ValueError, TypeError):
        return None
    # UTF-7 can spell half a surrogate pair, which no JSON encoder or UTF-8 writer accepts.
    return _SURROGATE.sub("\ufffd", text) if codec == "utf-7" else text


def decode_text(data: bytes, charset: str | None, *, complete: bool = True) -> str:
    """Decode a part's bytes: UTF-8, the declared charset, then UTF-8 with replacement characters.

    `complete=False` says the bytes were cut short: a character split by the cut is left out
    rather than taken as proof that the bytes are in another charset.
    """
    codec = codec_for(charset)
    if codec and (codec.startswith(_WIDE) or (data.isascii() and codec.startswith(_STATEFUL_7BIT))):
        text = _try(data, codec, complete)
        if text is not None:
            return text
    text = _try(data, "utf-8-sig", complete)
    if text is None and codec:
        text = _try(data, codec, complete)
    return text if text is not None else data.decode("utf-8", "replace")


def decode_words(value: str) -> str:
    """A header value with any RFC 2047 encoded-words decoded; the value as given when it has none."""
    if "=?" not in value:
        return value
    try:
        chunks = decode_header(value)
    except (HeaderParseError, ValueError, LookupError):
        return value
    # decode_header turns the text between encoded-words into bytes with raw-unicode-escape.
    return "".join(
        chunk
        if isinstance(chunk, str)
        else decode_text(chunk, charset)
        if charset
        else chunk.decode("raw-unicode-escape", "replace")
        for chunk, charset in chunks
    )
