"""Control endpoints for the Pub/Sub side of Gmail push, under ``/_emulator/pubsub``.

Topics and push subscriptions stand for what an operator sets up in Google Cloud (a topic with
``gmail-api-push@system.gserviceaccount.com`` as publisher, an authenticated push subscription);
faults stand for what Google may do to notifications (drop or delay them).
"""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request, Response

from . import errors
from .control_input import Invalid, guarded, json_body, number_field, string_field, whole_field
from .pubsub import PubSubError
from .state import State

_SUBSCRIPTION_KEYS = {
    "topic",
    "push_endpoint",
    "audience",
    "service_account_email",
    "subscription_id",
    "min_backoff_seconds",
    "max_backoff_seconds",
    "ack_deadline_seconds",
    "message_retention_seconds",
}
_SECONDS = ("min_backoff_seconds", "max_backoff_seconds", "ack_deadline_seconds", "message_retention_seconds")


def _refuse_unknown(data: dict[str, Any], known: set[str]) -> None:
    unknown = set(data) - known
    if unknown:
        raise Invalid(400, f"Unknown fields: {sorted(unknown)}; known: {sorted(known)}")


def _create_topic(state: State, request: Request) -> Response:
    data = json_body(request)
    _refuse_unknown(data, {"topic", "gmail_publisher"})
    gmail_publisher = data.get("gmail_publisher", True)
    if not isinstance(gmail_publisher, bool):
        raise Invalid(400, "'gmail_publisher' must be true or false.")
    try:
        topic = state.pubsub.add_topic(
            string_field(data, "topic", required=True), gmail_publisher=gmail_publisher
        )
    except PubSubError as exc:
        raise Invalid(exc.status, str(exc)) from None
    return errors.json_response({"topic": topic.name, "publishers": sorted(topic.publishers)}, 201)


def _create_subscription(state: State, request: Request) -> Response:
    data = json_body(request)
    _refuse_unknown(data, _SUBSCRIPTION_KEYS)
    settings: dict[str, Any] = {
        "push_endpoint": string_field(data, "push_endpoint", required=True),
        "audience": string_field(data, "audience") or None,
        "service_account_email": string_field(data, "service_account_email") or None,
    }
    for key in _SECONDS:
        if key in data:
            settings[key] = float(number_field(data, key, None) or 0)
    try:
        subscription = state.pubsub.add_subscription(
            string_field(data, "topic", required=True),
            string_field(data, "subscription_id") or None,
            **settings,
        )
    except PubSubError as exc:
        raise Invalid(exc.status, str(exc)) from None
    return errors.json_response(subscription.describe(), 201)


def _describe(state: State, request: Request) -> Response:
    return errors.json_response({**state.pubsub.describe(), "watches": state.watches.describe()})


def _add_faults(state: State, request: Request) -> Response:
    """``{"drop": N}`` and/or ``{"delay_ms": D, "count"?: N}``: the next notifications' fate."""
    data = json_body(request)
    _refuse_unknown(data, {"drop", "delay_ms", "count"})
    if not data.keys() & {"drop", "delay_ms"}:
        raise Invalid(400, "Give 'drop' (how many notifications) or 'delay_ms' (and 'count'), or both.")
    faults = state.pubsub.faults
    if "drop" in data:
        faults.drop += whole_field(data, "drop", minimum=1)
    if "delay_ms" in data:
        faults.delay_ms = whole_field(data, "delay_ms", minimum=1)
        faults.delay_count = whole_field(data, "count", minimum=1) if "count" in data else 1
    elif "count" in data:
        raise Invalid(400, "'count' goes with 'delay_ms'.")
    return errors.json_response(faults.describe(), 201)


def _list_faults(state: State, request: Request) -> Response:
    return errors.json_response(state.pubsub.faults.describe())


def _stats(state: State, request: Request) -> Response:
    return errors.json_response(
        {"subscriptions": state.pubsub.stats(), "notifications": state.watches.stats()}
    )


create_topic = guarded(_create_topic)
create_subscription = guarded(_create_subscription)
describe = guarded(_describe)
add_faults = guarded(_add_faults)
list_faults = guarded(_list_faults)
stats = guarded(_stats)
