"""Fixtures every kind of test shares: a product environment built from template.yaml."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

# As in Lambda, Powertools' own settings exist before any product module is imported.
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "gmail-connect")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "GmailConnect")

# Imports the layer, so only after the lines above.
from tests.support.product import reset_caches

CLIENT_CONFIG = {
    "web": {
        "client_id": "unit-client.apps.googleusercontent.com",
        "client_secret": "unit-client-secret-MARKER",
        "auth_uri": "https://accounts.google.test/o/oauth2/v2/auth",
        "token_uri": "https://oauth2.google.test/token",
        "redirect_uris": ["http://127.0.0.1:3000/oauth/callback"],
    }
}


@pytest.fixture(autouse=True)
def _fresh_container() -> Iterator[None]:
    """Every test starts as a cold Lambda container: no cached settings, clients or secrets."""
    reset_caches()
    yield
    reset_caches()
