"""Gmail v1 through googleapiclient (static discovery, api_endpoint = the emulator)."""

from __future__ import annotations

import base64
import datetime
import email
import json
from dataclasses import dataclass
from typing import Any

import pytest
from googleapiclient.errors import HttpError

from .conftest import DEMO, EMAIL, OPENID, READONLY, Google

TESS = "tess@example.com"
DAY = 86_400
METADATA = "https://www.googleapis.com/auth/gmail.metadata"

SIGN_IN_HELP = "See https://developers.google.com/identity/sign-in/web/devconsole-project."


def _unauthenticated(rpc: str, *, missing: bool) -> dict[str, Any]:
    """Gmail's 401 bodies as captured from gmail.googleapis.com: no credential, or a bad one."""
    if missing:
        message = "Request is missing required authentication credential."
        item = {"message": "Login Required.", "domain": "global", "reason": "required"}
        info = {"reason": "CREDENTIALS_MISSING", "domain": "googleapis.com"}
    else:
        message = "Request had invalid authentication credentials."
        item = {"message": "Invalid Credentials", "domain": "global", "reason": "authError"}
        info = {"reason": "ACCESS_TOKEN_TYPE_UNSUPPORTED"}
    return {
        "error": {
            "code": 401,
            "message": f"{message} Expected OAuth 2 access token, login cookie or other valid "
            f"authentication credential. {SIGN_IN_HELP}",
            "errors": [{**item, "location": "Authorization", "locationType": "header"}],
            "status": "UNAUTHENTICATED",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    **info,
                    "metadata": {
                        "method": f"caribou.api.proto.MailboxService.{rpc}",
                        "service": "gmail.googleapis.com",
                    },
                }
            ],
        }
    }


NOT_FOUND = {
    "error": {
        "code": 404,
        "message": "Requested entity was not found.",
        "errors": [{"message": "Requested entity was not found.", "domain": "global", "reason": "notFound"}],
        "status": "NOT_FOUND",
    }
}


def _error(exc: HttpError) -> dict[str, Any]:
    return json.loads(exc.content)["error"]  # type: ignore[no-any-return]


@dataclass
class Mailbox:
    ids: dict[str, str]
    gmail: Any
    token: dict[str, Any]

    def ids_for(self, **params: Any) -> list[str]:
        """The keys of the messages a list call returns, newest first."""
        names = {value: key for key, value in self.ids.items()}
        response = self.gmail.users().messages().list(userId="me", **params).execute()
        return [names[ref["id"]] for ref in response.get("messages", [])]


@pytest.fixture
def mailbox(google: Google) -> Mailbox:
    """Tess's mailbox: seven known messages delivered two days apart, oldest first."""
    assert google.control("POST", "/accounts", {"email": TESS, "name": "Tess Tester"}).status_code == 201
    alice, bob = "Alice Martin <alice@example.org>", "Bob Chen <bob@example.net>"
    plan = [
        (
            "report",
            alice,
            "Quarterly report",
            "The numbers for Q3 are attached.",
            ["INBOX", "CATEGORY_UPDATES"],
        ),
        (
            "lunch",
            bob,
            "Lunch on Friday",
            "Pizza or sushi?",
            ["INBOX", "UNREAD", "CATEGORY_PERSONAL", "IMPORTANT"],
        ),
        (
            "photos",
            alice,
            "Trip photos",
            "Here are the photos from the lake.",
            ["INBOX", "STARRED", "CATEGORY_PERSONAL"],
        ),
        (
            "sale",
            "Deals <deals@shop.example>",
            "Big sale",
            "Everything must go!",
            ["INBOX", "UNREAD", "CATEGORY_PROMOTIONS"],
        ),
        ("spam", "Prize Office <win@spam.example>", "You won", "Claim your prize.", ["SPAM"]),
        ("trash", bob, "Old draft notes", "Ignore these notes.", ["TRASH"]),
    ]
    ids: dict[str, str] = {}
    for key, sender, subject, body, labels in plan:
        answer = google.control(
            "POST",
            f"/accounts/{TESS}/messages",
            {"from": sender, "subject": subject, "body": body, "labelIds": labels},
        )
        assert answer.status_code == 201
        ids[key] = answer.json()["id"]
        google.advance(2 * DAY)
    reply = {
        "from": f"Tess Tester <{TESS}>",
        "to": alice,
        "subject": "Re: Quarterly report",
        "body": "Thanks, looks good.",
        "labelIds": ["SENT"],
        "threadId": ids["report"],
    }
    ids["reply"] = google.control("POST", f"/accounts/{TESS}/messages", reply).json()["id"]
    google.advance(2 * DAY)
    flow, token = google.connect(account=TESS)
    return Mailbox(ids, google.gmail(flow.credentials), token)


# -- messages.list ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("from:alice", ["photos", "report"]),
        ("from:alice@example.org", ["photos", "report"]),
        ("to:alice", ["reply"]),
        ("subject:lunch", ["lunch"]),
        ('subject:"quarterly report"', ["reply", "report"]),
        ("is:unread", ["sale", "lunch"]),
        ("is:read in:inbox", ["photos", "report"]),
        ("in:inbox -is:unread", ["photos", "report"]),
        ("is:starred", ["photos"]),
        ("label:important", ["lunch"]),
        ("category:promotions", ["sale"]),
        ("in:sent", ["reply"]),
        ("photos", ["photos"]),
        ('"from the lake"', ["photos"]),
        ("Pizza", ["lunch"]),
        ("in:spam", ["spam"]),
        ("in:trash", ["trash"]),
        ("in:anywhere notes", ["trash"]),
        ("from:bob", ["lunch"]),
        ("newer_than:9d", ["reply", "sale"]),
        ("older_than:9d", ["photos", "lunch", "report"]),
        ("nothing-matches-this", []),
    ],
)
def test_list_with_a_query(mailbox: Mailbox, q: str, expected: list[str]) -> None:
    assert mailbox.ids_for(q=q) == expected


def test_after_and_before_dates_are_midnight_pacific_time(google: Google) -> None:
    # Given messages at 07:30 and 08:30 UTC on 20 Nov 2026, i.e. 23:30 on the 19th and 00:30 on the 20th
    # in Los Angeles (PST, UTC-8), and one in summer on either side of midnight PDT (UTC-7)
    assert google.control("POST", "/accounts", {"email": TESS}).status_code == 201
    moments = {
        "late_19th": "Fri, 20 Nov 2026 07:30:00 +0000",
        "early_20th": "Fri, 20 Nov 2026 08:30:00 +0000",
        "late_july_3rd": "Sat, 04 Jul 2026 06:30:00 +0000",
        "early_july_4th": "Sat, 04 Jul 2026 07:30:00 +0000",
    }
    ids = {}
    for key, date in moments.items():
        raw = f"From: a@example.org\r\nSubject: {key}\r\nDate: {date}\r\n\r\nbody\r\n"
        answer = google.control(
            "POST", f"/accounts/{TESS}/messages", {"raw": base64.urlsafe_b64encode(raw.encode()).decode()}
        )
        assert answer.status_code == 201, answer.text
        ids[answer.json()["id"]] = key
    flow, _ = google.connect(account=TESS)
    messages = google.gmail(flow.credentials).users().messages()

    def keys(q: str) -> set[str]:
        return {ids[ref["id"]] for ref in messages.list(userId="me", q=q).execute().get("messages", [])}

    # When Gmail searches by calendar date, the date is midnight Pacific time, not UTC
    assert keys("after:2026/11/20") == {"early_20th"}
    assert keys("before:2026/11/20") == {"late_19th", "late_july_3rd", "early_july_4th"}
    assert keys("after:2026-11-19 before:2026-11-20") == {"late_19th"}
    assert keys("after:07/04/2026 before:07/05/2026") == {"early_july_4th"}
    # And epoch seconds stay exact instants
    early_20th = int(datetime.datetime(2026, 11, 20, 8, 30, tzinfo=datetime.UTC).timestamp())
    assert keys(f"after:{early_20th}") == {"early_20th"}
    assert keys(f"after:{early_20th + 1}") == set()
    assert keys(f"before:{early_20th}") == {"late_19th", "late_july_3rd", "early_july_4th"}


def test_list_by_label_ids_and_spam_trash(mailbox: Mailbox) -> None:
    assert mailbox.ids_for(labelIds=["INBOX", "UNREAD"]) == ["sale", "lunch"]
    assert mailbox.ids_for(labelIds=["INBOX", "IMPORTANT"]) == ["lunch"]
    assert mailbox.ids_for(labelIds=["SPAM"]) == ["spam"]
    assert mailbox.ids_for() == ["reply", "sale", "photos", "lunch", "report"]
    assert mailbox.ids_for(includeSpamTrash=True) == [
        "reply",
        "trash",
        "spam",
        "sale",
        "photos",
        "lunch",
        "report",
    ]
    assert mailbox.ids_for(q="from:bob", includeSpamTrash=True) == ["trash", "lunch"]
    with pytest.raises(HttpError) as refused:
        mailbox.ids_for(labelIds=["NO_SUCH_LABEL"])
    assert _error(refused.value)["status"] == "INVALID_ARGUMENT"
    assert _error(refused.value)["errors"][0]["reason"] == "invalidArgument"


def test_an_empty_result_has_no_messages_key(mailbox: Mailbox) -> None:
    assert mailbox.gmail.users().messages().list(userId="me", q="is:starred is:unread").execute() == {
        "resultSizeEstimate": 0
    }


def test_paging_walks_the_whole_mailbox_newest_first(google: Google, gmail: Any) -> None:
    profile = gmail.users().getProfile(userId="me").execute()
    everything = gmail.users().messages().list(userId="me", includeSpamTrash=True).execute()
    assert len(everything["messages"]) == profile["messagesTotal"] == 40
    assert "nextPageToken" not in everything
    visible = gmail.users().messages().list(userId="me").execute()
    expected_total = visible["resultSizeEstimate"]
    assert expected_total == len(visible["messages"]) < 40  # spam and trash left out by default
    seen: list[str] = []
    page_token = None
    pages = 0
    while True:
        page = gmail.users().messages().list(userId="me", maxResults=7, pageToken=page_token).execute()
        pages += 1
        assert len(page["messages"]) <= 7
        assert page["resultSizeEstimate"] == expected_total
        seen += [ref["id"] for ref in page["messages"]]
        page_token = page.get("nextPageToken")
        if page_token is None:
            break
    assert pages == -(-expected_total // 7)
    assert seen == [ref["id"] for ref in visible["messages"]]
    dates = [
        int(
            gmail.users()
            .messages()
            .get(userId="me", id=message_id, format="minimal")
            .execute()["internalDate"]
        )
        for message_id in seen
    ]
    assert dates == sorted(dates, reverse=True)


def test_max_results_is_capped_at_500(google: Google) -> None:
    assert (
        google.control("POST", "/accounts", {"email": "big@example.com", "messages": 600}).status_code == 201
    )
    flow, _ = google.connect(account="big@example.com")
    messages = google.gmail(flow.credentials).users().messages()
    page = messages.list(userId="me", maxResults=1000, includeSpamTrash=True).execute()
    assert len(page["messages"]) == 500
    rest = messages.list(
        userId="me", maxResults=1000, includeSpamTrash=True, pageToken=page["nextPageToken"]
    ).execute()
    assert len(rest["messages"]) == 100
    assert "nextPageToken" not in rest


# -- messages.get -------------------------------------------------------------------------


def test_get_in_each_format(mailbox: Mailbox) -> None:
    get = mailbox.gmail.users().messages().get
    lunch = mailbox.ids["lunch"]
    minimal = get(userId="me", id=lunch, format="minimal").execute()
    assert set(minimal) == {
        "id",
        "threadId",
        "labelIds",
        "snippet",
        "sizeEstimate",
        "historyId",
        "internalDate",
    }
    assert (minimal["id"], minimal["threadId"]) == (lunch, lunch)
    assert minimal["labelIds"] == ["INBOX", "UNREAD", "CATEGORY_PERSONAL", "IMPORTANT"]
    assert minimal["snippet"] == "Pizza or sushi?"
    assert minimal["internalDate"].isdigit()
    assert minimal["historyId"].isdigit()

    metadata = get(userId="me", id=lunch, format="metadata", metadataHeaders=["From", "Subject"]).execute()
    assert {h["name"]: h["value"] for h in metadata["payload"]["headers"]} == {
        "From": "Bob Chen <bob@example.net>",
        "Subject": "Lunch on Friday",
    }
    assert "parts" not in metadata["payload"]
    all_headers = get(userId="me", id=lunch, format="metadata").execute()["payload"]["headers"]
    assert {"From", "To", "Subject", "Date"} <= {h["name"] for h in all_headers}

    full = get(userId="me", id=lunch, format="full").execute()
    assert full["payload"]["mimeType"] == "multipart/alternative"
    (plain,) = [part for part in full["payload"]["parts"] if part["mimeType"] == "text/plain"]
    assert base64.urlsafe_b64decode(plain["body"]["data"]).decode() == "Pizza or sushi?"
    assert plain["body"]["size"] == len("Pizza or sushi?")

    raw = get(userId="me", id=lunch, format="raw").execute()
    assert "payload" not in raw
    parsed = email.message_from_bytes(base64.urlsafe_b64decode(raw["raw"]))
    assert parsed["Subject"] == "Lunch on Friday"
    assert parsed["To"] == f"Tess Tester <{TESS}>"
    texts = [part.get_payload() for part in parsed.walk() if part.get_content_type() == "text/plain"]
    assert texts == ["Pizza or sushi?"]
    assert raw["sizeEstimate"] == len(base64.urlsafe_b64decode(raw["raw"]))


def test_threads_and_snippets(google: Google, mailbox: Mailbox) -> None:
    reply = (
        mailbox.gmail.users().messages().get(userId="me", id=mailbox.ids["reply"], format="minimal").execute()
    )
    assert reply["threadId"] == mailbox.ids["report"]
    delivered = google.control(
        "POST",
        f"/accounts/{TESS}/messages",
        {"from": "x@example.com", "subject": "s", "body": 'Don\'t <panic> & "relax"'},
    ).json()
    got = mailbox.gmail.users().messages().get(userId="me", id=delivered["id"], format="minimal").execute()
    assert got["snippet"] == "Don&#39;t &lt;panic&gt; &amp; &quot;relax&quot;"
    assert got["labelIds"] == ["INBOX", "UNREAD", "CATEGORY_PERSONAL"]
    assert got["historyId"] == delivered["historyId"]


def test_get_errors(mailbox: Mailbox) -> None:
    messages = mailbox.gmail.users().messages()
    with pytest.raises(HttpError) as missing:
        messages.get(userId="me", id="0123456789abcdef").execute()
    assert missing.value.resp.status == 404
    assert json.loads(missing.value.content) == NOT_FOUND
    with pytest.raises(HttpError) as malformed:
        messages.get(userId="me", id="not-an-id!").execute()
    assert malformed.value.resp.status == 400
    assert _error(malformed.value)["status"] == "INVALID_ARGUMENT"
    assert _error(malformed.value)["errors"][0] == {
        "message": "Invalid id value",
        "domain": "global",
        "reason": "invalidArgument",
    }
    with pytest.raises(HttpError) as delegated:
        messages.get(userId="someone@example.com", id=mailbox.ids["lunch"]).execute()
    assert delegated.value.resp.status == 403
    assert _error(delegated.value)["message"] == f"Delegation denied for {TESS}"
    # the account's own address works as userId
    assert (
        messages.get(userId=TESS, id=mailbox.ids["lunch"], format="minimal").execute()["id"]
        == mailbox.ids["lunch"]
    )


# -- history ------------------------------------------------------------------------------


def test_history_records_every_change(google: Google, mailbox: Mailbox) -> None:
    users = mailbox.gmail.users()
    start = users.getProfile(userId="me").execute()["historyId"]
    delivered = google.control(
        "POST", f"/accounts/{TESS}/messages", {"from": "n@example.com", "subject": "New", "body": "b"}
    )
    new_id = delivered.json()["id"]
    relabel = google.control(
        "POST",
        f"/accounts/{TESS}/messages/{mailbox.ids['lunch']}/labels",
        {"add": ["STARRED"], "remove": ["UNREAD"]},
    )
    assert relabel.json()["labelIds"] == ["INBOX", "CATEGORY_PERSONAL", "IMPORTANT", "STARRED"]
    assert google.control("DELETE", f"/accounts/{TESS}/messages/{mailbox.ids['sale']}").status_code == 204

    history = users.history().list(userId="me", startHistoryId=start).execute()
    added, labelled, deleted = history["history"]
    assert int(start) < int(added["id"]) < int(labelled["id"]) < int(deleted["id"])
    assert history["historyId"] == users.getProfile(userId="me").execute()["historyId"] == deleted["id"]
    assert added["id"] == delivered.json()["historyId"]
    assert added["messages"] == [{"id": new_id, "threadId": new_id}]
    assert added["messagesAdded"] == [
        {"message": {"id": new_id, "threadId": new_id, "labelIds": ["INBOX", "UNREAD", "CATEGORY_PERSONAL"]}}
    ]
    lunch = mailbox.ids["lunch"]
    current = {
        "id": lunch,
        "threadId": lunch,
        "labelIds": ["INBOX", "CATEGORY_PERSONAL", "IMPORTANT", "STARRED"],
    }
    assert labelled["labelsAdded"] == [{"message": current, "labelIds": ["STARRED"]}]
    assert labelled["labelsRemoved"] == [{"message": current, "labelIds": ["UNREAD"]}]
    sale = mailbox.ids["sale"]
    assert deleted["messagesDeleted"] == [{"message": {"id": sale, "threadId": sale}}]
    with pytest.raises(HttpError) as gone:
        users.messages().get(userId="me", id=sale).execute()
    assert gone.value.resp.status == 404

    only_labels = (
        users.history().list(userId="me", startHistoryId=start, historyTypes=["labelAdded"]).execute()
    )
    assert [record["id"] for record in only_labels["history"]] == [labelled["id"]]
    assert set(only_labels["history"][0]) == {"id", "messages", "labelsAdded"}
    starred = users.history().list(userId="me", startHistoryId=start, labelId="STARRED").execute()
    assert [record["id"] for record in starred["history"]] == [labelled["id"]]

    pages = []
    token = None
    while True:
        page = (
            users.history().list(userId="me", startHistoryId=start, maxResults=1, pageToken=token).execute()
        )
        pages.append([record["id"] for record in page["history"]])
        token = page.get("nextPageToken")
        if token is None:
            break
    assert pages == [[added["id"]], [labelled["id"]], [deleted["id"]]]

    latest = users.history().list(userId="me", startHistoryId=history["historyId"]).execute()
    assert latest == {"historyId": history["historyId"]}


def test_history_404_when_the_start_id_is_too_old(google: Google, mailbox: Mailbox) -> None:
    users = mailbox.gmail.users()
    start = users.getProfile(userId="me").execute()["historyId"]
    google.control(
        "POST", f"/accounts/{TESS}/messages", {"from": "n@example.com", "subject": "New", "body": "b"}
    )
    assert google.control("POST", f"/accounts/{TESS}/expire_history").status_code == 204
    with pytest.raises(HttpError) as too_old:
        users.history().list(userId="me", startHistoryId=start).execute()
    assert too_old.value.resp.status == 404
    assert json.loads(too_old.value.content) == NOT_FOUND
    # a full sync then starts again from the current id
    current = users.getProfile(userId="me").execute()["historyId"]
    assert users.history().list(userId="me", startHistoryId=current).execute() == {"historyId": current}


def test_history_rejects_a_bad_start_id(google: Google, mailbox: Mailbox) -> None:
    response = google.api("/gmail/v1/users/me/history", mailbox.token["access_token"], startHistoryId="abc")
    assert response.status_code == 400
    assert response.json()["error"]["status"] == "INVALID_ARGUMENT"
    missing = google.api("/gmail/v1/users/me/history", mailbox.token["access_token"])
    assert missing.status_code == 400
    assert "startHistoryId" in missing.json()["error"]["message"]


# -- profile and labels -------------------------------------------------------------------


def test_profile_and_labels(mailbox: Mailbox) -> None:
    profile = mailbox.gmail.users().getProfile(userId="me").execute()
    assert profile["emailAddress"] == TESS
    assert profile["messagesTotal"] == 7
    assert profile["threadsTotal"] == 6  # the reply shares the report's thread
    assert profile["historyId"].isdigit()
    labels = mailbox.gmail.users().labels().list(userId="me").execute()["labels"]
    assert {"INBOX", "SENT", "SPAM", "TRASH", "UNREAD", "STARRED", "IMPORTANT", "CATEGORY_SOCIAL"} <= {
        label["id"] for label in labels
    }
    assert {label["type"] for label in labels} == {"system"}


# -- authentication and scopes ------------------------------------------------------------


def test_401_tells_a_missing_credential_from_a_bad_one(
    google: Google, connected: tuple[Any, dict[str, Any]]
) -> None:
    # Given a live token, a forged one and no token at all
    token = connected[1]["access_token"]
    # When Gmail is called without credentials
    missing = google.api("/gmail/v1/users/me/messages", None)
    # Then it is Google's "missing credential" 401, naming the backend method
    assert missing.status_code == 401
    assert missing.json() == _unauthenticated("ListMessages", missing=True)
    assert missing.headers["WWW-Authenticate"] == 'Bearer realm="https://accounts.google.com/"'
    # And a forged or expired token is the "invalid credentials" 401 with error="invalid_token"
    forged = google.api("/gmail/v1/users/me/profile", "ya29.forged")
    assert (forged.status_code, forged.json()) == (401, _unauthenticated("GetProfile", missing=False))
    assert 'error="invalid_token"' in forged.headers["WWW-Authenticate"]
    assert google.api("/gmail/v1/users/me/messages", token).status_code == 200
    google.advance(3600)
    expired = google.api("/gmail/v1/users/me/messages", token)
    assert (expired.status_code, expired.json()) == (401, _unauthenticated("ListMessages", missing=False))


def test_403_without_a_gmail_scope(google: Google) -> None:
    # Given a user who granted only the sign-in scopes
    flow, _ = google.connect([OPENID, EMAIL])
    # When the app reads their mail
    with pytest.raises(HttpError) as denied:
        google.gmail(flow.credentials).users().messages().get(userId="me", id="0123456789abcdef").execute()
    # Then it is Gmail's 403 with the machine-readable ErrorInfo reason
    assert denied.value.resp.status == 403
    assert json.loads(denied.value.content) == {
        "error": {
            "code": 403,
            "message": "Request had insufficient authentication scopes.",
            "errors": [
                {
                    "message": "Insufficient Permission",
                    "domain": "global",
                    "reason": "insufficientPermissions",
                }
            ],
            "status": "PERMISSION_DENIED",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
                    "domain": "googleapis.com",
                    "metadata": {
                        "method": "caribou.api.proto.MailboxService.GetMessage",
                        "service": "gmail.googleapis.com",
                    },
                }
            ],
        }
    }
    assert 'error="insufficient_scope"' in denied.value.resp["www-authenticate"]
    assert google.stats()["quota_units"] == {}  # refused calls are not charged


def test_the_metadata_scope_allows_headers_only(google: Google) -> None:
    flow, _ = google.connect([METADATA])
    messages = google.gmail(flow.credentials).users().messages()
    listed = messages.list(userId="me", maxResults=1).execute()["messages"]
    message_id = listed[0]["id"]
    assert messages.get(userId="me", id=message_id, format="metadata").execute()["payload"]["headers"]
    with pytest.raises(HttpError) as full:
        messages.get(userId="me", id=message_id, format="full").execute()
    assert _error(full.value)["message"] == "Metadata scope doesn't allow format FULL"
    with pytest.raises(HttpError) as query:
        messages.list(userId="me", q="is:unread").execute()
    assert _error(query.value)["message"] == "Metadata scope does not support 'q' parameter"


def test_userinfo_scopes_do_not_leak_into_gmail_and_readonly_is_enough(google: Google) -> None:
    flow, _ = google.connect([READONLY])
    assert google.gmail(flow.credentials).users().getProfile(userId="me").execute()["emailAddress"] == DEMO
