"""Gmail push through Pub/Sub: what reaches the push endpoint, when, how often, and with what token."""

from __future__ import annotations

import base64
import datetime
import itertools
import re
import threading
import time
from typing import Any

import pytest
from google.auth.transport.requests import Request as AuthRequest
from google.oauth2 import id_token

from infra.google_emulator import GoogleEmulator
from infra.google_emulator.pubsub import Subscription

from .conftest import DEMO, PUSH_INVOKER, TOPIC, Google
from .push_receiver import PushReceiver, eventually

AUDIENCE = "https://mail-connect.example.com/push/gmail"
SHORT = {"min_backoff_seconds": 0.05, "max_backoff_seconds": 0.2}
RFC3339_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def _watch(gmail: Any, **body: Any) -> dict[str, Any]:
    return gmail.users().watch(userId="me", body={"topicName": TOPIC, **body}).execute()  # type: ignore[no-any-return]


def _history_ids(pushes: list[Any]) -> list[str]:
    return [push.notification["historyId"] for push in pushes]


def _subscription_stats(google: Google) -> dict[str, Any]:
    (stats,) = google.pubsub_stats()["subscriptions"].values()
    return stats  # type: ignore[no-any-return]


# -- what is pushed -----------------------------------------------------------------------


def test_a_new_message_is_pushed_in_pub_sub_s_format_with_a_token_google_auth_accepts(
    google: Google, gmail: Any, receiver: PushReceiver
) -> None:
    # Given an authenticated push subscription and a watched mailbox (whose watch notifies at once)
    subscription = google.subscribe(receiver.url, audience=AUDIENCE)["subscription"]
    watched = _watch(gmail)
    # When a message arrives
    delivered = google.deliver(subject="Hello")
    # Then the endpoint gets the watch's notification, then one with the message's history id
    first, second = receiver.wait_for(2)
    assert _history_ids([first, second]) == [watched["historyId"], delivered["historyId"]]
    # in Pub/Sub's push format, Gmail's payload base64-encoded in message.data
    assert second.path == "/push/gmail"
    assert second.headers["content-type"] == "application/json"
    assert set(second.body) == {"message", "subscription"}
    assert second.body["subscription"] == subscription == "projects/google-emulator/subscriptions/push-1"
    message = second.body["message"]
    assert set(message) == {"data", "messageId", "message_id", "publishTime", "publish_time"}
    assert message["messageId"] == message["message_id"]
    assert message["messageId"].isdigit()
    assert message["messageId"] != first.body["message"]["messageId"]
    assert message["publishTime"] == message["publish_time"]
    assert RFC3339_MS.fullmatch(message["publishTime"])
    assert base64.b64decode(message["data"], validate=True)
    assert second.notification == {"emailAddress": DEMO, "historyId": delivered["historyId"]}
    # with an OIDC token that google-auth verifies against the emulator's certificates
    claims = id_token.verify_token(
        second.token,
        AuthRequest(),
        audience=AUDIENCE,
        certs_url=f"{google.url}/oauth2/v1/certs",
    )
    assert claims["iss"] == "https://accounts.google.com"
    assert claims["aud"] == AUDIENCE
    assert (claims["email"], claims["email_verified"]) == (PUSH_INVOKER, True)
    assert claims["sub"] == claims["azp"]
    assert re.fullmatch(r"\d{21}", claims["sub"])
    assert claims["exp"] - claims["iat"] == 3600
    assert abs(claims["iat"] - time.time()) < 60


def test_the_audience_is_the_push_endpoint_unless_one_is_given(
    google: Google, gmail: Any, receiver: PushReceiver
) -> None:
    google.subscribe(receiver.url)
    _watch(gmail)
    (push,) = receiver.wait_for(1)
    claims = id_token.verify_token(
        push.token,
        AuthRequest(),
        audience=receiver.url,
        certs_url=f"{google.url}/oauth2/v1/certs",
    )
    assert claims["aud"] == receiver.url


def test_a_subscription_without_a_service_account_pushes_without_a_token(
    google: Google, gmail: Any, receiver: PushReceiver
) -> None:
    google.subscribe(receiver.url, service_account_email=None)
    _watch(gmail)
    (push,) = receiver.wait_for(1)
    assert "authorization" not in push.headers


def test_label_changes_and_deletions_notify_as_deliveries_do(
    google: Google, gmail: Any, receiver: PushReceiver
) -> None:
    # Given a watched mailbox with one message (each change a second apart, on the emulator's clock)
    google.subscribe(receiver.url)
    _watch(gmail)
    google.advance(1)
    message = google.deliver(subject="Changes")
    google.advance(1)
    # When the message is read, then deleted
    read = google.control("POST", f"/accounts/{DEMO}/messages/{message['id']}/labels", {"remove": ["UNREAD"]})
    google.advance(1)
    assert google.control("DELETE", f"/accounts/{DEMO}/messages/{message['id']}").status_code == 204
    deleted_at = google.control("GET", f"/accounts/{DEMO}").json()["historyId"]
    # Then each change was notified with its own history id
    pushes = receiver.wait_for(4)
    assert _history_ids(pushes)[1:] == [message["historyId"], read.json()["historyId"], deleted_at]


# -- Gmail's one notification per second --------------------------------------------------


def test_changes_within_a_second_become_one_notification_with_the_newest_history_id(
    google: Google, gmail: Any, receiver: PushReceiver
) -> None:
    # Given a mailbox whose watch has just notified
    google.subscribe(receiver.url)
    _watch(gmail)
    # When five messages arrive at once
    delivered = [google.deliver(subject=f"Burst {n}") for n in range(5)]
    # Then one more notification comes, a second after the watch's, carrying the last history id
    first, second = receiver.wait_for(2)
    assert second.notification["historyId"] == delivered[-1]["historyId"]
    published = [datetime.datetime.fromisoformat(p.body["message"]["publishTime"]) for p in (first, second)]
    assert (published[1] - published[0]).total_seconds() >= 0.999
    stats = google.pubsub_stats()
    assert stats["notifications"] == {DEMO: {"published": 2, "coalesced": 4}}
    assert eventually(lambda: _subscription_stats(google), lambda s: s["delivered"] == 2)["pending"] == 0
    assert len(receiver.pushes) == 2


def test_with_the_drop_setting_changes_past_the_rate_are_lost(
    google: Google, gmail: Any, receiver: PushReceiver
) -> None:
    # Given Gmail's documented behaviour: notifications above one a second are dropped
    assert google.control("POST", "/realism", {"push_rate_excess": "drop"}).status_code == 200
    google.subscribe(receiver.url)
    _watch(gmail)
    # When three messages arrive within that second
    for n in range(3):
        google.deliver(subject=f"Lost {n}")
    # Then none of them is notified, and a change a second later is
    assert google.pubsub_stats()["notifications"] == {DEMO: {"published": 1, "rate_dropped": 3}}
    google.advance(1)
    later = google.deliver(subject="Seen")
    assert _history_ids(receiver.wait_for(2))[1] == later["historyId"]


# -- label filters ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("watch", "notified"),
    [
        ({"labelIds": ["INBOX"]}, "INBOX"),
        ({"labelIds": ["INBOX"], "labelFilterBehavior": "include"}, "INBOX"),
        ({"labelIds": ["SPAM"], "labelFilterBehavior": "exclude"}, "INBOX"),
        ({"labelIds": ["INBOX"], "labelFilterAction": "exclude"}, "SPAM"),
        ({}, "both"),
    ],
)
def test_the_label_filter_decides_which_changes_notify(
    google: Google, gmail: Any, receiver: PushReceiver, watch: dict[str, Any], notified: str
) -> None:
    # Given a watch with a label filter
    google.subscribe(receiver.url)
    _watch(gmail, **watch)
    # When a spam message arrives, then an inbox one (a second apart)
    google.advance(1)
    spam = google.deliver(subject="Win", labelIds=["SPAM"])
    google.advance(1)
    inbox = google.deliver(subject="Hi", labelIds=["INBOX", "UNREAD"])
    # Then only the changes the filter wants were notified (after the watch's own notification)
    expected = {"INBOX": [inbox], "SPAM": [spam], "both": [spam, inbox]}[notified]
    pushes = receiver.wait_for(1 + len(expected))
    assert _history_ids(pushes)[1:] == [m["historyId"] for m in expected]
    counts = google.pubsub_stats()["notifications"][DEMO]
    assert (counts["published"], counts.get("filtered", 0)) == (1 + len(expected), 2 - len(expected))


# -- retries, faults ----------------------------------------------------------------------


def test_a_refused_push_is_retried_with_growing_backoff_until_acknowledged(
    google: Google, gmail: Any
) -> None:
    # Given an endpoint that fails, redirects (not an acknowledgement), fails again, then accepts
    receiver = PushReceiver(answers=[500, 302, 503, 202])
    try:
        google.subscribe(receiver.url, **SHORT)
        _watch(gmail)
        # When the watch's notification is pushed
        pushes = receiver.wait_for(4)
    finally:
        receiver.close()
    # Then the same message came four times, 0.05 s, 0.1 s, then 0.2 s apart
    assert len({push.body["message"]["messageId"] for push in pushes}) == 1
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(pushes)]
    assert all(gap >= floor * 0.95 for gap, floor in zip(gaps, (0.05, 0.1, 0.2), strict=True)), gaps
    stats = eventually(lambda: _subscription_stats(google), lambda s: s["delivered"] == 1)
    assert stats == {
        "published": 1,
        "delivered": 1,
        "retried": 3,
        "dropped": 0,
        "expired": 0,
        "pending": 0,
        "attempts": 4,
        "statuses": {"202": 1, "302": 1, "500": 1, "503": 1},
    }


def test_pub_sub_s_default_backoff_is_ten_seconds_on_the_emulator_clock(google: Google, gmail: Any) -> None:
    # Given a subscription with Pub/Sub's default retry policy, and an endpoint failing once
    receiver = PushReceiver(answers=[500])
    try:
        settings = google.subscribe(receiver.url)
        assert (settings["min_backoff_seconds"], settings["max_backoff_seconds"]) == (10.0, 600.0)
        _watch(gmail)
        receiver.wait_for(1)
        eventually(lambda: _subscription_stats(google), lambda s: s["retried"] == 1)
        # When ten seconds pass on the emulator's clock
        google.advance(10)
        # Then the retry is delivered
        first, retry = receiver.wait_for(2)
    finally:
        receiver.close()
    assert retry.body == first.body


def test_backoff_doubles_from_the_minimum_up_to_the_maximum() -> None:
    subscription = Subscription("s", TOPIC, "http://127.0.0.1:9/", "http://127.0.0.1:9/", None)
    assert [subscription.backoff(n) for n in range(1, 9)] == [10, 20, 40, 80, 160, 320, 600, 600]
    assert subscription.backoff(5000) == 600


def test_an_unacknowledged_message_expires_after_the_retention(google: Google, gmail: Any) -> None:
    # Given an endpoint that refuses every push, and Pub/Sub's 7 days of retention
    receiver = PushReceiver(answers=[500] * 10)
    try:
        google.subscribe(receiver.url)
        _watch(gmail)
        receiver.wait_for(1)
        eventually(lambda: _subscription_stats(google), lambda s: s["retried"] == 1)
        # When 7 days pass on the emulator's clock
        google.advance(7 * 24 * 3600)
        # Then the message is given up, not pushed again
        stats = eventually(lambda: _subscription_stats(google), lambda s: s["expired"] == 1)
    finally:
        receiver.close()
    assert (stats["attempts"], stats["pending"], stats["delivered"]) == (1, 0, 0)


def test_an_endpoint_that_does_not_answer_is_retried(google: Google, gmail: Any) -> None:
    # Given a subscription to a port nothing listens on
    closed = PushReceiver()
    closed.close()
    google.subscribe(closed.url, **SHORT)
    # When the watch notifies
    _watch(gmail)
    # Then Pub/Sub keeps trying, counting the attempts as unanswered
    stats = eventually(lambda: _subscription_stats(google), lambda s: s["attempts"] >= 3)
    assert (stats["delivered"], stats["pending"]) == (0, 1)
    assert set(stats["statuses"]) == {"no answer"}


def test_a_drop_fault_loses_notifications_and_a_delay_fault_holds_them(
    google: Google, gmail: Any, receiver: PushReceiver
) -> None:
    # Given the next notification will be dropped, and the one after delayed by 400 ms
    google.subscribe(receiver.url)
    assert google.control("POST", "/pubsub/faults", {"drop": 1}).status_code == 201
    faults = google.control("POST", "/pubsub/faults", {"delay_ms": 400, "count": 1})
    assert (faults.status_code, faults.json()) == (201, {"drop": 1, "delay_ms": 400, "delay_count": 1})
    # When the watch notifies, then a message arrives a second later
    _watch(gmail)
    google.advance(1)
    started = time.monotonic()
    delivered = google.deliver(subject="Late")
    # Then only the message's notification arrives, no sooner than 400 ms later
    (push,) = receiver.wait_for(1)
    assert push.notification["historyId"] == delivered["historyId"]
    assert push.at - started >= 0.4
    stats = eventually(lambda: _subscription_stats(google), lambda s: s["delivered"] == 1)
    assert (stats["published"], stats["dropped"], stats["pending"]) == (2, 1, 0)
    assert google.control("GET", "/pubsub/faults").json() == {"drop": 0, "delay_ms": 0, "delay_count": 0}


def test_delivery_never_holds_up_the_change_that_caused_it(
    google: Google, gmail: Any, receiver: PushReceiver
) -> None:
    # Given an endpoint that keeps every push waiting
    receiver.hold = threading.Event()
    google.subscribe(receiver.url)
    # When the mailbox is watched and changed while the watch's push is still waiting
    _watch(gmail)
    assert receiver.in_flight.wait(10)
    google.advance(1)
    delivered = google.deliver(subject="Not blocked")
    # Then both calls answered while no push had completed, and the pushes complete once it answers
    assert receiver.pushes == []
    receiver.hold.set()
    assert delivered["historyId"] in _history_ids(receiver.wait_for(2))


# -- the end of a watch -------------------------------------------------------------------


def test_stop_ends_notifications(google: Google, gmail: Any, receiver: PushReceiver) -> None:
    # Given a watched mailbox
    google.subscribe(receiver.url)
    _watch(gmail)
    receiver.wait_for(1)
    # When the watch is stopped and a message arrives a second later
    gmail.users().stop(userId="me").execute()
    google.advance(1)
    google.deliver(subject="Unwatched")
    # Then nothing more is published
    assert google.pubsub_stats()["notifications"] == {DEMO: {"published": 1}}
    assert _subscription_stats(google)["published"] == 1


def test_a_watch_ends_after_seven_days_unless_renewed(
    google: Google, gmail: Any, receiver: PushReceiver
) -> None:
    # Given a watch made now
    google.subscribe(receiver.url)
    _watch(gmail)
    receiver.wait_for(1)
    # When a message arrives just before the seventh day ends, then another just after
    google.advance(7 * 24 * 3600 - 1)
    before = google.deliver(subject="Still watched")
    google.advance(2)
    google.deliver(subject="No longer watched")
    # Then only the first is notified
    assert google.pubsub_stats()["notifications"] == {DEMO: {"published": 2}}
    assert _history_ids(receiver.wait_for(2))[1] == before["historyId"]
    assert google.control("GET", "/pubsub").json()["watches"] == []
    # And calling watch again starts notifications again
    renewed = _watch(gmail)
    google.advance(1)
    after = google.deliver(subject="Watched again")
    assert _history_ids(receiver.wait_for(4))[2:] == [renewed["historyId"], after["historyId"]]


# -- control ------------------------------------------------------------------------------


def test_reset_forgets_push_counts_and_faults_but_keeps_subscriptions_and_watches(
    google: Google, gmail: Any, receiver: PushReceiver
) -> None:
    google.subscribe(receiver.url)
    _watch(gmail)
    receiver.wait_for(1)
    google.control("POST", "/pubsub/faults", {"drop": 5})
    assert google.control("POST", "/reset").status_code == 204
    assert google.control("GET", "/pubsub/faults").json() == {"drop": 0, "delay_ms": 0, "delay_count": 0}
    assert google.pubsub_stats()["notifications"] == {}
    assert _subscription_stats(google)["published"] == 0
    setup = google.control("GET", "/pubsub").json()
    assert [s["subscription"] for s in setup["subscriptions"]] == [
        "projects/google-emulator/subscriptions/push-1"
    ]
    assert [w["emailAddress"] for w in setup["watches"]] == [DEMO]
    google.advance(1)
    delivered = google.deliver(subject="After reset")
    assert _history_ids(receiver.wait_for(2))[1] == delivered["historyId"]


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/pubsub/topics", {"topic": "projects/p/topics/t"}, 400),  # Pub/Sub's naming rules
        ("/pubsub/topics", {"topic": "projects/google-emulator/topics/goog-push"}, 400),
        ("/pubsub/topics", {"topic": TOPIC, "gmail_publisher": "yes"}, 400),
        ("/pubsub/topics", {"topic": TOPIC}, 409),
        ("/pubsub/subscriptions", {"topic": TOPIC}, 400),
        ("/pubsub/subscriptions", {"topic": TOPIC, "push_endpoint": "ftp://x"}, 400),
        ("/pubsub/subscriptions", {"topic": TOPIC, "push_endpoint": "http://x", "retry": 3}, 400),
        (
            "/pubsub/subscriptions",
            {"topic": TOPIC, "push_endpoint": "http://x", "min_backoff_seconds": 0},
            400,
        ),
        (
            "/pubsub/subscriptions",
            {"topic": TOPIC, "push_endpoint": "http://x", "max_backoff_seconds": 601},
            400,
        ),
        (
            "/pubsub/subscriptions",
            {"topic": TOPIC, "push_endpoint": "http://x", "subscription_id": "push-1"},
            409,
        ),
        (
            "/pubsub/subscriptions",
            {"topic": TOPIC, "push_endpoint": "http://x", "ack_deadline_seconds": 5},
            400,
        ),
        (
            "/pubsub/subscriptions",
            {"topic": TOPIC, "push_endpoint": "http://x", "message_retention_seconds": 60},
            400,
        ),
        ("/pubsub/faults", {}, 400),
        ("/pubsub/faults", {"drop": 0}, 400),
        ("/pubsub/faults", {"count": 2}, 400),
    ],
)
def test_the_control_endpoints_refuse_what_pub_sub_would(
    google: Google, path: str, body: dict[str, Any], status: int
) -> None:
    google.subscribe("http://127.0.0.1:9/unused")
    answer = google.control("POST", path, body)
    assert answer.status_code == status
    assert answer.json()["error"]


def test_stopping_the_emulator_stops_push_delivery() -> None:
    # Given an emulator retrying a push the endpoint keeps refusing
    receiver = PushReceiver(answers=[500] * 1000)
    emulator = GoogleEmulator().start()
    try:
        emulator.push_subscription(TOPIC, receiver.url, min_backoff_seconds=0.05, max_backoff_seconds=0.05)
        with emulator.state.lock:
            demo = emulator.state.account(DEMO)
            assert demo is not None
            emulator.state.watches.start(demo, "google-emulator", TOPIC, [], exclude=False)
        receiver.wait_for(2)
        workers = list(emulator.state.dispatcher._threads)
        assert workers
        # When the emulator stops
        emulator.stop()
        # Then none of its push workers is left (other emulators in this process have their own)
        assert not emulator.state.dispatcher.running
        assert not [thread for thread in workers if thread.is_alive()]
    finally:
        emulator.stop()
        receiver.close()
