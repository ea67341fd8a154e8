"""Batch requests, injected faults, call counting and quota charging."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from googleapiclient.errors import HttpError
from googleapiclient.http import BatchHttpRequest

from .conftest import DEMO, Google

GET_MESSAGE = "GET /gmail/v1/users/{userId}/messages/{id}"
LIST_MESSAGES = "GET /gmail/v1/users/{userId}/messages"
PROFILE = "GET /gmail/v1/users/{userId}/profile"


def _message_ids(gmail: Any, count: int) -> list[str]:
    return [
        ref["id"]
        for ref in gmail.users().messages().list(userId="me", maxResults=count).execute()["messages"]
    ]


def _batch(google: Google, path: str = "/batch/gmail/v1") -> tuple[BatchHttpRequest, dict[str, Any]]:
    results: dict[str, Any] = {}

    def collect(request_id: str, response: Any, exception: HttpError | None) -> None:
        results[request_id] = exception if exception is not None else response

    return BatchHttpRequest(callback=collect, batch_uri=f"{google.url}{path}"), results


def _add_fault(google: Google, **fault: Any) -> dict[str, Any]:
    response = google.control("POST", "/faults", fault)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


# -- batch --------------------------------------------------------------------------------


def test_a_batch_is_one_http_request_but_each_call_counts_and_costs(google: Google, gmail: Any) -> None:
    ids = _message_ids(gmail, 5)
    google.control("POST", "/reset")
    batch, results = _batch(google)
    for message_id in ids:
        batch.add(
            gmail.users()
            .messages()
            .get(userId="me", id=message_id, format="metadata", metadataHeaders=["Subject"])
        )
    batch.execute()
    assert [results[str(n)]["id"] for n in range(1, 6)] == ids
    assert all(results[str(n)]["payload"]["headers"][0]["name"] == "Subject" for n in range(1, 6))
    assert google.stats() == {
        "calls": {"POST /batch/gmail/v1": 1},
        "batched_calls": {GET_MESSAGE: 5},
        "quota_units": {DEMO: 25},
        "quota_units_by_route": {GET_MESSAGE: 25},
    }


def test_each_part_of_a_batch_succeeds_or_fails_on_its_own(google: Google, gmail: Any) -> None:
    (known,) = _message_ids(gmail, 1)
    batch, results = _batch(google, "/batch")
    batch.add(gmail.users().messages().get(userId="me", id=known, format="minimal"), request_id="known")
    batch.add(gmail.users().messages().get(userId="me", id="0123456789abcdef"), request_id="missing")
    batch.add(gmail.users().getProfile(userId="me"), request_id="profile")
    batch.execute()
    assert results["known"]["id"] == known
    assert isinstance(results["missing"], HttpError)
    assert results["missing"].resp.status == 404
    assert json.loads(results["missing"].content)["error"]["status"] == "NOT_FOUND"
    assert results["profile"]["emailAddress"] == DEMO
    assert google.stats()["calls"]["POST /batch"] == 1


def test_more_than_100_calls_in_a_batch_is_refused(google: Google, gmail: Any) -> None:
    (known,) = _message_ids(gmail, 1)
    batch, results = _batch(google)
    for _ in range(101):
        batch.add(gmail.users().messages().get(userId="me", id=known, format="minimal"))
    with pytest.raises(HttpError) as refused:
        batch.execute()
    assert refused.value.resp.status == 400
    assert "100" in json.loads(refused.value.content)["error"]["message"]
    assert results == {}
    assert google.stats()["batched_calls"] == {}


def test_raw_batch_format_outer_headers_and_content_ids(
    google: Google, connected: tuple[Any, dict[str, Any]]
) -> None:
    token = connected[1]["access_token"]
    boundary = "b0undary"
    body = (
        f"--{boundary}\r\nContent-Type: application/http\r\nContent-ID: <item1>\r\n\r\n"
        "GET /gmail/v1/users/me/profile HTTP/1.1\r\n\r\n"
        f"--{boundary}\r\nContent-Type: application/http\r\nContent-ID: <item2>\r\n\r\n"
        "GET /gmail/v1/users/me/labels HTTP/1.1\r\nAuthorization: Bearer ya29.forged\r\n\r\n"
        f"--{boundary}\r\nContent-Type: application/http\r\nContent-ID: <item3>\r\n\r\n"
        "GET /v1/userinfo HTTP/1.1\r\n\r\n"
        f"--{boundary}--\r\n"
    )
    response = google.http.post(
        f"{google.url}/batch/gmail/v1",
        data=body,
        headers={"Content-Type": f"multipart/mixed; boundary={boundary}", "Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("multipart/mixed; boundary=")
    outer_boundary = response.headers["Content-Type"].split("boundary=")[1]
    parts = response.text.split(f"--{outer_boundary}")[1:-1]
    parsed = []
    for part in parts:
        head, http = part.strip("\r\n").split("\r\n\r\n", 1)
        status_line, rest = http.split("\r\n", 1)
        parsed.append((head, status_line, json.loads(rest.split("\r\n\r\n", 1)[1])))
    # the outer Authorization applies to the first part; the second part's own header wins
    assert parsed[0][0] == "Content-Type: application/http\r\nContent-ID: <response-item1>"
    assert parsed[0][1] == "HTTP/1.1 200 OK"
    assert parsed[0][2]["emailAddress"] == DEMO
    assert parsed[1][1] == "HTTP/1.1 401 Unauthorized"
    assert parsed[1][2]["error"]["status"] == "UNAUTHENTICATED"
    # only Gmail calls may be batched here
    assert parsed[2][1] == "HTTP/1.1 404 Not Found"
    assert google.stats()["batched_calls"] == {PROFILE: 1, "GET /gmail/v1/users/{userId}/labels": 1}


def test_a_batch_that_is_not_multipart_is_a_400(google: Google) -> None:
    response = google.http.post(
        f"{google.url}/batch/gmail/v1", data="{}", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["status"] == "INVALID_ARGUMENT"


# -- faults -------------------------------------------------------------------------------


def test_429_with_retry_after_then_success(google: Google, connected: tuple[Any, dict[str, Any]]) -> None:
    token = connected[1]["access_token"]
    fault = _add_fault(google, path_prefix="/gmail/v1/users/me/messages", status=429, retry_after=7)
    assert (fault["count"], fault["status"], fault["retry_after"]) == (1, 429, 7)
    limited = google.api("/gmail/v1/users/me/messages", token)
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "7"
    assert limited.json() == {
        "error": {
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
    }
    assert "messages" in google.api("/gmail/v1/users/me/messages", token).json()
    assert google.stats()["calls"][LIST_MESSAGES] == 2
    assert google.control("GET", "/faults").json() == {"faults": []}


def test_googleapiclient_retries_through_server_errors(
    google: Google, gmail: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    slept: list[float] = []
    monkeypatch.setattr("googleapiclient.http.time.sleep", slept.append)
    _add_fault(google, path_prefix="/gmail/v1/users/me/profile", status=503, count=2)
    assert gmail.users().getProfile(userId="me").execute(num_retries=3)["emailAddress"] == DEMO
    assert len(slept) == 2
    assert google.stats()["calls"][PROFILE] == 3
    assert google.stats()["quota_units"] == {DEMO: 1}  # faulted calls are not charged


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ({"status": 403}, (403, "userRateLimitExceeded", "PERMISSION_DENIED")),
        ({"status": 403, "reason": "dailyLimitExceeded"}, (403, "dailyLimitExceeded", "PERMISSION_DENIED")),
        ({"status": 500}, (500, "backendError", "INTERNAL")),
        ({"status": 503}, (503, "backendError", "UNAVAILABLE")),
    ],
)
def test_fault_error_shapes(
    google: Google, gmail: Any, fault: dict[str, Any], expected: tuple[int, str, str]
) -> None:
    _add_fault(google, path_prefix="/gmail/v1/users/me/labels", **fault)
    with pytest.raises(HttpError) as failed:
        gmail.users().labels().list(userId="me").execute()
    error = json.loads(failed.value.content)["error"]
    assert (failed.value.resp.status, error["errors"][0]["reason"], error["status"]) == expected
    assert error["code"] == expected[0]
    assert "labels" in gmail.users().labels().list(userId="me").execute()


def test_faults_reach_single_parts_of_a_batch(google: Google, gmail: Any) -> None:
    first, second, third = _message_ids(gmail, 3)
    _add_fault(google, path_prefix=f"/gmail/v1/users/me/messages/{second}", status=429, retry_after=3)
    batch, results = _batch(google)
    for message_id in (first, second, third):
        batch.add(gmail.users().messages().get(userId="me", id=message_id, format="minimal"))
    batch.execute()
    assert results["1"]["id"] == first
    assert results["3"]["id"] == third
    assert isinstance(results["2"], HttpError)
    assert results["2"].resp.status == 429
    assert results["2"].resp["retry-after"] == "3"
    assert json.loads(results["2"].content)["error"]["errors"][0]["reason"] == "rateLimitExceeded"
    assert google.stats()["batched_calls"][GET_MESSAGE] == 3


def test_a_fault_on_the_batch_endpoint_fails_the_whole_batch(google: Google, gmail: Any) -> None:
    _add_fault(google, path_prefix="/batch", status=503)
    batch, results = _batch(google)
    batch.add(gmail.users().getProfile(userId="me"))
    with pytest.raises(HttpError) as failed:
        batch.execute()
    assert failed.value.resp.status == 503
    assert results == {}
    assert google.stats()["batched_calls"] == {}


def test_added_latency_then_normal_service(google: Google, gmail: Any) -> None:
    _add_fault(google, path_prefix="/gmail/v1/users/me/profile", latency_ms=300, count=2)
    assert google.control("GET", "/faults").json()["faults"][0]["count"] == 2
    started = time.monotonic()
    assert gmail.users().getProfile(userId="me").execute()["emailAddress"] == DEMO
    assert time.monotonic() - started >= 0.3
    assert google.control("GET", "/faults").json()["faults"][0]["count"] == 1


def test_control_routes_are_never_faulted_and_faults_are_validated(google: Google, connected: Any) -> None:
    _add_fault(google, path_prefix="/", status=500)
    assert google.control("GET", "/stats").status_code == 200
    assert len(google.control("GET", "/faults").json()["faults"]) == 1
    assert google.api("/v1/userinfo", connected[1]["access_token"]).status_code == 500
    for bad in (
        {"path_prefix": "/x"},
        {"path_prefix": "x", "status": 500},
        {"path_prefix": "/x", "status": 200},
    ):
        response = google.control("POST", "/faults", bad)
        assert response.status_code == 400
        assert response.json()["error"]


# -- stats --------------------------------------------------------------------------------


def test_quota_units_per_method_and_reset(google: Google, gmail: Any) -> None:
    users = gmail.users()
    (message_id,) = _message_ids(gmail, 1)
    profile = users.getProfile(userId="me").execute()
    users.messages().get(userId="me", id=message_id).execute()
    users.history().list(userId="me", startHistoryId=profile["historyId"]).execute()
    users.labels().list(userId="me").execute()
    stats = google.stats()
    assert stats["quota_units"] == {DEMO: 5 + 1 + 5 + 2 + 1}
    assert stats["quota_units_by_route"] == {
        LIST_MESSAGES: 5,
        PROFILE: 1,
        GET_MESSAGE: 5,
        "GET /gmail/v1/users/{userId}/history": 2,
        "GET /gmail/v1/users/{userId}/labels": 1,
    }
    assert stats["calls"] == {
        "GET /o/oauth2/v2/auth": 1,
        "POST /o/oauth2/v2/auth/decision": 1,
        "POST /token": 1,
        LIST_MESSAGES: 1,
        PROFILE: 1,
        GET_MESSAGE: 1,
        "GET /gmail/v1/users/{userId}/history": 1,
        "GET /gmail/v1/users/{userId}/labels": 1,
    }
    _add_fault(google, path_prefix="/gmail", status=500)
    assert google.control("POST", "/reset").status_code == 204
    assert google.stats() == {"calls": {}, "batched_calls": {}, "quota_units": {}, "quota_units_by_route": {}}
    assert google.control("GET", "/faults").json() == {"faults": []}
    assert users.getProfile(userId="me").execute()["emailAddress"] == DEMO  # the fault went with the reset


def test_concurrent_calls_are_all_counted(google: Google, connected: tuple[Any, dict[str, Any]]) -> None:
    url = f"{google.url}/gmail/v1/users/me/profile"
    headers = {"Authorization": f"Bearer {connected[1]['access_token']}"}
    google.control("POST", "/reset")
    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(lambda _: requests.get(url, headers=headers, timeout=10), range(40)))
    assert {response.json()["emailAddress"] for response in responses} == {DEMO}
    assert google.stats() == {
        "calls": {PROFILE: 40},
        "batched_calls": {},
        "quota_units": {DEMO: 40},
        "quota_units_by_route": {PROFILE: 40},
    }
