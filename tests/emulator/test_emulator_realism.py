"""Opt-in throttling: Gmail's per-user quota per minute and its per-user concurrency limit in batches."""

from __future__ import annotations

import json
from typing import Any

import pytest
from googleapiclient.errors import HttpError
from googleapiclient.http import BatchHttpRequest

from .conftest import DEMO, Google

GET_MESSAGE = "GET /gmail/v1/users/{userId}/messages/{id}"
GET_THREAD = "GET /gmail/v1/users/{userId}/threads/{id}"
DEFAULTS = {
    "per_user_rate_limit": False,
    "user_units_per_minute": 15_000,
    "rate_limit_status": 429,
    "rate_limit_reason": "rateLimitExceeded",
    "concurrent_batch_limit": None,
    "push_rate_excess": "coalesce",
}


def _realism(google: Google, **settings: Any) -> dict[str, Any]:
    answer = google.control("POST", "/realism", settings)
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def _first_id(gmail: Any) -> str:
    return gmail.users().messages().list(userId="me", maxResults=1).execute()["messages"][0]["id"]  # type: ignore[no-any-return]


def _quota_error(exc: HttpError) -> dict[str, Any]:
    return json.loads(exc.content)["error"]  # type: ignore[no-any-return]


def test_throttling_is_off_until_asked_for_and_reset_turns_it_off(google: Google, gmail: Any) -> None:
    assert google.control("GET", "/realism").json() == DEFAULTS
    assert _realism(google, per_user_rate_limit=True, user_units_per_minute=10) == {
        **DEFAULTS,
        "per_user_rate_limit": True,
        "user_units_per_minute": 10,
    }
    assert google.control("POST", "/reset").status_code == 204
    assert google.control("GET", "/realism").json() == DEFAULTS
    for _ in range(30):  # far past 10 units: nothing is refused
        gmail.users().getProfile(userId="me").execute()


def test_the_per_user_quota_refuses_calls_past_it_until_a_minute_has_passed(
    google: Google, gmail: Any
) -> None:
    # Given a quota of 12 units a minute (switched on after the list that found a message)
    message_id = _first_id(gmail)
    google.control("POST", "/reset")
    _realism(google, per_user_rate_limit=True, user_units_per_minute=12)
    messages = gmail.users().messages()
    # When the user makes three 5-unit calls in the same minute
    messages.get(userId="me", id=message_id, format="minimal").execute()
    messages.get(userId="me", id=message_id, format="minimal").execute()
    with pytest.raises(HttpError) as limited:
        messages.get(userId="me", id=message_id, format="minimal").execute()
    # Then the third is refused with Google's quota error, and not charged
    assert limited.value.resp.status == 429
    error = _quota_error(limited.value)
    assert error["status"] == "RESOURCE_EXHAUSTED"
    assert error["message"].startswith(
        "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user' of service "
        "'gmail.googleapis.com' for consumer 'project_number:"
    )
    assert error["errors"] == [
        {"message": error["message"], "domain": "usageLimits", "reason": "rateLimitExceeded"}
    ]
    info = error["details"][0]
    assert (info["@type"], info["reason"], info["domain"]) == (
        "type.googleapis.com/google.rpc.ErrorInfo",
        "RATE_LIMIT_EXCEEDED",
        "googleapis.com",
    )
    assert info["metadata"]["quota_limit"] == "defaultPerMinutePerUser"
    assert info["metadata"]["quota_limit_value"] == "12"
    assert google.stats()["quota_units"] == {DEMO: 10}
    # And a cheaper call still fits, until the minute is spent
    gmail.users().getProfile(userId="me").execute()
    # And a minute later the quota is back
    google.advance(60)
    assert messages.get(userId="me", id=message_id, format="minimal").execute()["id"] == message_id


def test_the_quota_is_per_user(google: Google, gmail: Any) -> None:
    _realism(google, per_user_rate_limit=True, user_units_per_minute=1)
    gmail.users().getProfile(userId="me").execute()
    with pytest.raises(HttpError):
        gmail.users().getProfile(userId="me").execute()
    assert google.control("POST", "/accounts", {"email": "other@example.com"}).status_code == 201
    flow, _ = google.connect(account="other@example.com")
    assert google.gmail(flow.credentials).users().getProfile(userId="me").execute()["emailAddress"]


def test_the_403_flavour_of_the_quota_error(google: Google, gmail: Any) -> None:
    _realism(
        google,
        per_user_rate_limit=True,
        user_units_per_minute=1,
        rate_limit_status=403,
        rate_limit_reason="userRateLimitExceeded",
    )
    gmail.users().getProfile(userId="me").execute()
    with pytest.raises(HttpError) as limited:
        gmail.users().getProfile(userId="me").execute()
    error = _quota_error(limited.value)
    assert (limited.value.resp.status, error["status"]) == (403, "PERMISSION_DENIED")
    assert error["errors"][0]["reason"] == "userRateLimitExceeded"
    assert error["details"][0]["reason"] == "RATE_LIMIT_EXCEEDED"


def _raw_batch(google: Google, token: str, paths: list[str]) -> list[int]:
    """Send one batch of GETs; the status of each part, in order."""
    boundary = "realism_batch"
    body = "".join(
        f"--{boundary}\r\nContent-Type: application/http\r\nContent-ID: <{n}>\r\n\r\n"
        f"GET {path} HTTP/1.1\r\n\r\n"
        for n, path in enumerate(paths)
    )
    response = google.http.post(
        f"{google.url}/batch/gmail/v1",
        data=body + f"--{boundary}--\r\n",
        headers={"Content-Type": f"multipart/mixed; boundary={boundary}", "Authorization": f"Bearer {token}"},
        timeout=60,
    )
    assert response.status_code == 200
    return [int(line.split()[1]) for line in response.text.splitlines() if line.startswith("HTTP/1.1 ")]


def test_the_default_quota_is_15000_units_a_minute(
    google: Google, gmail: Any, connected: tuple[Any, dict[str, Any]]
) -> None:
    # Given the realistic quota and a thread id (threads.get costs 10 units)
    thread_id = gmail.users().threads().list(userId="me", maxResults=1).execute()["threads"][0]["id"]
    google.control("POST", "/reset")
    _realism(google, per_user_rate_limit=True)
    path = f"/gmail/v1/users/me/threads/{thread_id}?format=minimal"
    token = connected[1]["access_token"]
    # When the user makes 1,500 of them in 15 batches, then one more
    statuses = [status for _ in range(15) for status in _raw_batch(google, token, [path] * 100)]
    (last,) = _raw_batch(google, token, [path])
    # Then all 15,000 units are served and the next call is refused
    assert statuses == [200] * 1500
    assert last == 429
    assert google.stats()["quota_units_by_route"] == {GET_THREAD: 15_000}


def test_a_large_batch_trips_the_concurrency_limit_per_part(google: Google, gmail: Any) -> None:
    # Given a concurrency limit of 3 calls per user in a batch
    message_id = _first_id(gmail)
    google.control("POST", "/reset")
    _realism(google, concurrent_batch_limit=3)
    results: dict[str, Any] = {}
    batch = BatchHttpRequest(
        callback=lambda request_id, response, exception: results.__setitem__(
            request_id, exception or response
        ),
        batch_uri=f"{google.url}/batch/gmail/v1",
    )
    # When a batch holds 5 calls for the user
    for n in range(5):
        batch.add(
            gmail.users().messages().get(userId="me", id=message_id, format="minimal"), request_id=str(n)
        )
    batch.execute()
    # Then the first 3 are answered and the other 2 are Gmail's per-part 429
    assert [results[str(n)]["id"] for n in range(3)] == [message_id] * 3
    for n in (3, 4):
        refused = results[str(n)]
        assert isinstance(refused, HttpError)
        assert refused.resp.status == 429
        assert json.loads(refused.content)["error"] == {
            "code": 429,
            "message": "Too many concurrent requests for user.",
            "errors": [
                {
                    "message": "Too many concurrent requests for user.",
                    "domain": "usageLimits",
                    "reason": "rateLimitExceeded",
                }
            ],
            "status": "RESOURCE_EXHAUSTED",
        }
    # And every call was counted but only the answered ones were charged
    stats = google.stats()
    assert stats["batched_calls"] == {GET_MESSAGE: 5}
    assert stats["quota_units"] == {DEMO: 15}
    # And single calls are not limited
    for _ in range(5):
        gmail.users().messages().get(userId="me", id=message_id, format="minimal").execute()


@pytest.mark.parametrize(
    "settings",
    [
        {"per_user_rate_limit": "yes"},
        {"user_units_per_minute": 0},
        {"rate_limit_status": 500},
        {"rate_limit_reason": "slowDown"},
        {"concurrent_batch_limit": 0},
        {"requests_per_second": 5},
        {"per_user_rate_limit": True, "rate_limit_status": 500},  # nothing applies when one is wrong
    ],
)
def test_bad_settings_are_refused(google: Google, settings: dict[str, Any]) -> None:
    answer = google.control("POST", "/realism", settings)
    assert answer.status_code == 400
    assert answer.json()["error"]
    assert google.control("GET", "/realism").json() == DEFAULTS
