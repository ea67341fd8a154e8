"""users.threads.list / users.threads.get, thread-level label changes, and both inside a batch."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import pytest
from googleapiclient.errors import HttpError
from googleapiclient.http import BatchHttpRequest

from .conftest import Google

TESS = "tess@example.com"
DAY = 86_400
METADATA = "https://www.googleapis.com/auth/gmail.metadata"
LIST_THREADS = "GET /gmail/v1/users/{userId}/threads"
GET_THREAD = "GET /gmail/v1/users/{userId}/threads/{id}"


@dataclass
class Threads:
    ids: dict[str, str]  # message key -> message id
    threads: dict[str, str]  # thread key -> thread id
    gmail: Any
    token: str

    def listed(self, **params: Any) -> list[str]:
        names = {value: key for key, value in self.threads.items()}
        answer = self.gmail.users().threads().list(userId="me", **params).execute()
        return [names[item["id"]] for item in answer.get("threads", [])]


@pytest.fixture
def mailbox(google: Google) -> Threads:
    """Tess: a report thread (report, her reply, Alice's answer), lunch, sale, spam; a day apart."""
    assert google.control("POST", "/accounts", {"email": TESS, "name": "Tess Tester"}).status_code == 201
    alice = "Alice Martin <alice@example.org>"
    plan = [
        ("report", {"from": alice, "subject": "Quarterly report", "body": "Numbers attached."}, None),
        ("lunch", {"from": "Bob <bob@example.net>", "subject": "Lunch", "body": "Pizza?"}, None),
        (
            "reply",
            {"from": f"Tess <{TESS}>", "to": alice, "subject": "Re: Quarterly report", "body": "Thanks!"},
            "report",
        ),
        ("sale", {"from": "deals@shop.example", "subject": "Sale", "body": "Everything must go"}, None),
        ("answer", {"from": alice, "subject": "Re: Quarterly report", "body": "You are welcome."}, "report"),
        (
            "spam",
            {"from": "win@spam.example", "subject": "You won", "body": "Claim it", "labelIds": ["SPAM"]},
            None,
        ),
    ]
    ids: dict[str, str] = {}
    for key, fields, answers in plan:
        message = {**fields, "threadId": ids[answers]} if answers else dict(fields)
        if key == "reply":
            message["labelIds"] = ["SENT"]
        answer = google.control("POST", f"/accounts/{TESS}/messages", message)
        assert answer.status_code == 201, answer.text
        ids[key] = answer.json()["id"]
        google.advance(DAY)
    flow, token = google.connect(account=TESS)
    threads = {"report": ids["report"], "lunch": ids["lunch"], "sale": ids["sale"], "spam": ids["spam"]}
    return Threads(ids, threads, google.gmail(flow.credentials), token["access_token"])


def test_threads_list_orders_by_newest_message_and_filters_like_messages(
    google: Google, mailbox: Threads
) -> None:
    google.control("POST", "/reset")
    # The report thread's newest message (Alice's answer) is newer than the sale
    assert mailbox.listed() == ["report", "sale", "lunch"]
    assert mailbox.listed(includeSpamTrash=True) == ["spam", "report", "sale", "lunch"]
    # A thread matches when any of its messages does
    assert mailbox.listed(q="from:alice") == ["report"]
    assert mailbox.listed(q="thanks") == ["report"]
    assert mailbox.listed(labelIds=["SENT"]) == ["report"]
    assert mailbox.listed(labelIds=["SPAM"]) == ["spam"]
    # Each call costs 10 units
    assert google.stats()["quota_units_by_route"] == {LIST_THREADS: 60}


def test_a_thread_item_has_the_latest_snippet_and_the_thread_history_id(mailbox: Threads) -> None:
    answer = mailbox.gmail.users().threads().list(userId="me", q="from:alice").execute()
    (item,) = answer["threads"]
    assert set(item) == {"id", "snippet", "historyId"}
    assert item["snippet"] == "You are welcome."
    answer_message = mailbox.gmail.users().messages().get(userId="me", id=mailbox.ids["answer"]).execute()
    assert item["historyId"] == answer_message["historyId"]
    assert answer["resultSizeEstimate"] == 1


def test_threads_list_pages(mailbox: Threads) -> None:
    seen, token = [], None
    while True:
        page = mailbox.gmail.users().threads().list(userId="me", maxResults=2, pageToken=token).execute()
        assert page["resultSizeEstimate"] == 3
        seen += [item["id"] for item in page["threads"]]
        token = page.get("nextPageToken")
        if token is None:
            break
    assert seen == [mailbox.threads[key] for key in ("report", "sale", "lunch")]


def test_threads_get_in_each_format(google: Google, mailbox: Threads) -> None:
    threads = mailbox.gmail.users().threads()
    report = mailbox.threads["report"]
    google.control("POST", "/reset")
    # Every message of the thread, oldest first, in the asked format
    full = threads.get(userId="me", id=report).execute()
    assert set(full) == {"id", "historyId", "messages"}
    assert full["id"] == report
    assert [message["id"] for message in full["messages"]] == [
        mailbox.ids[k] for k in ("report", "reply", "answer")
    ]
    assert all("parts" in message["payload"] for message in full["messages"])
    assert full["historyId"] == full["messages"][-1]["historyId"]
    minimal = threads.get(userId="me", id=report, format="minimal").execute()
    assert all("payload" not in message for message in minimal["messages"])
    metadata = threads.get(userId="me", id=report, format="metadata", metadataHeaders=["Subject"]).execute()
    assert [message["payload"]["headers"] for message in metadata["messages"]] == [
        [{"name": "Subject", "value": "Quarterly report"}],
        [{"name": "Subject", "value": "Re: Quarterly report"}],
        [{"name": "Subject", "value": "Re: Quarterly report"}],
    ]
    # 10 units each
    assert google.stats()["quota_units_by_route"] == {GET_THREAD: 30}


def test_threads_get_errors_and_the_metadata_scope(google: Google, mailbox: Threads) -> None:
    threads = mailbox.gmail.users().threads()
    with pytest.raises(HttpError) as missing:
        threads.get(userId="me", id="0123456789abcdef").execute()
    assert missing.value.resp.status == 404
    with pytest.raises(HttpError) as malformed:
        threads.get(userId="me", id="not-a-thread!").execute()
    assert json.loads(malformed.value.content)["error"]["message"] == "Invalid id value"
    no_raw = google.api(
        f"/gmail/v1/users/me/threads/{mailbox.threads['report']}", mailbox.token, format="raw"
    )
    assert no_raw.status_code == 400  # threads.get has no raw format
    flow, _ = google.connect([METADATA], account=TESS)
    metadata_only = google.gmail(flow.credentials).users().threads()
    assert metadata_only.get(userId="me", id=mailbox.threads["lunch"], format="metadata").execute()[
        "messages"
    ]
    with pytest.raises(HttpError) as refused:
        metadata_only.get(userId="me", id=mailbox.threads["lunch"]).execute()
    assert json.loads(refused.value.content)["error"]["message"] == "Metadata scope doesn't allow format FULL"
    with pytest.raises(HttpError) as no_query:
        metadata_only.list(userId="me", q="lunch").execute()
    assert no_query.value.resp.status == 403


def test_thread_label_change_touches_every_message_in_one_history_record(
    google: Google, mailbox: Threads
) -> None:
    # Given a user label
    label = google.control("POST", f"/accounts/{TESS}/labels", {"name": "Finance"}).json()["id"]
    start = mailbox.gmail.users().getProfile(userId="me").execute()["historyId"]
    # When it is put on the whole report thread
    answer = google.control(
        "POST", f"/accounts/{TESS}/threads/{mailbox.threads['report']}/labels", {"add": [label]}
    )
    # Then every message carries it, in one history record
    assert answer.status_code == 200
    assert [message["id"] for message in answer.json()["messages"]] == [
        mailbox.ids[key] for key in ("report", "reply", "answer")
    ]
    assert all(label in message["labelIds"] for message in answer.json()["messages"])
    (record,) = mailbox.gmail.users().history().list(userId="me", startHistoryId=start).execute()["history"]
    assert len(record["labelsAdded"]) == 3
    assert mailbox.listed(labelIds=[label]) == ["report"]
    assert google.control("POST", f"/accounts/{TESS}/threads/0123456789abcdef/labels", {}).status_code == 404


def test_threads_and_attachments_can_be_batched(google: Google, mailbox: Threads) -> None:
    # Given a message with an attachment
    raw = (
        b"From: a@example.org\r\nSubject: File\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
        b"--b\r\nContent-Type: text/plain\r\n\r\nsee file\r\n"
        b"--b\r\nContent-Type: application/octet-stream\r\n"
        b'Content-Disposition: attachment; filename="f.bin"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\nAAECAw==\r\n--b--\r\n"
    )
    delivered = google.control(
        "POST", f"/accounts/{TESS}/messages", {"raw": base64.urlsafe_b64encode(raw).decode()}
    ).json()
    users = mailbox.gmail.users()
    message = users.messages().get(userId="me", id=delivered["id"]).execute()
    attachment_id = message["payload"]["parts"][1]["body"]["attachmentId"]
    google.control("POST", "/reset")
    # When a batch asks for a thread, a thread list and the attachment
    results: dict[str, Any] = {}
    batch = BatchHttpRequest(
        callback=lambda request_id, response, exception: results.__setitem__(
            request_id, exception or response
        ),
        batch_uri=f"{google.url}/batch/gmail/v1",
    )
    batch.add(
        users.threads().get(userId="me", id=mailbox.threads["lunch"], format="minimal"), request_id="thread"
    )
    batch.add(users.threads().list(userId="me", maxResults=1), request_id="threads")
    batch.add(
        users.messages().attachments().get(userId="me", messageId=delivered["id"], id=attachment_id),
        request_id="file",
    )
    batch.execute()
    # Then each part is answered and charged as its own call
    assert results["thread"]["id"] == mailbox.threads["lunch"]
    assert len(results["threads"]["threads"]) == 1
    assert base64.urlsafe_b64decode(results["file"]["data"]) == b"\x00\x01\x02\x03"
    stats = google.stats()
    assert stats["batched_calls"] == {
        GET_THREAD: 1,
        LIST_THREADS: 1,
        "GET /gmail/v1/users/{userId}/messages/{messageId}/attachments/{id}": 1,
    }
    assert sum(stats["quota_units"].values()) == 10 + 10 + 5
