"""Settings read once from the environment into a validated model.

This is the only module that reads `os.environ`; everything else asks `get_settings()`.
"""

from __future__ import annotations

import functools
import os

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator

GMAIL_READONLY = "https://www.googleapis.com/auth/gmail.readonly"
USERINFO_EMAIL = "https://www.googleapis.com/auth/userinfo.email"
OPENID = "openid"
SCOPES: tuple[str, ...] = (OPENID, USERINFO_EMAIL, GMAIL_READONLY)
"""What the product asks Google for: who the user is, and read access to their mail."""


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)

    tokens_table: str = Field(alias="TOKENS_TABLE", min_length=1)
    states_table: str = Field(alias="STATES_TABLE", min_length=1)
    sessions_table: str = Field(alias="SESSIONS_TABLE", min_length=1)
    token_key_id: str = Field(alias="TOKEN_KEY_ID", min_length=1)
    google_client_secret_id: str = Field(alias="GOOGLE_CLIENT_SECRET_ID", min_length=1)
    public_base_url: str = Field(alias="PUBLIC_BASE_URL", default="")
    google_revoke_uri: HttpUrl = Field(
        alias="GOOGLE_REVOKE_URI", default=HttpUrl("https://oauth2.googleapis.com/revoke")
    )
    google_userinfo_uri: HttpUrl = Field(
        alias="GOOGLE_USERINFO_URI", default=HttpUrl("https://openidconnect.googleapis.com/v1/userinfo")
    )
    gmail_api_url: HttpUrl = Field(alias="GMAIL_API_URL", default=HttpUrl("https://gmail.googleapis.com"))
    state_ttl_seconds: int = Field(alias="STATE_TTL_SECONDS", default=600, ge=60, le=600)
    session_ttl_seconds: int = Field(alias="SESSION_TTL_SECONDS", default=7 * 24 * 3600, ge=300)
    secret_max_age_seconds: int = Field(alias="GOOGLE_CLIENT_SECRET_MAX_AGE", default=300, ge=0)
    google_timeout_seconds: float = Field(alias="GOOGLE_TIMEOUT_SECONDS", default=8.0, gt=0, le=20)
    # Scheduled sync (docs/sync.md). Empty names are fine for functions that do not sync;
    # the code that needs them refuses to run without them.
    sync_queue_url: str = Field(alias="SYNC_QUEUE_URL", default="")
    mail_event_bus_name: str = Field(alias="MAIL_EVENT_BUS_NAME", default="")
    # Newest messages announced on a user's first sync (0: only remember where the mailbox is).
    sync_backfill_messages: int = Field(alias="SYNC_BACKFILL_MESSAGES", default=0, ge=0, le=500)
    # Upper bound on messages announced per user per run (incremental or resync); the rest waits
    # for the next run, so one huge mailbox cannot hold a worker past its timeout.
    sync_max_messages: int = Field(alias="SYNC_MAX_MESSAGES", default=500, ge=1, le=5000)
    # Users synced in parallel within one SQS batch. 10 = the batch size: one wave per batch (8
    # would leave 2 users for a second wave: +16-19 % sync wall time in `make bench`). At most
    # 10: the size of botocore's connection pool that the threads share.
    sync_concurrency: int = Field(alias="SYNC_CONCURRENCY", default=10, ge=1, le=10)

    @field_validator("public_base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not value.startswith(("https://", "http://")):
            raise ValueError("PUBLIC_BASE_URL must be an absolute http(s) URL")
        return value

    @property
    def secure_cookies(self) -> bool:
        """Cookies get `Secure` (and the `__Host-` prefix) unless the API is served over plain http."""
        return not self.public_base_url.startswith("http://")


@functools.cache
def get_settings() -> Settings:
    """Parsed once per container; tests call `get_settings.cache_clear()` after changing the environment."""
    return Settings.model_validate(dict(os.environ))
