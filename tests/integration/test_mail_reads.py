"""Reading whole messages, attachments and threads, for a session and for an application.

Real mail (the .eml corpus in tests/fixtures/mail) is delivered raw to the emulator, which parses
it as Gmail does; the product reads it back through googleapiclient. Attachments come back as a
presigned URL of an object in the (moto) bucket, whose bytes must equal the attachment's.
"""

from __future__ import annotations

import base64
import email
import email.message
import email.policy
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from tests.integration.test_application_api import connect_through, link_for, returned
from tests.support.flow import connect
from tests.support.product import header, invoke, json_body

MAIL = Path(__file__).resolve().parents[1] / "fixtures" / "mail"
GET_MESSAGE = "GET /gmail/v1/users/{userId}/messages/{id}"


def deliver_eml(stack, name: str) -> str:
    raw = (MAIL / name).read_bytes()
    answer = stack.google_control(
        f"accounts/{stack.email}/messages",
        {"raw": base64.urlsafe_b64encode(raw).decode(), "labelIds": ["INBOX", "UNREAD"]},
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def deliver_mime(stack, filename: str, content_type: str, data: bytes) -> str:
    """A message with a text body and one attachment, built with the stdlib as a mail client would."""
    message = email.message.EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@example.org", stack.email, filename
    message.set_content("see the file")
    maintype, subtype = content_type.split("/")
    message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    answer = stack.google_control(
        f"accounts/{stack.email}/messages", {"raw": base64.urlsafe_b64encode(message.as_bytes()).decode()}
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def attachment_bytes(name: str, filename: str) -> bytes:
    parsed = email.message_from_bytes((MAIL / name).read_bytes(), policy=email.policy.default)
    for part in parsed.walk():
        if part.get_filename() == filename:
            return bytes(part.get_payload(decode=True))
    raise AssertionError(f"{name} has no {filename}")


def read(session: str, path: str, query: str = "") -> dict:
    function = "attachments" if "/attachments/" in path else "messages"
    return invoke(function, "GET", path, query=query, cookies=[session])


def calls(stack) -> dict[str, int]:
    return dict(stack.google_stats()["calls"])


def attachment_calls(stack) -> int:
    return sum(n for route, n in calls(stack).items() if "/attachments/" in route)


@pytest.fixture
def session(stack) -> str:
    _, cookie = connect(stack)
    return cookie


def test_a_message_with_attachments_reads_as_text_safe_html_and_a_list(stack, session) -> None:
    # Given a real multipart/mixed message with a PDF and a PNG
    message_id = deliver_eml(stack, "mixed_pdf_png.eml")
    stack.google_control("reset")
    # When the user opens it
    response = read(session, f"/messages/{message_id}")
    # Then one messages.get (5 quota units) gives the whole message
    assert response["statusCode"] == 200
    assert calls(stack) == {GET_MESSAGE: 1}
    assert stack.google_stats()["quota_units"] == {stack.email: 5}
    body = json_body(response)
    assert body["headers"]["subject"] == "Invoice 2025-118 and site photo"
    assert body["text"]
    assert body["html"]
    assert "<script" not in body["html"].lower()
    assert body["truncated"] is False
    assert [(a["filename"], a["mime_type"]) for a in body["attachments"]] == [
        ("invoice-2025-118.pdf", "application/pdf"),
        ("site.png", "image/png"),
    ]
    assert all(a["attachment_id"] for a in body["attachments"])


def test_a_downloaded_attachment_is_a_presigned_url_of_the_exact_bytes(stack, session) -> None:
    message_id = deliver_eml(stack, "mixed_pdf_png.eml")
    [pdf, _] = json_body(read(session, f"/messages/{message_id}"))["attachments"]
    stack.google_control("reset")
    # When the user downloads the PDF
    response = read(session, f"/messages/{message_id}/attachments/{pdf['attachment_id']}")
    # Then: the URL, name, type, size and when it stops working; one attachments.get after the part lookup
    assert response["statusCode"] == 200
    found = json_body(response)
    assert set(found) == {"url", "filename", "mime_type", "size", "expires_at"}
    assert (found["filename"], found["mime_type"]) == ("invoice-2025-118.pdf", "application/pdf")
    assert attachment_calls(stack) == 1
    assert calls(stack)[GET_MESSAGE] == 1
    # And the URL's object holds exactly the attachment's bytes, served as a download
    expected = attachment_bytes("mixed_pdf_png.eml", "invoice-2025-118.pdf")
    assert found["size"] == len(expected)
    fetched = requests.get(found["url"], timeout=10)
    assert fetched.status_code == 200
    assert fetched.content == expected
    assert fetched.headers["Content-Disposition"].startswith('attachment; filename="invoice-2025-118.pdf"')
    assert fetched.headers["Content-Type"] == "application/pdf"
    # And the URL lives at most five minutes
    query = parse_qs(urlsplit(found["url"]).query)
    assert int(query["X-Amz-Expires"][0]) <= 300
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]


def test_an_attachment_declared_as_html_is_never_served_as_html(stack, session) -> None:
    message_id = deliver_mime(stack, "page.html", "text/html", b"<script>alert(document.domain)</script>")
    [page] = json_body(read(session, f"/messages/{message_id}"))["attachments"]
    found = json_body(read(session, f"/messages/{message_id}/attachments/{page['attachment_id']}"))
    assert found["mime_type"] == "application/octet-stream"
    fetched = requests.get(found["url"], timeout=10)
    assert fetched.headers["Content-Type"] == "application/octet-stream"
    assert fetched.headers["Content-Disposition"].startswith("attachment;")


def test_redirect_leads_an_image_tag_to_the_bytes(stack, session) -> None:
    message_id = deliver_eml(stack, "related_inline_image.eml")
    body = json_body(read(session, f"/messages/{message_id}"))
    logo = body["attachments"][0]
    # The sanitised HTML shows the inline image from the attachment route
    assert f"/messages/{message_id}/attachments/{logo['attachment_id']}?redirect=1" in body["html"]
    response = read(session, f"/messages/{message_id}/attachments/{logo['attachment_id']}", "redirect=1")
    assert response["statusCode"] == 302
    assert requests.get(header(response, "Location"), timeout=10).content[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_large_attachment_bypasses_the_lambda_response_limit(stack, session) -> None:
    # Given a message with a 12 MB attachment (twice Lambda's 6 MB response limit)
    payload = bytes(range(256)) * (12 * 1024 * 4)
    message_id = deliver_mime(stack, "archive.zip", "application/zip", payload)
    [attachment] = json_body(read(session, f"/messages/{message_id}"))["attachments"]
    assert attachment["size"] == len(payload)
    # When downloaded, Then the API answers small JSON and the bucket holds every byte
    response = read(session, f"/messages/{message_id}/attachments/{attachment['attachment_id']}")
    assert len(response["body"]) < 4096
    found = json_body(response)
    assert requests.get(found["url"], timeout=30).content == payload


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/messages/not!an!id", 400),
        ("/messages/" + "a" * 65, 400),
        ("/messages/ffffffffffffffff", 404),
        ("/threads/not!an!id", 400),
        ("/threads/ffffffffffffffff", 404),
        ("/messages/ffffffffffffffff/attachments/1", 404),
        ("/messages/ffffffffffffffff/attachments/x.y", 400),
        ("/messages/ffffffffffffffff/attachments/1.2.3", 404),
    ],
)
def test_bad_or_unknown_ids(stack, session, path: str, status: int) -> None:
    stack.google_control("reset")
    response = read(session, path)
    assert response["statusCode"] == status
    assert json_body(response)["error"] == ("not_found" if status == 404 else "invalid_request")
    if status == 400:
        assert calls(stack) == {}


def test_mail_reads_need_a_session(stack) -> None:
    for path in ("/messages/ffffffffffffffff", "/threads", "/messages/ffffffffffffffff/attachments/1"):
        function = "attachments" if "/attachments/" in path else "messages"
        assert invoke(function, "GET", path)["statusCode"] == 401


def test_threads_list_and_read_in_the_metadata_shape(stack, session) -> None:
    stack.google_control("reset")
    page = json_body(read(session, "/threads", "maxResults=3"))
    assert 0 < len(page["threads"]) <= 3  # the account's 5 messages, threaded as the generator made them
    assert {"id", "snippet", "historyId"} <= set(page["threads"][0])
    thread = json_body(read(session, f"/threads/{page['threads'][0]['id']}"))
    assert thread["messages"]
    assert {"id", "threadId", "labelIds", "snippet", "from", "subject", "date"} <= set(thread["messages"][0])
    counted = calls(stack)
    assert sum(n for route, n in counted.items() if route.endswith("/threads")) == 1
    assert sum(n for route, n in counted.items() if "/threads/" in route) == 1
    assert stack.google_stats()["quota_units"] == {stack.email: 20}
    assert read(session, "/threads", "include=metadata")["statusCode"] == 400


def test_an_application_reads_the_same_through_v1(stack) -> None:
    _, query = returned(connect_through(stack, link_for("u_1"), stack.email))
    connection = query["connection_id"][0]
    message_id = deliver_eml(stack, "text_attachment.eml")

    def v1(path: str, query_string: str = "") -> dict[str, Any]:
        function = "attachments" if "/attachments/" in path else "connections"
        response = invoke(function, "GET", f"/v1/connections/{connection}{path}", query=query_string)
        assert response["statusCode"] == 200, response["body"]
        return dict(json_body(response))

    body = v1(f"/messages/{message_id}")
    # The text/plain attachment is an attachment, not the body
    assert "nightly.log" not in (body["text"] or "")
    [log] = body["attachments"]
    assert log["filename"] == "nightly.log"
    found = v1(f"/messages/{message_id}/attachments/{log['attachment_id']}")
    assert requests.get(found["url"], timeout=10).content == attachment_bytes(
        "text_attachment.eml", "nightly.log"
    )
    assert v1("/threads", urlencode({"maxResults": 2}))["threads"]
    assert v1(f"/threads/{body['threadId']}")["messages"][0]["id"] == message_id
