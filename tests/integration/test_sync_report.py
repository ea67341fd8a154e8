"""What `make sync` prints after its counts: the events it published, and why it published none.

The real round (scheduler -> SQS -> worker handlers) against moto and the Google emulator; the
report reads the events off the product's own EventBridge client, as `make sync` does.
"""

from __future__ import annotations

import pytest

from infra.cfn import load_template
from infra.local_stack import sync_report
from infra.local_stack.sync import SyncRound
from tests.support.flow import connect, deliver, new_account
from tests.support.product import TEMPLATE, reset_caches, scheduled_rounds_only

CONSOLE = "http://127.0.0.1:3000/"


@pytest.fixture(autouse=True)
def _rounds_only(stack) -> None:
    scheduled_rounds_only(stack.environment)


def sync(stack) -> list[str]:
    """One round, and the lines `make sync` prints after its counts."""
    with sync_report.PublishedEvents().recording() as published:
        summary = SyncRound(load_template(TEMPLATE), stack.environment).run()
    return sync_report.lines(summary, published, stack.environment)


def test_with_nobody_connected_it_says_where_to_connect(stack) -> None:
    assert sync(stack) == [f"no connected users: open {CONSOLE} to connect one"]


def test_a_first_sync_says_it_only_recorded_where_the_mailbox_is(stack) -> None:
    # Given a user who just connected (their mailbox holds 5 messages)
    connect(stack)
    # When the first round runs, Then it says why nothing was announced, and how to change that
    assert sync(stack) == [
        "first sync for 1 user: positions recorded, nothing announced "
        "(set SYNC_BACKFILL_MESSAGES to announce the newest messages)"
    ]


def test_new_mail_is_listed_with_its_user_and_subject(stack) -> None:
    # Given a connected user synced once
    connect(stack)
    sync(stack)
    # When two messages arrive and a round runs
    deliver(stack, stack.email, subject="Quarterly numbers")
    deliver(stack, stack.email, subject="")
    # Then each event is printed with the user's email (the event carries only their id) and subject
    assert sync(stack) == [
        "events published (2):",
        f"  gmail.message.received  {stack.email}  \u201cQuarterly numbers\u201d",
        f"  gmail.message.received  {stack.email}  \u201c(no subject)\u201d",
    ]


def test_a_round_with_no_new_mail_says_how_to_make_some(stack) -> None:
    connect(stack)
    sync(stack)
    [line] = sync(stack)
    assert line.startswith("no new mail since the last sync: deliver some with the console's")


def test_a_lost_grant_is_listed_and_explained(stack) -> None:
    # Given a connected, synced user who then revokes the app at Google
    connect(stack)
    sync(stack)
    assert stack.google_control(f"accounts/{stack.email}/revoke").status_code == 204
    # When a round runs
    printed = sync(stack)
    # Then the event and what to do are printed
    assert printed == [
        "events published (1):",
        f"  gmail.connection.reauthorization_required  {stack.email}  (reason: invalid_grant)",
        f"1 user lost Gmail access: they reconnect at {CONSOLE}",
    ]


def test_a_backfilling_first_sync_needs_no_explanation(stack, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given first syncs configured to announce the 2 newest messages, and a user with 3
    monkeypatch.setenv("SYNC_BACKFILL_MESSAGES", "2")
    stack.environment["SYNC_BACKFILL_MESSAGES"] = "2"
    reset_caches()
    email = new_account(stack)
    connect(stack, email)
    for subject in ("one", "two", "three"):
        deliver(stack, email, subject=subject)
    # Then the first round lists what it announced, and explains nothing
    assert sync(stack) == [
        "events published (2):",
        f"  gmail.message.received  {email}  \u201ctwo\u201d",
        f"  gmail.message.received  {email}  \u201cthree\u201d",
    ]
