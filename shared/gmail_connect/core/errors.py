"""Domain exceptions. Each carries what the caller needs to answer; `web.py` maps them to HTTP.

As in Google's guide, every "we can no longer act for this user" error carries the
authorization URL that fixes it.
"""

from __future__ import annotations


class GmailConnectError(Exception):
    """Base class: an HTTP status, a stable error code and a message safe to show to anyone."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidRequest(GmailConnectError):
    code = "invalid_request"


class InvalidState(GmailConnectError):
    """State missing, unknown, expired, already used, or issued to another browser."""

    code = "invalid_state"


class AuthorizationDenied(GmailConnectError):
    """The user (or Google) ended the consent without a code, e.g. `error=access_denied`."""

    status = 403
    code = "access_denied"


class CodeExchangeFailed(GmailConnectError):
    """Google refused the authorization code (used, expired, or bound to something else)."""

    code = "invalid_grant"


class ScopeNotGranted(GmailConnectError):
    """The user unticked Gmail access on the consent screen: not a connected account."""

    status = 403
    code = "insufficient_scope"


class IdentityUnavailable(GmailConnectError):
    """Google answered without a stable user id: the guide's NoUserIdException."""

    status = 502
    code = "identity_unavailable"


class Unauthenticated(GmailConnectError):
    status = 401
    code = "unauthenticated"


class GoogleUnavailable(GmailConnectError):
    """Google could not be reached or kept failing; the caller may retry later.

    `retry_after` (seconds) is passed on when Google said how long to wait.
    """

    status = 503
    code = "google_unavailable"

    def __init__(self, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ClientNotConfigured(GmailConnectError):
    """The secret does not hold a usable Google client yet (a fresh deploy still has its placeholder)."""

    status = 503
    code = "client_not_configured"


class GoogleRefused(GmailConnectError):
    """Google refused a call for a reason that retrying or re-consenting will not fix."""

    status = 502
    code = "google_error"


class CrossSiteRequest(GmailConnectError):
    """A state-changing request that did not come from our own origin (or from an app's Bearer call)."""

    status = 403
    code = "forbidden_origin"


class ConcurrentUpdate(GmailConnectError):
    """A conditional token write kept losing to other writers."""

    status = 409
    code = "conflict"


class ReauthorizationRequired(GmailConnectError):
    """The stored grant is unusable (revoked, expired, missing): send the user to `authorization_url`."""

    status = 401
    code = "reauthorization_required"

    def __init__(self, message: str, authorization_url: str) -> None:
        super().__init__(message)
        self.authorization_url = authorization_url


class NoRefreshToken(ReauthorizationRequired):
    """Google returned no refresh token and none is stored: consent must be shown again."""
