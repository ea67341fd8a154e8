"""The WSGI application: routing, call counting, fault injection, dispatch.

Each real HTTP request is counted under ``"<METHOD> <route template>"`` (control routes are
not), may be hit by an injected fault, then handled. Batch parts go through the same steps
as their own calls (``batched_calls``), but only Gmail routes may be batched; the parts of one
batch share a ``BatchSlots`` so the opt-in concurrency limit can refuse the ones past it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from . import (
    batch,
    control,
    control_pubsub,
    errors,
    gmail,
    gmail_labels,
    gmail_threads,
    gmail_watch,
    identity,
    oauth,
)
from .gmail_access import METHODS
from .realism import BATCH_SLOTS_KEY, BatchSlots
from .state import State
from .stats import ROUTE_KEY

log = logging.getLogger(__name__)

Handler = Callable[..., Response]

# Path parameter names as Google's documentation spells them, for the stats keys.
_PARAM_NAMES = {
    "user_id": "userId",
    "message_id": "id",
    "parent_id": "messageId",
    "attachment_id": "id",
    "thread_id": "id",
    "label_id": "id",
    "email": "email",
}


@dataclass(frozen=True)
class Route:
    rule: str
    methods: tuple[str, ...]
    handler: Handler
    kind: str  # "google", "gmail", "batch" or "control"
    method: str | None = None  # the Gmail method (``gmail_access.METHODS``) a "gmail" route serves

    @property
    def path_template(self) -> str:
        path = self.rule
        for name, shown in _PARAM_NAMES.items():
            path = path.replace(f"<{name}>", "{" + shown + "}")
        return path


GMAIL = "/gmail/v1/users/<user_id>"
ACCOUNT = "/_emulator/accounts/<email>"

ROUTES = (
    Route("/o/oauth2/v2/auth", ("GET",), oauth.authorize, "google"),
    Route("/o/oauth2/v2/auth/decision", ("POST",), oauth.decide, "google"),
    Route("/token", ("POST",), oauth.token, "google"),
    Route("/revoke", ("POST",), oauth.revoke, "google"),
    Route("/revoke", ("GET",), oauth.revoke_by_get, "google"),
    Route("/v1/userinfo", ("GET", "POST"), identity.userinfo, "google"),
    Route("/oauth2/v3/userinfo", ("GET", "POST"), identity.userinfo, "google"),
    Route("/oauth2/v2/userinfo", ("GET",), identity.userinfo_v2, "google"),
    Route("/tokeninfo", ("GET", "POST"), identity.tokeninfo, "google"),
    Route("/oauth2/v3/tokeninfo", ("GET", "POST"), identity.tokeninfo, "google"),
    Route("/oauth2/v3/certs", ("GET",), oauth.jwks, "google"),
    Route("/oauth2/v1/certs", ("GET",), oauth.pem_certs, "google"),
    Route("/.well-known/openid-configuration", ("GET",), oauth.openid_configuration, "google"),
    Route(f"{GMAIL}/messages", ("GET",), gmail.list_messages, "gmail", "messages.list"),
    Route(f"{GMAIL}/messages/<message_id>", ("GET",), gmail.get_message, "gmail", "messages.get"),
    Route(
        f"{GMAIL}/messages/<parent_id>/attachments/<attachment_id>",
        ("GET",),
        gmail.get_attachment,
        "gmail",
        "messages.attachments.get",
    ),
    Route(f"{GMAIL}/threads", ("GET",), gmail_threads.list_threads, "gmail", "threads.list"),
    Route(f"{GMAIL}/threads/<thread_id>", ("GET",), gmail_threads.get_thread, "gmail", "threads.get"),
    Route(f"{GMAIL}/history", ("GET",), gmail.list_history, "gmail", "history.list"),
    Route(f"{GMAIL}/profile", ("GET",), gmail.get_profile, "gmail", "getProfile"),
    Route(f"{GMAIL}/labels", ("GET",), gmail_labels.list_labels, "gmail", "labels.list"),
    Route(f"{GMAIL}/labels/<label_id>", ("GET",), gmail_labels.get_label, "gmail", "labels.get"),
    Route(f"{GMAIL}/watch", ("POST",), gmail_watch.watch, "gmail", "watch"),
    Route(f"{GMAIL}/stop", ("POST",), gmail_watch.stop, "gmail", "stop"),
    Route("/batch/gmail/v1", ("POST",), batch.handle, "batch"),
    Route("/batch", ("POST",), batch.handle, "batch"),
    Route("/_emulator/accounts", ("POST",), control.create_account, "control"),
    Route("/_emulator/accounts", ("GET",), control.list_accounts, "control"),
    Route(ACCOUNT, ("GET",), control.get_account, "control"),
    Route(f"{ACCOUNT}/messages", ("POST",), control.deliver, "control"),
    Route(f"{ACCOUNT}/messages/<message_id>/labels", ("POST",), control.change_labels, "control"),
    Route(f"{ACCOUNT}/messages/<message_id>", ("DELETE",), control.delete_message, "control"),
    Route(f"{ACCOUNT}/threads/<thread_id>/labels", ("POST",), control.change_thread_labels, "control"),
    Route(f"{ACCOUNT}/labels", ("POST",), control.create_label, "control"),
    Route(f"{ACCOUNT}/revoke", ("POST",), control.revoke_account, "control"),
    Route(f"{ACCOUNT}/expire_history", ("POST",), control.expire_history, "control"),
    Route("/_emulator/faults", ("POST",), control.add_fault, "control"),
    Route("/_emulator/faults", ("GET",), control.list_faults, "control"),
    Route("/_emulator/clock", ("POST",), control.advance_clock, "control"),
    Route("/_emulator/clock", ("GET",), control.get_clock, "control"),
    Route("/_emulator/stats", ("GET",), control.stats, "control"),
    Route("/_emulator/realism", ("POST",), control.configure_realism, "control"),
    Route("/_emulator/realism", ("GET",), control.get_realism, "control"),
    Route("/_emulator/reset", ("POST",), control.reset, "control"),
    Route("/_emulator/pubsub", ("GET",), control_pubsub.describe, "control"),
    Route("/_emulator/pubsub/topics", ("POST",), control_pubsub.create_topic, "control"),
    Route("/_emulator/pubsub/subscriptions", ("POST",), control_pubsub.create_subscription, "control"),
    Route("/_emulator/pubsub/faults", ("POST",), control_pubsub.add_faults, "control"),
    Route("/_emulator/pubsub/faults", ("GET",), control_pubsub.list_faults, "control"),
    Route("/_emulator/pubsub/stats", ("GET",), control_pubsub.stats, "control"),
)


def _build_map(routes: Iterable[Route]) -> tuple[Map, dict[str, Route]]:
    by_endpoint: dict[str, Route] = {}
    rules = []
    for n, route in enumerate(routes):
        endpoint = f"{n}:{route.rule}"
        by_endpoint[endpoint] = route
        rules.append(Rule(route.rule, methods=list(route.methods), endpoint=endpoint))
    return Map(rules, strict_slashes=False, merge_slashes=False), by_endpoint


class EmulatorApp:
    def __init__(self, state: State) -> None:
        self.state = state
        self.url_map, self.routes = _build_map(ROUTES)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        try:
            response = self.handle(request, batched=False)
        except Exception:
            log.exception("emulator error on %s %s", request.method, request.path)
            response = errors.api_error(500, "Internal error in the Google emulator.", "backendError")
        return response(environ, start_response)

    def _match(self, request: Request) -> tuple[Route, dict[str, str]] | Response:
        adapter = self.url_map.bind_to_environ(request.environ)
        try:
            endpoint, args = adapter.match()
        except NotFound:
            return errors.api_error(404, f"The requested URL {request.path} was not found.", "notFound")
        except MethodNotAllowed:
            return errors.api_error(
                405, f"Method {request.method} is not allowed for {request.path}.", "badRequest"
            )
        except HTTPException as exc:  # e.g. a redirect for a trailing slash
            return exc.get_response()  # type: ignore[return-value]
        return self.routes[str(endpoint)], dict(args)

    def handle(self, request: Request, *, batched: bool, slots: BatchSlots | None = None) -> Response:
        matched = self._match(request)
        if isinstance(matched, Response):
            return matched
        route, args = matched
        if batched and route.kind != "gmail":
            return errors.api_error(404, f"{request.path} cannot be called inside a Gmail batch.", "notFound")
        if route.kind == "control":
            return route.handler(self.state, request, **args)
        with self.state.lock:
            method = "GET" if request.method == "HEAD" else request.method
            key = f"{method} {route.path_template}"
            self.state.stats.count(key, batched=batched)
            fault = self.state.faults.take(request.path)
            limit = self.state.realism.settings.concurrent_batch_limit
        if fault is not None:
            if fault.latency_ms:
                time.sleep(fault.latency_ms / 1000)
            failure = fault.error_response(METHODS[route.method].rpc if route.method else None)
            if failure is not None:
                return failure
        if route.kind == "batch":  # each part goes through this same method, counted as batched
            shared = BatchSlots(limit)
            return batch.handle(request, lambda inner: self.handle(inner, batched=True, slots=shared))
        request.environ[ROUTE_KEY] = key
        if slots is not None:
            request.environ[BATCH_SLOTS_KEY] = slots
        return route.handler(self.state, request, **args)
