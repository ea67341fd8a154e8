"""End-to-end: `python -m infra.local_stack` (what `make local` runs) as a real process, over HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"


@dataclass(frozen=True)
class RunningStack:
    api: str
    google: str
    aws: str


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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


@pytest.fixture(scope="session")
def local_stack() -> Iterator[RunningStack]:
    ports = {"PORT": _free_port(), "GOOGLE_EMULATOR_PORT": _free_port(), "AWS_EMULATOR_PORT": _free_port()}
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "GOOGLE_"))}
    environment |= {key: str(value) for key, value in ports.items()}
    environment["PYTHONPATH"] = f"{ROOT / 'shared'}:{ROOT}"
    # A file, not a pipe nobody reads while the tests run: the stack logs every request, and a
    # full pipe would block it mid-request.
    with tempfile.TemporaryFile(mode="w+") as log:
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
        )
        try:
            _wait_until_serving(f"{stack.api}/me", process)
            yield stack
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
            log.seek(0)
            output = log.read()
            assert process.returncode == 0, output[-2000:]


@pytest.fixture(scope="session")
def browser_type():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright.chromium


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def browser(browser_type):
    """A fresh Chromium for one test (each test makes its own contexts)."""
    launched = browser_type.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    try:
        yield launched
    finally:
        launched.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    try:
        yield context.new_page()
    finally:
        context.close()
