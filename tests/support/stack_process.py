"""`python -m infra.local_stack` (what `make local` runs) as a real process on free ports.

The e2e and contract tests drive the product over HTTP through it, as a user's browser or an
application would.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class RunningStack:
    api: str
    google: str
    aws: str
    log: Path | None = None  # its output (handlers' logs, tracebacks), when kept

    def log_tail(self, characters: int = 4000) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-characters:] if self.log else ""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until_serving(url: str, process: subprocess.Popen, deadline_s: float = 60) -> None:
    """Poll until the front answers (bounded); fail fast if the process died."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the local stack exited early with {process.returncode}")
        try:
            requests.get(url, timeout=5)
            return
        except requests.RequestException:  # not listening yet, or too busy starting to answer
            time.sleep(0.1)  # polling interval for a server coming up, not synchronisation
    raise AssertionError(f"the local stack did not answer on {url} within {deadline_s} s")


@contextmanager
def running_local_stack(log_path: Path | None = None) -> Iterator[RunningStack]:
    """The local stack, started with this machine's AWS and Google settings left out; stopped
    with SIGTERM at the end, which must end it cleanly (exit status 0).

    Its output goes to a file (`log_path`, kept; else a temporary one), not a pipe: every request
    logs, and a pipe nobody reads while the tests run would fill up and block the stack.
    """
    ports = {"PORT": free_port(), "GOOGLE_EMULATOR_PORT": free_port(), "AWS_EMULATOR_PORT": free_port()}
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "GOOGLE_"))}
    environment |= {key: str(value) for key, value in ports.items()}
    environment["PYTHONPATH"] = f"{ROOT / 'shared'}:{ROOT}"
    with log_path.open("w+", encoding="utf-8") if log_path else tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "infra.local_stack"],
            cwd=ROOT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        stack = RunningStack(
            api=f"http://127.0.0.1:{ports['PORT']}",
            google=f"http://127.0.0.1:{ports['GOOGLE_EMULATOR_PORT']}",
            aws=f"http://127.0.0.1:{ports['AWS_EMULATOR_PORT']}",
            log=log_path,
        )
        try:
            _wait_until_serving(f"{stack.api}/me", process)
            yield stack
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
            log.seek(0)
            assert process.returncode == 0, log.read()[-2000:]
