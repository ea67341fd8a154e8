"""The built artifacts: what ``sam build`` produces, and that it runs as Lambda would run it.

Two builds of the same template: the deploy artifact (arm64 layer) and a host-architecture
copy (``LAYER_PLATFORM``) that this machine can import. Handlers are invoked from the host
build in fresh python3.13 processes whose path is the built function, the built layer and a
stand-in for the runtime's boto3: never the repository (``infra/packaging``).
Only exact facts are asserted (sizes, architectures, statuses, bodies), never timings.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest

from infra.cfn import load_template, resources_of_type
from infra.packaging import cold_init, layer, sam_build, toolchain
from infra.packaging.backends import Backends, local_backends
from infra.packaging.invoke import Invocation, run_built
from infra.packaging.runtime import RUNTIME_BOTO3_DIR

pytestmark = pytest.mark.packaging

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
PUBLIC_BASE_URL = "http://127.0.0.1:3000"
TEMPLATE_FUNCTIONS = set(
    resources_of_type(load_template(ROOT / "template.yaml"), "AWS::Serverless::Function")
)
PYTHON_313_MAGIC = "f30d0d0a"  # importlib.util.MAGIC_NUMBER of CPython 3.13


def _tools_or_skip() -> None:
    try:
        toolchain.sam_executable()
        toolchain.python313()
    except FileNotFoundError as missing:
        pytest.skip(str(missing))


@pytest.fixture(scope="module")
def arm64_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    _tools_or_skip()
    return sam_build.build(tmp_path_factory.mktemp("build") / "arm64", host_arch=False)


@pytest.fixture(scope="module")
def host_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    _tools_or_skip()
    return sam_build.build(tmp_path_factory.mktemp("build") / "host", host_arch=True)


@pytest.fixture(scope="module")
def backends() -> Iterator[Backends]:
    with local_backends(public_base_url=PUBLIC_BASE_URL) as running:
        yield running


def event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


def header(response: dict[str, Any], name: str) -> str | None:
    for key, value in (response.get("headers") or {}).items():
        if key.lower() == name.lower():
            return value
    return None


def set_cookies(response: dict[str, Any]) -> list[str]:
    """Payload 2.0 responses carry cookies in ``cookies``; a ``Set-Cookie`` header also counts."""
    found = list(response.get("cookies") or [])
    if header(response, "set-cookie"):
        found.append(header(response, "set-cookie"))
    return found


def invoke(host_build: Path, backends: Backends, function_id: str, event_name: str) -> Invocation:
    return run_built(host_build, function_id, event(event_name), backends.env)


# ---------------------------------------------------------------------------- the deploy artifact
def test_template_validates_with_lint() -> None:
    _tools_or_skip()
    completed = subprocess.run(
        [toolchain.sam_executable(), "validate", "--lint", "--template", str(ROOT / "template.yaml")],
        cwd=ROOT,
        env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_arm64_layer_fits_the_budget_and_holds_only_what_is_used(arm64_build: Path) -> None:
    report = layer.layer_report(arm64_build)
    assert report["bytes"] <= layer.LAYER_BUDGET_BYTES, f"{report['mib']} MiB"
    assert report["has_gmail_connect"]
    assert report["discovery_documents"] == ["gmail.v1.json"]
    assert report["runtime_packages"] == []  # boto3/botocore/s3transfer come with the runtime


def test_arm64_layer_ships_python_3_13_bytecode(arm64_build: Path) -> None:
    # /opt is read-only in Lambda: without bytecode every cold start recompiles every import.
    report = layer.layer_report(arm64_build)
    assert report["third_party_sources"] == []
    assert report["bytecode_magic"] == [PYTHON_313_MAGIC]
    assert report["gmail_connect_bytecode"] >= len(list((ROOT / "shared" / "gmail_connect").rglob("*.py")))


def test_arm64_layer_extensions_are_all_aarch64(arm64_build: Path) -> None:
    report = layer.layer_report(arm64_build)
    assert report["extensions"], "no compiled extension found: the layer is not what we think"
    assert report["machines"] == ["aarch64"], {
        p: m for p, m in report["extensions"].items() if m != "aarch64"
    }


def test_arm64_build_targets_arm64_lambda(arm64_build: Path) -> None:
    functions = sam_build.built_functions(arm64_build)
    assert set(functions) == TEMPLATE_FUNCTIONS
    for function in functions.values():
        assert (Path(function["dir"]) / "app.py").is_file()
        assert function["runtime"] == "python3.13"
        assert function["architectures"] == "arm64"
        assert not (Path(function["dir"]) / "gmail_connect").exists()  # the package comes from the layer


def test_host_build_differs_only_in_the_extensions_architecture(arm64_build: Path, host_build: Path) -> None:
    arm64 = layer.layer_report(arm64_build)
    host = layer.layer_report(host_build)
    assert host["machines"] == [toolchain.host_layer_platform().split("_", 1)[1]]

    # same packages, same extension modules (their file names carry the architecture)
    def modules(report: dict[str, Any]) -> list[str]:
        return sorted(name.split(".", 1)[0] if name.endswith(".so") else name for name in report["top_level"])

    assert modules(host) == modules(arm64)
    assert len(host["extensions"]) == len(arm64["extensions"])
    assert host["discovery_documents"] == ["gmail.v1.json"]
    assert host["runtime_packages"] == []


# ---------------------------------------------------------------------------- invoking the built handlers
def test_authorize_redirects_to_consent_with_offline_access_and_pkce(
    host_build: Path, backends: Backends
) -> None:
    # When the built authorize handler gets the sample event
    invocation = invoke(host_build, backends, "AuthorizeFunction", "authorize.json")
    response = invocation.response
    # Then it ran from the build, not the repository
    assert str(invocation.modules["app"]).startswith(str(host_build))
    assert str(invocation.modules["gmail_connect"]).startswith(str(host_build / "AuthLayer" / "python"))
    assert str(invocation.modules["boto3"]).startswith(str(RUNTIME_BOTO3_DIR.resolve()))
    # and nothing of the repository was on its path (the runtime's boto3 stand-in lives in .aws-sam)
    assert invocation.sys_path[:3] == [
        str(host_build / "AuthorizeFunction"),
        str(host_build / "AuthLayer" / "python"),
        str(RUNTIME_BOTO3_DIR.resolve()),
    ]
    assert [path for path in invocation.sys_path[3:] if Path(path).resolve().is_relative_to(ROOT)] == []
    # and did not import the Gmail client (cold-start budget)
    assert invocation.modules["googleapiclient"] is None
    # and it redirects to the emulator's consent page with offline access and PKCE S256
    assert response["statusCode"] == 302, response
    location = urlsplit(header(response, "location") or "")
    assert f"{location.scheme}://{location.netloc}" == backends.google_url
    assert location.path == "/o/oauth2/v2/auth"
    query = parse_qs(location.query)
    assert query["access_type"] == ["offline"]
    assert query["code_challenge_method"] == ["S256"]
    assert query["redirect_uri"] == [f"{PUBLIC_BASE_URL}/oauth/callback"]
    assert query["login_hint"] == ["demo@example.com"]
    assert "code_verifier" not in query
    # and binds the state to the browser with a cookie
    assert any(cookie.startswith("gc_oauth=") for cookie in set_cookies(response))
    # and stored exactly one state, server-side
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=backends.aws_url,
        region_name=backends.env["AWS_REGION"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    items = dynamodb.scan(TableName=backends.env["STATES_TABLE"])["Items"]
    assert len(items) >= 1
    assert all("code_verifier" in item and "expires_at" in item for item in items)


def test_callback_with_a_state_nobody_issued_is_a_400_page(host_build: Path, backends: Backends) -> None:
    sample = event("callback.json")
    invocation = invoke(host_build, backends, "CallbackFunction", "callback.json")
    response = invocation.response
    assert response["statusCode"] == 400, response
    assert (header(response, "content-type") or "").startswith("text/html")
    assert "<html" in response["body"].lower()
    assert "no-store" in (header(response, "cache-control") or "")
    # nothing secret-shaped from the request reaches the logs or the page
    secrets = [sample["queryStringParameters"]["code"], sample["queryStringParameters"]["state"]]
    secrets += [cookie.split("=", 1)[1] for cookie in sample["cookies"]]
    for secret in secrets:
        assert secret not in invocation.logs
        assert secret not in response["body"]


def test_callback_denied_by_the_user_is_a_4xx_page(host_build: Path, backends: Backends) -> None:
    response = invoke(host_build, backends, "CallbackFunction", "callback_denied.json").response
    assert 400 <= response["statusCode"] < 500, response
    assert (header(response, "content-type") or "").startswith("text/html")
    assert "no-store" in (header(response, "cache-control") or "")


def test_me_without_a_valid_session_is_401_json(host_build: Path, backends: Backends) -> None:
    response = invoke(host_build, backends, "MeFunction", "me.json").response
    assert response["statusCode"] == 401, response
    assert (header(response, "content-type") or "").startswith("application/json")
    assert json.loads(response["body"])["error"] == "unauthenticated"


def test_messages_without_a_valid_session_is_401_json(host_build: Path, backends: Backends) -> None:
    invocation = invoke(host_build, backends, "MessagesFunction", "messages.json")
    response = invocation.response
    assert response["statusCode"] == 401, response
    assert json.loads(response["body"])["error"] == "unauthenticated"
    # the refresh path goes through google-auth alone (cold-start budget)
    assert invocation.modules["google_auth_oauthlib"] is None


def test_disconnect_from_another_origin_is_refused(host_build: Path, backends: Backends) -> None:
    # The sample event's Origin is the execute-api domain; here the API is served on 127.0.0.1.
    response = invoke(host_build, backends, "DisconnectFunction", "disconnect.json").response
    assert response["statusCode"] == 403, response
    assert json.loads(response["body"])["error"] == "forbidden_origin"


def test_cold_init_is_measurable_on_the_built_handlers(host_build: Path, backends: Backends) -> None:
    # The benchmark's measurement runs here; its numbers are read by people, never asserted.
    ratios = cold_init.cold_init_ratios(host_build, backends.env, runs=1)
    assert set(ratios) == TEMPLATE_FUNCTIONS
    assert all(ratio > 0 for ratio in ratios.values())


def test_the_console_page_and_its_assets_come_from_the_built_layer(
    host_build: Path, backends: Backends
) -> None:
    # Given the built console function (its files are not Python: the layer build must copy them)
    page = invoke(host_build, backends, "ConsoleFunction", "console.json").response
    # Then it serves the page under its strict policy
    assert page["statusCode"] == 200, page
    assert (header(page, "content-type") or "").startswith("text/html")
    assert "script-src 'self'" in (header(page, "content-security-policy") or "")
    # And both assets the page links, at their current versions
    for name in ("console.css", "console.js"):
        linked = re.search(rf'"(/{re.escape(name)})\?(v=[0-9a-f]{{16}})"', page["body"])
        assert linked, page["body"]
        path, query = linked.groups()
        asset_event = {
            **event("console.json"),
            "rawPath": path,
            "rawQueryString": query,
            "routeKey": f"GET {path}",
        }
        context = asset_event["requestContext"]
        asset_event["requestContext"] = {
            **context,
            "routeKey": f"GET {path}",
            "http": {**context["http"], "path": path},
        }
        asset = run_built(host_build, "ConsoleFunction", asset_event, backends.env).response
        assert asset["statusCode"] == 200, asset
        assert header(asset, "cache-control") == "public, max-age=31536000, immutable"


def test_the_openapi_document_is_served_from_the_built_layer(host_build: Path, backends: Backends) -> None:
    # Given the built OpenAPI function (the document is JSON, not Python: the layer build must copy it)
    invocation = invoke(host_build, backends, "OpenApiFunction", "openapi.json")
    response = invocation.response
    # Then it serves the layer's copy, byte for byte the committed document, cacheable for five minutes
    assert response["statusCode"] == 200, response
    assert header(response, "content-type") == "application/json"
    assert header(response, "cache-control") == "public, max-age=300"
    built = host_build / "AuthLayer" / "python" / "gmail_connect" / "api" / "openapi.json"
    committed = ROOT / "shared" / "gmail_connect" / "api" / "openapi.json"
    assert response["body"] == built.read_text(encoding="utf-8") == committed.read_text(encoding="utf-8")
    assert str(invocation.modules["gmail_connect"]).startswith(str(host_build / "AuthLayer" / "python"))
