"""Raw RFC 822 delivery, read back as Gmail shows it: payload tree, snippet, raw, attachments."""

from __future__ import annotations

import base64
import datetime
import email.policy
import json
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import pytest
from googleapiclient.errors import HttpError

from .conftest import EMAIL, OPENID, Google

TESS = "tess@example.com"
METADATA = "https://www.googleapis.com/auth/gmail.metadata"
ATTACHMENT = "GET /gmail/v1/users/{userId}/messages/{messageId}/attachments/{id}"
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 8 + b"\n%%EOF\n"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii")


def _decoded(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def _report_with_attachment() -> EmailMessage:
    """Text and HTML alternatives plus a PDF, as a mail client writes them."""
    message = EmailMessage()
    message["From"] = "Zoë Martin <zoe@example.org>"
    message["To"] = f"Tess <{TESS}>"
    message["Subject"] = "Rapport trimestriel — été"
    message["Date"] = "Tue, 10 Nov 2026 09:00:00 +0100"
    message["Message-ID"] = "<report-1@example.org>"
    message.set_content("Bonjour, voici le rapport <Q3> & les chiffres.\n")
    message.add_alternative("<p>Bonjour, voici le <b>rapport</b> &lt;Q3&gt;.</p>\n", subtype="html")
    message.add_attachment(PDF, maintype="application", subtype="pdf", filename="rapport-q3.pdf")
    return message


@dataclass
class Mailbox:
    google: Google
    gmail: Any
    token: str

    def deliver(self, raw: bytes | str, **extra: Any) -> dict[str, Any]:
        encoded = raw if isinstance(raw, str) else _b64(raw)
        answer = self.google.control("POST", f"/accounts/{TESS}/messages", {"raw": encoded, **extra})
        assert answer.status_code == 201, answer.text
        return answer.json()  # type: ignore[no-any-return]

    def get(self, message_id: str, **params: Any) -> dict[str, Any]:
        return self.gmail.users().messages().get(userId="me", id=message_id, **params).execute()  # type: ignore[no-any-return]

    def attachment(self, message_id: str, attachment_id: str) -> dict[str, Any]:
        request = (
            self.gmail.users()
            .messages()
            .attachments()
            .get(userId="me", messageId=message_id, id=attachment_id)
        )
        return request.execute()  # type: ignore[no-any-return]


@pytest.fixture
def mailbox(google: Google) -> Mailbox:
    """Tess, with no mail yet, connected with the product's scopes."""
    assert google.control("POST", "/accounts", {"email": TESS, "name": "Tess Tester"}).status_code == 201
    flow, token = google.connect(account=TESS)
    return Mailbox(google, google.gmail(flow.credentials), token["access_token"])


# -- the payload tree ---------------------------------------------------------------------


def test_a_raw_message_is_served_as_gmail_parses_it(mailbox: Mailbox) -> None:
    # Given a multipart/mixed message with alternatives and a PDF, delivered raw
    raw = _report_with_attachment().as_bytes(policy=email.policy.SMTP)
    delivered = mailbox.deliver(raw, labelIds=["INBOX"])
    # When it is read in full
    message = mailbox.get(delivered["id"])
    payload = message["payload"]
    # Then the payload mirrors the MIME tree, with Gmail's part ids
    assert (payload["partId"], payload["mimeType"], payload["filename"]) == ("", "multipart/mixed", "")
    assert payload["body"] == {"size": 0}
    alternative, pdf = payload["parts"]
    assert [part["partId"] for part in alternative["parts"]] == ["0.0", "0.1"]
    assert [part["mimeType"] for part in alternative["parts"]] == ["text/plain", "text/html"]
    assert (pdf["partId"], pdf["mimeType"], pdf["filename"]) == ("1", "application/pdf", "rapport-q3.pdf")
    # And headers are decoded, as Gmail shows them
    headers = {header["name"]: header["value"] for header in payload["headers"]}
    assert headers["Subject"] == "Rapport trimestriel — été"
    assert headers["From"] == "Zoë Martin <zoe@example.org>"
    # And text bodies are inline, decoded from their transfer encoding, with CRLF as they travelled
    plain = alternative["parts"][0]["body"]
    assert _decoded(plain["data"]) == b"Bonjour, voici le rapport <Q3> & les chiffres.\r\n"
    assert plain["size"] == len(_decoded(plain["data"]))
    # And the file is not: only its size and an attachmentId
    assert set(pdf["body"]) == {"attachmentId", "size"}
    assert pdf["body"]["size"] == len(PDF)
    # And the snippet is the text, entities escaped; the size is the raw size
    assert message["snippet"] == "Bonjour, voici le rapport &lt;Q3&gt; &amp; les chiffres."
    assert message["sizeEstimate"] == len(raw)
    assert message["labelIds"] == ["INBOX"]
    # And format=raw gives back the very bytes delivered
    assert _decoded(mailbox.get(delivered["id"], format="raw")["raw"]) == raw


def test_single_part_bodies_sit_on_the_payload_in_their_own_charset(mailbox: Mailbox) -> None:
    # Given a Shift_JIS message in base64 and a KOI8-R one in 8bit, each a single text/plain part
    japanese = "会議の議事録を送ります。"
    sjis = (
        b"From: =?ISO-2022-JP?B?GyRCRURDZhsoQg==?= <tanaka@example.jp>\r\n"
        b"Subject: =?shift_jis?B?" + base64.b64encode("議事録".encode("shift_jis")) + b"?=\r\n"
        b'Content-Type: text/plain; charset="Shift_JIS"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        + base64.encodebytes(japanese.encode("shift_jis"))
    )
    russian = "Привет! Отчёт готов."
    koi8 = (
        b"From: ivan@example.ru\r\nSubject: =?KOI8-R?B?"
        + base64.b64encode("Отчёт".encode("koi8-r"))
        + b"?=\r\n"
        b'Content-Type: text/plain; charset="KOI8-R"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n'
        + russian.encode("koi8-r")
    )
    first, second = mailbox.deliver(sjis), mailbox.deliver(koi8)
    # When they are read
    got_sjis, got_koi8 = mailbox.get(first["id"]), mailbox.get(second["id"])
    # Then the body is on the payload itself, as its charset's bytes (not re-encoded to UTF-8)
    assert "parts" not in got_sjis["payload"]
    assert _decoded(got_sjis["payload"]["body"]["data"]).decode("shift_jis") == japanese
    assert _decoded(got_koi8["payload"]["body"]["data"]) == russian.encode("koi8-r")
    # And headers and snippets read as text
    sjis_headers = {h["name"]: h["value"] for h in got_sjis["payload"]["headers"]}
    assert (sjis_headers["Subject"], sjis_headers["From"]) == ("議事録", "田中 <tanaka@example.jp>")
    assert got_sjis["snippet"] == japanese
    assert got_koi8["snippet"] == russian
    assert {h["name"]: h["value"] for h in got_koi8["payload"]["headers"]}["Subject"] == "Отчёт"


def test_html_only_mail_gets_a_snippet_of_its_visible_text(mailbox: Mailbox) -> None:
    raw = (
        b"From: news@shop.example\r\nSubject: Sale\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        b"<html><head><style>p{color:red}</style></head><body><p>Caf&eacute; &amp; cr&egrave;me"
        b"</p><p>Up to 40% off&nbsp;today</p></body></html>"
    )
    message = mailbox.get(mailbox.deliver(raw)["id"], format="minimal")
    assert message["snippet"] == "Café &amp; crème Up to 40% off today"


def test_a_large_text_part_is_served_as_an_attachment(mailbox: Mailbox) -> None:
    # Given a text part over 1 MiB
    text = ("All work and no play makes a long log. " * 30_000).encode()
    raw = b"From: ops@example.org\r\nSubject: Logs\r\nContent-Type: text/plain\r\n\r\n" + text
    message = mailbox.get(mailbox.deliver(raw)["id"])
    # Then its body carries an attachmentId instead of data, and attachments.get returns it
    body = message["payload"]["body"]
    assert set(body) == {"attachmentId", "size"}
    assert body["size"] == len(text)
    assert _decoded(mailbox.attachment(message["id"], body["attachmentId"])["data"]) == text


# -- threading and dates ------------------------------------------------------------------


def _plain(subject: str, message_id: str, *, date: str | None = None, answers: str | None = None) -> bytes:
    lines = ["From: bob@example.net", f"To: {TESS}", f"Subject: {subject}", f"Message-ID: {message_id}"]
    if date:
        lines.append(f"Date: {date}")
    if answers:
        lines += [f"In-Reply-To: {answers}", f"References: {answers}"]
    return ("\r\n".join(lines) + "\r\n\r\nHello\r\n").encode()


def test_raw_mail_is_threaded_by_references_and_subject(mailbox: Mailbox) -> None:
    # Given a first message
    first = mailbox.deliver(_plain("Budget 2027", "<budget@example.net>"))
    # When a reply references it with the same subject (Re: aside), it joins the thread
    reply = mailbox.deliver(_plain("RE: Budget 2027", "<r1@example.net>", answers="<budget@example.net>"))
    assert reply["threadId"] == first["threadId"]
    # And a reply to the reply joins through References too
    again = mailbox.deliver(_plain("Re: Re: budget 2027", "<r2@example.net>", answers="<r1@example.net>"))
    assert again["threadId"] == first["threadId"]
    # But a reference with another subject, or the subject without a reference, starts a thread
    other_subject = mailbox.deliver(_plain("Holidays", "<h@example.net>", answers="<budget@example.net>"))
    no_reference = mailbox.deliver(_plain("Re: Budget 2027", "<n@example.net>"))
    assert other_subject["threadId"] == other_subject["id"] != first["threadId"]
    assert no_reference["threadId"] == no_reference["id"] != first["threadId"]
    # And a threadId only narrows the choice: a reply delivered "into" another thread starts its own
    elsewhere = mailbox.deliver(
        _plain("Re: Budget 2027", "<e@example.net>", answers="<budget@example.net>"),
        threadId=other_subject["threadId"],
    )
    assert elsewhere["threadId"] == elsewhere["id"]
    inside = mailbox.deliver(
        _plain("Re: Budget 2027", "<i@example.net>", answers="<budget@example.net>"),
        threadId=first["threadId"],
    )
    assert inside["threadId"] == first["threadId"]


def test_internal_date_comes_from_the_date_header_or_now(mailbox: Mailbox) -> None:
    dated = mailbox.deliver(_plain("Dated", "<d@example.net>", date="Fri, 20 Nov 2026 08:30:00 -0800"))
    undated = mailbox.deliver(_plain("Undated", "<u@example.net>"))
    now_ms = int(mailbox.google.control("GET", "/clock").json()["now"] * 1000)
    sent = datetime.datetime(2026, 11, 20, 16, 30, tzinfo=datetime.UTC)
    assert mailbox.get(dated["id"], format="minimal")["internalDate"] == str(int(sent.timestamp()) * 1000)
    assert abs(int(mailbox.get(undated["id"], format="minimal")["internalDate"]) - now_ms) < 5_000


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"raw": "!!not base64!!"}, "base64url"),
        ({"raw": base64.b64encode(b"\xfb\xff" * 30).decode()}, "base64url"),  # '+' and '/': not base64url
        ({"raw": _b64(b"just some words, no header section")}, "header"),
        ({"raw": ""}, "raw"),
        ({"raw": _b64(_plain("x", "<x@example.net>")), "from": "a@example.org"}, "not both"),
    ],
)
def test_undecodable_raw_is_a_400(mailbox: Mailbox, body: dict[str, Any], expected: str) -> None:
    answer = mailbox.google.control("POST", f"/accounts/{TESS}/messages", body)
    assert answer.status_code == 400
    assert expected in answer.json()["error"]
    assert mailbox.gmail.users().getProfile(userId="me").execute()["messagesTotal"] == 0


# -- attachments.get ----------------------------------------------------------------------


def _pdf_part(message: dict[str, Any]) -> dict[str, Any]:
    return next(part for part in message["payload"]["parts"] if part["filename"])


def test_attachments_get_returns_the_file_and_ids_change_on_every_read(mailbox: Mailbox) -> None:
    # Given a message with a PDF
    delivered = mailbox.deliver(_report_with_attachment().as_bytes())
    mailbox.google.control("POST", "/reset")
    # When it is read twice
    first_id = _pdf_part(mailbox.get(delivered["id"]))["body"]["attachmentId"]
    second_id = _pdf_part(mailbox.get(delivered["id"]))["body"]["attachmentId"]
    # Then the attachmentId differs each time (it is not a stable key) but both fetch the file
    assert first_id != second_id
    for attachment_id in (first_id, second_id):
        fetched = mailbox.attachment(delivered["id"], attachment_id)
        assert set(fetched) == {"size", "data"}
        assert (_decoded(fetched["data"]), fetched["size"]) == (PDF, len(PDF))
    # And each fetch costs 5 quota units
    stats = mailbox.google.stats()
    assert stats["calls"][ATTACHMENT] == 2
    assert stats["quota_units_by_route"][ATTACHMENT] == 10


def test_attachments_get_errors(google: Google, mailbox: Mailbox) -> None:
    # Given two messages with attachments
    first = mailbox.deliver(_report_with_attachment().as_bytes())
    second = mailbox.deliver(_report_with_attachment().as_bytes())
    first_id = _pdf_part(mailbox.get(first["id"]))["body"]["attachmentId"]
    attachments = mailbox.gmail.users().messages().attachments()
    # Then an id used with another message, or a made-up one, is Gmail's 400
    for message_id, attachment_id in ((second["id"], first_id), (first["id"], "ANGjdJ_made_up")):
        with pytest.raises(HttpError) as invalid:
            attachments.get(userId="me", messageId=message_id, id=attachment_id).execute()
        assert invalid.value.resp.status == 400
        error = json.loads(invalid.value.content)["error"]
        assert (error["message"], error["status"]) == ("Invalid attachment token", "INVALID_ARGUMENT")
    # And an unknown message is 404
    with pytest.raises(HttpError) as missing:
        attachments.get(userId="me", messageId="0123456789abcdef", id=first_id).execute()
    assert missing.value.resp.status == 404
    # And the metadata scope may not read files
    flow, _ = google.connect([METADATA], account=TESS)
    metadata_only = google.gmail(flow.credentials).users().messages().attachments()
    with pytest.raises(HttpError) as refused:
        metadata_only.get(userId="me", messageId=first["id"], id=first_id).execute()
    assert refused.value.resp.status == 403
    assert (
        json.loads(refused.value.content)["error"]["details"][0]["reason"]
        == "ACCESS_TOKEN_SCOPE_INSUFFICIENT"
    )
    # And neither may a token without Gmail scopes
    flow, _ = google.connect([OPENID, EMAIL], account=TESS)
    with pytest.raises(HttpError) as no_gmail:
        google.gmail(flow.credentials).users().messages().attachments().get(
            userId="me", messageId=first["id"], id=first_id
        ).execute()
    assert no_gmail.value.resp.status == 403


def test_search_by_attachment_and_file_name(mailbox: Mailbox) -> None:
    # Given one message with a PDF and one without files
    with_file = mailbox.deliver(_report_with_attachment().as_bytes())["id"]
    without = mailbox.deliver(_plain("Lunch", "<lunch@example.net>"))["id"]

    def listed(q: str) -> list[str]:
        answer = mailbox.gmail.users().messages().list(userId="me", q=q).execute()
        return [ref["id"] for ref in answer.get("messages", [])]

    # Then has:attachment and filename: (a name, an extension or a word of it) find the first only
    assert listed("has:attachment") == [with_file]
    assert listed("-has:attachment") == [without]
    for q in ("filename:rapport-q3.pdf", "filename:pdf", "filename:rapport"):
        assert listed(q) == [with_file]
    assert listed("filename:docx") == []
