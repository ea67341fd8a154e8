"""What the Lambda runtime gives a function's process, reproduced for a built function.

Lambda's ``sys.path`` is the function's code (``/var/task``), the layers (``/opt/python``)
and the runtime's own boto3 (``/var/runtime``); its environment is a fixed set of variables
plus the function's own. A check that let the repository or this process's environment leak
in would pass for code that fails in Lambda, so both are built from scratch here.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from infra.packaging.layer import LAYER_ID
from infra.packaging.sam_build import BUILD_TIMEOUT_SECONDS, built_functions
from infra.packaging.toolchain import ROOT, python313

__all__ = ["RUNTIME_BOTO3_DIR", "ensure_runtime_boto3", "lambda_environment", "lambda_sys_path"]

RUNTIME_BOTO3_DIR = ROOT / ".aws-sam" / "runtime-boto3"


def _pinned_boto3() -> str:
    """boto3's pin in requirements-dev.txt (what the tests use), else unpinned."""
    requirements = ROOT / "requirements-dev.txt"
    if requirements.is_file():
        for line in requirements.read_text(encoding="utf-8").splitlines():
            if line.strip().lower().startswith("boto3=="):
                return line.split("#", 1)[0].strip()
    return "boto3"


def ensure_runtime_boto3(target: str | Path = RUNTIME_BOTO3_DIR) -> Path:
    """A python3.13 ``pip install --target`` of boto3 standing in for the runtime's own
    (``/var/runtime``), installed once and precompiled (the runtime image ships bytecode)."""
    target = Path(target)
    requirement = _pinned_boto3()
    marker = target / ".installed"
    if marker.is_file() and marker.read_text(encoding="utf-8").strip() == requirement:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="runtime-boto3-", dir=target.parent))
    try:
        python = python313()
        subprocess.run(
            [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-warn-conflicts",
             "--target", str(staging), requirement],
            check=True,
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT_SECONDS,
        )  # fmt: skip
        subprocess.run([python, "-m", "compileall", "-q", str(staging)], check=True, capture_output=True)
        (staging / ".installed").write_text(requirement + "\n", encoding="utf-8")
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    except subprocess.CalledProcessError as error:
        raise RuntimeError(f"installing {requirement} for python3.13 failed:\n{error.stderr}") from error
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def lambda_sys_path(build_dir: Path, function_id: str | None) -> list[str]:
    """The function's built directory (unless ``function_id`` is None), the built layer, and
    the stand-in for the runtime's boto3: the path a Lambda process of this build has."""
    paths = []
    if function_id is not None:
        functions = built_functions(build_dir)
        if function_id not in functions:
            raise KeyError(f"{function_id} is not a function of {build_dir / 'template.yaml'}")
        paths.append(functions[function_id]["dir"])
    paths.append(str((build_dir / LAYER_ID / "python").resolve()))
    paths.append(str(ensure_runtime_boto3().resolve()))
    return paths


def lambda_environment(
    build_dir: Path, function_id: str, env: Mapping[str, str], sys_path: Sequence[str]
) -> dict[str, str]:
    """What the Lambda runtime sets, then ``env`` (the template's resolved variables and the
    local endpoints). Nothing is inherited from this process: no credentials can leak in."""
    function = built_functions(build_dir)[function_id]
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
    base = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "AWS_LAMBDA_FUNCTION_NAME": function_id,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": function["memory"],
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function_id}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2025/01/01/[$LATEST]packaging-check",
        "LAMBDA_TASK_ROOT": sys_path[0],
        "LAMBDA_RUNTIME_DIR": sys_path[-1],
        "_HANDLER": function["handler"],
    }
    return {**base, **{key: str(value) for key, value in env.items()}}
