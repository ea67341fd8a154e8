"""Files for running the template's functions in Docker with ``sam local invoke`` / ``sam local
start-api`` against a running ``make local``.

``make local`` writes them at start, and ``python -m infra.local_stack.sam_local`` writes them again
for a running ``make local`` (after a ``sam build``, say):

- ``.aws-sam/local-env.json``, SAM's ``--env-vars`` file (``{"<FunctionLogicalId>": {…},
  "Parameters": {…}}``): each function's environment as ``make local`` gives its in-process
  handlers (table names, the KMS key id, the secret's ARN, the queue URL, the bus name, Google's
  endpoints), plus ``AWS_ENDPOINT_URL`` at the embedded AWS and its dummy credentials and region.
  ``Parameters`` holds what every function shares. URLs a function calls are rewritten from
  loopback to the container host (``LOCAL_CONTAINER_HOST``, default ``host.docker.internal``): in
  a container, 127.0.0.1 is the container. ``PUBLIC_BASE_URL`` stays: the browser follows it.
- ``.aws-sam/build/template-local.json``, once ``sam build`` has run: the built template with the
  local-only variables declared in ``Globals``. SAM applies an ``--env-vars`` value only to a
  variable the template declares, and the product's template declares neither ``AWS_ENDPOINT_URL``
  nor Google's endpoints (the code defaults to Google's own; a packaging test keeps them out).
  The declarations' own values are harmless: no endpoint (the env file brings them) and dummy
  credentials, so a container never receives the shell's real AWS credentials.

Two things stay pointed at loopback, for the browser's sake: the Google client config in the
secret (``auth_uri``, ``token_uri``) and the redirect URI. A function in a container therefore
cannot refresh an access token at the emulator's ``token_uri``; right after connecting, the stored
access token is valid for an hour.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from infra import cfn

__all__ = [
    "CONTAINER_HOST_VARIABLE",
    "DEFAULT_CONTAINER_HOST",
    "ENV_VARS_FILE",
    "LOCAL_TEMPLATE_FILE",
    "SamLocalFiles",
    "container_url",
    "env_vars_document",
    "local_template",
    "main",
    "write_files",
]

CONTAINER_HOST_VARIABLE = "LOCAL_CONTAINER_HOST"
DEFAULT_CONTAINER_HOST = "host.docker.internal"
ENV_VARS_FILE = Path(".aws-sam") / "local-env.json"
BUILT_TEMPLATE_FILE = Path(".aws-sam") / "build" / "template.yaml"
LOCAL_TEMPLATE_FILE = Path(".aws-sam") / "build" / "template-local.json"

BROWSER_FACING = frozenset({"PUBLIC_BASE_URL"})
# Set by the local stack, not declared by the template: (name, value the local template declares).
LOCAL_ONLY: dict[str, str] = {
    "AWS_ENDPOINT_URL": "",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "GOOGLE_REVOKE_URI": "",
    "GOOGLE_USERINFO_URI": "",
    "GMAIL_API_URL": "",
    "OAUTHLIB_INSECURE_TRANSPORT": "",
}
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True)
class SamLocalFiles:
    env_vars: Path
    template: Path | None  # None: no `sam build` output to declare the variables in


def container_url(value: str, container_host: str) -> str:
    """``value`` with a loopback URL's host replaced by ``container_host`` (anything else as is)."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or parts.hostname not in _LOOPBACK:
        return value
    netloc = container_host if parts.port is None else f"{container_host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def _declared(container: Mapping[str, Any]) -> list[str]:
    return list(((container.get("Environment") or {}).get("Variables") or {}).keys())


def env_vars_document(
    template: Mapping[str, Any], environment: Mapping[str, str], container_host: str
) -> dict[str, dict[str, str]]:
    """SAM's ``--env-vars`` content for ``template``'s functions, from the local stack's environment
    (``LocalStack.environment``: one environment for all functions, as in ``cfn.function_environment``)."""

    def values(names: list[str]) -> dict[str, str]:
        return {
            name: environment[name]
            if name in BROWSER_FACING
            else container_url(environment[name], container_host)
            for name in names
            if name in environment
        }

    shared = _declared((template.get("Globals") or {}).get("Function") or {}) + list(LOCAL_ONLY)
    document = {"Parameters": values(shared)}
    for function_id, resource in cfn.resources_of_type(template, "AWS::Serverless::Function").items():
        document[function_id] = values(shared + _declared(resource.get("Properties") or {}))
    return document


def local_template(built: Mapping[str, Any]) -> dict[str, Any]:
    """``built`` (``sam build``'s template) with the local-only variables declared in ``Globals``."""
    template = json.loads(json.dumps(built))
    globals_function = template.setdefault("Globals", {}).setdefault("Function", {})
    variables = globals_function.setdefault("Environment", {}).setdefault("Variables", {})
    for name, value in LOCAL_ONLY.items():
        variables.setdefault(name, value)
    return template


def write_files(
    root: Path, template: Mapping[str, Any], environment: Mapping[str, str], container_host: str
) -> SamLocalFiles:
    """Write ``root/.aws-sam/local-env.json`` and, after a build, the local template beside the
    built one."""
    env_vars = root / ENV_VARS_FILE
    env_vars.parent.mkdir(parents=True, exist_ok=True)
    document = env_vars_document(template, environment, container_host)
    env_vars.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    built = root / BUILT_TEMPLATE_FILE
    if not built.is_file():
        return SamLocalFiles(env_vars, None)
    overlay = root / LOCAL_TEMPLATE_FILE
    overlay.write_text(
        json.dumps(local_template(cfn.load_template(built)), indent=2) + "\n", encoding="utf-8"
    )
    return SamLocalFiles(env_vars, overlay)


def main() -> int:
    """Write both files for the ``make local`` running from this directory (its ``template.yaml``),
    finding its resources at ``AWS_ENDPOINT_URL`` (else ``127.0.0.1:$AWS_EMULATOR_PORT``)."""
    from botocore.exceptions import BotoCoreError, ClientError

    from infra.local_stack.sync import attach

    root = Path.cwd()
    template = cfn.load_template(root / "template.yaml")
    try:
        environment = attach(template)
    except (BotoCoreError, ClientError, ValueError) as error:
        print(
            f"sam_local: cannot reach the local stack's AWS ({type(error).__name__}). "
            "Is `make local` running?",
            file=sys.stderr,
        )
        return 2
    port = os.environ.get("PORT", "").strip() or "3000"
    environment["PUBLIC_BASE_URL"] = f"http://127.0.0.1:{port}"
    container_host = os.environ.get(CONTAINER_HOST_VARIABLE) or DEFAULT_CONTAINER_HOST
    files = write_files(root, template, environment, container_host)
    print(f"wrote {files.env_vars.relative_to(root)}")
    if files.template is None:
        print(f"no {BUILT_TEMPLATE_FILE}: run `make build`, then this again", file=sys.stderr)
        return 1
    print(f"wrote {files.template.relative_to(root)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
