"""Gmail push watches: which mailbox changes become a notification on which Pub/Sub topic.

A mailbox has at most one watch per Google Cloud project (the project of the OAuth client that
called ``users.watch``); calling ``watch`` again replaces it with a new expiration, ``stop`` ends
it, and it ends by itself 7 days after it was made (emulator clock). A successful ``watch``
publishes a notification at once, as Google's guide says it should.

A history record notifies when the watch's label filter wants it: no ``labelIds``, every record;
``include``, records concerning one of the labels; ``exclude``, every other record. The payload
is Gmail's ``{"emailAddress", "historyId"}`` (the new history id, a string as Google documents).

Gmail sends at most one notification per second per watched mailbox. The first change after a
quiet second is published at once; changes within the following second are folded into one
notification carrying the newest history id, published when that second is over (or, with the
realism setting ``push_rate_excess: "drop"``, dropped). The caller holds the state lock.
"""

from __future__ import annotations

import functools
import json
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any

from .accounts import Account, HistoryRecord
from .clock import Clock
from .dispatcher import Dispatcher
from .pubsub import PubSub
from .realism import Realism

WATCH_LIFETIME_MS = 7 * 24 * 3600 * 1000
NOTIFICATION_INTERVAL = 1.0  # seconds between two notifications of one mailbox


@dataclass
class Watch:
    email: str
    project: str
    topic: str
    label_ids: frozenset[str]
    exclude: bool
    expiration_ms: int
    last_sent: float = float("-inf")
    held: int | None = None  # the newest history id waiting for the second to pass
    stopped: bool = False

    def active(self, now_ms: int) -> bool:
        return not self.stopped and now_ms < self.expiration_ms

    def wants(self, record: HistoryRecord) -> bool:
        if not self.label_ids:
            return True
        return bool(record.label_ids & self.label_ids) != self.exclude

    def describe(self) -> dict[str, Any]:
        return {
            "emailAddress": self.email,
            "project": self.project,
            "topicName": self.topic,
            "labelIds": sorted(self.label_ids),
            "labelFilterBehavior": ("exclude" if self.exclude else "include") if self.label_ids else None,
            "expiration": str(self.expiration_ms),
        }


class Watches:
    def __init__(
        self, lock: threading.RLock, clock: Clock, pubsub: PubSub, dispatcher: Dispatcher, realism: Realism
    ) -> None:
        self._lock = lock
        self._clock = clock
        self._pubsub = pubsub
        self._dispatcher = dispatcher
        self._realism = realism
        self._watches: dict[tuple[str, str], Watch] = {}  # (email in lower case, project)
        self.counts: dict[str, Counter[str]] = {}

    def start(self, account: Account, project: str, topic: str, label_ids: list[str], exclude: bool) -> Watch:
        key = (account.email.lower(), project)
        previous = self._watches.get(key)
        watch = Watch(
            email=account.email,
            project=project,
            topic=topic,
            label_ids=frozenset(label_ids),
            exclude=exclude,
            expiration_ms=self._clock.now_ms() + WATCH_LIFETIME_MS,
        )
        if previous is not None:  # a renewal: the mailbox's rate limit goes on; what was held is resent
            previous.stopped, previous.held = True, None
            watch.last_sent = previous.last_sent
        self._watches[key] = watch
        self._notify(watch, account.history_id)
        return watch

    def stop(self, email: str, project: str) -> None:
        watch = self._watches.pop((email.lower(), project), None)
        if watch is not None:
            watch.stopped = True

    def changed(self, account: Account, record: HistoryRecord) -> None:
        """A new history record in ``account``'s mailbox (the ``Account.listener``)."""
        now_ms = self._clock.now_ms()
        for key, watch in list(self._watches.items()):
            if key[0] != account.email.lower():
                continue
            if not watch.active(now_ms):
                del self._watches[key]  # expired
            elif watch.wants(record):
                self._notify(watch, record.id)
            else:
                self._count(watch, "filtered")

    def _count(self, watch: Watch, what: str) -> None:
        self.counts.setdefault(watch.email, Counter())[what] += 1

    def _notify(self, watch: Watch, history_id: int) -> None:
        now = self._clock.now()
        if watch.held is not None:
            watch.held = history_id
            self._count(watch, "coalesced")
        elif now - watch.last_sent >= NOTIFICATION_INTERVAL:
            self._publish(watch, history_id, now)
        elif self._realism.settings.push_rate_excess == "drop":
            self._count(watch, "rate_dropped")
        else:
            watch.held = history_id
            due = watch.last_sent + NOTIFICATION_INTERVAL
            self._dispatcher.schedule(functools.partial(self._release, watch), due)

    def _release(self, watch: Watch) -> None:
        """The held notification, once the second has passed (runs on a dispatcher worker)."""
        with self._lock:
            history_id, watch.held = watch.held, None
            if history_id is not None and watch.active(self._clock.now_ms()):
                self._publish(watch, history_id, self._clock.now())

    def _publish(self, watch: Watch, history_id: int, now: float) -> None:
        watch.last_sent = now
        payload = {"emailAddress": watch.email, "historyId": str(history_id)}
        self._pubsub.publish(watch.topic, json.dumps(payload).encode())
        self._count(watch, "published")

    def describe(self) -> list[dict[str, Any]]:
        now_ms = self._clock.now_ms()
        return [watch.describe() for watch in self._watches.values() if watch.active(now_ms)]

    def reset_counts(self) -> None:
        self.counts.clear()

    def stats(self) -> dict[str, dict[str, int]]:
        return {email: dict(sorted(counts.items())) for email, counts in sorted(self.counts.items())}
