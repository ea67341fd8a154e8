"""Background work on the emulator's clock: a few worker threads running tasks when they fall due.

Push delivery must never hold up the request that changed a mailbox, and its timings (Gmail's
one notification per second, Pub/Sub's retry backoff) follow the emulator's clock, so advancing
the clock brings due work forward. Tasks run without the dispatcher's lock held; a task that
needs the state lock takes it itself (lock order: state lock, then the dispatcher's).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
from collections.abc import Callable

from .clock import Clock

log = logging.getLogger(__name__)

WORKERS = 4
MAX_WAIT = 0.5  # seconds; in case the wall clock itself jumps while a task waits to fall due


class Dispatcher:
    def __init__(self, clock: Clock, workers: int = WORKERS) -> None:
        self._clock = clock
        self._workers = workers
        self._cond = threading.Condition(threading.Lock())
        self._queue: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._threads: list[threading.Thread] = []
        self._stopping = False
        clock.on_advance(self.wake)

    def schedule(self, task: Callable[[], None], due: float | None = None) -> None:
        """Run ``task`` on a worker once the emulator clock reaches ``due`` (now when None)."""
        with self._cond:
            heapq.heappush(
                self._queue, (due if due is not None else self._clock.now(), next(self._order), task)
            )
            self._cond.notify()

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def start(self) -> None:
        with self._cond:
            if self._threads:
                return
            self._stopping = False
            self._threads = [
                threading.Thread(target=self._run, name=f"google-emulator-push-{n}", daemon=True)
                for n in range(self._workers)
            ]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the workers (a delivery in flight finishes first); queued tasks are forgotten."""
        with self._cond:
            self._stopping = True
            self._queue.clear()
            self._cond.notify_all()
            threads, self._threads = self._threads, []
        for thread in threads:
            thread.join(timeout)

    @property
    def running(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    def _next(self) -> Callable[[], None] | None:
        """The next due task, waiting for it (``schedule``, ``wake`` and ``stop`` end a wait)."""
        with self._cond:
            while not self._stopping:
                if not self._queue:
                    self._cond.wait()
                    continue
                wait = self._queue[0][0] - self._clock.now()
                if wait <= 0:
                    return heapq.heappop(self._queue)[2]
                self._cond.wait(min(wait, MAX_WAIT))
            return None

    def _run(self) -> None:
        while (task := self._next()) is not None:
            try:
                task()
            except Exception:
                log.exception("push task failed")
