"""``python -m infra.google_emulator [--port 3001] [--redirect-uri URL ...]``: run in the foreground."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import threading

from .emulator import GoogleEmulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.google_emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3001)
    parser.add_argument(
        "--redirect-uri", action="append", default=[], help="register a redirect URI (repeatable)"
    )
    parser.add_argument("--no-demo", action="store_true", help="start without the demo account")
    parser.add_argument("--quiet", action="store_true", help="do not log each request")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(message)s")
    emulator = GoogleEmulator(host=args.host, port=args.port, demo=not args.no_demo).start()
    config = emulator.client_config(redirect_uris=args.redirect_uri)
    print(f"Google emulator on {emulator.url}", flush=True)
    print(json.dumps(config, indent=2), flush=True)

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    emulator.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
