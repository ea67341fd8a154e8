"""A second consent screen in a row explains itself: the console says why on the page the user lands on.

Google sends a refresh token only on a consent it shows. A Google account that already granted this
client something (here: sign-in without Gmail, a partial grant) gets no consent screen and no
refresh token next time, so the callback sends the browser to Google again with consent forced.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

from tests.support.flow import callback, consent, start
from tests.support.product import header

GMAIL_READONLY = "https://www.googleapis.com/auth/gmail.readonly"


def _partial_grant_then_connect(stack, return_to: str) -> str:
    """Untick Gmail once, then connect for real; the Location the callback answers."""
    first_url, binding = start(urlencode({"login_hint": stack.email}))
    assert callback(consent(stack, first_url, untick=(GMAIL_READONLY,)), binding)["statusCode"] == 403
    second_url, binding = start(urlencode({"login_hint": stack.email, "return_to": return_to}))
    assert "prompt" not in parse_qs(urlsplit(second_url).query)
    response = callback(consent(stack, second_url), binding)
    assert response["statusCode"] == 302
    return header(response, "Location")


def test_connecting_from_the_console_lands_back_on_it_with_the_reason(stack) -> None:
    # Given a Google account with a partial grant, connecting from the console (return_to=/)
    location = _partial_grant_then_connect(stack, "/")
    # Then the browser goes back to consent, forced, to land on the console with the notice flag
    assert parse_qs(urlsplit(location).query) == {
        "prompt": ["consent"],
        "login_hint": [stack.email],
        "return_to": ["/?notice=consent_again"],
    }
    # And after that second consent it lands there, connected
    forced_url, binding = start(urlsplit(location).query)
    response = callback(consent(stack, forced_url), binding)
    assert response["statusCode"] == 302
    assert header(response, "Location") == "/?notice=consent_again"
    assert "refresh_token" in stack.items("TOKENS_TABLE")[0]


def test_other_return_paths_get_no_parameter_they_would_refuse(stack) -> None:
    # Given the same partial grant, connecting to land on /me (a JSON route refusing unknown parameters)
    location = _partial_grant_then_connect(stack, "/me")
    # Then the forced consent still returns to /me as it was
    assert "return_to" not in parse_qs(urlsplit(location).query)  # /me is the default
    forced_url, binding = start(urlsplit(location).query)
    assert header(callback(consent(stack, forced_url), binding), "Location") == "/me"
