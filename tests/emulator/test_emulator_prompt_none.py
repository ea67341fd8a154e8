"""``prompt=none``: Google shows no page, so it answers at once with a code or an error redirect.

The emulator's accounts stand for the accounts signed in to the browser.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from google_auth_oauthlib.flow import Flow

from infra.google_emulator import GoogleEmulator

from .conftest import DEMO, EMAIL, OPENID, PRODUCT_SCOPES, READONLY, REDIRECT_URI, Google, Redirect

SECOND = "second@example.com"


def _silent(google: Google, flow: Flow, **params: str | None) -> Redirect:
    """Open the authorization URL with prompt=none; it must redirect straight back, no page."""
    url = google.authorization_url(flow, prompt="none", state="silent-1", **params)
    response = google.http.get(url, allow_redirects=False, timeout=10)
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    assert location.startswith(f"{REDIRECT_URI}?")
    return Redirect(location, {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()})


def _add_second_account(google: Google) -> None:
    assert google.control("POST", "/accounts", {"email": SECOND}).status_code == 201


def test_an_account_that_granted_everything_gets_a_code_without_a_page(
    google: Google, connected: tuple[Flow, dict[str, Any]]
) -> None:
    # Given the demo user consented earlier, and another account is signed in too
    _add_second_account(google)
    flow = google.flow()
    # When the app asks again without any page, naming the demo user
    redirect = _silent(google, flow, login_hint=DEMO)
    # Then Google answers at once with a code for the same scopes, saying no consent was shown
    assert redirect.params["state"] == "silent-1"
    assert redirect.params["prompt"] == "none"
    assert redirect.params["scope"].split() == PRODUCT_SCOPES
    assert "error" not in redirect.params
    token = flow.fetch_token(code=redirect.params["code"])
    assert google.api("/gmail/v1/users/me/profile", token["access_token"]).json()["emailAddress"] == DEMO
    # and, consent not being shown, no second refresh token
    assert "refresh_token" not in token


def test_the_only_signed_in_account_needs_no_hint(
    google: Google, connected: tuple[Flow, dict[str, Any]]
) -> None:
    redirect = _silent(google, google.flow())
    assert redirect.params["code"].startswith("4/0A")


def test_a_subset_of_the_grant_is_enough_and_include_granted_scopes_returns_all(
    google: Google, connected: tuple[Flow, dict[str, Any]]
) -> None:
    alone = _silent(google, google.flow([READONLY]), login_hint=DEMO)
    assert alone.params["scope"] == READONLY
    union = _silent(google, google.flow([READONLY]), login_hint=DEMO, include_granted_scopes="true")
    assert sorted(union.params["scope"].split()) == sorted(PRODUCT_SCOPES)


def test_scopes_not_yet_granted_are_consent_required(google: Google) -> None:
    # Given no consent at all, then a consent to the identity scopes only
    never = _silent(google, google.flow(), login_hint=DEMO)
    assert never.params == {"error": "consent_required", "state": "silent-1"}
    google.connect([OPENID, EMAIL])
    # When the app silently asks for Gmail as well
    more = _silent(google, google.flow(), login_hint=DEMO)
    # Then it must show consent: no code, and the grant is unchanged
    assert more.params == {"error": "consent_required", "state": "silent-1"}
    (grant,) = google.control("GET", f"/accounts/{DEMO}").json()["grants"]
    assert grant["scopes"] == [OPENID, EMAIL]


def test_several_accounts_and_no_hint_is_interaction_required(
    google: Google, connected: tuple[Flow, dict[str, Any]]
) -> None:
    _add_second_account(google)
    redirect = _silent(google, google.flow())
    assert redirect.params == {"error": "interaction_required", "state": "silent-1"}


def test_no_usable_account_is_login_required(google: Google, connected: tuple[Flow, dict[str, Any]]) -> None:
    unknown = _silent(google, google.flow(), login_hint="nobody@example.com")
    assert unknown.params == {"error": "login_required", "state": "silent-1"}
    with GoogleEmulator(demo=False) as empty:
        nobody = Google(empty)
        redirect = _silent(nobody, nobody.flow())
        assert redirect.params == {"error": "login_required", "state": "silent-1"}
        nobody.http.close()


def test_an_invalid_silent_request_still_gets_the_error_page(google: Google) -> None:
    url = google.authorization_url(google.flow(redirect_uri="http://127.0.0.1:3000/nope"), prompt="none")
    page = google.open_consent(url)  # asserts there is no Location header
    assert page.status == 400
    assert "Error 400: redirect_uri_mismatch" in page.html
