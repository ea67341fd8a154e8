"""``GoogleEmulator``: the public entry point. Serves the WSGI app on loopback in a thread."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from types import TracebackType
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .server import EmulatorApp
from .state import State

_http_log = logging.getLogger("infra.google_emulator.http")


class _RequestHandler(WSGIRequestHandler):
    """Send werkzeug's access log to our logger (silent unless logging is configured)."""

    def log(self, type: str, message: str, *args: Any) -> None:
        _http_log.info("%s " + message, self.address_string(), *args)


class GoogleEmulator:
    """A stand-in for Google's OAuth 2.0, userinfo and Gmail v1 endpoints.

    >>> emu = GoogleEmulator(port=0).start()
    >>> config = emu.client_config(redirect_uris=["http://127.0.0.1:3000/oauth/callback"])
    >>> emu.stop()
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        clients: Iterable[dict[str, str]] | None = None,
        demo: bool = True,
    ) -> None:
        self.host = host
        self.port = port
        self.state = State(clients, demo)
        self.app = EmulatorApp(self.state)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("GoogleEmulator is not started")
        return f"http://{self.host}:{self.port}"

    def start(self) -> GoogleEmulator:
        if self._server is not None:
            return self
        self._server = make_server(
            self.host, self.port, self.app, threaded=True, request_handler=_RequestHandler
        )
        self.port = self._server.server_port
        self.state.base_url = self.url
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # how quickly stop() takes effect
            name="google-emulator",
            daemon=True,
        )
        self._thread.start()
        self.state.dispatcher.start()
        return self

    def stop(self) -> None:
        """Stop serving and stop push delivery (a push in flight finishes; queued ones are dropped)."""
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self.state.dispatcher.stop()
        self._server = self._thread = None

    def client_config(
        self, redirect_uris: Iterable[str] | None = None, client_id: str | None = None
    ) -> dict[str, Any]:
        """A ``client_secret.json``-shaped config for this emulator; registers the redirect URIs."""
        client_id = client_id or next(iter(self.state.clients))
        client = self.state.register_redirect_uris(client_id, redirect_uris or [])
        return {
            "web": {
                "client_id": client.client_id,
                "client_secret": client.client_secret,
                "project_id": client.project_id,
                "auth_uri": f"{self.url}/o/oauth2/v2/auth",
                "token_uri": f"{self.url}/token",
                "auth_provider_x509_cert_url": f"{self.url}/oauth2/v1/certs",
                "redirect_uris": list(client.redirect_uris),
            }
        }

    def push_subscription(
        self,
        topic: str,
        push_endpoint: str,
        *,
        audience: str | None = None,
        service_account_email: str | None = None,
        subscription_id: str | None = None,
        min_backoff_seconds: float = 10.0,
        max_backoff_seconds: float = 600.0,
    ) -> str:
        """Register a Pub/Sub push subscription (and its topic, Gmail allowed to publish); its name.

        The same as ``POST /_emulator/pubsub/subscriptions``, for code that runs the emulator in-process.
        """
        with self.state.lock:
            subscription = self.state.pubsub.add_subscription(
                topic,
                subscription_id,
                push_endpoint=push_endpoint,
                audience=audience,
                service_account_email=service_account_email,
                min_backoff_seconds=min_backoff_seconds,
                max_backoff_seconds=max_backoff_seconds,
            )
        return subscription.name

    def __enter__(self) -> GoogleEmulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
