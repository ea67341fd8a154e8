"""Gmail API v1 labels: ``users.labels.list`` (system labels, then the user's) and ``users.labels.get``
(one label with its message and thread counts, total and unread)."""

from __future__ import annotations

from werkzeug.wrappers import Request, Response

from . import errors
from .accounts import Account
from .gmail_access import authorize, guarded
from .labels import Label
from .state import State


def _list(state: State, request: Request, user_id: str) -> Response:
    auth = authorize(state, request, user_id, "labels.list")
    if isinstance(auth, Response):
        return auth
    account, _ = auth
    return errors.json_response({"labels": [label.resource() for label in account.labels.all()]})


def _with_counts(account: Account, label: Label) -> dict[str, object]:
    labelled = [message for message in account.messages.values() if label.id in message.label_ids]
    unread = [message for message in labelled if "UNREAD" in message.label_ids]
    return {
        **label.resource(),
        "messagesTotal": len(labelled),
        "messagesUnread": len(unread),
        "threadsTotal": len({message.thread_id for message in labelled}),
        "threadsUnread": len({message.thread_id for message in unread}),
    }


def _get(state: State, request: Request, user_id: str, label_id: str) -> Response:
    auth = authorize(state, request, user_id, "labels.get")
    if isinstance(auth, Response):
        return auth
    account, _ = auth
    label = account.labels.get(label_id)
    if label is None:
        return errors.not_found()
    return errors.json_response(_with_counts(account, label))


list_labels = guarded(_list)
get_label = guarded(_get)
