"""boto3 clients, created lazily once per container with explicit timeouts.

Lazy so that moto can start before the first client in tests, and cached so that warm
invocations reuse connections. `AWS_ENDPOINT_URL` (read by boto3 itself) points them at
moto's server locally.
"""

from __future__ import annotations

import functools
from typing import Any

import boto3
from botocore.config import Config

# Well inside API Gateway's 30 s limit even after botocore's standard retries.
AWS_CLIENT_CONFIG = Config(
    connect_timeout=2,
    read_timeout=4,
    retries={"mode": "standard", "total_max_attempts": 3},
)


@functools.cache
def client(service: str) -> Any:
    return boto3.client(service, config=AWS_CLIENT_CONFIG)  # type: ignore[call-overload]


def reset_clients() -> None:
    """Forget cached clients (tests switch between moto backends)."""
    client.cache_clear()
