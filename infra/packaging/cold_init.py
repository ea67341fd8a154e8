"""Cold-import timings of the built handlers, relative to ``import boto3``, for the benchmark.

A ratio to ``import boto3`` on the same interpreter and path, measured in the same run, is
what stays comparable across machines; absolute times are not. Each sample is a fresh
``python3.13 -I -S -B -c "import <handler module>"``: exactly the import, nothing of the
probe's own start-up. Tests only check that it runs; people read the numbers.
"""

from __future__ import annotations

import statistics
import subprocess
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from infra.packaging.runtime import lambda_environment, lambda_sys_path
from infra.packaging.sam_build import built_functions
from infra.packaging.toolchain import python313

__all__ = ["cold_init_ratios", "cold_init_times", "first_use_profile"]


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
    interleaved so that machine noise hits every entry alike."""
    build_dir = Path(build_dir).resolve()
    all_functions = built_functions(build_dir)
    names = list(functions) if functions is not None else list(all_functions)
    python = python313()
    commands: dict[str, tuple[list[str], dict[str, str], str]] = {}
    for name in names:
        sys_path = lambda_sys_path(build_dir, name)
        module = all_functions[name]["handler"].rpartition(".")[0]
        code = f"import sys; sys.path[:0] = {sys_path!r}; import {module}"
        environment = lambda_environment(build_dir, name, env, sys_path)
        commands[name] = ([python, "-I", "-S", "-B", "-c", code], environment, sys_path[0])
    baseline_path = lambda_sys_path(build_dir, None)
    baseline_env = lambda_environment(build_dir, names[0], env, baseline_path) if names else dict(env)
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
    measured in one run on the built artifacts. The README's "Design notes (measured)" gives
    the budgets: authorize 1.8 x, messages 2.2 x."""
    times = cold_init_times(build_dir, env, runs=runs, functions=functions)
    baseline = times.pop("boto3")
    return {name: value / baseline for name, value in times.items()}


def first_use_profile(
    build_dir: str | Path,
    env: Mapping[str, str],
    first_use: Mapping[str, str],
    *,
    runs: int = 5,
) -> dict[str, tuple[float, float]]:
    """Function logical id -> (median CPU seconds, peak RSS in MiB) of a fresh process that
    imports the handler and then runs ``first_use[function]``: what its first invocation does
    before any I/O (the lazy imports, the boto3 clients). CPU time, not wall time: it is what a
    cold start costs at a given vCPU share, and other work on the machine does not inflate it.
    The RSS is the floor under the function's memory size."""
    build_dir = Path(build_dir).resolve()
    all_functions = built_functions(build_dir)
    python = python313()
    samples: dict[str, list[float]] = {name: [] for name in first_use}
    rss: dict[str, list[float]] = {name: [] for name in first_use}
    for _ in range(runs):
        for name, code in first_use.items():
            sys_path = lambda_sys_path(build_dir, name)
            module = all_functions[name]["handler"].rpartition(".")[0]
            program = (
                f"import sys; sys.path[:0] = {sys_path!r}; import {module}; {code or 'pass'}; "
                # VmHWM, not ru_maxrss: that one keeps the parent's size from before the exec.
                "import resource; usage = resource.getrusage(resource.RUSAGE_SELF); "
                "peak = [l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0]; "
                "print(usage.ru_utime + usage.ru_stime, peak)"
            )
            environment = lambda_environment(build_dir, name, env, sys_path)
            done = subprocess.run(
                [python, "-I", "-S", "-B", "-c", program],
                env=environment,
                cwd=sys_path[0],
                check=True,
                capture_output=True,
                text=True,
                timeout=120,
            )
            cpu, peak = done.stdout.split()[-2:]
            samples[name].append(float(cpu))
            rss[name].append(int(peak) / 1024)  # kB
    return {name: (statistics.median(samples[name]), statistics.median(rss[name])) for name in first_use}
