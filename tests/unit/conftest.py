"""Unit tests: no sockets. AWS is moto in-process, with resources created from template.yaml."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from infra.cfn import load_template
from tests.conftest import CLIENT_CONFIG
from tests.support.moto_account import MotoAccount
from tests.support.product import TEMPLATE, reset_caches


@pytest.fixture(autouse=True)
def _no_sockets(socket_disabled: None) -> None:
    """pytest-socket: a unit test that reaches for the network fails."""


@pytest.fixture(scope="package")
def moto_account() -> Iterator[MotoAccount]:
    """The template's resources in moto, provisioned once for the unit tests (provisioning per
    test was most of their run time); moto's mock stays on until the last unit test is done."""
    account = MotoAccount(load_template(TEMPLATE), CLIENT_CONFIG)
    account.start()
    yield account
    account.stop()


@pytest.fixture
def aws(moto_account: MotoAccount, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """moto in-process with the template's tables, key and secret, exactly as provisioned (see
    ``MotoAccount.restore``); the functions' environment set.

    The product's clients are new in every test (``reset_caches``); boto3's default session,
    which only holds parsed service models and the credentials set here, lasts while moto's
    mock does: loading the models again per test would double the run time."""
    moto_account.restore()
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    environment = dict(moto_account.environment)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PUBLIC_BASE_URL", "http://127.0.0.1:3000")
    reset_caches()
    return environment
