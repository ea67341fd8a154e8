"""Mail HTML made safe to show: nh3 (ammonia, an html5ever parser) with an allowlist for mail.

What survives is formatting: text, tables, images, links, and a subset of inline CSS. Nothing that
runs or navigates by itself survives: no script, style element, event handler, form, frame,
object, `<base>` or `<meta>`; URLs only http(s) and mailto/tel links, plus `data:` raster
images; relative URLs go too (with no base they would point into the page that shows the mail).

Inline CSS: mail is laid out with `style` attributes (newsletters are tables of them), so dropping
them all leaves much mail unreadable. CSS runs no code in current browsers (`expression()` was
IE-only); its risks are fetches (`url()`, which would defeat `block_remote_images` and track the
reader) and overlays (`position: fixed` over the page). So only properties that take no URL and
cannot move a box out of the flow are kept, and a declaration with `url(`, `expression`, a CSS
escape or a comment is dropped whole before nh3 filters the properties again.

Links open in a new browsing context with `rel="noopener noreferrer"`. `cid:` images become the
URL the caller gives for that Content-ID, or lose their `src` when it gives none. Remote
images keep their `src` unless `block_remote_images`: the console shows mail in a sandboxed frame
under a Content-Security-Policy, and whether to load remote images is the product's call.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

import nh3

TAGS = frozenset(nh3.ALLOWED_TAGS - {"area", "map"} | {"font", "tfoot", "big"})
# Elements whose content goes with them: code, CSS, the document head, and rawtext containers.
DROPPED_WITH_CONTENT = frozenset(
    {"script", "style", "title", "template", "iframe", "noembed", "noframes", "object", "xmp"}
    | {"textarea", "select"}
)
_TABLE_CELL = {"width", "height", "valign", "bgcolor", "align", "colspan", "rowspan", "nowrap"}
ATTRIBUTES: dict[str, set[str]] = {
    "*": {"style", "title", "dir", "lang", "align"},
    "a": {"href", "hreflang"},
    "img": {"src", "alt", "width", "height", "border", "hspace", "vspace"},
    "font": {"color", "face", "size"},
    "table": {"width", "border", "cellpadding", "cellspacing", "bgcolor", "summary"},
    "td": _TABLE_CELL,
    "th": _TABLE_CELL | {"scope"},
    "tr": {"valign", "bgcolor"},
    "col": {"span", "width"},
    "colgroup": {"span", "width"},
    "ol": {"start", "type"},
    "ul": {"type"},
    "li": {"value"},
    "hr": {"width", "size", "noshade"},
    "blockquote": {"cite"},
    "q": {"cite"},
    "del": {"cite", "datetime"},
    "ins": {"cite", "datetime"},
    "time": {"datetime"},
}
URL_SCHEMES = frozenset({"http", "https", "mailto", "tel", "cid", "data"})
_SIDES = ("", "-top", "-right", "-bottom", "-left")
CSS_PROPERTIES = frozenset(
    {
        "color", "background-color", "font", "font-family", "font-size", "font-style", "font-weight",
        "font-variant", "text-align", "text-decoration", "text-transform", "text-indent", "letter-spacing",
        "word-spacing", "line-height", "white-space", "word-break", "word-wrap", "overflow-wrap",
        "vertical-align", "direction", "width", "height", "min-width", "max-width", "min-height",
        "max-height", "display", "float", "clear", "table-layout", "border-collapse", "border-spacing",
        "border-radius", "list-style-type", "caption-side", "empty-cells", "visibility", "opacity",
        *(f"margin{side}" for side in _SIDES),
        *(f"padding{side}" for side in _SIDES),
        *(f"border{side}{part}" for side in _SIDES for part in ("", "-color", "-style", "-width")),
    }
)  # fmt: skip
_CSS_REFUSED = re.compile(r"url\s*\(|expression|javascript|vbscript|image|@import|\\|/\*|<|>", re.IGNORECASE)
# data: URLs only for raster images: an SVG can carry script, and a data: page is a page.
_DATA_IMAGE = re.compile(r"data:image/(png|gif|jpe?g|webp|bmp)[;,]", re.IGNORECASE)
_WEB = ("http", "https")


@dataclass
class Sanitised:
    html: str
    # Content-IDs the HTML shows as images (cid: URLs), whether or not a part matched them.
    referenced_cids: set[str] = field(default_factory=set)


def sanitise(
    markup: str,
    *,
    inline_images: Mapping[str, str | None] | None = None,
    block_remote_images: bool = False,
) -> Sanitised:
    """Sanitise mail HTML. `inline_images` maps a Content-ID (no brackets) to the URL that shows that
    part: the API's attachment route, or a data: URL for a small image Gmail sent inline."""
    sources = {cid.lower(): url for cid, url in (inline_images or {}).items()}
    # With no base, a relative URL would point into the page that shows the mail: only the
    # caller's own attachment routes may be relative.
    routes = {url for url in sources.values() if url and _is_route(url) and not _scheme(url)}
    referenced: set[str] = set()

    def image_source(value: str) -> str | None:
        scheme = _scheme(value)
        if scheme == "cid":
            cid = unquote(value.strip()[4:]).strip().strip("<>").lower()
            referenced.add(cid)
            url = sources.get(cid)
            return url if url and (_is_route(url) or _DATA_IMAGE.match(url)) else None
        if scheme == "data":
            return value if _DATA_IMAGE.match(value.strip()) else None
        return value if scheme in _WEB and not block_remote_images else None

    def attribute(tag: str, name: str, value: str) -> str | None:
        if name == "style":
            return _safe_css(value)
        if name in ("href", "cite"):  # nh3 checks the scheme of href, not of cite
            return value if _scheme(value) in (*_WEB, "mailto", "tel") else None
        if tag == "img" and name == "src":
            return image_source(value)
        return value

    cleaned = nh3.clean(
        markup,
        tags=set(TAGS),
        clean_content_tags=set(DROPPED_WITH_CONTENT),
        attributes={tag: set(names) for tag, names in ATTRIBUTES.items()},
        attribute_filter=attribute,
        strip_comments=True,
        link_rel="noopener noreferrer",
        set_tag_attribute_values={"a": {"target": "_blank"}},
        url_schemes=set(URL_SCHEMES),
        filter_style_properties=set(CSS_PROPERTIES),
        url_relative=lambda url: url if url in routes else None,
    )
    return Sanitised(cleaned, referenced)


def _scheme(url: str) -> str:
    try:
        return urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return ""


def _is_route(url: str) -> bool:
    """The caller's attachment URL: an absolute path on this site or an http(s) URL, nothing else."""
    if any(ord(char) < 0x21 or char in "\"'<>\\" for char in url):
        return False
    return (url.startswith("/") and not url.startswith("//")) or _scheme(url) in _WEB


def _safe_css(value: str) -> str | None:
    """The declarations that cannot fetch, run or escape the flow; nh3 then keeps allowed properties."""
    kept = [part for part in value.split(";") if part.strip() and not _CSS_REFUSED.search(part)]
    return "; ".join(part.strip() for part in kept) or None
