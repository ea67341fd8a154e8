"""Everything the emulator knows, in memory, behind one lock."""

from __future__ import annotations

import threading
from collections.abc import Iterable

from . import sample_mail
from .accounts import Account
from .clock import Clock
from .faults import Faults
from .id_tokens import IdTokenSigner
from .oauth_store import Client, OAuthStore
from .realism import Realism
from .stats import Stats

DEFAULT_CLIENT = {
    "client_id": "local-client-id.apps.googleusercontent.com",
    "client_secret": "local-client-secret",
}
DEMO_EMAIL = "demo@example.com"
DEMO_NAME = "Demo User"
DEMO_MESSAGES = 40


class AccountExists(Exception):
    pass


class State:
    """The lock guards every attribute; handlers hold it for the whole of their work."""

    def __init__(self, clients: Iterable[dict[str, str]] | None = None, demo: bool = True) -> None:
        self.lock = threading.RLock()
        self.clock = Clock()
        self.base_url = ""  # the emulator's own URL, set once the port is known
        self.clients: dict[str, Client] = {}
        for client in clients or [DEFAULT_CLIENT]:
            self.clients[client["client_id"]] = Client(client["client_id"], client["client_secret"])
        self.accounts: dict[str, Account] = {}
        self.oauth = OAuthStore(self.clock)
        self.signer = IdTokenSigner()
        self.faults = Faults()
        self.stats = Stats()
        self.realism = Realism()
        if demo:
            self.add_account(DEMO_EMAIL, DEMO_NAME, DEMO_MESSAGES)

    def add_account(self, email: str, name: str | None = None, messages: int = 0) -> Account:
        with self.lock:
            if email.lower() in self.accounts:
                raise AccountExists(email)
            account = Account(email, name)
            sample_mail.generate(account, messages, self.clock.now_ms())
            self.accounts[email.lower()] = account
            return account

    def account(self, email: str) -> Account | None:
        return self.accounts.get(email.lower())

    def register_redirect_uris(self, client_id: str, redirect_uris: Iterable[str]) -> Client:
        with self.lock:
            client = self.clients[client_id]
            for uri in redirect_uris:
                if uri not in client.redirect_uris:
                    client.redirect_uris.append(uri)
            return client
