"""Print a sample event from ``events/`` signed in as a connected user of the running ``make local``.

    python -m infra.local_stack.session_event events/messages.json [--email demo@example.com]

The events in ``events/`` carry a made-up session (``gc_session=FAKE…``), so ``sam local invoke``
of a signed-in route answers 401. Sessions are stored as SHA-256 digests, so an existing one cannot
be read back; this opens a new session for the most recently updated connected account (or the one
with ``--email``) the way the callback does (``gmail_connect.store.sessions.create``, in the stack's
SessionsTable) and prints the event with that session as ``Authorization: Bearer`` (what apps send;
the made-up cookie is dropped). Pipe it to SAM: ``… | sam local invoke MessagesFunction -e -``.

The session is real until it expires or the account disconnects: the printed event is a
credential for that mailbox on this machine.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from infra import cfn
from infra.local_stack.handlers import REPO_ROOT
from infra.local_stack.sync import attach

__all__ = ["connected_user", "main", "with_session"]

SESSION_COOKIE = "gc_session"


class NoConnectedAccount(LookupError):
    pass


def connected_user(tokens_table: str, email: str | None = None) -> tuple[str, str | None]:
    """The user id and connection of the connected account updated last (or the one with ``email``)."""
    from gmail_connect.core import aws

    candidates: list[tuple[str, str, str | None]] = []
    paginator = aws.client("dynamodb").get_paginator("scan")
    for page in paginator.paginate(
        TableName=tokens_table,
        ProjectionExpression="user_id, email, #status, connected_at, updated_at, connection_id",
        ExpressionAttributeNames={"#status": "status"},
    ):
        for item in page["Items"]:
            if item.get("status", {}).get("S") != "connected":
                continue
            if email is not None and item.get("email", {}).get("S", "").lower() != email.lower():
                continue
            when = (item.get("updated_at") or item.get("connected_at") or {"S": ""})["S"]
            candidates.append((when, item["user_id"]["S"], item.get("connection_id", {}).get("S")))
    if not candidates:
        wanted = f"connected as {email}" if email else "connected"
        raise NoConnectedAccount(f"no account is {wanted}: connect one at /oauth/authorize first")
    _, user_id, connection_id = max(candidates)
    return user_id, connection_id


def with_session(event: dict[str, Any], token: str) -> dict[str, Any]:
    """``event`` (payload 2.0) with ``token`` as its Bearer session and no session cookie."""
    signed_in = json.loads(json.dumps(event))
    cookies = [c for c in signed_in.get("cookies", []) if not c.split("=", 1)[0].endswith(SESSION_COOKIE)]
    if cookies:
        signed_in["cookies"] = cookies
    else:
        signed_in.pop("cookies", None)
    headers = signed_in.setdefault("headers", {})
    headers.pop("authorization", None)
    headers["authorization"] = f"Bearer {token}"
    return signed_in


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.local_stack.session_event", description=__doc__)
    parser.add_argument("event", type=Path, help="a payload 2.0 event file, e.g. events/messages.json")
    parser.add_argument("--email", help="the connected account to sign in as (default: the latest)")
    arguments = parser.parse_args(argv)
    event = json.loads(arguments.event.read_text(encoding="utf-8"))

    template = cfn.load_template(REPO_ROOT / "template.yaml")
    try:
        environment = attach(template)  # this process now talks to the stack's AWS, as its handlers do
        from gmail_connect.core import aws
        from gmail_connect.core.config import get_settings
        from gmail_connect.store import sessions

        get_settings.cache_clear()
        aws.reset_clients()
        user_id, connection_id = connected_user(environment["TOKENS_TABLE"], arguments.email)
        token = sessions.create(user_id, connection_id)
    except NoConnectedAccount as error:
        print(f"session_event: {error}", file=sys.stderr)
        return 1
    except (BotoCoreError, ClientError) as error:
        print(
            f"session_event: cannot reach the local stack's AWS ({type(error).__name__}). "
            "Is `make local` running?",
            file=sys.stderr,
        )
        return 2
    print(json.dumps(with_session(event, token), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
