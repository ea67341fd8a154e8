"""Generated mail is as varied as real mail: MIME shapes, transfer encodings, charsets, files."""

from __future__ import annotations

import base64
import email
import email.message
import re
import struct
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest
from googleapiclient.http import BatchHttpRequest

from infra.google_emulator import GoogleEmulator
from infra.google_emulator.state import State

from .conftest import DEMO, Google

TEN_MB = 10 * 1024 * 1024


def _decoded(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def _fetch_all(google: Google, gmail: Any, fmt: str) -> list[dict[str, Any]]:
    refs = gmail.users().messages().list(userId="me", includeSpamTrash=True).execute()["messages"]
    found: dict[str, Any] = {}
    batch = BatchHttpRequest(
        callback=lambda request_id, response, _: found.__setitem__(request_id, response),
        batch_uri=f"{google.url}/batch/gmail/v1",
    )
    for ref in refs:
        batch.add(gmail.users().messages().get(userId="me", id=ref["id"], format=fmt), request_id=ref["id"])
    batch.execute()
    return [found[ref["id"]] for ref in refs]


def _parts(part: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield part
    for child in part.get("parts", []):
        yield from _parts(child)


def _header(part: dict[str, Any], name: str) -> str:
    return next((h["value"] for h in part["headers"] if h["name"].lower() == name.lower()), "")


@pytest.fixture
def demo_mail(google: Google, gmail: Any) -> list[dict[str, Any]]:
    """The 40 demo messages in full format."""
    return _fetch_all(google, gmail, "full")


def test_the_demo_mailbox_holds_every_mime_shape(demo_mail: list[dict[str, Any]]) -> None:
    assert len(demo_mail) == 40
    roots = {message["payload"]["mimeType"] for message in demo_mail}
    assert {
        "text/plain",
        "text/html",
        "multipart/alternative",
        "multipart/mixed",
        "multipart/related",
    } <= roots
    # Single-part messages carry their body on the payload itself
    single = [m["payload"] for m in demo_mail if not m["payload"]["mimeType"].startswith("multipart/")]
    assert single
    assert all("parts" not in payload and payload["body"]["data"] for payload in single)
    parts = [part for message in demo_mail for part in _parts(message["payload"])]
    files = {(part["mimeType"], part["filename"].rpartition(".")[2]) for part in parts if part["filename"]}
    assert {
        ("application/pdf", "pdf"),
        ("image/png", "png"),
        ("text/plain", "txt"),
        ("image/bmp", "bmp"),
    } <= files
    encodings = {_header(part, "Content-Transfer-Encoding").lower() for part in parts}
    assert {"quoted-printable", "base64", "8bit"} <= encodings


def test_the_demo_mailbox_speaks_several_charsets(demo_mail: list[dict[str, Any]]) -> None:
    texts: dict[str, list[str]] = {}
    for message in demo_mail:
        for part in _parts(message["payload"]):
            charset = re.search(r'charset="?([^";]+)', _header(part, "Content-Type"))
            if charset and part["body"].get("data"):
                # Each text body is in its declared charset, which decodes it cleanly
                text = _decoded(part["body"]["data"]).decode(charset.group(1))
                texts.setdefault(charset.group(1).lower(), []).append(text)
    assert {"utf-8", "iso-8859-1", "windows-1252", "shift_jis", "gb2312", "koi8-r"} <= set(texts)
    assert any("議事録" in text for text in texts["shift_jis"])
    assert any("聚餐" in text for text in texts["gb2312"])
    assert any("Отчёт" in text for text in texts["koi8-r"])
    assert any("€" in text for text in texts["windows-1252"])
    assert any("réunion" in text for text in texts["iso-8859-1"])
    # And the headers of those messages read as text too
    subjects = {_header(message["payload"], "Subject") for message in demo_mail}
    assert {"会議の議事録", "周末聚餐安排", "Отчёт за неделю", "Réunion de l'équipe jeudi"} <= subjects


def test_replies_answer_their_thread_from_the_right_person(demo_mail: list[dict[str, Any]]) -> None:
    by_id = {_header(m["payload"], "Message-ID"): m for m in demo_mail}
    replies = [m for m in demo_mail if _header(m["payload"], "In-Reply-To")]
    assert len(replies) >= 2
    for reply in replies:
        # A reply answers an earlier message of its own thread, under the same subject
        answered = by_id[_header(reply["payload"], "In-Reply-To")]
        assert answered["threadId"] == reply["threadId"]
        assert int(answered["internalDate"]) < int(reply["internalDate"])
        assert _header(reply["payload"], "Subject") == "Re: " + _header(
            answered["payload"], "Subject"
        ).removeprefix("Re: ")
        # And the user's own replies are sent from their address to the person who wrote
        if "SENT" in reply["labelIds"]:
            assert DEMO in _header(reply["payload"], "From")
            assert _header(reply["payload"], "To") == _header(answered["payload"], "From")
            assert not _header(reply["payload"], "Delivered-To")
        else:
            assert DEMO in _header(reply["payload"], "To")
            assert _header(reply["payload"], "Delivered-To") == DEMO


def test_an_inline_image_is_referenced_by_cid_from_the_html(demo_mail: list[dict[str, Any]]) -> None:
    related = next(m for m in demo_mail if m["payload"]["mimeType"] == "multipart/related")
    parts = list(_parts(related["payload"]))
    html = next(_decoded(p["body"]["data"]).decode() for p in parts if p["mimeType"] == "text/html")
    image = next(p for p in parts if p["mimeType"] == "image/png")
    content_id = _header(image, "Content-ID").strip("<>")
    assert f'src="cid:{content_id}"' in html
    assert _header(image, "Content-Disposition").startswith("inline")
    assert set(image["body"]) == {"attachmentId", "size"}


def test_the_files_are_real_files(google: Google, gmail: Any, demo_mail: list[dict[str, Any]]) -> None:
    attachments = gmail.users().messages().attachments()
    magic = {"application/pdf": b"%PDF-", "image/png": b"\x89PNG\r\n\x1a\n", "image/bmp": b"BM"}
    seen = set()
    for message in demo_mail:
        for part in _parts(message["payload"]):
            if part["mimeType"] not in magic or part["mimeType"] in seen:
                continue
            seen.add(part["mimeType"])
            data = attachments.get(
                userId="me", messageId=message["id"], id=part["body"]["attachmentId"]
            ).execute()
            content = _decoded(data["data"])
            assert content.startswith(magic[part["mimeType"]])
            assert len(content) == data["size"] == part["body"]["size"]
            if part["mimeType"] == "image/bmp":
                # The large one: over 10 MB, a well-formed 24-bit bitmap
                assert len(content) > TEN_MB
                width, height, _, bits = struct.unpack("<iiHH", content[18:30])
                assert (bits, struct.unpack("<I", content[2:6])[0]) == (24, len(content))
                assert width * height * 3 <= len(content)
                assert message["sizeEstimate"] > len(content)
    assert seen == set(magic)


def test_raw_and_payload_agree_for_every_generated_message(google: Google, gmail: Any) -> None:
    full = {message["id"]: message for message in _fetch_all(google, gmail, "full")}
    for message in _fetch_all(google, gmail, "raw"):
        raw = _decoded(message["raw"])
        assert len(raw) == message["sizeEstimate"]
        parsed = email.message_from_bytes(raw)
        expected = list(_parts(full[message["id"]]["payload"]))
        walked = list(parsed.walk())
        assert [part.get_content_type() for part in walked] == [part["mimeType"] for part in expected]
        assert [part.get_filename() or "" for part in walked] == [part["filename"] for part in expected]
        for part, shown in zip(walked, expected, strict=True):
            if "data" in shown["body"]:
                assert part.get_payload(decode=True) == _decoded(shown["body"]["data"])


def test_the_demo_shapes_are_deterministic(demo_mail: list[dict[str, Any]]) -> None:
    with GoogleEmulator() as other_emulator:
        other = Google(other_emulator)
        flow, _ = other.connect()
        theirs = _fetch_all(other, other.gmail(flow.credentials), "full")

    def shape(messages: list[dict[str, Any]]) -> list[list[tuple[str, str, int]]]:
        return [
            [(p["mimeType"], p["filename"], p["body"]["size"]) for p in _parts(m["payload"])]
            for m in messages
        ]

    assert shape(demo_mail) == shape(theirs)
    assert [m["sizeEstimate"] for m in demo_mail] == [m["sizeEstimate"] for m in theirs]


def test_the_large_attachment_is_not_held_in_memory() -> None:
    # Given a state without the demo account
    state = State(demo=False)
    tracemalloc.start()
    try:
        # When the demo account (with its 10 MB attachment) is created and its size is read
        account = state.add_account(DEMO, "Demo User", 40)
        created = tracemalloc.get_traced_memory()[1]
        sizes = [message.content.size_estimate for message in account.messages.values()]
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    # Then creating it allocated far less than the attachment, and nothing that large stays
    assert max(sizes) > TEN_MB
    assert created < 4 * 1024 * 1024
    assert held < 4 * 1024 * 1024
