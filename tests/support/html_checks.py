"""Independent checks that sanitised HTML is inert, read back with the stdlib parser (not nh3's)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

from gmail_connect.gmail.safe_html import CSS_PROPERTIES

FORBIDDEN_ELEMENTS = frozenset(
    {
        "script", "style", "iframe", "frame", "frameset", "object", "embed", "applet", "param", "form",
        "input", "button", "select", "option", "textarea", "base", "meta", "link", "svg", "math",
        "template", "bgsound", "xml", "isindex", "keygen", "video", "audio", "source", "track", "marquee",
        "portal", "dialog",
    }
)  # fmt: skip
URL_ATTRIBUTES = frozenset(
    {
        "href", "src", "action", "formaction", "background", "poster", "srcset", "data", "codebase",
        "cite", "longdesc", "lowsrc", "dynsrc", "xlink:href", "ping", "manifest", "usemap", "profile",
    }
)  # fmt: skip
ACTIVE_SCHEMES = ("javascript:", "vbscript:", "data:", "livescript:", "mocha:")
SAFE_DATA_IMAGE = re.compile(r"data:image/(png|gif|jpe?g|webp|bmp)[;,]")
CSS_DANGER = re.compile(r"url\(|expression|javascript|behavior|binding|@import|\\", re.IGNORECASE)
# Browsers drop ASCII whitespace and C0 controls around a URL, and tab/newline inside it.
_URL_NOISE = re.compile(r"[\x00-\x20\x7f]+")


@dataclass
class Element:
    tag: str
    attributes: dict[str, str]


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append(Element(tag, {name: value or "" for name, value in attrs}))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)


def elements(markup: str) -> list[Element]:
    collector = _Collector()
    collector.feed(markup)
    collector.close()
    return collector.elements


def problems(markup: str) -> list[str]:
    """Everything in `markup` that could run, navigate by itself, or fetch through CSS; [] when inert."""
    found = []
    for element in elements(markup):
        if element.tag in FORBIDDEN_ELEMENTS:
            found.append(f"<{element.tag}> element")
        for name, value in element.attributes.items():
            if name.startswith("on"):
                found.append(f"{name} handler on <{element.tag}>")
            if name in URL_ATTRIBUTES:
                url = _URL_NOISE.sub("", value).lower()
                allowed_data = element.tag == "img" and name == "src" and SAFE_DATA_IMAGE.match(url)
                if url.startswith(ACTIVE_SCHEMES) and not allowed_data:
                    found.append(f"{name}={value!r} on <{element.tag}>")
            if name == "style":
                found.extend(_style_problems(element.tag, value))
    return found


def _style_problems(tag: str, value: str) -> list[str]:
    found = []
    for declaration in filter(None, (part.strip() for part in value.split(";"))):
        prop, _, rest = declaration.partition(":")
        if prop.strip().lower() not in CSS_PROPERTIES:
            found.append(f"CSS property {prop.strip()!r} on <{tag}>")
        if CSS_DANGER.search(rest):
            found.append(f"CSS value {rest.strip()!r} on <{tag}>")
    return found
