"""Unit tests: no sockets. AWS is moto in-process, with resources created from template.yaml."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws

from infra.cfn import load_template
from infra.local_stack.provision import provision_aws
from tests.conftest import CLIENT_CONFIG
from tests.support.product import TEMPLATE, reset_caches


@pytest.fixture(autouse=True)
def _no_sockets(socket_disabled: None) -> None:
    """pytest-socket: a unit test that reaches for the network fails."""


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """moto in-process with the template's tables, key and secret; the functions' environment set."""
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        environment = provision_aws(load_template(TEMPLATE), CLIENT_CONFIG)
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("PUBLIC_BASE_URL", "http://127.0.0.1:3000")
        reset_caches()
        yield environment
