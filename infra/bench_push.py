"""``make bench-push``: how soon and how completely Gmail push announces new mail on ``make local``,
printed for a person to read (no asserts).

    PYTHONPATH=shared:. python -m infra.bench_push [--mailboxes 100] [--deliveries 200] [--rate 5]
        [--burst-rate 10] [--burst-seconds 60] [--drop 10] [--timeout 60] [--stack-log FILE]

The local stack runs as its own process, ``python -m infra.local_stack`` on free ports (what
``make local`` runs), so this process's HTTP clients and event reader never compete with it for
an interpreter lock. The mailboxes are emulator accounts connected through the product's own
browser flow over HTTP (``/oauth/authorize``, the emulator's consent page, ``/oauth/callback``):
each ``gmail.connection.connected`` event syncs and watches its mailbox at once. Once every
mailbox is watched (``GET /_emulator/pubsub``), three phases, each from a quiet stack:

1. latency: ``--deliveries`` messages at ``--rate`` per second, round-robin over the mailboxes,
   each timed from its delivery request at the emulator (``POST /_emulator/accounts/{email}/
   messages``) to its ``gmail.message.received`` event read from the ``local-event-tap`` queue.
   The tap (an EventBridge rule to SQS, read here) is part of the time: an upper bound on "on
   the bus". Deliveries are spread so that a mailbox rarely gets two within a second: Gmail (and
   the emulator) fold a mailbox's changes into one notification per second.
2. burst: ``--burst-rate`` per second for ``--burst-seconds`` over the same mailboxes: events
   against deliveries (lost; duplicated, by ``(connection_id, message_id)``), the Google calls
   and quota units per delivery (``/_emulator/stats``), the notifications pushed and retried.
3. dropped notifications: ``POST /_emulator/pubsub/faults {"drop": N}``, one delivery to each of
   N mailboxes, so every notification is lost; then one scheduled round as ``make sync`` runs it
   (``infra.local_stack.sync.SyncRound``; the stack's own stand-in for Lambda's SQS poller
   shares the round's queue, as with ``make sync``) and what it announced.

Every wait is bounded; a phase that ran out of time says so in its rows. The local stack's
stand-in for Lambda's SQS poller runs one worker invocation at a time: syncs of one mailbox
never overlap here, as they can when deployed (docs/push.md, per-user ordering).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlencode

import boto3
import requests

from tests.support.consent import decide

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
REGION = "us-east-1"
SUBJECT = "push-bench"
RECEIVED = "gmail.message.received"
TAP_QUEUE = "local-event-tap"  # infra.local_stack.event_tap.QUEUE_NAME
# Gmail publishes at most one notification per second per mailbox: a change folded into a
# pending notification goes out when that second ends. Waiting this long after the last
# delivery means no notification is still held back.
NOTIFICATION_WINDOW_S = 1.5
POLL_S = 0.2  # how often a bounded wait looks again at the emulator's or the queue's counters
CLIENT_THREADS = 8
GOAL_P50_S, GOAL_P99_S = 1.0, 3.0


# -- accounting -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    subject: str  # unique per delivery: how its event is found
    email: str
    sent_at: float  # time.monotonic() when the delivery request left


@dataclass(frozen=True)
class Arrival:
    subject: str
    connection_id: str | None
    user_id: str | None
    message_id: str
    at: float  # time.monotonic() when the tap handed it over


@dataclass(frozen=True)
class Tally:
    """Deliveries against the events they caused."""

    deliveries: int
    announced: int  # deliveries with at least one event
    events: int
    duplicates: int  # events past the first for the same (connection_id, message_id)
    without_connection_id: int
    latencies: tuple[float, ...]  # seconds to each delivery's first event, ascending

    @property
    def lost(self) -> int:
        return self.deliveries - self.announced

    def percentile(self, p: float) -> float | None:
        return percentile(self.latencies, p)


def percentile(ascending: Sequence[float], p: float) -> float | None:
    """Nearest rank: the smallest value at or above p percent of the values (None for none)."""
    if not ascending:
        return None
    rank = max(1, math.ceil(p / 100 * len(ascending)))
    return ascending[rank - 1]


def tally(deliveries: Sequence[Delivery], arrivals: Sequence[Arrival]) -> Tally:
    sent = {delivery.subject: delivery.sent_at for delivery in deliveries}
    mine = [arrival for arrival in arrivals if arrival.subject in sent]
    first: dict[str, float] = {}
    for arrival in mine:
        first[arrival.subject] = min(first.get(arrival.subject, math.inf), arrival.at)
    seen = Counter((a.connection_id or f"user:{a.user_id}", a.message_id) for a in mine)
    return Tally(
        deliveries=len(deliveries),
        announced=len(first),
        events=len(mine),
        duplicates=sum(count - 1 for count in seen.values()),
        without_connection_id=sum(1 for arrival in mine if not arrival.connection_id),
        latencies=tuple(sorted(at - sent[subject] for subject, at in first.items())),
    )


# -- the stack, as a process ----------------------------------------------------------------------


@dataclass(frozen=True)
class Stack:
    api: str
    google: str
    aws: str
    pid: int


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_stack(log: IO[str]) -> Iterator[Stack]:
    """``python -m infra.local_stack`` on free ports, its output in ``log``; stopped on the way out."""
    ports = {name: _free_port() for name in ("PORT", "GOOGLE_EMULATOR_PORT", "AWS_EMULATOR_PORT")}
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GOOGLE_"))}
    environment |= {name: str(port) for name, port in ports.items()}
    environment["PYTHONPATH"] = f"{ROOT / 'shared'}:{ROOT}"
    process = subprocess.Popen(
        [sys.executable, "-m", "infra.local_stack"], cwd=ROOT, env=environment, stdout=log, stderr=log
    )
    stack = Stack(
        api=f"http://127.0.0.1:{ports['PORT']}",
        google=f"http://127.0.0.1:{ports['GOOGLE_EMULATOR_PORT']}",
        aws=f"http://127.0.0.1:{ports['AWS_EMULATOR_PORT']}",
        pid=process.pid,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(f"{stack.api}/me", timeout=5)
                break
            except requests.RequestException:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the local stack did not start (its log follows)") from None
                time.sleep(POLL_S)
        yield stack
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (Linux's /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _aws(stack: Stack, service: str) -> Any:
    return boto3.session.Session().client(
        service,
        endpoint_url=stack.aws,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _get(url: str) -> Any:
    answer = requests.get(url, timeout=10)
    answer.raise_for_status()
    return answer.json()


def _post(url: str, body: Mapping[str, Any] | None = None) -> requests.Response:
    answer = requests.post(url, json=dict(body or {}), timeout=10)
    answer.raise_for_status()
    return answer


def _total(per_subscription: Mapping[str, Mapping[str, Any]], key: str) -> int:
    return sum(int(counts.get(key, 0)) for counts in per_subscription.values())


def _until(condition: Callable[[], bool], timeout: float) -> bool:
    """Look at `condition` every POLL_S until it holds (True) or `timeout` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL_S)
    return True


# -- the event tap ----------------------------------------------------------------------------------


class Tap:
    """Every ``gmail.message.received`` of this bench, read from ``local-event-tap`` as it arrives."""

    def __init__(self, stack: Stack) -> None:
        self._sqs = _aws(stack, "sqs")
        self.queue_url: str = self._sqs.get_queue_url(QueueName=TAP_QUEUE)["QueueUrl"]
        self._changed = threading.Condition()
        self._arrivals: list[Arrival] = []
        self._subjects: set[str] = set()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-tap", daemon=True)

    def start(self) -> Tap:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)

    def arrivals(self) -> list[Arrival]:
        with self._changed:
            return list(self._arrivals)

    def wait_for(self, subjects: Collection[str], timeout: float) -> bool:
        """Until every subject has an event (True) or `timeout` passes (False)."""
        with self._changed:
            return self._changed.wait_for(lambda: self._subjects.issuperset(subjects), timeout)

    def drained(self) -> bool:
        """Nothing in the tap queue, nor in this reader's hands (it deletes after recording)."""
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=self.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return all(int(value) == 0 for value in attributes.values())

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                messages = self._sqs.receive_message(
                    QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
                ).get("Messages", [])
                at = time.monotonic()
                arrivals = [arrival for m in messages if (arrival := arrival_of(m["Body"], at)) is not None]
                with self._changed:
                    self._arrivals += arrivals
                    self._subjects.update(arrival.subject for arrival in arrivals)
                    self._changed.notify_all()
                if messages:
                    self._sqs.delete_message_batch(
                        QueueUrl=self.queue_url,
                        Entries=[
                            {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]}
                            for n, m in enumerate(messages)
                        ],
                    )
            except Exception as error:  # a report: say it, keep reading
                if not self._stopping.is_set():
                    print(f"bench: reading the tap failed: {error!r}", file=sys.stderr)
                    self._stopping.wait(1)


def arrival_of(body: str, at: float) -> Arrival | None:
    """This bench's ``gmail.message.received`` in a tap message's body; None for any other event."""
    event = json.loads(body)
    detail = event.get("detail") or {}
    subject = str(detail.get("subject", ""))
    if event.get("detail-type") != RECEIVED or not subject.startswith(SUBJECT):
        return None
    return Arrival(subject, detail.get("connection_id"), detail.get("user_id"), str(detail["message_id"]), at)


# -- mailboxes --------------------------------------------------------------------------------------


def connect(stack: Stack, email: str) -> None:
    """A new emulator account, connected through the product's browser flow over HTTP."""
    _post(f"{stack.google}/_emulator/accounts", {"email": email})
    browser = requests.Session()
    start = browser.get(
        f"{stack.api}/oauth/authorize?{urlencode({'login_hint': email})}", allow_redirects=False, timeout=10
    )
    answer = decide(requests.Session(), start.headers["Location"], account=email)
    query = urlencode({key: value for key, value in answer.items() if not key.startswith("_")})
    back = browser.get(f"{stack.api}/oauth/callback?{query}", allow_redirects=False, timeout=30)
    if back.status_code != 302:
        raise RuntimeError(f"connecting {email} ended with {back.status_code}")


def watched(stack: Stack) -> set[str]:
    return {str(watch["emailAddress"]) for watch in _get(f"{stack.google}/_emulator/pubsub")["watches"]}


def quiet(stack: Stack, tap: Tap, sync_queue_url: str, last_delivery: float, timeout: float) -> bool:
    """Wait until nothing is on its way: no notification held back or pending at Pub/Sub, no sync
    request queued or in flight, no event left in the tap. Read upstream first, so work moving
    downstream meanwhile is seen where it lands."""
    held_back = last_delivery + NOTIFICATION_WINDOW_S - time.monotonic()
    if held_back > 0:
        time.sleep(held_back)  # Gmail's per-mailbox second (see NOTIFICATION_WINDOW_S)
    sqs = _aws(stack, "sqs")

    def nothing_moving() -> bool:
        pending = _total(_get(f"{stack.google}/_emulator/pubsub/stats")["subscriptions"], "pending")
        queued = sqs.get_queue_attributes(
            QueueUrl=sync_queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return pending == 0 and all(int(n) == 0 for n in queued.values()) and tap.drained()

    return _until(nothing_moving, timeout)


# -- phases -----------------------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    target_rate: float
    mailboxes: int
    deliveries: list[Delivery]
    tally: Tally
    all_announced: bool  # within the time allowed
    settled: bool
    google: dict[str, Any]
    pubsub: dict[str, Any]
    wall_s: float  # from the first delivery until the stack was quiet again
    cpu_seconds: float | None  # the stack process's, over wall_s

    @property
    def spread_s(self) -> float:
        """From the first delivery request to the last."""
        if len(self.deliveries) < 2:
            return 0.0
        return self.deliveries[-1].sent_at - self.deliveries[0].sent_at

    @property
    def achieved_rate(self) -> float:
        return (len(self.deliveries) - 1) / self.spread_s if self.spread_s else float(len(self.deliveries))


class Bench:
    """The phases, against one running stack whose mailboxes are all connected and watched."""

    def __init__(self, stack: Stack, tap: Tap, mailboxes: list[str], timeout: float) -> None:
        self.stack = stack
        self.tap = tap
        self.mailboxes = mailboxes
        self.timeout = timeout
        self.sync_queue_url: str = _aws(stack, "sqs").get_queue_url(QueueName=_sync_queue_name())["QueueUrl"]
        self.deliveries: list[Delivery] = []
        self._local = threading.local()

    def deliver(self, email: str, subject: str) -> Delivery:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        sent = time.monotonic()
        answer = session.post(
            f"{self.stack.google}/_emulator/accounts/{email}/messages",
            json={"from": "Bench <bench@example.org>", "subject": subject, "body": "hello"},
            timeout=10,
        )
        answer.raise_for_status()
        return Delivery(subject, email, sent)

    def paced(self, name: str, count: int, rate: float) -> list[Delivery]:
        """`count` deliveries, round-robin over the mailboxes, started `rate` per second (open loop:
        a slow answer never holds back the next delivery)."""
        started = time.monotonic()
        with ThreadPoolExecutor(CLIENT_THREADS) as pool:
            futures = []
            for n in range(count):
                wait = started + n / rate - time.monotonic()
                if wait > 0:
                    time.sleep(wait)  # the load's pace, not a wait for the product
                email = self.mailboxes[n % len(self.mailboxes)]
                futures.append(pool.submit(self.deliver, email, f"{SUBJECT} {name} {n:05d}"))
            deliveries = sorted((future.result() for future in futures), key=lambda d: d.sent_at)
        self.deliveries += deliveries
        return deliveries

    def settle(self, last_delivery: float) -> bool:
        return quiet(self.stack, self.tap, self.sync_queue_url, last_delivery, self.timeout)

    def phase(self, name: str, count: int, rate: float) -> Phase:
        google = self.stack.google
        _post(f"{google}/_emulator/reset")  # Google's and Pub/Sub's counters from zero
        cpu, started = _cpu_seconds(self.stack.pid), time.monotonic()
        deliveries = self.paced(name, count, rate)
        all_announced = self.tap.wait_for([d.subject for d in deliveries], self.timeout)
        settled = self.settle(deliveries[-1].sent_at)
        cpu_after, wall = _cpu_seconds(self.stack.pid), time.monotonic() - started
        return Phase(
            name=name,
            target_rate=rate,
            mailboxes=len(self.mailboxes),
            deliveries=deliveries,
            tally=tally(deliveries, self.tap.arrivals()),
            all_announced=all_announced,
            settled=settled,
            google=_get(f"{google}/_emulator/stats"),
            pubsub=_get(f"{google}/_emulator/pubsub/stats"),
            wall_s=wall,
            cpu_seconds=None if cpu is None or cpu_after is None else cpu_after - cpu,
        )

    def dropped(self, count: int) -> Dropped:
        """N notifications dropped, then one scheduled round: what it announced, and its cost."""
        google = self.stack.google
        sync_round = prepare_round(self.stack)
        _post(f"{google}/_emulator/reset")
        _post(f"{google}/_emulator/pubsub/faults", {"drop": count})
        deliveries = [
            self.deliver(email, f"{SUBJECT} dropped {n:05d}")
            for n, email in enumerate(self.mailboxes[:count])
        ]
        self.deliveries += deliveries

        def dropped_so_far() -> int:
            return _total(_get(f"{google}/_emulator/pubsub/stats")["subscriptions"], "dropped")

        _until(lambda: dropped_so_far() >= count, self.timeout)
        dropped = dropped_so_far()
        settled = self.settle(deliveries[-1].sent_at)
        by_push = tally(deliveries, self.tap.arrivals()).announced
        _post(f"{google}/_emulator/reset")  # from here, the round's own Google calls
        started = time.monotonic()
        summary = sync_round.run()
        all_announced = self.tap.wait_for([d.subject for d in deliveries], self.timeout)
        announced_after = time.monotonic() - started
        settled = self.settle(deliveries[-1].sent_at) and settled
        return Dropped(
            deliveries=count,
            dropped=dropped,
            by_push=by_push,
            after_round=tally(deliveries, self.tap.arrivals()),
            all_announced=all_announced,
            announced_after_s=announced_after,
            users_enqueued=summary.enqueued,
            google=_get(f"{google}/_emulator/stats"),
            settled=settled,
        )


@dataclass(frozen=True)
class Dropped:
    deliveries: int
    dropped: int  # notifications Pub/Sub dropped (the emulator's count)
    by_push: int  # deliveries announced before the round
    after_round: Tally
    all_announced: bool
    announced_after_s: float  # from the round's start to the last of them on the bus
    users_enqueued: int
    google: dict[str, Any]  # the round's Google calls and quota units
    settled: bool

    def lines(self) -> list[str]:
        calls = sum(self.google.get("calls", {}).values())
        units = sum(self.google.get("quota_units", {}).values())
        users = max(self.users_enqueued, 1)
        late = "" if self.all_announced else "  (timed out)"
        return [
            f"dropped notifications: one delivery to each of {self.deliveries} mailboxes, every "
            f'notification dropped (POST /_emulator/pubsub/faults {{"drop": {self.deliveries}}})',
            f"  notifications dropped           {self.dropped:8d}",
            f"  announced by push               {self.by_push:8d}",
            f"  announced by one round          {self.after_round.announced:8d}   of {self.deliveries}, "
            f"the last {self.announced_after_s:.1f} s after the round started{late}",
            f"  lost / duplicated               {self.after_round.lost:4d} / {self.after_round.duplicates}",
            f"  users the round enqueued        {self.users_enqueued:8d}   (worked by the round and by the "
            "stack's poller, as with make sync)",
            f"  the round's Google calls        {calls:8d}   {calls / users:.2f} per user "
            f"({_routes(self.google)})",
            f"  the round's quota units         {units:8d}   {units / users:.2f} per user",
            f"  stack quiet afterwards          {'yes' if self.settled else 'NO (timed out)':>8}",
        ]


def _sync_queue_name() -> str:
    """The sync queue as provisioning names it: its ``QueueName``, else its logical id."""
    from infra import cfn

    queue = cfn.resources_of_type(cfn.load_template(TEMPLATE), "AWS::SQS::Queue")["SyncQueue"]
    return str((queue.get("Properties") or {}).get("QueueName") or "SyncQueue")


def prepare_round(stack: Stack) -> Any:
    """A scheduled round against the running stack, set up as ``make sync`` sets it up."""
    from infra import cfn
    from infra.local_stack.sync import SyncRound, attach

    os.environ["AWS_ENDPOINT_URL"] = stack.aws
    template = cfn.load_template(TEMPLATE)
    environment = attach(template)
    os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"  # as `make sync`: no log line per user
    return SyncRound(template, environment, quiet=True)


# -- the report ---------------------------------------------------------------------------------------


def _routes(stats: Mapping[str, Any]) -> str:
    calls: dict[str, int] = stats.get("calls", {})
    return ", ".join(f"{k.replace('/gmail/v1/users/{userId}', '')} {v}" for k, v in sorted(calls.items()))


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def _per(total: float, phase: Phase) -> str:
    return f"{total / max(len(phase.deliveries), 1):.2f}"


def _cpu_share(phase: Phase) -> str:
    if phase.cpu_seconds is None or not phase.wall_s:
        return "-"
    share = 100 * phase.cpu_seconds / phase.wall_s
    return f"{phase.cpu_seconds:.0f} s in {phase.wall_s:.0f} s, {share:.0f}% of a core"


ROWS: list[tuple[str, Callable[[Phase], str]]] = [
    ("deliveries", lambda p: f"{len(p.deliveries)} over {p.mailboxes} mailboxes"),
    ("rate: target / achieved", lambda p: f"{p.target_rate:.1f} / {p.achieved_rate:.1f} per s"),
    ("announced on the bus", lambda p: f"{p.tally.announced}" + ("" if p.all_announced else " (timed out)")),
    ("lost", lambda p: str(p.tally.lost)),
    ("duplicated (connection, message)", lambda p: str(p.tally.duplicates)),
    ("events without connection_id", lambda p: str(p.tally.without_connection_id)),
    ("latency p50", lambda p: _seconds(p.tally.percentile(50))),
    ("latency p99", lambda p: _seconds(p.tally.percentile(99))),
    ("latency max", lambda p: _seconds(p.tally.latencies[-1] if p.tally.latencies else None)),
    ("Google HTTP calls / delivery", lambda p: _per(sum(p.google.get("calls", {}).values()), p)),
    ("calls inside batches / delivery", lambda p: _per(sum(p.google.get("batched_calls", {}).values()), p)),
    ("quota units / delivery", lambda p: _per(sum(p.google.get("quota_units", {}).values()), p)),
    ("pushes delivered / delivery", lambda p: _per(_total(p.pubsub["subscriptions"], "delivered"), p)),
    ("push retries", lambda p: str(_total(p.pubsub["subscriptions"], "retried"))),
    ("notifications coalesced", lambda p: str(_total(p.pubsub["notifications"], "coalesced"))),
    ("stack CPU (one process)", _cpu_share),
    ("stack quiet afterwards", lambda p: "yes" if p.settled else "NO (timed out)"),
]


def table(phases: Sequence[Phase]) -> list[str]:
    width = max(len(label) for label, _ in ROWS) + 2
    column = max(28, *(len(cell(p)) + 2 for _, cell in ROWS for p in phases))
    lines = [" " * width + "".join(p.name.ljust(column) for p in phases)]
    lines += [label.ljust(width) + "".join(cell(p).ljust(column) for p in phases) for label, cell in ROWS]
    return [line.rstrip() for line in lines]


def verdict(phase: Phase) -> str:
    p50, p99 = phase.tally.percentile(50), phase.tally.percentile(99)
    met = p50 is not None and p99 is not None and p50 <= GOAL_P50_S and p99 <= GOAL_P99_S
    return (
        f"{phase.name}: p50 {_seconds(p50)}, p99 {_seconds(p99)} against the local goal "
        f"p50 <= {GOAL_P50_S:.0f} s, p99 <= {GOAL_P99_S:.0f} s: {'met' if met else 'NOT met'}"
    )


# -- main -----------------------------------------------------------------------------------------------


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Gmail push on make local: latency, a burst, drops.")
    parser.add_argument("--mailboxes", type=int, default=100, help="watched mailboxes (100)")
    parser.add_argument("--deliveries", type=int, default=200, help="deliveries timed for latency (200)")
    parser.add_argument("--rate", type=float, default=5.0, help="their rate per second (5)")
    parser.add_argument("--burst-rate", type=float, default=10.0, help="the burst's rate per second (10)")
    parser.add_argument("--burst-seconds", type=float, default=60.0, help="the burst's length (60)")
    parser.add_argument("--drop", type=int, default=10, help="notifications dropped (10)")
    parser.add_argument("--timeout", type=float, default=60.0, help="longest wait for anything (60 s)")
    parser.add_argument("--stack-log", type=Path, help="keep the local stack's output in this file")
    args = parser.parse_args(argv)
    if not 1 <= args.mailboxes <= 500:
        parser.error("--mailboxes takes 1 to 500")
    if args.deliveries < 1 or args.rate <= 0 or args.burst_rate <= 0 or args.burst_seconds <= 0:
        parser.error("--deliveries, --rate, --burst-rate and --burst-seconds must be positive")
    if not 1 <= args.drop <= args.mailboxes:
        parser.error("--drop takes 1 to --mailboxes (one dropped notification per mailbox)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    out: Callable[[str], None] = lambda line: print(line, flush=True)  # noqa: E731
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as scratch:
        log_path = args.stack_log or Path(scratch) / "local-stack.log"
        with log_path.open("w", encoding="utf-8") as log:
            try:
                run(args, log, out)
            except Exception:
                log.flush()
                tail = log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-40:]
                print("\n".join(["bench: the local stack's last lines:", *tail]), file=sys.stderr)
                raise
    out(f"\nbenchmark finished in {time.monotonic() - started:.0f} s")
    return 0


def run(args: argparse.Namespace, log: IO[str], out: Callable[[str], None]) -> None:
    with running_stack(log) as stack:
        tap = Tap(stack).start()
        try:
            mailboxes = [f"push-bench-{n:03d}@example.com" for n in range(args.mailboxes)]
            connecting = time.monotonic()
            with ThreadPoolExecutor(CLIENT_THREADS) as pool:
                list(pool.map(lambda email: connect(stack, email), mailboxes))
            connected = time.monotonic() - connecting
            all_watched = _until(lambda: watched(stack).issuperset(mailboxes), args.timeout)
            watching = time.monotonic() - connecting - connected
            bench = Bench(stack, tap, mailboxes, args.timeout)
            bench.settle(time.monotonic())
            out(
                f"Gmail push on make local (python -m infra.local_stack as its own process): "
                f"{len(mailboxes)} mailboxes connected over HTTP in {connected:.1f} s, "
                + (f"all watched {watching:.1f} s later" if all_watched else "NOT all watched in time")
            )
            out(
                "(the stack's stand-in for Lambda's SQS poller runs one worker invocation at a time, so "
                "syncs of a mailbox never overlap here; deployed they can: docs/push.md)"
            )
            if len(mailboxes) / max(args.rate, args.burst_rate) < 1:
                out("note: a mailbox gets more than one delivery a second, and Gmail folds them into one")
            burst_count = max(1, round(args.burst_rate * args.burst_seconds))
            phases = [bench.phase("latency", args.deliveries, args.rate)]
            phases.append(bench.phase(f"burst ({args.burst_seconds:g} s)", burst_count, args.burst_rate))
            out("")
            for line in table(phases):
                out(line)
            out("")
            for phase in phases:
                out(verdict(phase))
            burst = phases[-1]
            out(f"burst's Google calls: {_routes(burst.google)}")
            out("")
            for line in bench.dropped(args.drop).lines():
                out(line)
            whole = tally(bench.deliveries, tap.arrivals())
            out(
                f"\nwhole run: {whole.deliveries} deliveries, {whole.announced} announced, "
                f"{whole.lost} lost, {whole.duplicates} duplicated by (connection_id, message_id)"
            )
        finally:
            tap.stop()


if __name__ == "__main__":
    sys.exit(main())
