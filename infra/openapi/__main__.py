"""``python -m infra.openapi [--check]``: write the committed OpenAPI document, or check it is current.

Exit status: 0 when written (or current with ``--check``), 1 when ``--check`` finds it stale.
"""

from __future__ import annotations

import argparse
import sys

from infra.openapi import DOCUMENT_PATH, render


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.openapi", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only compare; write nothing")
    arguments = parser.parse_args(argv)
    rendered = render()
    current = DOCUMENT_PATH.read_text(encoding="utf-8") if DOCUMENT_PATH.exists() else None
    if arguments.check:
        if current != rendered:
            print(f"{DOCUMENT_PATH.name} is stale: run `make openapi`", file=sys.stderr)
            return 1
        return 0
    if current != rendered:
        DOCUMENT_PATH.write_text(rendered, encoding="utf-8")
        print(f"wrote {DOCUMENT_PATH.relative_to(DOCUMENT_PATH.parents[3])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
