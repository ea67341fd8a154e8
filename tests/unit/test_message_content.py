"""A whole message from Gmail's `format=full` resource: bodies, charsets, attachments, caps, robustness.

Every corpus message in tests/fixtures/mail/ is turned into the resource Gmail would return
(tests/support/gmail_payload.py) and read back; each case says what a reader must see.
"""

# Mail text is full of typographic characters (dashes, curly quotes, full-width commas) on purpose.
# ruff: noqa: RUF001

from __future__ import annotations

import base64
import random
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest

from gmail_connect.gmail.content import bodies_to_fetch, message_content
from tests.support.gmail_payload import MAIL, GmailMessage, b64url, from_bytes, load
from tests.support.html_checks import elements, problems

ROUTE = "/messages/m1/attachments/"


def route(attachment_id: str) -> str:
    return ROUTE + attachment_id


def read(message: GmailMessage, **options: Any) -> dict[str, Any]:
    """What the API would answer: the bodies Gmail left out fetched first, as a route would."""
    bodies = {
        attachment_id: message.attachments[attachment_id]
        for attachment_id in bodies_to_fetch(message.resource)
    }
    return message_content(message.resource, bodies=bodies, cid_url=route, **options)


@dataclass(frozen=True)
class Attachment:
    filename: str
    mime_type: str
    inline: bool = False
    content_id: str | None = None
    downloadable: bool = True  # has Gmail's attachmentId


@dataclass(frozen=True)
class Case:
    file: str
    text: str | None = None  # exact
    text_has: tuple[str, ...] = ()
    text_lacks: tuple[str, ...] = ()
    html_has: tuple[str, ...] = ()
    html_lacks: tuple[str, ...] = ()
    no_html: bool = False
    attachments: tuple[Attachment, ...] = ()
    headers: dict[str, str] = field(default_factory=dict)


CASES = [
    Case(
        "alternative_utf8_qp.eml",
        text="Hi Ben,\n\nThe café booking for Thursday is confirmed — see the reservation:\n"
        "https://bookings.example.org/r/8841\n\nAna\n",
        html_has=("The café booking", '<a href="https://bookings.example.org/r/8841" target="_blank"'),
        html_lacks=("document.cookie", "onclick", "onerror", "<style"),
    ),
    Case(
        "mixed_pdf_png.eml",
        text="Please find invoice 2025-118 attached, with a photo of the site.",
        html_has=("<b>2025-118</b>",),
        attachments=(
            Attachment("invoice-2025-118.pdf", "application/pdf", content_id="f_mg1x2abc0"),
            Attachment("site.png", "image/png"),
        ),
    ),
    Case(
        "text_attachment.eml",
        text="The nightly job failed twice; the log is attached.\n",
        text_lacks=("ERROR",),
        no_html=True,
        attachments=(Attachment("nightly.log", "text/plain"),),
    ),
    Case(
        "mailing_list_footer.eml",
        text="Freeze starts Friday – please land fixes by then.\n"
        "_______________________________________________\ndev mailing list -- dev@lists.example.org",
        text_lacks=("diff --git", "changelog"),
        no_html=True,
        attachments=(
            Attachment("", "text/x-diff", inline=True, downloadable=False),
            Attachment("", "text/plain", inline=True, downloadable=False),
        ),
    ),
    Case(
        "related_inline_image.eml",
        text="Here is the new logo:",
        attachments=(
            Attachment("logo.png", "image/png", inline=True, content_id="logo.png@01DC3C5A.1F2B3C40"),
            Attachment("", "image/png", content_id="spacer@example.org", downloadable=False),
        ),
    ),
    Case("text_only.eml", text="Are you free for lunch at 12:30?\n\n-- \nDana\n", no_html=True),
    Case(
        "html_only.eml",
        text="Weekly summary\n\nTickets closed: 42 & opened: 17.\n\nTop areas:\nbilling\nsearch\n\n"
        "- Fastest reply: 3 min\n- Slowest: 2 h\n\nMon 9\nTue 12\n\n© 2025 Example <Reports>",
        html_has=("<b>42</b>", "<li>Slowest: 2 h</li>"),
        html_lacks=("tracking", "display:none", "Weekly summary</title>"),
    ),
    Case(
        "single_base64.eml",
        text="Notas de la reunión: revisar el presupuesto y el calendario del año.\nGrüße an alle.\n",
        no_html=True,
    ),
    Case(
        "single_qp.eml",
        text_has=(
            "This line is long enough that quoted-printable has to wrap it with a soft line break, "
            "and the receiver must join it again without a visible break: naïve coöperate.",
        ),
        text_lacks=("=\n", "=C3"),
        no_html=True,
    ),
    Case(
        "shift_jis.eml",
        text="お疲れ様です。会議は木曜日の午後３時からです。\n①資料をご確認ください。\n",
        no_html=True,
        headers={"subject": "会議の資料", "from": "田中 <tanaka@example.jp>"},
    ),
    Case("iso_2022_jp.eml", text="明日の予定を確認しました。\n", no_html=True),
    Case(
        "gb2312.eml",
        text="你好，请查收本周的报告。朱镕基先生已确认。\n",
        no_html=True,
        headers={"subject": "本周报告"},
    ),
    Case(
        "koi8_r.eml",
        text="Здравствуйте! Отчёт готов, см. приложение.\n",
        no_html=True,
        headers={"subject": "Отчёт"},
    ),
    Case(
        "windows_1252.eml", text="“Quote” from the supplier: €1,250 – valid until Friday.\n\n", no_html=True
    ),
    Case(
        "iso_8859_1.eml",
        text="Résumé attached — it’s the “final” one. Grüße, François",
        html_has=("<p>Résumé attached — it’s the “final” one. Grüße, François</p>",),
    ),
    Case(
        "euc_kr.eml",
        text="안녕하세요. 회의는 내일 오전 10시입니다.",
        html_has=("<div>안녕하세요. 회의는 내일 오전 10시입니다.</div>",),
    ),
    Case("wrong_charset_latin1_is_utf8.eml", text="Straße und Café — 日本\n", no_html=True),
    Case("wrong_charset_utf8_is_cp1252.eml", text="Price: 5 \ufffd for the caf\ufffd menu\n", no_html=True),
    Case("unknown_charset.eml", text="Naïve über café\n", no_html=True),
    Case(
        "nested_mixed_related_alternative.eml",
        text="Q3 plan attached. Chart below.\n\n[cid:image001.png@01DC3D10.5E6A7B80]\n",
        html_has=("Q3 plan attached. Chart below.", f'src="{ROUTE}', "color:#1F3864"),
        html_lacks=("<o:p>", "MsoNormal", "WordSection1", "Picture_x0020_1"),
        attachments=(
            Attachment("image001.png", "image/png", inline=True, content_id="image001.png@01DC3D10.5E6A7B80"),
            Attachment(
                "Q3 plan.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            ),
        ),
        headers={
            "cc": "Lee <lee@example.com>, Max <max@example.com>",
            "in_reply_to": "<plan-q3-001@example.com>",
            "to": "team@example.com",
        },
    ),
    Case(
        "forwarded_rfc822.eml",
        text="Forwarding the contract thread, see attached message.",
        text_lacks=("INNER BODY",),
        no_html=True,
        attachments=(Attachment("Original contract.eml", "message/rfc822"),),
    ),
    Case(
        "rfc2047_subject.eml",
        text="Bis Montag!\n",
        no_html=True,
        headers={
            "subject": "Équipe 🎉 réunion du lundi",
            "from": "Zöe Müller <zoe@example.de>",
            "to": "Jörg <jorg@example.de>",
        },
    ),
    Case(
        "calendar_invite.eml",
        text="You have been invited to: Design review\nWhen: Monday 20 Oct 2025 11am",
        html_has=('href="https://calendar.example.org/event?action=RESPOND&amp;rst=1"',),
        html_lacks=("itemprop", "itemscope"),
        attachments=(
            Attachment("", "text/calendar", downloadable=False),
            Attachment("invite.ics", "application/ics"),
        ),
    ),
    Case(
        "apple_mail_split_html.eml",
        text="Before the photo.\n\nAfter the photo.\n",
        html_has=("<div>Before the photo.</div><div>After the photo.</div>",),
        attachments=(
            Attachment(
                "beach.png", "image/png", inline=True, content_id="8C2F3A1E-7B6D-4E1F-9A0B-1C2D3E4F5A6B"
            ),
        ),
    ),
    Case("utf7_html.eml", text="Hello", html_has=("<p>Hello</p>",), html_lacks=("alert", "onerror")),
    Case(
        "phishing_active_content.eml",
        text_has=("Your account is locked.", "Help centre"),
        html_has=('<a href="https://real-bank.example.com/help"', 'src="data:image/png;base64,iVBORw0KGgo="'),
        html_lacks=("evil.example", "password", "position", "steal", "alert"),
    ),
    Case(
        "nameless_attachment.eml",
        text="Scanned document.",
        no_html=True,
        attachments=(Attachment("", "application/pdf", downloadable=False),),
    ),
    Case(
        "outlook_conditional.eml",
        text="1. First point\n\nKind regards,\nOffice",
        html_has=("First point", "Kind regards,<br>Office"),
        html_lacks=("<o:p>", "mso-list", "OfficeDocumentSettings", "supportLists"),
    ),
]


def test_the_corpus_is_all_covered() -> None:
    # Every .eml in the corpus has its case, and there are at least twenty
    assert sorted(case.file for case in CASES) == sorted(path.name for path in MAIL.glob("*.eml"))
    assert len(CASES) >= 20


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.file)
def test_corpus_message(case: Case) -> None:
    # Given a corpus message as Gmail returns it
    message = load(case.file)

    # When the API reads it
    content = read(message)

    # Then the text is decoded as written
    if case.text is not None:
        assert content["text"] == case.text
    for phrase in case.text_has:
        assert phrase in content["text"]
    for phrase in case.text_lacks:
        assert phrase not in content["text"]
    # And the HTML is there or not, with nothing active in it
    if case.no_html:
        assert content["html"] is None
    else:
        assert content["html"]
        assert problems(content["html"]) == []
        for phrase in case.html_has:
            assert phrase in content["html"]
        for phrase in case.html_lacks:
            assert phrase not in content["html"]
    # And the attachments are listed as a reader sees them
    listed = [
        Attachment(
            a["filename"], a["mime_type"], a["inline"], a["content_id"], a["attachment_id"] is not None
        )
        for a in content["attachments"]
    ]
    assert listed == list(case.attachments)
    for key, value in case.headers.items():
        assert content["headers"][key] == value
    assert content["truncated"] is False


def test_the_whole_shape_for_one_message() -> None:
    # Given a message with an attachment
    message = load("mixed_pdf_png.eml")
    pdf = message.resource["payload"]["parts"][1]

    # When read
    content = read(message)

    # Then every field the API promises is there, headers by first occurrence
    assert set(content) == {
        "id", "threadId", "labelIds", "snippet", "internalDate", "headers", "text", "html", "attachments",
        "truncated",
    }  # fmt: skip
    assert content["id"] == "mixed_pdf_png"
    assert content["labelIds"] == ["INBOX", "UNREAD"]
    assert content["internalDate"] == "1767225600000"
    assert content["headers"] == {
        "from": "Ana Lima <ana.lima@example.org>",
        "to": "Ben Okafor <ben@example.net>",
        "cc": None,
        "subject": "Invoice 2025-118 and site photo",
        "date": "Tue, 14 Oct 2025 09:12:45 +0200",
        "message_id": "<939a89a98750b315@mail.example.org>",
        "in_reply_to": None,
    }
    assert content["attachments"][0] == {
        "attachment_id": pdf["body"]["attachmentId"],
        "part_id": "1",
        "filename": "invoice-2025-118.pdf",
        "mime_type": "application/pdf",
        "size": len(message.attachments[pdf["body"]["attachmentId"]]),
        "inline": False,
        "content_id": "f_mg1x2abc0",
    }


def test_header_names_are_case_insensitive_and_the_first_one_counts() -> None:
    # Given headers in odd case, one repeated
    message = load("text_only.eml")
    headers = message.resource["payload"]["headers"]
    headers.insert(0, {"name": "SUBJECT", "value": "first"})
    headers.append({"name": "subject", "value": "second"})

    # Then the first occurrence is the one shown
    assert read(message)["headers"]["subject"] == "first"


def test_encoded_words_gmail_did_not_decode_are_decoded() -> None:
    # Given header values left as RFC 2047 encoded-words (Gmail decodes them; we do not rely on it)
    message = load("rfc2047_subject.eml", decode_headers=False)
    assert "=?UTF-8?B?" in str(message.resource["payload"]["headers"])

    # When read
    headers = read(message)["headers"]

    # Then they are decoded all the same
    assert headers["subject"] == "Équipe 🎉 réunion du lundi"
    assert headers["from"] == "Zöe Müller <zoe@example.de>"
    assert headers["to"] == "Jörg <jorg@example.de>"


def test_an_inline_image_is_reported_inline_only_when_referenced() -> None:
    # Given an image whose Content-ID the HTML shows, and one it does not (related_inline_image)
    content = read(load("related_inline_image.eml"))

    # Then the first shows from the API's route, the dangling cid loses its src, the spare is not inline
    images = [element for element in elements(content["html"]) if element.tag == "img"]
    logo = content["attachments"][0]  # the route names a part by its part id: Gmail's attachment ids vary
    assert images[0].attributes["src"] == route(logo["part_id"])
    assert "src" not in images[1].attributes
    assert [attachment["inline"] for attachment in content["attachments"]] == [True, False]


def test_a_small_inline_image_gmail_sent_with_the_message_is_shown_from_its_bytes() -> None:
    # Given an inline image small enough that Gmail sends its data rather than an attachmentId
    message = load("related_inline_image.eml")
    logo = message.resource["payload"]["parts"][1]
    logo["body"] = {"size": 69, "data": b64url(message.attachments.pop(logo["body"]["attachmentId"]))}
    logo["filename"] = ""

    # When read
    content = read(message)

    # Then it is shown as a data: image, and listed without an attachment id but with its part id
    (image, _) = [element for element in elements(content["html"]) if element.tag == "img"]
    assert image.attributes["src"].startswith("data:image/png;base64,iVBORw0KGgo")
    assert content["attachments"][0]["attachment_id"] is None
    assert content["attachments"][0]["part_id"] == "1"


def test_without_a_cid_route_inline_images_lose_their_source() -> None:
    message = load("nested_mixed_related_alternative.eml")
    content = message_content(message.resource)
    assert [
        element.attributes.get("src") for element in elements(content["html"]) if element.tag == "img"
    ] == [None]


def test_block_remote_images_removes_remote_sources_only() -> None:
    # Given a message with a remote tracking image
    message = load("alternative_utf8_qp.eml")

    # When read with remote images blocked, and without
    blocked = read(message, block_remote_images=True)["html"]
    shown = read(message)["html"]

    # Then only the blocked reading lacks the remote source
    assert "tracker.example.com" in shown
    assert "tracker.example.com" not in blocked


def huge_message(text: str, html: str) -> GmailMessage:
    mail = EmailMessage()
    mail["From"] = "Big Sender <big@example.com>"
    mail["Subject"] = "Large report"
    mail.set_content(text, cte="base64")
    mail.add_alternative(html, subtype="html", cte="base64")
    return from_bytes(mail.as_bytes())


def test_bodies_gmail_keeps_apart_are_fetched_and_capped_on_a_character_boundary() -> None:
    # Given text and HTML bodies of about 2.5 MB each, with multibyte characters, behind attachmentIds
    text = "Données 日本 " * 160_000
    html = "<p>Ligne é</p>" * 180_000
    message = huge_message(text, html)
    wanted = bodies_to_fetch(message.resource)
    assert len(wanted) == 2

    # When read with the default cap of 1 MB each
    content = read(message)

    # Then each is at most 1 MB of UTF-8, a clean prefix of what was sent, and the cut is reported
    assert content["truncated"] is True
    assert 999_990 <= len(content["text"].encode("utf-8")) <= 1_000_000
    assert text.startswith(content["text"])
    assert len(content["html"].encode("utf-8")) <= 1_000_000
    assert content["html"].startswith("<p>Ligne é</p>")
    assert content["html"].endswith("</p>")
    assert problems(content["html"]) == []


def test_a_single_part_body_kept_apart_is_fetched_too() -> None:
    # Given a plain-text message so large that Gmail serves even its only body by attachmentId
    mail = EmailMessage()
    mail["Subject"] = "Export"
    mail.set_content("row;value\n" * 20_000, cte="base64")
    message = from_bytes(mail.as_bytes())
    assert message.resource["payload"]["body"].keys() == {"attachmentId", "size"}

    # When the caller fetches what it is told to
    wanted = bodies_to_fetch(message.resource)
    content = read(message)

    # Then that is the root's body, and it is the text
    assert wanted == [message.resource["payload"]["body"]["attachmentId"]]
    assert content["text"] == "row;value\n" * 20_000
    assert content["attachments"] == []


def test_a_body_not_fetched_counts_as_empty() -> None:
    message = huge_message("big " * 50_000, "<p>big</p>" * 20_000)
    content = message_content(message.resource)
    assert (content["text"], content["html"], content["truncated"]) == ("", "", False)


def test_html_only_text_is_cut_as_its_html_was() -> None:
    # Given an HTML-only message and a small cap
    message = load("html_only.eml")

    # When read with a cap that ends right after the first paragraph (221 bytes of markup)
    content = read(message, max_bytes=221)

    # Then both the HTML and its text rendering stop there, and it says so
    assert content["truncated"] is True
    assert content["text"] == "Weekly summary\n\nTickets closed: 42 & opened: 17."
    assert content["html"] == (
        "<h1>Weekly&nbsp;summary</h1><p>Tickets closed: <b>42</b> &amp; opened: <b>17</b>.</p>"
    )


def test_what_sanitising_adds_never_takes_html_past_the_cap() -> None:
    # Given HTML that grows when sanitised (every link gains rel and target, every tag a closing one)
    html = '<a href="https://e.example/">x' * 5_000
    message = huge_message("short", html)

    # When read with a 10 kB cap
    content = read(message, max_bytes=10_000)

    # Then the output is within the cap and inert
    assert 0 < len(content["html"].encode()) <= 10_000
    assert content["truncated"] is True
    assert problems(content["html"]) == []


MALFORMED: list[dict[str, Any]] = [
    {},
    {"id": "x", "payload": None},
    {"id": "x", "payload": "text"},
    {"id": "x", "payload": {"mimeType": "multipart/mixed", "parts": "nope"}},
    {"id": "x", "payload": {"mimeType": "multipart/mixed", "parts": [None, 3, {"mimeType": None}]}},
    {"id": "x", "payload": {"mimeType": "text/plain", "body": {"data": 42, "size": "big"}}},
    {"id": "x", "payload": {"mimeType": "text/plain", "body": {"data": "%%%not base64%%%"}}},
    {
        "id": "x",
        "payload": {"mimeType": "text/plain", "body": {"data": "SGVsbG8"}, "headers": [None, {"x": 1}]},
    },
    {
        "id": "x",
        "payload": {
            "mimeType": "text/html",
            "headers": [{"name": "Content-Type", "value": "text/html;\r\n x"}],
        },
    },
    {
        "id": "x",
        "payload": {
            "mimeType": "text/plain",
            "headers": [{"name": "Content-Type", "value": "text/plain; charset=base64"}],
            "body": {"data": "SGk"},
        },
    },
    {
        "id": "x",
        "payload": {
            "mimeType": "text/plain",
            "headers": [{"name": "Content-Type", "value": "text/plain; charset=unicode_escape"}],
            "body": {"data": "XHUwMDQx"},
        },
    },
    {
        "id": "x",
        "payload": {
            "mimeType": "multipart/alternative",
            "parts": [{"mimeType": "multipart/related", "parts": []}],
        },
    },
    {
        "id": "x",
        "labelIds": "INBOX",
        "payload": {"headers": [{"name": "Subject", "value": "=?utf-8?b?####?= =?bogus?q?x?="}]},
    },
]


@pytest.mark.parametrize("resource", MALFORMED, ids=range(len(MALFORMED)))
def test_a_malformed_resource_never_raises(resource: dict[str, Any]) -> None:
    content = message_content(resource)
    assert isinstance(content["attachments"], list)
    assert content["html"] is None or problems(content["html"]) == []


def test_charset_labels_are_data_not_codec_names() -> None:
    # A label naming a Python codec that is not a charset (unicode_escape would turn \u0041 into A)
    content = message_content(MALFORMED[10])
    assert content["text"] == "\\u0041"


def test_a_nesting_too_deep_for_mail_is_ignored_below_the_limit() -> None:
    # Given 200 nested multiparts with a body at the bottom
    part: dict[str, Any] = {"mimeType": "text/plain", "body": {"data": b64url(b"deep")}}
    for _ in range(200):
        part = {"mimeType": "multipart/mixed", "parts": [part]}

    # Then reading it neither recurses without bound nor finds the body
    assert message_content({"id": "deep", "payload": part})["text"] is None


def _flip_one(message: GmailMessage, rng: random.Random) -> None:
    """Flip one random byte in one random body (inline data or fetched), or one base64 character."""
    parts = [part for part in _walk(message.resource["payload"]) if part.get("body", {}).get("data")]
    if parts and (not message.attachments or rng.random() < 0.6):
        body = rng.choice(parts)["body"]
        if rng.random() < 0.5:
            data = bytearray(base64.urlsafe_b64decode(body["data"]))
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
            body["data"] = b64url(bytes(data))
        else:
            text = list(body["data"])
            text[rng.randrange(len(text))] = chr(rng.randrange(33, 127))
            body["data"] = "".join(text)
    elif message.attachments:
        attachment_id = rng.choice(sorted(message.attachments))
        data = bytearray(message.attachments[attachment_id])
        if data:
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        message.attachments[attachment_id] = bytes(data)


def _walk(part: dict[str, Any]) -> list[dict[str, Any]]:
    return [part] + [child for sub in part.get("parts", []) for child in _walk(sub)]


@pytest.mark.parametrize("name", sorted(path.name for path in MAIL.glob("*.eml")))
def test_a_flipped_byte_never_breaks_reading(name: str) -> None:
    # Given a corpus message with one random byte flipped, 30 times over (seeded: reproducible)
    rng = random.Random(f"flip/{name}")
    for _ in range(30):
        message = load(name)
        _flip_one(message, rng)

        # When read
        content = read(message)

        # Then it reads, and whatever HTML comes out is still inert
        assert content["id"] == message.resource["id"]
        assert content["html"] is None or problems(content["html"]) == []
