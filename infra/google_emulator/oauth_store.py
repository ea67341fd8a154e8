"""OAuth 2.0 state: pending consent requests, authorization codes, grants and tokens.

A *grant* is what Google keeps per (account, client): the scopes the user has consented to,
whether offline access was ever granted, and the live refresh and access tokens. Revoking
any token of a grant revokes the whole grant, as Google's revoke endpoint does. The caller
holds the state lock.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from .clock import Clock

CODE_TTL = 600
ACCESS_TTL = 3600
PENDING_TTL = 3600
MAX_REFRESH_TOKENS = 100


DEFAULT_PROJECT_ID = "google-emulator"


@dataclass
class Client:
    client_id: str
    client_secret: str
    redirect_uris: list[str] = field(default_factory=list)
    project_id: str = DEFAULT_PROJECT_ID  # its Google Cloud project: Gmail watch topics must live there


@dataclass
class AuthRequest:
    """An authorization request waiting for the user's decision on the consent page."""

    id: str
    client_id: str
    redirect_uri: str
    scopes: list[str]
    state: str | None
    access_type: str
    prompt: frozenset[str]
    login_hint: str | None
    include_granted_scopes: bool
    code_challenge: str | None
    code_challenge_method: str | None
    nonce: str | None
    created_at: float


@dataclass
class AuthCode:
    value: str
    client_id: str
    redirect_uri: str
    email: str
    scopes: tuple[str, ...]
    code_challenge: str | None
    code_challenge_method: str | None
    with_refresh_token: bool
    offline: bool
    nonce: str | None
    expires_at: float
    redeemed: bool = False
    refresh_token: str | None = None
    access_token: str | None = None


@dataclass
class RefreshToken:
    value: str
    email: str
    client_id: str
    scopes: tuple[str, ...]


@dataclass
class AccessToken:
    value: str
    email: str
    client_id: str
    scopes: frozenset[str]
    expires_at: float
    refresh_token: str | None = None
    offline: bool = False  # tokeninfo's access_type


@dataclass
class Grant:
    email: str
    client_id: str
    scopes: list[str] = field(default_factory=list)
    offline: bool = False
    refresh_tokens: list[str] = field(default_factory=list)
    access_tokens: set[str] = field(default_factory=set)


def _random_code() -> str:
    return "4/0A" + secrets.token_urlsafe(54)[:69]


def _random_access_token() -> str:
    return "ya29.a0" + secrets.token_urlsafe(160)


def _random_refresh_token() -> str:
    return "1//0" + secrets.token_urlsafe(75)


class OAuthStore:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.requests: dict[str, AuthRequest] = {}
        self.codes: dict[str, AuthCode] = {}
        self.grants: dict[tuple[str, str], Grant] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}
        self.access_tokens: dict[str, AccessToken] = {}

    # -- consent --------------------------------------------------------------------------

    def new_request_id(self) -> str:
        return secrets.token_urlsafe(24)

    def add_request(self, request: AuthRequest) -> None:
        now = self.clock.now()
        for stale in [key for key, req in self.requests.items() if req.created_at + PENDING_TTL < now]:
            del self.requests[stale]
        self.requests[request.id] = request

    def take_request(self, request_id: str) -> AuthRequest | None:
        request = self.requests.pop(request_id, None)
        if request is None or request.created_at + PENDING_TTL < self.clock.now():
            return None
        return request

    def has_granted(self, email: str, client_id: str, scopes: list[str]) -> bool:
        """Whether the user already consented to every one of these scopes for this client."""
        grant = self.grants.get((email, client_id))
        return grant is not None and set(scopes) <= set(grant.scopes)

    def approve(self, request: AuthRequest, email: str, scopes: list[str]) -> AuthCode:
        """Record the user's consent and mint a code for it."""
        key = (email, request.client_id)
        grant = self.grants.get(key)
        if grant is None:
            grant = self.grants[key] = Grant(email, request.client_id)
        offline = request.access_type == "offline"
        with_refresh = offline and (not grant.offline or "consent" in request.prompt)
        granted = list(dict.fromkeys([*grant.scopes, *scopes])) if request.include_granted_scopes else scopes
        grant.scopes = list(dict.fromkeys([*grant.scopes, *scopes]))
        grant.offline = grant.offline or offline
        now = self.clock.now()
        for stale in [value for value, code in self.codes.items() if code.expires_at < now]:
            del self.codes[stale]
        code = AuthCode(
            value=_random_code(),
            client_id=request.client_id,
            redirect_uri=request.redirect_uri,
            email=email,
            scopes=tuple(granted),
            code_challenge=request.code_challenge,
            code_challenge_method=request.code_challenge_method,
            with_refresh_token=with_refresh,
            offline=offline,
            nonce=request.nonce,
            expires_at=now + CODE_TTL,
        )
        self.codes[code.value] = code
        return code

    # -- tokens ---------------------------------------------------------------------------

    def issue(
        self,
        email: str,
        client_id: str,
        scopes: tuple[str, ...],
        *,
        with_refresh_token: bool,
        offline: bool,
        from_refresh_token: str | None = None,
    ) -> tuple[AccessToken, RefreshToken | None]:
        grant = self.grants[(email, client_id)]  # the caller checked the grant is alive
        now = self.clock.now()
        for expired in [t for t in grant.access_tokens if self.access_tokens[t].expires_at <= now]:
            grant.access_tokens.discard(expired)
            del self.access_tokens[expired]
        refresh = None
        if with_refresh_token:
            refresh = RefreshToken(_random_refresh_token(), email, client_id, scopes)
            self.refresh_tokens[refresh.value] = refresh
            grant.refresh_tokens.append(refresh.value)
            while len(grant.refresh_tokens) > MAX_REFRESH_TOKENS:
                self.refresh_tokens.pop(grant.refresh_tokens.pop(0), None)
        access = AccessToken(
            _random_access_token(),
            email,
            client_id,
            frozenset(scopes),
            now + ACCESS_TTL,
            refresh.value if refresh else from_refresh_token,
            offline,
        )
        self.access_tokens[access.value] = access
        grant.access_tokens.add(access.value)
        return access, refresh

    def valid_access_token(self, value: str) -> AccessToken | None:
        token = self.access_tokens.get(value)
        if token is None or token.expires_at <= self.clock.now():
            return None
        return token

    def revoke_code_tokens(self, code: AuthCode) -> None:
        """A replayed code: kill what it produced (RFC 6749 section 4.1.2)."""
        if code.refresh_token:
            self.refresh_tokens.pop(code.refresh_token, None)
            for value, token in list(self.access_tokens.items()):
                if token.refresh_token == code.refresh_token:
                    del self.access_tokens[value]
        if code.access_token:
            self.access_tokens.pop(code.access_token, None)
        grant = self.grants.get((code.email, code.client_id))
        if grant:
            grant.refresh_tokens = [t for t in grant.refresh_tokens if t in self.refresh_tokens]
            grant.access_tokens = {t for t in grant.access_tokens if t in self.access_tokens}

    def grant_of_token(self, value: str) -> Grant | None:
        """The grant a live refresh or access token belongs to (for the revoke endpoint)."""
        refresh = self.refresh_tokens.get(value)
        if refresh is not None:
            return self.grants.get((refresh.email, refresh.client_id))
        access = self.valid_access_token(value)
        if access is not None:
            return self.grants.get((access.email, access.client_id))
        return None

    def revoke_grant(self, grant: Grant) -> None:
        """Forget the consent and every token and unredeemed code of it."""
        for value in [
            v for v, c in self.codes.items() if (c.email, c.client_id) == (grant.email, grant.client_id)
        ]:
            del self.codes[value]
        for value in grant.refresh_tokens:
            self.refresh_tokens.pop(value, None)
        for value in grant.access_tokens:
            self.access_tokens.pop(value, None)
        self.grants.pop((grant.email, grant.client_id), None)

    def revoke_account(self, email: str) -> int:
        grants = [grant for (owner, _), grant in self.grants.items() if owner == email]
        for grant in grants:
            self.revoke_grant(grant)
        return len(grants)

    def describe_grants(self, email: str) -> list[dict[str, object]]:
        now = self.clock.now()
        return [
            {
                "client_id": grant.client_id,
                "scopes": list(grant.scopes),
                "offline": grant.offline,
                "refresh_tokens": len(grant.refresh_tokens),
                "access_tokens": sum(
                    1 for t in grant.access_tokens if self.access_tokens[t].expires_at > now
                ),
            }
            for (owner, _), grant in self.grants.items()
            if owner == email
        ]
