"""Control endpoints, the demo mailbox, the clock and ``python -m infra.google_emulator``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import requests
from googleapiclient.http import BatchHttpRequest

from infra.google_emulator import GoogleEmulator

from .conftest import DEMO, REDIRECT_URI, Google

ROOT = Path(__file__).resolve().parents[2]


def _all_messages(google: Google, gmail: Any) -> list[dict[str, Any]]:
    """Every message (spam and trash included) in metadata format, fetched in one batch."""
    refs = gmail.users().messages().list(userId="me", includeSpamTrash=True).execute()["messages"]
    found: dict[str, Any] = {}
    batch = BatchHttpRequest(
        callback=lambda request_id, response, _: found.__setitem__(request_id, response),
        batch_uri=f"{google.url}/batch/gmail/v1",
    )
    for ref in refs:
        batch.add(
            gmail.users().messages().get(userId="me", id=ref["id"], format="metadata"), request_id=ref["id"]
        )
    batch.execute()
    return [found[ref["id"]] for ref in refs]


def _header(message: dict[str, Any], name: str) -> str:
    return next(h["value"] for h in message["payload"]["headers"] if h["name"] == name)


# -- accounts -----------------------------------------------------------------------------


def test_create_accounts(google: Google) -> None:
    created = google.control(
        "POST", "/accounts", {"email": "new@example.com", "name": "New Person", "messages": 12}
    )
    assert created.status_code == 201
    body = created.json()
    assert body["email"] == "new@example.com"
    assert len(body["sub"]) == 21
    assert body["sub"].isdigit()
    assert body["sub"] != google.control("GET", f"/accounts/{DEMO}").json()["sub"]
    account = google.control("GET", "/accounts/new@example.com").json()
    assert (account["name"], account["messagesTotal"], account["grants"]) == ("New Person", 12, [])
    duplicate = google.control("POST", "/accounts", {"email": "New@Example.com"})
    assert duplicate.status_code == 409
    assert "exists" in duplicate.json()["error"]
    for bad in ({}, {"email": "not-an-address"}, {"email": "x@example.com", "messages": "many"}):
        response = google.control("POST", "/accounts", bad)
        assert response.status_code == 400
        assert response.json()["error"]
    listed = google.control("GET", "/accounts").json()["accounts"]
    assert [a["email"] for a in listed] == [DEMO, "new@example.com"]


def test_the_same_address_always_gets_the_same_sub() -> None:
    with GoogleEmulator() as first, GoogleEmulator(demo=False) as second:
        requests.post(f"{second.url}/_emulator/accounts", json={"email": DEMO}, timeout=10)
        subs = [
            requests.get(f"{emu.url}/_emulator/accounts/{DEMO}", timeout=10).json()["sub"]
            for emu in (first, second)
        ]
    assert subs[0] == subs[1]


def test_mail_control_errors(google: Google) -> None:
    unknown = google.control(
        "POST", "/accounts/ghost@example.com/messages", {"from": "a@b.c", "subject": "s", "body": "b"}
    )
    assert unknown.status_code == 404
    no_sender = google.control("POST", f"/accounts/{DEMO}/messages", {"subject": "s", "body": "b"})
    assert no_sender.status_code == 400
    bad_label = google.control(
        "POST", f"/accounts/{DEMO}/messages", {"from": "a@b.c", "labelIds": ["MADE_UP"]}
    )
    assert bad_label.status_code == 400
    assert "MADE_UP" in bad_label.json()["error"]
    assert google.control("DELETE", f"/accounts/{DEMO}/messages/0000000000000000").status_code == 404
    relabel = google.control(
        "POST", f"/accounts/{DEMO}/messages/0000000000000000/labels", {"add": ["STARRED"]}
    )
    assert relabel.status_code == 404


def test_the_clock_moves_forward_only(google: Google) -> None:
    before = google.control("GET", "/clock").json()["now"]
    moved = google.control("POST", "/clock", {"advance_seconds": 86_400}).json()
    assert moved["offset"] == 86_400
    assert moved["now"] - before >= 86_400
    backwards = google.control("POST", "/clock", {"advance_seconds": -5})
    assert backwards.status_code == 400
    assert google.control("GET", "/clock").json()["offset"] == 86_400


def test_control_calls_are_not_counted(google: Google) -> None:
    google.control("GET", "/stats")
    google.control("POST", "/clock", {"advance_seconds": 1})
    google.control("GET", f"/accounts/{DEMO}")
    assert google.stats() == {"calls": {}, "batched_calls": {}, "quota_units": {}, "quota_units_by_route": {}}


def test_the_openid_configuration_points_at_the_emulator(google: Google) -> None:
    document = google.http.get(f"{google.url}/.well-known/openid-configuration").json()
    # the issuer is Google's, as in the ID tokens; every endpoint is the emulator's
    assert document["issuer"] == "https://accounts.google.com"
    assert document["token_endpoint"] == google.config["web"]["token_uri"] == f"{google.url}/token"
    assert document["authorization_endpoint"] == google.config["web"]["auth_uri"]
    assert document["jwks_uri"] == f"{google.url}/oauth2/v3/certs"
    assert google.config["web"]["redirect_uris"][0] == REDIRECT_URI


# -- the demo mailbox ---------------------------------------------------------------------


def test_the_demo_mailbox_is_varied(google: Google, gmail: Any) -> None:
    messages = _all_messages(google, gmail)
    assert len(messages) == 40
    labels = Counter(label for message in messages for label in message["labelIds"])
    assert {"INBOX", "UNREAD", "IMPORTANT", "STARRED", "SENT"} <= set(labels)
    assert len([label for label in labels if label.startswith("CATEGORY_")]) >= 4
    threads = Counter(message["threadId"] for message in messages)
    assert sum(1 for size in threads.values() if size >= 2) >= 2
    assert len({_header(message, "From") for message in messages}) >= 6
    assert len({_header(message, "Subject") for message in messages}) >= 15
    dates = [int(message["internalDate"]) / 1000 for message in messages]
    assert max(dates) <= time.time()
    assert max(dates) - min(dates) > 7 * 86_400


def test_the_demo_mailbox_is_deterministic(google: Google, gmail: Any) -> None:
    with GoogleEmulator() as other_emulator:
        other = Google(other_emulator)
        flow, _ = other.connect()
        other_messages = _all_messages(other, other.gmail(flow.credentials))
    mine = _all_messages(google, gmail)

    def shape(messages: list[dict[str, Any]]) -> list[tuple[str, str, list[str], str]]:
        return [(_header(m, "From"), _header(m, "Subject"), m["labelIds"], m["snippet"]) for m in messages]

    assert shape(mine) == shape(other_messages)


# -- the command line ---------------------------------------------------------------------


def test_python_dash_m_serves_in_the_foreground_until_sigterm() -> None:
    command = [
        sys.executable,
        "-m",
        "infra.google_emulator",
        "--port",
        "0",
        "--quiet",
        "--redirect-uri",
        REDIRECT_URI,
    ]
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        banner = process.stdout.readline().strip()
        assert banner.startswith("Google emulator on http://127.0.0.1:")
        url = banner.rsplit(" ", 1)[1]
        lines = [process.stdout.readline()]
        while lines[-1].rstrip() != "}":  # the client config, pretty-printed
            lines.append(process.stdout.readline())
        config = json.loads("".join(lines))
        assert config["web"]["redirect_uris"] == [REDIRECT_URI]
        assert config["web"]["token_uri"] == f"{url}/token"
        account = requests.get(f"{url}/_emulator/accounts/{DEMO}", timeout=10).json()
        assert account["messagesTotal"] == 40
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
