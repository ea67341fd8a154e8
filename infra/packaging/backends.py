"""Emulated AWS and Google for the built handlers, on loopback.

The built handlers run in other processes, so they need the emulators as servers (moto's
server, not its in-process mock) and an environment that names them: the template's resolved
variables plus the local endpoints. Nothing here talks to a real account.
"""

from __future__ import annotations

import contextlib
import logging
import os
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra import cfn
from infra.packaging.sam_build import TEMPLATE

__all__ = ["Backends", "local_backends"]


@dataclass(frozen=True)
class Backends:
    """Emulated AWS and Google for built handlers; ``env`` is what a function's process gets."""

    env: dict[str, str]
    aws_url: str
    google_url: str
    client_config: dict[str, Any]


@contextlib.contextmanager
def _environ(values: Mapping[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def local_backends(
    public_base_url: str = "http://127.0.0.1:3000", region: str = "us-east-1", template: str | Path = TEMPLATE
) -> Iterator[Backends]:
    """moto's server and the Google emulator on loopback, with the template's resources
    provisioned in an empty moto account (``provision_aws``); yields the environment the
    built functions get: the template's resolved variables plus the local endpoints."""
    from moto.server import ThreadedMotoServer

    from infra.google_emulator import GoogleEmulator
    from infra.local_stack.provision import provision_aws

    # moto's server logs every AWS call through werkzeug's logger: keep it quiet meanwhile.
    werkzeug_logger = logging.getLogger("werkzeug")
    saved_level = werkzeug_logger.level
    werkzeug_logger.setLevel(logging.WARNING)
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    google = None
    try:
        aws_url = f"http://127.0.0.1:{moto.get_host_and_port()[1]}"
        # moto's state is per process: start from an empty account.
        reset = urllib.request.Request(f"{aws_url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(reset, timeout=10) as response:
            response.read()
        google = GoogleEmulator(host="127.0.0.1", port=0, demo=True).start()
        client_config = google.client_config(redirect_uris=[f"{public_base_url}/oauth/callback"])
        aws = {
            "AWS_ENDPOINT_URL": aws_url,
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }
        with _environ(aws):
            provisioned = provision_aws(cfn.load_template(template), client_config)
        env = {
            **provisioned,
            **aws,
            "OAUTHLIB_INSECURE_TRANSPORT": "1",
            "PUBLIC_BASE_URL": public_base_url,
            "GOOGLE_REVOKE_URI": f"{google.url}/revoke",
            "GOOGLE_USERINFO_URI": f"{google.url}/v1/userinfo",
            "GMAIL_API_URL": google.url,
        }
        yield Backends(env=env, aws_url=aws_url, google_url=google.url, client_config=client_config)
    finally:
        if google is not None:
            google.stop()
        moto.stop()
        werkzeug_logger.setLevel(saved_level)
