"""Exact counters: HTTP calls and batched calls by route template; quota units by account and by route."""

from __future__ import annotations

from collections import Counter

# Where the server leaves a request's route key (``"GET /gmail/v1/users/{userId}/messages"``).
ROUTE_KEY = "google_emulator.route"


class Stats:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.batched_calls: Counter[str] = Counter()
        self.quota_units: Counter[str] = Counter()
        self.quota_units_by_route: Counter[str] = Counter()

    def count(self, key: str, *, batched: bool) -> None:
        (self.batched_calls if batched else self.calls)[key] += 1

    def charge(self, email: str, units: int, route: str) -> None:
        self.quota_units[email] += units
        self.quota_units_by_route[route] += units

    def snapshot(self) -> dict[str, dict[str, int]]:
        return {
            "calls": dict(sorted(self.calls.items())),
            "batched_calls": dict(sorted(self.batched_calls.items())),
            "quota_units": dict(sorted(self.quota_units.items())),
            "quota_units_by_route": dict(sorted(self.quota_units_by_route.items())),
        }

    def reset(self) -> None:
        self.calls.clear()
        self.batched_calls.clear()
        self.quota_units.clear()
        self.quota_units_by_route.clear()
