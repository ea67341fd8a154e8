"""Where the tools the packaging check drives live: the SAM CLI and the runtime's python3.13.

Found, not assumed: CI machines and laptops install them differently (a venv for SAM, pyenv or
the system for 3.13), and a check that silently used another interpreter would prove nothing
about the Lambda runtime.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from pathlib import Path

__all__ = ["ROOT", "host_layer_platform", "python313", "sam_executable", "sam_pyenv_version"]

ROOT = Path(__file__).resolve().parents[2]
# sam build needs python3.13 on PATH (the runtime's interpreter); pyenv exposes it this way.
SAM_PYENV_VERSION = "3.11.7:3.12.1:3.13.0"
_HOST_LAYER_PLATFORMS = {"x86_64": "manylinux2014_x86_64", "aarch64": "manylinux2014_aarch64"}


def sam_executable() -> str:
    """SAM CLI: ``$SAM_CLI``, the project's ``.venv-sam``, or ``sam`` on PATH."""
    candidates = [os.environ.get("SAM_CLI"), str(ROOT / ".venv-sam" / "bin" / "sam"), shutil.which("sam")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise FileNotFoundError("SAM CLI not found: run `make build` once (it installs .venv-sam)")


def _pyenv_versions(prefix: str) -> list[str]:
    """Installed pyenv versions starting with ``prefix`` (``"3.13."``), oldest first."""
    if not shutil.which("pyenv"):
        return []
    listed = subprocess.run(["pyenv", "versions", "--bare"], capture_output=True, text=True, check=False)
    versions = [v.strip() for v in listed.stdout.splitlines() if v.strip().startswith(prefix)]
    return sorted(versions, key=lambda v: [int(p) if p.isdigit() else 0 for p in v.split(".")])


def sam_pyenv_version() -> str:
    """``PYENV_VERSION`` for ``sam build``: 3.11-3.13 all visible (the build needs python3.13
    on PATH), as the top-level Makefile computes it; a fixed list as a fallback."""
    versions = [v for minor in ("3.11.", "3.12.", "3.13.") for v in _pyenv_versions(minor)[-1:]]
    return ":".join(versions) if versions else SAM_PYENV_VERSION


def python313() -> str:
    """A python3.13 interpreter (the functions' runtime): ``$PYTHON313``, pyenv's newest 3.13,
    or ``python3.13`` on PATH."""
    explicit = os.environ.get("PYTHON313")
    if explicit:
        return explicit
    for version in reversed(_pyenv_versions("3.13.")):
        found = subprocess.run(
            ["pyenv", "which", "python3.13"],
            env={**os.environ, "PYENV_VERSION": version},
            capture_output=True,
            text=True,
            check=False,
        )
        if found.returncode == 0 and found.stdout.strip():
            return found.stdout.strip()
    on_path = shutil.which("python3.13")
    if on_path:
        return on_path
    raise FileNotFoundError("python3.13 not found (pyenv install 3.13.0, or set PYTHON313)")


def host_layer_platform() -> str:
    """The manylinux platform of this machine's wheels, for a layer this machine can import."""
    machine = platform.machine().lower()
    machine = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)
    try:
        return _HOST_LAYER_PLATFORMS[machine]
    except KeyError:
        raise RuntimeError(f"no manylinux platform known for host architecture {machine!r}") from None
