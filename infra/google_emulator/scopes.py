"""Scope names as Google spells them back: ``email`` and ``profile`` come back as URLs."""

from __future__ import annotations

OPENID = "openid"
EMAIL = "https://www.googleapis.com/auth/userinfo.email"
PROFILE = "https://www.googleapis.com/auth/userinfo.profile"
GMAIL_READONLY = "https://www.googleapis.com/auth/gmail.readonly"
GMAIL_MODIFY = "https://www.googleapis.com/auth/gmail.modify"
GMAIL_METADATA = "https://www.googleapis.com/auth/gmail.metadata"
GMAIL_LABELS = "https://www.googleapis.com/auth/gmail.labels"
MAIL_FULL = "https://mail.google.com/"

# Any of these lets a token read messages, history and the profile.
GMAIL_READ = (GMAIL_READONLY, GMAIL_MODIFY, MAIL_FULL)

_ALIASES = {"email": EMAIL, "profile": PROFILE}
_GOOGLE_PREFIX = "https://www.googleapis.com/auth/"


def normalize(scope: str) -> str:
    return _ALIASES.get(scope, scope)


def parse(value: str | None) -> list[str]:
    """Space-separated scopes, normalised, duplicates removed, order kept."""
    return list(dict.fromkeys(normalize(scope) for scope in (value or "").split()))


def is_valid(scope: str) -> bool:
    return scope in (OPENID, MAIL_FULL) or (
        scope.startswith(_GOOGLE_PREFIX) and len(scope) > len(_GOOGLE_PREFIX)
    )


def label(scope: str) -> str:
    """A human description for the consent page."""
    return {
        OPENID: "Associate you with your personal info on Google",
        EMAIL: "See your primary Google Account email address",
        PROFILE: "See your personal info, including any personal info you've made publicly available",
        GMAIL_READONLY: "View your email messages and settings",
        GMAIL_MODIFY: "Read, compose, and send emails from your Gmail account",
        GMAIL_METADATA: "View your email message metadata such as labels and headers, but not the email body",
        MAIL_FULL: "Read, compose, send, and permanently delete all your email from Gmail",
    }.get(scope, scope)
