"""One invocation of a built handler in a fresh python3.13 process, as Lambda would run it.

A fresh process per invocation is a cold container: nothing imported, cached or configured by
an earlier call or by this process survives. The process runs ``handler_probe`` with ``-I -S
-B``: no environment-driven paths, no site-packages, no script directory on the path, and no
bytecode written, since ``/var/task`` and ``/opt`` are read-only in Lambda (the layer ships
Python 3.13 bytecode, see ``shared/Makefile``; the runtime's boto3 is precompiled).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.packaging import handler_probe
from infra.packaging.runtime import lambda_environment, lambda_sys_path
from infra.packaging.sam_build import built_functions
from infra.packaging.toolchain import python313

__all__ = ["Invocation", "InvocationError", "invoke_built", "run_built"]

INVOKE_TIMEOUT_SECONDS = 120
PROBE = Path(handler_probe.__file__).resolve()


class InvocationError(RuntimeError):
    """The built handler could not be imported or raised; ``logs`` holds the process output."""

    def __init__(self, message: str, logs: str) -> None:
        super().__init__(f"{message}\n--- output ---\n{logs[-6000:]}")
        self.logs = logs


@dataclass
class Invocation:
    """One invocation of a built handler in a fresh process.

    ``modules`` maps the handler's module and a few packages to the file each was imported
    from (None: never imported); ``sys_path`` is the process's path after the handler ran.
    """

    response: Any
    logs: str
    init_seconds: float
    invoke_seconds: float
    modules: dict[str, str | None] = field(default_factory=dict)
    sys_path: list[str] = field(default_factory=list)


def run_built(
    build_dir: str | Path, function_id: str, event: Mapping[str, Any], env: Mapping[str, str]
) -> Invocation:
    """Import ``function_id``'s built handler in a fresh python3.13 and call it once with
    ``event``; ``env`` is the function's environment (must point AWS at an emulator)."""
    if not env.get("AWS_ENDPOINT_URL"):
        raise ValueError("env has no AWS_ENDPOINT_URL: built handlers are only invoked against an emulator")
    build_dir = Path(build_dir).resolve()
    function = built_functions(build_dir)[function_id]
    sys_path = lambda_sys_path(build_dir, function_id)
    request = {
        "sys_path": sys_path,
        "handler": function["handler"],
        "function": function_id,
        "memory": function["memory"],
        "timeout": function["timeout"],
        "event": dict(event),
    }
    completed = subprocess.run(
        [python313(), "-I", "-S", "-B", str(PROBE)],
        input=json.dumps(request),
        cwd=sys_path[0],
        env=lambda_environment(build_dir, function_id, env, sys_path),
        capture_output=True,
        text=True,
        timeout=INVOKE_TIMEOUT_SECONDS,
        check=False,
    )
    try:
        outcome = json.loads(completed.stdout)
    except ValueError:
        logs = completed.stdout + completed.stderr
        raise InvocationError(f"{function_id}: no result (exit code {completed.returncode})", logs) from None
    if "error" in outcome:
        raise InvocationError(f"{function_id}: {outcome['error']}", completed.stderr)
    return Invocation(
        response=outcome["response"],
        logs=completed.stderr,
        init_seconds=outcome["init_seconds"],
        invoke_seconds=outcome["invoke_seconds"],
        modules=outcome.get("modules") or {},
        sys_path=outcome.get("sys_path") or [],
    )


def invoke_built(
    build_dir: str | Path, function_id: str, event: Mapping[str, Any], env: Mapping[str, str]
) -> dict[str, Any]:
    """The handler's return value (the API Gateway payload 2.0 response) for ``event``."""
    return run_built(build_dir, function_id, event, env).response
