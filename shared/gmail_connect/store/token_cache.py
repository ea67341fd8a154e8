"""Plaintext access tokens kept by a warm container, so a warm call needs no KMS Decrypt.

Keyed by user id and trusted only while the stored ciphertext is unchanged: a refresh, a
re-consent or a revocation elsewhere changes (or removes) the ciphertext, and the entry is
ignored. Bounded: a sync worker sees ~1,000 users per container per round; 2,048 tokens are
~1 MB. Thread-safe: the worker syncs users in parallel.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

CACHE_SIZE = 2048


@dataclass(frozen=True)
class _Cached:
    ciphertext: bytes
    token: str = field(repr=False)


class TokenCache:
    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[str, _Cached] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, user_id: str, ciphertext: bytes) -> str | None:
        with self._lock:
            cached = self._items.get(user_id)
            if cached is None or cached.ciphertext != ciphertext:
                return None
            self._items.move_to_end(user_id)
            return cached.token

    def put(self, user_id: str, ciphertext: bytes, token: str) -> None:
        with self._lock:
            self._items[user_id] = _Cached(ciphertext, token)
            self._items.move_to_end(user_id)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def forget(self, user_id: str) -> None:
        with self._lock:
            self._items.pop(user_id, None)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


access_tokens = TokenCache(CACHE_SIZE)
"""The container's one cache (module state lives as long as the container)."""
