"""The mail HTML sanitiser: the OWASP XSS Filter Evasion vectors come out inert, mail layout survives."""

from __future__ import annotations

import pytest

from gmail_connect.gmail.safe_html import CSS_PROPERTIES, sanitise
from tests.support.html_checks import elements, problems

# The OWASP XSS Filter Evasion Cheat Sheet's vectors, and the mutation and mail-specific ones since.
XSS_VECTORS = [
    "<SCRIPT SRC=https://cdn.example/xss.js></SCRIPT>",
    "javascript:/*--></title></style></textarea></script></xmp>"
    "<svg/onload='+/\"/+/onmouseover=1/+/[*/[]/+alert(1)//'>",
    "<IMG SRC=\"javascript:alert('XSS');\">",
    "<IMG SRC=javascript:alert('XSS')>",
    "<IMG SRC=JaVaScRiPt:alert('XSS')>",
    "<IMG SRC=javascript:alert(&quot;XSS&quot;)>",
    "<IMG SRC=`javascript:alert(\"RSnake says, 'XSS'\")`>",
    '<a onmouseover="alert(document.cookie)">xxs link</a>',
    "<a onmouseover=alert(document.cookie)>xxs link</a>",
    '<IMG """><SCRIPT>alert("XSS")</SCRIPT>"\\>',
    "<IMG SRC=javascript:alert(String.fromCharCode(88,83,83))>",
    "<IMG SRC=# onmouseover=\"alert('xxs')\">",
    "<IMG SRC= onmouseover=\"alert('xxs')\">",
    "<IMG onmouseover=\"alert('xxs')\">",
    '<IMG SRC=/ onerror="alert(String.fromCharCode(88,83,83))"></img>',
    '<img src=x onerror="&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114&#0000105'
    '&#0000112&#0000116&#0000058&#0000097&#0000108&#0000101&#0000114&#0000116&#0000040&#0000039">',
    "<IMG SRC=&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;&#97;&#108;&#101;&#114;"
    "&#116;&#40;&#39;&#88;&#83;&#83;&#39;&#41;>",
    "<IMG SRC=&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114&#0000105&#0000112"
    "&#0000116&#0000058&#0000097&#0000108&#0000101&#0000114&#0000116&#0000040&#0000039&#0000088>",
    "<IMG SRC=&#x6A&#x61&#x76&#x61&#x73&#x63&#x72&#x69&#x70&#x74&#x3A&#x61&#x6C&#x65&#x72&#x74&#x28>",
    "<IMG SRC=\"jav\tascript:alert('XSS');\">",
    "<IMG SRC=\"jav&#x09;ascript:alert('XSS');\">",
    "<IMG SRC=\"jav&#x0A;ascript:alert('XSS');\">",
    "<IMG SRC=\"jav&#x0D;ascript:alert('XSS');\">",
    "<IMG SRC=\" &#14;  javascript:alert('XSS');\">",
    "<IMG SRC=\"java\x00script:alert('XSS');\">",
    "<scr\x00ipt>alert('XSS')</scr\x00ipt>",
    '<SCRIPT/XSS SRC="http://xss.example/xss.js"></SCRIPT>',
    '<BODY onload!#$%&()*~+-_.,:;?@[/|\\]^`=alert("XSS")>',
    '<SCRIPT/SRC="http://xss.example/xss.js"></SCRIPT>',
    '<<SCRIPT>alert("XSS");//\\<</SCRIPT>',
    "<SCRIPT SRC=http://xss.example/xss.js?< B >",
    "<SCRIPT SRC=//xss.example/.j>",
    "<IMG SRC=\"javascript:alert('XSS')\"",
    "<iframe src=http://xss.example/scriptlet.html <",
    '</TITLE><SCRIPT>alert("XSS");</SCRIPT>',
    '<INPUT TYPE="IMAGE" SRC="javascript:alert(\'XSS\');">',
    "<BODY BACKGROUND=\"javascript:alert('XSS')\">",
    "<IMG DYNSRC=\"javascript:alert('XSS')\">",
    "<IMG LOWSRC=\"javascript:alert('XSS')\">",
    "<STYLE>li {list-style-image: url(\"javascript:alert('XSS')\");}</STYLE><UL><LI>XSS</br>",
    "<IMG SRC='vbscript:msgbox(\"XSS\")'>",
    "<svg/onload=alert('XSS')>",
    "<BODY ONLOAD=alert('XSS')>",
    "<BGSOUND SRC=\"javascript:alert('XSS');\">",
    "<BR SIZE=\"&{alert('XSS')}\">",
    '<LINK REL="stylesheet" HREF="javascript:alert(\'XSS\');">',
    '<LINK REL="stylesheet" HREF="http://xss.example/xss.css">',
    "<STYLE>@import'http://xss.example/xss.css';</STYLE>",
    '<META HTTP-EQUIV="Link" Content="<http://xss.example/xss.css>; REL=stylesheet">',
    '<STYLE>BODY{-moz-binding:url("http://xss.example/xssmoz.xml#xss")}</STYLE>',
    "<STYLE>@im\\port'\\ja\\vasc\\ript:alert(\"XSS\")';</STYLE>",
    "<IMG STYLE=\"xss:expr/*XSS*/ession(alert('XSS'))\">",
    "<STYLE TYPE=\"text/javascript\">alert('XSS');</STYLE>",
    "<STYLE>.XSS{background-image:url(\"javascript:alert('XSS')\");}</STYLE><A CLASS=XSS></A>",
    '<STYLE type="text/css">BODY{background:url("javascript:alert(\'XSS\')")}</STYLE>',
    "<XSS STYLE=\"xss:expression(alert('XSS'))\">",
    '<XSS STYLE="behavior: url(xss.htc);">',
    '<META HTTP-EQUIV="refresh" CONTENT="0;url=javascript:alert(\'XSS\');">',
    '<META HTTP-EQUIV="refresh" '
    'CONTENT="0;url=data:text/html base64,PHNjcmlwdD5hbGVydCgnWFNTJyk8L3NjcmlwdD4K">',
    '<META HTTP-EQUIV="refresh" CONTENT="0; URL=http://;URL=javascript:alert(\'XSS\');">',
    "<IFRAME SRC=\"javascript:alert('XSS');\"></IFRAME>",
    '<IFRAME SRC=# onmouseover="alert(document.cookie)"></IFRAME>',
    "<FRAMESET><FRAME SRC=\"javascript:alert('XSS');\"></FRAMESET>",
    "<TABLE BACKGROUND=\"javascript:alert('XSS')\">",
    "<TABLE><TD BACKGROUND=\"javascript:alert('XSS')\">",
    "<DIV STYLE=\"background-image: url(javascript:alert('XSS'))\">",
    "<DIV STYLE=\"background-image:\\0075\\0072\\006C\\0028'\\006a\\0061\\0076\\0061\\0073\\0063\\0072"
    "\\0069\\0070\\0074\\003a\\0061\\006c\\0065\\0072\\0074\\0028.1027\\0058.1053\\0053\\0027\\0029'\\0029\">",
    "<DIV STYLE=\"background-image: url(&#1;javascript:alert('XSS'))\">",
    "<DIV STYLE=\"width: expression(alert('XSS'));\">",
    "<DIV STYLE=\"color: red; width: expr\\ession(alert('XSS'))\">",
    "<BASE HREF=\"javascript:alert('XSS');//\">",
    '<BASE HREF="https://evil.example/">',
    '<OBJECT TYPE="text/x-scriptlet" DATA="http://xss.example/scriptlet.html"></OBJECT>',
    '<EMBED SRC="data:image/svg+xml;base64,PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciIG9ubG9h'
    'ZD0iYWxlcnQoMSkiLz4=" type="image/svg+xml" AllowScriptAccess="always"></EMBED>',
    '<XML ID="xss"><I><B><IMG SRC="javas<!-- -->cript:alert(\'XSS\')"></B></I></XML>',
    '<HTML><BODY><?xml:namespace prefix="t" ns="urn:schemas-microsoft-com:time"><?import namespace="t" '
    'implementation="#default#time2"><t:set attributeName="innerHTML" to="XSS<SCRIPT DEFER>alert("XSS")'
    '</SCRIPT>"></BODY></HTML>',
    '<SCRIPT a=">" SRC="httx://xss.example/xss.js"></SCRIPT>',
    '<a href="javascript&colon;alert(1)">x</a>',
    '<a href="&#x6a;avascript:alert(1)">x</a>',
    '<a href="java&#0000009;script:alert(1)">x</a>',
    '<a href="jav&Tab;ascript:alert(1)">x</a>',
    '<a href="  javascript:alert(1)">x</a>',
    '<a href="vbscript:msgbox(1)">x</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
    '<a href="data:image/png;base64,iVBORw0KGgo=">a picture as a link is still a data: page</a>',
    '<img src="data:image/svg+xml,<svg onload=alert(1)>">',
    '<img src="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">',
    '<img srcset="javascript:alert(1) 1x, https://ok.example/a.png 2x">',
    '<form><button formaction="javascript:alert(1)">X</button></form>',
    '<form action="javascript:alert(1)"><input type="submit"></form>',
    '<form action="https://evil.example/login"><input name="password"></form>',
    '<iframe srcdoc="&lt;script&gt;alert(1)&lt;/script&gt;"></iframe>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<svg><style><img src=x onerror=alert(1)></style></svg>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    '<svg><a xlink:href="javascript:alert(1)"><text x="20" y="20">XSS</text></a></svg>',
    '<math href="javascript:alert(1)">CLICKME</math>',
    "<details open ontoggle=alert(1)>",
    '<video><source onerror="alert(1)"></video>',
    "<audio src=x onerror=alert(1)>",
    "<marquee onstart=alert(1)>",
    "<isindex type=image src=1 onerror=alert(1)>",
    '<object data="javascript:alert(1)"></object>',
    '<embed src="javascript:alert(1)">',
    "<img src=x:alert(alt) onerror=eval(src) alt=0>",
    '<blockquote cite="javascript:alert(1)">quoted</blockquote>',
    '<a href="#" style="position:fixed;top:0;left:0;width:100%;height:100%">overlay</a>',
    '<div style="color:red;background:url(https://tracker.example/p.gif)">pixel</div>',
    "<p style=\"font-family:'x';}body{background:url(//evil.example)\">escape the rule</p>",
    '<p style="list-style-image:url(https://tracker.example/p.gif);cursor:url(x.cur)">fetches</p>',
    "+ADw-script+AD4-alert(1)+ADw-/script+AD4-",
    "<template><script>alert(1)</script></template><textarea><script>alert(1)</script></textarea>",
    '<div id="x" class="y" name="z" data-x="1" role="button" tabindex="0" contenteditable>attrs</div>',
]


@pytest.mark.parametrize("vector", XSS_VECTORS, ids=lambda vector: vector[:48])
def test_every_vector_comes_out_inert(vector: str) -> None:
    # Given an XSS vector in a mail body
    # When it is sanitised
    cleaned = sanitise(vector).html

    # Then no forbidden element, handler, active URL or fetching/escaping CSS survives
    assert problems(cleaned) == []


def test_the_vector_list_is_the_size_the_brief_asks_for_and_the_checker_can_fail() -> None:
    # Given the corpus and the checker it relies on
    # Then it holds the cheat sheet's ~60 vectors and more, and unsanitised they would be flagged
    assert len(XSS_VECTORS) >= 60
    flagged = [vector for vector in XSS_VECTORS if problems(vector)]
    assert len(flagged) >= 0.8 * len(XSS_VECTORS)


def test_links_open_in_a_new_context_without_opener_or_referrer() -> None:
    # Given a link
    # When sanitised
    (link,) = elements(sanitise('<a href="https://example.org/x?a=1&amp;b=2">x</a>').html)

    # Then it keeps its URL and gains target and rel
    assert link.attributes == {
        "href": "https://example.org/x?a=1&b=2",
        "target": "_blank",
        "rel": "noopener noreferrer",
    }


def test_mail_links_and_phone_links_stay() -> None:
    cleaned = sanitise('<a href="mailto:ana@example.org">mail</a><a href="tel:+441234">call</a>').html
    assert [element.attributes["href"] for element in elements(cleaned)] == [
        "mailto:ana@example.org",
        "tel:+441234",
    ]


def test_relative_urls_go_as_they_would_point_into_the_console() -> None:
    cleaned = sanitise('<a href="/disconnect">a</a><img src="/me"><img src="//evil.example/x.png">').html
    assert all(
        "href" not in element.attributes and "src" not in element.attributes for element in elements(cleaned)
    )


def test_layout_css_survives_and_only_allowed_properties_do() -> None:
    # Given a newsletter-style cell
    markup = (
        '<td style="padding:12px 16px;background-color:#f4f4f4;font-family:Arial,sans-serif;'
        'position:absolute;z-index:99;color:#333">Hi</td>'
    )
    # When sanitised
    (cell,) = [
        element
        for element in elements(sanitise(f"<table><tr>{markup}</tr></table>").html)
        if element.tag == "td"
    ]

    # Then the layout properties stay and the positioning ones go
    style = cell.attributes["style"]
    assert "padding:12px 16px" in style
    assert "background-color:#f4f4f4" in style
    assert "color:#333" in style
    assert "position" not in style
    assert "z-index" not in style


def test_a_url_in_css_drops_that_declaration_not_the_whole_style() -> None:
    cleaned = sanitise(
        '<p style="color:red; background-image:url(https://t.example/p.gif); margin:0">x</p>'
    ).html
    (paragraph,) = elements(cleaned)
    assert paragraph.attributes["style"] == "color:red;margin:0"


def test_no_allowed_css_property_can_fetch_run_or_escape_the_flow() -> None:
    # Then the allowlist holds no property that takes a URL or moves a box over the page
    dangerous = {
        "position", "top", "left", "right", "bottom", "z-index", "inset", "transform", "background",
        "background-image", "list-style", "list-style-image", "content", "cursor", "behavior",
        "-moz-binding", "border-image", "border-image-source", "mask", "mask-image", "filter",
        "shape-outside", "src", "clip-path",
    }  # fmt: skip
    assert dangerous.isdisjoint(CSS_PROPERTIES)


def test_cid_images_point_at_the_given_route_and_are_reported() -> None:
    # Given two cid images, one the caller can serve
    markup = '<img src="cid:logo@x.example"><img src="cid:%3Cchart@x.example%3E"><img src="cid:gone@x">'
    # When sanitised with the route of the first
    result = sanitise(
        markup, inline_images={"logo@x.example": "/messages/m1/attachments/ATT1", "chart@x.example": None}
    )

    # Then the first shows from the route, the others lose their src, and all three are reported
    sources = [element.attributes.get("src") for element in elements(result.html)]
    assert sources == ["/messages/m1/attachments/ATT1", None, None]
    assert result.referenced_cids == {"logo@x.example", "chart@x.example", "gone@x"}


def test_a_route_that_is_not_a_path_or_http_url_is_refused() -> None:
    for route in ("javascript:alert(1)", "//evil.example/x", 'x" onerror="alert(1)', "data:text/html,x"):
        result = sanitise('<img src="cid:a@b">', inline_images={"a@b": route})
        assert "src" not in elements(result.html)[0].attributes, route


def test_remote_images_stay_unless_blocked_while_inline_ones_always_show() -> None:
    # Given a remote image, a cid image and a small data: image
    markup = (
        '<img src="https://cdn.example/a.png"><img src="cid:a@b"><img src="data:image/gif;base64,R0lGOD==">'
    )
    inline = {"a@b": "https://api.example/messages/m/attachments/A"}
    # When sanitised with and without blocking
    shown = [
        element.attributes.get("src") for element in elements(sanitise(markup, inline_images=inline).html)
    ]
    blocked = elements(sanitise(markup, inline_images=inline, block_remote_images=True).html)

    # Then only the remote one depends on the flag
    assert shown == ["https://cdn.example/a.png", inline["a@b"], "data:image/gif;base64,R0lGOD=="]
    assert [element.attributes.get("src") for element in blocked] == [
        None,
        inline["a@b"],
        "data:image/gif;base64,R0lGOD==",
    ]


def test_unclosed_markup_is_closed() -> None:
    assert sanitise("<div><p><b>cut here").html == "<div><p><b>cut here</b></p></div>"


def test_ids_classes_and_scripting_hooks_are_dropped() -> None:
    # Given attributes that could clobber the page's names or reach its CSS and scripts
    markup = '<div id="x" class="y" name="z" data-x="1" role="button" tabindex="0" contenteditable>a</div>'
    # When sanitised
    (div,) = elements(sanitise(markup).html)

    # Then none of them survives
    assert div.attributes == {}
