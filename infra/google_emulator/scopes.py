"""The scopes the emulator knows, as Google spells them back (``email``/``profile`` come back as URLs).

Google refuses a consent request naming a scope it does not know, misspelt ones included
(``gmail.readOnly``): the scope names are case-sensitive. The registry below holds the
identity scopes and every Gmail scope; anything else gets the ``invalid_scope`` error page.
"""

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

# Scopes that make the user's identity (``sub``) visible to the client.
IDENTITY = frozenset({OPENID, EMAIL, PROFILE})

_AUTH = "https://www.googleapis.com/auth/"

# Every known scope, with the description the consent page shows for it.
KNOWN: dict[str, str] = {
    OPENID: "Associate you with your personal info on Google",
    EMAIL: "See your primary Google Account email address",
    PROFILE: "See your personal info, including any personal info you've made publicly available",
    MAIL_FULL: "Read, compose, send, and permanently delete all your email from Gmail",
    GMAIL_READONLY: "View your email messages and settings",
    GMAIL_MODIFY: "Read, compose, and send emails from your Gmail account",
    GMAIL_METADATA: "View your email message metadata such as labels and headers, but not the email body",
    GMAIL_LABELS: "See and edit your email labels",
    f"{_AUTH}gmail.send": "Send email on your behalf",
    f"{_AUTH}gmail.compose": "Manage drafts and send emails",
    f"{_AUTH}gmail.insert": "Add emails into your Gmail mailbox",
    f"{_AUTH}gmail.settings.basic": "See, edit, create, or change your email settings and filters in Gmail",
    f"{_AUTH}gmail.settings.sharing": (
        "Manage your sensitive mail settings, including who can manage your mail"
    ),
    f"{_AUTH}gmail.addons.current.action.compose": (
        "Manage drafts and send emails when you interact with the add-on"
    ),
    f"{_AUTH}gmail.addons.current.message.action": (
        "View your email messages when you interact with the add-on"
    ),
    f"{_AUTH}gmail.addons.current.message.metadata": (
        "View your email message metadata when the add-on is running"
    ),
    f"{_AUTH}gmail.addons.current.message.readonly": "View your email messages when the add-on is running",
}

_ALIASES = {"email": EMAIL, "profile": PROFILE}


def normalize(scope: str) -> str:
    return _ALIASES.get(scope, scope)


def parse(value: str | None) -> list[str]:
    """Space-separated scopes, normalised, duplicates removed, order kept."""
    return list(dict.fromkeys(normalize(scope) for scope in (value or "").split()))


def is_valid(scope: str) -> bool:
    return scope in KNOWN


def label(scope: str) -> str:
    """A human description for the consent page."""
    return KNOWN.get(scope, scope)
