"""End-to-end: `python -m infra.local_stack` (what `make local` runs) as a real process, over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.stack_process import ROOT, RunningStack, running_local_stack

__all__ = ["ROOT", "RunningStack"]

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def local_stack() -> Iterator[RunningStack]:
    with running_local_stack() as stack:
        yield stack


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
