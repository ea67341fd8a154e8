"""The contract run: the local stack as a process, real credentials for every kind of route.

Schemathesis generates the requests from the document the stack serves (`GET /openapi.json`);
these fixtures give it what an application and a signed-in user really have: SigV4 with the
local key pair for `/v1`, and sessions made by consenting at the Google emulator over HTTP.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from typing import Any
from urllib.parse import parse_qs, quote, unquote_plus, urlsplit, urlunsplit

import pytest
import requests
import schemathesis
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import strategies as st

from infra.local_stack.sigv4 import DEFAULT_ACCESS_KEY_ID, DEFAULT_SECRET_ACCESS_KEY, REGION, SERVICE
from tests.support.consent import decide
from tests.support.stack_process import RunningStack, running_local_stack

DEMO = "demo@example.com"
LEAVER = "contract-leaver@example.com"  # signs in only to be disconnected
EXTERNAL_USER_ID = "u_contract"
RETURN_URL = "http://127.0.0.1:9/back"  # loopback: allowed by the local stack


class SigV4(requests.auth.AuthBase):
    """Signs the request as it will be sent (final URL and body) with botocore, as an application does.

    botocore signs the query string as it finds it, assuming it is already in SigV4's encoding
    (every byte but `A-Za-z0-9-_.~` percent-encoded, a space as `%20`), which its own clients
    produce. requests writes a space as `+` and Schemathesis leaves the commas of a `labelIds=a,b`
    bare, which the server (AWS, and the local front) encodes before checking the signature. So
    the query is put in that encoding first; the server reads the same values from it.
    """

    def __init__(self, access_key_id: str = DEFAULT_ACCESS_KEY_ID, secret: str = DEFAULT_SECRET_ACCESS_KEY):
        self.credentials = Credentials(access_key_id, secret)

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body.encode() if isinstance(request.body, str) else request.body or b""
        parts = urlsplit(request.url or "")
        request.url = urlunsplit(parts._replace(query=_sigv4_encoded(parts.query)))
        signed = AWSRequest(method=request.method, url=request.url, data=body)
        SigV4Auth(self.credentials, SERVICE, REGION).add_auth(signed)
        for name in ("Authorization", "X-Amz-Date"):
            request.headers[name] = signed.headers[name]
        return request


def _sigv4_encoded(query: str) -> str:
    def encode(component: str) -> str:
        return quote(unquote_plus(component), safe="-_.~")

    items = (item.partition("=") for item in query.split("&") if item)
    return "&".join(encode(name) + equals + encode(value) for name, equals, value in items)


@dataclass(frozen=True)
class ContractStack:
    stack: RunningStack
    session: str  # the demo account's session
    leaver_session: str  # another account's, for the disconnect route
    connection_id: str  # the demo account's connection, made through a connect link
    mail: Mail  # a message of the demo account with an attachment


@dataclass(frozen=True)
class Mail:
    message_id: str
    thread_id: str
    attachment_id: str


def _consent(browser: requests.Session, stack: RunningStack, location: str, email: str) -> requests.Response:
    """Decide at Google as `email` and follow Google's redirect to the callback."""
    answer = decide(browser, location, account=email)
    query = {key: value for key, value in answer.items() if not key.startswith("_")}
    return browser.get(f"{stack.api}/oauth/callback", params=query, allow_redirects=False, timeout=10)


def _sign_in(stack: RunningStack, email: str) -> str:
    """Connect `email` in a browser-like session; its session token."""
    with requests.Session() as browser:
        start = browser.get(
            f"{stack.api}/oauth/authorize", params={"login_hint": email}, allow_redirects=False, timeout=10
        )
        assert start.status_code == 302, start.text
        back = _consent(browser, stack, start.headers["Location"], email)
        assert back.status_code == 302, back.text
        return str(back.cookies["gc_session"])


def _connect_through_a_link(stack: RunningStack, email: str) -> str:
    """The application's flow: a connect link for `EXTERNAL_USER_ID`, consent, the connection id back."""
    link = requests.post(
        f"{stack.api}/v1/connect-links",
        json={"external_user_id": EXTERNAL_USER_ID, "return_url": RETURN_URL},
        auth=SigV4(),
        timeout=10,
    )
    assert link.status_code == 201, link.text
    with requests.Session() as browser:
        start = browser.get(link.json()["url"], allow_redirects=False, timeout=10)
        assert start.status_code == 302, start.text
        back = _consent(browser, stack, start.headers["Location"], email)
    assert back.status_code == 302, back.text
    returned = parse_qs(urlsplit(back.headers["Location"]).query)
    assert returned["status"] == ["connected"], back.headers["Location"]
    return returned["connection_id"][0]


def _deliver_mail_with_an_attachment(stack: RunningStack, session: str) -> Mail:
    """A message with a PDF attached, delivered to the demo mailbox; its ids as the API names them."""
    mail = MIMEMultipart()
    mail["From"], mail["To"], mail["Subject"] = "Billing <billing@example.org>", DEMO, "Your invoice"
    mail.attach(MIMEText("The invoice is attached.", "plain"))
    mail.attach(MIMEApplication(b"%PDF-1.4 contract", "pdf", Name="invoice.pdf"))
    raw = base64.urlsafe_b64encode(mail.as_bytes()).decode()
    delivered = requests.post(
        f"{stack.google}/_emulator/accounts/{DEMO}/messages", json={"raw": raw}, timeout=10
    )
    assert delivered.status_code == 201, delivered.text
    found = delivered.json()
    shown = requests.get(
        f"{stack.api}/messages/{found['id']}", headers={"Authorization": f"Bearer {session}"}, timeout=10
    )
    assert shown.status_code == 200, shown.text
    [attachment] = shown.json()["attachments"]
    return Mail(found["id"], found["threadId"], attachment["attachment_id"])


@pytest.fixture(scope="session")
def contract_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContractStack]:
    with running_local_stack(tmp_path_factory.mktemp("contract") / "local_stack.log") as stack:
        created = requests.post(
            f"{stack.google}/_emulator/accounts", json={"email": LEAVER, "messages": 3}, timeout=10
        )
        assert created.status_code == 201, created.text
        session = _sign_in(stack, DEMO)
        yield ContractStack(
            stack=stack,
            session=session,
            leaver_session=_sign_in(stack, LEAVER),
            connection_id=_connect_through_a_link(stack, DEMO),
            mail=_deliver_mail_with_an_attachment(stack, session),
        )


@pytest.fixture(scope="session")
def contract_schema(contract_stack: ContractStack) -> Any:
    """The document as the stack serves it, with the credentials each kind of route takes."""
    api = contract_stack.stack.api
    schema = schemathesis.openapi.from_url(f"{api}/openapi.json")
    schema.config.update(base_url=api)
    schema.auth.set_from_requests(SigV4()).apply_to(path_regex="^/v1/")

    @schema.auth(refresh_interval=None).apply_to(path_regex="^/(me|messages|threads|oauth/disconnect)(/.*)?$")
    class Session:
        """A real session as a Bearer token; the disconnect route gets the account kept for it."""

        def get(self, case: schemathesis.Case, context: schemathesis.AuthContext) -> str:
            if case.path == "/oauth/disconnect":
                return contract_stack.leaver_session
            return contract_stack.session

        def set(self, case: schemathesis.Case, data: str, context: schemathesis.AuthContext) -> None:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}

    @schema.hook
    def flatmap_case(context: schemathesis.HookContext, case: schemathesis.Case) -> st.SearchStrategy:
        """Half the cases name what exists (the connection, its user, an allowed return URL, a
        message, its thread and attachment): random values alone would only meet 404s and 400s."""
        return st.booleans().map(lambda real: _existing(case, contract_stack) if real else case)

    return schema


def _existing(case: schemathesis.Case, contract: ContractStack) -> schemathesis.Case:
    real = {
        "connection_id": contract.connection_id,
        "message_id": contract.mail.message_id,
        "thread_id": contract.mail.thread_id,
        "attachment_id": contract.mail.attachment_id,
    }
    if case.path_parameters and not (
        case.method.upper() == "DELETE" and "connection_id" in case.path_parameters
    ):
        # (deleting the one real connection would leave the other /v1 routes nothing to read)
        case.path_parameters = {name: real.get(name, value) for name, value in case.path_parameters.items()}
    if (case.method.upper(), case.path) == ("GET", "/v1/connections"):
        case.query = {**(case.query or {}), "external_user_id": EXTERNAL_USER_ID}
    elif (case.method.upper(), case.path) == ("POST", "/v1/connect-links") and isinstance(case.body, dict):
        case.body = {**case.body, "external_user_id": EXTERNAL_USER_ID, "return_url": RETURN_URL}
    return case
