"""How generated messages are built: the MIME shapes and charsets real mail arrives in.

Each thread gets a style, in a fixed rotation, so any mailbox of a few dozen messages holds every
shape: plain text only, HTML only, text with HTML, a PDF attachment, an inline image referenced
by ``cid:``, several files, quoted-printable and base64 bodies, and the charsets UTF-8,
ISO-8859-1, windows-1252, Shift_JIS, GB2312 and KOI8-R (those threads come from people writing
in that language). The rotation holds one message with a 10 MB attachment; it is made lazily.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from . import mail_compose as compose
from . import sample_files
from .mime import MailContent, Part


@dataclass(frozen=True)
class Persona:
    """Someone who writes in their own language and charset."""

    name: str
    address: str
    charset: str
    offset_minutes: int  # of their Date header
    subject: str
    body: str
    encoding: str  # of their text parts

    @property
    def mailbox(self) -> str:
        return f"{self.name} <{self.address}>"


PERSONAS = {
    "latin1": Persona(
        "Élodie Dubois",
        "elodie.dubois@exemple.fr",
        "iso-8859-1",
        60,
        "Réunion de l'équipe jeudi",
        "Bonjour,\n\nLa réunion de l'équipe est déplacée à jeudi, 10 h, salle Hélène.\n"
        "Café et croissants offerts !\n\nÀ bientôt,\nÉlodie",
        "quoted-printable",
    ),
    "cp1252": Persona(
        "Boutique Élégance",
        "factures@boutique-elegance.example",
        "windows-1252",
        60,
        "Votre facture n° 2026-114 – 149,90 €",
        "Bonjour,\n\nMerci pour votre commande « Lampe “Aurore” ».\nMontant : 149,90 € – réglé par carte.\n\n"
        "L’équipe Élégance",
        "quoted-printable",
    ),
    "sjis": Persona(
        "田中 浩",
        "tanaka.hiroshi@example.jp",
        "shift_jis",
        540,
        "会議の議事録",
        "田中です。\n\n本日の会議の議事録を送ります。\nご確認のほど、よろしくお願いいたします。\n\n田中",
        "base64",
    ),
    "gb2312": Persona(
        "王伟",
        "wang.wei@example.cn",
        "gb2312",
        480,
        "周末聚餐安排",
        "大家好，\n\n周六晚上七点在老地方聚餐，请回复是否参加。\n\n王伟",
        "base64",
    ),
    "koi8r": Persona(
        "Иван Петров",
        "ivan.petrov@example.ru",
        "koi8-r",
        180,
        "Отчёт за неделю",
        "Привет!\n\nОтчёт за неделю готов, основные цифры ниже.\nВстреча в пятницу в 15:00.\n\nИван",
        "8bit",
    ),
}

# The rotation threads are given, in order. "big" is used once per mailbox.
STYLES = (
    "alternative",
    "latin1",
    "text_only",
    "pdf",
    "sjis",
    "html_only",
    "related",
    "cp1252",
    "files",
    "gb2312",
    "utf8_qp",
    "koi8r",
    "big",
)
BIG_FILENAME = "scan-full-resolution.bmp"


@dataclass(frozen=True)
class Draft:
    """What a generated message says, before it is given a shape."""

    message_id: str
    sender: str
    to: str
    subject: str
    body: str
    internal_date_ms: int
    references: list[str]
    offset_minutes: int = 0
    number: int = 0  # its place in the mailbox's generated mail: varies the images deterministically
    received: bool = True  # False for mail the user sent


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "document"


def _newsletter_html(subject: str, body: str, sender: str) -> str:
    name = sender.split("<", 1)[0].strip() or sender
    domain = compose.domain_of(sender)
    return (
        "<html><head><style>p{font-family:Arial,sans-serif}</style></head><body>"
        '<table width="100%" cellpadding="0"><tr><td>'
        f"<h1>{html.escape(subject)}</h1><p>{html.escape(body)}</p>"
        f'<p><a href="https://{domain}/read">Read more&nbsp;&raquo;</a></p>'
        f'<p style="color:#888"><a href="https://{domain}/unsubscribe">Unsubscribe</a> &middot; '
        f"&copy; 2026 {html.escape(name)}</p>"
        "</td></tr></table></body></html>"
    )


def _body(style: str, draft: Draft) -> Part:
    seed, text = draft.message_id, draft.body
    if style == "text_only":
        return compose.text(text)
    if style == "html_only":
        return compose.text(
            _newsletter_html(draft.subject, text, draft.sender), "html", encoding="quoted-printable"
        )
    if style == "pdf":
        document = sample_files.pdf(draft.subject, text.splitlines() or [text])
        attachment = compose.attachment(document, "application/pdf", f"{_slug(draft.subject)}.pdf")
        return compose.multipart("mixed", [compose.alternative(text, seed, index=1), attachment], seed)
    if style == "related":
        cid = f"ii_{seed[-10:]}"
        markup = (
            f'{compose.html_of(text)}<div><img src="cid:{cid}" alt="photo.png" width="48" height="48"></div>'
        )
        inner = compose.multipart("alternative", [compose.text(text), compose.text(markup, "html")], seed, 1)
        image = compose.attachment(
            sample_files.png(48, 48, draft.number), "image/png", "photo.png", content_id=cid
        )
        return compose.multipart("related", [inner, image], seed)
    if style == "files":
        notes = compose.crlf(f"Notes about: {draft.subject}\n\n{text}\n").encode()
        return compose.multipart(
            "mixed",
            [
                compose.text(text),
                compose.attachment(sample_files.png(32, 24, draft.number), "image/png", "lake.png"),
                compose.attachment(notes, "text/plain", "notes.txt"),
            ],
            seed,
        )
    if style == "big":
        image = compose.attachment(sample_files.big_bmp_body(), "image/bmp", BIG_FILENAME)
        return compose.multipart("mixed", [compose.text(text), image], seed)
    if style == "utf8_qp":
        signed = f"{text}\n\n— Sent from Zürich ☕ (naïve café, 20 °C)"
        return compose.multipart(
            "alternative",
            [compose.text(signed), compose.text(compose.html_of(signed), "html")],
            seed,
        )
    return compose.alternative(text, seed)


def _persona_body(style: str, persona: Persona, draft: Draft) -> Part:
    plain = compose.text(draft.body, charset=persona.charset, encoding=persona.encoding)
    if style in ("sjis", "koi8r"):  # single-part: the body sits on the payload itself
        return plain
    rich = compose.text(
        compose.html_of(draft.body), "html", charset=persona.charset, encoding=persona.encoding
    )
    alternative = compose.multipart(
        "alternative", [plain, rich], draft.message_id, 1 if style == "cp1252" else 0
    )
    if style != "cp1252":
        return alternative
    invoice = sample_files.pdf("Facture 2026-114", ["Lampe Aurore", "Total: 149,90 EUR"])
    attachment = compose.attachment(invoice, "application/pdf", "facture-2026-114.pdf")
    return compose.multipart("mixed", [alternative, attachment], draft.message_id)


def _envelope(body: Part, draft: Draft, charset: str = "utf-8") -> MailContent:
    return compose.message(
        body,
        message_id=draft.message_id,
        sender=draft.sender,
        to=draft.to,
        subject=draft.subject,
        internal_date_ms=draft.internal_date_ms,
        offset_minutes=draft.offset_minutes,
        in_reply_to=draft.references,
        header_charset=charset,
        received=draft.received,
    )


def first_message(style: str, draft: Draft) -> MailContent:
    persona = PERSONAS.get(style)
    if persona is not None:
        return _envelope(_persona_body(style, persona, draft), draft, persona.charset)
    return _envelope(_body(style, draft), draft)


def reply(draft: Draft, quoted: str, charset: str = "utf-8") -> MailContent:
    """A short answer quoting the first line of what it answers, as text plus HTML."""
    first_line = next((line for line in quoted.splitlines() if line.strip()), "")
    text = f"{draft.body}\n\n> {first_line}" if first_line else draft.body
    body = compose.alternative(text, draft.message_id, charset=charset)
    return _envelope(body, draft, charset)


def spam(draft: Draft) -> MailContent:
    markup = (
        f"<html><body><h2>{html.escape(draft.subject)}</h2>"
        f'<p><a href="https://spam.example/claim">{html.escape(draft.body)}</a></p></body></html>'
    )
    return _envelope(compose.text(markup, "html"), draft)
