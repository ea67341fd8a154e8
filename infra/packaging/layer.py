"""Exact facts about a built ``AuthLayer``: what the packaging tests assert and the benchmark prints.

Facts, not judgements: the unzipped size against the budget, what is inside (only Gmail's
discovery document, no copy of the runtime's boto3, bytecode for Python 3.13) and the
architecture of every compiled extension, read from its ELF header rather than its file name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["EM_AARCH64", "EM_X86_64", "LAYER_BUDGET_BYTES", "LAYER_ID", "elf_machine", "layer_report"]

LAYER_ID = "AuthLayer"
# The layer stays <= 35 MiB unzipped (as `du -m` and Lambda's limits count); shared/Makefile
# refuses a bigger build with the same figure.
LAYER_BUDGET_BYTES = 35 * 1024 * 1024

EM_X86_64 = 62
EM_AARCH64 = 183
_MACHINES = {EM_X86_64: "x86_64", EM_AARCH64: "aarch64", 3: "i386", 40: "arm"}
# What the Lambda runtime itself provides; the layer must not shadow it.
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer")


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
