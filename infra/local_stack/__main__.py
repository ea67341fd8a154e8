"""``make local``: serve the whole product on loopback until Ctrl-C or SIGTERM.

Environment: ``PORT`` (3000), ``GOOGLE_EMULATOR_PORT`` (3001), ``AWS_EMULATOR_PORT`` (3002),
``GOOGLE_CLIENT_SECRETS`` (a ``client_secret.json``: use the real Google instead of the
emulator), ``LOCAL_SIGV4_ACCESS_KEY_ID`` / ``LOCAL_SIGV4_SECRET_ACCESS_KEY`` (the key pair ``/v1``
accepts; ``AKIDLOCAL`` / ``local-secret``), ``LOCAL_CONTAINER_HOST`` (how ``sam local``'s containers
reach this machine, ``host.docker.internal``; see ``sam_local``). Port 0 picks a free port. At start
it writes the ``sam local`` files (``.aws-sam/local-env.json`` …) next to the template. Exit
status: 0 after a clean stop, 2 when a port is taken.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import sys
import threading
from types import FrameType

from infra.local_stack import sam_local
from infra.local_stack.event_tap import QUEUE_NAME as EVENT_TAP_QUEUE
from infra.local_stack.sigv4 import REGION, SERVICE
from infra.local_stack.stack import ContainerHostUnavailable, LocalStack, PortInUse


def _port(variable: str, default: int) -> int:
    value = os.environ.get(variable, "").strip()
    if not value:
        return default
    if not value.isdigit() or int(value) > 65535:
        raise SystemExit(f"local stack: {variable}={value!r} is not a port number")
    return int(value)


def _demo_account(google: object) -> str | None:
    """The emulator's demo account, if it has one."""
    for name in ("demo_email", "demo_account"):
        value = getattr(google, name, None)
        if isinstance(value, str):
            return value
        if value is not None and isinstance(getattr(value, "email", None), str):
            return str(value.email)
    try:
        from infra.google_emulator.state import DEMO_EMAIL
    except ImportError:
        return None
    state = getattr(google, "state", None)
    lookup = getattr(state, "account", None)
    if callable(lookup) and lookup(DEMO_EMAIL) is not None:
        return DEMO_EMAIL
    return None


def banner(stack: LocalStack, sam_files: sam_local.SamLocalFiles | None = None) -> str:
    """What to open, in the order a newcomer needs it: the console's URL is the first line."""
    api, aws = stack.api_url, stack.aws_url
    table = stack.environment.get("TOKENS_TABLE", "TokensTable")
    lines = [
        f"Gmail connect is running: open {api}/ (the console: connect Gmail, read mail, watch events)",
        "",
        "  The API the console calls, to open directly:",
        f"    connect a Gmail account:  {api}/oauth/authorize",
        f"    who is signed in:         {api}/me",
        f"    the mailbox:              {api}/messages?include=metadata&maxResults=10",
        "  One scheduled-sync round:    make sync   (in another terminal)",
        "",
    ]
    if stack.google is not None:
        demo = _demo_account(stack.google)
        account = f"demo account {demo}" if demo else "the consent page offers a demo account"
        lines.append(f"  Google (emulator):  {stack.google.url}   ({account})")
    else:
        lines.append(f"  Google (real):      client config from {stack.client_secrets}")
        lines.append(f"                      (its OAuth client must allow {stack.redirect_uri})")
    lines += [
        f"  AWS (moto):         {aws}   (DynamoDB, KMS, Secrets Manager, SQS, EventBridge;",
        "                      any credentials, region us-east-1)",
        f"    aws --endpoint-url {aws} dynamodb scan --table-name {table}",
    ]
    tap = stack.event_tap
    if tap is not None and tap.buses:
        lines += [
            f"  Bus events ({', '.join(tap.buses)}) are copied to the SQS queue {EVENT_TAP_QUEUE}:",
            f"    aws --endpoint-url {aws} sqs receive-message --queue-url {tap.queue_url} \\",
            "        --max-number-of-messages 10 --wait-time-seconds 5",
        ]
    key_id, secret = stack.sigv4_credentials.access_key_id, stack.sigv4_credentials.secret_access_key
    lines += [
        "",
        f"  /v1 needs SigV4 (service {SERVICE}, region {REGION}): access key id {key_id},",
        f"    secret access key {secret}   (LOCAL_SIGV4_ACCESS_KEY_ID / _SECRET_ACCESS_KEY)",
        f"    curl --aws-sigv4 aws:amz:{REGION}:{SERVICE} --user {key_id}:{secret} \\",
        f"        {api}/v1/connections",
    ]
    if sam_files is not None:
        root = stack.template_path.parent
        files = [sam_files.env_vars] + ([sam_files.template] if sam_files.template else [])
        lines += [
            "",
            f"  sam local (Docker): {', '.join(str(f.relative_to(root)) for f in files)}"
            + ("" if sam_files.template else " (make build first for the local template)"),
            "    README: Running functions with sam local",
        ]
    lines += [
        "",
        "Ctrl-C stops everything.",
        "",
    ]
    return "\n".join(lines)


def _wait_for(stopping: threading.Event) -> None:
    """Sleep in the main thread until a signal handler sets ``stopping``.

    The kernel may deliver SIGTERM to any thread (here: a server thread); Python then only
    flags it, and runs the handler when the main thread next executes bytecode, which a
    main thread blocked in ``Event.wait()`` would not do. So the main thread blocks in
    ``select`` on the signal wakeup fd instead: the C-level handler writes the signal number
    there from whichever thread received it, ``select`` returns, and the Python handler runs.
    """
    receive, send = socket.socketpair()
    receive.setblocking(False)
    send.setblocking(False)
    previous = signal.set_wakeup_fd(send.fileno(), warn_on_full_buffer=False)
    try:
        while not stopping.is_set():
            select.select([receive], [], [])
            with contextlib.suppress(BlockingIOError):
                receive.recv(4096)
    finally:
        signal.set_wakeup_fd(previous)
        receive.close()
        send.close()


def main() -> int:
    client_secrets = os.environ.get("GOOGLE_CLIENT_SECRETS") or None
    stack = LocalStack(
        port=_port("PORT", 3000),
        google_port=_port("GOOGLE_EMULATOR_PORT", 3001),
        aws_port=_port("AWS_EMULATOR_PORT", 3002),
        client_secrets=client_secrets,
        container_host=os.environ.get(sam_local.CONTAINER_HOST_VARIABLE) or sam_local.DEFAULT_CONTAINER_HOST,
    )
    stopping = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    # Installed before starting, so a signal during start-up still ends in a clean stop.
    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        stack.start()
    except (PortInUse, ContainerHostUnavailable) as error:
        print(f"local stack: {error}", file=sys.stderr)
        return 2
    except FileNotFoundError as error:  # template.yaml (run from the repo root) or GOOGLE_CLIENT_SECRETS
        print(f"local stack: {error.strerror}: {error.filename}", file=sys.stderr)
        return 1
    try:
        sam_files: sam_local.SamLocalFiles | None = None
        try:
            sam_files = sam_local.write_files(
                stack.template_path.parent, stack.template, stack.environment, stack.container_host
            )
        except OSError as error:  # a read-only checkout: only `sam local` misses out
            print(f"local stack: sam local files not written: {error}", file=sys.stderr)
        print(banner(stack, sam_files), flush=True)
        _wait_for(stopping)
    finally:
        print("local stack: stopping…", file=sys.stderr, flush=True)
        stack.stop()
    print("local stack: stopped.", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
