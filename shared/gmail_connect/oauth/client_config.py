"""The Google OAuth client (the `client_secret.json` "web" object), read from Secrets Manager.

Read through Powertools' parameter cache, so a warm function asks Secrets Manager at most once
per `GOOGLE_CLIENT_SECRET_MAX_AGE` seconds. The secret never leaves this module except as the
`client_secret` attribute handed to the token endpoint.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools.utilities.parameters import SecretsProvider
from aws_lambda_powertools.utilities.parameters.exceptions import TransformParameterError

from gmail_connect.core import aws
from gmail_connect.core.config import get_settings
from gmail_connect.core.errors import ClientNotConfigured
from gmail_connect.core.observability import logger

CALLBACK_PATH = "/oauth/callback"
# The only `iss` values of Google ID tokens, per Google's OpenID Connect documentation.
GOOGLE_ISSUERS = frozenset({"https://accounts.google.com", "accounts.google.com"})
NOT_CONFIGURED = (
    "The Google client is not configured yet: upload it with "
    "infra/deploy/put_client_secret.sh STACK_NAME client_secret.json, then try again."
)


@dataclass(frozen=True)
class GoogleClient:
    client_id: str
    client_secret: str = field(repr=False)
    auth_uri: str
    token_uri: str
    redirect_uri: str

    @property
    def public_base_url(self) -> str:
        """Where this API is served, derived from the configured redirect URI."""
        return self.redirect_uri[: -len(CALLBACK_PATH)]

    @property
    def issuers(self) -> frozenset[str]:
        """Accepted `iss` values of ID tokens: Google's, whatever host `auth_uri` names.

        The issuer is an identity, not an address: Google signs as `accounts.google.com` even
        though its consent page and token endpoint live on other hosts, and so does the emulator.
        """
        return GOOGLE_ISSUERS

    def as_flow_config(self) -> dict[str, Any]:
        return {
            "web": {
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "auth_uri": self.auth_uri,
                "token_uri": self.token_uri,
                "redirect_uris": [self.redirect_uri],
            }
        }


@functools.cache
def _provider() -> SecretsProvider:
    return SecretsProvider(boto3_client=aws.client("secretsmanager"))


def google_client() -> GoogleClient:
    """The configured client; `ClientNotConfigured` while the secret holds no usable one.

    An unusable value is never kept in the cache: the next request reads the secret again, so
    the real `client_secret.json` works as soon as it is uploaded, not `max_age` seconds later.
    """
    settings = get_settings()
    provider = _provider()
    try:
        raw = provider.get(
            settings.google_client_secret_id, transform="json", max_age=settings.secret_max_age_seconds
        )
        return parse_client_config(raw, settings.public_base_url)
    except (TransformParameterError, ValueError) as problem:
        provider.clear_cache()  # this provider holds this one secret only
        # The reason names missing keys, never a value.
        logger.error("Google client not configured", extra={"reason": str(problem)[:200]})
        raise ClientNotConfigured(NOT_CONFIGURED) from None


def parse_client_config(raw: Any, public_base_url: str = "") -> GoogleClient:
    """Accept the downloaded `client_secret.json` as is, or just its `web` object.

    The redirect URI comes from configuration only (never from a request): `PUBLIC_BASE_URL`
    if set, else the registered redirect URI that ends in `/oauth/callback`.
    """
    web = raw.get("web", raw) if isinstance(raw, dict) else None
    if not isinstance(web, dict):
        raise ValueError("the Google client secret is not a client_secret.json object")
    missing = [key for key in ("client_id", "client_secret", "auth_uri", "token_uri") if not web.get(key)]
    if missing:
        raise ValueError(f"the Google client secret lacks {', '.join(missing)}")
    if public_base_url:
        redirect_uri = public_base_url + CALLBACK_PATH
    else:
        candidates = [uri for uri in web.get("redirect_uris", []) if str(uri).endswith(CALLBACK_PATH)]
        if not candidates:
            raise ValueError(f"the Google client secret has no redirect URI ending in {CALLBACK_PATH}")
        redirect_uri = candidates[0]
    return GoogleClient(
        client_id=web["client_id"],
        client_secret=web["client_secret"],
        auth_uri=web["auth_uri"],
        token_uri=web["token_uri"],
        redirect_uri=redirect_uri,
    )


def clear_cache() -> None:
    """Forget the cached secret (tests, and after rotating the client secret)."""
    _provider.cache_clear()
