"""The retry policy for Google calls, with a fake clock: no sockets, no sleeping, deterministic."""

from __future__ import annotations

import json

import httplib2
import pytest
from googleapiclient.errors import HttpError

from gmail_connect.core.errors import (
    AccessRejected,
    GoogleRefused,
    GoogleUnavailable,
    InvalidRequest,
    ReauthorizationRequired,
)
from gmail_connect.gmail import google_errors, retry
from gmail_connect.gmail.client import HistoryExpired

POLICY = retry.Policy(attempts=4, base_seconds=0.25, cap_seconds=4.0, deadline_seconds=7.0)


class FakeTime:
    """A monotonic clock that only moves when the code under test sleeps (or an attempt takes time)."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Attempts:
    """Fails with the given exceptions in turn, then returns "ok"; each attempt may take time."""

    def __init__(self, time: FakeTime, *failures: Exception, takes: float = 0.0) -> None:
        self.time = time
        self.failures = list(failures)
        self.takes = takes
        self.count = 0

    def __call__(self) -> str:
        self.count += 1
        self.time.now += self.takes
        if self.failures:
            raise self.failures.pop(0)
        return "ok"


def run(time: FakeTime, attempt: Attempts, rand: float = 0.5, policy: retry.Policy = POLICY) -> str:
    return retry.call(
        attempt,
        what="test",
        policy=policy,
        deadline=retry.Deadline(policy.deadline_seconds, clock=time.clock),
        sleep=time.sleep,
        rand=lambda: rand,
    )


# --- backoff ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failures", "ceiling"), [(1, 0.25), (2, 0.5), (3, 1.0), (4, 2.0), (5, 4.0), (9, 4.0)]
)
def test_backoff_is_full_jitter_under_a_capped_exponential_ceiling(failures: int, ceiling: float) -> None:
    # Full jitter: anything from 0 up to the ceiling, which doubles and is capped at 4 s
    assert POLICY.backoff(failures, lambda: 0.0) == 0.0
    assert POLICY.backoff(failures, lambda: 0.5) == pytest.approx(ceiling / 2)
    assert ceiling * 0.99 < POLICY.backoff(failures, lambda: 0.999999) < ceiling


def test_jitter_spreads_the_waits_of_clients_that_failed_together() -> None:
    draws = iter([0.1, 0.9, 0.4])
    waits = [POLICY.backoff(3, lambda: next(draws)) for _ in range(3)]
    assert waits == pytest.approx([0.1, 0.9, 0.4])
    assert len(set(waits)) == 3


# --- call ------------------------------------------------------------------------------------------


def test_transient_failures_are_retried_with_growing_waits() -> None:
    # Given two transient failures, then success
    time = FakeTime()
    attempt = Attempts(time, retry.Retryable("503"), retry.Retryable("503"))
    # When called
    assert run(time, attempt) == "ok"
    # Then it waited half of 0.25 s, then half of 0.5 s (rand = 0.5)
    assert attempt.count == 3
    assert time.sleeps == pytest.approx([0.125, 0.25])


def test_gives_up_after_the_last_attempt_with_google_unavailable() -> None:
    time = FakeTime()
    attempt = Attempts(time, *[retry.Retryable("500") for _ in range(10)])
    with pytest.raises(GoogleUnavailable) as gave_up:
        run(time, attempt)
    assert attempt.count == 4
    assert len(time.sleeps) == 3  # no pointless wait after the last attempt
    assert gave_up.value.retry_after is None
    assert gave_up.value.status == 503


def test_retry_after_is_honoured_as_a_minimum_wait() -> None:
    time = FakeTime()
    attempt = Attempts(time, retry.Retryable("429", retry_after=2.0))
    assert run(time, attempt) == "ok"
    assert time.sleeps == [2.0]


def test_backoff_longer_than_retry_after_wins() -> None:
    # A Retry-After of 0 does not turn the retry into a hot loop
    time = FakeTime()
    attempt = Attempts(
        time, retry.Retryable("429"), retry.Retryable("429"), retry.Retryable("429", retry_after=0)
    )
    assert run(time, attempt, rand=0.99) == "ok"
    assert time.sleeps[2] == pytest.approx(0.99)


def test_retry_after_beyond_the_deadline_gives_up_at_once_and_passes_it_on() -> None:
    time = FakeTime()
    attempt = Attempts(time, retry.Retryable("429", retry_after=30.0))
    with pytest.raises(GoogleUnavailable) as gave_up:
        run(time, attempt)
    assert attempt.count == 1
    assert time.sleeps == []
    assert gave_up.value.retry_after == 30


def test_fractional_retry_after_is_passed_on_rounded_up() -> None:
    time = FakeTime()
    with pytest.raises(GoogleUnavailable) as gave_up:
        run(time, Attempts(time, retry.Retryable("429", retry_after=7.2)))
    assert gave_up.value.retry_after == 8


def test_attempts_and_waits_all_end_by_the_deadline() -> None:
    # Given a Google that never answers: each attempt runs into its socket timeout (3 s configured),
    # which the policy bounds by the time left
    time = FakeTime()
    deadline = retry.Deadline(POLICY.deadline_seconds, clock=time.clock)
    started: list[float] = []

    def attempt() -> str:
        started.append(time.now - 100.0)
        time.now += POLICY.attempt_timeout(deadline, 3.0)
        raise retry.Retryable("timeout")

    # When called
    with pytest.raises(GoogleUnavailable):
        retry.call(attempt, what="test", policy=POLICY, deadline=deadline, sleep=time.sleep, rand=lambda: 0.5)
    # Then three attempts fit (3 s, 3 s, then the 0.625 s left) and nothing ran past 7 s
    assert started == pytest.approx([0.0, 3.125, 6.375])
    assert time.now - 100.0 == pytest.approx(7.0)


@pytest.mark.parametrize(
    "final",
    [
        InvalidRequest("bad label"),
        ReauthorizationRequired("revoked", email="someone@example.com"),
        GoogleRefused("404"),
        ValueError("a bug"),
    ],
)
def test_anything_but_retryable_propagates_at_once(final: Exception) -> None:
    time = FakeTime()
    attempt = Attempts(time, final)
    with pytest.raises(type(final)):
        run(time, attempt)
    assert attempt.count == 1
    assert time.sleeps == []


def test_the_default_deadline_keeps_a_request_well_inside_the_lambda_timeout() -> None:
    # The functions' Lambda timeout is 10 s (template Globals); every wait and attempt fits in 7 s
    assert retry.DEFAULT.deadline_seconds <= 7
    assert retry.DEFAULT.attempts == 4
    assert retry.DEFAULT.cap_seconds == 4


@pytest.mark.parametrize(
    ("configured", "remaining", "expected"),
    [(8.0, 7.0, 4.0), (0.5, 7.0, 0.5), (8.0, 1.5, 1.5), (8.0, 0.0, 0.2)],
)
def test_an_attempt_never_times_out_past_the_deadline(
    configured: float, remaining: float, expected: float
) -> None:
    time = FakeTime()
    deadline = retry.Deadline(remaining, clock=time.clock)
    assert POLICY.attempt_timeout(deadline, configured) == pytest.approx(expected)


# --- what is retryable -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "reasons", "retryable"),
    [
        (429, set(), True),
        (500, set(), True),
        (502, set(), True),
        (503, set(), True),
        (504, set(), True),
        (403, {"rateLimitExceeded"}, True),
        (403, {"userRateLimitExceeded"}, True),
        (403, {"RATE_LIMIT_EXCEEDED"}, True),
        (403, {"insufficientPermissions"}, False),
        (403, {"dailyLimitExceeded"}, False),
        (403, set(), False),
        (400, set(), False),
        (401, set(), False),
        (404, set(), False),
        (409, set(), False),
    ],
)
def test_only_429_5xx_and_rate_limit_403s_are_retryable(
    status: int, reasons: set[str], retryable: bool
) -> None:
    assert retry.retryable_status(status, reasons) is retryable


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("1", 1.0), ("120", 120.0), (" 3 ", 3.0), ("", None), (None, None), ("-1", None), ("1.5", None),
     ("Wed, 21 Oct 2015 07:28:00 GMT", None)],
)  # fmt: skip
def test_retry_after_is_read_in_seconds_only(header: str | None, seconds: float | None) -> None:
    assert retry.parse_retry_after(header) == seconds


# --- Gmail's answers, classified ---------------------------------------------------------------------


def gmail_error(
    status: int, reason: str, headers: dict[str, str] | None = None, message: str = "It failed."
) -> HttpError:
    body = {"error": {"code": status, "message": message, "errors": [{"reason": reason}]}}
    response = httplib2.Response({"status": str(status), **(headers or {})})
    return HttpError(response, json.dumps(body).encode())


@pytest.mark.parametrize(
    ("status", "reason", "headers", "retry_after"),
    [
        (429, "rateLimitExceeded", {"retry-after": "3"}, 3.0),
        (503, "backendError", {}, None),
        (403, "userRateLimitExceeded", {}, None),
    ],
)
def test_gmail_transient_answers_become_retryable(status, reason, headers, retry_after) -> None:
    with pytest.raises(retry.Retryable) as transient:
        google_errors.raise_for(gmail_error(status, reason, headers), "messages.list")
    assert transient.value.retry_after == retry_after


def test_gmail_400_is_the_callers_invalid_request() -> None:
    with pytest.raises(InvalidRequest, match="Invalid label: X"):
        google_errors.raise_for(gmail_error(400, "invalidArgument", message="Invalid label: X"), "list")


def test_gmail_404_of_history_means_a_full_sync() -> None:
    with pytest.raises(HistoryExpired):
        google_errors.raise_for(gmail_error(404, "notFound"), "history.list", HistoryExpired)
    with pytest.raises(GoogleRefused):
        google_errors.raise_for(gmail_error(404, "notFound"), "messages.list")


def test_gmail_details_reasons_are_understood_too() -> None:
    # Newer Google frontends put google.rpc.ErrorInfo reasons in `details`
    body = {"error": {"code": 403, "message": "quota", "details": [{"reason": "RATE_LIMIT_EXCEEDED"}]}}
    error = HttpError(httplib2.Response({"status": "403"}), json.dumps(body).encode())
    with pytest.raises(retry.Retryable):
        google_errors.raise_for(error, "messages.list")


@pytest.mark.parametrize(
    ("status", "reason", "what"),
    [
        (401, "authError", google_errors.TOKEN_REJECTED),
        (403, "insufficientPermissions", "insufficient_scope"),
    ],
)
def test_gmail_refusing_the_token_is_reported_as_what_google_said(
    status: int, reason: str, what: str
) -> None:
    # The client does not judge the account: it says what Google refused, and is not retried
    with pytest.raises(AccessRejected) as refused:
        google_errors.raise_for(gmail_error(status, reason), "messages.list")
    assert refused.value.reason == what
