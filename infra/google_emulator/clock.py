"""The emulator's notion of "now": the wall clock plus an offset tests can advance.

Whatever waits on this clock (the push dispatcher) subscribes to ``advance`` so that moving the
clock forward also brings due work forward, as if that much time had passed.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class Clock:
    def __init__(self) -> None:
        self.offset = 0.0
        self._listeners: list[Callable[[], None]] = []

    def now(self) -> float:
        """Seconds since the epoch, as the emulator sees it."""
        return time.time() + self.offset

    def now_ms(self) -> int:
        return int(self.now() * 1000)

    def advance(self, seconds: float) -> float:
        self.offset += seconds
        for listener in self._listeners:
            listener()
        return self.now()

    def on_advance(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (with no lock of its own held) after every ``advance``."""
        self._listeners.append(listener)
