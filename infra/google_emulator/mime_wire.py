"""RFC 822 bytes to a MIME tree and back.

Parsing uses the standard library's parser with the ``compat32`` policy (it accepts what real mail
contains: 8-bit headers, odd charsets, broken encodings) and decodes headers as Gmail shows them:
RFC 2047 encoded words decoded, folding removed. Serialising writes CRLF line ends, encodes bodies
with each part's ``Content-Transfer-Encoding`` and non-ASCII headers as encoded words in the
message's charset (display names only, for address headers).
"""

from __future__ import annotations

import base64
import binascii
import email.errors
import email.header
import email.message
import email.parser
import email.policy
import email.utils
import re

from .mime import Body, MailContent, Part

ADDRESS_HEADERS = frozenset({"from", "to", "cc", "bcc", "reply-to", "sender"})
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*={0,2}")


class RawMessageError(ValueError):
    """Bytes that are not a message Gmail would accept."""


# -- parsing ------------------------------------------------------------------------------


def decode_base64url(data: str) -> bytes:
    """Gmail's ``raw``: base64url, padding optional. Standard base64 (``+``, ``/``) is refused."""
    compact = "".join(data.split())
    if not compact or not _BASE64URL.fullmatch(compact):
        raise RawMessageError("'raw' must be a non-empty base64url string.")
    try:
        return base64.urlsafe_b64decode(compact.rstrip("=") + "=" * (-len(compact.rstrip("=")) % 4))
    except (binascii.Error, ValueError) as exc:
        raise RawMessageError("'raw' is not valid base64url.") from exc


def decode_header_value(value: str) -> str:
    """A header as Gmail shows it: unfolded, encoded words decoded, raw 8-bit read as UTF-8."""
    unfolded = _FOLD.sub("", value).strip()
    try:
        unfolded.encode("utf-8")
    except UnicodeEncodeError:  # raw 8-bit bytes the parser kept as surrogates
        data = unfolded.encode("ascii", "surrogateescape")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data.decode("latin-1")
    try:
        return str(email.header.make_header(email.header.decode_header(unfolded)))
    except (LookupError, UnicodeError, ValueError, email.errors.HeaderParseError):
        return unfolded


def _filename(message: email.message.Message) -> str:
    name = message.get_filename() or ""
    return decode_header_value(name) if "=?" in name else name


def _part(message: email.message.Message) -> Part:
    mime_type = message.get_content_type()
    part = Part(
        headers=[(name, decode_header_value(str(value))) for name, value in message.items()],
        mime_type=mime_type,
        charset=message.get_content_charset(),
        filename=_filename(message),
        boundary=message.get_boundary(),
        transfer_encoding=str(message.get("Content-Transfer-Encoding", "7bit")).strip().lower(),
    )
    payload = message.get_payload()
    if isinstance(payload, list):
        children = [child for child in payload if isinstance(child, email.message.Message)]
        if mime_type.startswith("multipart/"):
            part.parts = [_part(child) for child in children]
        else:  # message/rfc822: an attached message, served as a file
            part.body = Body(b"".join(child.as_bytes() for child in children))
    else:
        data = message.get_payload(decode=True)
        part.body = Body(data if isinstance(data, bytes) else b"")
    return part


def parse(raw: bytes) -> MailContent:
    """A delivered message; it keeps ``raw`` as its exact bytes."""
    message = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(raw)
    if not message.keys():
        raise RawMessageError("The raw message has no header section.")
    return MailContent(_part(message), raw=raw)


# -- serialising --------------------------------------------------------------------------


def _encoded_words(name: str, value: str, charset: str) -> str:
    if name.lower() in ADDRESS_HEADERS:
        addresses = email.utils.getaddresses([value])
        return ", ".join(email.utils.formataddr(pair, charset=charset) for pair in addresses)
    return email.header.Header(value, charset, header_name=name).encode(linesep="\r\n")


def _header_line(name: str, value: str, charset: str) -> bytes:
    value = " ".join(value.splitlines())  # a header is one logical line, whatever the caller gave
    if value.isascii():
        return f"{name}: {value}\r\n".encode("ascii")
    try:
        encoded = _encoded_words(name, value, charset)
    except UnicodeEncodeError:  # e.g. a name the message's own charset cannot write
        encoded = _encoded_words(name, value, "utf-8")
    return f"{name}: {encoded}\r\n".encode("ascii")


def _encoded_body(data: bytes, transfer_encoding: str) -> bytes:
    if transfer_encoding == "base64":
        return base64.encodebytes(data).replace(b"\n", b"\r\n")
    if transfer_encoding == "quoted-printable":
        lines = data.split(b"\r\n")
        return b"\r\n".join(binascii.b2a_qp(line, istext=True).replace(b"\n", b"\r\n") for line in lines)
    return data  # 7bit, 8bit, binary: as they are


def _write(part: Part, out: bytearray, charset: str) -> None:
    for name, value in part.headers:
        out += _header_line(name, value, charset)
    out += b"\r\n"
    if not part.is_multipart:
        out += _encoded_body(part.body.read(), part.transfer_encoding)
        return
    if not part.boundary:
        raise ValueError("a multipart part needs a boundary")
    delimiter = part.boundary.encode("ascii")
    for child in part.parts:
        out += b"--" + delimiter + b"\r\n"
        _write(child, out, charset)
        out += b"\r\n"
    out += b"--" + delimiter + b"--\r\n"


def serialize(root: Part, header_charset: str = "utf-8") -> bytes:
    out = bytearray()
    _write(root, out, header_charset)
    return bytes(out)
