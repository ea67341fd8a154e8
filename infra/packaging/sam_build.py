"""``sam build`` of the template, and what it built.

Two flavours of the same build: the deploy artifact (arm64 layer) and a host-architecture
copy whose layer this machine can import. Each has its own SAM cache: SAM keys its cache on
the source hash only, so a shared cache would hand one flavour's layer to the other.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from infra import cfn
from infra.packaging.toolchain import ROOT, host_layer_platform, sam_executable, sam_pyenv_version

__all__ = ["TEMPLATE", "BuildError", "build", "built_functions"]

TEMPLATE = ROOT / "template.yaml"
BUILD_TIMEOUT_SECONDS = 900


class BuildError(RuntimeError):
    """``sam build`` failed; the message ends with the tail of its output."""


def build(
    build_dir: str | Path,
    host_arch: bool = False,
    *,
    cache_dir: str | Path | None = None,
    template: str | Path = TEMPLATE,
) -> Path:
    """``sam build`` the template into ``build_dir`` and return it.

    ``host_arch=False`` is the deploy artifact (arm64 layer). ``host_arch=True`` builds the
    layer for this machine's architecture (``LAYER_PLATFORM``), so it can be imported here.
    """
    build_dir = Path(build_dir).resolve()
    template = Path(template).resolve()
    flavour = "host" if host_arch else "arm64"
    cache = Path(cache_dir) if cache_dir else template.parent / ".aws-sam" / f"cache-packaging-{flavour}"
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0"}
    if "3.13" not in env.get("PYENV_VERSION", "3.13"):
        env.pop("PYENV_VERSION")  # a pinned interpreter without 3.13 would hide python3.13
    env.setdefault("PYENV_VERSION", sam_pyenv_version())
    if host_arch:
        env["LAYER_PLATFORM"] = host_layer_platform()
    else:
        env.pop("LAYER_PLATFORM", None)
    command = [
        sam_executable(),
        "build",
        "--template",
        str(template),
        "--build-dir",
        str(build_dir),
        "--cache-dir",
        str(cache.resolve()),
        "--cached",
        "--parallel",
    ]
    completed = subprocess.run(
        command,
        cwd=template.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_SECONDS,
        check=False,
    )
    if completed.returncode != 0:
        output = (completed.stdout + completed.stderr)[-6000:]
        raise BuildError(f"sam build ({flavour}) failed with exit code {completed.returncode}:\n{output}")
    return build_dir


def built_functions(build_dir: str | Path) -> dict[str, dict[str, str]]:
    """Function logical id -> ``{"dir", "handler", "runtime", "architectures", "timeout",
    "memory"}`` (all strings), from the built template."""
    build_dir = Path(build_dir)
    template = cfn.load_template(build_dir / "template.yaml")
    globals_ = (template.get("Globals") or {}).get("Function") or {}
    functions: dict[str, dict[str, str]] = {}
    for logical_id, resource in cfn.resources_of_type(template, "AWS::Serverless::Function").items():
        properties = resource.get("Properties") or {}
        code_uri = properties.get("CodeUri", globals_.get("CodeUri", logical_id))
        functions[logical_id] = {
            "dir": str((build_dir / str(code_uri)).resolve()),
            "handler": str(properties.get("Handler", globals_.get("Handler", "app.handler"))),
            "runtime": str(properties.get("Runtime", globals_.get("Runtime", ""))),
            "architectures": ",".join(
                properties.get("Architectures", globals_.get("Architectures", ["x86_64"]))
            ),
            "timeout": str(properties.get("Timeout", globals_.get("Timeout", 3))),
            "memory": str(properties.get("MemorySize", globals_.get("MemorySize", 128))),
        }
    return functions
