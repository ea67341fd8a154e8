"""Domain exceptions. Each carries what the caller needs to answer; `api/web.py` maps them to HTTP.

`GmailConnectError` is the root and has no HTTP meaning: the sync, the fan-out and the event
publisher raise its direct subclasses, which never reach a client. `RequestError` and its
subclasses are what a request can be refused with; only they carry a `status`.

As in Google's guide, every "we can no longer act for this user" error says how to fix it:
`ReauthorizationRequired` carries the account's email, from which the API layer builds the
authorization URL (the URL depends on where the API is served, an HTTP concern).
"""

from __future__ import annotations

from gmail_connect.core.account_status import REAUTHORIZATION_REQUIRED


class GmailConnectError(Exception):
    """Base class: a stable error code and a message safe to show to anyone."""

    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RequestError(GmailConnectError):
    """A request refused for a reason the client can act on; `status` is its HTTP status."""

    status = 400
    code = "bad_request"


class InvalidRequest(RequestError):
    code = "invalid_request"


class NotFound(RequestError):
    status = 404
    code = "not_found"


class InvalidState(RequestError):
    """State missing, unknown, expired, already used, or issued to another browser."""

    code = "invalid_state"


class AuthorizationDenied(RequestError):
    """The user (or Google) ended the consent without a code, e.g. `error=access_denied`."""

    status = 403
    code = "access_denied"


class CodeExchangeFailed(RequestError):
    """Google refused the authorization code (used, expired, or bound to something else)."""

    code = "invalid_grant"


class ScopeNotGranted(RequestError):
    """The user unticked Gmail access on the consent screen: not a connected account."""

    status = 403
    code = "insufficient_scope"


class IdentityUnavailable(RequestError):
    """Google answered without a stable user id: the guide's NoUserIdException."""

    status = 502
    code = "identity_unavailable"


class Unauthenticated(RequestError):
    status = 401
    code = "unauthenticated"


class ServiceUnavailable(RequestError):
    """A service we depend on could not be reached or kept failing; the caller may retry later.

    `retry_after` (seconds), when known, is passed on as the `Retry-After` header.
    """

    status = 503
    code = "service_unavailable"

    def __init__(self, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class GoogleUnavailable(ServiceUnavailable):
    """Google could not be reached or kept failing (`retry_after`: what Google said, if anything)."""

    code = "google_unavailable"


class ClientNotConfigured(ServiceUnavailable):
    """The secret does not hold a usable Google client yet (a fresh deploy still has its placeholder)."""

    code = "client_not_configured"


class GoogleRefused(RequestError):
    """Google refused a call for a reason that retrying or re-consenting will not fix."""

    status = 502
    code = "google_error"


class CrossSiteRequest(RequestError):
    """A state-changing request that did not come from our own origin (or from an app's Bearer call)."""

    status = 403
    code = "forbidden_origin"


class ConcurrentUpdate(RequestError):
    """A conditional token write kept losing to other writers."""

    status = 409
    code = "conflict"


class ReauthorizationRequired(RequestError):
    """The stored grant is unusable (revoked, expired, missing): the user must consent again.

    `email` (when known) pre-selects the account on Google's consent page; `return_to` is where
    the browser goes once reconnected.
    """

    status = 401
    code = REAUTHORIZATION_REQUIRED

    def __init__(self, message: str, *, email: str | None = None, return_to: str | None = None) -> None:
        super().__init__(message)
        self.email = email
        self.return_to = return_to


class NoRefreshToken(ReauthorizationRequired):
    """Google returned no refresh token and none is stored: consent must be shown again."""


class AccessRejected(GmailConnectError):
    """Gmail refused the user's access token for a reason a refresh does not fix.

    Raised by the Gmail client, which knows what Google said but not what it means for the
    account; `gmail.credentials.judge` decides (mark the account, or retry later).
    `reason` is `token_rejected` (401 with a freshly refreshed token) or `insufficient_scope`.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(f"Gmail rejected the access token ({reason}).")
        self.reason = reason
