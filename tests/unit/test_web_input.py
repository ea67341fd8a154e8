"""Input rules of the HTTP layer: what the routes accept before anything is touched."""

from __future__ import annotations

import base64

import pytest

from gmail_connect.api import inputs, web
from gmail_connect.core.errors import InvalidRequest

ALLOWED = frozenset({"code", "state", "return_to"})


def test_query_params_decodes_single_values() -> None:
    # Given a query with encoded values
    event = {"rawQueryString": "code=4%2F0Aabc&state=xyz"}
    # Then they come back decoded
    assert inputs.query_params(event, ALLOWED) == {"code": "4/0Aabc", "state": "xyz"}


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("state=a&state=b", "repeated"),
        ("state=a&evil=1", "Unknown"),
        ("state=" + "x" * 2049, "too long"),
        ("state=a%0Ab", "control"),
        ("a=" + "&a=".join("x" * 10 for _ in range(20)), "too many"),
        ("state=" + "x" * 5000, "too long"),
    ],
)
def test_query_params_refuses_ambiguous_or_oversized_input(raw: str, why: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        inputs.query_params({"rawQueryString": raw}, ALLOWED | {"a"})
    assert why.lower() in refused.value.message.lower()


def test_body_text_reads_plain_and_base64_encoded_utf8_bodies() -> None:
    # Given bodies as API Gateway passes them: text as is, anything else base64-encoded
    plain = {"body": '{"a": "é"}', "isBase64Encoded": False}
    encoded = {"body": base64.b64encode('{"a": "é"}'.encode()).decode(), "isBase64Encoded": True}
    # Then both read as the same text, and no body as None
    assert inputs.body_text(plain) == inputs.body_text(encoded) == '{"a": "é"}'
    assert inputs.body_text({"isBase64Encoded": True}) is None


@pytest.mark.parametrize(
    "body",
    [base64.b64encode(b"\xa9\xff not UTF-8").decode(), "not base64 at all!"],
    ids=["not-utf8", "not-base64"],
)
def test_body_text_refuses_what_is_not_utf8_text(body: str) -> None:
    # A body that is not UTF-8 text is the client's mistake: a 400, never a crash (a 500)
    with pytest.raises(InvalidRequest) as refused:
        inputs.body_text({"body": body, "isBase64Encoded": True})
    assert "UTF-8" in refused.value.message


@pytest.mark.parametrize(
    "evil",
    [
        "//evil.example",
        "https://evil.example",
        "/\\evil.example",
        "javascript:alert(1)",
        "evil.example/me",
        "/me\r\nSet-Cookie: x=1",
        "/ok path",
        "/" + "a" * 600,
    ],
)
def test_return_to_refuses_anything_but_a_local_path(evil: str) -> None:
    with pytest.raises(InvalidRequest, match=r"relative path|too long"):
        inputs.safe_return_to(evil, "/me")


@pytest.mark.parametrize(
    ("given", "encoded"),
    [
        ("/\u3002evil.com", "/%E3%80%82evil.com"),
        ("/\uff0fevil.com", "/%EF%BC%8Fevil.com"),
        ("/a\u2044b\u2215c", "/a%E2%81%84b%E2%88%95c"),
        ("/\U0001f600", "/%F0%9F%98%80"),
    ],
)
def test_return_to_beyond_ascii_is_percent_encoded_into_a_local_path(given: str, encoded: str) -> None:
    # A Location header carries ASCII only; encoded, a look-alike of '/' or '.' stays in the path
    kept = inputs.safe_return_to(given, "/me")
    assert kept == encoded
    assert kept.isascii()
    kept.encode("latin-1")  # what the response's header writer needs


@pytest.mark.parametrize("invisible", ["/a\u2028b", "/a\u00a0b", "/a\u200bb"])
def test_return_to_with_invisible_or_separator_characters_is_refused(invisible: str) -> None:
    with pytest.raises(InvalidRequest):
        inputs.safe_return_to(invisible, "/me")


@pytest.mark.parametrize(
    ("given", "kept"), [(None, "/me"), ("", "/me"), ("/inbox?tab=1#top", "/inbox?tab=1#top")]
)
def test_return_to_keeps_local_paths_and_defaults(given: str | None, kept: str) -> None:
    assert inputs.safe_return_to(given, "/me") == kept


@pytest.mark.parametrize("bad", ["not-an-email", "a@b@c", "x" * 300 + "@example.com", "a b@example.com"])
def test_login_hint_must_be_an_email(bad: str) -> None:
    with pytest.raises(InvalidRequest, match="email"):
        inputs.login_hint(bad)


def test_session_token_prefers_bearer_then_cookie(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://api.example.com")
    _required_env(monkeypatch)
    bearer = {"headers": {"authorization": "Bearer abc"}, "cookies": ["__Host-gc_session=def"]}
    cookie_only = {"headers": {}, "cookies": ["other=1; __Host-gc_session=def"]}
    plain_name = {"headers": {}, "cookies": ["gc_session=def"]}
    assert inputs.session_token(bearer) == "abc"
    assert inputs.session_token(cookie_only) == "def"
    # Over https only the __Host- cookie counts: a plain cookie could have been planted by a subdomain.
    assert inputs.session_token(plain_name) is None


def test_cookies_are_host_only_secure_and_lax_over_https(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://api.example.com")
    _required_env(monkeypatch)
    rendered = str(web.cookie(web.SESSION_COOKIE, "token-value", 3600))
    assert rendered.startswith("__Host-gc_session=token-value; Path=/")
    for attribute in ("Secure", "HttpOnly", "SameSite=Lax", "Max-Age=3600"):
        assert attribute in rendered


def test_cookies_drop_secure_on_plain_http(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUBLIC_BASE_URL", "http://127.0.0.1:3000")
    _required_env(monkeypatch)
    rendered = str(web.cookie(web.OAUTH_COOKIE, "nonce", 600))
    assert rendered.startswith("gc_oauth=nonce; Path=/")
    assert "Secure" not in rendered
    assert "HttpOnly" in rendered
    assert "SameSite=Lax" in rendered


def _required_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TOKENS_TABLE", "STATES_TABLE", "SESSIONS_TABLE", "TOKEN_KEY_ID", "GOOGLE_CLIENT_SECRET_ID"):
        monkeypatch.setenv(name, name.lower())
