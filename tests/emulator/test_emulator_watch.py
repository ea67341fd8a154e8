"""``users.watch`` and ``users.stop``: what they answer, what they refuse, what they cost."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from google_auth_oauthlib.flow import Flow
from googleapiclient.errors import HttpError
from googleapiclient.http import BatchHttpRequest

from infra.google_emulator import GoogleEmulator

from .conftest import DEMO, EMAIL, OPENID, TOPIC, Google

WATCH = "POST /gmail/v1/users/{userId}/watch"
STOP = "POST /gmail/v1/users/{userId}/stop"
SEVEN_DAYS_MS = 7 * 24 * 3600 * 1000


def _watch(google: Google, token: str, body: Any, user_id: str = "me") -> requests.Response:
    return google.http.post(
        f"{google.url}/gmail/v1/users/{user_id}/watch",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


def _topic(google: Google, topic: str = TOPIC, *, gmail_publisher: bool = True) -> None:
    created = google.control("POST", "/pubsub/topics", {"topic": topic, "gmail_publisher": gmail_publisher})
    assert created.status_code == 201, created.text


def _error(response: requests.Response) -> tuple[int, str, str]:
    error = response.json()["error"]
    return error["code"], error["message"], error["errors"][0]["reason"]


@pytest.fixture
def token(connected: tuple[Flow, dict[str, Any]]) -> str:
    return str(connected[1]["access_token"])


def test_watch_answers_the_history_id_and_an_expiration_seven_days_out(
    google: Google, gmail: Any, token: str
) -> None:
    # Given a topic Gmail may publish to
    _topic(google)
    google.control("POST", "/reset")
    now_ms = google.control("GET", "/clock").json()["now"] * 1000
    # When the user's mailbox is watched
    answer = gmail.users().watch(userId="me", body={"topicName": TOPIC, "labelIds": ["INBOX"]}).execute()
    # Then Gmail answers the mailbox's history id and when the watch ends, both as strings
    assert set(answer) == {"historyId", "expiration"}
    assert answer["historyId"] == gmail.users().getProfile(userId="me").execute()["historyId"]
    assert isinstance(answer["expiration"], str)
    assert now_ms + SEVEN_DAYS_MS <= int(answer["expiration"]) <= now_ms + SEVEN_DAYS_MS + 5_000
    (watch,) = google.control("GET", "/pubsub").json()["watches"]
    assert watch == {
        "emailAddress": DEMO,
        "project": "google-emulator",
        "topicName": TOPIC,
        "labelIds": ["INBOX"],
        "labelFilterBehavior": "include",
        "expiration": answer["expiration"],
    }
    # And stop answers 204 with no body, and ends the watch
    stop = google.http.post(
        f"{google.url}/gmail/v1/users/me/stop",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert (stop.status_code, stop.content) == (204, b"")
    assert google.control("GET", "/pubsub").json()["watches"] == []
    # And they cost Gmail's units: watch 100, stop 50 (plus the profile call's 1)
    stats = google.stats()
    assert stats["quota_units_by_route"][WATCH] == 100
    assert stats["quota_units_by_route"][STOP] == 50
    assert stats["quota_units"] == {DEMO: 151}


def test_calling_watch_again_renews_it(google: Google, gmail: Any) -> None:
    # Given a watch made a day ago
    _topic(google)
    first = gmail.users().watch(userId="me", body={"topicName": TOPIC}).execute()
    google.advance(24 * 3600)
    # When watch is called again
    second = gmail.users().watch(userId="me", body={"topicName": TOPIC}).execute()
    # Then it is one watch, ending a day later than the first
    assert int(second["expiration"]) - int(first["expiration"]) >= 24 * 3600 * 1000
    watches = google.control("GET", "/pubsub").json()["watches"]
    assert [w["expiration"] for w in watches] == [second["expiration"]]


_NOT_IN_PROJECT = (
    400,
    "Invalid topicName does not match projects/google-emulator/topics/*",
    "invalidArgument",
)
_TEST_MESSAGE = "Error sending test message to Cloud PubSub projects/google-emulator/topics/"


@pytest.mark.parametrize(
    ("body", "refusal"),
    [
        ({}, (400, "topicName required", "invalidArgument")),
        ({"topicName": ""}, (400, "topicName required", "invalidArgument")),
        ({"topicName": "gmail-push"}, _NOT_IN_PROJECT),
        ({"topicName": "projects/another-project/topics/gmail-push"}, _NOT_IN_PROJECT),
        (
            {"topicName": "projects/google-emulator/topics/nobody-made-this"},
            (
                404,
                _TEST_MESSAGE + "nobody-made-this : Resource not found (resource=nobody-made-this).",
                "notFound",
            ),
        ),
        (
            {"topicName": "projects/google-emulator/topics/no-gmail"},
            (403, _TEST_MESSAGE + "no-gmail : User not authorized to perform this action.", "forbidden"),
        ),
        (
            {"topicName": TOPIC, "labelFilterBehavior": "sometimes"},
            (400, "Invalid value at 'label_filter_behavior' (TYPE_ENUM), \"sometimes\"", "invalidArgument"),
        ),
        (
            {"topicName": TOPIC, "labelIds": "INBOX"},
            (400, "Invalid value at 'label_ids' (TYPE_STRING), \"INBOX\"", "invalidArgument"),
        ),
        (
            {"topicName": TOPIC, "labelIds": ["Label_404"]},
            (400, "Invalid label: Label_404", "invalidArgument"),
        ),
        (
            {"topicName": TOPIC, "pushEndpoint": "https://example.com"},
            (
                400,
                'Invalid JSON payload received. Unknown name "pushEndpoint": Cannot find field.',
                "invalidArgument",
            ),
        ),
    ],
)
def test_watch_refuses_what_gmail_refuses(
    google: Google, token: str, body: dict[str, Any], refusal: tuple[int, str, str]
) -> None:
    # Given a topic Gmail may publish to, and one it may not
    _topic(google)
    _topic(google, "projects/google-emulator/topics/no-gmail", gmail_publisher=False)
    # When watch is called with a body Gmail refuses
    answer = _watch(google, token, body)
    # Then Gmail's error comes back, and no watch exists
    assert _error(answer) == refusal
    assert google.control("GET", "/pubsub").json()["watches"] == []


def test_watch_accepts_proto_field_names_and_either_case_of_the_filter(google: Google, token: str) -> None:
    _topic(google)
    body = {"topic_name": TOPIC, "label_ids": ["SPAM"], "label_filter_behavior": "EXCLUDE"}
    assert _watch(google, token, body).status_code == 200
    (watch,) = google.control("GET", "/pubsub").json()["watches"]
    assert (watch["labelIds"], watch["labelFilterBehavior"]) == (["SPAM"], "exclude")


def test_the_deprecated_filter_action_counts_only_without_a_behavior(google: Google, token: str) -> None:
    _topic(google)
    behaviors = []
    for body in (
        {"labelFilterAction": "exclude"},
        {"labelFilterAction": "exclude", "labelFilterBehavior": "include"},
    ):
        assert _watch(google, token, {"topicName": TOPIC, "labelIds": ["INBOX"], **body}).status_code == 200
        behaviors.append(google.control("GET", "/pubsub").json()["watches"][0]["labelFilterBehavior"])
    assert behaviors == ["exclude", "include"]


def test_watch_and_stop_need_a_gmail_scope_and_the_user_s_own_address(google: Google) -> None:
    # Given a token with identity scopes only, and one with Gmail's
    _topic(google)
    _, identity_only = google.connect([OPENID, EMAIL])
    _, with_gmail = google.connect()
    # Then the first is refused for its scopes, the second for another user's address
    refused = _watch(google, identity_only["access_token"], {"topicName": TOPIC})
    assert _error(refused)[0::2] == (403, "insufficientPermissions")
    other = _watch(google, with_gmail["access_token"], {"topicName": TOPIC}, user_id="someone@example.com")
    assert _error(other) == (403, f"Delegation denied for {DEMO}", "forbidden")
    assert _watch(google, with_gmail["access_token"], {"topicName": TOPIC}, user_id=DEMO).status_code == 200


def test_the_topic_must_be_in_the_oauth_client_s_project(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a client of project "mail-reader-prod"
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    client = {
        "client_id": "c.apps.googleusercontent.com",
        "client_secret": "s",
        "project_id": "mail-reader-prod",
    }
    with GoogleEmulator(clients=[client]) as emu:
        google = Google(emu)
        assert google.config["web"]["project_id"] == "mail-reader-prod"
        _topic(google, "projects/mail-reader-prod/topics/gmail")
        _topic(google, TOPIC)
        _, token = google.connect()
        # Then a topic of another project is refused, one of its own accepted
        refused = _watch(google, token["access_token"], {"topicName": TOPIC})
        assert _error(refused)[1] == "Invalid topicName does not match projects/mail-reader-prod/topics/*"
        accepted = _watch(
            google, token["access_token"], {"topicName": "projects/mail-reader-prod/topics/gmail"}
        )
        assert accepted.status_code == 200


def test_watch_and_stop_work_in_a_batch(google: Google, gmail: Any) -> None:
    # Given a topic, and a batch with a watch then a stop
    _topic(google)
    google.control("POST", "/reset")
    results: dict[str, Any] = {}
    batch = BatchHttpRequest(
        callback=lambda request_id, response, exception: results.__setitem__(
            request_id, exception or response
        ),
        batch_uri=f"{google.url}/batch/gmail/v1",
    )
    batch.add(gmail.users().watch(userId="me", body={"topicName": TOPIC}), request_id="watch")
    batch.add(gmail.users().watch(userId="me", body={"topicName": "nope"}), request_id="bad")
    batch.add(gmail.users().stop(userId="me"), request_id="stop")
    # When it is sent
    batch.execute()
    # Then each part answered as on its own, and each was counted and charged as a batched call
    assert set(results["watch"]) == {"historyId", "expiration"}
    assert isinstance(results["bad"], HttpError)
    assert results["bad"].resp.status == 400
    assert results["stop"] == ""
    stats = google.stats()
    assert stats["batched_calls"] == {WATCH: 2, STOP: 1}
    assert stats["quota_units_by_route"] == {WATCH: 200, STOP: 50}
    assert google.control("GET", "/pubsub").json()["watches"] == []
