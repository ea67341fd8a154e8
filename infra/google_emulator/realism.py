"""Opt-in throttling as Gmail does it: the per-user quota and the per-user limit on concurrent calls.

Off by default, so a test sees throttling only when it asks for it (``POST /_emulator/realism``);
``/_emulator/reset`` turns it off again and forgets what was spent.

- Per-user rate limit: 15,000 quota units per user per minute (Gmail's usage limits), counted
  per user and OAuth client over a sliding minute of the emulator's clock. A call that would go
  over is refused, uncharged, with Google's quota error (429 ``RESOURCE_EXHAUSTED`` by default,
  or 403 ``PERMISSION_DENIED``, both seen from Gmail).
- Concurrent batch limit: Gmail runs a batch's calls at once, so a large batch trips the per-user
  concurrency limit; calls past the first N of one user in one batch answer 429 "Too many
  concurrent requests for user."
- Push notifications past Gmail's one per second per mailbox: by default the emulator holds the
  newest history id back and sends it once the second has passed (nothing is lost);
  ``push_rate_excess: "drop"`` drops them instead, as Google's push guide words it ("Any user
  notifications above that rate will be dropped").
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import asdict, dataclass

USER_UNITS_PER_MINUTE = 15_000
WINDOW_SECONDS = 60.0
RATE_LIMIT_STATUSES = (429, 403)
RATE_LIMIT_REASONS = ("rateLimitExceeded", "userRateLimitExceeded")
PUSH_RATE_EXCESS = ("coalesce", "drop")
BATCH_SLOTS_KEY = "google_emulator.batch_slots"


@dataclass
class Settings:
    per_user_rate_limit: bool = False
    user_units_per_minute: int = USER_UNITS_PER_MINUTE
    rate_limit_status: int = 429
    rate_limit_reason: str = "rateLimitExceeded"
    concurrent_batch_limit: int | None = None
    push_rate_excess: str = "coalesce"

    def describe(self) -> dict[str, object]:
        return asdict(self)


class Realism:
    """The switches and the units each (client, user) spent in the last minute. Caller holds the lock."""

    def __init__(self) -> None:
        self.settings = Settings()
        self._spent: dict[tuple[str, str], deque[tuple[float, int]]] = {}

    def reset(self) -> None:
        self.settings = Settings()
        self._spent.clear()

    def spend(self, client_id: str, email: str, units: int, now: float) -> bool:
        """Record ``units`` for the user unless that would exceed the minute's quota (then False)."""
        if not self.settings.per_user_rate_limit:
            return True
        spent = self._spent.setdefault((client_id, email.lower()), deque())
        while spent and spent[0][0] <= now - WINDOW_SECONDS:
            spent.popleft()
        if sum(units for _, units in spent) + units > self.settings.user_units_per_minute:
            return False
        spent.append((now, units))
        return True


class BatchSlots:
    """How many calls of one batch request each user has running; refuses those past the limit."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self._taken: Counter[str] = Counter()

    def take(self, email: str) -> bool:
        if self.limit is None:
            return True
        self._taken[email.lower()] += 1
        return self._taken[email.lower()] <= self.limit
