"""Cloud Pub/Sub as Gmail push sees it: topics, push subscriptions and their delivery.

A message published to a topic goes to each of its push subscriptions: a background worker
POSTs Pub/Sub's push body (``{"message": {"data", "messageId", "message_id", "publishTime",
"publish_time"}, "subscription"}``, ``data`` in standard base64) to the endpoint, with
``Authorization: Bearer <OIDC token>`` when the subscription names a service account. The token
is what Pub/Sub's authenticated push sends: RS256, signed with the emulator's ID-token key,
``iss`` ``https://accounts.google.com``, ``aud`` the configured audience (else the endpoint URL),
``azp``/``sub`` the service account's numeric id, ``email``, ``email_verified``, one hour long.

102, 200, 201, 202 and 204 acknowledge a message; any other answer, a timeout (the ack deadline)
or a connection error is retried with exponential backoff (``min_backoff_seconds`` doubling up to
``max_backoff_seconds``, Pub/Sub's 10 s and 600 s by default, no jitter) until the message is
older than the retention (7 days). Times follow the emulator's clock. The caller holds the lock
for everything except ``_attempt``, which takes it itself around the HTTP call.
"""

from __future__ import annotations

import base64
import datetime
import functools
import http.client
import itertools
import json
import random
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .accounts import stable_sub
from .clock import Clock
from .dispatcher import Dispatcher
from .id_tokens import ISSUER, IdTokenSigner

GMAIL_PUBLISHER = "gmail-api-push@system.gserviceaccount.com"
ACK_STATUSES = frozenset({102, 200, 201, 202, 204})
USER_AGENT = "APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)"
TOKEN_LIFETIME = 3600
MIN_RETENTION, MAX_RETENTION = 600, 31 * 24 * 3600  # Pub/Sub's bounds on message retention

# Pub/Sub's naming rules: project ids 6-30 of [a-z0-9-] starting with a letter; topic and
# subscription ids 3-255 of [A-Za-z0-9-_.~+%] starting with a letter, never "goog..."
_PROJECT = r"[a-z][a-z0-9-]{4,28}[a-z0-9]"
_RESOURCE = r"(?!goog)[A-Za-z][A-Za-z0-9\-_.~+%]{2,254}"
TOPIC_NAME = re.compile(rf"projects/(?P<project>{_PROJECT})/topics/(?P<id>{_RESOURCE})")
SUBSCRIPTION_ID = re.compile(_RESOURCE)


class PubSubError(ValueError):
    """A control request Pub/Sub would refuse; ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Topic:
    name: str
    publishers: set[str]

    @property
    def id(self) -> str:
        return self.name.rsplit("/", 1)[1]


@dataclass(frozen=True)
class Subscription:
    name: str
    topic: str
    push_endpoint: str
    audience: str
    service_account_email: str | None
    min_backoff_seconds: float = 10.0
    max_backoff_seconds: float = 600.0
    ack_deadline_seconds: float = 10.0
    message_retention_seconds: float = 7 * 24 * 3600.0

    def describe(self) -> dict[str, Any]:
        return {
            "subscription": self.name,
            "topic": self.topic,
            "push_endpoint": self.push_endpoint,
            "audience": self.audience,
            "service_account_email": self.service_account_email,
            "min_backoff_seconds": self.min_backoff_seconds,
            "max_backoff_seconds": self.max_backoff_seconds,
            "ack_deadline_seconds": self.ack_deadline_seconds,
            "message_retention_seconds": self.message_retention_seconds,
        }

    def backoff(self, failed_attempts: int) -> float:
        doublings = min(failed_attempts - 1, 32)  # past 2**32 any minimum exceeds the 600 s cap
        return float(min(self.max_backoff_seconds, self.min_backoff_seconds * 2**doublings))


@dataclass
class PushMessage:
    subscription: Subscription
    message_id: str
    data: bytes
    publish_time: float
    attempts: int = 0

    def body(self) -> bytes:
        """Pub/Sub's push request body, both spellings of each field included as Pub/Sub sends them."""
        published = _rfc3339(self.publish_time)
        message = {
            "data": base64.b64encode(self.data).decode("ascii"),
            "messageId": self.message_id,
            "message_id": self.message_id,
            "publishTime": published,
            "publish_time": published,
        }
        return json.dumps({"message": message, "subscription": self.subscription.name}).encode()


@dataclass
class PushFaults:
    """Injected losses and delays, applied to the next notifications published."""

    drop: int = 0
    delay_ms: int = 0
    delay_count: int = 0

    def take(self) -> tuple[bool, float]:
        """Whether the next message is dropped, and by how many seconds its delivery is delayed."""
        if self.drop:
            self.drop -= 1
            return True, 0.0
        if self.delay_count:
            self.delay_count -= 1
            return False, self.delay_ms / 1000
        return False, 0.0

    def describe(self) -> dict[str, int]:
        return {
            "drop": self.drop,
            "delay_ms": self.delay_ms if self.delay_count else 0,
            "delay_count": self.delay_count,
        }


@dataclass
class _Counts:
    published: int = 0
    delivered: int = 0
    retried: int = 0
    dropped: int = 0
    expired: int = 0
    attempts: int = 0
    statuses: Counter[str] = field(default_factory=Counter)


def _rfc3339(moment: float) -> str:
    when = datetime.datetime.fromtimestamp(moment, datetime.UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def push_token_claims(service_account_email: str, audience: str, now: float) -> dict[str, Any]:
    """The claims of the OIDC token an authenticated push subscription sends."""
    account_id = stable_sub(service_account_email)
    issued = int(now)
    return {
        "aud": audience,
        "azp": account_id,
        "email": service_account_email,
        "email_verified": True,
        "exp": issued + TOKEN_LIFETIME,
        "iat": issued,
        "iss": ISSUER,
        "sub": account_id,
    }


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int | None:
    """POST without following redirects (Pub/Sub does not); the status, or None when unanswered."""
    parts = urlsplit(url)
    connection_type = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = connection_type(parts.hostname or "", parts.port, timeout=timeout)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("POST", target, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()


class PubSub:
    def __init__(
        self, lock: threading.RLock, clock: Clock, signer: IdTokenSigner, dispatcher: Dispatcher
    ) -> None:
        self._lock = lock
        self._clock = clock
        self._signer = signer
        self._dispatcher = dispatcher
        self.topics: dict[str, Topic] = {}
        self.subscriptions: dict[str, Subscription] = {}
        self.faults = PushFaults()
        self._counts: dict[str, _Counts] = {}
        self._pending: Counter[str] = Counter()  # live, so a reset of the counters keeps it right
        self._message_ids = itertools.count(random.randrange(10**15, 9 * 10**15))

    # -- topics and subscriptions -----------------------------------------------------------

    def add_topic(self, name: str, *, gmail_publisher: bool = True) -> Topic:
        if not TOPIC_NAME.fullmatch(name):
            raise PubSubError(
                400,
                f"Invalid topic name {name!r}: expected projects/<project id>/topics/<topic id> "
                "(project id: 6-30 of a-z, 0-9, '-', starting with a letter; topic id: 3-255 of "
                "A-Z, a-z, 0-9, '-_.~+%', starting with a letter, not with 'goog').",
            )
        if name in self.topics:
            raise PubSubError(
                409, f"Resource already exists in the project (resource={name.rsplit('/', 1)[1]})."
            )
        topic = self.topics[name] = Topic(name, {GMAIL_PUBLISHER} if gmail_publisher else set())
        return topic

    def add_subscription(self, topic: str, subscription_id: str | None, **settings: Any) -> Subscription:
        """A push subscription to ``topic`` (created, with Gmail as publisher, when unknown)."""
        if topic not in self.topics:
            self.add_topic(topic)
        project = self.topics[topic].name.split("/")[1]
        subscription_id = subscription_id or f"push-{len(self.subscriptions) + 1}"
        if not SUBSCRIPTION_ID.fullmatch(subscription_id):
            raise PubSubError(400, f"Invalid subscription id {subscription_id!r}.")
        name = f"projects/{project}/subscriptions/{subscription_id}"
        if name in self.subscriptions:
            raise PubSubError(409, f"Resource already exists in the project (resource={subscription_id}).")
        endpoint = settings["push_endpoint"]
        if urlsplit(endpoint).scheme not in ("http", "https") or not urlsplit(endpoint).hostname:
            raise PubSubError(400, f"Invalid push endpoint {endpoint!r}: an http(s) URL is required.")
        settings["audience"] = settings.get("audience") or endpoint
        subscription = Subscription(name=name, topic=topic, **settings)
        if not 0 < subscription.min_backoff_seconds <= subscription.max_backoff_seconds <= 600:
            raise PubSubError(
                400, "Backoff must satisfy 0 < min_backoff_seconds <= max_backoff_seconds <= 600."
            )
        if not 10 <= subscription.ack_deadline_seconds <= 600:
            raise PubSubError(400, "ack_deadline_seconds must be between 10 and 600.")
        if not MIN_RETENTION <= subscription.message_retention_seconds <= MAX_RETENTION:
            raise PubSubError(
                400, f"message_retention_seconds must be between {MIN_RETENTION} and {MAX_RETENTION}."
            )
        self.subscriptions[name] = subscription
        self._counts[name] = _Counts()
        return subscription

    def refusal_to_gmail(self, topic: str) -> tuple[int, str] | None:
        """Why Gmail's test publish to ``topic`` fails (status, message), or None when it may publish."""
        prefix = f"Error sending test message to Cloud PubSub {topic} : "
        known = self.topics.get(topic)
        if known is None:
            return 404, prefix + f"Resource not found (resource={topic.rsplit('/', 1)[-1]})."
        if GMAIL_PUBLISHER not in known.publishers:
            return 403, prefix + "User not authorized to perform this action."
        return None

    # -- publishing and delivery ------------------------------------------------------------

    def publish(self, topic: str, data: bytes) -> str:
        """Publish ``data`` to every push subscription of ``topic``; the Pub/Sub message id."""
        message_id = str(next(self._message_ids))
        dropped, delay = self.faults.take()
        now = self._clock.now()
        for subscription in self.subscriptions.values():
            if subscription.topic != topic:
                continue
            counts = self._counts[subscription.name]
            counts.published += 1
            if dropped:
                counts.dropped += 1
                continue
            self._pending[subscription.name] += 1
            message = PushMessage(subscription, message_id, data, now)
            self._dispatcher.schedule(functools.partial(self._attempt, message), now + delay)
        return message_id

    def _headers(self, message: PushMessage) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        subscription = message.subscription
        if subscription.service_account_email:
            claims = push_token_claims(
                subscription.service_account_email, subscription.audience, self._clock.now()
            )
            headers["Authorization"] = f"Bearer {self._signer.sign(claims)}"
        return headers

    def _attempt(self, message: PushMessage) -> None:
        subscription = message.subscription
        name = subscription.name
        with self._lock:
            if self._clock.now() - message.publish_time >= subscription.message_retention_seconds:
                self._counts[name].expired += 1
                self._pending[name] -= 1
                return
            headers = self._headers(message)
        status = post(subscription.push_endpoint, message.body(), headers, subscription.ack_deadline_seconds)
        with self._lock:
            message.attempts += 1
            counts = self._counts[name]
            counts.attempts += 1
            counts.statuses[str(status) if status is not None else "no answer"] += 1
            if status in ACK_STATUSES:
                counts.delivered += 1
                self._pending[name] -= 1
                return
            counts.retried += 1
            due = self._clock.now() + subscription.backoff(message.attempts)
        self._dispatcher.schedule(functools.partial(self._attempt, message), due)

    # -- control ----------------------------------------------------------------------------

    def stats(self) -> dict[str, dict[str, Any]]:
        return {
            name: {
                "published": counts.published,
                "delivered": counts.delivered,
                "retried": counts.retried,
                "dropped": counts.dropped,
                "expired": counts.expired,
                "pending": self._pending[name],
                "attempts": counts.attempts,
                "statuses": dict(sorted(counts.statuses.items())),
            }
            for name, counts in sorted(self._counts.items())
        }

    def describe(self) -> dict[str, Any]:
        return {
            "topics": [{"topic": t.name, "publishers": sorted(t.publishers)} for t in self.topics.values()],
            "subscriptions": [s.describe() for s in self.subscriptions.values()],
        }

    def reset(self) -> None:
        """Forget faults and counters; topics, subscriptions and messages in flight stay."""
        self.faults = PushFaults()
        for name in self._counts:
            self._counts[name] = _Counts()
