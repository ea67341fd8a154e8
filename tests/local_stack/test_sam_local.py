"""infra.local_stack.sam_local: the files ``sam local`` runs the functions with, from a real LocalStack
whose containers' host is 127.0.0.2 (so the emulators also listen there, as they would on docker0)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
import requests

from infra import cfn
from infra.local_stack import sam_local
from infra.local_stack.stack import LocalStack
from tests.local_stack.conftest import FIXTURE, FIXTURE_TEMPLATE, StandInGoogle

ROOT = Path(__file__).resolve().parents[2]
SAM_PYTHON = ROOT / ".venv-sam" / "bin" / "python"
RESOLVE = Path(__file__).with_name("sam_resolve.py")
CONTAINER_HOST = "127.0.0.2"


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    StandInGoogle.instances.clear()
    local = LocalStack(
        port=0,
        google_port=0,
        aws_port=0,
        template=FIXTURE_TEMPLATE,
        emulator_factory=StandInGoogle,
        container_host=CONTAINER_HOST,
    )
    local.start()
    yield local
    local.stop()


def port_of(url: str) -> int:
    port = urlsplit(url).port
    assert port is not None
    return port


def written(stack: LocalStack, root: Path) -> dict[str, dict[str, str]]:
    files = sam_local.write_files(root, stack.template, stack.environment, stack.container_host)
    assert files.env_vars == root / ".aws-sam" / "local-env.json"
    return json.loads(files.env_vars.read_text(encoding="utf-8"))


def aws(service: str, endpoint: str) -> Any:
    return boto3.client(  # type: ignore[call-overload]
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_env_vars_file_has_each_functions_environment_for_a_container(
    stack: LocalStack, tmp_path: Path
) -> None:
    # When the files are written for the running stack
    document = written(stack, tmp_path)
    # Then there is one block per function, and the shared part as Parameters
    assert set(document) == {"Parameters", "EchoFunction", "OtherFunction", "BareFunction"}
    echo, other = document["EchoFunction"], document["OtherFunction"]
    assert echo["ECHO_ONLY"] == "echo"  # the function's own variable
    assert "ECHO_ONLY" not in other
    assert "ECHO_ONLY" not in document["Parameters"]
    assert document["Parameters"]["TOKENS_TABLE"] == "TokensTable"
    # And the endpoints a function calls point at the container host, on the emulators' ports
    google = StandInGoogle.instances[0]
    assert echo["AWS_ENDPOINT_URL"] == f"http://{CONTAINER_HOST}:{port_of(stack.aws_url)}"
    assert echo["GMAIL_API_URL"] == f"http://{CONTAINER_HOST}:{port_of(google.url)}"
    assert echo["GOOGLE_REVOKE_URI"] == f"http://{CONTAINER_HOST}:{port_of(google.url)}/revoke"
    assert urlsplit(echo["SYNC_QUEUE_URL"]).hostname == CONTAINER_HOST
    # But the base URL the browser follows stays on loopback
    assert echo["PUBLIC_BASE_URL"] == stack.api_url
    # And AWS is the embedded one's dummy account
    assert (echo["AWS_ACCESS_KEY_ID"], echo["AWS_SECRET_ACCESS_KEY"]) == ("testing", "testing")
    assert (echo["AWS_REGION"], echo["AWS_DEFAULT_REGION"]) == ("us-east-1", "us-east-1")
    assert echo["OAUTHLIB_INSECURE_TRANSPORT"] == "1"


def test_the_names_resolve_to_resources_at_the_rewritten_endpoints(stack: LocalStack, tmp_path: Path) -> None:
    # Given the file's values, used from "a container": through the container-host listener
    echo = written(stack, tmp_path)["EchoFunction"]
    endpoint = echo["AWS_ENDPOINT_URL"]
    # Then each name is a resource of the running stack's AWS
    assert aws("dynamodb", endpoint).describe_table(TableName=echo["TOKENS_TABLE"])["Table"][
        "TableStatus"
    ] == ("ACTIVE")
    assert aws("dynamodb", endpoint).describe_table(TableName=echo["STATES_TABLE"])["Table"]["TableName"] == (
        "test-states"
    )
    key = aws("kms", endpoint).describe_key(KeyId=echo["TOKEN_KEY_ID"])["KeyMetadata"]
    assert key["Arn"] == echo["TOKEN_KEY_ARN"]
    secret = aws("secretsmanager", endpoint).get_secret_value(SecretId=echo["GOOGLE_CLIENT_SECRET_ID"])
    assert json.loads(secret["SecretString"])["web"]["client_id"] == "stand-in.apps.googleusercontent.com"
    queue = aws("sqs", endpoint).get_queue_attributes(
        QueueUrl=echo["SYNC_QUEUE_URL"], AttributeNames=["QueueArn"]
    )
    assert queue["Attributes"]["QueueArn"] == echo["SYNC_QUEUE_ARN"]
    assert aws("events", endpoint).describe_event_bus(Name=echo["EVENT_BUS"])["Name"] == "fixture-bus"
    # And Google answers at the rewritten URL too
    assert requests.get(echo["GMAIL_API_URL"], timeout=10).json() == {"stand_in": True}


def test_without_a_build_only_the_env_vars_file_is_written(stack: LocalStack, tmp_path: Path) -> None:
    files = sam_local.write_files(tmp_path, stack.template, stack.environment, stack.container_host)
    assert files.template is None
    assert not (tmp_path / ".aws-sam" / "build").exists()


@pytest.fixture
def built(tmp_path: Path) -> Path:
    """A stand-in for `sam build`'s output: the fixture template and code under .aws-sam/build."""
    build = tmp_path / ".aws-sam" / "build"
    shutil.copytree(FIXTURE / "echo", build / "echo")
    shutil.copy(FIXTURE_TEMPLATE, build / "template.yaml")
    return tmp_path


def test_after_a_build_the_local_template_declares_the_local_only_variables(
    stack: LocalStack, built: Path
) -> None:
    # When the files are written after a build
    files = sam_local.write_files(built, stack.template, stack.environment, stack.container_host)
    # Then the local template sits beside the built one
    assert files.template == built / ".aws-sam" / "build" / "template-local.json"
    local = json.loads(files.template.read_text(encoding="utf-8"))
    original = cfn.load_template(built / ".aws-sam" / "build" / "template.yaml")
    # And it is the built template plus the declarations, nothing else changed
    variables = local["Globals"]["Function"]["Environment"]["Variables"]
    declared = original["Globals"]["Function"]["Environment"]["Variables"]
    assert {name: variables[name] for name in declared} == declared
    assert {name: variables[name] for name in set(variables) - set(declared)} == sam_local.LOCAL_ONLY
    assert local["Resources"] == original["Resources"]


def test_sam_cli_gives_a_function_the_files_environment(stack: LocalStack, built: Path) -> None:
    if not SAM_PYTHON.exists():
        pytest.fail(f"{SAM_PYTHON} is missing: `make integration` creates the SAM CLI virtualenv")
    # Given the files, and a shell with real-looking AWS credentials
    files = sam_local.write_files(built, stack.template, stack.environment, stack.container_host)
    assert files.template is not None
    expected = json.loads(files.env_vars.read_text(encoding="utf-8"))["EchoFunction"]

    def resolved(template: Path) -> dict[str, str]:
        completed = subprocess.run(
            [str(SAM_PYTHON), str(RESOLVE), str(template), str(files.env_vars), "EchoFunction"],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
            cwd=template.parent,
            env={
                "PATH": os.environ["PATH"],
                "HOME": str(built),
                "AWS_ACCESS_KEY_ID": "AKIASHELLREALKEY",
                "AWS_SECRET_ACCESS_KEY": "shell-real-secret",
                "SAM_CLI_TELEMETRY": "0",
            },
        )
        return json.loads(completed.stdout)

    # When SAM CLI works out the function's environment with the local template
    environment = resolved(files.template)
    # Then every variable of the file reaches the function, the shell's credentials do not
    assert {name: environment.get(name) for name in expected} == expected
    # While with the built template as is, SAM drops what the template does not declare
    plain = resolved(built / ".aws-sam" / "build" / "template.yaml")
    assert "AWS_ENDPOINT_URL" not in plain
    assert "GMAIL_API_URL" not in plain
    assert plain["AWS_ACCESS_KEY_ID"] == "AKIASHELLREALKEY"


def test_the_command_writes_the_files_again_for_a_running_stack(stack: LocalStack, built: Path) -> None:
    # Given a checkout (here: the fixture template) with a build, and the stack running
    shutil.copy(FIXTURE_TEMPLATE, built / "template.yaml")
    environment = {
        name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "GOOGLE_"))
    }
    environment |= {
        "PYTHONPATH": f"{ROOT / 'shared'}:{ROOT}",
        "AWS_ENDPOINT_URL": stack.aws_url,
        "PORT": str(port_of(stack.api_url)),
        "LOCAL_CONTAINER_HOST": CONTAINER_HOST,
    }
    # When the command runs there
    completed = subprocess.run(
        [sys.executable, "-m", "infra.local_stack.sam_local"],
        cwd=built,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # Then it writes what make local wrote at start
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.splitlines() == [
        "wrote .aws-sam/local-env.json",
        "wrote .aws-sam/build/template-local.json",
    ]
    again = json.loads((built / ".aws-sam" / "local-env.json").read_text(encoding="utf-8"))
    assert again == written(stack, built / "from-the-stack")
