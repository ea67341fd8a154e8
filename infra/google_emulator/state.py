"""Everything the emulator knows, in memory, behind one lock."""

from __future__ import annotations

import threading
from collections.abc import Iterable

from . import sample_mail
from .accounts import Account
from .clock import Clock
from .dispatcher import Dispatcher
from .faults import Faults
from .id_tokens import IdTokenSigner
from .oauth_store import DEFAULT_PROJECT_ID, Client, OAuthStore
from .pubsub import PubSub
from .realism import Realism
from .stats import Stats
from .watches import Watches

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
            self.clients[client["client_id"]] = Client(
                client["client_id"],
                client["client_secret"],
                project_id=client.get("project_id", DEFAULT_PROJECT_ID),
            )
        self.accounts: dict[str, Account] = {}
        self.oauth = OAuthStore(self.clock)
        self.signer = IdTokenSigner()
        self.faults = Faults()
        self.stats = Stats()
        self.realism = Realism()
        self.dispatcher = Dispatcher(self.clock)
        self.pubsub = PubSub(self.lock, self.clock, self.signer, self.dispatcher)
        self.watches = Watches(self.lock, self.clock, self.pubsub, self.dispatcher, self.realism)
        if demo:
            self.add_account(DEMO_EMAIL, DEMO_NAME, DEMO_MESSAGES)

    def add_account(self, email: str, name: str | None = None, messages: int = 0) -> Account:
        with self.lock:
            if email.lower() in self.accounts:
                raise AccountExists(email)
            account = Account(email, name)
            sample_mail.generate(account, messages, self.clock.now_ms())
            account.listener = self.watches.changed
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
