"""User labels: made through the control endpoint, seen by labels.list/get, listing, search and history."""

from __future__ import annotations

import json
from typing import Any

import pytest
from googleapiclient.errors import HttpError

from .conftest import Google

TESS = "tess@example.com"
LABELS_SCOPE = "https://www.googleapis.com/auth/gmail.labels"
GET_LABEL = "GET /gmail/v1/users/{userId}/labels/{id}"


def _create_label(google: Google, name: str) -> dict[str, Any]:
    answer = google.control("POST", f"/accounts/{TESS}/labels", {"name": name})
    assert answer.status_code == 201, answer.text
    return answer.json()  # type: ignore[no-any-return]


def _deliver(google: Google, subject: str, labels: list[str]) -> str:
    body = {"from": "a@example.org", "subject": subject, "body": subject, "labelIds": labels}
    answer = google.control("POST", f"/accounts/{TESS}/messages", body)
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]  # type: ignore[no-any-return]


@pytest.fixture
def tess(google: Google) -> Any:
    assert google.control("POST", "/accounts", {"email": TESS}).status_code == 201
    return google


def test_labels_get_ids_in_order_and_unique_names(tess: Google) -> None:
    # When two labels are created
    work = _create_label(tess, "Work")
    project = _create_label(tess, "Projects/Project X")
    # Then they get Gmail's user label ids, in creation order
    assert work == {"id": "Label_1", "name": "Work"}
    assert project == {"id": "Label_2", "name": "Projects/Project X"}
    # And a name already taken (ignoring case) is a 409, a system label's name or an empty one a 400
    duplicate = tess.control("POST", f"/accounts/{TESS}/labels", {"name": "work"})
    assert duplicate.status_code == 409
    assert "exists" in duplicate.json()["error"]
    for bad in ({"name": "INBOX"}, {"name": "  "}, {}):
        assert tess.control("POST", f"/accounts/{TESS}/labels", bad).status_code == 400
    assert tess.control("POST", "/accounts/ghost@example.com/labels", {"name": "X"}).status_code == 404


def test_labels_list_and_get_show_user_labels_with_counts(tess: Google) -> None:
    # Given a user label on two messages of one thread, one of them unread, and a message without it
    label = _create_label(tess, "Receipts")["id"]
    first = _deliver(tess, "Order 1", ["INBOX", label])
    reply = {
        "from": "a@example.org",
        "subject": "Re: Order 1",
        "body": "shipped",
        "threadId": first,
        "labelIds": ["INBOX", "UNREAD", label],
    }
    assert tess.control("POST", f"/accounts/{TESS}/messages", reply).status_code == 201
    _deliver(tess, "Other", ["INBOX", "UNREAD"])
    flow, _ = tess.connect(account=TESS)
    labels = tess.gmail(flow.credentials).users().labels()
    tess.control("POST", "/reset")
    # When the app lists and reads labels
    listed = labels.list(userId="me").execute()["labels"]
    got = labels.get(userId="me", id=label).execute()
    inbox = labels.get(userId="me", id="INBOX").execute()
    # Then the user label follows the system ones, typed "user"
    assert listed[-1] == {
        "id": label,
        "name": "Receipts",
        "messageListVisibility": "show",
        "labelListVisibility": "labelShow",
        "type": "user",
    }
    assert {item["type"] for item in listed[:-1]} == {"system"}
    # And labels.get counts messages and threads, total and unread
    assert got == {
        **listed[-1],
        "messagesTotal": 2,
        "messagesUnread": 1,
        "threadsTotal": 1,
        "threadsUnread": 1,
    }
    assert (inbox["messagesTotal"], inbox["messagesUnread"], inbox["threadsTotal"]) == (3, 2, 2)
    # And an unknown label is 404; each call costs 1 unit
    with pytest.raises(HttpError) as missing:
        labels.get(userId="me", id="Label_99").execute()
    assert missing.value.resp.status == 404
    stats = tess.stats()
    assert stats["quota_units_by_route"] == {"GET /gmail/v1/users/{userId}/labels": 1, GET_LABEL: 3}


def test_the_labels_scope_reads_labels_but_not_mail(tess: Google) -> None:
    _create_label(tess, "Work")
    flow, _ = tess.connect([LABELS_SCOPE], account=TESS)
    users = tess.gmail(flow.credentials).users()
    assert users.labels().get(userId="me", id="Label_1").execute()["name"] == "Work"
    with pytest.raises(HttpError) as refused:
        users.messages().list(userId="me").execute()
    assert refused.value.resp.status == 403


def test_user_labels_filter_listing_search_and_history(tess: Google) -> None:
    # Given messages with and without a user label
    label = _create_label(tess, "Project X")["id"]
    tagged = _deliver(tess, "Kickoff", ["INBOX", label])
    plain = _deliver(tess, "Lunch", ["INBOX"])
    flow, _ = tess.connect(account=TESS)
    users = tess.gmail(flow.credentials).users()

    def listed(**params: Any) -> list[str]:
        return [
            ref["id"] for ref in users.messages().list(userId="me", **params).execute().get("messages", [])
        ]

    # Then labelIds and label: (name in query form) select by the user label
    assert listed(labelIds=[label]) == [tagged]
    assert listed(labelIds=["INBOX", label]) == [tagged]
    assert listed(q="label:project-x") == [tagged]
    assert listed(q="-label:project-x") == [plain]
    # And an unknown label id is still Gmail's 400
    with pytest.raises(HttpError) as unknown:
        listed(labelIds=["Label_404"])
    assert json.loads(unknown.value.content)["error"]["status"] == "INVALID_ARGUMENT"
    # When the label moves through the control endpoint
    start = users.getProfile(userId="me").execute()["historyId"]
    moved = tess.control("POST", f"/accounts/{TESS}/messages/{plain}/labels", {"add": [label]})
    assert moved.status_code == 200
    assert moved.json()["labelIds"] == ["INBOX", label]
    tess.control("POST", f"/accounts/{TESS}/messages/{tagged}/labels", {"remove": [label]})
    # Then the listing follows and history.list filters by it
    assert listed(labelIds=[label]) == [plain]
    history = users.history().list(userId="me", startHistoryId=start, labelId=label).execute()["history"]
    assert [record.get("labelsAdded", record.get("labelsRemoved"))[0]["labelIds"] for record in history] == [
        [label],
        [label],
    ]
    # And a label the mailbox does not have is refused by the control endpoints
    refused = tess.control("POST", f"/accounts/{TESS}/messages/{plain}/labels", {"add": ["Label_9"]})
    assert refused.status_code == 400
    assert "Label_9" in refused.json()["error"]
