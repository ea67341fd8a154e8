"""infra/deploy/put_client_secret.sh, with a fake ``aws`` on PATH recording its calls."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "infra" / "deploy" / "put_client_secret.sh"
SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:gmail-connect/dev/google-client-AbCdEf"
REDIRECT_URI = "https://abc123.execute-api.eu-west-1.amazonaws.com/oauth/callback"
CLIENT_SECRET = "GOCSPX-MARKER-never-printed"

FAKE_AWS = f"""#!/usr/bin/env bash
printf '%s\\n' "$*" >> "$AWS_CALLS"
case "$*" in
  *GoogleClientSecretArn*) echo "{SECRET_ARN}" ;;
  *RedirectUri*) echo "{REDIRECT_URI}" ;;
  *put-secret-value*) echo "v-0001" ;;
esac
"""


@pytest.fixture
def fake_aws(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    aws = bin_dir / "aws"
    aws.write_text(FAKE_AWS, encoding="utf-8")
    aws.chmod(0o755)
    return tmp_path


def run(fake_aws: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PATH": f"{fake_aws / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "AWS_CALLS": str(fake_aws / "calls.log"),
    }
    return subprocess.run(
        ["bash", str(SCRIPT), *args], env=env, capture_output=True, text=True, check=False, timeout=60
    )


def calls(fake_aws: Path) -> list[str]:
    log = fake_aws / "calls.log"
    return log.read_text(encoding="utf-8").splitlines() if log.exists() else []


def client_file(tmp_path: Path, config: object) -> Path:
    path = tmp_path / "client_secret.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


def web(**overrides: object) -> dict[str, object]:
    config: dict[str, object] = {
        "client_id": "123-abc.apps.googleusercontent.com",
        "client_secret": CLIENT_SECRET,
        "redirect_uris": [REDIRECT_URI],
    }
    config.update(overrides)
    return {"web": config}


def test_stores_the_file_in_the_stacks_secret_without_printing_it(fake_aws: Path) -> None:
    # Given a valid web client config
    path = client_file(fake_aws, web())
    # When the script runs for a stack with a profile
    completed = run(fake_aws, "gmail-connect-dev", str(path), "--profile", "ops")
    # Then it reads the ARN from the stack and puts the file by reference
    assert completed.returncode == 0, completed.stderr
    recorded = calls(fake_aws)
    assert any("cloudformation describe-stacks --stack-name gmail-connect-dev" in c for c in recorded)
    (put,) = [c for c in recorded if "put-secret-value" in c]
    assert f"--secret-id {SECRET_ARN}" in put
    assert f"--secret-string file://{path}" in put
    assert all(c.startswith("--profile ops ") for c in recorded)
    # and never shows the secret
    assert CLIENT_SECRET not in completed.stdout + completed.stderr
    assert CLIENT_SECRET not in "\n".join(recorded)
    assert "is registered" in completed.stdout


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"installed": {"client_id": "x", "client_secret": "y"}}, "no 'web' object"),
        (web(client_secret=""), "lacks client_secret"),
        ({"web": {"client_secret": "y", "redirect_uris": [REDIRECT_URI]}}, "lacks client_id"),
        (web(redirect_uris=["https://example.com/callback"]), "/oauth/callback"),
        (["not", "an", "object"], "no 'web' object"),
    ],
)
def test_refuses_a_file_that_is_not_a_web_client_config(fake_aws: Path, config: object, message: str) -> None:
    completed = run(fake_aws, "gmail-connect-dev", str(client_file(fake_aws, config)))
    assert completed.returncode != 0
    assert message in completed.stderr
    assert not any("put-secret-value" in c for c in calls(fake_aws))
    assert CLIENT_SECRET not in completed.stdout + completed.stderr


def test_refuses_a_file_that_is_not_json(fake_aws: Path) -> None:
    path = fake_aws / "client_secret.json"
    path.write_text(f"client_secret={CLIENT_SECRET}", encoding="utf-8")
    completed = run(fake_aws, "gmail-connect-dev", str(path))
    assert completed.returncode != 0
    assert "not a JSON file" in completed.stderr
    assert CLIENT_SECRET not in completed.stdout + completed.stderr
    assert calls(fake_aws) == []


def test_warns_when_the_stacks_redirect_uri_is_not_registered(fake_aws: Path) -> None:
    path = client_file(fake_aws, web(redirect_uris=["https://api.example.com/oauth/callback"]))
    completed = run(fake_aws, "gmail-connect-dev", str(path))
    assert completed.returncode == 0
    assert f"warning: {REDIRECT_URI} is not among" in completed.stderr


@pytest.mark.parametrize(
    "args", [[], ["only-stack"], ["stack", "file.json", "--bogus"], ["stack", "f", "--profile"]]
)
def test_usage_errors(fake_aws: Path, args: list[str]) -> None:
    completed = run(fake_aws, *args)
    assert completed.returncode == 2
    assert "usage:" in completed.stderr
    assert calls(fake_aws) == []
