"""Exact counters: HTTP calls and batched calls by route template, quota units by account."""

from __future__ import annotations

from collections import Counter


class Stats:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.batched_calls: Counter[str] = Counter()
        self.quota_units: Counter[str] = Counter()

    def count(self, key: str, *, batched: bool) -> None:
        (self.batched_calls if batched else self.calls)[key] += 1

    def charge(self, email: str, units: int) -> None:
        self.quota_units[email] += units

    def snapshot(self) -> dict[str, dict[str, int]]:
        return {
            "calls": dict(sorted(self.calls.items())),
            "batched_calls": dict(sorted(self.batched_calls.items())),
            "quota_units": dict(sorted(self.quota_units.items())),
        }

    def reset(self) -> None:
        self.calls.clear()
        self.batched_calls.clear()
        self.quota_units.clear()
