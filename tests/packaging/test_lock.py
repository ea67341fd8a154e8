"""shared/requirements.lock: what the layer build installs, every file checked against a hash.

`make lock` writes it from shared/requirements.txt; these checks catch a lock that was not
regenerated after an edit, and a build that stops using it. Whether the locked hashes cover
the aarch64 and x86_64 wheels is proven by the builds in test_build.py (pip refuses otherwise).
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT / "shared"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)")
_HASH = re.compile(r"^\s+--hash=sha256:[0-9a-f]{64}\b")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirements() -> dict[str, str]:
    """shared/requirements.txt: name -> pinned version (every line must be an exact pin)."""
    pins = {}
    for raw in (SHARED / "requirements.txt").read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = _PIN.match(line)
        assert match, f"requirements.txt: {line!r} is not pinned with =="
        pins[canonical(match.group(1))] = match.group(2)
    return pins


def lock() -> dict[str, tuple[str, int]]:
    """shared/requirements.lock: name -> (version, number of sha256 hashes)."""
    entries: dict[str, tuple[str, int]] = {}
    current = None
    for line in (SHARED / "requirements.lock").read_text(encoding="utf-8").splitlines():
        match = _PIN.match(line)
        if match:
            current = canonical(match.group(1))
            assert current not in entries, f"{current} is locked twice"
            entries[current] = (match.group(2), 0)
        elif _HASH.match(line):
            assert current is not None
            version, hashes = entries[current]
            entries[current] = (version, hashes + 1)
    return entries


def test_the_lock_pins_each_direct_dependency_at_its_requested_version() -> None:
    # Given the layer's direct dependencies and the lock
    wanted, locked = requirements(), lock()
    # Then each is locked at exactly the version asked for (else: run `make lock`)
    for name, version in wanted.items():
        assert name in locked, f"{name} is missing from requirements.lock: run make lock"
        assert locked[name][0] == version, f"{name}: locked {locked[name][0]}, not {version}: run make lock"


def test_every_locked_package_carries_hashes_and_none_is_left_to_the_runtime() -> None:
    # Given the lock
    locked = lock()
    assert len(locked) > len(requirements()), "the lock should also pin the transitive dependencies"
    # Then pip can check every file it downloads
    assert all(hashes >= 1 for _, hashes in locked.values()), locked
    # And nothing the Lambda runtime provides is pinned (the build would delete it anyway)
    assert not {"boto3", "botocore", "s3transfer"} & set(locked)


def test_the_layer_build_installs_the_lock_with_hash_checking() -> None:
    # Given the layer's build recipe (sam build runs shared/Makefile's build-AuthLayer)
    recipe = (SHARED / "Makefile").read_text(encoding="utf-8").replace("\\\n", " ")
    installs = [line for line in recipe.splitlines() if " -m pip install " in line]
    # Then its one pip install reads the lock with hashes required, never the loose list
    assert len(installs) == 1, installs
    assert "--require-hashes" in installs[0].split()
    assert "-r requirements.lock" in installs[0]
    assert "requirements.txt" not in installs[0]
