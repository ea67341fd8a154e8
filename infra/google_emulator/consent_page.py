"""HTML for the consent screen and Google-style error pages. Plain forms, no JavaScript.

Stable hooks for browser tests: radios ``name="account"`` (value = email, id
``account-<n>``), checkboxes ``name="scope"`` (value = scope URI, id ``scope-<n>``), buttons
``name="decision"`` with values ``allow`` / ``deny`` (ids ``allow`` / ``deny``), and the
hidden ``request_id``.
"""

from __future__ import annotations

from html import escape

from . import scopes as scope_names
from .accounts import Account
from .oauth_store import AuthRequest

DECISION_PATH = "/o/oauth2/v2/auth/decision"

_STYLE = """
body { font-family: Roboto, Arial, sans-serif; background: #f0f4f9; margin: 0; }
main { max-width: 34rem; margin: 3rem auto; background: #fff; border-radius: 1.5rem; padding: 2rem 2.5rem; }
h1 { font-weight: 400; font-size: 1.6rem; }
fieldset { border: 1px solid #dadce0; border-radius: .5rem; margin: 1rem 0; padding: .5rem 1rem; }
label { display: block; margin: .5rem 0; }
.actions { display: flex; gap: 1rem; justify-content: flex-end; margin-top: 1.5rem; }
button { font-size: 1rem; padding: .5rem 1.5rem; border-radius: 1.25rem; border: 1px solid #747775; }
button[value=allow] { background: #0b57d0; color: #fff; border-color: #0b57d0; }
.error { color: #b3261e; }
small { color: #5f6368; }
"""


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>\n"
    )


def consent(request: AuthRequest, accounts: list[Account], selected: str | None) -> str:
    account_items = "".join(
        f'<label for="account-{n}"><input type="radio" id="account-{n}" name="account" '
        f'value="{escape(account.email)}"{" checked" if account.email == selected else ""}> '
        f"{escape(account.name)} &lt;{escape(account.email)}&gt;</label>"
        for n, account in enumerate(accounts)
    )
    if not accounts:
        account_items = '<p class="error">No Google accounts exist in this emulator.</p>'
    scope_items = "".join(
        f'<label for="scope-{n}"><input type="checkbox" id="scope-{n}" name="scope" '
        f'value="{escape(scope)}" checked> {escape(scope_names.label(scope))} '
        f"<small>({escape(scope)})</small></label>"
        for n, scope in enumerate(request.scopes)
    )
    body = (
        "<h1>Sign in with Google (emulator)</h1>"
        f"<p><strong>{escape(request.client_id)}</strong> wants to access your Google Account.</p>"
        f'<form method="post" action="{DECISION_PATH}">'
        f'<input type="hidden" name="request_id" value="{escape(request.id)}">'
        f"<fieldset><legend>Choose an account</legend>{account_items}</fieldset>"
        f"<fieldset><legend>Select what the app can access</legend>{scope_items}</fieldset>"
        '<div class="actions">'
        '<button type="submit" id="deny" name="decision" value="deny">Deny</button>'
        '<button type="submit" id="allow" name="decision" value="allow">Allow</button>'
        "</div></form>"
    )
    return _page("Sign in - Google Accounts", body)


def error(code: int, error_name: str, detail: str) -> str:
    """Google's "Access blocked" page, e.g. "Error 400: redirect_uri_mismatch"."""
    body = (
        "<h1>Access blocked: This app's request is invalid</h1>"
        f'<p class="error" id="error-code">Error {code}: {escape(error_name)}</p>'
        f'<p id="error-detail">{escape(detail)}</p>'
    )
    return _page(f"Error {code}: {error_name}", body)


def not_found(path: str) -> str:
    """Google's plain 404 page. Only the path is echoed: a query string may carry a token."""
    body = (
        "<p><b>404.</b> That's an error.</p>"
        f"<p>The requested URL <code>{escape(path)}</code> was not found on this server. "
        "That's all we know.</p>"
    )
    return _page("Error 404 (Not Found)!!1", body)
