"""LocalStack with the real Google's client config, and a start-up failure. Each test has a
stack of its own: moto's state is per process, so they cannot share test_stack's stack."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import boto3
import pytest

from infra.local_stack.stack import ContainerHostUnavailable, LocalStack, PortInUse
from tests.local_stack.conftest import FIXTURE_TEMPLATE, Client, StandInGoogle


def _refused(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def test_real_google_mode_uses_the_client_secrets_file_and_no_emulator(
    tmp_path: Path, stand_in_google: type[StandInGoogle], clean_environ: None
) -> None:
    # Given a client_secret.json as Google hands it out
    secrets_file = tmp_path / "client_secret.json"
    content = {
        "web": {"client_id": "real.apps.googleusercontent.com", "client_secret": "s", "project_id": "p"}
    }
    secrets_file.write_text(json.dumps(content), encoding="utf-8")
    os.environ["GMAIL_API_URL"] = "http://left-over.invalid"
    try:
        # When the stack starts with it
        with LocalStack(
            port=0,
            google_port=0,
            aws_port=0,
            client_secrets=str(secrets_file),
            template=FIXTURE_TEMPLATE,
            emulator_factory=stand_in_google,
        ) as local:
            environment = Client(local.api_url).request("GET", "/echo").json()["environment"]
            secret = boto3.client("secretsmanager").get_secret_value(
                SecretId=environment["GOOGLE_CLIENT_SECRET_ID"]
            )
            urls = (local.api_url, local.aws_url)
            # Then no emulator runs and Google's own endpoints apply (the variables are unset)
            assert local.google is None
            assert stand_in_google.instances == []
            assert [
                environment[name] for name in ("GOOGLE_REVOKE_URI", "GOOGLE_USERINFO_URI", "GMAIL_API_URL")
            ] == [
                None,
                None,
                None,
            ]
            assert environment["OAUTHLIB_INSECURE_TRANSPORT"] is None
            assert environment["PUBLIC_BASE_URL"] == local.api_url
            # And the secret holds the file as it is
            assert json.loads(secret["SecretString"]) == content
        # And after stop both servers are gone and the environment is back
        assert all(_refused(url) for url in urls)
        assert os.environ["GMAIL_API_URL"] == "http://left-over.invalid"
        assert "AWS_ENDPOINT_URL" not in os.environ
    finally:
        os.environ.pop("GMAIL_API_URL", None)


def test_a_taken_port_fails_start_and_releases_the_others(stand_in_google: type[StandInGoogle]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        local = LocalStack(
            port=0, google_port=0, aws_port=port, template=FIXTURE_TEMPLATE, emulator_factory=stand_in_google
        )
        with pytest.raises(PortInUse, match=f"port {port} .*AWS_EMULATOR_PORT"):
            local.start()
    # The API port bound before the failure was released
    assert local._http is None


def test_a_container_host_that_is_not_this_machines_fails_start(stand_in_google: type[StandInGoogle]) -> None:
    # 192.0.2.1 is TEST-NET-1 (RFC 5737): never an address of this machine
    local = LocalStack(
        port=0,
        google_port=0,
        aws_port=0,
        template=FIXTURE_TEMPLATE,
        emulator_factory=stand_in_google,
        container_host="192.0.2.1",
    )
    with pytest.raises(ContainerHostUnavailable, match=r"192\.0\.2\.1:\d+ .*LOCAL_CONTAINER_HOST"):
        local.start()
    assert local._http is None  # what had started is stopped again
