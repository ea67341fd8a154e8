"""Gmail API v1 push: ``users.watch`` (100 units) and ``users.stop`` (50 units), as Gmail checks them.

``watch`` reads its body as Google's JSON front end does (lowerCamel or snake_case field names,
unknown names refused) and answers the errors Gmail gives for a topic it cannot use:

- no ``topicName``: 400 "topicName required";
- a name outside ``projects/<the OAuth client's project>/topics/*``: 400 "Invalid topicName does
  not match projects/<project>/topics/*" (Gmail requires the topic in the client's project);
- a topic Pub/Sub does not know: 404 "Error sending test message to Cloud PubSub <topic> :
  Resource not found (resource=<topic id>).";
- a topic ``gmail-api-push@system.gserviceaccount.com`` may not publish to: 403 "Error sending test
  message to Cloud PubSub <topic> : User not authorized to perform this action."

``labelFilterBehavior`` (or the deprecated ``labelFilterAction``, ignored when the former is set)
is ``include`` or ``exclude``, in any case; ``include`` when absent.
"""

from __future__ import annotations

import json
from typing import Any

from werkzeug.wrappers import Request, Response

from . import errors
from .gmail_access import BadArgument, authorize, check_label_ids, guarded
from .state import State

_FIELDS = {
    "topicName": "topic_name",
    "labelIds": "label_ids",
    "labelFilterAction": "label_filter_action",
    "labelFilterBehavior": "label_filter_behavior",
}
_BEHAVIORS = ("include", "exclude")


def _invalid_value(field: str, kind: str, value: Any) -> BadArgument:
    return BadArgument(f"Invalid value at '{field}' ({kind}), {json.dumps(value)}")


def _watch_request(request: Request) -> dict[str, Any]:
    """The body's fields under their lowerCamel names (absent and null ones left out)."""
    raw = request.get_data()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise BadArgument("Invalid JSON payload received. Unexpected token.") from None
    if not isinstance(body, dict):
        raise BadArgument('Invalid JSON payload received. Unknown name "": Root element must be a message.')
    fields: dict[str, Any] = {}
    for name, value in body.items():
        camel = next((camel for camel, snake in _FIELDS.items() if name in (camel, snake)), None)
        if camel is None:
            raise BadArgument(f'Invalid JSON payload received. Unknown name "{name}": Cannot find field.')
        if value is not None:
            fields[camel] = value
    return fields


def _label_ids(fields: dict[str, Any]) -> list[str]:
    value = fields.get("labelIds", [])
    if not isinstance(value, list) or not all(isinstance(label, str) for label in value):
        raise _invalid_value("label_ids", "TYPE_STRING", value)
    return value


def _excludes(fields: dict[str, Any]) -> bool:
    """Whether the label filter excludes; ``labelFilterBehavior`` wins over the deprecated action."""
    camel = "labelFilterBehavior" if "labelFilterBehavior" in fields else "labelFilterAction"
    value = fields.get(camel, "include")
    if not isinstance(value, str) or value.lower() not in _BEHAVIORS:
        raise _invalid_value(_FIELDS[camel], "TYPE_ENUM", value)
    return value.lower() == "exclude"


def _watch(state: State, request: Request, user_id: str) -> Response:
    auth = authorize(state, request, user_id, "watch")
    if isinstance(auth, Response):
        return auth
    account, token = auth
    fields = _watch_request(request)
    topic = fields.get("topicName", "")
    if not isinstance(topic, str):
        raise _invalid_value("topic_name", "TYPE_STRING", topic)
    if not topic:
        raise BadArgument("topicName required")
    project = state.clients[token.client_id].project_id
    parts = topic.split("/")
    if len(parts) != 4 or parts[:3] != ["projects", project, "topics"] or not parts[3]:
        raise BadArgument(f"Invalid topicName does not match projects/{project}/topics/*")
    label_ids = _label_ids(fields)
    check_label_ids(account, label_ids)
    exclude = _excludes(fields)
    refusal = state.pubsub.refusal_to_gmail(topic)
    if refusal is not None:
        status, message = refusal
        return errors.forbidden(message) if status == 403 else errors.api_error(status, message, "notFound")
    watch = state.watches.start(account, project, topic, label_ids, exclude)
    return errors.json_response(
        {"historyId": str(account.history_id), "expiration": str(watch.expiration_ms)}
    )


def _stop(state: State, request: Request, user_id: str) -> Response:
    auth = authorize(state, request, user_id, "stop")
    if isinstance(auth, Response):
        return auth
    account, token = auth
    state.watches.stop(account.email, state.clients[token.client_id].project_id)
    return Response(status=204)


watch = guarded(_watch)
stop = guarded(_stop)
