"""Check the built artifacts the way ``sam local invoke`` would, without a container engine.

``sam build`` writes each function's code and the ``AuthLayer`` into a build directory. This
module imports and invokes those *built* handlers in fresh ``python3.13`` processes whose
``sys.path`` is exactly what Lambda gives them, and nothing from the repository:

1. the built function directory (Lambda's ``/var/task``),
2. the built layer's ``python/`` (``/opt/python``),
3. a ``pip install --target`` of boto3 for python3.13, standing in for the runtime's own
   boto3 (``/var/runtime``), cached under ``.aws-sam/runtime-boto3``.

The deploy artifact is built for arm64; a machine of another architecture cannot load its
compiled extensions, so ``build(..., host_arch=True)`` builds a second copy whose layer wheels
match the host (``LAYER_PLATFORM``, see ``shared/Makefile``). Everything else is identical.

Processes run with ``-I -S -B``: no environment-driven paths, no site-packages, and no
bytecode written, since ``/var/task`` and ``/opt`` are read-only in Lambda (the layer ships
Python 3.13 bytecode, see ``shared/Makefile``; the runtime's boto3 is precompiled).

Used by ``tests/packaging`` (exact facts: statuses, bodies, sizes, architectures) and by the
benchmark (cold-init ratios; timings are never asserted in tests).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra import cfn

__all__ = [
    "EM_AARCH64",
    "EM_X86_64",
    "LAYER_BUDGET_BYTES",
    "LAYER_ID",
    "Backends",
    "BuildError",
    "Invocation",
    "InvocationError",
    "build",
    "built_functions",
    "cold_init_ratios",
    "cold_init_times",
    "elf_machine",
    "ensure_runtime_boto3",
    "invoke_built",
    "layer_report",
    "local_backends",
    "python313",
    "run_built",
]

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
LAYER_ID = "AuthLayer"
# performance.md: the layer stays <= 35 MB unzipped (MiB, as `du -m` and Lambda's limits count).
LAYER_BUDGET_BYTES = 35 * 1024 * 1024
# sam build needs python3.13 on PATH (the runtime's interpreter); pyenv exposes it this way.
SAM_PYENV_VERSION = "3.11.7:3.12.1:3.13.0"
RUNTIME_BOTO3_DIR = ROOT / ".aws-sam" / "runtime-boto3"
BUILD_TIMEOUT_SECONDS = 900
INVOKE_TIMEOUT_SECONDS = 120

EM_X86_64 = 62
EM_AARCH64 = 183
_MACHINES = {EM_X86_64: "x86_64", EM_AARCH64: "aarch64", 3: "i386", 40: "arm"}
_HOST_LAYER_PLATFORMS = {"x86_64": "manylinux2014_x86_64", "aarch64": "manylinux2014_aarch64"}
# What the Lambda runtime itself provides; the layer must not shadow it.
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer")


class BuildError(RuntimeError):
    """``sam build`` failed; the message ends with the tail of its output."""


class InvocationError(RuntimeError):
    """The built handler could not be imported or raised; ``logs`` holds the process output."""

    def __init__(self, message: str, logs: str) -> None:
        super().__init__(f"{message}\n--- output ---\n{logs[-6000:]}")
        self.logs = logs


# ------------------------------------------------------------------------------ tools
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
    on PATH), as the top-level Makefile computes it; the brief's fixed value as a fallback."""
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
    machine = platform.machine().lower()
    machine = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)
    try:
        return _HOST_LAYER_PLATFORMS[machine]
    except KeyError:
        raise RuntimeError(f"no manylinux platform known for host architecture {machine!r}") from None


# ------------------------------------------------------------------------------ build
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
    Each flavour has its own build cache: SAM keys its cache on the source hash only, so a
    shared cache would hand one flavour's layer to the other.
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


# ------------------------------------------------------------------------------ layer
def elf_machine(path: str | Path) -> str | None:
    """The ELF ``e_machine`` of ``path`` as a name (``aarch64``, ``x86_64``), None if not ELF."""
    with Path(path).open("rb") as stream:
        header = stream.read(20)
    if len(header) < 20 or header[:4] != b"\x7fELF":
        return None
    machine = int.from_bytes(header[18:20], "little" if header[5] == 1 else "big")
    return _MACHINES.get(machine, f"e_machine={machine}")


def layer_report(build_dir: str | Path, layer_id: str = LAYER_ID) -> dict[str, Any]:
    """Exact facts about a built layer: its unzipped size, what it contains, and the
    architecture of every compiled extension in it."""
    root = Path(build_dir) / layer_id / "python"
    if not root.is_dir():
        raise FileNotFoundError(f"{root} does not exist: was {layer_id} built into {build_dir}?")
    total = 0
    files = 0
    extensions: dict[str, str | None] = {}
    for path in sorted(root.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        files += 1
        total += path.stat().st_size
        if path.suffix == ".so" or ".so." in path.name:
            extensions[str(path.relative_to(root))] = elf_machine(path)
    documents_dir = root / "googleapiclient" / "discovery_cache" / "documents"
    documents = sorted(p.name for p in documents_dir.iterdir()) if documents_dir.is_dir() else []
    top_level = sorted(p.name for p in root.iterdir())
    runtime_copies = sorted(
        name
        for name in top_level
        if name in RUNTIME_PACKAGES or name.split("-", 1)[0].lower() in RUNTIME_PACKAGES
    )
    return {
        "path": str(root),
        "bytes": total,
        "mib": round(total / 1048576, 2),
        "budget_bytes": LAYER_BUDGET_BYTES,
        "files": files,
        "top_level": top_level,
        "has_gmail_connect": (root / "gmail_connect" / "__init__.py").is_file(),
        "discovery_documents": documents,
        "runtime_packages": runtime_copies,
        "extensions": extensions,
        "machines": sorted({m or "not-elf" for m in extensions.values()}),
        "pycache_dirs": sum(1 for _ in root.rglob("__pycache__")),
        "third_party_sources": sorted(
            str(path.relative_to(root))
            for path in root.rglob("*.py")
            if path.parts[len(root.parts)] != "gmail_connect"
        ),
        "bytecode_magic": sorted({path.read_bytes()[:4].hex() for path in root.rglob("*.pyc")}),
        "gmail_connect_bytecode": sum(
            1 for _ in (root / "gmail_connect").rglob("__pycache__/*.cpython-313.pyc")
        ),
    }


# ------------------------------------------------------------------------------ runtime
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


def _sys_path(build_dir: Path, function_id: str | None) -> list[str]:
    paths = []
    if function_id is not None:
        functions = built_functions(build_dir)
        if function_id not in functions:
            raise KeyError(f"{function_id} is not a function of {build_dir / 'template.yaml'}")
        paths.append(functions[function_id]["dir"])
    paths.append(str((build_dir / LAYER_ID / "python").resolve()))
    paths.append(str(ensure_runtime_boto3().resolve()))
    return paths


def _lambda_environment(
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


# The child: Lambda's sys.path, stdout (where handlers log) redirected to stderr so the
# result travels alone on the original stdout.
_CHILD = r"""
import importlib, json, os, sys, time, traceback, uuid
request = json.loads(sys.stdin.read())
sys.path[:0] = request["sys_path"]
result_stream = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)

class LambdaContext:
    def __init__(self, name, memory, timeout, region):
        self.function_name = name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:123456789012:function:{name}"
        self.memory_limit_in_mb = int(memory)
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "2025/01/01/[$LATEST]packaging-check"
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + float(timeout)
    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.monotonic()) * 1000))

out = {}
module_name, _, attribute = request["handler"].rpartition(".")
try:
    started = time.perf_counter()
    module = importlib.import_module(module_name)
    out["init_seconds"] = time.perf_counter() - started
    handler = getattr(module, attribute)
    context = LambdaContext(
        request["function"], request["memory"], request["timeout"], os.environ["AWS_REGION"]
    )
    started = time.perf_counter()
    out["response"] = handler(request["event"], context)
    out["invoke_seconds"] = time.perf_counter() - started
except BaseException as error:
    traceback.print_exc()
    out["error"] = f"{type(error).__name__}: {error}"
sys.stdout.flush()
out["modules"] = {
    name: getattr(sys.modules.get(name), "__file__", None)
    for name in (
        module_name, "gmail_connect", "boto3", "googleapiclient",
        "google_auth_oauthlib", "aws_lambda_powertools",
    )
}
result_stream.write(json.dumps(out, default=str))
result_stream.flush()
sys.exit(1 if "error" in out else 0)
"""


@dataclass
class Invocation:
    """One invocation of a built handler in a fresh process."""

    response: Any
    logs: str
    init_seconds: float
    invoke_seconds: float
    modules: dict[str, str | None] = field(default_factory=dict)


def run_built(
    build_dir: str | Path, function_id: str, event: Mapping[str, Any], env: Mapping[str, str]
) -> Invocation:
    """Import ``function_id``'s built handler in a fresh python3.13 and call it once with
    ``event``; ``env`` is the function's environment (must point AWS at an emulator)."""
    if not env.get("AWS_ENDPOINT_URL"):
        raise ValueError("env has no AWS_ENDPOINT_URL: built handlers are only invoked against an emulator")
    build_dir = Path(build_dir).resolve()
    function = built_functions(build_dir)[function_id]
    sys_path = _sys_path(build_dir, function_id)
    request = {
        "sys_path": sys_path,
        "handler": function["handler"],
        "function": function_id,
        "memory": function["memory"],
        "timeout": function["timeout"],
        "event": dict(event),
    }
    completed = subprocess.run(
        [python313(), "-I", "-S", "-B", "-c", _CHILD],
        input=json.dumps(request),
        cwd=sys_path[0],
        env=_lambda_environment(build_dir, function_id, env, sys_path),
        capture_output=True,
        text=True,
        timeout=INVOKE_TIMEOUT_SECONDS,
        check=False,
    )
    try:
        out = json.loads(completed.stdout)
    except ValueError:
        logs = completed.stdout + completed.stderr
        raise InvocationError(f"{function_id}: no result (exit code {completed.returncode})", logs) from None
    if "error" in out:
        raise InvocationError(f"{function_id}: {out['error']}", completed.stderr)
    return Invocation(
        response=out["response"],
        logs=completed.stderr,
        init_seconds=out["init_seconds"],
        invoke_seconds=out["invoke_seconds"],
        modules=out.get("modules") or {},
    )


def invoke_built(
    build_dir: str | Path, function_id: str, event: Mapping[str, Any], env: Mapping[str, str]
) -> dict[str, Any]:
    """The handler's return value (the API Gateway payload 2.0 response) for ``event``."""
    return run_built(build_dir, function_id, event, env).response


# ------------------------------------------------------------------------------ backends
@dataclass(frozen=True)
class Backends:
    """Emulated AWS and Google for built handlers; ``env`` is what a function's process gets."""

    env: dict[str, str]
    aws_url: str
    google_url: str
    client_config: dict[str, Any]


@contextlib.contextmanager
def _environ(values: Mapping[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def local_backends(
    public_base_url: str = "http://127.0.0.1:3000", region: str = "us-east-1", template: str | Path = TEMPLATE
) -> Iterator[Backends]:
    """moto's server and the Google emulator on loopback, with the template's resources
    provisioned in an empty moto account (``provision_aws``); yields the environment the
    built functions get: the template's resolved variables plus the local endpoints."""
    from moto.server import ThreadedMotoServer

    from infra.google_emulator import GoogleEmulator
    from infra.local_stack.provision import provision_aws

    # moto's server logs every AWS call through werkzeug's logger: keep it quiet meanwhile.
    werkzeug_logger = logging.getLogger("werkzeug")
    saved_level = werkzeug_logger.level
    werkzeug_logger.setLevel(logging.WARNING)
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    google = None
    try:
        aws_url = f"http://127.0.0.1:{moto.get_host_and_port()[1]}"
        # moto's state is per process: start from an empty account.
        reset = urllib.request.Request(f"{aws_url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(reset, timeout=10) as response:
            response.read()
        google = GoogleEmulator(host="127.0.0.1", port=0, demo=True).start()
        client_config = google.client_config(redirect_uris=[f"{public_base_url}/oauth/callback"])
        aws = {
            "AWS_ENDPOINT_URL": aws_url,
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }
        with _environ(aws):
            provisioned = provision_aws(cfn.load_template(template), client_config)
        env = {
            **provisioned,
            **aws,
            "OAUTHLIB_INSECURE_TRANSPORT": "1",
            "PUBLIC_BASE_URL": public_base_url,
            "GOOGLE_REVOKE_URI": f"{google.url}/revoke",
            "GOOGLE_USERINFO_URI": f"{google.url}/v1/userinfo",
            "GMAIL_API_URL": google.url,
        }
        yield Backends(env=env, aws_url=aws_url, google_url=google.url, client_config=client_config)
    finally:
        if google is not None:
            google.stop()
        moto.stop()
        werkzeug_logger.setLevel(saved_level)


# ------------------------------------------------------------------------------ cold init
def _time_fresh_import(command: list[str], env: Mapping[str, str], cwd: str) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=dict(env), cwd=cwd, check=True, capture_output=True, timeout=120)
    return time.perf_counter() - started


def cold_init_times(
    build_dir: str | Path,
    env: Mapping[str, str],
    *,
    runs: int = 5,
    functions: Iterable[str] | None = None,
) -> dict[str, float]:
    """Median wall time (s) of a fresh ``python3.13 -c "import <handler module>"`` per
    function, plus ``"boto3"``: ``import boto3`` on the same interpreter and path. Runs are
    interleaved so that machine noise hits every entry alike.

    """
    build_dir = Path(build_dir).resolve()
    all_functions = built_functions(build_dir)
    names = list(functions) if functions is not None else list(all_functions)
    python = python313()
    commands: dict[str, tuple[list[str], dict[str, str], str]] = {}
    for name in names:
        sys_path = _sys_path(build_dir, name)
        module = all_functions[name]["handler"].rpartition(".")[0]
        code = f"import sys; sys.path[:0] = {sys_path!r}; import {module}"
        environment = _lambda_environment(build_dir, name, env, sys_path)
        commands[name] = ([python, "-I", "-S", "-B", "-c", code], environment, sys_path[0])
    baseline_path = _sys_path(build_dir, None)
    baseline_env = _lambda_environment(build_dir, names[0], env, baseline_path) if names else dict(env)
    code = f"import sys; sys.path[:0] = {baseline_path!r}; import boto3"
    commands["boto3"] = ([python, "-I", "-S", "-B", "-c", code], baseline_env, baseline_path[-1])

    samples: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, (command, environment, cwd) in commands.items():
            samples[name].append(_time_fresh_import(command, environment, cwd))
    return {name: statistics.median(values) for name, values in samples.items()}


def cold_init_ratios(
    build_dir: str | Path,
    env: Mapping[str, str],
    *,
    runs: int = 5,
    functions: Iterable[str] | None = None,
) -> dict[str, float]:
    """Function logical id -> (median cold import of its handler) / (median ``import boto3``),
    measured in one run on the built artifacts (performance.md's cold-init budgets)."""
    times = cold_init_times(build_dir, env, runs=runs, functions=functions)
    baseline = times.pop("boto3")
    return {name: value / baseline for name, value in times.items()}


def _main(argv: Sequence[str] | None = None) -> int:
    """``python -m infra.packaging_check [--host-arch] [--build-dir D]``: build, report the
    layer, and (host architecture) the handlers' cold-init ratios."""
    import argparse

    parser = argparse.ArgumentParser(description=_main.__doc__)
    parser.add_argument("--host-arch", action="store_true", help="build the layer for this machine")
    parser.add_argument("--build-dir", type=Path, default=None)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    flavour = "host" if args.host_arch else "arm64"
    build_dir = args.build_dir or ROOT / ".aws-sam" / f"build-packaging-{flavour}"
    build(build_dir, host_arch=args.host_arch)
    report = layer_report(build_dir)
    report.pop("extensions")
    print(json.dumps(report, indent=2))
    if args.host_arch:
        env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_REGION": "us-east-1"}
        template = cfn.load_template(TEMPLATE)
        env.update(cfn.function_environment(template, cfn.Resolver(template).resolve_str))
        times = cold_init_times(build_dir, env, runs=args.runs)
        baseline = times["boto3"]
        print(
            json.dumps(
                {
                    "median_ms": {name: round(value * 1000) for name, value in times.items()},
                    "vs_import_boto3": {name: round(value / baseline, 2) for name, value in times.items()},
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(_main())
