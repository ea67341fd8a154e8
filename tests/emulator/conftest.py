"""The Google emulator on a free loopback port, and a driver that plays the user and the app.

The app side uses the real libraries (google-auth-oauthlib's ``Flow``, google-auth's
``Credentials``, googleapiclient); the user side reads the consent page's HTML form and
submits it with ``requests``, as a browser without JavaScript would.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from google.oauth2.credentials import Credentials
from google_auth_oauthlib.flow import Flow
from googleapiclient.discovery import build

from infra.google_emulator import GoogleEmulator

from .push_receiver import PushReceiver

OPENID = "openid"
EMAIL = "https://www.googleapis.com/auth/userinfo.email"
PROFILE = "https://www.googleapis.com/auth/userinfo.profile"
READONLY = "https://www.googleapis.com/auth/gmail.readonly"
PRODUCT_SCOPES = [OPENID, EMAIL, READONLY]
REDIRECT_URI = "http://127.0.0.1:3000/oauth/callback"  # registered, never contacted
OTHER_REDIRECT_URI = "http://127.0.0.1:3000/other/callback"
DEMO = "demo@example.com"
TOPIC = "projects/google-emulator/topics/gmail-push"  # in the default client's project
PUSH_INVOKER = "push-invoker@google-emulator.iam.gserviceaccount.com"


@dataclass
class ConsentPage:
    status: int
    html: str
    action: str = ""
    hidden: dict[str, str] = field(default_factory=dict)
    accounts: dict[str, bool] = field(default_factory=dict)  # email -> checked
    scopes: dict[str, bool] = field(default_factory=dict)  # scope -> checked
    buttons: dict[str, str] = field(default_factory=dict)  # value -> visible text


class _ConsentParser(HTMLParser):
    def __init__(self, page: ConsentPage) -> None:
        super().__init__()
        self.page = page
        self._button: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.page.action = attributes.get("action", "")
        elif tag == "button" and attributes.get("type") == "submit":
            self._button = attributes.get("value", "")
            self.page.buttons[self._button] = ""
        elif tag == "input":
            kind, name, value = attributes.get("type"), attributes.get("name"), attributes.get("value", "")
            if kind == "hidden":
                self.page.hidden[name or ""] = value
            elif kind == "radio" and name == "account":
                self.page.accounts[value] = "checked" in attributes
            elif kind == "checkbox" and name == "scope":
                self.page.scopes[value] = "checked" in attributes

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self.page.buttons[self._button] += data.strip()

    def handle_endtag(self, tag: str) -> None:
        if tag == "button":
            self._button = None


@dataclass
class Redirect:
    location: str
    params: dict[str, str]


class Google:
    """Plays both the browser (consent form) and the app (real client libraries)."""

    def __init__(self, emulator: GoogleEmulator) -> None:
        self.emulator = emulator
        self.url = emulator.url
        self.http = requests.Session()
        self.config = emulator.client_config(redirect_uris=[REDIRECT_URI, OTHER_REDIRECT_URI])
        self.client_id = self.config["web"]["client_id"]
        self.client_secret = self.config["web"]["client_secret"]

    # -- browser ----------------------------------------------------------------------------

    def open_consent(self, auth_url: str) -> ConsentPage:
        response = self.http.get(auth_url, allow_redirects=False, timeout=10)
        page = ConsentPage(response.status_code, response.text)
        assert "Location" not in response.headers
        _ConsentParser(page).feed(response.text)
        page.action = urljoin(auth_url, page.action)
        return page

    def decide(
        self,
        auth_url: str,
        decision: str = "allow",
        *,
        account: str | None = None,
        untick: Iterable[str] = (),
    ) -> Redirect:
        page = self.open_consent(auth_url)
        assert page.status == 200, page.html
        chosen = account or next(email for email, checked in page.accounts.items() if checked)
        data = [*page.hidden.items(), ("account", chosen), ("decision", decision)]
        data += [("scope", scope) for scope in page.scopes if scope not in set(untick)]
        response = self.http.post(page.action, data=data, allow_redirects=False, timeout=10)
        assert response.status_code == 302, response.text
        location = response.headers["Location"]
        params = {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}
        return Redirect(location, params)

    # -- app --------------------------------------------------------------------------------

    def flow(
        self,
        scopes: list[str] | None = None,
        redirect_uri: str = REDIRECT_URI,
        config: dict[str, Any] | None = None,
    ) -> Flow:
        return Flow.from_client_config(
            config or self.config,
            scopes=scopes or PRODUCT_SCOPES,
            redirect_uri=redirect_uri,
            autogenerate_code_verifier=True,
        )

    def authorization_url(self, flow: Flow, **params: str | None) -> str:
        """Offline access with ``prompt=consent`` unless told otherwise (None drops a parameter)."""
        params = {"access_type": "offline", "prompt": "consent", **params}
        url, _ = flow.authorization_url(**{key: value for key, value in params.items() if value is not None})
        return url

    def connect(
        self,
        scopes: list[str] | None = None,
        *,
        account: str | None = None,
        untick: Iterable[str] = (),
        **params: str | None,
    ) -> tuple[Flow, dict[str, Any]]:
        """The whole code flow: consent (allowed), then the code exchange by the real Flow."""
        flow = self.flow(scopes)
        redirect = self.decide(self.authorization_url(flow, **params), account=account, untick=untick)
        token = flow.fetch_token(code=redirect.params["code"])
        return flow, token

    def gmail(self, credentials: Credentials) -> Any:
        return build(
            "gmail",
            "v1",
            credentials=credentials,
            static_discovery=True,
            client_options={"api_endpoint": self.url},
        )

    def token_request(self, **form: str) -> requests.Response:
        """POST /token directly, with the client's credentials in the body unless given."""
        form.setdefault("client_id", self.client_id)
        form.setdefault("client_secret", self.client_secret)
        return self.http.post(f"{self.url}/token", data=form, timeout=10)

    def api(self, path: str, token: str | None, **params: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.http.get(f"{self.url}{path}", params=params, headers=headers, timeout=10)

    # -- control ----------------------------------------------------------------------------

    def control(self, method: str, path: str, body: dict[str, Any] | None = None) -> requests.Response:
        return self.http.request(method, f"{self.url}/_emulator{path}", json=body, timeout=10)

    def stats(self) -> dict[str, dict[str, int]]:
        return self.control("GET", "/stats").json()  # type: ignore[no-any-return]

    def deliver(self, email: str = DEMO, **message: Any) -> dict[str, Any]:
        """A new message in the mailbox (a history record); its ``{id, threadId, historyId}``."""
        response = self.control("POST", f"/accounts/{email}/messages", {"from": "a@example.org", **message})
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]

    def subscribe(self, push_endpoint: str, topic: str = TOPIC, **settings: Any) -> dict[str, Any]:
        """A Pub/Sub push subscription to ``topic`` (created if new), signed as ``PUSH_INVOKER``."""
        body = {"topic": topic, "push_endpoint": push_endpoint, "service_account_email": PUSH_INVOKER}
        response = self.control("POST", "/pubsub/subscriptions", {**body, **settings})
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]

    def pubsub_stats(self) -> dict[str, Any]:
        return self.control("GET", "/pubsub/stats").json()  # type: ignore[no-any-return]

    def advance(self, seconds: float) -> None:
        assert self.control("POST", "/clock", {"advance_seconds": seconds}).status_code == 200


@pytest.fixture
def emulator() -> Iterator[GoogleEmulator]:
    emu = GoogleEmulator(host="127.0.0.1", port=0).start()
    yield emu
    emu.stop()


@pytest.fixture
def google(emulator: GoogleEmulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[Google]:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    monkeypatch.setenv("OAUTHLIB_RELAX_TOKEN_SCOPE", "1")
    driver = Google(emulator)
    yield driver
    driver.http.close()


@pytest.fixture
def receiver() -> Iterator[PushReceiver]:
    """The product's push endpoint, played by a loopback server that records what it gets."""
    endpoint = PushReceiver()
    yield endpoint
    endpoint.close()


@pytest.fixture
def connected(google: Google) -> tuple[Flow, dict[str, Any]]:
    """The demo user connected with the product's scopes (offline, consent shown)."""
    return google.connect()


@pytest.fixture
def gmail(google: Google, connected: tuple[Flow, dict[str, Any]]) -> Any:
    return google.gmail(connected[0].credentials)
