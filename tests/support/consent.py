"""Click through the Google emulator's consent page over HTTP, as a browser without JavaScript would."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qs, urljoin, urlsplit

import requests


@dataclass
class ConsentForm:
    action: str = ""
    hidden: dict[str, str] = field(default_factory=dict)
    accounts: list[str] = field(default_factory=list)
    selected_account: str | None = None
    scopes: list[str] = field(default_factory=list)


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.form = ConsentForm()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.form.action = attributes.get("action", "")
        if tag != "input":
            return
        kind, name, value = (
            attributes.get("type", "text"),
            attributes.get("name", ""),
            attributes.get("value", ""),
        )
        if kind == "hidden":
            self.form.hidden[name] = value
        elif kind == "radio" and name == "account":
            self.form.accounts.append(value)
            if "checked" in attributes:
                self.form.selected_account = value
        elif kind == "checkbox" and name == "scope":
            self.form.scopes.append(value)


def read_consent_page(http: requests.Session, url: str) -> ConsentForm:
    page = http.get(url, allow_redirects=False, timeout=10)
    assert page.status_code == 200, page.text[:500]
    parser = _FormParser()
    parser.feed(page.text)
    parser.form.action = urljoin(url, parser.form.action)
    return parser.form


def decide(
    http: requests.Session,
    consent_url: str,
    *,
    allow: bool = True,
    account: str | None = None,
    untick: tuple[str, ...] = (),
) -> dict[str, str]:
    """Submit the consent form; return the query Google's redirect carries back (code/state or error)."""
    form = read_consent_page(http, consent_url)
    data: list[tuple[str, str]] = list(form.hidden.items())
    data.append(("account", account or form.selected_account or form.accounts[0]))
    data.extend(("scope", scope) for scope in form.scopes if scope not in untick)
    data.append(("decision", "allow" if allow else "deny"))
    answer = http.post(form.action, data=data, allow_redirects=False, timeout=10)
    assert answer.status_code in (302, 303), answer.text[:500]
    location = answer.headers["Location"]
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()} | {
        "_redirect": location.split("?", 1)[0]
    }
