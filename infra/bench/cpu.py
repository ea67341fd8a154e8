"""CPU time of the product's own work, apart from the emulators and the harness around it.

Lambda bills a function's duration, and with it the CPU its own code burns; the AWS and Google
emulators run in processes of their own here, as AWS and Google do not run in a Lambda. Three
meters:

- `Metered`: a handler wrapped so that the thread CPU time (``time.thread_time``) of each of its
  invocations is added up: the handler's own thread, not the SQS poller around it;
- `ThreadsCpu`: the CPU time of this process's threads whose names start with a prefix (the sync
  worker's pool, ``sync_*``), read through each thread's CPU clock (``pthread_getcpuclockid``:
  nanoseconds, whatever thread asks);
- `process_cpu_seconds`: another process's user + system time, from ``/proc/<pid>/stat``.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` (all its threads) so far; 1/100 s resolution."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        # The command name (2nd field) may hold spaces: fields are counted after its closing ')'.
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def _thread_cpu_seconds(thread: threading.Thread) -> float:
    if thread.ident is None:
        return 0.0
    try:
        return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
    except (OSError, ProcessLookupError):  # the thread has ended
        return 0.0


@dataclass
class ThreadsCpu:
    """CPU seconds spent by the threads named `prefix*` between `start()` and `stop()`."""

    prefix: str
    _start: dict[int, float] = field(default_factory=dict)

    def _now(self) -> dict[int, float]:
        return {
            thread.ident: _thread_cpu_seconds(thread)
            for thread in threading.enumerate()
            if thread.name.startswith(self.prefix) and thread.ident is not None
        }

    def start(self) -> None:
        self._start = self._now()

    def stop(self) -> float:
        """Seconds since `start()`; a thread started since counts from zero."""
        return sum(seconds - self._start.get(ident, 0.0) for ident, seconds in self._now().items())


@dataclass
class Metered:
    """A handler whose invocations add their thread CPU time (and count) to this meter."""

    handler: Callable[..., Any]
    seconds: float = 0.0
    invocations: int = 0
    durations: list[float] = field(default_factory=list)  # thread CPU of each invocation

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        started = time.thread_time()
        try:
            return self.handler(*args, **kwargs)
        finally:
            spent = time.thread_time() - started
            self.seconds += spent
            self.invocations += 1
            self.durations.append(spent)

    def take(self) -> float:
        """The seconds counted so far, and start again from zero."""
        taken, self.seconds, self.invocations, self.durations = self.seconds, 0.0, 0, []
        return taken
