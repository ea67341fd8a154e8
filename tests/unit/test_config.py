"""The function's environment: parsed once, every problem named, no value echoed."""

from __future__ import annotations

import pytest

from gmail_connect.core.config import ConfigurationError, Settings

REQUIRED = {
    "TOKENS_TABLE": "Tokens",
    "STATES_TABLE": "States",
    "SESSIONS_TABLE": "Sessions",
    "TOKEN_KEY_ID": "alias/tokens",
    "GOOGLE_CLIENT_SECRET_ID": "gmail-connect/dev/google-client",
}


def test_defaults_are_googles_endpoints_and_documented_lifetimes() -> None:
    settings = Settings.from_environment(REQUIRED)
    assert settings.tokens_table == "Tokens"
    assert settings.gmail_api_url == "https://gmail.googleapis.com"
    assert settings.google_revoke_uri == "https://oauth2.googleapis.com/revoke"
    assert (settings.state_ttl_seconds, settings.session_ttl_seconds) == (600, 604800)
    assert settings.public_base_url == ""
    assert settings.secure_cookies is True


def test_values_are_parsed_and_urls_normalised() -> None:
    settings = Settings.from_environment(
        REQUIRED
        | {
            "PUBLIC_BASE_URL": "http://127.0.0.1:3000/",
            "STATE_TTL_SECONDS": "120",
            "GOOGLE_TIMEOUT_SECONDS": "2.5",
        }
    )
    assert settings.public_base_url == "http://127.0.0.1:3000"
    assert settings.secure_cookies is False
    assert settings.state_ttl_seconds == 120
    assert settings.google_timeout_seconds == 2.5


def test_every_problem_is_named_without_echoing_values() -> None:
    broken = {key: value for key, value in REQUIRED.items() if key != "TOKEN_KEY_ID"} | {
        "STATE_TTL_SECONDS": "3600",
        "SESSION_TTL_SECONDS": "forever-SECRETISH",
        "GMAIL_API_URL": "gmail.googleapis.com",
    }
    with pytest.raises(ConfigurationError) as failure:
        Settings.from_environment(broken)
    message = str(failure.value)
    assert "TOKEN_KEY_ID is required" in message
    assert "STATE_TTL_SECONDS must be between 60 and 600" in message
    assert "SESSION_TTL_SECONDS must be a number" in message
    assert "GMAIL_API_URL must be an absolute http(s) URL" in message
    assert "SECRETISH" not in message


def test_settings_are_immutable() -> None:
    settings = Settings.from_environment(REQUIRED)
    with pytest.raises(AttributeError):
        settings.tokens_table = "other"  # type: ignore[misc]
