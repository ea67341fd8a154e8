"""Injected failures: the next N requests under a path prefix fail or are slowed down.

Error bodies follow what Google sends for each case: 429 ``rateLimitExceeded``
(RESOURCE_EXHAUSTED), 403 ``userRateLimitExceeded`` (or the reason asked for), 5xx
``backendError``.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass

from werkzeug.wrappers import Response

from . import errors

_MESSAGES = {
    "rateLimitExceeded": "Too many concurrent requests for user.",
    "userRateLimitExceeded": "User-rate limit exceeded.",
    "dailyLimitExceeded": "Daily Limit Exceeded.",
    "quotaExceeded": "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user'.",
    "backendError": "Backend Error",
}


@dataclass
class Fault:
    id: int
    path_prefix: str
    status: int | None
    count: int
    retry_after: int | None
    latency_ms: int
    reason: str | None

    def describe(self) -> dict[str, object]:
        return asdict(self)

    def error_response(self, rpc: str | None = None) -> Response | None:
        """The error this fault produces, or None for a latency-only fault (``rpc``: the Gmail method hit)."""
        if self.status is None:
            return None
        status = self.status
        headers = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else None
        if status == 401:
            response = errors.unauthenticated(rpc)
            if headers:
                response.headers.update(headers)
            return response
        if status == 429:
            reason, domain = self.reason or "rateLimitExceeded", "usageLimits"
        elif status == 403:
            reason, domain = self.reason or "userRateLimitExceeded", "usageLimits"
        elif status >= 500:
            reason, domain = self.reason or "backendError", "global"
        else:
            reason, domain = self.reason or "badRequest", "global"
        message = _MESSAGES.get(reason, f"Injected fault: {reason}")
        return errors.api_error(status, message, reason, domain=domain, headers=headers)


class Faults:
    """Pending faults, in the order they were added. The caller holds the state lock."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)

    def add(
        self,
        path_prefix: str,
        *,
        status: int | None,
        count: int,
        retry_after: int | None,
        latency_ms: int,
        reason: str | None,
    ) -> Fault:
        fault = Fault(next(self._ids), path_prefix, status, count, retry_after, latency_ms, reason)
        self._faults.append(fault)
        return fault

    def take(self, path: str) -> Fault | None:
        """Consume one use of the first fault whose prefix matches ``path``."""
        for fault in self._faults:
            if path.startswith(fault.path_prefix):
                fault.count -= 1
                if fault.count <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def pending(self) -> list[dict[str, object]]:
        return [fault.describe() for fault in self._faults]

    def clear(self) -> None:
        self._faults.clear()
