"""decode_html and looks_binary on real Arabic text encoded to bytes (no network)."""
from __future__ import annotations

import codecs
import gzip
import random
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from scraper.charset import decode_html, looks_binary, normalize_encoding

ARTICLE = (Path(__file__).parent / "fixtures" / "fetch" / "arabic-article.txt").read_text("utf-8")


def page(head: str = "") -> str:
    paragraphs = "".join(f"<p>{p}</p>\n" for p in ARTICLE.split("\n\n"))
    return (f"<!DOCTYPE html>\n<html lang=\"ar\" dir=\"rtl\"><head>{head}<title>مستشفى جديد في العين"
            f"</title></head>\n<body><article>\n{paragraphs}</article></body></html>\n")


ARABIC = [("windows-1256", "cp1256"), ("iso-8859-6", "iso8859_6")]


@pytest.mark.parametrize("name,codec", ARABIC)
@pytest.mark.parametrize("declared", ["http", "meta", "http-equiv", "none"])
def test_arabic_legacy_pages_decode_with_or_without_a_declaration(name, codec, declared):
    head = {"meta": f'<meta charset="{name}">',
            "http-equiv": f'<meta http-equiv="Content-Type" content="text/html; charset={name}">'}
    html = page(head.get(declared, ""))
    content_type = f"text/html; charset={name.upper()}" if declared == "http" else "text/html"
    decoded, encoding = decode_html(html.encode(codec), content_type)
    assert decoded == html
    assert codecs.lookup(encoding).name == codecs.lookup(codec).name


@pytest.mark.parametrize("name,codec", ARABIC)
def test_long_undeclared_arabic_pages(name, codec):
    html = "<html><body>" + f"<p>{ARTICLE}</p>" * 400 + "</body></html>"
    assert decode_html(html.encode(codec), None) == (html, name)  # not Thai (cp874) for ISO-8859-6


@pytest.mark.parametrize("name,codec", ARABIC)
def test_a_header_that_lies_falls_through_to_detection(name, codec):
    html = page()
    decoded, encoding = decode_html(html.encode(codec), "text/html; charset=utf-8")
    assert decoded == html
    assert codecs.lookup(encoding).name == codecs.lookup(codec).name


def test_a_lying_header_falls_through_to_a_truthful_meta():
    html = page('<meta charset="windows-1256">')
    # windows-1256 Arabic uses bytes that ISO-8859-6 leaves undefined, so strict decoding fails.
    assert decode_html(html.encode("cp1256"), "text/html; charset=iso-8859-6") == (html, "windows-1256")


def test_the_header_wins_over_meta_when_both_decode():
    html = page('<meta charset="windows-1256">')
    assert decode_html(html.encode("iso8859_6"), "text/html; charset=ISO-8859-6")[1] == "iso-8859-6"


def test_utf8_bytes_behind_a_stale_legacy_meta_are_read_as_utf8():
    html = page('<meta http-equiv="content-type" content="text/html; charset=windows-1256">')
    assert decode_html(html.encode("utf-8"), None) == (html, "utf-8")


@pytest.mark.parametrize("content_type", ["text/html; charset=utf-8", None])
def test_utf8_with_one_broken_character_stays_utf8(content_type):
    raw = page().encode("utf-8")
    cut = raw.index("مستشفى".encode()) + 1  # a lone lead byte, as when a teaser is cut mid-letter
    html, encoding = decode_html(raw[:cut] + raw[cut + 1:], content_type)
    assert encoding == "utf-8" and html.count("\ufffd") == 1 and ARTICLE[-80:] in html


def test_a_bom_wins_over_the_header():
    html = page()
    assert decode_html(codecs.BOM_UTF8 + html.encode("utf-8"), "text/html; charset=windows-1256") \
        == (html, "utf-8")
    assert decode_html(codecs.BOM_UTF16_LE + html.encode("utf-16-le"), None) == (html, "utf-16-le")


def test_declared_latin1_is_really_windows_1252():
    html = "<html><body><p>\x93quoted\x94 caf\xe9</p></body></html>".encode("latin-1")
    assert decode_html(html, "text/html; charset=ISO-8859-1") == (
        "<html><body><p>\u201cquoted\u201d caf\u00e9</p></body></html>", "windows-1252")


def test_refresh_meta_is_not_a_charset_declaration():
    html = page('<meta http-equiv="refresh" content="0; url=/x?charset=utf-16">')
    assert decode_html(html.encode("cp1256"), None) == (html, "windows-1256")


def test_xml_declaration_is_read_for_feeds():
    feed = f'<?xml version="1.0" encoding="windows-1256"?>\n<rss><item><title>{ARTICLE[:200]}</title></item></rss>'
    assert decode_html(feed.encode("cp1256"), "application/rss+xml") == (feed, "windows-1256")


def test_ascii_and_utf8_pages_without_a_declaration():
    assert decode_html(b"<p>plain</p>", None) == ("<p>plain</p>", "utf-8")
    assert decode_html(page().encode("utf-8"), "text/html") == (page(), "utf-8")


def test_undecodable_bytes_never_raise():
    noise = random.Random(7).randbytes(5000)
    html, encoding = decode_html(noise, "text/html; charset=utf-8")
    assert isinstance(html, str) and codecs.lookup(encoding)


@pytest.mark.parametrize("label,expected", [
    ("ISO-8859-1", "windows-1252"), ("latin1", "windows-1252"), ("us-ascii", "windows-1252"),
    ("arabic", "iso-8859-6"), ("ASMO-708", "iso-8859-6"), ("iso-8859-6-i", "iso-8859-6"),
    ("CP1256", "windows-1256"), ("x-cp1256", "windows-1256"), ("Windows-1256", "windows-1256"),
    ("UTF8", "utf-8"), ("iso-8859-9", "windows-1254"), ("gb2312", "gb18030"),
    ("base64", None), ("no-such-charset", None), ("", None), (None, None),
])
def test_normalize_encoding(label, expected):
    assert normalize_encoding(label) == expected
    if expected:
        codecs.lookup(expected)  # every name returned is one Python can decode with


@settings(max_examples=300, deadline=None)
@given(label=st.text(max_size=20) | st.sampled_from(["\x00tf-8", "utf-8\x00", "windows-1256\x00x", "undefined", "idna",
                                                               "punycode", "unicode_escape", "charmap"]),
       body=st.binary(max_size=200))
def test_any_declared_label_is_a_codec_or_none_never_an_error(label, body):
    """A damaged header or <meta> (a NUL byte in the label: once a ValueError out of an import-warc run;
    «undefined», a Python codec that refuses every byte: once a UnicodeError) names a codec Python
    decodes web pages with, or none; decoding the page never raises."""
    encoding = normalize_encoding(label)
    if encoding:
        codecs.lookup(encoding)
    html, used = decode_html(body, f"text/html; charset={label}")
    assert isinstance(html, str) and codecs.lookup(used)


@pytest.mark.parametrize("body", [
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", b"\xff\xd8\xff\xe0\x00\x10JFIF", b"GIF89a\x01\x00",
    b"%PDF-1.7\n%\xe2\xe3", b"PK\x03\x04\x14\x00", gzip.compress(b"<html></html>"),
    b"RIFF\x00\x00\x00\x00WEBPVP8 ", b"<html>\x00\x00\x00", random.Random(1).randbytes(4096),
])
def test_binary_bodies(body):
    assert looks_binary(body)


@pytest.mark.parametrize("body", [
    b"", b"<!doctype html><p>hi</p>", page().encode("utf-8"), page().encode("cp1256"),
    page().encode("iso8859_6"), codecs.BOM_UTF16_LE + page().encode("utf-16-le"),
    b"<p>pasted from Word\x0c with a form feed\x1b and an escape</p>",
])
def test_text_bodies(body):
    assert not looks_binary(body)
