"""Exact call counts: the AWS calls the product's own boto3 clients make, and the logs it writes.

AWS calls are counted with botocore's `before-call` event on the product's cached clients (the
ones `gmail_connect.core.aws.client` hands out), so nothing of ours is mocked: one count per API
call, whatever botocore does underneath. Logs are the Powertools handler's own output.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from gmail_connect.core import aws, observability

SERVICES = ("dynamodb", "kms", "secretsmanager")


class AwsCalls:
    """`service:Operation` of every call made from now on by the product's clients."""

    def __init__(self, services: tuple[str, ...] = SERVICES) -> None:
        self.calls: list[str] = []
        for service in services:
            aws.client(service).meta.events.register("before-call", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.calls.append(f"{model.service_model.service_name}:{model.name}")

    def reset(self) -> None:
        self.calls.clear()


@contextmanager
def captured_logs() -> Iterator[io.StringIO]:
    """Point the product's log handler at a buffer: exactly what would reach CloudWatch."""
    buffer = io.StringIO()
    previous = observability.logger.registered_handler.setStream(buffer)
    try:
        yield buffer
    finally:
        observability.logger.registered_handler.setStream(previous)
