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


# Presigned S3 URLs: SigV4 (SigV2 is still botocore's default for some S3 presigns, and deprecated).
_SERVICE_CONFIG = {"s3": Config(signature_version="s3v4")}


@functools.cache
def client(service: str) -> Any:
    config = (
        AWS_CLIENT_CONFIG.merge(_SERVICE_CONFIG[service]) if service in _SERVICE_CONFIG else AWS_CLIENT_CONFIG
    )
    return boto3.client(service, config=config)  # type: ignore[call-overload]


def reset_clients() -> None:
    """Forget cached clients (tests switch between moto backends)."""
    client.cache_clear()
