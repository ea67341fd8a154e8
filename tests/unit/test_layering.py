"""The layer's dependency direction, as its `__init__` docstring draws it: no import points up.

core <- store <- oauth <- gmail <- (sync | api) <- push. A module may import its own package and the
ones below it; `sync` and `api` are both on top and never import each other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "shared" / "gmail_connect"
RANK = {"core": 0, "store": 1, "oauth": 2, "gmail": 3, "sync": 4, "api": 4, "push": 5}
MODULES = sorted(PACKAGE.glob("*/*.py"))


def imported_packages(path: Path) -> set[str]:
    """The `gmail_connect` subpackages a module imports (at any depth: lazy imports count too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = (
            [alias.name for alias in node.names]
            if isinstance(node, ast.Import)
            else [node.module or ""]
            if isinstance(node, ast.ImportFrom)
            else []
        )
        for name in names:
            parts = name.split(".")
            if parts[0] == "gmail_connect" and len(parts) > 1:
                found.add(parts[1])
    return found


def test_every_module_sits_in_a_known_layer() -> None:
    assert MODULES
    assert {path.parent.name for path in MODULES} == set(RANK)
    assert not list(PACKAGE.glob("*.py"))[1:]  # only __init__.py at the top


@pytest.mark.parametrize("path", MODULES, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_no_import_points_up_the_layers(path: Path) -> None:
    own = path.parent.name
    for package in imported_packages(path) - {own}:
        assert RANK[package] < RANK[own], f"{own}/{path.name} imports gmail_connect.{package}"


@pytest.mark.parametrize("package", sorted(RANK))
def test_subpackage_inits_stay_empty(package: str) -> None:
    # A function imports only what it uses: an __init__ that imported its siblings would defeat that
    assert (PACKAGE / package / "__init__.py").read_text() == ""
