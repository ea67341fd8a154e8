"""The push bench's accounting: what it prints as lost, duplicated and latency must be what happened.

`make bench-push` reports "none lost, none duplicated" and p50/p99 from these functions; a
mistake here would make a broken push path look healthy.
"""

from __future__ import annotations

import json

from infra.bench_push import Arrival, Delivery, arrival_of, percentile, tally


def delivery(n: int, sent_at: float = 0.0) -> Delivery:
    return Delivery(f"push-bench burst {n:05d}", f"m{n}@example.com", sent_at)


def arrival(n: int, at: float, connection: str = "conn_a", message: str | None = None) -> Arrival:
    return Arrival(f"push-bench burst {n:05d}", connection, "u1", message or f"msg{n}", at)


def test_an_event_announced_twice_is_a_duplicate_and_a_delivery_without_event_is_lost():
    # Given two deliveries, the first announced twice, the second never
    deliveries = [delivery(1), delivery(2)]
    arrivals = [arrival(1, at=0.5), arrival(1, at=0.9)]
    # When they are tallied
    counted = tally(deliveries, arrivals)
    # Then one was announced, one lost, and one event is a duplicate
    assert (counted.announced, counted.lost, counted.events, counted.duplicates) == (1, 1, 2, 1)


def test_the_same_message_id_in_two_connections_is_not_a_duplicate():
    # Given two mailboxes whose messages got the same id (ids are per mailbox)
    deliveries = [delivery(1), delivery(2)]
    arrivals = [arrival(1, 0.5, "conn_a", "0001"), arrival(2, 0.6, "conn_b", "0001")]
    # When they are tallied
    counted = tally(deliveries, arrivals)
    # Then both are announced once
    assert (counted.announced, counted.duplicates, counted.lost) == (2, 0, 0)


def test_latency_runs_to_the_first_event_and_other_events_are_ignored():
    # Given a delivery sent at t=10 announced at 10.25 and again at 12, and an event the bench did not cause
    deliveries = [delivery(1, sent_at=10.0)]
    arrivals = [arrival(1, at=12.0), arrival(1, at=10.25), arrival(7, at=10.1)]
    # When they are tallied
    counted = tally(deliveries, arrivals)
    # Then the latency is to the first event, and the stranger is not counted
    assert counted.latencies == (0.25,)
    assert counted.events == 2


def test_an_event_without_connection_id_is_counted_as_such():
    # Given an event that names no connection
    counted = tally([delivery(1)], [Arrival("push-bench burst 00001", None, "u1", "msg1", 1.0)])
    # Then the report can say so
    assert counted.without_connection_id == 1


def test_percentiles_are_nearest_rank():
    # Given the latencies 1..200
    values = [float(n) for n in range(1, 201)]
    # Then p50 is the 100th value and p99 the 198th; no values, no percentile
    assert (percentile(values, 50), percentile(values, 99), percentile(values, 100)) == (100.0, 198.0, 200.0)
    assert percentile([0.3], 99) == 0.3
    assert percentile([], 50) is None


def test_only_this_benchs_received_events_are_read_from_the_tap():
    # Given tap bodies: the bench's own message, someone else's message, a connection event
    def body(detail_type: str, subject: str) -> str:
        detail = {"connection_id": "conn_a", "user_id": "u1", "message_id": "m1", "subject": subject}
        return json.dumps({"detail-type": detail_type, "detail": detail})

    # Then only the first is an arrival, with its ids
    assert arrival_of(body("gmail.message.received", "push-bench latency 00003"), 5.0) == Arrival(
        "push-bench latency 00003", "conn_a", "u1", "m1", 5.0
    )
    assert arrival_of(body("gmail.message.received", "Hello"), 5.0) is None
    assert arrival_of(body("gmail.connection.connected", "push-bench latency 00003"), 5.0) is None
