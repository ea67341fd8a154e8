"""Mail bytes to text: charset decoding that never raises, RFC 2047 words, and HTML rendered as text."""

# Mail text is full of typographic characters (dashes, curly quotes, full-width commas) on purpose.
# ruff: noqa: RUF001

from __future__ import annotations

import json

import pytest

from gmail_connect.gmail.charsets import codec_for, decode_text, decode_words
from gmail_connect.gmail.html_text import html_to_text


@pytest.mark.parametrize(
    ("label", "codec"),
    [
        ("GB2312", "gb18030"),
        ("gbk", "gb18030"),
        ("ISO-8859-1", "cp1252"),
        ("us-ascii", "cp1252"),
        ("Shift_JIS", "cp932"),
        ("ks_c_5601-1987", "cp949"),
        ("EUC-KR", "cp949"),
        ('"KOI8-R"', "koi8-r"),
        ("utf8", "utf-8"),
        ("x-unknown-42", None),
        ("", None),
        (None, None),
        ("base64", None),
        ("rot13", None),
        ("unicode_escape", None),
        ("undefined", None),
        ("idna", None),
    ],
)
def test_labels_map_as_browsers_map_them_and_non_charsets_are_refused(
    label: str | None, codec: str | None
) -> None:
    assert codec_for(label) == codec


def test_utf8_wins_over_a_wrong_8bit_label() -> None:
    assert decode_text("Café".encode(), "iso-8859-1") == "Café"


def test_the_declared_charset_decodes_what_utf8_cannot() -> None:
    assert decode_text("Привет".encode("koi8-r"), "koi8-r") == "Привет"
    assert decode_text("“smart” – €".encode("cp1252"), "iso-8859-1") == "“smart” – €"


def test_gbk_text_under_a_gb2312_label_decodes() -> None:
    # 镕 is in GBK/GB18030, not in GB2312: mailers label such text GB2312 anyway
    assert decode_text("朱镕基".encode("gb18030"), "gb2312") == "朱镕基"


def test_7bit_stateful_and_wide_charsets_go_before_utf8() -> None:
    # ISO-2022-JP and UTF-16 bytes can also be valid UTF-8; their label is believed first
    assert decode_text("テスト".encode("iso2022_jp"), "ISO-2022-JP") == "テスト"
    assert decode_text("hi there".encode("utf-16"), "utf-16") == "hi there"


def test_nothing_fits_gives_replacement_characters_not_an_error() -> None:
    assert decode_text(b"caf\xe9 \xff", "utf-8") == "caf\ufffd \ufffd"
    assert decode_text(b"\x80abc", "x-unknown") == "\ufffdabc"


def test_a_cut_through_a_character_is_not_taken_for_another_charset() -> None:
    # Given UTF-8 cut in the middle of "é", under a Latin-1 label
    data = "Café".encode()[:-1]

    # When decoded as cut short, the partial character is left out (not read as windows-1252 "Ã")
    assert decode_text(data, "iso-8859-1", complete=False) == "Caf"
    assert decode_text(data, "iso-8859-1") == "CafÃ"


def test_utf7_half_surrogates_become_replacement_characters() -> None:
    text = decode_text(b"+2D0-", "utf-7")
    assert text == "\ufffd"
    json.dumps(text, ensure_ascii=False).encode("utf-8")  # writable


def test_a_bom_is_not_part_of_the_text() -> None:
    assert decode_text(b"\xef\xbb\xbfHello", "utf-8") == "Hello"


@pytest.mark.parametrize(
    ("value", "decoded"),
    [
        ("Plain subject", "Plain subject"),
        ("=?UTF-8?Q?Caf=C3=A9?= au lait", "Café au lait"),
        ("=?utf-8?b?w4lxdWlwZQ==?= =?utf-8?q?_r=C3=A9union?=", "Équipe réunion"),
        ("=?ISO-2022-JP?B?GyRCJEYkOSRIGyhC?=", "てすと"),
        ("=?GB2312?B?sb7W3LGouOY=?=", "本周报告"),
        ("Déjà =?utf-8?q?vu?=", "Déjà vu"),
        ("=?x-bogus?q?abc?= tail", "abc tail"),
        ("=?utf-8?b?####?=", ""),
    ],
)
def test_encoded_words_decode_and_anything_else_is_left_alone(value: str, decoded: str) -> None:
    assert decode_words(value) == decoded


def test_html_becomes_readable_text() -> None:
    markup = (
        "<html><head><title>T</title><style>p{color:red}</style></head><body>"
        "<p>Hello &amp; <b>welcome</b>,</p>\n  <p>second para<br>next line</p>"
        "<script>alert(1)</script><ul><li>one</li><li>two</li></ul>"
        "<table><tr><td>a</td><td>b</td></tr></table><pre>  code\n    indented</pre>"
        "<div>end</div></body></html>"
    )
    assert html_to_text(markup) == (
        "Hello & welcome,\n\nsecond para\nnext line\n\n- one\n- two\n\na b\n\n  code\n    indented\n\nend"
    )


def test_outlook_conditional_sections_show_as_a_browser_shows_them() -> None:
    # A browser hides `<!--[if mso]>…<![endif]-->` (a comment) and shows `<![if !mso]>…<![endif]>`
    markup = "<!--[if mso]>for Outlook<![endif]--><![if !mso]>for everyone<![endif]><![foo[ bar ]]>!"
    assert html_to_text(markup) == "for everyone!"


def test_malformed_html_still_gives_its_words() -> None:
    assert html_to_text("<p>unclosed <b>bold <i>text") == "unclosed bold text"
    assert html_to_text("<div>a</div></p></div><<<>>>b") == "a\n\n<<<>>>b"
    assert html_to_text("") == ""
