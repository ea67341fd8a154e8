"""GET /messages input rules and page shaping: what is accepted before anything is read."""

from __future__ import annotations

import pytest

from gmail_connect.api import inputs, messages
from gmail_connect.core.errors import InvalidRequest


def parse_query(raw: str) -> messages.PageRequest:
    """As the function does it: the raw query string through `inputs.query_params`, then `messages.parse`."""
    return messages.parse(inputs.query_params({"rawQueryString": raw}, messages.PARAMS))


def test_defaults_are_25_ids_without_filters() -> None:
    assert parse_query("") == messages.PageRequest(
        q=None, page_token=None, max_results=25, label_ids=(), metadata=False
    )


def test_every_parameter_at_its_limits_is_accepted() -> None:
    # Given each parameter at the edge of what is allowed
    labels = ",".join(["INBOX", "Label_12", "CATEGORY_UPDATES", "a-b"] + [f"L{n}" for n in range(6)])
    raw = f"q={'x' * 512}&pageToken={'A-z_9' * 51}A&maxResults=500&labelIds={labels}&include=metadata"
    # When parsed
    request = parse_query(raw)
    # Then all of it is kept as given
    assert request.q == "x" * 512
    assert request.page_token == "A-z_9" * 51 + "A"
    assert len(request.page_token) == 256
    assert request.max_results == 500
    assert request.label_ids[:3] == ("INBOX", "Label_12", "CATEGORY_UPDATES")
    assert len(request.label_ids) == 10
    assert request.metadata is True


@pytest.mark.parametrize(
    ("raw", "value"), [("maxResults=1", 1), ("maxResults=007", 7), ("maxResults=500", 500)]
)
def test_max_results_range(raw: str, value: int) -> None:
    assert parse_query(raw).max_results == value


def test_q_keeps_gmail_search_syntax_and_empty_q_is_no_filter() -> None:
    assert parse_query("q=from%3Aalice%40example.org+is%3Aunread+%22two+words%22").q == (
        'from:alice@example.org is:unread "two words"'
    )
    assert parse_query("q=").q is None


def test_repeated_labels_are_asked_once() -> None:
    assert parse_query("labelIds=INBOX,STARRED,INBOX").label_ids == ("INBOX", "STARRED")


def test_a_64_character_label_is_the_longest() -> None:
    assert parse_query("labelIds=" + "L" * 64).label_ids == ("L" * 64,)
    with pytest.raises(InvalidRequest, match="labelIds"):
        parse_query("labelIds=" + "L" * 65)


@pytest.mark.parametrize(
    ("raw", "names"),
    [
        ("maxResults=0", "maxResults"),
        ("maxResults=501", "maxResults"),
        ("maxResults=1000", "maxResults"),
        ("maxResults=-5", "maxResults"),
        ("maxResults=%2B5", "maxResults"),
        ("maxResults=5.0", "maxResults"),
        ("maxResults=%205", "maxResults"),
        ("maxResults=%D9%A5", "maxResults"),  # an Arabic-Indic 5: int() would take it
        ("maxResults=", "maxResults"),
        ("q=" + "x" * 513, "q"),
        ("pageToken=", "pageToken"),
        ("pageToken=" + "a" * 257, "pageToken"),
        ("pageToken=a%2Bb", "pageToken"),
        ("pageToken=a%3Db", "pageToken"),
        ("pageToken=%C3%A9", "pageToken"),
        ("labelIds=", "labelIds"),
        ("labelIds=,INBOX", "labelIds"),
        ("labelIds=INBOX%3B", "labelIds"),
        ("labelIds=" + ",".join(f"L{n}" for n in range(11)), "labelIds"),
        ("include=", "include"),
        ("include=full", "include"),
        ("include=METADATA", "include"),
        ("maxResults=5&maxResults=5", "repeated"),
        ("labelIds=INBOX&labelIds=SENT", "repeated"),
        ("userId=me", "Unknown"),
        ("fields=raw", "Unknown"),
        ("q=a%00b", "control"),
    ],
)
def test_bad_parameters_are_refused_with_a_message_naming_them(raw: str, names: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        parse_query(raw)
    assert names.lower() in refused.value.message.lower()
    assert refused.value.status == 400
    assert refused.value.code == "invalid_request"


def test_parse_refuses_unknown_names_even_without_query_params() -> None:
    with pytest.raises(InvalidRequest, match="Unknown"):
        messages.parse({"user": "someone"})


# --- shaping -------------------------------------------------------------------------------------


def test_a_metadata_message_is_shaped_to_the_api_fields() -> None:
    # Given Gmail's `format=metadata` resource (headers in any case, extras we do not show)
    resource = {
        "id": "18c0ffee",
        "threadId": "18c0ffee",
        "labelIds": ["INBOX", "UNREAD"],
        "snippet": "Hi there",
        "historyId": "991",
        "sizeEstimate": 1234,
        "internalDate": "1700000000000",
        "payload": {
            "headers": [
                {"name": "from", "value": "Alice <alice@example.org>"},
                {"name": "To", "value": "me@example.com"},
                {"name": "SUBJECT", "value": "Lunch?"},
                {"name": "Subject", "value": "a second Subject header is ignored"},
                {"name": "Date", "value": "Tue, 14 Nov 2023 22:13:20 +0000"},
                {"name": "Received", "value": "from mx.example"},
            ]
        },
    }
    # Then only the API's fields come out
    assert messages.shape(resource) == {
        "id": "18c0ffee",
        "threadId": "18c0ffee",
        "labelIds": ["INBOX", "UNREAD"],
        "snippet": "Hi there",
        "from": "Alice <alice@example.org>",
        "to": "me@example.com",
        "subject": "Lunch?",
        "date": "Tue, 14 Nov 2023 22:13:20 +0000",
        "internalDate": "1700000000000",
    }


def test_missing_headers_are_null_not_errors() -> None:
    shaped = messages.shape({"id": "1", "threadId": "1"})
    assert shaped["from"] is None
    assert shaped["subject"] is None
    assert shaped["labelIds"] == []
    assert shaped["snippet"] == ""
