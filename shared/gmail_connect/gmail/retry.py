"""Retrying Google calls: capped, full-jitter exponential backoff inside one deadline.

Google asks clients to back off on 429, 5xx and 403 `rateLimitExceeded`/`userRateLimitExceeded`
and to wait at least `Retry-After` when it says so. A Lambda behind API Gateway has 30 s at most
(our functions 10 s), so every retry and wait of a request shares one `Deadline`: a wait that
would end past it is not taken, and the caller gets `GoogleUnavailable` at once (with Google's
`Retry-After`, when known, for its own client).

The sleep function and the random source are parameters, so the policy is tested without time.
"""

from __future__ import annotations

import math
import random as _random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from gmail_connect.core.errors import GoogleUnavailable
from gmail_connect.core.observability import logger

T = TypeVar("T")

# 403 reasons that mean "slow down", not "forbidden" (Gmail's `errors[].reason`, and the
# `google.rpc.ErrorInfo` reasons newer frontends put in `details`).
RATE_LIMIT_REASONS = frozenset(
    {"rateLimitExceeded", "userRateLimitExceeded", "RATE_LIMIT_EXCEEDED", "RESOURCE_EXHAUSTED"}
)


@dataclass(frozen=True)
class Policy:
    attempts: int = 4
    base_seconds: float = 0.25
    cap_seconds: float = 4.0
    # All attempts and waits of one request: well inside the functions' 10 s Lambda timeout.
    deadline_seconds: float = 7.0
    # One attempt's socket timeout at most; a Gmail call normally answers in well under 1 s.
    attempt_timeout_seconds: float = 4.0
    # Not worth starting an attempt with less time than this left.
    min_attempt_seconds: float = 0.2

    def backoff(self, failures: int, rand: Callable[[], float]) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2^(failures-1))) ("Exponential Backoff And Jitter")."""
        return rand() * min(self.cap_seconds, self.base_seconds * 2 ** (failures - 1))

    def attempt_timeout(self, deadline: Deadline, configured: float) -> float:
        """The socket timeout for the next attempt: never beyond the deadline."""
        ceiling = min(configured, self.attempt_timeout_seconds)
        return max(self.min_attempt_seconds, min(ceiling, deadline.remaining()))


DEFAULT = Policy()


class Deadline:
    """A point in time after which no attempt starts and no wait ends (monotonic clock)."""

    def __init__(
        self, seconds: float = DEFAULT.deadline_seconds, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._clock = clock
        self._end = clock() + seconds

    def remaining(self) -> float:
        return max(0.0, self._end - self._clock())


class Retryable(Exception):
    """A transient failure of one attempt; `retry_after` is Google's `Retry-After` in seconds, if any."""

    def __init__(self, what: str, *, retry_after: float | None = None) -> None:
        super().__init__(what)
        self.what = what
        self.retry_after = retry_after


def retryable_status(status: int, reasons: frozenset[str] | set[str] = frozenset()) -> bool:
    """429, 5xx and rate-limit 403s are worth retrying; every other 4xx is final."""
    return status == 429 or status >= 500 or (status == 403 and bool(RATE_LIMIT_REASONS & set(reasons)))


def parse_retry_after(value: str | None) -> float | None:
    """`Retry-After` in delta-seconds (what Google sends); an HTTP date or garbage counts as absent."""
    if value is None:
        return None
    text = str(value).strip()
    if not text.isdigit():
        return None
    return float(int(text))


def call(
    attempt: Callable[[], T],
    *,
    what: str,
    policy: Policy = DEFAULT,
    deadline: Deadline | None = None,
    sleep: Callable[[float], None] = time.sleep,
    rand: Callable[[], float] = _random.random,
) -> T:
    """Run `attempt` until it returns, retrying on `Retryable` within the policy and the deadline.

    Any other exception propagates at once. When retries are exhausted, or the next wait would end
    past the deadline (a long `Retry-After` included), raises `GoogleUnavailable`.
    """
    deadline = deadline or Deadline(policy.deadline_seconds)
    failure: Retryable | None = None
    for number in range(1, policy.attempts + 1):
        try:
            return attempt()
        except Retryable as exc:
            failure = exc
        if number == policy.attempts:
            break
        delay = policy.backoff(number, rand)
        if failure.retry_after is not None:
            delay = max(delay, failure.retry_after)
        if delay + policy.min_attempt_seconds > deadline.remaining():
            break
        logger.info(
            "Retrying a Google call",
            extra={"call": what, "failure": failure.what, "attempt": number, "delay_s": round(delay, 3)},
        )
        sleep(delay)
    retry_after = math.ceil(failure.retry_after) if failure and failure.retry_after is not None else None
    logger.warning(
        "Google call gave up",
        extra={"call": what, "failure": failure.what if failure else None, "retry_after": retry_after},
    )
    raise GoogleUnavailable(
        "Google is not answering right now; try again shortly.", retry_after=retry_after
    ) from None
