"""Building messages as mail clients write them: text and HTML parts, attachments, multiparts.

Boundaries are derived from a seed (the message id), so a generated message serialises to the
same bytes every time. Text is stored with CRLF line ends, as it travels; its transfer encoding
is 7bit when it is ASCII and quoted-printable otherwise unless the caller picks one.
"""

from __future__ import annotations

import datetime
import email.utils
import hashlib
import html

from .mime import Body, MailContent, Part

CHARSET_LABELS = {
    "utf-8": "UTF-8",
    "iso-8859-1": "ISO-8859-1",
    "windows-1252": "windows-1252",
    "shift_jis": "Shift_JIS",
    "gb2312": "GB2312",
    "koi8-r": "KOI8-R",
}


def boundary(seed: str, index: int) -> str:
    """A Gmail-looking boundary (zeros then hex), distinct per multipart in one message."""
    return "000000000000" + hashlib.sha256(f"{seed}:{index}".encode()).hexdigest()[:12]


def crlf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


def text(
    content: str, subtype: str = "plain", *, charset: str = "utf-8", encoding: str | None = None
) -> Part:
    data = crlf(content).encode(charset)
    encoding = encoding or ("7bit" if data.isascii() else "quoted-printable")
    label = CHARSET_LABELS.get(charset, charset)
    headers = [("Content-Type", f'text/{subtype}; charset="{label}"')]
    if encoding != "7bit":
        headers.append(("Content-Transfer-Encoding", encoding))
    return Part(headers, f"text/{subtype}", charset=charset, transfer_encoding=encoding, body=Body(data))


def html_of(content: str) -> str:
    """The HTML a mail client sends alongside plain text: one paragraph per non-empty line."""
    paragraphs = "".join(f"<p>{html.escape(line)}</p>" for line in content.splitlines() if line.strip())
    return f'<div dir="ltr">{paragraphs}</div>'


def attachment(
    body: bytes | Body,
    mime_type: str,
    filename: str,
    *,
    content_id: str | None = None,
) -> Part:
    """A base64 file part; with ``content_id`` it is inline (referenced as ``cid:`` from HTML)."""
    disposition = "inline" if content_id else "attachment"
    headers = [
        ("Content-Type", f'{mime_type}; name="{filename}"'),
        ("Content-Disposition", f'{disposition}; filename="{filename}"'),
        ("Content-Transfer-Encoding", "base64"),
    ]
    if content_id:
        headers += [("Content-ID", f"<{content_id}>"), ("X-Attachment-Id", content_id)]
    else:
        headers.append(("X-Attachment-Id", "f_" + hashlib.sha256(filename.encode()).hexdigest()[:9]))
    content = body if isinstance(body, Body) else Body(body)
    return Part(headers, mime_type, filename=filename, transfer_encoding="base64", body=content)


def multipart(subtype: str, parts: list[Part], seed: str, index: int = 0) -> Part:
    delimiter = boundary(seed, index)
    headers = [("Content-Type", f'multipart/{subtype}; boundary="{delimiter}"')]
    return Part(headers, f"multipart/{subtype}", boundary=delimiter, parts=parts)


def alternative(plain: str, seed: str, *, charset: str = "utf-8", index: int = 0) -> Part:
    return multipart(
        "alternative",
        [text(plain, charset=charset), text(html_of(plain), "html", charset=charset)],
        seed,
        index,
    )


def date_header(internal_date_ms: int, offset_minutes: int = 0) -> str:
    zone = datetime.timezone(datetime.timedelta(minutes=offset_minutes))
    return email.utils.format_datetime(datetime.datetime.fromtimestamp(internal_date_ms / 1000, zone))


def domain_of(address: str) -> str:
    return email.utils.parseaddr(address)[1].rpartition("@")[2] or "mail.example"


def message(
    body: Part,
    *,
    message_id: str,
    sender: str,
    to: str,
    subject: str,
    internal_date_ms: int,
    offset_minutes: int = 0,
    in_reply_to: list[str] | None = None,
    header_charset: str = "utf-8",
    received: bool = True,
) -> MailContent:
    """A whole message: the envelope headers Gmail shows, then ``body`` as its content.

    Received mail starts with ``Delivered-To`` (the mailbox it reached); mail the user sent does not.
    """
    headers = [("Delivered-To", email.utils.parseaddr(to)[1] or to)] if received else []
    headers += [
        ("MIME-Version", "1.0"),
        ("Date", date_header(internal_date_ms, offset_minutes)),
        ("Message-ID", f"<{message_id}@{domain_of(sender)}>"),
    ]
    if in_reply_to:
        headers += [("In-Reply-To", in_reply_to[-1]), ("References", " ".join(in_reply_to))]
    headers += [("Subject", subject), ("From", sender), ("To", to)]
    body.headers = headers + body.headers
    return MailContent(body, header_charset=header_charset)


def simple(
    *,
    message_id: str,
    sender: str,
    to: str,
    subject: str,
    body: str,
    internal_date_ms: int,
    in_reply_to: list[str] | None = None,
    received: bool = True,
) -> MailContent:
    """What the control endpoint delivers for ``{from, subject, body}``: plain text plus HTML."""
    return message(
        alternative(body, message_id),
        message_id=message_id,
        sender=sender,
        to=to,
        subject=subject,
        internal_date_ms=internal_date_ms,
        in_reply_to=in_reply_to,
        received=received,
    )
