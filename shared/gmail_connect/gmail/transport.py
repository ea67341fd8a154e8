"""How Gmail calls travel: the resource tree built once, and a per-thread HTTP connection.

The resource tree comes from the packaged discovery document (no network) with the endpoint
from configuration, once per container. Connections are per thread because httplib2 is not
thread-safe (the sync worker syncs users in parallel); a warm container reuses its TLS
connection from one invocation to the next.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from gmail_connect.core.config import get_settings
from gmail_connect.gmail import retry


def api_url() -> str:
    return str(get_settings().gmail_api_url).rstrip("/")


@functools.cache
def _service(api_endpoint: str) -> Any:
    """The Gmail resource tree, built once per container from the packaged discovery document.

    Its own http object is never used to send (every call passes the user's authorized http);
    it only keeps `build` from looking for application default credentials (and has a timeout).
    """
    import httplib2
    from googleapiclient.discovery import build

    return build(
        "gmail",
        "v1",
        http=httplib2.Http(timeout=retry.DEFAULT.min_attempt_seconds),
        static_discovery=True,
        client_options={"api_endpoint": api_endpoint},
    )


@functools.cache
def _resource(api_endpoint: str, path: str) -> Any:
    node = _service(api_endpoint).users()
    for name in filter(None, path.split(".")):
        node = getattr(node, name)()
    return node


def resource(path: str = "") -> Any:
    """`users()` (path "") or a collection under it ("messages", "messages.attachments"), built once.

    googleapiclient builds a new resource object at every `users()` / `messages()` call (measured:
    ~16 % of an idle sync's CPU); the objects only make request objects, so threads may share them.
    """
    return _resource(api_url(), path)


_local = threading.local()


def connection(deadline: retry.Deadline) -> Any:
    """This thread's httplib2 connection to Google, or a one-off one when the deadline is nearer."""
    import httplib2

    ceiling = min(get_settings().google_timeout_seconds, retry.DEFAULT.attempt_timeout_seconds)
    timeout = retry.DEFAULT.attempt_timeout(deadline, ceiling)
    if timeout < ceiling:
        return httplib2.Http(timeout=timeout)
    pooled = getattr(_local, "http", None)
    if pooled is None or pooled.timeout != ceiling:
        pooled = _local.http = httplib2.Http(timeout=ceiling)
    return pooled


def drop_connection() -> None:
    """After a timeout or reset the pooled connection may hold half a response: start afresh."""
    _local.http = None
