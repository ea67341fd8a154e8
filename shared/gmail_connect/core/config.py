"""Settings read once from the environment into a validated, immutable object.

This is the only module that reads `os.environ`; everything else asks `get_settings()`.

A frozen dataclass with explicit parsers rather than a pydantic model: measured in the built
authorize function, importing pydantic and building the model cost ~100 ms of a ~400 ms cold
start, and pydantic-core added ~5 MB to a layer with a 35 MiB budget, for thirteen fields.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

GMAIL_READONLY = "https://www.googleapis.com/auth/gmail.readonly"
USERINFO_EMAIL = "https://www.googleapis.com/auth/userinfo.email"
OPENID = "openid"
SCOPES: tuple[str, ...] = (OPENID, USERINFO_EMAIL, GMAIL_READONLY)
"""What the product asks Google for: who the user is, and read access to their mail."""


class ConfigurationError(ValueError):
    """The function's environment is incomplete or invalid: a deployment mistake, not a request's."""


def _required(value: str) -> str:
    if not value.strip():
        raise ValueError("is required")
    return value.strip()


def _url(value: str) -> str:
    value = value.strip().rstrip("/")
    if value and not value.startswith(("https://", "http://")):
        raise ValueError("must be an absolute http(s) URL")
    return value


def _number(kind: Callable[[str], Any], low: float, high: float) -> Callable[[str], Any]:
    def parse(value: str) -> Any:
        try:
            number = kind(value.strip())
        except ValueError:
            raise ValueError("must be a number") from None
        if not low <= number <= high:
            raise ValueError(f"must be between {low:g} and {high:g}")
        return number

    return parse


def _origins(value: str) -> tuple[str, ...]:
    origins = tuple(origin.strip().rstrip("/").lower() for origin in value.split(",") if origin.strip())
    for origin in origins:
        scheme, _, host = origin.partition("://")
        if scheme != "https" or not host or "/" in host:
            raise ValueError("must be comma-separated https origins (https://app.example.com)")
    return origins


def _topic(value: str) -> str:
    value = value.strip()
    if value and not re.fullmatch(
        r"projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/topics/[A-Za-z][\w.~+%-]{2,254}", value
    ):
        raise ValueError("must be projects/<project>/topics/<topic>")
    return value


def _flag(value: str) -> bool:
    if value.strip().lower() not in ("0", "1", "true", "false"):
        raise ValueError("must be 1/0 or true/false")
    return value.strip().lower() in ("1", "true")


def _env(name: str, parse: Callable[[str], Any] = str, default: Any = None) -> Any:
    """A field read from the environment variable `name` (required when there is no default)."""
    return field(default=default, metadata={"env": name, "parse": parse, "required": default is None})


@dataclass(frozen=True)
class Settings:
    tokens_table: str = _env("TOKENS_TABLE", _required)
    states_table: str = _env("STATES_TABLE", _required)
    sessions_table: str = _env("SESSIONS_TABLE", _required)
    token_key_id: str = _env("TOKEN_KEY_ID", _required)
    google_client_secret_id: str = _env("GOOGLE_CLIENT_SECRET_ID", _required)
    # Empty: derived from the Google client config's redirect URI (oauth/client_config.py).
    public_base_url: str = _env("PUBLIC_BASE_URL", _url, "")
    google_revoke_uri: str = _env("GOOGLE_REVOKE_URI", _url, "https://oauth2.googleapis.com/revoke")
    google_userinfo_uri: str = _env(
        "GOOGLE_USERINFO_URI", _url, "https://openidconnect.googleapis.com/v1/userinfo"
    )
    gmail_api_url: str = _env("GMAIL_API_URL", _url, "https://gmail.googleapis.com")
    state_ttl_seconds: int = _env("STATE_TTL_SECONDS", _number(int, 60, 600), 600)
    session_ttl_seconds: int = _env("SESSION_TTL_SECONDS", _number(int, 300, 400 * 24 * 3600), 7 * 24 * 3600)
    secret_max_age_seconds: int = _env("GOOGLE_CLIENT_SECRET_MAX_AGE", _number(int, 0, 86400), 300)
    google_timeout_seconds: float = _env("GOOGLE_TIMEOUT_SECONDS", _number(float, 0.01, 20), 8.0)
    # Connect links (application API): their table, lifetime (at most 30 min), and where they may
    # return: https origins listed here; loopback http origins only where allowed (make local).
    links_table: str = _env("LINKS_TABLE", str, "")
    connections_table: str = _env("CONNECTIONS_TABLE", str, "")
    connect_link_ttl_seconds: int = _env("CONNECT_LINK_TTL_SECONDS", _number(int, 60, 1800), 900)
    allowed_return_origins: tuple[str, ...] = _env("ALLOWED_RETURN_ORIGINS", _origins, ())
    allow_loopback_return_urls: bool = _env("ALLOW_LOOPBACK_RETURN_URLS", _flag, False)
    # Attachments are handed out as presigned GETs of a private bucket's objects (at most 5 min).
    attachments_bucket: str = _env("ATTACHMENTS_BUCKET", str, "")
    attachment_url_seconds: int = _env("ATTACHMENT_URL_SECONDS", _number(int, 10, 300), 300)
    # Gmail push (docs/push.md): the Pub/Sub topic Gmail publishes to (empty: push off), and what
    # the push subscription's OIDC token must say: its audience and service account.
    gmail_push_topic: str = _env("GMAIL_PUSH_TOPIC", _topic, "")
    push_audience: str = _env("PUSH_AUDIENCE", str, "")
    push_service_account: str = _env("PUSH_SERVICE_ACCOUNT", str, "")
    google_certs_url: str = _env("GOOGLE_CERTS_URL", _url, "https://www.googleapis.com/oauth2/v1/certs")
    # Scheduled sync (docs/sync.md). Empty names are fine for functions that do not sync;
    # the code that needs them refuses to run without them.
    sync_queue_url: str = _env("SYNC_QUEUE_URL", str, "")
    # The round's fan-out: the shard queue the scheduler fills and the fan-out function drains, and
    # how many parallel Scan segments of the by_status index a round is split into (sync/fanout.py).
    sync_shard_queue_url: str = _env("SYNC_SHARD_QUEUE_URL", str, "")
    sync_fanout_segments: int = _env("SYNC_FANOUT_SEGMENTS", _number(int, 1, 1000), 1)
    mail_event_bus_name: str = _env("MAIL_EVENT_BUS_NAME", str, "")
    # Newest messages announced on a user's first sync (0: only remember where the mailbox is).
    sync_backfill_messages: int = _env("SYNC_BACKFILL_MESSAGES", _number(int, 0, 500), 0)
    # Upper bound on messages announced per user per run (incremental or resync); the rest waits
    # for the next run, so one huge mailbox cannot hold a worker past its timeout.
    sync_max_messages: int = _env("SYNC_MAX_MESSAGES", _number(int, 1, 5000), 500)
    # Users synced in parallel within one SQS batch. 10 = the batch size: one wave per batch (8
    # would leave 2 users for a second wave: +16-19 % sync wall time in `make bench`). At most
    # 10: the size of botocore's connection pool that the threads share.
    sync_concurrency: int = _env("SYNC_CONCURRENCY", _number(int, 1, 10), 10)

    @classmethod
    def from_environment(cls, environment: Mapping[str, str]) -> Settings:
        """Parse every field; report every problem at once, naming variables, never values."""
        values: dict[str, Any] = {}
        problems: list[str] = []
        for spec in fields(cls):
            name = spec.metadata["env"]
            raw = environment.get(name)
            if raw is None or (raw == "" and not spec.metadata["required"]):
                if spec.metadata["required"]:
                    problems.append(f"{name} is required")
                continue
            try:
                values[spec.name] = spec.metadata["parse"](raw)
            except ValueError as exc:
                problems.append(f"{name} {exc}")
        if problems:
            raise ConfigurationError("; ".join(problems))
        return cls(**values)

    @property
    def secure_cookies(self) -> bool:
        """Cookies get `Secure` (and the `__Host-` prefix) unless the API is served over plain http."""
        return not self.public_base_url.startswith("http://")


@functools.cache
def get_settings() -> Settings:
    """Parsed once per container; tests call `get_settings.cache_clear()` after changing the environment."""
    return Settings.from_environment(os.environ)
