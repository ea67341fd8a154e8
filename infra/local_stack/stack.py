"""``LocalStack``: the whole product on loopback, in one process.

1. the AWS emulator: moto's server (``ThreadedMotoServer``) on ``aws_port``;
2. Google: the Google emulator on ``google_port`` with the redirect URI
   ``<api_url>/oauth/callback`` registered, or, with ``client_secrets``, the real Google
   (that file is the client config, and Google's own endpoints are used);
3. the template's tables, KMS key, secret (holding the client config), queues and buses,
   created in moto from ``template.yaml``'s own definitions (``provision.provision_aws``),
   in an empty account (moto's state is process-wide, so ``start()`` resets it first), and
   the event tap: every event on those buses copied to the queue ``local-event-tap``
   (``event_tap``);
4. the HTTP front (``front.Front``) on ``port``, calling the handlers in this process, and
   beside it the console's local-only routes under ``/_local/`` (``local_console``).

The handlers read their configuration from ``os.environ``, as in Lambda, so ``start()``
sets the process environment (the template's function environment, resolved against the
local resources, plus the local endpoints) and ``stop()`` puts back what was there before.
Port 0 picks a free port; ``api_url``/``aws_url``/``google.url`` tell which.
"""

from __future__ import annotations

import errno
import ipaddress
import json
import os
import socket
import sys
import threading
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from infra import cfn
from infra.local_stack import sigv4
from infra.local_stack.event_tap import EventTap, create_event_tap, template_buses
from infra.local_stack.front import Front
from infra.local_stack.handlers import load_handler
from infra.local_stack.local_console import CONSOLE_QUEUE_NAME, PREFIX, LocalConsole, SyncWorker
from infra.local_stack.provision import provision_aws
from infra.local_stack.queue_poller import QueuePoller
from infra.local_stack.request_handler import FrontRequestHandler
from infra.local_stack.sam_local import DEFAULT_CONTAINER_HOST

__all__ = ["HOST", "ContainerHostUnavailable", "LocalStack", "PortInUse"]

HOST = "127.0.0.1"
REGION = "us-east-1"
CALLBACK_PATH = "/oauth/callback"
# Gmail push locally: the emulator's project, and the push subscription's service account.
LOCAL_PUSH_TOPIC = "projects/google-emulator/topics/gmail-push"
LOCAL_PUSH_SERVICE_ACCOUNT = "gmail-push@google-emulator.iam.gserviceaccount.com"
GOOGLE_ENDPOINT_VARIABLES = ("GOOGLE_REVOKE_URI", "GOOGLE_USERINFO_URI", "GMAIL_API_URL")
SYNC_WORKER_ID = "SyncWorkerFunction"


class PortInUse(RuntimeError):
    """A port the local stack was asked to listen on is taken."""

    def __init__(self, what: str, variable: str, port: int) -> None:
        super().__init__(f"port {port} for the {what} is already in use (set {variable} to move it)")
        self.port = port
        self.variable = variable


class _QuietMotoRequestHandler(MotoRequestHandler):
    """moto's request handler without a log line per AWS call (the handlers make many)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return


class ContainerHostUnavailable(RuntimeError):
    """``LOCAL_CONTAINER_HOST`` is an IP address the emulators cannot listen on."""

    def __init__(self, host: str, what: str, port: int, error: OSError) -> None:
        super().__init__(
            f"cannot serve the {what} on {host}:{port} for containers ({error.strerror}); "
            f"set LOCAL_CONTAINER_HOST to an address of this machine, e.g. docker0's"
        )


def _listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket, bound here so that a taken port raises ``OSError`` in the
    caller (werkzeug's ``make_server`` prints and calls ``sys.exit(1)`` instead, which in
    ``ThreadedMotoServer``'s thread leaves ``start()`` waiting forever)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as werkzeug does
        sock.bind((host, port))
        sock.listen(128)
    except BaseException:
        sock.close()
        raise
    return sock


def _serve_on(sock: socket.socket, app: Any, handler: type[WSGIRequestHandler]) -> BaseWSGIServer:
    """A threaded werkzeug server on an already listening socket (which it takes over)."""
    host, port = sock.getsockname()[:2]
    try:
        return make_server(host, port, app, threaded=True, request_handler=handler, fd=sock.fileno())
    finally:
        sock.close()  # the server holds its own duplicate of the descriptor


class _MotoServer(ThreadedMotoServer):
    """moto's ``ThreadedMotoServer`` on a socket bound in ``start()``'s caller, so a taken port
    raises there; requests are not logged (the handlers make many)."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__(ip_address=host, port=port, verbose=False)
        self._socket: socket.socket | None = None
        self.error: BaseException | None = None
        self.app: DomainDispatcherApplication | None = None

    def _server_entry(self) -> None:
        try:
            if self._socket is None:
                raise RuntimeError("_MotoServer.start() binds the socket before the thread runs")
            self.app = DomainDispatcherApplication(create_backend_app)
            self._server = _serve_on(self._socket, self.app, _QuietMotoRequestHandler)
        except BaseException as error:
            self.error = error
            self._server_ready_event.set()
            return
        self._server_ready_event.set()
        self._server.serve_forever()

    def start(self) -> None:
        self._socket = _listen(self._ip_address, self._port)
        super().start()
        if self.error is not None:
            if self._thread is not None:
                self._thread.join()
            raise self.error


def _address_in_use(error: BaseException) -> bool:
    """Whether ``error`` (or what caused it) is "address already in use"."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, OSError) and current.errno == errno.EADDRINUSE:
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def _default_emulator_factory(**kwargs: Any) -> Any:
    from infra.google_emulator import GoogleEmulator

    return GoogleEmulator(**kwargs)


class LocalStack:
    """The product on loopback: moto + Google (emulated or real) + the HTTP API front."""

    def __init__(
        self,
        port: int = 3000,
        google_port: int = 3001,
        aws_port: int = 3002,
        client_secrets: str | None = None,
        template: str | Path = "template.yaml",
        *,
        emulator_factory: Callable[..., Any] | None = None,
        sigv4_credentials: sigv4.Credentials | None = None,
        container_host: str = DEFAULT_CONTAINER_HOST,
    ) -> None:
        """``template`` is read relative to the working directory; each function's
        ``CodeUri`` is relative to the template's folder, as with ``sam build``.
        ``emulator_factory(host=, port=, demo=)`` replaces ``GoogleEmulator`` (tests).
        ``sigv4_credentials``: the key pair AWS_IAM routes accept (default: ``AKIDLOCAL`` /
        ``local-secret``, or ``LOCAL_SIGV4_ACCESS_KEY_ID`` / ``LOCAL_SIGV4_SECRET_ACCESS_KEY``).
        ``container_host``: how a Docker container (``sam local``) reaches this machine; when it is
        an IP address of this machine other than 127.0.0.1 (Linux: the ``docker0`` bridge's),
        the AWS and Google emulators also listen there, on the same ports."""
        self.port = port
        self.google_port = google_port
        self.aws_port = aws_port
        self.client_secrets = client_secrets
        self.template_path = Path(template).resolve()
        self.emulator_factory = emulator_factory or _default_emulator_factory
        self.sigv4_credentials = sigv4_credentials or sigv4.local_credentials(os.environ)
        self.container_host = container_host
        self._container_servers: list[tuple[BaseWSGIServer, threading.Thread]] = []
        self.template: dict[str, Any] = {}
        self.client_config: dict[str, Any] = {}
        self.environment: dict[str, str] = {}
        self.front: Front | None = None
        self.event_tap: EventTap | None = None
        self._poller: QueuePoller | None = None
        self.local_console: LocalConsole | None = None
        self._moto: _MotoServer | None = None
        self._google: Any = None
        self._http: BaseWSGIServer | None = None
        self._http_thread: threading.Thread | None = None
        self._saved_environ: dict[str, str | None] = {}
        self._started = False

    # -- properties ---------------------------------------------------------------------
    @property
    def api_url(self) -> str:
        if self._http is None:
            raise RuntimeError("LocalStack is not started")
        return f"http://{HOST}:{self._http.port}"

    @property
    def aws_url(self) -> str:
        if self._moto is None:
            raise RuntimeError("LocalStack is not started")
        host, port = self._moto.get_host_and_port()
        return f"http://{host}:{port}"

    @property
    def google(self) -> Any:
        """The Google emulator, or ``None`` when talking to the real Google."""
        return self._google

    @property
    def redirect_uri(self) -> str:
        return self.api_url + CALLBACK_PATH

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> LocalStack:
        if self._started:
            raise RuntimeError("LocalStack is already started")
        self._started = True
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        self.template = cfn.load_template(self.template_path)
        if self.client_secrets is not None:
            # Read first: a wrong path fails before anything listens.
            self.client_config = json.loads(Path(self.client_secrets).read_text(encoding="utf-8"))

        # 1. Bind the API port now (requests wait in the backlog until serving starts), so
        #    its URL is known for the redirect URI and a taken port fails fast.
        try:
            self._http = _serve_on(_listen(HOST, self.port), self._dispatch, FrontRequestHandler)
        except OSError as error:
            if _address_in_use(error):
                raise PortInUse("HTTP API", "PORT", self.port) from error
            raise

        # 2. AWS.
        moto = _MotoServer(HOST, self.aws_port)
        try:
            moto.start()
        except OSError as error:
            if _address_in_use(error):
                raise PortInUse("AWS emulator", "AWS_EMULATOR_PORT", self.aws_port) from error
            raise
        self._moto = moto
        # moto's state is per process, not per server: start from an empty account even if
        # this process has used moto before (tests start several stacks in one process).
        reset = urllib.request.Request(f"{self.aws_url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(reset, timeout=10) as response:
            response.read()

        # 3. Google.
        if self.client_secrets is None:
            try:
                if self.google_port:
                    # The emulator binds its own socket; find a taken port before it tries.
                    _listen(HOST, self.google_port).close()
                self._google = self.emulator_factory(host=HOST, port=self.google_port, demo=True).start()
            except Exception as error:
                if _address_in_use(error):
                    raise PortInUse("Google emulator", "GOOGLE_EMULATOR_PORT", self.google_port) from error
                raise
            self.client_config = self._google.client_config(redirect_uris=[self.redirect_uri])

        # 3b. Where containers can reach AWS and Google, if that is not loopback.
        self._serve_for_containers()

        # 4. The environment the handlers (and provisioning) read.
        self._set_environ(self._base_environment())
        provisioned = provision_aws(self.template, self.client_config)
        local = {**provisioned, **self._local_endpoints()}
        if self.client_secrets is not None:
            # Real Google: the product's defaults are Google's own endpoints.
            for name in GOOGLE_ENDPOINT_VARIABLES:
                local.pop(name, None)
        self.environment = {**self._base_environment(), **local}
        self._set_environ(local, unset=GOOGLE_ENDPOINT_VARIABLES if self.client_secrets else ())
        self.event_tap = create_event_tap(template_buses(self.template))
        pushing = self._wire_push()
        console_events = create_event_tap(template_buses(self.template), queue_name=CONSOLE_QUEUE_NAME)

        # 5. Serve.
        self.front = Front(self.template, root=self.template_path.parent, credentials=self.sigv4_credentials)
        self.local_console = LocalConsole(
            api_url=self.api_url,
            events_queue_url=console_events.queue_url,
            google_url=self._google.url if self._google is not None else None,
            # With push wired, a delivered message reaches the worker through /push/gmail and the
            # sync queue: the console must not run a second, overlapping sync of the mailbox.
            worker=None if pushing else self._sync_worker(),
            invoke_lock=self.front.invoke_lock,
        )
        self._http_thread = threading.Thread(
            target=self._http.serve_forever, name="local-stack-http", daemon=True
        )
        self._http_thread.start()
        # 6. Lambda's SQS event source for the sync worker: pushes and new connections sync at once.
        worker = self._sync_worker()
        if worker is not None:
            self._poller = QueuePoller(
                self.environment["SYNC_QUEUE_URL"], worker.handler, region=REGION
            ).start()

    def _wire_push(self) -> bool:
        """Gmail push, as docs/push.md sets it up on Google Cloud: the emulator publishes mailbox
        changes to a topic whose push subscription posts them, OIDC-signed, to /push/gmail."""
        if self._google is None or not hasattr(self._google, "push_subscription"):
            return False
        endpoint = f"{self.api_url}/push/gmail"
        push = {
            "GMAIL_PUSH_TOPIC": LOCAL_PUSH_TOPIC,
            "PUSH_AUDIENCE": endpoint,
            "PUSH_SERVICE_ACCOUNT": LOCAL_PUSH_SERVICE_ACCOUNT,
            "GOOGLE_CERTS_URL": f"{self._google.url.rstrip('/')}/oauth2/v1/certs",
        }
        self._google.push_subscription(
            LOCAL_PUSH_TOPIC,
            endpoint,
            audience=endpoint,
            service_account_email=LOCAL_PUSH_SERVICE_ACCOUNT,
            min_backoff_seconds=0.5,
            max_backoff_seconds=5,
        )
        self.environment.update(push)
        self._set_environ({**self.environment, **push})
        return True

    def stop(self) -> None:
        """Stop what ``start()`` started (idempotent) and restore the environment."""
        if self._poller is not None:
            self._poller.stop()
            self._poller = None
        if self._http is not None:
            if self._http_thread is not None:
                self._http.shutdown()  # serve_forever closes the socket on its way out
                self._http_thread.join()
            else:
                self._http.server_close()
            self._http_thread = None
            self._http = None
        for server, thread in self._container_servers:
            server.shutdown()
            thread.join()
        self._container_servers.clear()
        if self._google is not None:
            try:
                self._google.stop()
            except Exception as error:  # keep stopping the rest
                print(f"local stack: stopping the Google emulator failed: {error!r}", file=sys.stderr)
            self._google = None
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
        self._restore_environ()
        self._started = False

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- internals ----------------------------------------------------------------------
    def _serve_for_containers(self) -> None:
        """Serve moto's and the Google emulator's apps on ``container_host`` too, if it is an IP
        address to bind other than ``HOST`` (a name such as ``host.docker.internal`` is Docker's
        business: Docker Desktop forwards it to this machine's loopback)."""
        try:
            address = ipaddress.ip_address(self.container_host)
        except ValueError:
            return
        if address.is_unspecified or str(address) == HOST:
            return
        apps: list[tuple[str, int, Any, type[WSGIRequestHandler]]] = []
        if self._moto is not None and self._moto.app is not None:
            apps.append(
                ("AWS emulator", self._moto.get_host_and_port()[1], self._moto.app, _QuietMotoRequestHandler)
            )
        google_app = getattr(self._google, "app", None)
        if google_app is not None:
            apps.append(("Google emulator", urlsplit(self._google.url).port, google_app, WSGIRequestHandler))
        for what, port, app, handler in apps:
            try:
                server = _serve_on(_listen(str(address), port), app, handler)
            except OSError as error:
                raise ContainerHostUnavailable(self.container_host, what, port, error) from error
            thread = threading.Thread(target=server.serve_forever, name=f"local-stack-{what}", daemon=True)
            thread.start()
            self._container_servers.append((server, thread))

    def _dispatch(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if self.front is None or self.local_console is None:  # cannot happen: serving starts after both
            start_response("503 Service Unavailable", [("Content-Length", "0")])
            return [b""]
        if str(environ.get("PATH_INFO", "")).startswith(PREFIX):
            return self.local_console(environ, start_response)
        return self.front(environ, start_response)

    def _sync_worker(self) -> SyncWorker | None:
        """The template's sync worker, for the console's "deliver a test message" (None without one)."""
        functions = cfn.resources_of_type(self.template, cfn.SERVERLESS_FUNCTION)
        worker = functions.get(SYNC_WORKER_ID)
        queue_url = self.environment.get("SYNC_QUEUE_URL")
        if worker is None or not queue_url:
            return None
        properties = worker.get("Properties") or {}
        globals_ = (self.template.get("Globals") or {}).get("Function") or {}
        queue_arn = boto3.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        return SyncWorker(
            handler=load_handler(
                str(properties.get("CodeUri", globals_.get("CodeUri"))),
                str(properties.get("Handler", globals_.get("Handler", "app.handler"))),
                self.template_path.parent,
            ),
            function_id=SYNC_WORKER_ID,
            timeout_seconds=float(properties.get("Timeout", globals_.get("Timeout", 3))),
            queue_arn=queue_arn,
        )

    def _base_environment(self) -> dict[str, str]:
        environment = {
            "AWS_ENDPOINT_URL": self.aws_url,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }
        if self._google is not None:
            environment["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
        return environment

    def _local_endpoints(self) -> dict[str, str]:
        # Connect links may return to an application on loopback (any port), as locally it runs there.
        endpoints = {"PUBLIC_BASE_URL": self.api_url, "ALLOW_LOOPBACK_RETURN_URLS": "1"}
        if self._google is not None:
            url = self._google.url.rstrip("/")
            endpoints["GOOGLE_REVOKE_URI"] = getattr(self._google, "revoke_uri", None) or f"{url}/revoke"
            endpoints["GOOGLE_USERINFO_URI"] = (
                getattr(self._google, "userinfo_uri", None) or f"{url}/v1/userinfo"
            )
            endpoints["GMAIL_API_URL"] = getattr(self._google, "gmail_api_url", None) or url
        return endpoints

    def _set_environ(self, values: Mapping[str, str], unset: tuple[str, ...] = ()) -> None:
        # Nothing may reach a real AWS account: no session token or profile next to the dummy
        # keys, no per-service endpoint that would bypass AWS_ENDPOINT_URL.
        stray = [
            name
            for name in os.environ
            if name in {"AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE"}
            or name.startswith("AWS_ENDPOINT_URL_")
        ]
        for name in [*values, *unset, *stray]:
            self._saved_environ.setdefault(name, os.environ.get(name))
        for name in [*unset, *stray]:
            os.environ.pop(name, None)
        os.environ.update(values)

    def _restore_environ(self) -> None:
        for name, value in self._saved_environ.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_environ.clear()
